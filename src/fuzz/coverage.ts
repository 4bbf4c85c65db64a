/**
 * Coverage feedback from V8's own block coverage, read in-process through
 * the inspector protocol (Profiler.startPreciseCoverage with block
 * granularity, Profiler.takePreciseCoverage, which also resets the
 * counters). No instrumentation pass, no native addon.
 *
 * V8 reports per function a list of nested source ranges with execution
 * counts, and leaves out a block whose count equals its parent's. So a
 * block shows up as a range only when it ran a different number of times
 * than its parent — typically when it did not run at all. The features are
 * therefore:
 *  - "function F ran" (its outer range has a count > 0), and
 *  - "block B of F ran", for every block B ever seen as a range in F: B ran
 *    in a sample where F ran unless B lies inside a range with count 0.
 * A block first learnt as "did not run" turns into a feature as soon as a
 * later input runs it, which is exactly the novelty that matters.
 *
 * Only ddplab's own modules (src/, outside src/fuzz/) count. Functions
 * compiled before `start` get function granularity only (V8 adds block
 * counters at compile time), so the fuzzer starts coverage before it loads
 * the targets.
 *
 * `start` also turns V8's optimizing compiler off for the rest of the
 * process. Measured here: once TurboFan optimizes a caller, the invocation
 * counts of small functions it inlined stop showing up, so the same inputs
 * gave 189 features in a fresh process and 184 after a warm-up — and what
 * counts as new decides which inputs join the corpus. Tier-up depends on
 * history and on background compilation timing; without it, a seed gives
 * the same inputs whatever ran before (about 1.3–2.5× slower here).
 */
import { Session } from 'node:inspector';
import { setFlagsFromString } from 'node:v8';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

interface CoverageRange {
  readonly startOffset: number;
  readonly endOffset: number;
  readonly count: number;
}

interface FunctionCoverage {
  readonly ranges: readonly CoverageRange[];
}

interface ScriptCoverage {
  readonly url: string;
  readonly functions: readonly FunctionCoverage[];
}

interface TakePreciseCoverageResult {
  readonly result: readonly ScriptCoverage[];
}

/** The blocks of one function seen so far, in parallel arrays. */
interface KnownBlocks {
  readonly ids: Set<number>;
  readonly starts: number[];
  readonly ends: number[];
  readonly keys: string[];
}

/** src/ of this checkout. */
const SRC_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
const FUZZ_DIR = `${SRC_DIR}/fuzz/`;

/** Set of features seen in one or more samples. */
export type FeatureSet = Set<string>;

export class CoverageTracker {
  private readonly session: Session;
  /** Blocks known per function (keyed url#start). */
  private readonly blocks = new Map<string, KnownBlocks>();
  private stopped = false;

  private constructor() {
    setFlagsFromString('--no-opt');
    this.session = new Session();
    this.session.connect();
    this.post('Profiler.enable');
    this.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
  }

  /** Starts block coverage for everything compiled from now on. */
  static start(): CoverageTracker {
    return new CoverageTracker();
  }

  /** Ends coverage collection and the inspector session. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.post('Profiler.stopPreciseCoverage');
    this.post('Profiler.disable');
    this.session.disconnect();
  }

  /**
   * Forgets the blocks learnt so far. A fuzz run starts with this, so what
   * it counts as new — and so the inputs it goes on to make — does not depend
   * on what other runs in the same process saw (reproducibility per target).
   */
  forget(): void {
    this.blocks.clear();
  }

  /** Discards what ran since the last sample (e.g. the fuzzer's own setup). */
  reset(): void {
    this.takeRaw();
  }

  /** The features of everything that ran since the last sample; resets the counters. */
  sample(): FeatureSet {
    const out: FeatureSet = new Set();
    for (const script of this.takeRaw()) {
      const url = script.url;
      if (!isOwnModule(url)) continue;
      for (const fn of script.functions) {
        const ranges = fn.ranges;
        const outer = ranges[0];
        if (outer === undefined || outer.count === 0) continue;
        const fnKey = `${url}#${outer.startOffset}`;
        out.add(fnKey);
        let known = this.blocks.get(fnKey);
        if (known === undefined) {
          known = { ids: new Set(), starts: [], ends: [], keys: [] };
          this.blocks.set(fnKey, known);
        }
        for (let i = 1; i < ranges.length; i++) {
          const r = ranges[i]!;
          const id = r.startOffset * 0x10_0000 + r.endOffset;
          if (known.ids.has(id)) continue;
          known.ids.add(id);
          known.starts.push(r.startOffset);
          known.ends.push(r.endOffset);
          known.keys.push(`${fnKey}:${r.startOffset}-${r.endOffset}`);
        }
        for (let b = 0; b < known.keys.length; b++) {
          if (!insideZeroRange(ranges, known.starts[b]!, known.ends[b]!)) out.add(known.keys[b]!);
        }
      }
    }
    return out;
  }

  private takeRaw(): readonly ScriptCoverage[] {
    let out: readonly ScriptCoverage[] = [];
    this.post('Profiler.takePreciseCoverage', undefined, (res) => {
      out = (res as TakePreciseCoverageResult).result;
    });
    return out;
  }

  /** Inspector calls on a same-thread session complete synchronously: the callback has run when post returns. */
  private post(method: string, params?: object, onResult?: (res: unknown) => void): void {
    let failure: Error | null = null;
    this.session.post(method, params ?? {}, (err, res) => {
      failure = err;
      if (err === null) onResult?.(res);
    });
    if (failure !== null) throw failure;
  }
}

function isOwnModule(url: string): boolean {
  // ESM loaded by node/tsx: file:// URLs; vitest's module runner: plain paths.
  const path = url.startsWith('file://') ? url.slice('file://'.length) : url;
  return path.startsWith(`${SRC_DIR}/`) && !path.startsWith(FUZZ_DIR);
}

/** True when [s, e) lies within a nested range of `ranges` that did not run. */
function insideZeroRange(ranges: readonly CoverageRange[], s: number, e: number): boolean {
  for (let i = 1; i < ranges.length; i++) {
    const r = ranges[i]!;
    if (r.count === 0 && r.startOffset <= s && e <= r.endOffset) return true;
  }
  return false;
}

/** Adds `b` to `a`; returns how many features were new. */
export function mergeFeatures(into: FeatureSet, from: FeatureSet): number {
  let n = 0;
  for (const f of from) {
    if (!into.has(f)) {
      into.add(f);
      n++;
    }
  }
  return n;
}

/** Features of `from` not in `seen`. */
export function countNew(seen: FeatureSet, from: FeatureSet): number {
  let n = 0;
  for (const f of from) if (!seen.has(f)) n++;
  return n;
}
