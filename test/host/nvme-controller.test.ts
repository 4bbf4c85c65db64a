/**
 * The host controller against ddplab's target over kernel TCP on 127.0.0.1:
 * bring-up, verified reads and writes of 512 B .. 1 MiB on every digest
 * setting, keep-alive, the SPDK profile (C2H SUCCESS, small MAXH2CDATA,
 * MDTS) and shutdown.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RealClock } from '../../src/host/clock.js';
import { kernelTransportFactory } from '../../src/host/kernel-transport.js';
import { NvmeController, type NvmeControllerOptions } from '../../src/host/nvme-controller.js';
import { NvmeHostError } from '../../src/host/nvme-host-error.js';
import { fillPattern, findPatternMismatch } from '../../src/wire/block-pattern.js';
import { startTarget, type Target } from '../../src/target/listener.js';
import type { TargetOptionsInput } from '../../src/target/options.js';

const MIB = 1024 * 1024;
const SEED = 11;

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
      expect(s.bytesCrcDataRx > 0).toBe(ddgst);
      expect(s.bytesCrcHeader > 0).toBe(hdgst);
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
