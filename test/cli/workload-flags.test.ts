/**
 * The host's timeout flags (--connect-timeout, --io-timeout): seconds in,
 * milliseconds out, one-line refusals, and the same values handed on to
 * `ddplab host` by `ddplab run`.
 */
import { describe, expect, it } from 'vitest';
import { parseTimeoutSeconds, timeoutsFromFlags } from '../../src/cli/workload-flags.js';
import { timeoutArgs } from '../../src/lab/host-argv.js';

describe('timeout flags', () => {
  it('take seconds, fractions too, and give milliseconds', () => {
    expect(timeoutsFromFlags({ connectTimeout: '10', ioTimeout: '2.5' })).toEqual({ connectTimeoutMs: 10_000, ioTimeoutMs: 2500 });
    expect(parseTimeoutSeconds('io-timeout', '0.25')).toBe(250);
  });

  it('refuse what is not a duration in (0, 3600] in one line naming the flag', () => {
    for (const bad of ['0', '-1', 'soon', '', '3601', 'Infinity']) {
      expect(() => parseTimeoutSeconds('connect-timeout', bad)).toThrow(`--connect-timeout: '${bad}' is not a number of seconds in (0, 3600]`);
    }
  });

  it('hand the same values on as ddplab host arguments', () => {
    const t = timeoutsFromFlags({ connectTimeout: '2.5', ioTimeout: '30' });
    expect(timeoutArgs(t)).toEqual(['--connect-timeout', '2.5', '--io-timeout', '30']);
    expect(timeoutsFromFlags({ connectTimeout: timeoutArgs(t)[1]!, ioTimeout: timeoutArgs(t)[3]! })).toEqual(t);
    expect(timeoutArgs(undefined)).toEqual([]);
  });
});
