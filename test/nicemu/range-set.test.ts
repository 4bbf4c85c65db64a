import { describe, expect, it } from 'vitest';
import { RangeSet } from '../../src/nicemu/range-set.js';
import { prng } from '../support/host/tcp-peer.js';

describe('RangeSet', () => {
  it('merges touching and overlapping ranges and reports the gaps of a query', () => {
    const s = new RangeSet();
    s.add(10, 20);
    s.add(30, 40);
    s.add(20, 25);
    expect(s.size).toBe(2);
    expect(s.uncovered(0, 50, [])).toEqual([0, 10, 25, 30, 40, 50]);
    expect(s.covers(12, 25)).toBe(true);
    expect(s.covers(12, 26)).toBe(false);
    expect(s.intersects(25, 30)).toBe(false);
    expect(s.intersects(24, 31)).toBe(true);
    s.add(5, 45);
    expect(s.size).toBe(1);
    expect(s.maxEnd).toBe(45);
  });

  it('agrees with a byte map over seeded random adds', () => {
    const r = prng(7);
    for (let round = 0; round < 50; round++) {
      const s = new RangeSet(1000);
      const bytes = new Uint8Array(500);
      for (let k = 0; k < 30; k++) {
        const a = Math.floor(r() * 500);
        const b = Math.min(500, a + Math.floor(r() * 60));
        s.add(a, b);
        bytes.fill(1, a, b);
      }
      const a = Math.floor(r() * 500);
      const b = Math.min(500, a + Math.floor(r() * 200));
      const gaps = s.uncovered(a, b, []);
      const want: number[] = [];
      for (let i = a; i < b; i++) {
        if (bytes[i] === 0 && (i === a || bytes[i - 1] === 1)) want.push(i);
        if (bytes[i] === 0 && (i === b - 1 || bytes[i + 1] === 1)) want.push(i + 1);
      }
      expect(gaps).toEqual(want);
      expect(s.intersects(a, b)).toBe(bytes.subarray(a, b).includes(1));
    }
  });

  it('past its bound, closes the lowest gap: it may claim more, never less', () => {
    const s = new RangeSet(3);
    for (let i = 0; i < 5; i++) s.add(i * 10, i * 10 + 5);
    expect(s.size).toBe(3);
    for (let i = 0; i < 5; i++) expect(s.covers(i * 10, i * 10 + 5)).toBe(true);
    expect(s.covers(0, 25)).toBe(true);
    expect(s.intersects(36, 40)).toBe(false);
  });
});
