/**
 * Shared by the live tests that drive `ddplab run` as a user would: the CLI
 * path, run ids that are removed after the file (and checked gone), and a
 * run whose --json report is parsed.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, expect } from 'vitest';
import type { RunReport } from '../../../src/lab/run.js';

export const BIN = fileURLToPath(new URL('../../../bin/ddplab.js', import.meta.url));

export function ddplabNamespaces(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.startsWith('ddplab-'));
}

/**
 * Run ids for one test file, each `prefix + tag + pid`. After the file every
 * id is brought down and none of its namespaces may remain; with
 * `noNewNamespaces`, no ddplab namespace at all may have appeared since.
 */
export function liveRunIds(prefix: string, opts: { noNewNamespaces?: boolean } = {}): (tag: string) => string {
  const before = ddplabNamespaces();
  const ids: string[] = [];
  afterAll(async () => {
    for (const id of ids) await execa(process.execPath, [BIN, 'down', '--id', id], { reject: false });
    const now = ddplabNamespaces();
    expect(now.filter((n) => ids.some((id) => n.startsWith(`ddplab-${id}-`)))).toEqual([]);
    if (opts.noNewNamespaces === true) expect(now.filter((n) => !before.includes(n))).toEqual([]);
  });
  return (tag) => {
    const id = `${prefix}${tag}${process.pid % 1000}`;
    ids.push(id);
    return id;
  };
}

/** `ddplab run --json ARGS`: the parsed report, or an error carrying the end of stderr. */
export async function runJson(args: readonly string[]): Promise<RunReport> {
  const r = await execa(process.execPath, [BIN, 'run', '--json', ...args], { reject: false, timeout: 240_000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  if (line === undefined) throw new Error(`no JSON report (exit ${r.exitCode}): ${r.stderr.slice(-400)}`);
  return JSON.parse(line) as RunReport;
}
