import { describe, expect, it } from 'vitest';
import { devmemFromFlags, type DevmemFlags } from '../../src/cli/devmem-flags.js';
import { devmemArgs } from '../../src/lab/host-argv.js';
import { UserError } from '../../src/base/errors.js';
import { parseOffloadMode as parseRunOffload } from '../../src/host/offload-mode.js';

const DEFAULTS: DevmemFlags = { devmemPool: '64m', devmemReturn: 'dontneed', devmemHold: '0' };

function userError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof UserError) return e.message;
    throw e;
  }
  return 'no error';
}

describe('devmem flags', () => {
  it('apply only to the devmem offload modes, whose split mode they carry', () => {
    expect(devmemFromFlags(DEFAULTS, 'none')).toBeUndefined();
    expect(devmemFromFlags(DEFAULTS, 'ddp-crc')).toBeUndefined();
    expect(devmemFromFlags(DEFAULTS, 'devmem-tcp')).toEqual({ mode: 'tcp', poolBytes: 64 << 20, returnPath: 'dontneed', holdUntilEmpty: 0 });
    expect(devmemFromFlags({ devmemPool: '8m', devmemReturn: 'ring', devmemHold: '3' }, 'devmem-nvme')).toEqual({
      mode: 'nvme',
      poolBytes: 8 << 20,
      returnPath: 'ring',
      holdUntilEmpty: 3,
    });
  });

  it('refuse a pool that is not whole pages, an unknown return path and a bad hold count', () => {
    expect(userError(() => devmemFromFlags({ ...DEFAULTS, devmemPool: '5000' }, 'devmem-tcp'))).toMatch(/--devmem-pool/);
    expect(userError(() => devmemFromFlags({ ...DEFAULTS, devmemPool: 'lots' }, 'devmem-tcp'))).toMatch(/--devmem-pool/);
    expect(userError(() => devmemFromFlags({ ...DEFAULTS, devmemReturn: 'munmap' }, 'devmem-tcp'))).toMatch(/--devmem-return/);
    expect(userError(() => devmemFromFlags({ ...DEFAULTS, devmemHold: '-1' }, 'devmem-nvme'))).toMatch(/--devmem-hold/);
  });

  it('refuse, before anything is built, a pool that cannot hold one read (such a run only ends in an I/O timeout)', () => {
    const flags = { ...DEFAULTS, devmemPool: '64k', rw: 'randread', bs: '128k', iodepth: '4' };
    expect(userError(() => devmemFromFlags(flags, 'devmem-nvme'))).toBe(
      '--devmem-pool 64 KiB cannot hold one 128 KiB read: its frags stay held until the whole read arrived, so the page pool runs dry and the read never completes; ' +
        'it needs at least 136 KiB (512 KiB for --iodepth 4 reads at once)',
    );
    // The read size of READ,WRITE and of a mix counts; writes alone need no receive pool.
    expect(userError(() => devmemFromFlags({ ...flags, bs: '4k,1m', devmemPool: '1m' }, 'devmem-tcp'))).toBe('no error');
    expect(userError(() => devmemFromFlags({ ...flags, bs: '1m,4k', devmemPool: '1m' }, 'devmem-tcp'))).toMatch(/cannot hold one 1 MiB read/);
    expect(userError(() => devmemFromFlags({ ...flags, bssplit: '4k/50:512k/50', devmemPool: '256k' }, 'devmem-tcp'))).toMatch(/cannot hold one 512 KiB read/);
    expect(userError(() => devmemFromFlags({ ...flags, rw: 'randwrite' }, 'devmem-nvme'))).toBe('no error');
    // Enough for one read is allowed (the exhaustion experiment runs with a small pool on purpose).
    expect(devmemFromFlags({ ...flags, devmemPool: '136k' }, 'devmem-nvme')!.poolBytes).toBe(136 << 10);
    expect(devmemFromFlags({ ...flags, devmemPool: '8m', iodepth: '16' }, 'devmem-nvme')!.poolBytes).toBe(8 << 20);
  });

  it('turn back into host flags that rebuild the same options', () => {
    const o = devmemFromFlags({ devmemPool: '12m', devmemReturn: 'ring', devmemHold: '2' }, 'devmem-nvme')!;
    const args = devmemArgs(o);
    const back = devmemFromFlags({ devmemPool: args[1]!, devmemReturn: args[3]!, devmemHold: args[5]! }, 'devmem-nvme');
    expect(back).toEqual(o);
    expect(devmemArgs(undefined)).toEqual([]);
  });

  it('--offload takes the devmem modes for run and host', () => {
    expect(parseRunOffload('devmem-nvme')).toBe('devmem-nvme');
    expect(parseRunOffload('devmem-tcp')).toBe('devmem-tcp');
    expect(userError(() => parseRunOffload('devmem'))).toMatch(/devmem-tcp, devmem-nvme/);
  });
});
