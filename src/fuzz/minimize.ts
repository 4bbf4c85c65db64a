/**
 * Shrinks a crashing input while it still crashes the same way (same
 * finding signature), so the regression test that inlines it stays small
 * and says what matters: whole frames of a frame sequence, then the tails
 * of their TCP payloads, or bytes of a parser's input, go in halving chunks
 * as delta debugging does. Bounded by a number of executions.
 */
import { WireError } from '../wire/errors.js';
import { buildFrame, parseFrame, type FrameRepr } from '../wire/frame.js';
import { classify, findingSignature, runOnceAsync } from './fuzzer.js';
import type { FuzzInput, FuzzTarget } from './target.js';

export interface MinimizeOptions {
  /** Most executions to spend (default 3000). */
  readonly maxRuns?: number;
}

export interface MinimizeResult {
  readonly input: FuzzInput;
  readonly runs: number;
}

/** The smallest input found that still gives `signature`. */
export async function minimizeInput(target: FuzzTarget, input: FuzzInput, signature: string, o: MinimizeOptions = {}): Promise<MinimizeResult> {
  const maxRuns = o.maxRuns ?? 3000;
  let runs = 0;
  const same = async (candidate: FuzzInput): Promise<boolean> => {
    runs++;
    const e = await runOnceAsync(target, candidate);
    return e !== undefined && findingSignature(classify(e), e) === signature;
  };
  let best = input;
  if (target.shape === 'bytes') {
    // Bytes of the input (the plan, part 1, stays as it is).
    for (let chunk = Math.max(1, best[0]!.length >> 1); chunk >= 1 && runs < maxRuns; chunk >>= 1) {
      for (let at = 0; at < best[0]!.length && runs < maxRuns; ) {
        const b = best[0]!;
        const candidate = [Buffer.concat([b.subarray(0, at), b.subarray(at + chunk)]), ...best.slice(1)];
        if (await same(candidate)) best = candidate;
        else at += chunk;
      }
    }
    return { input: best, runs };
  }
  // Whole frames, in chunks; the parameter block stays.
  const keep = 1;
  for (let chunk = Math.max(1, (best.length - keep) >> 1); chunk >= 1 && runs < maxRuns; chunk >>= 1) {
    for (let at = keep; at < best.length && runs < maxRuns; ) {
      const candidate = [...best.slice(0, at), ...best.slice(at + chunk)];
      if (candidate.length < best.length && (await same(candidate))) best = candidate;
      else at += chunk;
    }
  }
  // Then each frame's TCP payload: its tail cut in halving steps (same sequence number, lengths and checksums redone).
  for (let i = keep; i < best.length && runs < maxRuns; i++) {
    for (;;) {
      const f = parseTcpFrame(best[i]!);
      if (f === undefined || f.payload.length === 0 || runs >= maxRuns) break;
      let shorter: Buffer | undefined;
      for (let keepBytes = 0; keepBytes < f.payload.length && runs < maxRuns; keepBytes = Math.max(keepBytes * 2, 1)) {
        const b = rebuild(f, f.payload.subarray(0, keepBytes));
        if (b === undefined) continue;
        const candidate = best.map((x, k) => (k === i ? b : x));
        if (await same(candidate)) {
          shorter = b;
          break;
        }
      }
      if (shorter === undefined) break;
      best = best.map((x, k) => (k === i ? shorter! : x));
    }
  }
  return { input: best, runs };
}

function parseTcpFrame(frame: Buffer): FrameRepr | undefined {
  try {
    const f = parseFrame(frame);
    return f.tcp === undefined ? undefined : f;
  } catch (e) {
    if (e instanceof WireError) return undefined;
    throw e;
  }
}

function rebuild(f: FrameRepr, payload: Buffer): Buffer | undefined {
  try {
    return buildFrame({ eth: f.eth, ip: f.ip, tcp: { ...f.tcp!, rawOptions: undefined }, payload });
  } catch (e) {
    if (e instanceof WireError) return undefined;
    throw e;
  }
}
