import { describe, expect, it } from 'vitest';
import { Rng, targetRng } from '../../src/fuzz/rng.js';

function draw(r: Rng, n: number): number[] {
  return Array.from({ length: n }, () => r.u32());
}

describe('Rng', () => {
  it('gives the same sequence for the same seed and label, another for another seed or label', () => {
    expect(draw(new Rng(42, 'x'), 50)).toEqual(draw(new Rng(42, 'x'), 50));
    expect(draw(new Rng(42, 'x'), 50)).not.toEqual(draw(new Rng(43, 'x'), 50));
    expect(draw(new Rng(42, 'x'), 50)).not.toEqual(draw(new Rng(42, 'y'), 50));
    // Seeds above 2^32 are not folded onto small ones.
    expect(draw(new Rng(2 ** 32 + 5), 10)).not.toEqual(draw(new Rng(5), 10));
  });

  it('keeps targets apart: one target’s stream does not depend on another being fuzzed first', () => {
    const a = targetRng(7, 'pdu');
    draw(targetRng(7, 'tcp'), 1000);
    expect(draw(a, 20)).toEqual(draw(targetRng(7, 'pdu'), 20));
    expect(draw(targetRng(7, 'pdu'), 20)).not.toEqual(draw(targetRng(7, 'tcp'), 20));
  });

  it('draws below(n) in [0, n), range(lo, hi) inclusive, and covers small ranges', () => {
    const r = new Rng(1);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const v = r.below(7);
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThan(7);
      seen.add(v);
      const w = r.range(-3, 3);
      expect(w).toBeGreaterThanOrEqual(-3);
      expect(w).toBeLessThanOrEqual(3);
    }
    expect(seen.size).toBe(7);
    expect(r.below(1)).toBe(0);
    expect(() => r.pick([])).toThrow(RangeError);
  });

  it('forks independent generators deterministically', () => {
    const a = new Rng(9).fork('k');
    const b = new Rng(9).fork('k');
    expect(draw(a, 10)).toEqual(draw(b, 10));
    expect(draw(new Rng(9).fork('k'), 10)).not.toEqual(draw(new Rng(9).fork('j'), 10));
  });
});
