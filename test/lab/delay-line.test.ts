import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/host/net/clock.js';
import { DelayLine } from '../../src/lab/delay-line.js';
import { mulberry32 } from '../../src/base/seeded-rng.js';

const frame = (n: number): Buffer => Buffer.from([n]);

describe('DelayLine', () => {
  it('delivers every frame delayMs after it was sent, in order', () => {
    const clock = new VirtualClock(0);
    const got: [number, number][] = [];
    const line = new DelayLine(clock, { delayMs: 2 }, (f) => got.push([f[0]!, clock.nowMs()]));
    line.send(frame(1));
    clock.advance(1);
    line.send(frame(2));
    expect(line.inFlight).toBe(2);
    clock.advance(10);
    expect(got).toEqual([
      [1, 2],
      [2, 3],
    ]);
    expect(line.inFlight).toBe(0);
  });

  it('a frame held back is overtaken; with fifo nothing passes an earlier frame', () => {
    for (const fifo of [false, true]) {
      const clock = new VirtualClock(0);
      const got: number[] = [];
      // reorder 1: every copy is held back 5 ms — but only the first frame's, as the rng below decides.
      let k = 0;
      const draws = [0, 0.99]; // first frame: reordered (0 < 0.5); second: not
      const line = new DelayLine(clock, { delayMs: 1, rnd: () => draws[k++]!, impair: { reorder: 0.5, jitterMs: 5 }, fifo }, (f) => got.push(f[0]!));
      line.send(frame(1));
      line.send(frame(2));
      clock.advance(20);
      expect(line.reordered).toBe(1);
      expect(got).toEqual(fifo ? [1, 2] : [2, 1]);
    }
  });

  it('loss and duplication follow the seed, and the same seed replays the same wire', () => {
    const runOnce = (seed: number): { got: number[]; dropped: number; duplicated: number } => {
      const clock = new VirtualClock(0);
      const got: number[] = [];
      const line = new DelayLine(clock, { delayMs: 0.05, rnd: mulberry32(seed), impair: { loss: 0.2, dup: 0.2, dupGapMs: 0.01 } }, (f) => got.push(f[0]!));
      for (let i = 0; i < 200; i++) line.send(frame(i));
      clock.advance(1);
      return { got, dropped: line.dropped, duplicated: line.duplicated };
    };
    const a = runOnce(7);
    expect(a).toEqual(runOnce(7));
    expect(a.got.length).toBe(200 - a.dropped + a.duplicated);
    expect(a.dropped).toBeGreaterThan(10);
    expect(a.duplicated).toBeGreaterThan(10);
    expect(runOnce(8).got).not.toEqual(a.got);
  });

  it('refuses impairments without a seeded generator', () => {
    expect(() => new DelayLine(new VirtualClock(0), { delayMs: 1, impair: { loss: 0.1 } }, () => {})).toThrow(/seeded generator/);
  });
});
