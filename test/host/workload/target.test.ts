/**
 * The workload end to end on kernel TCP over 127.0.0.1: NvmeController +
 * runWorkload against ddplab's target, every byte read verified, with every
 * digest setting, the target answering in random order with interleaved
 * and small C2HData PDUs, and the SPDK profile.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { kernelTransportFactory } from '../../../src/host/nvme/kernel-transport.js';
import { NvmeController } from '../../../src/host/nvme/controller.js';
import { controllerDevice, runWorkload } from '../../../src/host/workload/workload.js';
import { startTarget, type Target } from '../../../src/target/listener.js';
import type { TargetOptionsInput } from '../../../src/target/options.js';
import type { WorkloadOptions } from '../../../src/host/workload/options.js';

const MIB = 1024 * 1024;
const SEED = 1234;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type Digest = 'none' | 'header' | 'data' | 'both';

async function run(t: TargetOptionsInput, digest: Digest, job: WorkloadOptions, ioQueues = 2) {
  const target: Target = await startTarget({ host: '127.0.0.1', port: 0, sizeBytes: 64 * MIB, seed: SEED, digest, ...t });
  cleanups.push(() => target.close());
  const ctrl = await NvmeController.connect({
    transports: kernelTransportFactory({ host: '127.0.0.1', port: target.port }),
    subnqn: target.options.subsysNqn,
    ioQueues,
    queueDepth: 64,
    hdgst: digest === 'header' || digest === 'both',
    ddgst: digest === 'data' || digest === 'both',
  });
  cleanups.push(async () => ctrl.abort());
  const report = await runWorkload(controllerDevice(ctrl), { patternSeed: SEED, ...job });
  const host = ctrl.stats();
  await ctrl.shutdown();
  return { report, host, target };
}

describe('workload against the target on loopback', () => {
  for (const digest of ['none', 'header', 'data', 'both'] as const) {
    it(`randrw iodepth 32, bs 4k..1m, verified, digest ${digest}, random order with interleaved 8 KiB C2HData`, async () => {
      const { report, host } = await run(
        { order: 'random', interleave: true, c2hSizeBytes: 8192 },
        digest,
        { rw: 'randrw', bsrange: '4k-1m', iodepth: 32, size: '48m', seed: 7 },
      );
      expect(report.errors.first).toEqual([]);
      expect(report.verify.first).toEqual([]);
      expect(report.ok).toBe(true);
      expect(report.verify.bytes).toBe(report.io.readBytes);
      expect(report.io.readBytes + report.io.writeBytes).toBeGreaterThanOrEqual(48 * MIB);
      expect(report.io.reads).toBeGreaterThan(0);
      expect(report.io.writes).toBeGreaterThan(0);
      expect(report.latency.p50Us).toBeGreaterThan(0);
      expect(host.ddgstErrors).toBe(0);
      expect(host.crcDataRxBytes > 0).toBe(digest === 'data' || digest === 'both');
      // 8 KiB C2HData PDUs: at least one per 8 KiB read.
      expect(host.c2hDataPdus).toBeGreaterThanOrEqual(report.io.readBytes / 8192);
      // With no DDP every payload byte was copied.
      expect(host.copySkippedBytes).toBe(0);
      expect(host.copiedBytes).toBeGreaterThan(host.c2hDataBytes);
    });
  }

  it('randrw with 512-byte-aligned sizes from 512 B to 1 MiB, reverse order, one queue', async () => {
    const { report } = await run(
      { order: 'reverse', interleave: true, c2hSizeBytes: 4096 + 512 },
      'both',
      { rw: 'randrw', bssplit: '512/:1536/:4k/:8704/:64k/:1m/', blockAlign: 512, iodepth: 32, size: '32m', seed: 9 },
      1,
    );
    expect(report.verify.first).toEqual([]);
    expect(report.ok).toBe(true);
  });

  it('SPDK profile: C2H SUCCESS, 128 KiB PDUs, 4 KiB in-capsule, MDTS 128 KiB', async () => {
    const { report, host } = await run(
      { profile: 'spdk', order: 'random', interleave: true },
      'both',
      { rw: 'randrw', bsrange: '4k-128k', iodepth: 32, size: '32m', seed: 11 },
    );
    expect(report.verify.first).toEqual([]);
    expect(report.ok).toBe(true);
    expect(host.successCompletions).toBeGreaterThan(0);
    expect(host.inCapsuleWrites).toBeGreaterThan(0);
    expect(host.r2tRx).toBeGreaterThan(0);
  });

  it('sequential write then sequential read of the same range verifies the written data', async () => {
    const target: Target = await startTarget({ host: '127.0.0.1', port: 0, sizeBytes: 16 * MIB, seed: SEED });
    cleanups.push(() => target.close());
    const ctrl = await NvmeController.connect({
      transports: kernelTransportFactory({ host: '127.0.0.1', port: target.port }),
      subnqn: target.options.subsysNqn,
      ioQueues: 1,
      queueDepth: 16,
    });
    cleanups.push(async () => ctrl.abort());
    // One run writes then reads (randrw with 50% reads over a small range keeps both in one verification map).
    const report = await runWorkload(controllerDevice(ctrl), {
      rw: 'randrw',
      bs: '64k',
      iodepth: 8,
      size: '16m',
      range: '1m',
      seed: 3,
      patternSeed: SEED,
    });
    expect(report.ok).toBe(true);
    expect(report.verify.bytes).toBe(report.io.readBytes);
    await ctrl.shutdown();
  });
});
