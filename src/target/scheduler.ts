/**
 * When and in which order the target answers.
 *
 * A real controller completes commands out of submission order (different
 * media latencies, several internal queues) and may interleave the C2HData
 * PDUs of different reads on one connection; a receive-side offload must
 * cope with both. The scheduler makes that reproducible: completions that
 * become ready together — within one batching window — are held, put in the
 * configured order with a seeded PRNG, and released as a sequence of
 * (completion, part) steps, where the parts of a completion are its C2HData
 * PDUs followed by its response. Without interleaving the parts of a
 * completion go out back to back; with it, the batch's completions take
 * turns, one part each in the chosen order, so one command's parts stay in
 * order but different commands' parts mix.
 *
 * The batching window closes at the next turn of the event loop (so all
 * commands parsed from one TCP read form a batch), after `delayUs` when a
 * delay is configured, or as soon as `batchMax` completions are waiting.
 */
import { SplitMix32 } from '../base/seeded-rng.js';

export type CompletionOrder = 'fifo' | 'random' | 'reverse';

export interface SchedulerPolicy {
  readonly order: CompletionOrder;
  readonly interleave: boolean;
  /** Completions held at most before a batch is released. */
  readonly batchMax: number;
  /** Hold each batch this long (microseconds; timer resolution is about 1 ms). 0 = next event-loop turn. */
  readonly delayUs: number;
}

/** Anything the scheduler orders: it only needs to know how many PDUs it will send. */
export interface Completion {
  /** Number of PDUs this completion sends (data PDUs + response), at least 1. */
  readonly parts: number;
}

/** The target's seeded stream (reordering, interleaving): SplitMix32. */
export const Prng = SplitMix32;
export type Prng = SplitMix32;

export type EmitPart<T> = (completion: T, part: number) => void;

export class CompletionScheduler<T extends Completion> {
  private batch: T[] = [];
  private timer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  private closed = false;
  /** Batches released so far (stats). */
  batches = 0;
  /** Completions released in an order different from their arrival order (stats). */
  reordered = 0;

  constructor(
    private readonly policy: SchedulerPolicy,
    private readonly rng: Prng,
    private readonly emit: EmitPart<T>,
  ) {}

  submit(c: T): void {
    if (this.closed) return;
    this.batch.push(c);
    if (this.batch.length >= this.policy.batchMax) {
      this.flush();
      return;
    }
    if (this.timer === null) {
      this.timer =
        this.policy.delayUs > 0
          ? setTimeout(() => this.flush(), this.policy.delayUs / 1000)
          : setImmediate(() => this.flush());
    }
  }

  /** Releases whatever is waiting now. */
  flush(): void {
    this.cancelTimer();
    if (this.closed || this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    this.batches++;
    const ordered = this.order(batch);
    for (let i = 0; i < ordered.length; i++) if (ordered[i] !== batch[i]) this.reordered++;
    if (this.policy.interleave) this.emitInterleaved(ordered);
    else for (const c of ordered) for (let p = 0; p < c.parts; p++) this.emit(c, p);
  }

  /** Drops anything waiting (the connection is going away). */
  close(): void {
    this.closed = true;
    this.cancelTimer();
    this.batch = [];
  }

  private order(batch: T[]): T[] {
    switch (this.policy.order) {
      case 'fifo':
        return batch;
      case 'reverse':
        return batch.slice().reverse();
      case 'random': {
        const a = batch.slice();
        this.rng.shuffle(a);
        return a;
      }
    }
  }

  /**
   * Round-robin over the ordered completions: one part of each in turn, so
   * PDUs of different commands alternate while completions still finish
   * in the chosen order (for equal sizes).
   */
  private emitInterleaved(ordered: T[]): void {
    let active = ordered;
    for (let p = 0; active.length > 0; p++) {
      const still: T[] = [];
      for (const c of active) {
        this.emit(c, p);
        if (p + 1 < c.parts) still.push(c);
      }
      active = still;
    }
  }

  private cancelTimer(): void {
    if (this.timer === null) return;
    if (this.policy.delayUs > 0) clearTimeout(this.timer as NodeJS.Timeout);
    else clearImmediate(this.timer as NodeJS.Immediate);
    this.timer = null;
  }
}
