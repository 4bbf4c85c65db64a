import { describe, expect, it } from 'vitest';
import { CompletionScheduler, Prng, type SchedulerPolicy } from '../../src/target/scheduler.js';

interface Item {
  readonly id: number;
  readonly parts: number;
}

function run(policy: SchedulerPolicy, seed: number, items: Item[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const s = new CompletionScheduler<Item>(policy, new Prng(seed), (c, p) => out.push([c.id, p]));
  for (const it of items) s.submit(it);
  s.flush();
  return out;
}

const items: Item[] = Array.from({ length: 8 }, (_, i) => ({ id: i, parts: 3 }));

describe('completion scheduler', () => {
  it('answers a batch in arrival order with fifo', () => {
    const out = run({ order: 'fifo', interleave: false, batchMax: 64, delayUs: 0 }, 1, items);
    expect(out.filter(([, p]) => p === 0).map(([id]) => id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(out).toHaveLength(24);
  });

  it('answers a batch backwards with reverse', () => {
    const out = run({ order: 'reverse', interleave: false, batchMax: 64, delayUs: 0 }, 1, items);
    expect(out.filter(([, p]) => p === 0).map(([id]) => id)).toEqual([7, 6, 5, 4, 3, 2, 1, 0]);
  });

  it('shuffles reproducibly with random and a seed', () => {
    const policy: SchedulerPolicy = { order: 'random', interleave: false, batchMax: 64, delayUs: 0 };
    const a = run(policy, 5, items);
    const b = run(policy, 5, items);
    const c = run(policy, 6, items);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    const firsts = a.filter(([, p]) => p === 0).map(([id]) => id);
    expect(firsts).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect([...firsts].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('interleaves parts of different completions but keeps each one in order', () => {
    const out = run({ order: 'fifo', interleave: true, batchMax: 64, delayUs: 0 }, 3, items);
    expect(out).toHaveLength(24);
    const seen = new Map<number, number>();
    let switches = 0;
    for (let i = 0; i < out.length; i++) {
      const [id, p] = out[i] as [number, number];
      expect(p).toBe(seen.get(id) ?? 0);
      seen.set(id, p + 1);
      if (i > 0 && (out[i - 1] as [number, number])[0] !== id && p !== 0) switches++;
    }
    expect(switches).toBeGreaterThan(0);
  });

  it('releases a batch at the next event-loop turn, or at batchMax', async () => {
    const out: number[] = [];
    const s = new CompletionScheduler<Item>({ order: 'reverse', interleave: false, batchMax: 3, delayUs: 0 }, new Prng(1), (c) =>
      out.push(c.id),
    );
    s.submit({ id: 0, parts: 1 });
    s.submit({ id: 1, parts: 1 });
    expect(out).toEqual([]);
    s.submit({ id: 2, parts: 1 }); // batchMax reached
    expect(out).toEqual([2, 1, 0]);
    s.submit({ id: 3, parts: 1 });
    s.submit({ id: 4, parts: 1 });
    await new Promise((r) => setImmediate(r));
    expect(out).toEqual([2, 1, 0, 4, 3]);
    s.close();
  });

  it('holds a batch for delayUs before releasing it', async () => {
    const out: number[] = [];
    const s = new CompletionScheduler<Item>({ order: 'fifo', interleave: false, batchMax: 64, delayUs: 100_000 }, new Prng(1), (c) =>
      out.push(c.id),
    );
    s.submit({ id: 0, parts: 1 });
    await new Promise((r) => setImmediate(r));
    expect(out).toEqual([]);
    s.submit({ id: 1, parts: 1 }); // joins the held batch
    while (out.length === 0) await new Promise((r) => setTimeout(r, 1));
    expect(out).toEqual([0, 1]);
    s.close();
  });

  it('draws uniform-ish values below n from the PRNG', () => {
    const rng = new Prng(123);
    const counts = [0, 0, 0];
    for (let i = 0; i < 3000; i++) counts[rng.below(3)]!++;
    for (const c of counts) expect(c).toBeGreaterThan(800);
    expect(Prng.derive(1, 2).nextU32()).not.toBe(Prng.derive(1, 3).nextU32());
  });
});
