/**
 * The host controller against ddplab's target over kernel TCP on 127.0.0.1:
 * bring-up, verified reads and writes of 512 B .. 1 MiB on every digest
 * setting, keep-alive, the SPDK profile (C2H SUCCESS, small MAXH2CDATA,
 * MDTS) and shutdown.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RealClock } from '../../../src/host/net/clock.js';
import { kernelTransportFactory } from '../../../src/host/nvme/kernel-transport.js';
import { NvmeController, type NvmeControllerOptions } from '../../../src/host/nvme/controller.js';
import { NvmeHostError } from '../../../src/host/nvme/host-error.js';
import type { RxChunk, StreamTransport } from '../../../src/host/nvme/stream-transport.js';
import { NvmeSc } from '../../../src/wire/nvme-status.js';
import { PduType } from '../../../src/wire/nvme-tcp-pdu.js';
import { PduFramer } from '../../../src/wire/pdu-framer.js';
import { fillPattern, findPatternMismatch } from '../../../src/wire/block-pattern.js';
import { startTarget, type Target } from '../../../src/target/listener.js';
import type { TargetOptionsInput } from '../../../src/target/options.js';

const MIB = 1024 * 1024;
const SEED = 11;

/**
 * Re-chunks the received stream PDU by PDU and flips one payload byte of the
 * `nth` C2HData: the network (or a broken NIC) corrupting data under a
 * valid header, for the data digest to catch.
 */
class CorruptC2HData implements StreamTransport {
  private readonly framer: PduFramer;
  private raw: Buffer = Buffer.alloc(0);
  private rawBase = 0;
  private seen = 0;
  private cb: ((c: RxChunk) => void) | undefined;
  private seq = 0;

  constructor(
    private readonly inner: StreamTransport,
    private readonly nth: number,
  ) {
    this.framer = new PduFramer((f) => {
      const bytes = Buffer.from(this.raw.subarray(f.streamOffset - this.rawBase, f.streamOffset - this.rawBase + f.layout.plen));
      if (f.pdu.type === PduType.C2HData && this.seen++ === this.nth) bytes[f.layout.dataOffset + 17]! ^= 0x10;
      const chunk: RxChunk = { seq: this.seq, frags: [{ kind: 'host', buf: bytes }], crcOk: false };
      this.seq = (this.seq + bytes.length) >>> 0;
      this.cb?.(chunk);
    });
    inner.onData((c) => {
      const fresh = Buffer.concat(c.frags.map((f) => (f.kind === 'dmabuf' ? Buffer.alloc(0) : f.buf)));
      this.raw = Buffer.concat([this.raw, fresh]);
      this.framer.push(fresh);
      // Drop bytes of PDUs already forwarded (the framer is at a boundary or inside the next PDU).
      if (this.framer.idle) {
        this.rawBase += this.raw.length;
        this.raw = Buffer.alloc(0);
      }
    });
  }

  write(bufs: readonly Buffer[]): boolean {
    return this.inner.write(bufs);
  }
  onDrain(cb: () => void): void {
    this.inner.onDrain(cb);
  }
  onData(cb: (chunk: RxChunk) => void): void {
    this.cb = cb;
  }
  onClose(cb: (err?: Error) => void): void {
    this.inner.onClose(cb);
  }
  close(): void {
    this.inner.close();
  }
  abort(): void {
    this.inner.abort();
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(
  t: TargetOptionsInput = {},
  h: Partial<NvmeControllerOptions> = {},
): Promise<{ target: Target; ctrl: NvmeController }> {
  const target = await startTarget({ host: '127.0.0.1', port: 0, sizeBytes: 64 * MIB, seed: SEED, ...t });
  cleanups.push(() => target.close());
  const ctrl = await NvmeController.connect({
    transports: kernelTransportFactory({ host: '127.0.0.1', port: target.port }),
    subnqn: target.options.subsysNqn,
    ioQueues: 2,
    queueDepth: 32,
    ...h,
  });
  cleanups.push(async () => {
    ctrl.abort();
  });
  return { target, ctrl };
}

describe('NvmeController against the target', () => {
  it('brings up the association: Connect, CAP/VS, CC.EN, CSTS.RDY, Identify, I/O queues', async () => {
    const { target, ctrl } = await setup();
    const info = ctrl.info;
    expect(info.cntlid).toBeGreaterThan(0);
    expect(info.version).toEqual({ major: 1, minor: 3, tertiary: 0 });
    expect(info.nsid).toBe(1);
    expect(info.lbaSizeBytes).toBe(512);
    expect(info.nsSizeBytes).toBe(64 * MIB);
    expect(info.inCapsuleBytes).toBe(16384);
    expect(info.queueDepth).toBe(32);
    expect(info.idCtrl.subnqn).toBe(target.options.subsysNqn);
    expect(ctrl.ioQueues.map((q) => q.qid)).toEqual([1, 2]);
    expect(target.stats.connectionsOpen).toBe(3);
    await ctrl.shutdown();
    expect(ctrl.ioQueues.every((q) => !q.live)).toBe(true);
    expect(ctrl.admin.live).toBe(false);
  });

  for (const digest of ['none', 'header', 'data', 'both'] as const) {
    it(`reads the pattern and writes/reads back 512 B .. 1 MiB with digest ${digest}`, async () => {
      const hdgst = digest === 'header' || digest === 'both';
      const ddgst = digest === 'data' || digest === 'both';
      const { ctrl } = await setup({ digest }, { hdgst, ddgst });
      const sizes = [512, 1024, 4096, 8192, 16384, 16896, 65536, 131072, 1 << 20];
      let lba = 0;
      for (const size of sizes) {
        // Unwritten blocks read as the target's pattern.
        const rbuf = Buffer.alloc(size);
        await ctrl.read(0, lba, rbuf);
        expect(findPatternMismatch(SEED, lba * 512, rbuf)).toBe(-1);
        // Write something else (in-capsule up to 16 KiB, R2T above), read it back on the other queue.
        const wbuf = Buffer.alloc(size);
        fillPattern(SEED + 1000, lba * 512, wbuf);
        await ctrl.write(1, lba, wbuf);
        const back = Buffer.alloc(size);
        await ctrl.read(0, lba, back);
        expect(back.equals(wbuf)).toBe(true);
        lba += size / 512 + 7;
      }
      const s = ctrl.stats();
      expect(s.inCapsuleWrites).toBe(sizes.filter((n) => n <= 16384).length + 3); // + the three Connects
      expect(s.r2tRx).toBeGreaterThanOrEqual(sizes.filter((n) => n > 16384).length);
      expect(s.crcDataRxBytes > 0).toBe(ddgst);
      expect(s.crcHeaderBytes > 0).toBe(hdgst);
      expect(s.ddgstErrors).toBe(0);
      await ctrl.shutdown();
    });
  }

  it('works with the SPDK profile: C2H SUCCESS, 128 KiB data PDUs, MDTS 128 KiB, depth 128', async () => {
    const { target, ctrl } = await setup({ profile: 'spdk', digest: 'both' }, { hdgst: true, ddgst: true, queueDepth: 256 });
    expect(ctrl.info.maxTransferBytes).toBe(128 * 1024);
    expect(ctrl.info.queueDepth).toBe(128);
    expect(ctrl.info.inCapsuleBytes).toBe(4096);
    const rbuf = Buffer.alloc(128 * 1024);
    await ctrl.read(0, 100, rbuf);
    expect(findPatternMismatch(SEED, 100 * 512, rbuf)).toBe(-1);
    const wbuf = Buffer.alloc(128 * 1024);
    fillPattern(99, 0, wbuf);
    await ctrl.write(1, 300, wbuf);
    const back = Buffer.alloc(128 * 1024);
    await ctrl.read(1, 300, back);
    expect(back.equals(wbuf)).toBe(true);
    expect(ctrl.stats().successCompletions).toBeGreaterThanOrEqual(2);
    await expect(ctrl.read(0, 0, Buffer.alloc(256 * 1024))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(target.options.c2hSuccess).toBe(true);
    await ctrl.shutdown();
  });

  it('fails a read whose C2HData was corrupted on the way with a data transfer error, and goes on', async () => {
    const target = await startTarget({ host: '127.0.0.1', port: 0, sizeBytes: 16 * MIB, seed: SEED, digest: 'data', c2hSizeBytes: 4096 });
    cleanups.push(() => target.close());
    const kernel = kernelTransportFactory({ host: '127.0.0.1', port: target.port });
    const ctrl = await NvmeController.connect({
      transports: async (qid) => (qid === 1 ? new CorruptC2HData(await kernel(qid), 2) : kernel(qid)),
      subnqn: target.options.subsysNqn,
      ioQueues: 1,
      ddgst: true,
    });
    cleanups.push(async () => ctrl.abort());
    const buf = Buffer.alloc(16384);
    const e = await ctrl.read(0, 0, buf).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(NvmeHostError);
    expect((e as NvmeHostError).code).toBe('NVME_STATUS');
    expect((e as NvmeHostError).detail.status).toBe(NvmeSc.DATA_XFER_ERROR);
    expect(ctrl.stats().ddgstErrors).toBe(1);
    // Only that command failed: the queue and the association go on.
    const again = Buffer.alloc(16384);
    await ctrl.read(0, 0, again);
    expect(findPatternMismatch(SEED, 0, again)).toBe(-1);
    expect(ctrl.error).toBeUndefined();
    await ctrl.shutdown();
  });

  it('pads H2C data to a CPDA of 31 (128-byte alignment)', async () => {
    const { ctrl } = await setup({ cpda: 31, digest: 'both' }, { hdgst: true, ddgst: true });
    expect(ctrl.ioQueues[0]!.connectionParams.cpda).toBe(31);
    for (const size of [4096, 65536]) {
      const wbuf = Buffer.alloc(size);
      fillPattern(4242, 0, wbuf);
      await ctrl.write(0, 64, wbuf);
      const back = Buffer.alloc(size);
      await ctrl.read(1, 64, back);
      expect(back.equals(wbuf)).toBe(true);
    }
    await ctrl.shutdown();
  });

  it('keeps the association alive past KATO with Keep Alive at KATO/2', async () => {
    const { ctrl, target } = await setup({ kasMs: 200 }, { katoMs: 400, clock: new RealClock() });
    await new Promise((r) => setTimeout(r, 1200));
    expect(ctrl.error).toBeUndefined();
    const buf = Buffer.alloc(4096);
    await ctrl.read(0, 8, buf);
    expect(findPatternMismatch(SEED, 8 * 512, buf)).toBe(-1);
    expect(target.stats.connectionsOpen).toBe(3);
    await ctrl.shutdown();
  });

  it('fails bring-up with CONNECT_FAILED for a wrong subsystem NQN', async () => {
    const target = await startTarget({ host: '127.0.0.1', port: 0, sizeBytes: 4 * MIB });
    cleanups.push(() => target.close());
    const p = NvmeController.connect({
      transports: kernelTransportFactory({ host: '127.0.0.1', port: target.port }),
      subnqn: 'nqn.2026-11.io.ddplab:nobody',
    });
    await expect(p).rejects.toBeInstanceOf(NvmeHostError);
    await expect(p).rejects.toMatchObject({ code: 'CONNECT_FAILED' });
  });

  it('reports a lost association once and fails I/O on it', async () => {
    const { ctrl, target } = await setup();
    const errors: NvmeHostError[] = [];
    ctrl.onError((e) => errors.push(e));
    const pending = ctrl.read(0, 0, Buffer.alloc(1 << 20));
    await target.close();
    await expect(pending).rejects.toBeInstanceOf(NvmeHostError);
    await new Promise((r) => setTimeout(r, 50));
    expect(errors).toHaveLength(1);
    await expect(ctrl.read(1, 0, Buffer.alloc(512))).rejects.toMatchObject({ code: 'QUEUE_DEAD' });
  });
});
