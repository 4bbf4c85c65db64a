/**
 * `ddplab bench`: a sweep of verified runs over a grid of loss, reordering,
 * offload mode and workload on one topology (src/lab/bench/bench.ts), with a
 * progress bar on stderr and an output folder: report.md, report.html, report.json
 * (docs/report.schema.json) and SVG charts (src/lab/bench/report.ts). Exit code 0 only when every run
 * passed with 0 mismatches.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { WORKLOAD_RW_MODES, parseSizeBytes, WorkloadOptionError, type WorkloadRw } from '../host/workload/options.js';
import { bench, benchMachine, benchOptionsRecord, type BenchOptions, type BenchPoint, type BenchRun, type BenchSize } from '../lab/bench/bench.js';
import { RUN_OFFLOAD_MODES, parseOffloadMode } from '../host/offload-mode.js';
import { DEFAULT_NIC_PROFILE, NIC_PROFILE_NAMES, isNicProfile, type NicProfile } from '../nicemu/ddp/nic-profile.js';
import { formatRate, readBenchReport, summarizeBench, writeBenchReport } from '../lab/bench/report.js';
import type { WorkloadProgress } from '../host/workload/workload.js';
import { intFlag, parseDigest } from './workload-flags.js';
import { parseBurst, parseProbability } from './impair-flags.js';
import { UserError } from '../base/errors.js';
import { REPORT_SCHEMA_VERSION } from '../base/report-version.js';
import { requireNetAdmin } from '../lab/privileges.js';
import { addDigestFlag, addTargetShapeFlags, checkTargetShape, parseOrder } from './run-flags.js';

const OUT_ROOT = fileURLToPath(new URL('../../captures/out/', import.meta.url));

interface BenchFlags {
  drop: string;
  reorder: string;
  offload: string;
  nic: string;
  rw: string;
  bs: string;
  seeds: string;
  seed: string;
  size: string;
  minLossEvents: string;
  minSize: string;
  maxSize: string;
  iodepth: string;
  queues: string;
  digest: string;
  order: string;
  interleave?: boolean;
  c2hSize: string;
  mtu: string;
  reorderDepth?: string;
  reorderUs?: string;
  burst?: string;
  dup?: string;
  corrupt?: string;
  out?: string;
  from?: string;
  id?: string;
  json?: boolean;
}

function list(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function size(flag: string, text: string): number {
  try {
    return parseSizeBytes(text, flag);
  } catch (e) {
    if (e instanceof WorkloadOptionError) throw new UserError('BAD_FLAG', `--${flag}: ${e.message}`);
    throw e;
  }
}

function stamp(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

function shellWord(w: string): string {
  return /^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}

function describePoint(p: BenchPoint): string {
  return `drop ${formatRate(p.drop)} reorder ${formatRate(p.reorder)} ${p.offload}${p.nic !== undefined ? ` ${p.nic}` : ''} ${p.rw} ${p.bs} seed ${p.seed}`;
}

/** One bar for the whole sweep; the current run's progress inside it. */
function sweepProgress(): {
  start: (k: number, total: number, p: BenchPoint) => void;
  update: (p: WorkloadProgress) => void;
  done: (run: BenchRun, k: number, total: number) => void;
  end: () => void;
} {
  const tty = process.stderr.isTTY === true;
  const t0 = Date.now();
  let k0 = 0;
  let total0 = 1;
  let label = '';
  const draw = (frac: number, extra: string): void => {
    const width = 30;
    const overall = (k0 + frac) / total0;
    const fill = Math.round(overall * width);
    const elapsed = (Date.now() - t0) / 1000;
    const eta = overall > 0.01 ? (elapsed / overall - elapsed).toFixed(0) : '?';
    process.stderr.write(`\r[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${k0 + 1}/${total0} ${label} ${extra} eta ${eta}s\x1b[K`);
  };
  return {
    start: (k, total, p) => {
      k0 = k;
      total0 = total;
      label = describePoint(p);
      if (tty) draw(0, '');
    },
    update: (p) => {
      if (tty) draw(Math.min(1, p.fraction), `${Math.floor(p.fraction * 100)}%`);
    },
    done: (run, k, total) => {
      const m = run.metrics;
      const placement = m.ddp !== null ? `, placement ${m.ddp.placementPct.toFixed(2)}%` : '';
      const line =
        `[${k + 1}/${total}] ${describePoint(run.point)}: ${m.ok ? 'PASS' : 'FAIL'} ${m.goodputMBps.toFixed(1)} MB/s` +
        `${placement}, ${m.lossEvents} loss events${m.portDrops > 0 ? ` (+${m.portDrops} port drops)` : ''}, ${m.targetRetrans} retransmitted, ${m.mismatches} mismatches${m.error !== undefined ? ` (${m.error})` : ''}`;
      process.stderr.write(tty ? `\r${line}\x1b[K\n` : `${line}\n`);
    },
    end: () => undefined,
  };
}

export function registerBenchCommand(program: Command): void {
  const cmd = program
    .command('bench')
    .description('sweep verified runs over loss, reordering, offload mode and workload on one topology; writes report.md, report.html (charts inline), report.json and SVG charts')
    .option('--drop <list>', 'loss rates toward the host, per frame', '0,1e-4,1e-3')
    .option('--reorder <list>', 'reordering rates toward the host, per frame', '0')
    .option('--offload <list>', `offload modes (${RUN_OFFLOAD_MODES.join(', ')})`, 'none,ddp-crc')
    .option('--nic <list>', `NIC profiles for the modes that run the DDP engine (${NIC_PROFILE_NAMES.join(', ')})`, DEFAULT_NIC_PROFILE)
    .option('--rw <list>', `I/O patterns (${WORKLOAD_RW_MODES.join(', ')})`, 'read')
    .option('--bs <list>', 'block sizes, one per point (e.g. 4k,128k)', '128k')
    .option('--seeds <n>', 'runs per point (seeds --seed, --seed+1, ...)', '1')
    .option('--seed <n>', 'first seed', '1')
    .option('--size <bytes|auto>', 'bytes per run (one size for the whole sweep); auto: enough for --min-loss-events expected losses at the smallest non-zero --drop', 'auto')
    .option('--min-loss-events <n>', 'with --size auto: expected loss events per run at least', '4')
    .option('--min-size <bytes>', 'with --size auto: smallest run', '64m')
    .option('--max-size <bytes>', 'with --size auto: largest run', '1g')
    .option('--iodepth <n>', 'commands in flight per queue', '32')
    .option('--queues <n>', 'NVMe I/O queues', '1');
  addDigestFlag(cmd, 'data');
  addTargetShapeFlags(cmd)
    .option('--mtu <bytes>', 'MTU of the veth pair', '1500')
    .option('--reorder-depth <k>', 'a reordered frame leaves after k later frames (default 3)')
    .option('--reorder-us <t>', 'a reordered frame leaves after t µs')
    .option('--burst <pgb,pbg[,lossbad[,lossgood]]>', 'also: Gilbert-Elliott bursty loss toward the host on every point')
    .option('--dup <p>', 'also: duplicate frames toward the host on every point')
    .option('--corrupt <p>', 'also: corrupt frames toward the host on every point')
    .option('--out <dir>', 'output folder (default captures/out/bench-<timestamp>/)')
    .option('--from <dir>', 'run nothing: write report.md, report.html and the charts again from DIR/report.json (figures recomputed from the stored run reports)')
    .option('--id <id>', 'run id for the namespaces (default random)')
    .option('--json', 'also print the per-point summary as one JSON object on stdout ({schemaVersion, out, summary})')
    .action(async (flags: BenchFlags) => {
      if (flags.from !== undefined) {
        const dir = resolve(flags.from);
        const { result, command } = readBenchReport(dir);
        const files = writeBenchReport(dir, result, command);
        process.stderr.write(`ddplab bench: ${result.runs.length} runs read from ${dir}/report.json; wrote ${files.length} files\n`);
        return;
      }
      const probs = (flag: string, text: string): number[] => {
        const v = list(text).map((s) => parseProbability(flag, s));
        if (v.length === 0) throw new UserError('BAD_FLAG', `--${flag}: give at least one value`);
        return v;
      };
      const offload = list(flags.offload).map((m) => parseOffloadMode(m));
      const nic = list(flags.nic).map((m): NicProfile => {
        if (!isNicProfile(m)) throw new UserError('BAD_FLAG', `--nic: '${m}' is not one of ${NIC_PROFILE_NAMES.join(', ')}`);
        return m;
      });
      if (nic.length === 0) throw new UserError('BAD_FLAG', '--nic: give at least one profile');
      const rw = list(flags.rw).map((m): WorkloadRw => {
        if (!(WORKLOAD_RW_MODES as readonly string[]).includes(m)) throw new UserError('BAD_FLAG', `--rw: '${m}' is not one of ${WORKLOAD_RW_MODES.join(', ')}`);
        return m as WorkloadRw;
      });
      const bs = list(flags.bs);
      for (const b of bs) if (size('bs', b) === 0) throw new UserError('BAD_FLAG', `--bs: '${b}' is zero`);
      const order = parseOrder(flags.order);
      checkTargetShape(flags);
      const benchSize: BenchSize =
        flags.size === 'auto'
          ? {
              kind: 'auto',
              minLossEvents: intFlag('min-loss-events', flags.minLossEvents, 1, 1_000_000),
              minBytes: size('min-size', flags.minSize),
              maxBytes: size('max-size', flags.maxSize),
            }
          : { kind: 'fixed', bytes: size('size', flags.size) };
      // A block larger than a run's whole size: every run of the grid would fail in its host; refused here, in one line.
      const smallestRun = benchSize.kind === 'fixed' ? benchSize.bytes : benchSize.minBytes;
      for (const b of bs) {
        if (size('bs', b) > smallestRun) {
          throw new UserError('BAD_FLAG', `--bs ${b} is larger than ${benchSize.kind === 'fixed' ? `--size ${flags.size}` : `--min-size ${flags.minSize}`}: a run would read more than the size asked for`);
        }
      }
      const extraRx = {
        ...(flags.burst !== undefined ? { burst: parseBurst('burst', flags.burst) } : {}),
        ...(flags.dup !== undefined ? { dup: parseProbability('dup', flags.dup) } : {}),
        ...(flags.corrupt !== undefined ? { corrupt: parseProbability('corrupt', flags.corrupt) } : {}),
      };
      const bar = sweepProgress();
      const started = new Date();
      const outDir = resolve(flags.out ?? `${OUT_ROOT}bench-${stamp(started)}`);
      const command = `ddplab ${process.argv.slice(2).map(shellWord).join(' ')}`;
      const runsSoFar: BenchRun[] = [];
      const opts: BenchOptions = {
        grid: { drop: probs('drop', flags.drop), reorder: probs('reorder', flags.reorder), offload, nic, rw, bs },
        seeds: intFlag('seeds', flags.seeds, 1, 1000),
        seedBase: intFlag('seed', flags.seed, 0, 0xffff_ffff),
        size: benchSize,
        iodepth: intFlag('iodepth', flags.iodepth, 1, 4096),
        queues: intFlag('queues', flags.queues, 1, 128),
        digest: parseDigest(flags.digest),
        mtu: intFlag('mtu', flags.mtu, 576, 65535),
        order,
        interleave: flags.interleave === true,
        c2hSize: flags.c2hSize,
        ...(flags.reorderDepth !== undefined ? { reorderDepth: intFlag('reorder-depth', flags.reorderDepth, 1, 1_000_000) } : {}),
        ...(flags.reorderUs !== undefined ? { reorderUs: intFlag('reorder-us', flags.reorderUs, 1, 10_000_000) } : {}),
        ...(Object.keys(extraRx).length > 0 ? { extraRx } : {}),
        ...(flags.id !== undefined ? { id: flags.id } : {}),
        onRunStart: bar.start,
        onRunProgress: bar.update,
        onRunDone: (run, k, total) => {
          bar.done(run, k, total);
          // Partial results on disk after every run: a long sweep that dies keeps what it measured.
          runsSoFar.push(run);
          writeBenchReport(
            outDir,
            {
              startedAt: started.toISOString(),
              finishedAt: `(running: ${k + 1} of ${total} runs)`,
              machine: benchMachine(),
              topology: { id: flags.id ?? '', mtu: opts.mtu }, options: benchOptionsRecord(opts), runs: runsSoFar },
            command,
          );
        },
      };
      // Refused before the first line about the output folder: a non-root user gets one line.
      requireNetAdmin('ddplab bench');
      process.stderr.write(`ddplab bench: writing to ${outDir}\n`);
      const result = await bench(opts);
      bar.end();
      const files = writeBenchReport(outDir, result, command);
      const failed = result.runs.filter((r) => !r.metrics.ok).length;
      const mismatches = result.runs.reduce((a, r) => a + r.metrics.mismatches, 0);
      process.stderr.write(`ddplab bench: ${result.runs.length} runs, ${failed} failed, ${mismatches} mismatches; wrote ${files.length} files to ${outDir}\n`);
      if (flags.json === true) {
        process.stdout.write(`${JSON.stringify({ schemaVersion: REPORT_SCHEMA_VERSION, out: outDir, summary: summarizeBench(result.runs) })}\n`);
      }
      if (failed > 0 || mismatches > 0) process.exitCode = 1;
    });
}
