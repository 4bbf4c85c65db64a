import { describe, expect, it } from 'vitest';
import { PortCounters, type RxFrame } from '../../src/nicemu/port/port.js';
import { RxRing } from '../../src/nicemu/rx-ring.js';

function frame(n: number, len = 60): RxFrame {
  const data = Buffer.alloc(len);
  data.writeUInt32BE(n, 0);
  return { data, tsUs: n };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('RxRing', () => {
  it('hands frames over in order, in batches of at most batchFrames, never synchronously from push', async () => {
    const counters = new PortCounters();
    const ring = new RxRing(counters, { capacityFrames: 100, batchFrames: 8, budgetUs: 0 });
    const batches: number[][] = [];
    ring.setConsumer((b) => batches.push(b.map((f) => f.tsUs)));
    for (let i = 0; i < 20; i++) ring.push(frame(i));
    expect(batches).toEqual([]);
    for (let k = 0; k < 5; k++) await turn();
    expect(batches.map((b) => b.length)).toEqual([8, 8, 4]);
    expect(batches.flat()).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(counters.rxFrames).toBe(20);
    expect(counters.rxBytes).toBe(20 * 60);
  });

  it('with no time budget left, delivers one batch per turn, so other callbacks run between batches', async () => {
    const ring = new RxRing(new PortCounters(), { capacityFrames: 100, batchFrames: 4, budgetUs: 0 });
    const events: string[] = [];
    ring.setConsumer((b) => {
      events.push(`batch${b.length}`);
      if (events.length === 1) setImmediate(() => events.push('other'));
    });
    for (let i = 0; i < 12; i++) ring.push(frame(i));
    for (let k = 0; k < 5; k++) await turn();
    expect(events).toEqual(['batch4', 'other', 'batch4', 'batch4']);
  });

  it('within its time budget, hands over batch after batch in one turn', async () => {
    const ring = new RxRing(new PortCounters(), { capacityFrames: 100, batchFrames: 4, budgetUs: 1e9 });
    const events: string[] = [];
    ring.setConsumer((b) => {
      events.push(`batch${b.length}`);
      if (events.length === 1) setImmediate(() => events.push('other'));
    });
    for (let i = 0; i < 10; i++) ring.push(frame(i));
    for (let k = 0; k < 3; k++) await turn();
    expect(events).toEqual(['batch4', 'batch4', 'batch2', 'other']);
  });

  it('drops and counts frames that find the ring full; frames queued before the consumer wait for it', async () => {
    const counters = new PortCounters();
    const ring = new RxRing(counters, { capacityFrames: 3, batchFrames: 10 });
    expect([ring.push(frame(0)), ring.push(frame(1)), ring.push(frame(2)), ring.push(frame(3))]).toEqual([true, true, true, false]);
    expect(ring.full).toBe(true);
    expect(counters.rxQueueDrops).toBe(1);
    const got: number[] = [];
    ring.setConsumer((b) => got.push(...b.map((f) => f.tsUs)));
    await turn();
    expect(got).toEqual([0, 1, 2]);
    expect(ring.push(frame(4))).toBe(true);
    await turn();
    expect(got).toEqual([0, 1, 2, 4]);
  });

  it('wraps around its slots without losing order', async () => {
    const ring = new RxRing(new PortCounters(), { capacityFrames: 5, batchFrames: 2 });
    const got: number[] = [];
    ring.setConsumer((b) => got.push(...b.map((f) => f.tsUs)));
    let next = 0;
    for (let round = 0; round < 10; round++) {
      while (!ring.full) ring.push(frame(next++));
      await turn();
    }
    for (let k = 0; k < 10; k++) await turn();
    expect(got).toEqual(Array.from({ length: next }, (_, i) => i));
  });

  it('whenNotFull waits for a free slot; drained waits for the consumer', async () => {
    const ring = new RxRing(new PortCounters(), { capacityFrames: 2, batchFrames: 1 });
    ring.push(frame(0));
    ring.push(frame(1));
    let free = false;
    void ring.whenNotFull().then(() => (free = true));
    await turn();
    expect(free).toBe(false);
    const got: number[] = [];
    ring.setConsumer((b) => got.push(...b.map((f) => f.tsUs)));
    await ring.drained();
    expect(free).toBe(true);
    expect(got).toEqual([0, 1]);
  });

  it('refuses a second consumer; after close it drops what was queued and counts later pushes as drops', async () => {
    const counters = new PortCounters();
    const ring = new RxRing(counters, { capacityFrames: 4, batchFrames: 4 });
    const got: RxFrame[] = [];
    ring.setConsumer((b) => got.push(...b));
    expect(() => ring.setConsumer(() => {})).toThrow(expect.objectContaining({ code: 'PORT_CONSUMER_SET' }));
    ring.push(frame(0));
    ring.close();
    expect(ring.push(frame(1))).toBe(false);
    await turn();
    expect(got).toEqual([]);
    expect(counters.rxQueueDrops).toBe(1);
  });

  it('rejects nonsense sizes', () => {
    expect(() => new RxRing(new PortCounters(), { capacityFrames: 0, batchFrames: 1 })).toThrow(RangeError);
    expect(() => new RxRing(new PortCounters(), { capacityFrames: 1, batchFrames: 1.5 })).toThrow(RangeError);
  });
});
