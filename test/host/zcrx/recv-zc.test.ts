import { describe, expect, it } from 'vitest';
import { IORING_CQE_F_MORE, ZcrxError, type ZcrxCqe } from '../../../src/host/zcrx/recv-zc.js';
import { ZCRX_AREA_SHIFT } from '../../../src/nicemu/devmem/refill-ring.js';
import { ZcrxLink } from '../../support/host/zcrx-link-rig.js';
import { pattern } from '../../support/nicemu/header-split-rig.js';

const OFFSET_MASK = (1n << BigInt(ZCRX_AREA_SHIFT)) - 1n;

/** The stream bytes of data CQEs, read out of the area where each CQE points. */
function contentOf(link: ZcrxLink, cqes: readonly ZcrxCqe[]): Buffer {
  return Buffer.concat(cqes.filter((c) => (c.flags & IORING_CQE_F_MORE) !== 0).map((c) => link.ifq.read(Number(c.off & OFFSET_MASK), c.res)));
}

describe('zcrx: RECV_ZC completions', () => {
  it('carry res = length and the area id in the top bits of off; the bytes are in the area where off points', () => {
    const link = new ZcrxLink();
    const data = pattern(50_000, 3);
    link.send(data);
    link.zc!.arm();
    expect(link.zc!.issue()).toBe(50_000);
    const cqes = link.cq.reap();
    expect(cqes.length).toBeGreaterThan(30);
    expect(link.ifq.areaToken).toBe(BigInt(link.ifq.areaId) << 48n);
    for (const c of cqes) {
      expect(c.flags & IORING_CQE_F_MORE).toBe(IORING_CQE_F_MORE);
      expect(c.off >> 48n).toBe(BigInt(link.ifq.areaId));
      expect(Number(c.off & OFFSET_MASK) + c.res).toBeLessThanOrEqual(link.ifq.areaBytes);
      // A completion never crosses a niov.
      expect(Math.floor(Number(c.off & OFFSET_MASK) / 4096)).toBe(Math.floor((Number(c.off & OFFSET_MASK) + c.res - 1) / 4096));
    }
    expect(cqes.reduce((s, c) => s + c.res, 0)).toBe(50_000);
    expect(contentOf(link, cqes).equals(data)).toBe(true);
    expect(link.zc!.stats.zcBytes).toBe(50_000);
    expect(link.zc!.stats.copyFallbackBytes).toBe(0);
    expect(link.ifq.pool.stats['user-refs']).toBe(cqes.length);
    expect(link.zc!.armed).toBe(true);
  });

  it('a length-limited request completes with res 0 once it has its length; EOF completes a multishot one', () => {
    const link = new ZcrxLink();
    link.send(pattern(10_000, 1));
    link.zc!.arm(4000);
    expect(link.zc!.issue()).toBe(4000);
    const cqes = link.cq.reap();
    expect(cqes.at(-1)).toEqual({ res: 0, flags: 0, off: 0n });
    expect(cqes.slice(0, -1).reduce((s, c) => s + c.res, 0)).toBe(4000);
    expect(link.zc!.armed).toBe(false);
    expect(() => link.zc!.arm(0xffff_ffff)).toThrow(ZcrxError);
    link.zc!.arm();
    expect(() => link.zc!.arm()).toThrow(/already armed/);
    expect(link.zc!.issue()).toBe(6000);
    link.peer.close();
    link.runUntil(() => link.host.readEnded, 10_000);
    expect(link.zc!.issue()).toBe(0);
    expect(link.cq.reap().at(-1)).toEqual({ res: 0, flags: 0, off: 0n });
    expect(link.zc!.armed).toBe(false);
  });

  it('stops at a full completion queue: ENOSPC only when nothing was consumed', () => {
    const link = new ZcrxLink({ cqEntries: 4 });
    link.send(pattern(30_000, 2));
    link.zc!.arm();
    const first = link.zc!.issue();
    expect(link.cq.length).toBe(4);
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThan(30_000);
    expect(link.zc!.stats.deferredErrors).toBe(1);
    expect(link.zc!.issue()).toBe(0);
    const cqes = link.cq.reap();
    expect(cqes.at(-1)).toEqual({ res: -28, flags: 0, off: 0n });
    expect(link.cq.overflowed).toBe(1);
    expect(link.zc!.stats.ENOSPC).toBe(1);
    expect(link.host.readableLength).toBe(30_000 - first);
  });
});

describe('zcrx: the refill ring', () => {
  it('wraps around: a 4-entry ring carries a 2 MiB stream through a 64 KiB area', () => {
    const link = new ZcrxLink({ areaBytes: 64 << 10, rqEntries: 4 });
    expect(link.ifq.refillRing.capacity).toBe(4);
    const data = pattern(2 << 20, 9);
    const got: Buffer[] = [];
    link.zc!.arm();
    const drain = (): void => {
      link.zc!.issue();
      for (const c of link.cq.reap()) {
        if ((c.flags & IORING_CQE_F_MORE) === 0) continue;
        got.push(link.ifq.read(Number(c.off & OFFSET_MASK), c.res));
        // The application waits for room on the ring: the NIC consumes entries as it takes pages.
        while (!link.zc!.refill(c)) link.ifq.pool.refill();
      }
    };
    link.host.handlers.onReadable = drain;
    link.peer.write([data]);
    link.runUntil(() => got.reduce((s, b) => s + b.length, 0) >= data.length, 120_000);
    expect(Buffer.concat(got).equals(data)).toBe(true);
    const ring = link.ifq.refillRing;
    expect(ring.stats.produced).toBe(link.zc!.stats.cqes);
    // Head and tail ran round the 4 slots many times.
    expect(ring.tail).toBe(ring.stats.produced);
    expect(ring.stats.produced).toBeGreaterThan(400);
    expect(link.ifq.pool.stats['ring-consumed']).toBeGreaterThan(400);
    expect(link.ifq.pool.stats['ring-invalid']).toBe(0);
  });

  it('ignores entries for another area, with a pad, or past the area; the user reference stays', () => {
    const link = new ZcrxLink({ areaBytes: 64 << 10 });
    link.send(pattern(3000, 4));
    link.zc!.arm();
    link.zc!.issue();
    const [c] = link.cq.reap();
    const refs = link.ifq.pool.stats['user-refs'];
    const ring = link.ifq.refillRing;
    ring.produce({ off: c!.off | (1n << 48n), len: c!.res });
    ring.produce({ off: c!.off, len: c!.res, pad: 1 });
    ring.produce({ off: link.ifq.areaToken | BigInt(link.ifq.areaBytes), len: 100 });
    link.ifq.pool.refill();
    expect(ring.stats.skippedPad).toBe(1);
    expect(link.ifq.pool.stats['ring-invalid']).toBe(2);
    expect(link.ifq.pool.stats['user-refs']).toBe(refs);
    link.zc!.refill(c!);
    link.ifq.pool.refill();
    expect(link.ifq.pool.stats['user-refs']).toBe(refs - 1);
  });
});

describe('zcrx: the copy fallback', () => {
  it('copies bytes that are not in an area niov into fresh niovs (offset 0 of each), counted', () => {
    const link = new ZcrxLink({ attach: false });
    // Before the socket holds the flow the NIC keeps its payload in host memory.
    const early = pattern(10_000, 5);
    link.send(early);
    link.attach();
    const late = pattern(20_000, 6);
    link.send(late);
    link.zc!.arm();
    expect(link.zc!.issue()).toBe(30_000);
    const cqes = link.cq.reap();
    const st = link.zc!.stats;
    expect(st.copyFallbackBytes).toBe(10_000);
    expect(st.copyFallbackFragBytes).toBe(10_000);
    // One fresh niov per piece of each skb: 7 segments of at most 1448 bytes.
    expect(st.copyFallbackCqes).toBe(Math.ceil(10_000 / 1448));
    expect(st.zcBytes).toBe(20_000);
    const fallback = cqes.slice(0, st.copyFallbackCqes);
    expect(fallback.every((c) => Number(c.off & OFFSET_MASK) % 4096 === 0 && c.res <= 4096)).toBe(true);
    expect(link.ifq.stats.fallbackWriteBytes).toBe(10_000);
    expect(contentOf(link, cqes).equals(Buffer.concat([early, late]))).toBe(true);
  });

  it('with no free niov: the request completes with -ENOMEM, the bytes stay queued; returned buffers help only once the NIC refills', () => {
    // 4 niovs; each segment's bytes (1448) take a fresh niov of their own.
    const link = new ZcrxLink({ attach: false, areaBytes: 16 << 10 });
    const data = pattern(20_000, 7);
    link.send(data);
    link.attach();
    link.zc!.arm();
    const first = link.zc!.issue();
    expect(first).toBe(4 * 1448);
    expect(link.zc!.stats.copyFallbackCqes).toBe(4);
    expect(link.zc!.stats.deferredErrors).toBe(1);
    expect(link.zc!.issue()).toBe(0);
    const cqes = link.cq.reap();
    expect(cqes.at(-1)).toEqual({ res: -12, flags: 0, off: 0n });
    expect(link.zc!.armed).toBe(false);
    expect(link.zc!.stats.ENOMEM).toBe(1);
    expect(link.host.readableLength).toBe(20_000 - first);
    const got = contentOf(link, cqes);
    for (const c of cqes.slice(0, -1)) link.zc!.refill(c);
    // The fallback reads only the free list: the entries wait on the ring.
    link.zc!.arm();
    expect(link.zc!.issue()).toBe(0);
    expect(link.cq.reap().at(-1)!.res).toBe(-12);
    // The NIC's next allocation takes the ring's entries back.
    link.ifq.pool.refill();
    link.zc!.arm();
    expect(link.zc!.issue()).toBe(first);
    const more = link.cq.reap();
    expect(more.at(-1)!.res).toBeGreaterThan(0);
    expect(Buffer.concat([got, contentOf(link, more)]).equals(data.subarray(0, 2 * first))).toBe(true);
  });
});
