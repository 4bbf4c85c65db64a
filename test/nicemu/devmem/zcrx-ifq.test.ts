import { describe, expect, it } from 'vitest';
import { DevmemDevice } from '../../../src/nicemu/devmem/device.js';
import { RefillRing } from '../../../src/nicemu/devmem/refill-ring.js';
import { ZcrxRegisterError, registerZcrxIfq } from '../../../src/nicemu/devmem/zcrx-ifq.js';

describe('zcrx: registering an interface queue', () => {
  it('takes a header-split queue, area id 0, rq_entries rounded up to a power of two', () => {
    const dev = new DevmemDevice({ queues: ['off', 'tcp'] });
    const ifq = registerZcrxIfq(dev, { queue: 1, areaBytes: 1 << 20, rqEntries: 100 });
    expect(ifq.areaId).toBe(0);
    expect(ifq.areaToken).toBe(0n);
    expect(ifq.refillRing.capacity).toBe(128);
    expect(ifq.pool.chunks).toBe(256);
    expect(dev.binding(ifq.binding.id)).toBe(ifq.binding);
    ifq.close();
    expect(dev.binding(ifq.binding.id)).toBeUndefined();
  });

  it('refuses what the kernel refuses', () => {
    const dev = new DevmemDevice({ queues: ['off', 'tcp'] });
    expect(() => registerZcrxIfq(dev, { queue: 1, areaBytes: 5000, rqEntries: 8 })).toThrow(ZcrxRegisterError);
    expect(() => registerZcrxIfq(dev, { queue: 1, areaBytes: 8192, rqEntries: 0 })).toThrow(/rq_entries/);
    expect(() => registerZcrxIfq(dev, { queue: 1, areaBytes: 8192, rqEntries: 32769 })).toThrow(/rq_entries/);
    expect(() => registerZcrxIfq(dev, { queue: 1, areaBytes: 8192, rqEntries: 8, cqe32: false })).toThrow(/CQE32/);
    // header split off on queue 0; queue 7 does not exist
    expect(() => registerZcrxIfq(dev, { queue: 0, areaBytes: 8192, rqEntries: 8 })).toThrow(/header split/);
    expect(() => registerZcrxIfq(dev, { queue: 7, areaBytes: 8192, rqEntries: 8 })).toThrow();
    registerZcrxIfq(dev, { queue: 1, areaBytes: 8192, rqEntries: 32768 });
    // The queue has a memory provider now.
    expect(() => registerZcrxIfq(dev, { queue: 1, areaBytes: 8192, rqEntries: 8 })).toThrow(/already/);
  });
});

describe('refill ring', () => {
  it('keeps order across wrap-around, refuses a write when full, skips padded entries', () => {
    const ring = new RefillRing(4);
    let next = 0;
    let expectNext = 0;
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 3; i++) expect(ring.produce({ off: BigInt(next++), len: 1 })).toBe(true);
      for (let i = 0; i < 3; i++) expect(ring.consume()!.off).toBe(BigInt(expectNext++));
    }
    expect(ring.head).toBe(30);
    expect(ring.tail).toBe(30);
    for (let i = 0; i < 4; i++) ring.produce({ off: BigInt(i), len: 1, pad: i === 1 ? 7 : 0 });
    expect(ring.produce({ off: 9n, len: 1 })).toBe(false);
    expect(ring.stats.full).toBe(1);
    expect([ring.consume()!.off, ring.consume()!.off, ring.consume()!.off]).toEqual([0n, 2n, 3n]);
    expect(ring.consume()).toBeUndefined();
    expect(ring.stats.skippedPad).toBe(1);
  });
});
