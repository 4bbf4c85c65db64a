import { describe, expect, it } from 'vitest';
import { fitAxis, formatTick, niceStep, stepDecimals } from '../../../src/lab/bench/axis.js';

describe('niceStep', () => {
  it('rounds up to 1, 2, 2.5 or 5 times a power of ten', () => {
    expect([0.64, 1, 1.2, 2.1, 3, 7, 0.031, 420].map(niceStep)).toEqual([1, 1, 2, 2.5, 5, 10, 0.05, 500]);
    expect(niceStep(0)).toBe(1);
    expect(niceStep(Number.NaN)).toBe(1);
  });

  it('knows the decimals of its steps', () => {
    expect([1, 2.5, 0.25, 0.05, 20, 500].map(stepDecimals)).toEqual([0, 1, 2, 2, 0, 0]);
  });
});

describe('fitAxis', () => {
  it('fits placement between 96.7 and 99.9 % to 96..100, not 0..100', () => {
    const a = fitAxis([96.7, 98.2, 99.9], { floor: 0, ceiling: 100 });
    expect(a.lo).toBe(96);
    expect(a.hi).toBe(100);
    expect(a.ticks).toEqual([96, 97, 98, 99, 100]);
    expect(a.ticks.map((t) => formatTick(t, a.decimals))).toEqual(['96', '97', '98', '99', '100']);
  });

  it('puts ticks on round numbers around min..max, every value inside', () => {
    for (const vs of [[3.2, 47.9], [1234, 1290], [0.011, 0.0173], [15.6, 130.5, 99]]) {
      const a = fitAxis(vs);
      expect(a.lo).toBeLessThanOrEqual(Math.min(...vs));
      expect(a.hi).toBeGreaterThanOrEqual(Math.max(...vs));
      // Not wasteful: the range is at most a few steps wider than the data.
      expect(a.hi - a.lo).toBeLessThanOrEqual(Math.max(...vs) - Math.min(...vs) + 2 * a.step + 1e-9);
      for (const t of a.ticks) expect(Math.abs(t / a.step - Math.round(t / a.step))).toBeLessThan(1e-6);
      expect(a.ticks[0]).toBe(a.lo);
      expect(a.ticks[a.ticks.length - 1]).toBe(a.hi);
      expect(a.ticks.length).toBeGreaterThanOrEqual(3);
      expect(a.ticks.length).toBeLessThanOrEqual(11);
    }
    expect(fitAxis([3.2, 47.9]).ticks).toEqual([0, 10, 20, 30, 40, 50]);
  });

  it('spreads a single value (min == max) around it, within the bounds', () => {
    const a = fitAxis([42]);
    expect(a.lo).toBeLessThan(42);
    expect(a.hi).toBeGreaterThan(42);
    const top = fitAxis([100, 100], { floor: 0, ceiling: 100 });
    expect(top.hi).toBe(100);
    expect(top.lo).toBeLessThan(100);
    expect(top.lo).toBeGreaterThanOrEqual(0);
    const bottom = fitAxis([0], { floor: 0 });
    expect(bottom.lo).toBe(0);
    expect(bottom.hi).toBeGreaterThan(0);
  });

  it('gives 0..1 for zeros and for no values at all', () => {
    for (const vs of [[0], [0, 0, 0], []]) {
      const a = fitAxis(vs);
      expect([a.lo, a.hi]).toEqual([0, 1]);
    }
    expect(fitAxis([Number.NaN, Number.POSITIVE_INFINITY])).toMatchObject({ lo: 0, hi: 1 });
  });

  it('handles negative values and ranges across zero', () => {
    const neg = fitAxis([-3.3, -1.1]);
    expect(neg.lo).toBeLessThanOrEqual(-3.3);
    expect(neg.hi).toBeGreaterThanOrEqual(-1.1);
    expect(neg.hi).toBeLessThanOrEqual(0);
    const across = fitAxis([-12, 37]);
    expect(across.ticks).toContain(0);
    expect(across.lo).toBeLessThanOrEqual(-12);
    expect(across.hi).toBeGreaterThanOrEqual(37);
    expect(formatTick(-2.5, 1)).toBe('-2.5');
  });

  it('abbreviates large whole ticks', () => {
    expect(formatTick(65536, 0)).toBe('65.5k');
    expect(formatTick(2_000_000, 0)).toBe('2M');
    expect(formatTick(0.25, 2)).toBe('0.25');
  });
});
