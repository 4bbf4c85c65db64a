import { describe, expect, it } from 'vitest';
import { impairFromFlags, parseBurst, parseProbability } from '../../src/cli/impair-flags.js';
import { impairArgs } from '../../src/lab/host-argv.js';
import { UserError } from '../../src/base/errors.js';

describe('impairment flags', () => {
  it('reads plain flags as toward the host and --tx-* as the host transmissions', () => {
    const cfg = impairFromFlags({ drop: '1e-4', reorder: '0.001', reorderDepth: '5', txDup: '0.5%', txCorrupt: '0.01' }, 9);
    expect(cfg).toEqual({
      seed: 9,
      rx: { drop: 1e-4, reorder: 0.001, reorderDepth: 5 },
      tx: { dup: 0.005, corrupt: 0.01 },
    });
  });

  it('gives no config when nothing would be impaired', () => {
    expect(impairFromFlags({}, 1)).toBeUndefined();
    expect(impairFromFlags({ drop: '0', txDrop: '0', reorderUs: '100' }, 1)).toBeUndefined();
  });

  it('turns a config back into flags that rebuild it exactly', () => {
    const flags = {
      drop: '0.00001',
      burst: '0.001,0.25,0.9',
      reorder: '0.003',
      dup: '1e-3',
      corrupt: '2e-4',
      txDrop: '0.1',
      txBurst: '0.01,0.5',
      reorderDepth: '2',
      reorderUs: '250',
    };
    const cfg = impairFromFlags(flags, 4)!;
    const argv = impairArgs(cfg);
    const back: Record<string, string> = {};
    for (let k = 0; k < argv.length; k += 2) {
      const name = argv[k]!.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
      back[name] = argv[k + 1]!;
    }
    expect(impairFromFlags(back, 4)).toEqual(cfg);
    expect(cfg.rx!.burst).toEqual({ pGoodToBad: 0.001, pBadToGood: 0.25, lossBad: 0.9 });
  });

  it('refuses values that are not probabilities, with the flag named', () => {
    expect(() => parseProbability('drop', '2')).toThrow(UserError);
    expect(() => parseProbability('drop', 'x')).toThrow(/--drop/);
    expect(() => parseProbability('drop', '')).toThrow(/--drop/);
    expect(() => parseBurst('burst', '0.1')).toThrow(/PGB,PBG/);
    expect(() => impairFromFlags({ reorder: '0.1', reorderDepth: '0' }, 1)).toThrow(/--reorder-depth/);
    expect(parseProbability('dup', '0.1%')).toBeCloseTo(0.001, 12);
  });
});
