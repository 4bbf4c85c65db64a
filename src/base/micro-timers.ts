/**
 * Timers with microsecond resolution for a live event loop.
 *
 * Node's setTimeout counts whole milliseconds and fires at the earliest one
 * loop iteration after its due time: `setTimeout(fn, 0.05)` runs after
 * 1 ms or more, twenty times the 50 µs asked for. A model of hardware
 * whose latencies are tens of microseconds (a NIC finishing a DDP teardown)
 * would then wait a millisecond per event — at queue depth 1 that was half
 * of every read's latency. MicroTimers sleeps with setTimeout only while
 * the nearest due time is more than SPIN_US away, and covers the rest by
 * keeping the event loop turning (setImmediate: each turn still polls the
 * loop's I/O, without blocking) until it is due: as precise as one loop
 * turn, at the cost of the thread's CPU for at most SPIN_US per timer,
 * which is the NIC's own time.
 *
 * The clock and the two ways of waiting are injectable, so tests drive it
 * on virtual time.
 */

/** Due times further than this (µs) are first slept towards with setTimeout. */
export const SPIN_US = 1500;

export interface MicroTimerHost {
  /** Now, in microseconds (any fixed origin). */
  nowUs(): number;
  /** Calls `fn` after the current turn's I/O, without blocking in between. */
  turn(fn: () => void): void;
  /** Calls `fn` after at least `ms` whole milliseconds. */
  sleep(fn: () => void, ms: number): void;
}

export const LIVE_TIMER_HOST: MicroTimerHost = {
  nowUs: () => performance.now() * 1000,
  turn: (fn) => void setImmediate(fn),
  sleep: (fn, ms) => void setTimeout(fn, ms).unref(),
};

interface Pending {
  readonly due: number;
  readonly fn: () => void;
  cancelled: boolean;
}

export class MicroTimers {
  /** Pending timers, by due time (ties in scheduling order). */
  private pending: Pending[] = [];
  private turning = false;
  private sleepingUntil = Infinity;

  constructor(private readonly host: MicroTimerHost = LIVE_TIMER_HOST) {}

  /** Runs `fn` once `us` microseconds have passed; returns a cancel. */
  schedule(fn: () => void, us: number): () => void {
    if (!Number.isFinite(us) || us < 0) throw new RangeError(`timer delay ${us} µs is not a finite number >= 0`);
    const p: Pending = { due: this.host.nowUs() + us, fn, cancelled: false };
    const list = this.pending;
    let i = list.length;
    while (i > 0 && list[i - 1]!.due > p.due) i--;
    list.splice(i, 0, p);
    this.arm();
    return () => {
      if (p.cancelled) return;
      p.cancelled = true;
      const k = this.pending.indexOf(p);
      if (k >= 0) this.pending.splice(k, 1);
    };
  }

  /** Timers waiting (not fired, not cancelled). */
  get size(): number {
    return this.pending.length;
  }

  /** Makes sure something will look at the nearest timer in time. */
  private arm(): void {
    if (this.turning || this.pending.length === 0) return;
    const due = this.pending[0]!.due;
    const wait = due - this.host.nowUs();
    if (wait <= SPIN_US) {
      this.turning = true;
      this.host.turn(this.tick);
      return;
    }
    // Sleep until SPIN_US before it is due (whole ms, rounded down), unless a sleep already ends sooner.
    const wakeAt = due - SPIN_US;
    if (wakeAt >= this.sleepingUntil) return;
    this.sleepingUntil = wakeAt;
    this.host.sleep(this.wake, Math.max(1, Math.floor((wakeAt - this.host.nowUs()) / 1000)));
  }

  private readonly wake = (): void => {
    this.sleepingUntil = Infinity;
    this.arm();
  };

  private readonly tick = (): void => {
    this.turning = false;
    const now = this.host.nowUs();
    const list = this.pending;
    let n = 0;
    while (n < list.length && list[n]!.due <= now) n++;
    const due = n > 0 ? list.splice(0, n) : [];
    for (const p of due) {
      p.cancelled = true;
      p.fn();
    }
    this.arm();
  };
}
