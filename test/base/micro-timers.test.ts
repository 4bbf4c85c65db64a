/**
 * Microsecond timers (base/micro-timers.ts) on virtual time: a timer never
 * fires before it is due, fires on the first loop turn at or after it,
 * in due order; far timers sleep first (whole milliseconds, short of the
 * spin window) and only then turn the loop; cancelled timers never fire and
 * stop the turning. One live check that the real loop drives it.
 */
import { describe, expect, it } from 'vitest';
import { MicroTimers, SPIN_US, type MicroTimerHost } from '../../src/base/micro-timers.js';

/** A loop on virtual time: turns run when step() is called; sleeps wake when their time has come. */
class VirtualLoop implements MicroTimerHost {
  now = 1_000_000;
  turns: (() => void)[] = [];
  sleeps: { at: number; fn: () => void; ms: number }[] = [];
  turnCalls = 0;
  nowUs(): number {
    return this.now;
  }
  turn(fn: () => void): void {
    this.turnCalls++;
    this.turns.push(fn);
  }
  sleep(fn: () => void, ms: number): void {
    this.sleeps.push({ at: this.now + ms * 1000, fn, ms });
  }
  /** Advances the clock by `us` and runs one loop iteration: due sleeps, then the turns queued before it. */
  step(us: number): void {
    this.now += us;
    const due = this.sleeps.filter((s) => s.at <= this.now);
    this.sleeps = this.sleeps.filter((s) => s.at > this.now);
    for (const s of due) s.fn();
    const turns = this.turns;
    this.turns = [];
    for (const t of turns) t();
  }
}

describe('MicroTimers', () => {
  it('fires a 50 µs timer on the first turn at or after its due time, never before', () => {
    const loop = new VirtualLoop();
    const t = new MicroTimers(loop);
    const fired: number[] = [];
    t.schedule(() => fired.push(loop.now), 50);
    expect(loop.sleeps).toHaveLength(0); // within the spin window: no millisecond sleep
    for (let i = 0; i < 4; i++) loop.step(10);
    expect(fired).toEqual([]);
    loop.step(10);
    expect(fired).toEqual([1_000_050]);
    expect(t.size).toBe(0);
    // Nothing left: the loop is no longer kept turning.
    const calls = loop.turnCalls;
    loop.step(10);
    expect(loop.turnCalls).toBe(calls);
  });

  it('fires in due order, ties in the order they were scheduled', () => {
    const loop = new VirtualLoop();
    const t = new MicroTimers(loop);
    const order: string[] = [];
    t.schedule(() => order.push('c'), 300);
    t.schedule(() => order.push('a'), 100);
    t.schedule(() => order.push('b1'), 200);
    t.schedule(() => order.push('b2'), 200);
    loop.step(150);
    expect(order).toEqual(['a']);
    loop.step(1000);
    expect(order).toEqual(['a', 'b1', 'b2', 'c']);
  });

  it('sleeps towards a far timer in whole milliseconds, then turns the loop for the rest', () => {
    const loop = new VirtualLoop();
    const t = new MicroTimers(loop);
    let firedAt = -1;
    t.schedule(() => (firedAt = loop.now), 10_000);
    expect(loop.turns).toHaveLength(0);
    expect(loop.sleeps).toHaveLength(1);
    // Wakes no later than SPIN_US before it is due.
    expect(loop.sleeps[0]!.at).toBeLessThanOrEqual(1_000_000 + 10_000 - SPIN_US);
    // Only sleeps until it is within the spin window; from then on the loop is kept turning.
    while (loop.turns.length === 0) {
      expect(loop.sleeps.length).toBeGreaterThan(0);
      loop.step(Math.min(...loop.sleeps.map((x) => x.at)) - loop.now);
    }
    expect(firedAt).toBe(-1);
    expect(1_010_000 - loop.now).toBeLessThanOrEqual(SPIN_US);
    while (firedAt < 0) loop.step(7);
    expect(firedAt).toBeGreaterThanOrEqual(1_010_000);
    expect(firedAt).toBeLessThan(1_010_007);
  });

  it('a sooner timer scheduled behind a sleeping far one is not held back by that sleep', () => {
    const loop = new VirtualLoop();
    const t = new MicroTimers(loop);
    const fired: string[] = [];
    t.schedule(() => fired.push('far'), 20_000);
    t.schedule(() => fired.push('near'), 40);
    loop.step(40);
    expect(fired).toEqual(['near']);
    while (loop.now < 1_000_000 + 20_000) loop.step(250);
    loop.step(1);
    expect(fired).toEqual(['near', 'far']);
  });

  it('a cancelled timer never fires, and the loop stops turning for it', () => {
    const loop = new VirtualLoop();
    const t = new MicroTimers(loop);
    let fired = 0;
    const cancel = t.schedule(() => fired++, 50);
    loop.step(10);
    cancel();
    cancel(); // twice is harmless
    expect(t.size).toBe(0);
    loop.step(100);
    const calls = loop.turnCalls;
    loop.step(100);
    expect(fired).toBe(0);
    expect(loop.turnCalls).toBe(calls);
  });

  it('refuses a delay that is negative or not a number', () => {
    const t = new MicroTimers(new VirtualLoop());
    expect(() => t.schedule(() => undefined, -1)).toThrow(RangeError);
    expect(() => t.schedule(() => undefined, Number.NaN)).toThrow(/not a finite number/);
    expect(t.size).toBe(0);
  });

  it('runs on the real event loop: a 50 µs timer fires, a cancelled one does not', async () => {
    const t = new MicroTimers();
    let cancelledFired = false;
    const cancel = t.schedule(() => (cancelledFired = true), 20);
    cancel();
    const t0 = performance.now();
    const at = await new Promise<number>((resolve) => t.schedule(() => resolve(performance.now()), 50));
    expect(at - t0).toBeGreaterThanOrEqual(0.05);
    expect(cancelledFired).toBe(false);
    expect(t.size).toBe(0);
  });
});
