/**
 * How a parser target's input (one byte string, sometimes with a second
 * "plan" string that steers the harness) is mutated: mostly format-blind
 * havoc, sometimes a field-aware edit on the format's own fields, then the
 * target's repair step (checksums, digests) some of the time, so some
 * mutants pass the integrity checks and reach the code behind them.
 */
import { havoc } from './byte-mutator.js';
import { mutateOneField, type Field } from './field-mutator.js';
import type { Rng } from './rng.js';
import type { FuzzInput } from './target.js';

export interface BytesMutation {
  readonly maxLen: number;
  readonly dictionary?: readonly Buffer[];
  /** The format's fields in a buffer (field-aware edits); none: havoc only. */
  readonly fields?: (buf: Buffer) => Field[];
  /** Repairs integrity fields in place (checksums, digests). */
  readonly repair?: (buf: Buffer) => void;
  /** Probability of repairing after an edit (default 0.5). */
  readonly repairChance?: number;
  /** Longest plan part, when inputs carry one (parts[1]). */
  readonly maxPlanLen?: number;
}

/** A mutant of `parent` (never modified), following `m`. */
export function mutateBytesInput(parent: FuzzInput, rng: Rng, donor: FuzzInput, m: BytesMutation): FuzzInput {
  const data = parent[0] ?? Buffer.alloc(0);
  const plan = parent[1];
  if (plan !== undefined && rng.chance(0.15)) {
    return [data, havoc(plan, rng, { maxLen: m.maxPlanLen ?? 64, donor: donor[1] })];
  }
  let out: Buffer;
  if (m.fields !== undefined && rng.chance(0.4)) {
    out = Buffer.from(data);
    const fields = m.fields(out);
    const n = 1 + rng.geometric(3);
    for (let i = 0; i < n; i++) mutateOneField(out, fields, rng);
  } else {
    out = havoc(data, rng, { maxLen: m.maxLen, donor: donor[0], dictionary: m.dictionary });
  }
  if (m.repair !== undefined && rng.chance(m.repairChance ?? 0.5)) m.repair(out);
  return plan === undefined ? [out] : [out, plan];
}
