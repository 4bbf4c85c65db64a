import { describe, expect, it } from 'vitest';
import { DMABUF_CHUNK_BYTES, DmabufPagePool, type CarvedFrag, type DmabufHolder } from '../../../src/nicemu/devmem/page-pool.js';
import { RefillRing, refillOff, splitRefillOff } from '../../../src/nicemu/devmem/refill-ring.js';

const C = DMABUF_CHUNK_BYTES;

function carve(pool: DmabufPagePool, len: number): CarvedFrag[] {
  const out: CarvedFrag[] = [];
  expect(pool.carve(len, out)).toBe(true);
  return out;
}

describe('dmabuf page pool', () => {
  it('packs payloads into the current chunk and never lets a frag cross a chunk boundary', () => {
    const pool = new DmabufPagePool(8 * C);
    expect(carve(pool, 1448)).toEqual([{ offset: 0, size: 1448 }]);
    expect(carve(pool, 1448)).toEqual([{ offset: 1448, size: 1448 }]);
    // 1200 bytes left in chunk 0: the next payload continues in a fresh chunk.
    expect(carve(pool, 1448)).toEqual([
      { offset: 2896, size: 1200 },
      { offset: C, size: 248 },
    ]);
    const big = carve(pool, 9000);
    expect(big.map((f) => f.size)).toEqual([C - 248, C, 9000 - (C - 248) - C]);
    for (const f of big) expect(Math.floor(f.offset / C)).toBe(Math.floor((f.offset + f.size - 1) / C));
    expect(pool.stats.alloc).toBe(4);
    expect(pool.freeChunks).toBe(4);
  });

  it('refuses a payload it cannot cover whole, takes nothing, counts alloc-empty and tells its listeners', () => {
    const pool = new DmabufPagePool(2 * C);
    let empties = 0;
    pool.onEmpty(() => empties++);
    // A socket still queues both chunks: the scan finds nothing to recycle.
    pool.addHolder({ markHeld: (mark) => [0, 1].forEach(mark) });
    carve(pool, C + 100);
    const out: CarvedFrag[] = [];
    // 3996 bytes of room left in the current chunk: 5000 needs one more chunk, and there is none.
    expect(pool.carve(5000, out)).toBe(false);
    expect(out).toEqual([]);
    expect(pool.stats['alloc-empty']).toBe(1);
    expect(empties).toBe(1);
    // What still fits in the current chunk is fine.
    expect(pool.carve(3996, out)).toBe(true);
  });

  it('recycles chunks nobody references: held by a queue, a user reference or the NIC stay', () => {
    const pool = new DmabufPagePool(4 * C);
    carve(pool, 4 * C - 10); // chunks 0..3, chunk 3 is the current one
    const queued = new Set<number>([1]);
    const holder: DmabufHolder = { markHeld: (mark) => queued.forEach(mark) };
    pool.addHolder(holder);
    pool.getUserRef(2 * C + 7);
    const out: CarvedFrag[] = [];
    // 10 bytes of room, 100 wanted: a scan frees chunk 0 only.
    expect(pool.carve(100, out)).toBe(true);
    expect(pool.stats['reclaim-scans']).toBe(1);
    expect(pool.stats.recycled).toBe(1);
    expect(out).toEqual([
      { offset: 3 * C + 4086, size: 10 },
      { offset: 0, size: 90 },
    ]);
    // The user reference goes, the queue lets go of chunk 1: both come back at the next scan.
    expect(pool.putUserRef(2 * C)).toBe(true);
    expect(pool.putUserRef(2 * C)).toBe(false);
    queued.clear();
    expect(pool.reclaim()).toBe(3); // chunks 1, 2, 3 (no longer current)
    expect(pool.freeChunks).toBe(3);
  });

  it('does not scan again while nothing was released (an empty pool costs one scan, not one per frame)', () => {
    const pool = new DmabufPagePool(C);
    carve(pool, C);
    pool.getUserRef(0);
    const out: CarvedFrag[] = [];
    for (let i = 0; i < 50; i++) expect(pool.carve(100, out)).toBe(false);
    expect(pool.stats['reclaim-scans']).toBe(1);
    expect(pool.stats['alloc-empty']).toBe(50);
    pool.putUserRef(0);
    expect(pool.carve(100, out)).toBe(true);
    expect(pool.stats['reclaim-scans']).toBe(2);
  });

  it('gives user references back through refill-ring entries when it refills, ignoring entries that name nothing', () => {
    const pool = new DmabufPagePool(2 * C);
    const ring = new RefillRing(8);
    pool.attachRing(ring, 5);
    carve(pool, 2 * C);
    pool.getUserRef(100);
    pool.getUserRef(C + 5);
    expect(ring.produce({ off: refillOff(5, 100), len: 50 })).toBe(true);
    expect(ring.produce({ off: refillOff(9, C + 5), len: 50 })).toBe(true); // another area
    expect(ring.produce({ off: refillOff(5, 3 * C), len: 50 })).toBe(true); // outside the dmabuf
    expect(ring.produce({ off: refillOff(5, C + 5), len: 50 })).toBe(true);
    expect(ring.produce({ off: refillOff(5, C + 5), len: 50 })).toBe(true); // returned twice
    expect(pool.stats['user-refs']).toBe(2);
    const out: CarvedFrag[] = [];
    expect(pool.carve(10, out)).toBe(true);
    expect(ring.head).toBe(5);
    expect(pool.stats['ring-consumed']).toBe(5);
    expect(pool.stats['ring-invalid']).toBe(3);
    expect(pool.stats['user-refs']).toBe(0);
  });

  it('destroy (unbind) puts every chunk back, drops every user reference and allocates nothing more', () => {
    const pool = new DmabufPagePool(4 * C);
    carve(pool, 3 * C);
    pool.getUserRef(0);
    pool.addHolder({ markHeld: (mark) => mark(1) });
    pool.destroy();
    expect(pool.freeChunks).toBe(4);
    expect(pool.stats['user-refs']).toBe(0);
    expect(pool.live).toBe(false);
    expect(pool.carve(10, [])).toBe(false);
    expect(pool.putUserRef(0)).toBe(false);
  });

  it('refuses sizes that are not whole pages', () => {
    expect(() => new DmabufPagePool(1000)).toThrow(RangeError);
    expect(() => new DmabufPagePool(C + 1)).toThrow(RangeError);
  });
});

describe('refill ring', () => {
  it('moves entries from tail to head in order, refuses when full, and wraps its counters', () => {
    const ring = new RefillRing(4);
    for (let i = 0; i < 4; i++) expect(ring.produce({ off: BigInt(i), len: i + 1 })).toBe(true);
    expect(ring.produce({ off: 99n, len: 1 })).toBe(false);
    expect(ring.stats.full).toBe(1);
    for (let round = 0; round < 10; round++) {
      const e = ring.consume()!;
      expect(ring.produce({ off: e.off + 4n, len: e.len })).toBe(true);
    }
    expect(ring.pending).toBe(4);
    expect(ring.tail - ring.head).toBe(4);
    expect(ring.consume()).toEqual({ off: 10n, len: 3 });
    expect(() => new RefillRing(6)).toThrow(RangeError);
  });

  it('puts the area id in bits 63:48 of off', () => {
    const off = refillOff(3, 0x1234_5678_9a);
    expect(off >> 48n).toBe(3n);
    expect(splitRefillOff(off)).toEqual({ areaId: 3, offset: 0x1234_5678_9a });
  });
});
