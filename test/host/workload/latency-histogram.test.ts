/**
 * LatencyHistogram (src/host/workload/latency-histogram.ts): percentiles within the
 * promised 1/64 relative error, exact min/max/mean, merging.
 */
import { describe, expect, it } from 'vitest';
import { FIO_PERCENTILES, fioPercentileKey, LatencyHistogram } from '../../../src/host/workload/latency-histogram.js';
import { prng } from '../../support/wire/pdu-samples.js';

function exactPercentile(sorted: number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

describe('LatencyHistogram', () => {
  it('is empty with NaN percentiles', () => {
    const h = new LatencyHistogram();
    expect(h.count).toBe(0);
    expect(Number.isNaN(h.summary().p50Us)).toBe(true);
  });

  it('gives exact values for tiny latencies and exact min, max and mean', () => {
    const h = new LatencyHistogram();
    for (const us of [0.01, 0.05, 0.1]) h.recordUs(us);
    const s = h.summary();
    expect(s.minUs).toBe(0.01);
    expect(s.maxUs).toBe(0.1);
    expect(s.meanUs).toBeCloseTo(0.16 / 3, 6);
    expect(s.p50Us).toBe(0.05);
  });

  it('keeps p50/p99/p99.9 within 1/64 of the exact sample over six decades (seeded)', () => {
    for (const seed of [1, 2, 3]) {
      const rand = prng(seed);
      const h = new LatencyHistogram();
      const values: number[] = [];
      for (let i = 0; i < 20000; i++) {
        const us = 10 ** (rand() * 6 - 1); // 0.1 µs .. 100 ms
        values.push(us);
        h.recordUs(us);
      }
      values.sort((a, b) => a - b);
      for (const p of [50, 90, 99, 99.9]) {
        const want = exactPercentile(values, p);
        const got = h.percentileUs(p);
        expect(Math.abs(got - want) / want, `seed ${seed} p${p}: ${got} vs ${want}`).toBeLessThanOrEqual(1 / 64 + 1e-3);
      }
      expect(h.summary().p999Us).toBe(h.percentileUs(99.9));
    }
  });

  it('merges another histogram', () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    for (let i = 1; i <= 100; i++) a.recordUs(i);
    for (let i = 101; i <= 200; i++) b.recordUs(i);
    a.merge(b);
    expect(a.count).toBe(200);
    expect(a.summary().maxUs).toBe(200);
    expect(Math.abs(a.percentileUs(50) - 100) / 100).toBeLessThan(1 / 64);
  });

  it("gives fio's clat_ns: every default percentile within 1/64 of a brute-force sort, sample stddev, exact min/max/mean (seeded)", () => {
    for (const seed of [4, 5]) {
      const rand = prng(seed);
      const h = new LatencyHistogram();
      const ns: number[] = [];
      for (let i = 0; i < 5000; i++) {
        const v = Math.round(20_000 + 500_000 * rand() ** 3); // 20 µs .. 520 µs, skewed
        ns.push(v);
        h.recordUs(v / 1000);
      }
      const c = h.fioNs();
      const sorted = [...ns].sort((a, b) => a - b);
      const mean = ns.reduce((a, b) => a + b, 0) / ns.length;
      const sd = Math.sqrt(ns.reduce((a, b) => a + (b - mean) ** 2, 0) / (ns.length - 1));
      expect(c.N).toBe(5000);
      expect(c.min).toBe(sorted[0]);
      expect(c.max).toBe(sorted[sorted.length - 1]);
      expect(c.mean).toBeCloseTo(mean, 6);
      expect(c.stddev / sd).toBeCloseTo(1, 9);
      expect(Object.keys(c.percentile!)).toEqual(FIO_PERCENTILES.map(fioPercentileKey));
      expect(Object.keys(c.percentile!)).toContain('99.990000');
      for (const p of FIO_PERCENTILES) {
        const want = exactPercentile(sorted, p);
        const got = c.percentile![fioPercentileKey(p)]!;
        expect(Number.isInteger(got)).toBe(true);
        expect(Math.abs(got - want) / want, `seed ${seed} p${p}: ${got} vs ${want}`).toBeLessThanOrEqual(1 / 64 + 1e-3);
      }
    }
  });

  it('merges stddev exactly (pairwise) and has no percentiles when empty, as fio', () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    const all: number[] = [];
    for (let i = 0; i < 300; i++) {
      const v = 1000 + ((i * 7919) % 997);
      all.push(v);
      (i % 3 === 0 ? a : b).recordUs(v / 1000);
    }
    a.merge(b);
    const mean = all.reduce((x, y) => x + y, 0) / all.length;
    const sd = Math.sqrt(all.reduce((x, y) => x + (y - mean) ** 2, 0) / (all.length - 1));
    expect(a.fioNs().stddev).toBeCloseTo(sd, 6);
    expect(new LatencyHistogram().fioNs()).toEqual({ min: 0, max: 0, mean: 0, stddev: 0, N: 0 });
  });
});
