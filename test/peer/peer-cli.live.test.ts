/**
 * `ddplab peer` as a user runs it: linux-host end to end (exit 0, reads
 * equal to the pattern, writes read back), linux-target until SIGTERM with a
 * `ddplab run --target` against it meanwhile, then nothing of either left
 * (namespaces, qemu, owner record); bad flags in one line.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { peerNamespaces } from '../../src/peer/net.js';
import { BIN, PEER_SKIP } from '../support/peer/peer-rig.js';

const ID = `c${process.pid % 100000}`;

function leftovers(id: string): { namespaces: string[]; owner: boolean } {
  return { namespaces: peerNamespaces().filter((n) => n.startsWith(`ddplab-${id}-`)), owner: existsSync(`/run/ddplab-peer/${id}.json`) };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(PEER_SKIP !== undefined)('ddplab peer', () => {
  it('linux-host: random-order reads equal the pattern, writes read back, exit 0, nothing left', async () => {
    const r = await execa(process.execPath, [BIN, 'peer', 'linux-host', '--id', `${ID}h`, '--reads', '8', '--bs', '64k', '--writes', '--seed', '9', '--target-args', '--order random --interleave --c2h-size 32k'], {
      reject: false,
      timeout: 180_000,
    });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/reads +8 x 65536 B in random order on 2 I\/O queues: 8 equal the pattern, 0 differ/);
    expect(r.stdout).toMatch(/writes .*: 2 read back equal, 0 differ/);
    expect(leftovers(`${ID}h`)).toEqual({ namespaces: [], owner: false });
  }, 200_000);

  it('linux-target: serves ddplab run --target until SIGTERM, then removes its VM and namespaces', async () => {
    const id = `${ID}t`;
    const child = spawn(process.execPath, [BIN, 'peer', 'linux-target', '--id', id, '--size', '16m', '--seed', '4'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no 'Ctrl-C' line within 120 s: ${out}`)), 120_000);
        child.stdout.on('data', () => {
          if (out.includes('Ctrl-C')) {
            clearTimeout(t);
            resolve();
          }
        });
        void exited.then((c) => reject(new Error(`ended early (${String(c)}): ${out}`)));
      });
      const tryLine = /try: ip netns exec (\S+) ddplab (run .*)$/m.exec(out);
      expect(tryLine, out).not.toBeNull();
      const qemu = /qemu (\d+)/.exec((await execa(process.execPath, [BIN, 'peer', 'status'])).stdout.split('\n').find((l) => l.startsWith(id)) ?? '');
      expect(qemu).not.toBeNull();
      const run = await execa('ip', ['netns', 'exec', tryLine![1]!, process.execPath, BIN, ...tryLine![2]!.split(' '), '--size', '4m', '--json'], { reject: false, timeout: 120_000 });
      const report = JSON.parse(run.stdout.split('\n').find((l) => l.startsWith('{')) ?? '{}') as { ok?: boolean; verify?: { mismatches: number; bytes: number } };
      expect(report.ok, run.stderr).toBe(true);
      expect(report.verify).toEqual({ bytes: 4 << 20, mismatches: 0 });
      child.kill('SIGTERM');
      expect(await exited).toBe(143);
      // SIGKILLed by the exiting CLI: gone once init has reaped it.
      const deadline = Date.now() + 5000;
      while (alive(Number(qemu![1])) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(alive(Number(qemu![1]))).toBe(false);
      expect(leftovers(id)).toEqual({ namespaces: [], owner: false });
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await execa(process.execPath, [BIN, 'peer', 'down', '--id', id, '--force'], { reject: false });
    }
  }, 240_000);

  it.each([
    [['linux-host', '--digest', 'crc'], /^ddplab: --digest: 'crc' is not one of none, header, data, both$/],
    [['linux-host', '--queues', '9'], /^ddplab: --queues: 9: use 1 to 4/],
    [['linux-target', '--size', '3k'], /^ddplab: --size: 3k: use whole MiB from 1m to 1g/],
    [['linux-target', '--id', 'Bad_Id'], /^ddplab: .*peer id Bad_Id: use 1-8 of a-z 0-9/],
  ])('%j → one line, exit 1', async (args, msg) => {
    const r = await execa(process.execPath, [BIN, 'peer', ...args], { reject: false, timeout: 60_000 });
    expect(r.exitCode).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr.trim()).toMatch(msg);
  });
});
