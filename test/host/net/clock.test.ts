import { describe, expect, it } from 'vitest';
import { RealClock, VirtualClock } from '../../../src/host/net/clock.js';

describe('VirtualClock', () => {
  it('fires timers in deadline order while advancing, at their deadlines', () => {
    const clock = new VirtualClock(100);
    const fired: [string, number][] = [];
    const a = clock.createTimer(() => fired.push(['a', clock.nowMs()]));
    const b = clock.createTimer(() => fired.push(['b', clock.nowMs()]));
    a.arm(30);
    b.arm(10);
    expect(clock.nextDeadlineMs()).toBe(110);
    clock.advance(50);
    expect(fired).toEqual([
      ['b', 110],
      ['a', 130],
    ]);
    expect(clock.nowMs()).toBe(150);
    expect(a.armed).toBe(false);
  });

  it('re-arming replaces the deadline and cancel disarms', () => {
    const clock = new VirtualClock();
    let n = 0;
    const t = clock.createTimer(() => n++);
    t.arm(10);
    clock.advance(5);
    t.arm(10);
    clock.advance(9);
    expect(n).toBe(0);
    clock.advance(1);
    expect(n).toBe(1);
    t.arm(5);
    t.cancel();
    clock.advance(100);
    expect(n).toBe(1);
  });

  it('fires timers armed by a callback within the same advance', () => {
    const clock = new VirtualClock();
    const times: number[] = [];
    const t = clock.createTimer(() => {
      times.push(clock.nowMs());
      if (times.length < 3) t.arm(times.length * 100);
    });
    t.arm(100);
    clock.advance(1000);
    expect(times).toEqual([100, 200, 400]);
  });
});

describe('RealClock', () => {
  it('fires a re-armed timer once, not before the later deadline', async () => {
    const clock = new RealClock();
    const start = clock.nowMs();
    let count = 0;
    let firedAt = -1;
    let done: () => void = () => {};
    const fired = new Promise<void>((r) => (done = r));
    const t = clock.createTimer(() => {
      count++;
      firedAt = clock.nowMs();
      done();
    });
    t.arm(5);
    t.arm(20);
    await fired;
    expect(firedAt - start).toBeGreaterThanOrEqual(19.5);
    await new Promise((r) => setTimeout(r, 30));
    expect(count).toBe(1);
    expect(t.armed).toBe(false);
  });

  it('a cancelled timer never fires, keeps nothing alive, and can be armed again', async () => {
    const clock = new RealClock();
    const timeouts = (): number => process.getActiveResourcesInfo().filter((x) => x === 'Timeout').length;
    const before = timeouts();
    let count = 0;
    let done: () => void = () => {};
    const fired = new Promise<void>((r) => (done = r));
    const t = clock.createTimer(() => {
      count++;
      done();
    });
    t.arm(10);
    expect(timeouts()).toBe(before + 1);
    t.cancel();
    expect(t.armed).toBe(false);
    // Cancelled: its pending setTimeout no longer holds the event loop, as a cleared one would not.
    expect(timeouts()).toBe(before);
    await new Promise((r) => setTimeout(r, 25));
    expect(count).toBe(0);
    const start = clock.nowMs();
    const mid = timeouts();
    t.arm(5);
    t.cancel();
    t.arm(15);
    expect(timeouts()).toBe(mid + 1);
    await fired;
    expect(clock.nowMs() - start).toBeGreaterThanOrEqual(14.5);
    await new Promise((r) => setTimeout(r, 25));
    expect(count).toBe(1);
  });
});
