import { describe, expect, it } from 'vitest';
import { ddpHostFromFlags, type DdpHostFlags } from '../../src/cli/ddp-host-flags.js';
import { ddpHostArgs } from '../../src/host/nvme/ddp-settings.js';
import { UserError } from '../../src/base/errors.js';

function userError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof UserError) return e.message;
    throw e;
  }
  return 'no error';
}

/** The flags as commander hands them over after parsing `args` (the two value flags and the switch). */
function flagsOf(args: readonly string[]): DdpHostFlags {
  const f: DdpHostFlags = { ulp: 'linux' };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--ulp') f.ulp = args[++i]!;
    else if (a === '--ddp-max-sgl') f.ddpMaxSgl = args[++i]!;
    else if (a === '--ddp-threshold') f.ddpThreshold = args[++i]!;
    else if (a === '--ddp-full-cid-range') f.ddpFullCidRange = true;
  }
  return f;
}

describe('DDP host flags', () => {
  it('default to the linux ULP and the NIC’s own limits', () => {
    expect(ddpHostFromFlags({ ulp: 'linux' })).toEqual({ ulp: 'linux', limits: {} });
  });

  it('take the ULP mode, max SGL entries, a threshold size and the full CID range', () => {
    expect(ddpHostFromFlags({ ulp: 'reference', ddpMaxSgl: '64', ddpThreshold: '4k', ddpFullCidRange: true })).toEqual({
      ulp: 'reference',
      limits: { maxDdpSglLen: 64, ioThresholdBytes: 4096, fullCcidRange: true },
    });
  });

  it('refuse bad values in one line naming the flag', () => {
    expect(userError(() => ddpHostFromFlags({ ulp: 'bsd' }))).toMatch(/^--ulp: 'bsd' is not one of linux, reference$/);
    for (const bad of ['0', '-1', '1.5', 'many', '65536']) expect(userError(() => ddpHostFromFlags({ ulp: 'linux', ddpMaxSgl: bad }))).toMatch(/^--ddp-max-sgl: /);
    for (const bad of ['lots', '-4k', '2g']) expect(userError(() => ddpHostFromFlags({ ulp: 'linux', ddpThreshold: bad }))).toMatch(/^--ddp-threshold: /);
    for (const bad of ['bsd', 'x']) expect(userError(() => ddpHostFromFlags({ ulp: bad })).includes('\n')).toBe(false);
  });

  it('turn back into host flags that rebuild the same settings', () => {
    for (const flags of [{ ulp: 'linux' }, { ulp: 'reference', ddpMaxSgl: '32', ddpThreshold: '64k', ddpFullCidRange: true }] as DdpHostFlags[]) {
      const s = ddpHostFromFlags(flags);
      expect(ddpHostFromFlags(flagsOf(ddpHostArgs(s)))).toEqual(s);
    }
  });
});
