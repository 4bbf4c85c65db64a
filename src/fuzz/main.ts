/**
 * `npm run fuzz -- [--time 10m | --inputs N] [--seed N] [--target NAME,...]
 *                  [--save-crashes DIR] [--no-coverage] [--blind] [--replay FILE]`
 *
 * Fuzzes ddplab's wire parsers, the PDU framer, the NIC receive path and the
 * whole receive path (target-registry.ts lists them), coverage-guided by
 * V8 block coverage unless --no-coverage. Prints inputs executed per target
 * and in total, coverage reached, every distinct crash with its reproducer
 * (seed and iteration, and the input file with --save-crashes), and exits 1
 * when anything crashed, hung or grew without bound.
 */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Command, InvalidArgumentError, Option } from 'commander';
import { UserError, describeError } from '../base/errors.js';
import { CoverageTracker } from './coverage.js';
import { classify, findingSignature, fuzzTarget, runOnceAsync, type Finding, type FuzzTargetReport, type Guidance } from './fuzzer.js';
import { inputToBase64, readInputFile, writeInputFile } from './input-file.js';
import { loadTargets, TARGET_NAMES } from './target-registry.js';
import { Watchdog } from './watchdog.js';

interface CliOptions {
  time?: number;
  inputs?: number;
  seed: number;
  target?: string[];
  saveCrashes?: string;
  coverage: boolean;
  blind?: boolean;
  replay?: string;
  stall: number;
  list?: boolean;
}

/** "10m", "90s", "1h", "500ms", or plain seconds → ms. */
function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (m === null) throw new InvalidArgumentError(`'${text}' is not a duration (e.g. 10m, 90s, 1h)`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return Math.round(n * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000));
}

function parseCount(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`'${text}' is not a non-negative integer`);
  return n;
}

function parseTargets(text: string, prev: string[] | undefined): string[] {
  const names = text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  for (const n of names) if (!TARGET_NAMES.includes(n)) throw new InvalidArgumentError(`no target '${n}' (targets: ${TARGET_NAMES.join(', ')})`);
  return [...(prev ?? []), ...names];
}

function fmtMs(ms: number): string {
  return ms >= 60_000 ? `${(ms / 60_000).toFixed(1)} min` : `${(ms / 1000).toFixed(1)} s`;
}

/** A heap measurement after a full collection (MiB). */
function heapAfterGc(gc: (() => void) | undefined): number {
  gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

function exposeGc(): (() => void) | undefined {
  setFlagsFromString('--expose-gc');
  const gc: unknown = runInNewContext('typeof gc === "function" ? gc : undefined');
  return typeof gc === 'function' ? (gc as () => void) : undefined;
}

async function replay(path: string, coverage: CoverageTracker | undefined): Promise<number> {
  const saved = readInputFile(path);
  const [target] = await loadTargets([saved.target]);
  coverage?.stop();
  const e = await runOnceAsync(target!, saved.input);
  if (e === undefined) {
    process.stdout.write(`${saved.target}: ${path}: no crash (${saved.input.length} parts)\n`);
    return 0;
  }
  const kind = classify(e);
  process.stdout.write(`${saved.target}: ${path}: ${findingSignature(kind, e)}\n${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  return 1;
}

function printFinding(f: Finding, o: CliOptions, guidance: Guidance, file: string | undefined, minimized: string | undefined): void {
  const flags = `${o.coverage ? '' : ' --no-coverage'}${guidance === 'blind' ? ' --blind' : ''}`;
  const where = f.iteration < 0 ? `seed input #${-1 - f.iteration}` : `iteration ${f.iteration}`;
  const lines = [
    `CRASH [${f.target}] ${f.kind} (${f.count} input${f.count === 1 ? '' : 's'}): ${f.message.split('\n')[0]}`,
    `  signature: ${f.signature}`,
    `  reproduce: npm run fuzz -- --target ${f.target} --seed ${f.seed} --inputs ${Math.max(0, f.iteration + 1)}${flags}   (${where})`,
  ];
  if (file !== undefined) lines.push(`  input:     ${file}   (npm run fuzz -- --replay ${file})`);
  if (minimized !== undefined) lines.push(`  minimized: ${minimized}`);
  if (f.kind === 'exception') lines.push(...f.stack.split('\n').slice(1, 6).map((l) => `  ${l.trim()}`));
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main(argv: string[]): Promise<number> {
  const program = new Command()
    .name('npm run fuzz --')
    .description('Coverage-guided mutation fuzzing of ddplab: wire parsers, PDU framer, NIC receive path, whole receive path')
    .option('--time <duration>', 'wall-clock budget shared by the targets by weight (10m, 90s, 1h)', parseDuration)
    .option('--inputs <n>', 'mutated inputs per target (instead of --time; a run is then reproducible input for input)', parseCount)
    .option('--seed <n>', 'seed of every random choice', parseCount, 1)
    .option('--target <names>', `targets, comma-separated (${TARGET_NAMES.join(', ')})`, parseTargets)
    .option('--save-crashes <dir>', 'write each crashing input (and a minimized one) to DIR')
    .option('--no-coverage', 'no coverage feedback: mutate the seeds only, measure nothing')
    .option('--blind', 'measure coverage but do not let it grow the corpus (to compare with guidance)')
    .option('--replay <file>', 'run one saved input and report what it does')
    .addOption(new Option('--stall <duration>', 'no progress for this long is a hang').argParser(parseDuration).default(60_000, '60s'))
    .option('--list', 'list the targets and exit')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  program.parse(argv);
  const o = program.opts<CliOptions>();

  if (o.list === true) {
    for (const t of await loadTargets()) process.stdout.write(`${t.name.padEnd(9)} ${t.description}\n`);
    return 0;
  }
  if (o.time !== undefined && o.inputs !== undefined) throw new UserError('FUZZ_BUDGET', 'give --time or --inputs, not both');
  // Coverage first: code compiled before it starts gets no block counters.
  const coverage = o.coverage ? CoverageTracker.start() : undefined;
  if (o.replay !== undefined) return replay(o.replay, coverage);

  const guidance: Guidance = o.blind === true ? 'blind' : 'coverage';
  const targets = await loadTargets(o.target ?? []);
  const timeMs = o.inputs === undefined ? (o.time ?? 60_000) : undefined;
  const totalWeight = targets.reduce((s, t) => s + t.weight, 0);
  const saveDir = o.saveCrashes;
  if (saveDir !== undefined) mkdirSync(saveDir, { recursive: true });
  const watchdog = new Watchdog({ stallMs: o.stall, dir: saveDir ?? join(tmpdir(), 'ddplab-fuzz-hangs') });
  const gc = exposeGc();
  const heapStart = heapAfterGc(gc);
  let heapMax = heapStart;

  process.stdout.write(
    `ddplab fuzz: seed ${o.seed}, ${targets.length} target${targets.length === 1 ? '' : 's'}, ` +
      `${coverage === undefined ? 'no coverage' : guidance === 'coverage' ? 'coverage-guided' : 'blind (coverage measured)'}, ` +
      `budget ${timeMs !== undefined ? fmtMs(timeMs) : `${o.inputs} inputs per target`}\n`,
  );
  const reports: FuzzTargetReport[] = [];
  for (const t of targets) {
    const budget = timeMs !== undefined ? { timeMs: (timeMs * t.weight) / totalWeight } : { inputs: o.inputs! };
    let lastPrint = performance.now();
    const report = await fuzzTarget({
      target: t,
      seed: o.seed,
      budget,
      guidance,
      coverage,
      beforeExecute: (iteration, input) => watchdog.beat(t.name, o.seed, iteration, input),
      onFinding: (f) => process.stdout.write(`  ${f.target}: new crash at iteration ${f.iteration}: ${f.signature}\n`),
      progressEvery: 500,
      onProgress: (p) => {
        const now = performance.now();
        if (now - lastPrint < 15_000) return;
        lastPrint = now;
        heapMax = Math.max(heapMax, heapAfterGc(gc));
        process.stdout.write(`  ${p.target}: ${p.inputs} inputs, corpus ${p.corpusSize}, ${p.features} features, ${p.findings} findings, ${fmtMs(p.elapsedMs)}\n`);
      },
    });
    watchdog.pause();
    reports.push(report);
    heapMax = Math.max(heapMax, heapAfterGc(gc));
    process.stdout.write(
      `${t.name.padEnd(9)} ${String(report.seedInputs + report.inputs).padStart(9)} inputs (${report.inputs} mutated + ${report.seedInputs} seeds)` +
        `${report.features !== undefined ? `, ${report.features} coverage features, corpus ${report.corpusSize}` : ''}` +
        `, ${Math.round((report.inputs * 1000) / Math.max(1, report.elapsedMs))}/s, ${report.findings.length} crash${report.findings.length === 1 ? '' : 'es'}\n`,
    );
    for (const f of report.findings) {
      let file: string | undefined;
      let minimized: string | undefined;
      if (saveDir !== undefined) {
        const base = `${f.target}-seed${f.seed}-iter${f.iteration}`;
        file = join(saveDir, `${base}.fuzz`);
        writeInputFile(file, f.target, f.input);
        // Loaded now, not at start: it pulls in wire codecs, which must compile after coverage starts.
        const { minimizeInput } = await import('./minimize.js');
        const m = await minimizeInput(t, f.input, f.signature);
        minimized = join(saveDir, `${base}.min.fuzz`);
        writeInputFile(minimized, f.target, m.input);
        process.stdout.write(`  minimized in ${m.runs} runs to ${m.input.length} parts; base64 for a regression test:\n    ${inputToBase64(f.target, m.input).join('\n    ')}\n`);
      }
      printFinding(f, o, guidance, file, minimized);
    }
  }
  await watchdog.stop();
  coverage?.stop();

  const mutated = reports.reduce((s, r) => s + r.inputs, 0);
  const seeds = reports.reduce((s, r) => s + r.seedInputs, 0);
  const crashes = reports.reduce((s, r) => s + r.findings.length, 0);
  const heapEnd = heapAfterGc(gc);
  const grew = heapEnd - heapStart > 512;
  process.stdout.write(
    `total: ${mutated + seeds} inputs executed (${mutated} mutated + ${seeds} seeds) in ${fmtMs(reports.reduce((s, r) => s + r.elapsedMs, 0))}, ` +
      `${crashes} crash${crashes === 1 ? '' : 'es'}; heap after GC ${heapStart.toFixed(0)} → ${heapEnd.toFixed(0)} MiB (max ${heapMax.toFixed(0)})` +
      `${grew ? ' — GREW WITHOUT BOUND' : ''}\n`,
  );
  return crashes > 0 || grew ? 1 : 0;
}

try {
  process.exitCode = await main(process.argv);
} catch (e) {
  if (e instanceof Error && 'code' in e && typeof (e as { code: unknown }).code === 'string' && (e as { code: string }).code.startsWith('commander.')) {
    process.exitCode = (e as { exitCode?: number }).exitCode ?? 1;
  } else {
    process.stderr.write(`ddplab: ${describeError(e)}\n`);
    if (process.env.DDPLAB_DEBUG && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
    process.exit(1);
  }
}
