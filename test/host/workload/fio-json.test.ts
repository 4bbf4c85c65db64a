/**
 * Per-direction results and fio's JSON layout of them
 * (src/host/workload/fio-json.ts): a randrw job on a device whose reads take
 * 1 ms and writes 3 ms on a virtual clock, so every figure is known.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/host/net/clock.js';
import { runWorkload, type WorkloadDevice } from '../../../src/host/workload/workload.js';
import { fioLayout } from '../../../src/host/workload/fio-json.js';
import { FIO_PERCENTILES, fioPercentileKey } from '../../../src/host/workload/latency-histogram.js';

function timedDevice(clock: VirtualClock, readLens: number[], writeLens: number[]): WorkloadDevice {
  const later = (ms: number): Promise<unknown> =>
    new Promise((resolve) => {
      setImmediate(() => {
        clock.advance(ms);
        resolve(undefined);
      });
    });
  return {
    queues: 1,
    queueDepth: 32,
    lbaSizeBytes: 512,
    nsSizeBytes: 8 << 20,
    maxTransferBytes: 1 << 20,
    read: (_q, _slba, buf) => {
      readLens.push(buf.length);
      return later(1);
    },
    write: (_q, _slba, buf) => {
      writeLens.push(buf.length);
      return later(3);
    },
  };
}

describe('per-direction results in fio layout', () => {
  it('keeps reads and writes apart (ios, bytes, IOPS, bandwidth, clat) and lays them out as fio does', async () => {
    const clock = new VirtualClock();
    const readLens: number[] = [];
    const writeLens: number[] = [];
    const r = await runWorkload(timedDevice(clock, readLens, writeLens), { name: 'mixed', rw: 'randrw', bs: '4k,64k', size: '2m', iodepth: 1, seed: 6, verify: false }, { clock });
    expect(readLens.every((l) => l === 4096)).toBe(true);
    expect(writeLens.every((l) => l === 65536)).toBe(true);
    expect(r.read.ios).toBe(readLens.length);
    expect(r.write.ios).toBe(writeLens.length);
    // The amount is reached in whole blocks: the last one may pass it by less than a block.
    expect(r.read.bytes + r.write.bytes).toBeGreaterThanOrEqual(2 << 20);
    expect(r.read.bytes + r.write.bytes).toBeLessThan((2 << 20) + 65536);
    expect(r.elapsedMs).toBe(readLens.length * 1 + writeLens.length * 3);
    expect(r.read.clatNs).toMatchObject({ min: 1e6, max: 1e6, mean: 1e6, stddev: 0, N: r.read.ios });
    expect(r.write.clatNs).toMatchObject({ min: 3e6, max: 3e6, mean: 3e6, stddev: 0, N: r.write.ios });
    expect(r.read.iops).toBeCloseTo(r.read.ios / (r.elapsedMs / 1000), 9);

    const f = fioLayout(r, { ok: r.ok, cpu: { userMs: 10, systemMs: 5 }, nowMs: Date.UTC(2026, 11, 7, 12, 0, 0) });
    expect(f['fio version']).toMatch(/^ddplab-\d+\.\d+\.\d+$/);
    expect(f.timestamp).toBe(Date.UTC(2026, 11, 7, 12, 0, 0) / 1000);
    expect(f.time).toBe('Mon Dec  7 12:00:00 2026');
    expect(f.jobs).toHaveLength(1);
    const j = f.jobs[0]!;
    expect(j.jobname).toBe('mixed');
    expect(j.error).toBe(0);
    expect(j['job options']).toMatchObject({ name: 'mixed', rw: 'randrw', bs: '4096,65536', size: String(2 << 20), rwmixread: '50', randseed: '6' });
    expect(j.read.total_ios).toBe(r.io.reads);
    expect(j.write.total_ios).toBe(r.io.writes);
    expect(j.read.io_bytes).toBe(r.io.readBytes);
    expect(j.read.io_kbytes).toBe(r.io.readBytes / 1024);
    expect(j.write.bw_bytes).toBe(Math.round(r.io.writeBytes / (r.elapsedMs / 1000)));
    expect(j.write.bw).toBe(Math.round(j.write.bw_bytes / 1024));
    expect(j.read.runtime).toBe(r.elapsedMs);
    expect(Object.keys(j.read.clat_ns.percentile!)).toEqual(FIO_PERCENTILES.map(fioPercentileKey));
    expect(j.read.clat_ns.percentile!['99.000000']).toBe(1e6);
    expect(j.write.clat_ns.percentile!['50.000000']).toBe(3e6);
    expect(j.write.lat_ns).toEqual({ min: 3e6, max: 3e6, mean: 3e6, stddev: 0, N: r.write.ios });
    expect(j.trim).toMatchObject({ io_bytes: 0, total_ios: 0, iops: 0, bw: 0 });
    expect(j.trim.clat_ns.percentile).toBeUndefined();
    expect(j.usr_cpu).toBeCloseTo((10 / r.elapsedMs) * 100, 6);
  });

  it('names the error as fio would: EIO without a workload, EILSEQ for reads that did not verify', () => {
    const f = fioLayout(undefined, { ok: false, cpu: { userMs: 0, systemMs: 0 }, nowMs: 0 });
    expect(f.jobs[0]).toMatchObject({ jobname: 'ddplab', error: 5, read: { total_ios: 0 }, write: { total_ios: 0 } });
  });
});
