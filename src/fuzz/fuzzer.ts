/**
 * The fuzzing loop for one target: run the seeds, then repeatedly pick a
 * parent from the corpus, mutate it, run the mutant and judge the outcome;
 * every `coverageBatch` mutants sample V8 block coverage and, when the batch
 * reached new code, run its inputs again one by one to find which did and
 * add those to the corpus (coverage guidance). Findings are deduplicated by
 * signature and keep their first reproducer: the seed and iteration that
 * produced them, and the input itself.
 *
 * A run is a function of (seed, target, budget in inputs): the same seed
 * gives the same inputs in the same order. A time budget only decides where
 * the sequence stops.
 */
import { countNew, mergeFeatures, type CoverageTracker, type FeatureSet } from './coverage.js';
import { Corpus } from './corpus.js';
import { targetRng } from './rng.js';
import { FuzzViolation, type FuzzInput, type FuzzTarget, type ViolationKind } from './target.js';

export type FindingKind = 'exception' | ViolationKind;

export interface Finding {
  readonly target: string;
  readonly kind: FindingKind;
  /** What makes two findings the same bug: kind, error name, message with numbers masked, first ddplab frame. */
  readonly signature: string;
  readonly message: string;
  readonly stack: string;
  readonly seed: number;
  /** Iteration that produced the input (seeds: -1 - seed index). */
  readonly iteration: number;
  readonly input: FuzzInput;
  /** How many inputs hit this signature. */
  count: number;
}

export interface FuzzBudget {
  /** Mutated inputs to run (seeds come on top). */
  readonly inputs?: number;
  /** Wall-clock limit for this target, ms. */
  readonly timeMs?: number;
}

/** How the corpus evolves: 'coverage' adds inputs that reach new code; 'blind' keeps the seeds (coverage still measured). */
export type Guidance = 'coverage' | 'blind';

export interface FuzzTargetOptions {
  readonly target: FuzzTarget;
  readonly seed: number;
  readonly budget: FuzzBudget;
  readonly guidance: Guidance;
  /** Coverage source; without one there is no guidance and no coverage figure. */
  readonly coverage?: CoverageTracker | undefined;
  /** Stop after this many distinct findings (default 20). */
  readonly maxFindings?: number;
  /** Called before every execution (the watchdog's heartbeat). */
  readonly beforeExecute?: (iteration: number, input: FuzzInput) => void;
  /** Called when a new distinct finding appears (long runs report it at once). */
  readonly onFinding?: (f: Finding) => void;
  /** Called every `progressEvery` mutated inputs. */
  readonly onProgress?: (p: FuzzProgress) => void;
  readonly progressEvery?: number;
}

export interface FuzzProgress {
  readonly target: string;
  readonly inputs: number;
  readonly corpusSize: number;
  readonly features: number;
  readonly findings: number;
  readonly elapsedMs: number;
}

export interface FuzzTargetReport {
  readonly target: string;
  readonly seed: number;
  /** Seeds run. */
  readonly seedInputs: number;
  /** Mutated inputs run. */
  readonly inputs: number;
  /** Extra executions to attribute new coverage to single inputs. */
  readonly reruns: number;
  readonly corpusSize: number;
  /** Coverage features reached (functions and blocks), or undefined without coverage. */
  readonly features: number | undefined;
  readonly findings: readonly Finding[];
  readonly elapsedMs: number;
}

/** The signature of a thrown value: masks numbers so the same bug with other values is one finding. */
export function findingSignature(kind: FindingKind, e: unknown): string {
  const err = e instanceof Error ? e : new Error(String(e));
  // Digests and hashes (long hex runs) and numbers vary with the input, not with the bug.
  const msg = (err.message.split('\n')[0] ?? '')
    .replace(/0x[0-9a-f]+/gi, 'N')
    .replace(/\b[0-9a-f]{8,}\b/gi, 'H')
    .replace(/\d+/g, 'N')
    .slice(0, 160);
  return `${kind} ${err.name}: ${msg} @ ${ownFrame(err.stack ?? '')}`;
}

/**
 * Where the error comes from: the first stack frame in ddplab's own code
 * outside the fuzzer, as src/…:line; failing that (an oracle's own
 * violation, a test's toy target), the frame that threw.
 */
function ownFrame(stack: string): string {
  const frames = stack.split('\n').slice(1);
  for (const line of frames) {
    const m = /\/src\/(?!fuzz\/)([^):]+):(\d+)/.exec(line);
    if (m !== null) return `src/${m[1]}:${m[2]}`;
  }
  const m = /([^/\s(]+):(\d+):\d+\)?\s*$/.exec(frames[0] ?? '');
  return m === null ? '?' : `${m[1]}:${m[2]}`;
}

export function classify(e: unknown): FindingKind {
  return e instanceof FuzzViolation ? e.kind : 'exception';
}

/**
 * Runs `target` on `input` once: the thrown value, or undefined when the
 * oracle was satisfied. Synchronous targets get a synchronous answer (no
 * promise per input on the parsers' hot path).
 */
export function runOnce(target: FuzzTarget, input: FuzzInput): unknown {
  try {
    const r = target.execute(input);
    if (r !== undefined) return r.then(() => undefined, (e: unknown) => e ?? new Error('undefined thrown'));
    return undefined;
  } catch (e) {
    return e ?? new Error('undefined thrown');
  }
}

/** runOnce, awaited when the target is asynchronous. */
export async function runOnceAsync(target: FuzzTarget, input: FuzzInput): Promise<unknown> {
  const r = runOnce(target, input);
  return r instanceof Promise ? await r : r;
}

/** Fuzzes one target within its budget. */
export async function fuzzTarget(o: FuzzTargetOptions): Promise<FuzzTargetReport> {
  const { target, seed } = o;
  const t0 = performance.now();
  const rng = targetRng(seed, target.name);
  const corpus = new Corpus();
  const seen: FeatureSet = new Set();
  const cov = o.coverage;
  const findings = new Map<string, Finding>();
  const maxFindings = o.maxFindings ?? 20;
  const maxInputs = o.budget.inputs ?? Number.POSITIVE_INFINITY;
  const deadline = o.budget.timeMs === undefined ? Number.POSITIVE_INFINITY : t0 + o.budget.timeMs;
  let reruns = 0;

  const record = (e: unknown, input: FuzzInput, iteration: number): void => {
    const kind = classify(e);
    const signature = findingSignature(kind, e);
    const known = findings.get(signature);
    if (known !== undefined) {
      known.count++;
      return;
    }
    const err = e instanceof Error ? e : new Error(String(e));
    const f: Finding = { target: target.name, kind, signature, message: err.message, stack: err.stack ?? '', seed, iteration, input, count: 1 };
    findings.set(signature, f);
    o.onFinding?.(f);
  };
  /** Runs one input and records what it broke; a promise only for asynchronous targets. */
  const judge = (input: FuzzInput, iteration: number): Promise<void> | undefined => {
    o.beforeExecute?.(iteration, input);
    const e = runOnce(target, input);
    if (e instanceof Promise) {
      return e.then((x) => {
        if (x !== undefined) record(x, input, iteration);
      });
    }
    if (e !== undefined) record(e, input, iteration);
    return undefined;
  };

  // Seeds: each sampled alone, so the corpus knows what each reached.
  const seeds = target.seeds();
  cov?.forget();
  cov?.reset();
  for (let i = 0; i < seeds.length; i++) {
    await judge(seeds[i]!, -1 - i);
    const f = cov?.sample();
    corpus.add({ input: seeds[i]!, newFeatures: f === undefined ? 0 : mergeFeatures(seen, f), iteration: -1 });
  }
  if (corpus.size === 0) corpus.add({ input: [Buffer.alloc(0)], newFeatures: 0, iteration: -1 });

  /**
   * Runs batch[lo, hi) again and samples; where that reached something new,
   * halves the range until single inputs, which join the corpus. About
   * 2·log2(batch) samples per input that found something, instead of one
   * sample per input.
   */
  const attribute = async (lo: number, hi: number): Promise<void> => {
    if (cov === undefined || lo >= hi) return;
    for (let k = lo; k < hi; k++) {
      const r = runOnce(target, batch[k]!);
      if (r instanceof Promise) await r;
      reruns++;
    }
    const f = cov.sample();
    if (countNew(seen, f) === 0) return;
    if (hi - lo === 1) {
      corpus.add({ input: batch[lo]!, newFeatures: mergeFeatures(seen, f), iteration: batchStart[lo]! });
      return;
    }
    const mid = (lo + hi) >> 1;
    await attribute(lo, mid);
    await attribute(mid, hi);
  };

  const batchSize = cov === undefined ? 1 : Math.max(1, target.coverageBatch);
  let inputs = 0;
  const batch: FuzzInput[] = [];
  const batchStart: number[] = [];
  while (inputs < maxInputs && findings.size < maxFindings && performance.now() < deadline) {
    // Mutate the whole batch first, so the coverage sample holds only the target's executions.
    batch.length = 0;
    batchStart.length = 0;
    const n = Math.min(batchSize, maxInputs - inputs);
    for (let k = 0; k < n; k++) {
      const parent = corpus.pick(rng);
      const donor = corpus.pick(rng);
      batch.push(target.mutate(parent.input, rng, donor.input));
    }
    cov?.reset();
    let ran = 0;
    for (let k = 0; k < n; k++) {
      const p = judge(batch[k]!, inputs);
      if (p !== undefined) await p;
      batchStart.push(inputs);
      inputs++;
      ran++;
      if (o.onProgress !== undefined && inputs % (o.progressEvery ?? 1000) === 0) {
        o.onProgress({ target: target.name, inputs, corpusSize: corpus.size, features: seen.size, findings: findings.size, elapsedMs: performance.now() - t0 });
      }
      if (findings.size >= maxFindings || performance.now() >= deadline) break;
    }
    if (cov === undefined) continue;
    const feats = cov.sample();
    if (countNew(seen, feats) === 0) continue;
    if (o.guidance === 'coverage') {
      if (ran === 1) {
        corpus.add({ input: batch[0]!, newFeatures: mergeFeatures(seen, feats), iteration: batchStart[0]! });
        continue;
      }
      // Which inputs of the batch reached the new code? Bisect: run halves again, sampling each.
      const mid = ran >> 1;
      await attribute(0, mid);
      await attribute(mid, ran);
    }
    mergeFeatures(seen, feats);
  }

  return {
    target: target.name,
    seed,
    seedInputs: seeds.length,
    inputs,
    reruns,
    corpusSize: corpus.size,
    features: cov === undefined ? undefined : seen.size,
    findings: [...findings.values()],
    elapsedMs: performance.now() - t0,
  };
}
