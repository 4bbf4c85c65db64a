import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { readInputFile } from '../../src/fuzz/input-file.js';

const dir = mkdtempSync(join(tmpdir(), 'ddplab-watchdog-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Watchdog', () => {
  it('kills a process stuck in one input, says where, and saves the input', async () => {
    const child = fileURLToPath(new URL('../support/fuzz/watchdog-child.ts', import.meta.url));
    const r = await execa('node', ['--import', 'tsx', child, dir], { reject: false, timeout: 30_000 });
    expect(r.signal).toBe('SIGKILL');
    expect(r.timedOut).toBe(false);
    expect(r.stderr).toMatch(/HANG: no progress for \d+ s at seed 7 iteration 1234/);
    const files = readdirSync(dir);
    expect(files).toEqual(['hang-seed7-iter1234.fuzz']);
    const saved = readInputFile(join(dir, files[0]!));
    expect(saved.target).toBe('framer');
    expect(saved.input.map((b) => b.toString('hex'))).toEqual([Buffer.from('stuck here').toString('hex'), '010203']);
  }, 40_000);
});
