/**
 * Shared by the Linux peer live tests (test/peer/): whether the harness can
 * run here (one line when not), ddplab commands run inside a lab's leg
 * namespace, and the check that a closed lab left nothing behind — its own
 * namespaces and qemu processes only, since other runs may share the machine.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { expect } from 'vitest';
import { peerUnavailable, type PeerLab } from '../../../src/peer/lab.js';

export const BIN = fileURLToPath(new URL('../../../bin/ddplab.js', import.meta.url));

/** Why the peer tests cannot run on this machine (one line), or undefined. */
export const PEER_SKIP: string | undefined = peerUnavailable();
if (PEER_SKIP !== undefined) process.stderr.write(`${PEER_SKIP}\n`);

export interface CliResult {
  readonly exitCode: number | undefined;
  readonly stdout: string;
  readonly stderr: string;
}

/** `ddplab ARGS` inside namespace `ns`. */
export async function ddplabIn(ns: string, args: readonly string[], timeoutMs = 120_000): Promise<CliResult> {
  const r = await execa('ip', ['netns', 'exec', ns, process.execPath, BIN, ...args], { reject: false, timeout: timeoutMs });
  return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}

/** The --json report line of a `ddplab run`. */
export function jsonReport<T>(r: CliResult): T {
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  if (line === undefined) throw new Error(`no JSON report (exit ${String(r.exitCode)}): ${r.stderr.slice(-600)}`);
  return JSON.parse(line) as T;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Closes the lab and checks that none of its namespaces and none of its qemu processes remain. */
export async function closeAndCheck(lab: PeerLab | undefined, qemuPids: readonly number[]): Promise<void> {
  if (lab === undefined) return;
  await lab.close();
  const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(`ddplab-${lab.id}-`));
  expect(left).toEqual([]);
  expect(qemuPids.filter(alive)).toEqual([]);
}
