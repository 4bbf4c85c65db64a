import { describe, expect, it } from 'vitest';
import { DevmemHost, devmemPoolNeeded, devmemPoolProblem } from '../../src/lab/devmem-host.js';

describe('devmem host: the pool size a workload needs', () => {
  it('one read plus the two pages it may share with its neighbours', () => {
    expect(devmemPoolNeeded(128 << 10)).toBe((128 + 8) << 10);
    expect(devmemPoolNeeded(5000)).toBe(2 * 4096 + 2 * 4096);
    expect(devmemPoolProblem(136 << 10, 128 << 10, 16)).toBeUndefined();
    expect(devmemPoolProblem(132 << 10, 128 << 10, 16)).toMatch(/^--devmem-pool 132 KiB cannot hold one 128 KiB read: .* at least 136 KiB \(2 MiB for --iodepth 16 reads at once\)$/);
  });

  it('names an exhausted pool in a failure line, and leaves other failures alone', () => {
    const host = new DevmemHost({ mode: 'nvme', poolBytes: 4 * 4096, returnPath: 'dontneed', holdUntilEmpty: 0 }, () => undefined);
    const line = 'target 192.0.2.1:4420 did not answer: queue 1 cid 0: command timed out after 30000 ms (I/O timeout)';
    expect(host.explainFailure(line)).toBe(line);
    // The NIC fills the pool and finds it empty (nothing references the pages, but nothing released them either: held by reads).
    const pool = host.binding.pool;
    expect(pool.carve(4 * 4096, [])).toBe(true);
    for (let c = 0; c < 4; c++) pool.getUserRef(c * 4096);
    expect(pool.carve(100, [])).toBe(false);
    const explained = host.explainFailure(line);
    expect(explained.startsWith(line)).toBe(true);
    expect(explained).toMatch(/devmem page pool exhausted: 1 frames dropped for want of a page; 4 of 4 pages \(16 KiB\) were held by unfinished reads/);
  });
});
