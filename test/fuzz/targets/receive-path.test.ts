/**
 * The receive-path fuzz target's own oracle, on directed inputs: it must
 * accept what the design allows and catch what it forbids. The first two
 * cases are the fuzzer's first findings — both in the harness, not in
 * ddplab — kept as regression tests.
 */
import { describe, expect, it } from 'vitest';
import { receivePathFrame, receivePathParams, receivePathTarget, runReceivePath } from '../../../src/fuzz/targets/receive-path.js';
import { FuzzViolation } from '../../../src/fuzz/target.js';
import { DdpEngine } from '../../../src/nicemu/ddp/engine.js';
import { buildCqe, cqeWith } from '../../../src/wire/nvme-cqe.js';
import { emitPduBuffer, PduType } from '../../../src/wire/nvme-tcp-pdu.js';

function data(n: number, v: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (v * 31 + i * 7) & 0xff;
  return b;
}

const READ = 8192;
const c2h = emitPduBuffer({ type: PduType.C2HData, cccid: 0, datao: 0, datal: READ, lastPdu: true, success: false, data: [data(READ, 1)] });
const resp = emitPduBuffer({ type: PduType.CapsuleResp, cqe: buildCqe(cqeWith({ cid: 0, sqId: 1 })) });
/** Not a PDU type: the host answers with H2CTermReq and the queue dies. */
const garbage = Buffer.from('6e0018000000000000000000000000000000000000000000', 'hex');

describe('receive-path fuzz target', () => {
  it('allows a completed read to fail with the queue’s error when its DDP teardown was pending as the queue died (fuzz finding, seed 1 iteration 62)', async () => {
    const params = receivePathParams({ hdgst: false, ddgst: false, asyncTeardown: true, reads: [{ len: READ, guard: 64 }], peerIss: 7, hostIss: 9, control: 0, batch: 0, depth: 0 });
    // Data, completion and the bad PDU in one segment: the queue dies before the NIC's teardown completes.
    const input = [params, receivePathFrame(params, 0, Buffer.concat([c2h, resp, garbage]))];
    const off = await runReceivePath(input, 'none');
    const on = await runReceivePath(input, 'ddp');
    expect(off.outcomes).toEqual([{ status: 0 }]);
    expect(on.outcomes).toEqual([{ error: 'PROTOCOL_ERROR' }]);
    expect(off.queueError).toBe('PROTOCOL_ERROR');
    expect(on.teardownsAbandoned).toBe(1);
    await expect(receivePathTarget.execute(input)).resolves.toBeUndefined();
  });

  it('runs with peer timestamps starting at 1 (fuzz finding, seed 3 iteration 4328: a negative tsVal in the harness)', async () => {
    const params = receivePathParams({ hdgst: true, ddgst: true, reads: [{ len: READ, guard: 64 }], peerIss: 7, hostIss: 9, control: 0, batch: 0, depth: 0, tsVal: 1 });
    const input = [params, receivePathFrame(params, 0, Buffer.concat([c2h, resp]))];
    await expect(receivePathTarget.execute(input)).resolves.toBeUndefined();
  });

  it('reads the same bytes with every offload on a clean stream, placing them with DDP and in device memory', async () => {
    const params = receivePathParams({ hdgst: false, ddgst: false, devmem: true, reads: [{ len: READ, guard: 64 }], peerIss: 7, hostIss: 9, control: 0, batch: 0, depth: 0 });
    const stream = Buffer.concat([c2h, resp]);
    const frames = [];
    for (let at = 0; at < stream.length; at += 1448) frames.push(receivePathFrame(params, at, stream.subarray(at, at + 1448)));
    const input = [params, ...frames];
    const none = await runReceivePath(input, 'none');
    const ddp = await runReceivePath(input, 'ddp-crc');
    const devmem = await runReceivePath(input, 'devmem-nvme');
    expect(none.outcomes).toEqual([{ status: 0 }]);
    const [a, b] = none.spans[0]!;
    expect(none.memory.subarray(a, b).equals(data(READ, 1))).toBe(true);
    expect(ddp.placedBytes).toBeGreaterThan(READ / 2);
    expect(devmem.deviceBytes).toBeGreaterThan(READ / 2);
    await expect(receivePathTarget.execute(input)).resolves.toBeUndefined();
  });

  it('catches a NIC that writes one byte past the destination (a planted bug)', async () => {
    const params = receivePathParams({ hdgst: false, ddgst: false, reads: [{ len: READ, guard: 64 }, { len: READ, guard: 64 }], peerIss: 7, hostIss: 9, control: 0, batch: 0, depth: 0 });
    const input = [params, receivePathFrame(params, 0, Buffer.concat([c2h, resp]))];
    const proto = DdpEngine.prototype as unknown as Record<string, (this: unknown, ...a: unknown[]) => void>;
    const place = proto['place']!;
    proto['place'] = function (this: unknown, ...a: unknown[]) {
      place.apply(this, a);
      const [io, off, , n] = a as [{ sgl: { entries: Buffer[]; lengthBytes: number } }, number, number, number];
      if (off + n === io.sgl.lengthBytes) {
        const last = io.sgl.entries[io.sgl.entries.length - 1]!;
        Buffer.from(last.buffer, last.byteOffset, last.length + 1)[last.length] ^= 0xff;
      }
    };
    try {
      const e = await receivePathTarget.execute(input)?.then(() => undefined, (x: unknown) => x);
      expect(e).toBeInstanceOf(FuzzViolation);
      expect((e as FuzzViolation).kind).toBe('differential');
      expect((e as Error).message).toMatch(/guard bytes before read 1 differ/);
    } finally {
      proto['place'] = place;
    }
  });
});
