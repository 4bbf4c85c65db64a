/**
 * Shared by the live tests that drive `ddplab run` as a user would: the CLI
 * path, run ids that are removed after the file (and checked gone: those
 * ids only), and a run whose --json report is parsed.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { newTopologyId } from '../../../src/lab/topology.js';
import { afterAll, expect } from 'vitest';
import type { RunReport } from '../../../src/lab/run.js';

export const BIN = fileURLToPath(new URL('../../../bin/ddplab.js', import.meta.url));

export function ddplabNamespaces(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.startsWith('ddplab-'));
}

/** Those of `ids`' namespaces (`ddplab-<id>-tgt`, `ddplab-<id>-host`) that exist now. */
export function namespacesOf(ids: readonly string[]): string[] {
  return ddplabNamespaces().filter((n) => ids.some((id) => n === `ddplab-${id}-tgt` || n === `ddplab-${id}-host`));
}

/**
 * Run ids for one test file, each `prefix + tag` and random characters up to
 * the 8 an id may have (at least 3: two suites running at once must not pick
 * the same id, as a pid-derived suffix could). After the file every
 * id is brought down and none of its namespaces may remain. Only these ids
 * are checked: other runs on the machine may come and go meanwhile, so every
 * run a test starts must be given one of them (`--id`).
 */
export function liveRunIds(prefix: string): (tag: string) => string {
  const ids: string[] = [];
  afterAll(async () => {
    for (const id of ids) await execa(process.execPath, [BIN, 'down', '--id', id], { reject: false });
    expect(namespacesOf(ids)).toEqual([]);
  });
  return (tag) => {
    const stem = `${prefix}${tag}`;
    if (stem.length > 5) throw new Error(`run id stem "${stem}" leaves fewer than 3 random characters`);
    const id = `${stem}${newTopologyId()}`.slice(0, 8);
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
