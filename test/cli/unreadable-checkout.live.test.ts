/**
 * ddplab's non-root messages from a checkout that sits, like one in /root or
 * in a `mktemp -d` directory, inside a directory only root may enter. The
 * non-root tests bind-mount the checkout where nobody can reach it
 * (test/support/unprivileged.ts), so they pass wherever the suite runs; this
 * file makes such a place on purpose and runs them from there. It also
 * checks ddplab's own line for a user who reaches bin/ but cannot read the
 * rest of its files.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runUnprivileged } from '../support/unprivileged.js';

const isRoot = process.getuid?.() === 0;
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Copies what running ddplab needs; node_modules as hard links when the file system allows. */
function copyCheckout(dest: string): void {
  for (const name of ['bin', 'src', 'package.json', 'tsconfig.json']) {
    cpSync(join(REPO_ROOT, name), join(dest, name), { recursive: true });
  }
  const linked = spawnSync('cp', ['-al', join(REPO_ROOT, 'node_modules'), join(dest, 'node_modules')]);
  if (linked.status !== 0) cpSync(join(REPO_ROOT, 'node_modules'), join(dest, 'node_modules'), { recursive: true });
}

describe.runIf(isRoot)('a checkout inside a 0700 directory', () => {
  let outer = '';
  let checkout = '';

  beforeAll(() => {
    outer = mkdtempSync(join(tmpdir(), 'ddplab-home-'));
    chmodSync(outer, 0o700);
    checkout = join(outer, 'ddplab');
    copyCheckout(checkout);
  });
  afterAll(() => {
    if (outer) rmSync(outer, { recursive: true, force: true });
  });

  it('is out of reach for nobody when run straight from there (what the bind mount avoids)', () => {
    expect(statSync(outer).mode & 0o777).toBe(0o700);
    const r = runUnprivileged({ checkout, direct: true, argv: (root) => [process.execPath, join(root, 'bin/ddplab.js'), 'up'] });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Cannot find module|EACCES/); // node's own words: nothing of ddplab ran
  });

  it('the CLI tells a non-root user to run as root', () => {
    const r = runUnprivileged({ checkout, argv: (root) => [process.execPath, join(root, 'bin/ddplab.js'), 'up'] });
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^ddplab: ddplab up needs root .*run it as root, e\.g\. sudo /);
    expect(r.status).toBe(1);
  });

  it('capturing tells a non-root user to run as root', () => {
    const code =
      "import('./src/nicemu/port/live.ts').then((m)=>{try{m.openLivePort({iface:'lo'});console.log('opened')}catch(e){console.log(e.code+': '+e.message)}})";
    const r = runUnprivileged({ checkout, argv: () => [process.execPath, '--import', 'tsx', '-e', code] });
    expect(r.stdout.trim()).toBe('PERMISSION: capturing on lo needs root (CAP_NET_RAW): run as root, e.g. with sudo');
  });

  it('a user who reaches bin/ but cannot read the sources gets one line, not a loader stack', () => {
    const src = join(checkout, 'src');
    chmodSync(src, 0o700);
    try {
      const r = runUnprivileged({ checkout, argv: (root) => [process.execPath, join(root, 'bin/ddplab.js'), 'up'] });
      expect(r.status).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^ddplab: user 65534 cannot read ddplab's own files in .* \(src\/cli\/main\.ts: permission denied\): run ddplab as root/);
    } finally {
      chmodSync(src, 0o755);
    }
  });
});
