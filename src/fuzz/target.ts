/**
 * What the fuzzer fuzzes: a target is one piece of ddplab fed hostile input
 * (a parser, the PDU framer, the NIC's receive path, the whole receive path
 * from NIC to NVMe host), with the oracle that says what must never happen.
 *
 * An input is a list of byte strings ("parts"): one for parser targets; for
 * frame-sequence targets a parameter block followed by Ethernet frames.
 * Keeping every input as plain bytes makes every input savable, mutable by
 * the same byte mutator, and inlinable in a regression test.
 *
 * What counts as a crash ("Fuzzing" in docs/hostile-input.md):
 *  - an exception that is not the module's own typed error (a WireError from
 *    a parser is an answer; a TypeError or RangeError is a bug): targets run
 *    the code under test through `tolerate`, which lets only the named error
 *    classes through;
 *  - an invariant violation the target checks itself (`FuzzViolation`): the
 *    NIC writing outside a registered SGL, offload on and off disagreeing on
 *    what the application sees, a parse that its own emitter cannot repeat;
 *  - a hang (a work budget exceeded inside the target, or no progress seen
 *    by the watchdog) and unbounded growth of state.
 */
import type { Rng } from './rng.js';
import { DdplabError } from '../base/errors.js';

/** A fuzz input: one or more byte strings (see the file comment). */
export type FuzzInput = readonly Buffer[];

export type ViolationKind =
  /** A property of one module broke (bounds, lengths, round trip). */
  | 'invariant'
  /** Two runs that must agree did not (offload on vs off, framer chunkings). */
  | 'differential'
  /** A work budget ran out: a loop that should end did not. */
  | 'hang'
  /** State grew past the bound the design promises. */
  | 'memory';

/** Thrown by a target's oracle: the input made ddplab break a rule. */
export class FuzzViolation extends DdplabError<'FUZZ_VIOLATION'> {
  readonly kind: ViolationKind;

  constructor(kind: ViolationKind, message: string) {
    super('FUZZ_VIOLATION', message);
    this.name = 'FuzzViolation';
    this.kind = kind;
  }
}

/** Throws an `invariant` FuzzViolation unless `ok`. */
export function check(ok: boolean, message: string | (() => string)): asserts ok {
  if (!ok) throw new FuzzViolation('invariant', typeof message === 'string' ? message : message());
}

/** Constructors of the errors a call may legitimately throw. */
export type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * Runs `fn`; an error that is an instance of one of `allowed` is the
 * module's typed answer to bad input and is returned as such; anything else
 * propagates and becomes a finding.
 */
export function tolerate<T>(fn: () => T, ...allowed: ErrorClass[]): { ok: true; value: T } | { ok: false; error: Error } {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    for (const cls of allowed) if (e instanceof cls) return { ok: false, error: e };
    throw e;
  }
}

export interface FuzzTarget {
  /** Short name for --target. */
  readonly name: string;
  /** One line: what is fed and what is checked. */
  readonly description: string;
  /** 'bytes': part 0 is the input (part 1, if any, a plan steering the harness); 'frames': a parameter block, then Ethernet frames. */
  readonly shape: 'bytes' | 'frames';
  /** Share of a --time budget relative to other targets. */
  readonly weight: number;
  /**
   * Inputs run between two coverage samples. Fixed per target, never derived
   * from timing, so a run stays a function of its seed.
   */
  readonly coverageBatch: number;
  /** Valid inputs to start from (ddplab's own emitters, the committed captures). */
  seeds(): FuzzInput[];
  /** A new input derived from `parent` (and sometimes `donor`); never modifies either. */
  mutate(parent: FuzzInput, rng: Rng, donor: FuzzInput): FuzzInput;
  /**
   * Runs the code under test on `input` and checks its oracle. Returns
   * normally when all is well; throws otherwise (see the file comment).
   * Must not depend on anything but `input`: coverage attribution and
   * reproduction run an input again and expect the same behaviour.
   */
  execute(input: FuzzInput): void | Promise<void>;
}
