/**
 * Time for the host stack: a millisecond clock and re-armable timers.
 *
 * TCP needs a handful of timers per connection (retransmission, delayed ACK,
 * persist, TIME-WAIT) that are re-armed on almost every segment. A timer here
 * is an object made once per purpose with its callback bound once; arming it
 * again costs no closure. Two implementations:
 *  - `RealClock`: performance.now() and setTimeout, for live runs;
 *  - `VirtualClock`: time moves only when a test calls `advance`, so every
 *    timer-driven behaviour (RTO backoff, delayed ACK, persist probes) is
 *    deterministic and tests never sleep.
 */

export interface Clock {
  /** Monotonic milliseconds (fractional allowed); only differences mean anything. */
  nowMs(): number;
  /** A disarmed timer that calls `fire` each time it expires. */
  createTimer(fire: () => void): ClockTimer;
}

export interface ClockTimer {
  /** (Re-)arms the timer to fire `delayMs` from now, replacing any earlier arming. */
  arm(delayMs: number): void;
  cancel(): void;
  readonly armed: boolean;
  /** Absolute deadline on the clock's time line; Infinity when disarmed. */
  readonly deadlineMs: number;
}

/**
 * Wall-clock timers. Re-arming to a later deadline keeps the pending
 * setTimeout and, when it fires early, sleeps again for the remainder: an
 * RTO pushed forward by every ACK then costs no clearTimeout/setTimeout pair.
 * Cancelling keeps the pending setTimeout too, unref'd (it no longer keeps
 * the process alive, as a cleared one would not): a delayed-ACK or
 * retransmission timer cancelled and re-armed once per segment or command
 * reuses it, and a stale one that fires finds nothing armed and does nothing.
 */
export class RealClock implements Clock {
  nowMs(): number {
    return performance.now();
  }

  createTimer(fire: () => void): ClockTimer {
    return new RealTimer(this, fire);
  }
}

class RealTimer implements ClockTimer {
  deadlineMs = Infinity;
  private handle: NodeJS.Timeout | undefined;
  /** When the pending setTimeout will call back (its own deadline, not ours). */
  private handleDueMs = Infinity;
  /** The pending setTimeout keeps the process alive (false once cancelled). */
  private refed = false;
  private readonly onTimeout: () => void;

  constructor(
    private readonly clock: RealClock,
    private readonly fire: () => void,
  ) {
    this.onTimeout = () => this.expire();
  }

  get armed(): boolean {
    return this.deadlineMs !== Infinity;
  }

  arm(delayMs: number): void {
    const now = this.clock.nowMs();
    this.deadlineMs = now + Math.max(0, delayMs);
    if (this.handle !== undefined && this.handleDueMs <= this.deadlineMs) {
      if (!this.refed) {
        this.handle.ref();
        this.refed = true;
      }
      return;
    }
    this.schedule(now);
  }

  cancel(): void {
    this.deadlineMs = Infinity;
    if (this.handle !== undefined && this.refed) {
      this.handle.unref();
      this.refed = false;
    }
  }

  private schedule(now: number): void {
    if (this.handle !== undefined) clearTimeout(this.handle);
    const delay = Math.max(0, this.deadlineMs - now);
    this.handleDueMs = now + delay;
    this.handle = setTimeout(this.onTimeout, delay);
    this.refed = true;
  }

  private expire(): void {
    this.handle = undefined;
    this.handleDueMs = Infinity;
    this.refed = false;
    if (this.deadlineMs === Infinity) return;
    const now = this.clock.nowMs();
    // setTimeout may call back a little early relative to performance.now().
    if (now + 0.5 < this.deadlineMs) {
      this.schedule(now);
      return;
    }
    this.deadlineMs = Infinity;
    this.fire();
  }
}

/**
 * A clock for tests: `nowMs()` is whatever the test advanced it to; timers
 * fire, in deadline order (ties in arming order), inside `advance`.
 */
export class VirtualClock implements Clock {
  private now: number;
  private readonly timers: VirtualTimer[] = [];
  private armSerial = 0;

  constructor(startMs = 0) {
    this.now = startMs;
  }

  nowMs(): number {
    return this.now;
  }

  createTimer(fire: () => void): ClockTimer {
    const t = new VirtualTimer(this, fire);
    this.timers.push(t);
    return t;
  }

  /** @internal ordering key so that timers with equal deadlines fire in arming order. */
  nextSerial(): number {
    return ++this.armSerial;
  }

  /** The earliest armed deadline, or Infinity. */
  nextDeadlineMs(): number {
    const t = this.earliest();
    return t === undefined ? Infinity : t.deadlineMs;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way (including ones armed by callbacks). */
  advance(ms: number): void {
    this.advanceTo(this.now + ms);
  }

  advanceTo(targetMs: number): void {
    for (;;) {
      const t = this.earliest();
      if (t === undefined || t.deadlineMs > targetMs) break;
      if (t.deadlineMs > this.now) this.now = t.deadlineMs;
      t.expire();
    }
    if (targetMs > this.now) this.now = targetMs;
  }

  /**
   * Fires the next due timer (moving time to it) and returns true, or false
   * when no timer is armed or the next one lies beyond `limitMs`.
   */
  step(limitMs = Infinity): boolean {
    const t = this.earliest();
    if (t === undefined || t.deadlineMs > limitMs) return false;
    if (t.deadlineMs > this.now) this.now = t.deadlineMs;
    t.expire();
    return true;
  }

  private earliest(): VirtualTimer | undefined {
    let best: VirtualTimer | undefined;
    for (let i = 0; i < this.timers.length; i++) {
      const t = this.timers[i]!;
      if (t.deadlineMs === Infinity) continue;
      if (best === undefined || t.deadlineMs < best.deadlineMs || (t.deadlineMs === best.deadlineMs && t.serial < best.serial)) best = t;
    }
    return best;
  }
}

class VirtualTimer implements ClockTimer {
  deadlineMs = Infinity;
  serial = 0;

  constructor(
    private readonly clock: VirtualClock,
    private readonly fire: () => void,
  ) {}

  get armed(): boolean {
    return this.deadlineMs !== Infinity;
  }

  arm(delayMs: number): void {
    this.deadlineMs = this.clock.nowMs() + Math.max(0, delayMs);
    this.serial = this.clock.nextSerial();
  }

  cancel(): void {
    this.deadlineMs = Infinity;
  }

  expire(): void {
    this.deadlineMs = Infinity;
    this.fire();
  }
}
