/**
 * `ddplab bench` refuses what would make every run of its grid fail, before
 * it builds anything or writes its output folder: one line on stderr,
 * exit 1, no namespace of its id and no output folder.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { newTopologyId } from '../../src/lab/topology.js';
import { namespacesOf } from '../support/lab/live-run-rig.js';

const BIN = fileURLToPath(new URL('../../bin/ddplab.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ddplab-bench-preflight-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ddplab bench refuses before building', () => {
  const cases: [string, string[], RegExp][] = [
    ['a block larger than the size', ['--bs', '4k,1m', '--size', '64k'], /^ddplab: --bs 1m is larger than --size 64k: /],
    ['a block larger than the smallest auto size', ['--bs', '1m', '--size', 'auto', '--min-size', '512k'], /^ddplab: --bs 1m is larger than --min-size 512k: /],
    ['a --c2h-size that is not a byte count', ['--c2h-size', 'foo'], /^ddplab: --c2h-size: 'foo' is not a byte count /],
    ['a loss rate that is not a probability', ['--drop', '0,2'], /^ddplab: --drop: '2' is not a probability /],
  ];
  for (const [what, args, line] of cases) {
    it(`${what}: one line, exit 1, no namespace, no output folder`, async () => {
      const id = newTopologyId();
      const out = join(dir, id);
      const r = await execa(process.execPath, [BIN, 'bench', '--id', id, '--out', out, ...args], { reject: false });
      expect(r.exitCode).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr.trim()).toMatch(line);
      expect(existsSync(out)).toBe(false);
      expect(namespacesOf([id])).toEqual([]);
    });
  }
});
