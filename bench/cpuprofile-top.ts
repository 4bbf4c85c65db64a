/**
 * Summarise V8 CPU profiles (`node --cpu-prof`): self time per function and
 * per source file, the biggest first. Self time is the time the sampler
 * found that function on top of the stack; (idle) is time spent waiting, so
 * "busy" excludes it. Prints figures only.
 *
 *   npx tsx bench/cpuprofile-top.ts [--top 25] [--by function|file|both|inclusive] [--weight samples|time] PROFILE.cpuprofile...
 *
 * `--weight samples` (the default) counts samples: V8 samples on a timer,
 * and on a loaded machine the gap before a sample (its time weight) also
 * holds the time the thread was not running, so a few samples taken after
 * long waits would weigh tens of milliseconds each. `--weight time` sums
 * those gaps instead (wall time, right on a quiet machine).
 *
 * `--by inclusive` gives, per source file, the time it was anywhere on the
 * stack (its own code and everything it called, Buffer copies and
 * allocations included): a profile of the sources (tsx) names src/ files, a
 * profile of the dist/ bundle names chunks, so profile the sources for this.
 * Several files (the main thread's and a worker's, or several runs) are summed.
 * docs/run-and-host.md ("bench:e2e") shows how the host process is profiled.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    top: { type: 'string', default: '25' },
    by: { type: 'string', default: 'both' },
    weight: { type: 'string', default: 'samples' },
  },
});
if (positionals.length === 0) {
  process.stderr.write('usage: tsx bench/cpuprofile-top.ts [--top N] [--by function|file|both] FILE.cpuprofile...\n');
  process.exit(2);
}
if (values.weight !== 'samples' && values.weight !== 'time') {
  process.stderr.write(`cpuprofile-top: --weight must be samples or time, not '${values.weight}'\n`);
  process.exit(2);
}
const bySamples = values.weight === 'samples';
const top = Number(values.top);
if (!Number.isInteger(top) || top < 1) {
  process.stderr.write(`cpuprofile-top: --top must be a positive integer, not '${values.top}'\n`);
  process.exit(2);
}

/** Shorten a script URL to the part a reader recognises (src/…, node:…, a package name). */
function shortFile(url: string): string {
  if (url === '') return '(native)';
  const src = url.indexOf('/src/');
  if (src >= 0 && !url.includes('/node_modules/')) return url.slice(src + 1);
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + '/node_modules/'.length);
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return url.slice(dist + 1);
  return url.startsWith('node:') ? url : basename(url);
}

const byFn = new Map<string, number>();
const byFile = new Map<string, number>();
const inclusive = new Map<string, number>();
let totalUs = 0;
let idleUs = 0;
for (const file of positionals) {
  let p: CpuProfile;
  try {
    p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    if (!Array.isArray(p.nodes) || !Array.isArray(p.samples) || !Array.isArray(p.timeDeltas)) throw new Error('no nodes, samples and timeDeltas');
  } catch (e) {
    process.stderr.write(`cpuprofile-top: ${file}: not a readable V8 CPU profile (${e instanceof Error ? e.message : String(e)})\n`);
    process.exit(2);
  }
  const nodeById = new Map<number, ProfileNode>();
  const parentOf = new Map<number, number>();
  for (const n of p.nodes) {
    nodeById.set(n.id, n);
    for (const c of n.children ?? []) parentOf.set(c, n.id);
  }
  for (let i = 0; i < p.samples.length; i++) {
    const dt = bySamples ? 1 : (p.timeDeltas[i] ?? 0);
    const n = nodeById.get(p.samples[i]!);
    if (n === undefined) continue;
    totalUs += dt;
    const cf = n.callFrame;
    if (cf.functionName === '(idle)') {
      idleUs += dt;
      continue;
    }
    const f = shortFile(cf.url);
    const key = `${cf.functionName || '(anonymous)'}  ${f}:${cf.lineNumber + 1}`;
    byFn.set(key, (byFn.get(key) ?? 0) + dt);
    byFile.set(f, (byFile.get(f) ?? 0) + dt);
    const onStack = new Set<string>();
    for (let id: number | undefined = n.id; id !== undefined; id = parentOf.get(id)) onStack.add(shortFile(nodeById.get(id)!.callFrame.url));
    for (const sf of onStack) inclusive.set(sf, (inclusive.get(sf) ?? 0) + dt);
  }
}

const busyUs = totalUs - idleUs;
const unit = bySamples ? 'samples' : 'ms';
const ms = (w: number): string => (bySamples ? w : w / 1000).toFixed(0).padStart(7);
const pct = (us: number): string => `${((us / busyUs) * 100).toFixed(1).padStart(5)}%`;
process.stdout.write(`profiled ${ms(totalUs).trim()} ${unit}, idle ${ms(idleUs).trim()}, busy ${ms(busyUs).trim()} (shares below are of busy)\n`);

function table(title: string, m: Map<string, number>): void {
  process.stdout.write(`\n${title}\n`);
  const rows = [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [k, us] of rows) process.stdout.write(`${ms(us)} ${unit === 'ms' ? 'ms' : 'smp'} ${pct(us)}  ${k}\n`);
}
if (values.by === 'function' || values.by === 'both') table('self time by function', byFn);
if (values.by === 'file' || values.by === 'both') table('self time by file', byFile);
if (values.by === 'inclusive') table('time on the stack by file (inclusive)', inclusive);
if (!['function', 'file', 'both', 'inclusive'].includes(values.by!)) {
  process.stderr.write(`cpuprofile-top: --by must be function, file, both or inclusive, not '${values.by}'\n`);
  process.exit(2);
}
