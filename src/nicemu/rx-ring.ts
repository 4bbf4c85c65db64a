/**
 * The rx ring between a Port backend and its consumer: a bounded FIFO of
 * received frames, handed over in batches on a later turn of the event loop.
 *
 * Like a NIC's descriptor ring it has a fixed number of slots: a backend that
 * finds it full drops the frame and counts it (rxQueueDrops), so a slow
 * consumer costs frames, never unbounded memory. Delivery runs in a
 * setImmediate turn and hands over batch after batch until the ring is empty
 * or the turn has used its time budget — Linux's NAPI softirq stops the same
 * way (net.core.netdev_budget_usecs, 2 ms by default). Then Node runs its
 * timers and polls I/O (the capture socket included) before the next turn,
 * so a flood cannot starve the host's TCP timers, and a backend that is
 * itself called from the poll phase never re-enters the consumer.
 */
import type { PortCounters, RxConsumer, RxFrame } from './port/port.js';
import { PortError } from './port/port.js';

export interface RxRingOptions {
  /** Slots: frames held for the consumer at most. */
  readonly capacityFrames: number;
  /** Frames per batch handed to the consumer at most. */
  readonly batchFrames: number;
  /**
   * Time one turn may spend handing batches over, in µs (default 2000, as
   * netdev_budget_usecs); at least one batch is delivered per turn.
   */
  readonly budgetUs?: number;
}

export class RxRing {
  private readonly slots: (RxFrame | undefined)[];
  private head = 0;
  private count = 0;
  private consumer: RxConsumer | null = null;
  private scheduled: NodeJS.Immediate | null = null;
  private closed = false;
  private readonly waiters: (() => void)[] = [];

  constructor(
    private readonly counters: PortCounters,
    private readonly opts: RxRingOptions,
  ) {
    if (!Number.isInteger(opts.capacityFrames) || opts.capacityFrames < 1) {
      throw new RangeError(`RxRing: capacityFrames must be a positive integer, got ${opts.capacityFrames}`);
    }
    if (!Number.isInteger(opts.batchFrames) || opts.batchFrames < 1) {
      throw new RangeError(`RxRing: batchFrames must be a positive integer, got ${opts.batchFrames}`);
    }
    this.slots = new Array<RxFrame | undefined>(opts.capacityFrames);
  }

  /** Frames waiting for the consumer. */
  get length(): number {
    return this.count;
  }

  get full(): boolean {
    return this.count === this.slots.length;
  }

  /** Queues a frame; false (and rxQueueDrops counted) when the ring is full or closed. */
  push(frame: RxFrame): boolean {
    if (this.closed || this.count === this.slots.length) {
      this.counters.rxQueueDrops++;
      return false;
    }
    this.slots[(this.head + this.count) % this.slots.length] = frame;
    this.count++;
    this.schedule();
    return true;
  }

  setConsumer(consumer: RxConsumer): void {
    if (this.consumer !== null) throw new PortError('PORT_CONSUMER_SET', 'this port already has a frame consumer');
    this.consumer = consumer;
    this.schedule();
  }

  /** Resolves when a slot is free (at once if one is): lets a file backend wait instead of dropping. */
  whenNotFull(): Promise<void> {
    if (!this.full || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Resolves once every queued frame has been handed to the consumer. */
  async drained(): Promise<void> {
    while (this.count > 0 && !this.closed) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Forgets queued frames and stops delivery. */
  close(): void {
    this.closed = true;
    if (this.scheduled !== null) clearImmediate(this.scheduled);
    this.scheduled = null;
    this.slots.fill(undefined);
    this.count = 0;
    this.wakeWaiters();
  }

  private schedule(): void {
    if (this.scheduled === null && this.consumer !== null && this.count > 0 && !this.closed) {
      this.scheduled = setImmediate(this.deliver);
    }
  }

  private readonly deliver = (): void => {
    this.scheduled = null;
    const budgetMs = (this.opts.budgetUs ?? 2000) / 1000;
    const start = performance.now();
    do {
      if (!this.deliverBatch()) return;
    } while (this.count > 0 && this.scheduled === null && performance.now() - start < budgetMs);
    this.schedule();
  };

  /** Hands one batch to the consumer; false if there was nobody or nothing to hand over. */
  private deliverBatch(): boolean {
    const consumer = this.consumer;
    if (consumer === null || this.closed || this.count === 0) return false;
    const n = Math.min(this.count, this.opts.batchFrames);
    const batch = new Array<RxFrame>(n);
    let bytes = 0;
    for (let k = 0; k < n; k++) {
      const at = (this.head + k) % this.slots.length;
      const frame = this.slots[at]!;
      this.slots[at] = undefined;
      batch[k] = frame;
      bytes += frame.data.length;
    }
    this.head = (this.head + n) % this.slots.length;
    this.count -= n;
    this.counters.rxFrames += n;
    this.counters.rxBytes += bytes;
    this.wakeWaiters();
    try {
      consumer(batch);
    } catch (e) {
      // The error surfaces (uncaught) but the ring does not stall.
      this.schedule();
      throw e;
    }
    return true;
  }

  private wakeWaiters(): void {
    if (this.waiters.length === 0) return;
    const waiters = this.waiters.splice(0);
    for (const wake of waiters) wake();
  }
}
