/**
 * One direction of a virtual wire on a VirtualClock: frames sent now arrive
 * `delayMs` later, through one timer, with seeded impairments — loss,
 * duplication (the copy `dupGapMs` behind the original), and reordering
 * (a frame held back `jitterMs`, so later ones overtake it). The in-memory
 * links of `ddplab devmem-check` and of the tests use it.
 *
 * The seeded generator is asked once per impairment that is given (loss,
 * dup) and once per copy for reorder, in that order, so a seed replays the
 * same wire. Arrivals are ordered by due time (a frame held back is
 * overtaken), or kept first in, first out with `fifo` (a later frame never
 * passes an earlier one, even a duplicate due a little later).
 */
import type { ClockTimer, VirtualClock } from '../host/net/clock.js';

export interface DelayLineImpairment {
  /** Chance a frame is lost. */
  readonly loss?: number;
  /** Chance a frame is delivered twice. */
  readonly dup?: number;
  /** How far the duplicate trails the original (default 0). */
  readonly dupGapMs?: number;
  /** Chance a copy is held back `jitterMs` (default 1 ms). */
  readonly reorder?: number;
  readonly jitterMs?: number;
}

export interface DelayLineOptions {
  readonly delayMs: number;
  /** The seeded generator the impairments draw from (required when any is given). */
  readonly rnd?: () => number;
  readonly impair?: DelayLineImpairment;
  /** Deliver in send order whatever the due times (default: by due time). */
  readonly fifo?: boolean;
}

export class DelayLine {
  private readonly queue: { due: number; frame: Buffer }[] = [];
  private readonly timer: ClockTimer;
  private readonly imp: DelayLineImpairment;
  dropped = 0;
  duplicated = 0;
  reordered = 0;

  constructor(
    private readonly clock: VirtualClock,
    private readonly o: DelayLineOptions,
    private readonly deliver: (frame: Buffer) => void,
  ) {
    this.imp = o.impair ?? {};
    const i = this.imp;
    if ((i.loss !== undefined || i.dup !== undefined || i.reorder !== undefined) && o.rnd === undefined) {
      throw new Error('DelayLine: impairments need a seeded generator (rnd)');
    }
    this.timer = clock.createTimer(() => this.flush());
  }

  readonly send = (frame: Buffer): void => {
    const i = this.imp;
    const rnd = this.o.rnd;
    if (i.loss !== undefined && rnd!() < i.loss) {
      this.dropped++;
      return;
    }
    const copies = i.dup !== undefined && rnd!() < i.dup ? 2 : 1;
    if (copies === 2) this.duplicated++;
    for (let k = 0; k < copies; k++) {
      let due = this.clock.nowMs() + this.o.delayMs + k * (i.dupGapMs ?? 0);
      if (i.reorder !== undefined && rnd!() < i.reorder) {
        due += i.jitterMs ?? 1;
        this.reordered++;
      }
      let at = this.queue.length;
      if (this.o.fifo !== true) while (at > 0 && this.queue[at - 1]!.due > due) at--;
      this.queue.splice(at, 0, { due, frame });
    }
    this.arm();
  };

  /** Frames in flight. */
  get inFlight(): number {
    return this.queue.length;
  }

  private arm(): void {
    if (this.queue.length > 0) this.timer.arm(Math.max(0, this.queue[0]!.due - this.clock.nowMs()));
  }

  private flush(): void {
    const now = this.clock.nowMs();
    while (this.queue.length > 0 && this.queue[0]!.due <= now) this.deliver(this.queue.shift()!.frame);
    this.arm();
  }
}
