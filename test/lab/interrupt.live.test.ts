/**
 * Ctrl-C during `ddplab run`: the run stops (no new I/O), the host reports
 * what it did, the target stops, the report is printed marked interrupted,
 * every namespace and process of the run goes, and the exit code is the
 * signal's (130 SIGINT, 143 SIGTERM). A second signal during that wind-down
 * cleans up and quits at once, without a report. Only this file's run ids
 * and the processes found in their namespaces are checked.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import type { RunReport } from '../../src/lab/run.js';
import { netnsScript } from '../../src/lab/topology.js';
import { BIN, liveRunIds, namespacesOf } from '../support/lab/live-run-rig.js';

const runId = liveRunIds('sig');
const EXEC = netnsScript('exec.sh');

interface Started {
  readonly child: ChildProcess;
  readonly stdout: string[];
  readonly stderr: string[];
  /** Resolves at the first progress line (I/O is flowing), with the pids inside the run's namespaces then. */
  readonly flowing: Promise<number[]>;
  readonly exited: Promise<number | null>;
}

function pidsIn(id: string): number[] {
  const pids: number[] = [];
  for (const side of ['tgt', 'host']) {
    try {
      const out = execFileSync('ip', ['netns', 'pids', `ddplab-${id}-${side}`], { encoding: 'utf8' });
      pids.push(...out.split('\n').filter((l) => l.trim() !== '').map(Number));
    } catch {
      // not there (yet, or any more)
    }
  }
  return pids;
}

/** Still running: exists and is not a zombie (an ended child waits a moment for its new parent to reap it). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** A long run (4 GiB of 128 KiB reads: minutes on this machine) that the test interrupts. */
function startRun(id: string, extra: readonly string[]): Started {
  const child = spawn(process.execPath, [BIN, 'run', '--id', id, '--rw', 'read', '--bs', '128k', '--iodepth', '8', '--size', '4g', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => stdout.push(l));
  const flowing = new Promise<number[]>((resolve, reject) => {
    createInterface({ input: child.stderr! }).on('line', (l) => {
      stderr.push(l);
      if (l.startsWith('progress')) resolve(pidsIn(id));
    });
    child.on('close', () => reject(new Error(`run ended before any progress: ${stderr.slice(-5).join(' | ')}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, stdout, stderr, flowing, exited };
}

describe('ddplab run interrupted', () => {
  it('SIGINT: the partial report as JSON, interrupted, bytes verified, exit 130, nothing left', async () => {
    const id = runId('i');
    const r = startRun(id, ['--json']);
    const pids = await r.flowing;
    expect(pids.length).toBeGreaterThanOrEqual(2); // the target and the host
    await new Promise((res) => setTimeout(res, 1000));
    r.child.kill('SIGINT');
    expect(await r.exited).toBe(130);
    const report = JSON.parse(r.stdout.find((l) => l.startsWith('{'))!) as RunReport;
    expect(report.interrupted).toBe(true);
    expect(report.ok).toBe(false);
    expect(report.verify.bytes).toBeGreaterThan(0);
    expect(report.verify.bytes).toBeLessThan(4 * 2 ** 30);
    expect(report.verify.mismatches).toBe(0);
    expect(report.workload?.stoppedBy).toBe('aborted');
    expect(report.nic.rx_packets).toBeGreaterThan(0);
    expect(report.target).toBeDefined(); // the target was stopped and reported
    expect(namespacesOf([id])).toEqual([]);
    expect(pids.filter(alive)).toEqual([]);
  }, 240_000);

  it('SIGTERM: the human report says INTERRUPTED, exit 143, nothing left', async () => {
    const id = runId('t');
    const r = startRun(id, []);
    const pids = await r.flowing;
    r.child.kill('SIGTERM');
    expect(await r.exited).toBe(143);
    const result = r.stdout.find((l) => l.trimStart().startsWith('result'));
    expect(result).toMatch(/^ {2}result {3}INTERRUPTED after \d+\.\d\d s: \d+ I\/Os, .* verified, 0 mismatches/);
    expect(r.stdout.join('\n')).not.toMatch(/\b(PASS|FAIL)\b/);
    expect(namespacesOf([id])).toEqual([]);
    expect(pids.filter(alive)).toEqual([]);
  }, 240_000);

  it('a second SIGINT during the wind-down: no report, exit 130 at once, nothing left', async () => {
    const id = runId('d');
    const r = startRun(id, ['--json']);
    const pids = await r.flowing;
    r.child.kill('SIGINT');
    await new Promise((res) => setTimeout(res, 50));
    r.child.kill('SIGINT');
    expect(await r.exited).toBe(130);
    expect(r.stdout.filter((l) => l.startsWith('{'))).toEqual([]);
    expect(r.stderr.some((l) => /SIGINT again: cleaning up and quitting without a report/.test(l))).toBe(true);
    expect(namespacesOf([id])).toEqual([]);
    // The host and target die with their namespaces (netns/down.sh).
    expect(pids.filter(alive)).toEqual([]);
  }, 240_000);

  it('run --target (the host in this process, a target ddplab did not start): SIGINT gives the partial report, exit 130', async () => {
    const id = runId('x');
    const seed = 77;
    await execa(process.execPath, [BIN, 'up', '--id', id]);
    const target = execa(EXEC, [id, 'tgt', '--', process.execPath, BIN, 'target', '--listen', '192.0.2.1:4420', '--seed', String(seed), '--quiet'], { reject: false });
    try {
      // The target is up when it answers on its port (ARP and SYN from the host's side would be the run's own first steps).
      for (let i = 0; i < 100; i++) {
        const r = await execa('ip', ['netns', 'exec', `ddplab-${id}-tgt`, 'ss', '-Hltn', 'sport = :4420'], { reject: false });
        if (r.stdout.trim() !== '') break;
        await new Promise((res) => setTimeout(res, 100));
      }
      const child = spawn(
        EXEC,
        [id, 'host', '--', process.execPath, BIN, 'run', '--target', '192.0.2.1:4420', '--nqn', 'nqn.2026-11.io.ddplab:target', '--iface', 'host0',
          '--host-ip', '192.0.2.2/24', '--verify', `pattern:${seed}`, '--rw', 'read', '--bs', '128k', '--iodepth', '8', '--size', '4g', '--json'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const stdout: string[] = [];
      createInterface({ input: child.stdout! }).on('line', (l) => stdout.push(l));
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      await new Promise<void>((resolve, reject) => {
        createInterface({ input: child.stderr! }).on('line', (l) => {
          if (l.startsWith('progress')) resolve();
        });
        child.on('close', () => reject(new Error('run --target ended before any progress')));
      });
      child.kill('SIGINT');
      expect(await exited).toBe(130);
      const report = JSON.parse(stdout.find((l) => l.startsWith('{'))!) as RunReport & { external: { verify: string } };
      expect(report.interrupted).toBe(true);
      expect(report.external.verify).toBe(`pattern:${seed}`);
      expect(report.verify.bytes).toBeGreaterThan(0);
      expect(report.verify.mismatches).toBe(0);
      expect(report.workload?.stoppedBy).toBe('aborted');
    } finally {
      target.kill('SIGTERM');
      await target;
      await execa(process.execPath, [BIN, 'down', '--id', id], { reject: false });
    }
    expect(namespacesOf([id])).toEqual([]);
  }, 240_000);
});
