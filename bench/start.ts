/**
 * Start-up figures of the `ddplab` command (npm run bench:start): how long
 * `ddplab --help`, `ddplab run --help` and the refusals that come before
 * anything is built take, wall clock and CPU (user + system), each the mean
 * and median of N runs. It prints figures and asserts nothing about time;
 * it exits non-zero only when a command does not end the way it should
 * (help: exit 0; a refusal: exit 1, one line on stderr, no namespace of its
 * run id).
 *
 *   npm run bench:start -- [--runs 10] [--source]
 *
 * bin/ddplab.js runs dist/ when it is fresh: the build runs first (it does
 * nothing when dist/ is up to date). --source measures the TypeScript
 * fallback instead (DDPLAB_FROM_SOURCE=1). The load average is printed
 * with the figures: on a busy machine every figure grows.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { newTopologyId } from '../src/lab/topology.js';

const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
const BIN = fileURLToPath(new URL('../bin/ddplab.js', import.meta.url));

function flagValue(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const runs = Number(flagValue('--runs', '10'));
const fromSource = process.argv.includes('--source');
if (!Number.isInteger(runs) || runs < 1) {
  process.stderr.write('bench:start: --runs needs a positive integer\n');
  process.exit(1);
}

/** CPU time of this process's ended (waited-for) children, ms: cutime + cstime in /proc/self/stat. */
function childrenCpuMs(): { user: number; sys: number } {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the command name start at field 3 (state); cutime is field 16, cstime 17.
  const tick = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  return { user: Number(fields[16 - 3]) * tick, sys: Number(fields[17 - 3]) * tick };
}

function namespacesOf(id: string): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.startsWith(`ddplab-${id}-`));
}

interface Case {
  readonly name: string;
  readonly args: (id: string) => string[];
  /** 0: help; 1: a one-line refusal. */
  readonly exit: 0 | 1;
}

const CASES: readonly Case[] = [
  { name: 'node -e 0 (node alone)', args: () => [], exit: 0 },
  { name: 'ddplab --help', args: () => ['--help'], exit: 0 },
  { name: 'ddplab run --help', args: () => ['run', '--help'], exit: 0 },
  { name: 'ddplab host --help', args: () => ['host', '--help'], exit: 0 },
  { name: 'ddplab run --bs 1m --size 64k', args: (id) => ['run', '--id', id, '--bs', '1m', '--size', '64k'], exit: 1 },
  { name: 'ddplab run --capture /nonexistent/x.pcap', args: (id) => ['run', '--id', id, '--capture', '/nonexistent-ddplab/x.pcap'], exit: 1 },
  {
    name: 'ddplab run --target ... --verify file:/nonexistent',
    args: () => ['run', '--target', '192.0.2.1:4420', '--nqn', 'nqn.x', '--iface', 'lo', '--host-ip', '192.0.2.2/24', '--verify', 'file:/nonexistent-ddplab/image'],
    exit: 1,
  },
];

function stats(xs: readonly number[]): { mean: number; median: number } {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return { mean: xs.reduce((a, b) => a + b, 0) / xs.length, median: s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2 };
}

if (!fromSource) {
  const b = spawnSync(process.execPath, [fileURLToPath(new URL('../scripts/build.mjs', import.meta.url))], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (b.status !== 0) {
    process.stderr.write(`bench:start: the build failed:\n${b.stderr}`);
    process.exit(1);
  }
  if (b.stdout.trim() !== '') process.stdout.write(b.stdout);
}
const env = { ...process.env, ...(fromSource ? { DDPLAB_FROM_SOURCE: '1' } : {}) };
const load0 = loadavg();
process.stdout.write(
  `ddplab start-up, ${runs} runs each, ${fromSource ? 'from the TypeScript sources (DDPLAB_FROM_SOURCE=1)' : 'from dist/'}; ` +
    `load average ${load0.map((l) => l.toFixed(2)).join(' ')}\n\n`,
);
process.stdout.write(`${'command'.padEnd(52)} ${'wall mean'.padStart(10)} ${'median'.padStart(8)} ${'user'.padStart(8)} ${'sys'.padStart(8)}\n`);
let failed = false;
for (const c of CASES) {
  const wall: number[] = [];
  const user: number[] = [];
  const sys: number[] = [];
  for (let i = 0; i < runs; i++) {
    const id = newTopologyId();
    const argv = c.name.startsWith('node -e') ? ['-e', '0'] : [BIN, ...c.args(id)];
    const cpu0 = childrenCpuMs();
    const t0 = performance.now();
    const r = spawnSync(process.execPath, argv, { cwd: REPO_ROOT, encoding: 'utf8', env });
    wall.push(performance.now() - t0);
    const cpu1 = childrenCpuMs();
    user.push(cpu1.user - cpu0.user);
    sys.push(cpu1.sys - cpu0.sys);
    const lines = r.stderr.trim() === '' ? [] : r.stderr.trim().split('\n');
    const bad =
      r.status !== c.exit ? `exit ${r.status}, expected ${c.exit}` : c.exit === 1 && lines.length !== 1 ? `${lines.length} lines on stderr` : c.exit === 1 && namespacesOf(id).length > 0 ? 'a namespace was made' : undefined;
    if (bad !== undefined) {
      failed = true;
      process.stdout.write(`  ${c.name}: ${bad}: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}\n`);
      break;
    }
  }
  const w = stats(wall);
  const ms = (x: number): string => `${x.toFixed(0)} ms`;
  process.stdout.write(`${c.name.padEnd(52)} ${ms(w.mean).padStart(10)} ${ms(w.median).padStart(8)} ${ms(stats(user).mean).padStart(8)} ${ms(stats(sys).mean).padStart(8)}\n`);
}
const load1 = loadavg();
process.stdout.write(`\nload average after: ${load1.map((l) => l.toFixed(2)).join(' ')} (user and sys: mean CPU time of one run, 10 ms clock ticks)\n`);
process.exit(failed ? 1 : 0);
