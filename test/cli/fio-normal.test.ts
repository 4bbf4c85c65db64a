/**
 * fio's normal output of a job (src/cli/fio-normal.ts): the per-direction
 * lines with their units, fio's short numbers, percentile rows of four.
 */
import { describe, expect, it } from 'vitest';
import { fioNormalLines, fioShortNumber } from '../../src/cli/fio-normal.js';
import { fioLayout } from '../../src/host/workload/fio-json.js';
import { runWorkload, type WorkloadDevice } from '../../src/host/workload/workload.js';
import { VirtualClock } from '../../src/host/net/clock.js';

describe("fio's normal output", () => {
  it('shortens numbers as fio does', () => {
    expect(fioShortNumber(4801)).toBe('4801');
    expect(fioShortNumber(9999.4)).toBe('9999');
    expect(fioShortNumber(10_300)).toBe('10.3k');
    expect(fioShortNumber(103_000)).toBe('103k');
    expect(fioShortNumber(1_200_000)).toBe('1.20M');
  });

  it('prints a read block (IOPS, BW binary and decimal, amount/time, clat usec, percentiles) and no write block for a read job', async () => {
    const clock = new VirtualClock();
    const dev: WorkloadDevice = {
      queues: 1,
      queueDepth: 8,
      lbaSizeBytes: 512,
      nsSizeBytes: 1 << 24,
      maxTransferBytes: 1 << 20,
      read: () =>
        new Promise((r) =>
          setImmediate(() => {
            clock.advance(0.25);
            r(undefined);
          }),
        ),
      write: () => Promise.resolve(),
    };
    const w = await runWorkload(dev, { rw: 'read', bs: '64k', size: '4m', iodepth: 1, verify: false }, { clock });
    const lines = fioNormalLines(fioLayout(w, { ok: true, cpu: { userMs: 8, systemMs: 2 }, nowMs: 0 }).jobs[0]!, 'read');
    // 64 reads of 64 KiB, 0.25 ms each: 16 ms, 4000 IOPS, 250 MiB/s.
    expect(lines).toEqual([
      'ddplab: (groupid=0, jobs=1): err= 0',
      '  read: IOPS=4000, BW=250MiB/s (262MB/s)(4.00MiB/16msec)',
      '    clat (usec): min=250.00, max=250.00, avg=250.00, stdev=0.00',
      '    clat percentiles (usec):',
      '     |  1.00th=[  250],  5.00th=[  250], 10.00th=[  250], 20.00th=[  250],',
      '     | 30.00th=[  250], 40.00th=[  250], 50.00th=[  250], 60.00th=[  250],',
      '     | 70.00th=[  250], 80.00th=[  250], 90.00th=[  250], 95.00th=[  250],',
      '     | 99.00th=[  250], 99.50th=[  250], 99.90th=[  250], 99.95th=[  250],',
      '     | 99.99th=[  250]',
      '  cpu          : usr=50.00%, sys=12.50% (the host process, NIC model included)',
    ]);
  });
});
