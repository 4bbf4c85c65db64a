import { describe, expect, it } from 'vitest';
import { havoc } from '../../src/fuzz/byte-mutator.js';
import { Rng } from '../../src/fuzz/rng.js';

describe('havoc', () => {
  it('never writes its input or donor, respects maxLen, and changes the bytes', () => {
    const rng = new Rng(3);
    const input = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');
    const donor = Buffer.from('ZYXWVUTSRQPONMLKJIHGFEDCBA');
    const keepIn = Buffer.from(input);
    const keepDonor = Buffer.from(donor);
    let changed = 0;
    for (let i = 0; i < 3000; i++) {
      const out = havoc(input, rng, { maxLen: 48, donor, dictionary: [Buffer.from('TOKEN')] });
      expect(out.length).toBeLessThanOrEqual(48);
      if (!out.equals(input)) changed++;
    }
    expect(input.equals(keepIn)).toBe(true);
    expect(donor.equals(keepDonor)).toBe(true);
    expect(changed).toBeGreaterThan(2700);
  });

  it('is a function of the generator state', () => {
    const input = Buffer.from('the same input');
    const run = (r: Rng): string[] => Array.from({ length: 50 }, () => havoc(input, r, { maxLen: 64 }).toString('hex'));
    expect(run(new Rng(5))).toEqual(run(new Rng(5)));
    expect(run(new Rng(5))).not.toEqual(run(new Rng(6)));
  });

  it('grows an empty input', () => {
    const rng = new Rng(8);
    const lengths = new Set<number>();
    for (let i = 0; i < 200; i++) lengths.add(havoc(Buffer.alloc(0), rng, { maxLen: 300 }).length);
    expect([...lengths].some((n) => n > 0)).toBe(true);
  });
});
