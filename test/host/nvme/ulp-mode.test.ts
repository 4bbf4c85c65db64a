/**
 * The host's data-digest fallback in its two ULP modes: 'linux' recomputes
 * over the request's whole buffer when a PDU was not fully verified by the
 * NIC (the series' host), 'reference' checks the PDU's own data. They agree
 * on a read answered in one C2HData PDU and differ, by a spurious
 * DATA_XFER_ERROR in 'linux', on a read answered in several.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/host/net/clock.js';
import type { NvmeDdpHooks } from '../../../src/host/nvme/ddp-hooks.js';
import { NvmeQueue } from '../../../src/host/nvme/queue.js';
import type { UlpMode } from '../../../src/host/nvme/ulp-mode.js';
import type { NvmeCqe } from '../../../src/wire/nvme-cqe.js';
import { NvmeSc } from '../../../src/wire/nvme-status.js';
import { PduType, emitPduBuffer } from '../../../src/wire/nvme-tcp-pdu.js';
import { TestTransport } from '../../support/host/scripted-transport.js';
import { c2hData, capsuleResp, pattern } from '../../support/nicemu/ddp-engine-rig.js';

/** Hooks of an offloaded queue with the data-digest offload on (or off), whose reads all stay on the copy path. */
function hooks(ulpMode: UlpMode, ddgstOffload = true): NvmeDdpHooks {
  return { ioThresholdBytes: 1, ulpMode, ddgstRxOffloaded: () => ddgstOffload, setup: () => false, teardown: () => 'done' };
}

async function queueWith(ddp: NvmeDdpHooks): Promise<{ q: NvmeQueue; t: TestTransport }> {
  const t = new TestTransport(5000);
  const q = new NvmeQueue(t, { qid: 1, depth: 8, hdgst: false, ddgst: true, clock: new VirtualClock(), ddp });
  const p = q.connect();
  t.deliver(emitPduBuffer({ type: PduType.ICResp, pfv: 0, cpda: 0, hdgstEnable: false, ddgstEnable: true, maxh2cdata: 0x40_0000 }));
  await p;
  return { q, t };
}

/** One read of `data.length` bytes answered in PDUs of `pduBytes`; `crcOk[i]` is the NIC's mark on PDU i. */
async function readWith(ddp: NvmeDdpHooks, data: Buffer, pduBytes: number, crcOk: readonly boolean[]): Promise<{ cqe: NvmeCqe; buf: Buffer; q: NvmeQueue }> {
  const { q, t } = await queueWith(ddp);
  const buf = Buffer.alloc(data.length);
  const done = q.submit((cid, dptr) => ({ kind: 'read', cid, nsid: 1, slba: 0, nlb: data.length / 512 - 1, dptr }), { dir: 'read', buf });
  for (let off = 0, i = 0; off < data.length; off += pduBytes, i++) {
    const pdu = c2hData(0, off, data.subarray(off, off + pduBytes), { ddgst: true, last: off + pduBytes >= data.length });
    t.deliver(pdu, { crcOk: crcOk[i] ?? false });
  }
  t.deliver(capsuleResp(0));
  return { cqe: await done, buf, q };
}

describe('ULP modes of the data-digest fallback', () => {
  const data = pattern(16 * 1024, 7);

  it('a read in one C2HData PDU the NIC did not verify: both modes check it and complete it', async () => {
    for (const mode of ['linux', 'reference'] as const) {
      const { cqe, buf, q } = await readWith(hooks(mode), data, data.length, [false]);
      expect(cqe.status, mode).toBe(NvmeSc.SUCCESS);
      expect(buf.equals(data)).toBe(true);
      expect(q.stats.crcDataRxBytes, mode).toBe(data.length);
    }
  });

  it("a read in four PDUs, one not NIC-verified: 'linux' fails it with DATA_XFER_ERROR though the data is right, 'reference' completes it", async () => {
    const linux = await readWith(hooks('linux'), data, 4096, [true, false, true, true]);
    expect(linux.cqe.status).toBe(NvmeSc.DATA_XFER_ERROR);
    expect(linux.buf.equals(data)).toBe(true);
    expect(linux.q.stats.ddgstErrors).toBe(1);
    // The series hashes the request's whole buffer, not the PDU's 4 KiB.
    expect(linux.q.stats.crcDataRxBytes).toBe(data.length);
    const ref = await readWith(hooks('reference'), data, 4096, [true, false, true, true]);
    expect(ref.cqe.status).toBe(NvmeSc.SUCCESS);
    expect(ref.q.stats.ddgstErrors).toBe(0);
    expect(ref.q.stats.crcDataRxBytes).toBe(4096);
  });

  it("the last PDU not verified: the request's CRC is compared with the last PDU's digest, which covers only its own data", async () => {
    const linux = await readWith(hooks('linux'), data, 8192, [true, false]);
    expect(linux.cqe.status).toBe(NvmeSc.DATA_XFER_ERROR);
  });

  it("every PDU verified by the NIC: no fallback, both modes complete", async () => {
    for (const mode of ['linux', 'reference'] as const) {
      const { cqe, q } = await readWith(hooks(mode), data, 4096, [true, true, true, true]);
      expect(cqe.status, mode).toBe(NvmeSc.SUCCESS);
      expect(q.stats.crcDataRxBytes, mode).toBe(0);
      expect(q.stats.ddgstOffloaded, mode).toBe(4);
    }
  });

  it("without the data-digest offload 'linux' hashes each PDU as it copies, as Linux does", async () => {
    const { cqe, q } = await readWith(hooks('linux', false), data, 4096, [false, false, false, false]);
    expect(cqe.status).toBe(NvmeSc.SUCCESS);
    expect(q.stats.crcDataRxBytes).toBe(data.length);
  });
});
