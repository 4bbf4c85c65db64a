import { describe, expect, it } from 'vitest';
import { runDevmemChecks } from '../../../src/lab/devmem-check/checks.js';

describe('ddplab devmem-check (in-process)', () => {
  const lines = runDevmemChecks({ bytes: 256 * 1024, seed: 3 });
  const byName = (re: RegExp) => lines.filter((l) => re.test(l.name));

  it('runs every check the kernel selftest runs, and each passes against the model', () => {
    for (const re of [
      /header split off is refused \(EINVAL\)/,
      /no queues is refused \(EINVAL\)/,
      /hds-thresh above 0 is refused \(EINVAL\)/,
      /out of range is refused \(ERANGE\)/,
      /already bound is refused \(EEXIST\)/,
      /every descriptor carries the binding's dmabuf id/,
      /validation pattern/,
      /DONTNEED returns the count freed/,
      /no more than 1024 tokens per call/,
      /without MSG_SOCK_DEVMEM .* \(EFAULT\)/,
      /\(ETOOSMALL\)/,
      /wrong steering/,
    ]) {
      const hit = byName(re);
      expect(hit.length, re.source).toBe(1);
      expect(hit[0]!.ok, `${hit[0]!.name}: ${hit[0]!.seen}`).toBe(true);
    }
    expect(lines.filter((l) => !l.ok)).toEqual([]);
  });

  it('says what it saw: the byte counts of the receive and the errnos', () => {
    expect(byName(/validation pattern/)[0]!.seen).toBe(`${256 * 1024} bytes match`);
    expect(byName(/\(EEXIST\)/)[0]!.seen).toBe('EEXIST');
    expect(byName(/wrong steering/)[0]!.seen).toMatch(/unsteered flow: 20000 bytes in host memory; flow on another bound queue: (\d+) of \1 descriptors with a foreign id/);
    expect(byName(/stale return/)[0]!.seen).toMatch(/second return freed 1, stale returns counted 1/);
  });
});
