/**
 * Output and input paths checked when the flags are read (src/cli/path-flags.ts):
 * each problem is one UserError naming the flag, the path and what is wrong.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkInputFile, checkOutputPath } from '../../src/cli/path-flags.js';

const dir = mkdtempSync(join(tmpdir(), 'ddplab-paths-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('checkOutputPath', () => {
  it('takes a new file in an existing writable folder, and an existing file to overwrite', () => {
    expect(() => checkOutputPath('--capture', join(dir, 'new.pcap'))).not.toThrow();
    writeFileSync(join(dir, 'old.pcap'), 'x');
    expect(() => checkOutputPath('--capture', join(dir, 'old.pcap'))).not.toThrow();
  });

  it('refuses a folder that does not exist, a path under a file, and a folder given as the file', () => {
    expect(() => checkOutputPath('--capture', join(dir, 'nope', 'x.pcap'))).toThrow(`--capture ${join(dir, 'nope', 'x.pcap')}: the folder ${join(dir, 'nope')} does not exist`);
    writeFileSync(join(dir, 'file'), 'x');
    expect(() => checkOutputPath('--hash-reads', join(dir, 'file', 'h.json'))).toThrow(`: ${join(dir, 'file')} is not a folder`);
    mkdirSync(join(dir, 'sub'));
    expect(() => checkOutputPath('--capture', join(dir, 'sub'))).toThrow('is a folder; give a file name');
  });

  it.runIf(process.getuid?.() !== 0)('refuses a folder it cannot write', () => {
    const ro = join(dir, 'ro');
    mkdirSync(ro);
    chmodSync(ro, 0o555);
    expect(() => checkOutputPath('--capture', join(ro, 'x.pcap'))).toThrow('is not writable');
  });

  it('says BAD_PATH', () => {
    expect(() => checkOutputPath('--capture', join(dir, 'nope', 'x'))).toThrow(expect.objectContaining({ code: 'BAD_PATH' }));
  });
});

describe('checkInputFile', () => {
  it('takes a readable file, refuses a missing one and a folder', () => {
    writeFileSync(join(dir, 'image'), 'x');
    expect(() => checkInputFile('--verify', join(dir, 'image'))).not.toThrow();
    expect(() => checkInputFile('--verify', join(dir, 'missing'))).toThrow(`--verify: ${join(dir, 'missing')} does not exist`);
    expect(() => checkInputFile('--verify', dir)).toThrow(`--verify: ${dir} is not a file`);
  });
});
