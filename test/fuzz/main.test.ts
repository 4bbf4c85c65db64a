/**
 * `npm run fuzz` as a user runs it: figures on stdout, exit 0 without a
 * crash, --replay of a saved input, one-line errors.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { writeInputFile } from '../../src/fuzz/input-file.js';
import { pduSeeds } from '../../src/fuzz/emitter-seeds.js';

const MAIN = fileURLToPath(new URL('../../src/fuzz/main.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ddplab-fuzz-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fuzz(...args: string[]) {
  return execa('node', ['--import', 'tsx', MAIN, ...args], { reject: false, timeout: 60_000 });
}

describe('npm run fuzz', () => {
  it('prints inputs executed per target and in total, coverage, 0 crashes, and exits 0', async () => {
    const r = await fuzz('--inputs', '300', '--target', 'pdu,arp', '--seed', '2');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^ddplab fuzz: seed 2, 2 targets, coverage-guided, budget 300 inputs per target$/m);
    expect(r.stdout).toMatch(/^pdu +\d+ inputs \(300 mutated \+ \d+ seeds\), \d+ coverage features, corpus \d+, \d+\/s, 0 crashes$/m);
    expect(r.stdout).toMatch(/^arp +\d+ inputs \(300 mutated \+ \d+ seeds\)/m);
    expect(r.stdout).toMatch(/^total: \d+ inputs executed \(600 mutated \+ \d+ seeds\) in [\d.]+ s, 0 crashes; heap after GC/m);
  }, 60_000);

  it('replays a saved input and says it does not crash', async () => {
    const file = join(dir, 'pdu.fuzz');
    writeInputFile(file, 'pdu', [pduSeeds()[0]!, Buffer.from([0])]);
    const r = await fuzz('--replay', file);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(`pdu: ${file}: no crash (2 parts)`);
  }, 60_000);

  it('refuses a bad target, a bad duration and an unreadable input file in one line each', async () => {
    const bad = await fuzz('--target', 'nope');
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toMatch(/no target 'nope' \(targets: ethernet, [a-z0-9, ]+\)/);
    const dur = await fuzz('--time', 'soon');
    expect(dur.exitCode).toBe(1);
    expect(dur.stderr).toMatch(/'soon' is not a duration/);
    const junk = await fuzz('--replay', join(dir, 'missing.fuzz'));
    expect(junk.exitCode).toBe(1);
    expect(junk.stderr.trim().split('\n')).toHaveLength(1);
    expect(junk.stderr).toMatch(/^ddplab: .*missing\.fuzz/);
  }, 60_000);
});
