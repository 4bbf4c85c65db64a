/**
 * `ddplab run` flags of external-target mode (src/cli/cmd-run-external.ts):
 * each mistake is refused in one line before anything touches the network.
 */
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerRunCommand } from '../../src/cli/cmd-run.js';
import { UserError } from '../../src/base/errors.js';

async function runArgs(args: readonly string[]): Promise<unknown> {
  const program = new Command().exitOverride();
  registerRunCommand(program);
  try {
    await program.parseAsync(['run', ...args], { from: 'user' });
    return undefined;
  } catch (e) {
    return e;
  }
}

const BASE = ['--target', '192.0.2.1:4420', '--nqn', 'nqn.2026-11.io.ddplab:target', '--iface', 'lo', '--host-ip', '192.0.2.2/24'];

describe('ddplab run --target: flags', () => {
  it.each([
    [['--iface', 'eth0'], '--iface belongs to external-target mode: give --target ADDR:PORT too'],
    [['--verify', 'pattern:1'], '--verify belongs to external-target mode: give --target ADDR:PORT too'],
    [[...BASE, '--verify', 'none', '--order', 'random'], '--order shapes the topology or target ddplab builds; with --target neither is ours'],
    [[...BASE, '--verify', 'none', '--mtu', '9000'], '--mtu shapes the topology or target ddplab builds; with --target neither is ours'],
    [['--target', '192.0.2.1:4420', '--iface', 'lo', '--host-ip', '192.0.2.2/24', '--verify', 'none'], '--target needs --nqn (the subsystem NQN the target serves)'],
    [BASE, '--target needs --verify (what the namespace holds: pattern:SEED, file:PATH, readback or none)'],
    [[...BASE.slice(0, -1), '192.0.2.2', '--verify', 'none'], '--host-ip 192.0.2.2 has no prefix length: give A.B.C.D/LEN, e.g. 192.0.2.2/24 (it tells whether the target is on the link or behind --gateway)'],
    [[...BASE, '--verify', 'sha'], /^--verify: 'sha' is not one of pattern:SEED/],
    [['--target', '198.51.100.1:4420', ...BASE.slice(2), '--verify', 'none'], 'target 198.51.100.1 is not in 192.0.2.0/24 and no --gateway was given'],
    [[...BASE.slice(0, 5), 'ddplabnope0', ...BASE.slice(6), '--verify', 'none'], /^no interface ddplabnope0 in this network namespace/],
  ])('%j → one line', async (args, message) => {
    const e = await runArgs(args);
    expect(e).toBeInstanceOf(Error);
    expect((e as Error).message).toMatch(typeof message === 'string' ? new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) : message);
    expect((e as Error).message).not.toContain('\n');
    if (typeof message === 'string') expect(e).toBeInstanceOf(UserError);
  });
});
