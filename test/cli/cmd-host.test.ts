/**
 * `ddplab host --host-ip A[/LEN] [--gateway G]`: plain A keeps every peer on
 * the link (the topology's case); A/LEN decides whether the target is on the
 * link or behind the gateway, and a missing route is one line up front.
 */
import { describe, expect, it } from 'vitest';
import { hostAddressFromFlags } from '../../src/cli/cmd-host.js';
import { UserError } from '../../src/base/errors.js';

function refusal(f: () => unknown): UserError {
  try {
    f();
  } catch (e) {
    if (e instanceof UserError) return e;
    throw e;
  }
  throw new Error('expected a UserError');
}

describe('ddplab host --host-ip / --gateway', () => {
  it('takes a bare address as before: no prefix, no gateway', () => {
    expect(hostAddressFromFlags({ hostIp: '192.0.2.2' }, '198.51.100.1')).toEqual({ ip: '192.0.2.2' });
  });

  it('takes A/LEN with the target on the subnet, or off it through a gateway on the subnet', () => {
    expect(hostAddressFromFlags({ hostIp: '192.0.2.2/24' }, '192.0.2.1')).toEqual({ ip: '192.0.2.2', prefixLen: 24 });
    expect(hostAddressFromFlags({ hostIp: '192.0.2.2/25', gateway: '192.0.2.126' }, '192.0.2.200')).toEqual({ ip: '192.0.2.2', prefixLen: 25 });
  });

  it('refuses in one line: no route, a gateway off the subnet, a gateway without /LEN, a bad prefix', () => {
    const cases: [() => unknown, string][] = [
      [() => hostAddressFromFlags({ hostIp: '192.0.2.2/25' }, '192.0.2.200'), 'target 192.0.2.200 is not in 192.0.2.0/25 and no --gateway was given'],
      [() => hostAddressFromFlags({ hostIp: '192.0.2.2/25', gateway: '192.0.2.129' }, '192.0.2.200'), '--gateway 192.0.2.129 is not in 192.0.2.0/25, the subnet of --host-ip'],
      [() => hostAddressFromFlags({ hostIp: '192.0.2.2', gateway: '192.0.2.1' }, '198.51.100.1'), '--gateway needs --host-ip A/LEN (the subnet decides what is reached through it)'],
      [() => hostAddressFromFlags({ hostIp: '192.0.2.2/33' }, '192.0.2.1'), '--host-ip 192.0.2.2/33: prefix length 33 is not in 0..32'],
    ];
    for (const [f, line] of cases) {
      const e = refusal(f);
      expect(e.message).toBe(line);
      expect(e.message).not.toContain('\n');
    }
  });
});
