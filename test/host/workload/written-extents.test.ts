/**
 * WrittenExtents (src/host/workload/written-extents.ts) against a per-byte model,
 * for thousands of seeded overlapping writes.
 */
import { describe, expect, it } from 'vitest';
import { EXTENT_UNKNOWN, WrittenExtents } from '../../../src/host/workload/written-extents.js';
import { prng } from '../../support/wire/pdu-samples.js';

describe('WrittenExtents', () => {
  it('splits a query into written, unknown and unwritten pieces', () => {
    const m = new WrittenExtents();
    m.set(100, 200, 7);
    m.set(150, 160, EXTENT_UNKNOWN);
    expect(m.pieces(50, 250)).toEqual([
      { start: 50, end: 100, seed: undefined },
      { start: 100, end: 150, seed: 7 },
      { start: 150, end: 160, seed: EXTENT_UNKNOWN },
      { start: 160, end: 200, seed: 7 },
      { start: 200, end: 250, seed: undefined },
    ]);
    m.set(0, 1000, 9);
    expect(m.size).toBe(1);
    expect(m.pieces(10, 20)).toEqual([{ start: 10, end: 20, seed: 9 }]);
  });

  it('matches a byte-by-byte model under random overlapping writes (seeded)', () => {
    for (const seed of [1, 2, 3, 4]) {
      const rand = prng(seed);
      const N = 4096;
      const model = new Array<number | undefined>(N).fill(undefined);
      const m = new WrittenExtents();
      for (let op = 0; op < 2000; op++) {
        const a = Math.floor(rand() * N);
        const b = Math.min(N, a + 1 + Math.floor(rand() * 300));
        const v = rand() < 0.1 ? EXTENT_UNKNOWN : op;
        m.set(a, b, v);
        for (let i = a; i < b; i++) model[i] = v;
        if (op % 97 === 0) {
          const qa = Math.floor(rand() * N);
          const qb = Math.min(N, qa + 1 + Math.floor(rand() * 1000));
          let pos = qa;
          for (const p of m.pieces(qa, qb)) {
            expect(p.start, `seed ${seed}`).toBe(pos);
            for (let i = p.start; i < p.end; i++) expect(model[i], `seed ${seed} byte ${i}`).toBe(p.seed);
            pos = p.end;
          }
          expect(pos).toBe(qb);
        }
      }
    }
  });
});
