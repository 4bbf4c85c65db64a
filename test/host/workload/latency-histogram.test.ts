/**
 * LatencyHistogram (src/host/workload/latency-histogram.ts): percentiles within the
 * promised 1/64 relative error, exact min/max/mean, merging.
 */
import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../../../src/host/workload/latency-histogram.js';
import { prng } from '../../support/wire/pdu-samples.js';

function exactPercentile(sorted: number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

describe('LatencyHistogram', () => {
  it('is empty with NaN percentiles', () => {
    const h = new LatencyHistogram();
    expect(h.count).toBe(0);
    expect(Number.isNaN(h.summary().p50us)).toBe(true);
  });

  it('gives exact values for tiny latencies and exact min, max and mean', () => {
    const h = new LatencyHistogram();
    for (const us of [0.01, 0.05, 0.1]) h.recordUs(us);
    const s = h.summary();
    expect(s.minUs).toBe(0.01);
    expect(s.maxUs).toBe(0.1);
    expect(s.meanUs).toBeCloseTo(0.16 / 3, 6);
    expect(s.p50us).toBe(0.05);
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
      expect(h.summary().p999us).toBe(h.percentileUs(99.9));
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
});
