import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DDPLAB_BIN, PROJECT_ROOT } from '../../src/base/paths.js';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('src/base/paths', () => {
  it('finds the project root and the ddplab command', () => {
    expect(existsSync(join(PROJECT_ROOT, 'package.json'))).toBe(true);
    expect(existsSync(DDPLAB_BIN)).toBe(true);
  });

  it('no module computes a project path from three or more folders up (its bundled chunk sits in dist/cli/, two below the root)', () => {
    const offenders = sources(join(PROJECT_ROOT, 'src')).filter((f) => /new URL\('(\.\.\/){3,}/.test(readFileSync(f, 'utf8')));
    expect(offenders.map((f) => relative(PROJECT_ROOT, f))).toEqual([]);
  });
});
