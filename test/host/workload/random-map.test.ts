/**
 * The random map (src/host/workload/random-map.ts): a seeded permutation of
 * the region's slots, and a random job that, as fio's, touches every block
 * of its region once per pass.
 */
import { describe, expect, it } from 'vitest';
import { RandomSlotOrder } from '../../../src/host/workload/random-map.js';
import { runWorkload, type WorkloadDevice } from '../../../src/host/workload/workload.js';
import { Xoshiro128ss } from '../../../src/base/seeded-rng.js';

describe('RandomSlotOrder', () => {
  it('is a permutation of [0, n) for sizes around powers of two, and differs by seed', () => {
    for (const n of [1, 2, 3, 4, 5, 63, 64, 65, 1000, 4097]) {
      const order = new RandomSlotOrder(n, new Xoshiro128ss(n));
      const seen = new Set<number>();
      for (let s = order.take(); s !== undefined; s = order.take()) {
        expect(s).toBeGreaterThanOrEqual(0);
        expect(s).toBeLessThan(n);
        seen.add(s);
      }
      expect(seen.size).toBe(n);
    }
    const a = new RandomSlotOrder(1000, new Xoshiro128ss(1));
    const b = new RandomSlotOrder(1000, new Xoshiro128ss(2));
    const first = (o: RandomSlotOrder): number[] => Array.from({ length: 20 }, (_, i) => o.at(i));
    expect(first(a)).not.toEqual(first(b));
    expect(first(a)).not.toEqual(Array.from({ length: 20 }, (_, i) => i));
  });
});

function recordingDevice(nsSizeBytes: number, reads: number[]): WorkloadDevice {
  return {
    queues: 1,
    queueDepth: 32,
    lbaSizeBytes: 512,
    nsSizeBytes,
    maxTransferBytes: 1 << 20,
    read: (_q, slba) => {
      reads.push(slba * 512);
      return Promise.resolve();
    },
    write: () => Promise.resolve(),
  };
}

describe('random jobs over a region', () => {
  it('read each block of [offset, offset+size) once per pass, and io_size makes more passes', async () => {
    const reads: number[] = [];
    const r = await runWorkload(recordingDevice(4 << 20, reads), { rw: 'randread', bs: '4k', size: '256k', offset: '1m', iodepth: 4, seed: 3, verify: false });
    expect(r.ok).toBe(true);
    const blocks = Array.from({ length: 64 }, (_, i) => (1 << 20) + i * 4096);
    expect(reads.length).toBe(64);
    expect([...reads].sort((x, y) => x - y)).toEqual(blocks);
    expect(reads).not.toEqual(blocks);

    const twice: number[] = [];
    await runWorkload(recordingDevice(4 << 20, twice), { rw: 'randread', bs: '4k', size: '256k', ioSize: '512k', offset: '1m', iodepth: 1, seed: 3, verify: false });
    expect(twice.length).toBe(128);
    expect([...twice.slice(0, 64)].sort((x, y) => x - y)).toEqual(blocks);
    expect([...twice.slice(64)].sort((x, y) => x - y)).toEqual(blocks);
  });
});
