import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countNew, CoverageTracker, mergeFeatures } from '../../src/fuzz/coverage.js';

let cov: CoverageTracker;
beforeAll(() => {
  cov = CoverageTracker.start();
});
afterAll(() => cov.stop());

describe('CoverageTracker', () => {
  it('sees a ddplab function run, and a block of it that first did not run, once it runs', async () => {
    // Loaded after coverage started, so V8 gives its functions block counters.
    const { parseEthernet } = await import('../../src/wire/ethernet.js');
    const { WireError } = await import('../../src/wire/errors.js');
    cov.reset();
    const untagged = Buffer.alloc(60);
    untagged.writeUInt16BE(0x0800, 12);
    parseEthernet(untagged);
    const first = cov.sample();
    expect([...first].some((f) => f.includes('/src/wire/ethernet.ts#'))).toBe(true);

    const seen = new Set<string>();
    mergeFeatures(seen, first);
    parseEthernet(untagged);
    expect(countNew(seen, cov.sample())).toBe(0);

    const tagged = Buffer.alloc(60);
    tagged.writeUInt16BE(0x8100, 12);
    tagged.writeUInt16BE(0x0800, 16);
    parseEthernet(tagged);
    expect(countNew(seen, cov.sample())).toBeGreaterThan(0);

    expect(() => parseEthernet(Buffer.alloc(3))).toThrow(WireError);
    expect(countNew(seen, cov.sample())).toBeGreaterThan(0);
  });

  it('does not count the fuzzer’s own modules', async () => {
    const { havoc } = await import('../../src/fuzz/byte-mutator.js');
    const { Rng } = await import('../../src/fuzz/rng.js');
    cov.reset();
    havoc(Buffer.from('abc'), new Rng(1), { maxLen: 8 });
    expect([...cov.sample()].filter((f) => f.includes('/src/fuzz/'))).toEqual([]);
  });
});
