import { describe, expect, it } from 'vitest';
import { requireInterface, requireLibpcap, requireNetAdmin, requireNetRaw } from '../../src/lab/privileges.js';

describe('preflight checks', () => {
  it('names a missing interface, with the hint, in one line', () => {
    expect(() => requireInterface('nosuch0', 'run inside ddplab-x-host')).toThrow(
      expect.objectContaining({ code: 'IFACE_MISSING', message: 'no interface nosuch0 in this network namespace: run inside ddplab-x-host' }),
    );
    expect(() => requireInterface('lo')).not.toThrow();
  });

  it('refuses a name no interface can have', () => {
    expect(() => requireInterface('a/b')).toThrow(expect.objectContaining({ code: 'BAD_INTERFACE' }));
    expect(() => requireInterface('x'.repeat(16))).toThrow(expect.objectContaining({ code: 'BAD_INTERFACE' }));
  });

  it('loads libpcap and reports its version', () => {
    expect(requireLibpcap()).toMatch(/^libpcap version \d+\.\d+/);
  });

  it.runIf(process.getuid?.() === 0)('lets root through', () => {
    expect(() => requireNetAdmin('ddplab up')).not.toThrow();
    expect(() => requireNetRaw('ddplab host')).not.toThrow();
  });
});
