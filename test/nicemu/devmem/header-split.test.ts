import { describe, expect, it } from 'vitest';
import type { Skb } from '../../../src/nicemu/skb.js';
import { HsRig, KEY, c2hData, capsuleResp, icResp, pattern, readStream, split } from '../../support/nicemu/header-split-rig.js';
import { xorshift32 } from '../../../src/base/seeded-rng.js';

/** Is stream position `p` inside a C2HData payload range? */
function inPayload(ranges: readonly [number, number][], p: number): boolean {
  for (const [a, b] of ranges) if (p >= a && p < b) return true;
  return false;
}

/** Every byte of `skb` (stream offset `off`) is in the dmabuf exactly when it is C2HData payload, and holds the right value. */
function expectPduSplit(rig: HsRig, stream: Buffer, ranges: readonly [number, number][], skb: Skb, off: number, tag: string): void {
  let p = off;
  let wrong = -1;
  for (const f of skb.frags) {
    const n = f.kind === 'dmabuf' ? f.size : f.buf.length;
    for (let i = 0; i < n && wrong < 0; i++) if (inPayload(ranges, p + i) !== (f.kind === 'dmabuf')) wrong = p + i;
    p += n;
  }
  expect(wrong, `${tag}: first byte on the wrong side of the split`).toBe(-1);
  expect(p - off).toBe(skb.len);
  expect(rig.payloadOf(skb).equals(stream.subarray(off, off + skb.len)), `${tag}: content`).toBe(true);
}

/** xorshift32 as floats in [0, 1). */
function prng(seed: number): () => number {
  const next = xorshift32(seed);
  return () => next() / 0x1_0000_0000;
}

describe('header split, tcp mode (plain devmem TCP)', () => {
  it('puts every payload byte in dmabuf pages, keeps L2-L4 headers in the head, and tags frags with the binding id', () => {
    const rig = new HsRig({ mode: 'tcp' });
    rig.synAck();
    const data = pattern(5000);
    const a = rig.send(0, data.subarray(0, 1448))!;
    const b = rig.send(1448, data.subarray(1448))!;
    for (const skb of [a, b]) {
      expect(skb.frags.every((f) => f.kind === 'dmabuf' && f.dmabufId === rig.binding.id)).toBe(true);
      expect(skb.head.length).toBe(54);
    }
    expect(Buffer.concat([rig.payloadOf(a), rig.payloadOf(b)]).equals(data)).toBe(true);
    expect(rig.dev.stats['rx-devmem-bytes']).toBe(5000);
    expect(rig.dev.stats['rx-hds-header-bytes']).toBe(0);
    expect(split(b).device).toBe(3552);
  });

  it('hands segments over in host memory while no devmem socket holds the flow', () => {
    const rig = new HsRig({ mode: 'tcp', attach: false });
    rig.synAck();
    const skb = rig.send(0, pattern(1000))!;
    expect(skb.frags.map((f) => f.kind)).toEqual(['host']);
    expect(rig.dev.isLinear((skb.frags[0] as { buf: Buffer }).buf)).toBe(false);
    expect(rig.dev.stats['rx-hds-host-packets']).toBe(1);
    expect(rig.binding.pool.stats.alloc).toBe(0);
  });
});

describe('header split, nvme mode (PDU-aware)', () => {
  const reads = [pattern(5000, 1), pattern(300, 2), pattern(9000, 3), pattern(4096, 4)];

  it('puts exactly the C2HData payload in the dmabuf and every header and digest byte in host memory', () => {
    for (const dg of [{}, { hdgst: true, ddgst: true }]) {
      const rig = new HsRig({ mode: 'nvme' });
      rig.synAck();
      const { stream, payload } = readStream(reads, { ...dg, chunk: 4096 });
      for (let off = 0; off < stream.length; off += 1448) {
        const skb = rig.sendRange(stream, off, Math.min(stream.length, off + 1448))!;
        expectPduSplit(rig, stream, payload, skb, off, `${JSON.stringify(dg)} segment at ${off}`);
      }
      const payloadBytes = reads.reduce((n, r) => n + r.length, 0);
      expect(rig.dev.stats['rx-devmem-bytes']).toBe(payloadBytes);
      expect(rig.engine.syncState).toBe('sync');
      expect(rig.dev.stats['rx-hds-lost-sync']).toBe(0);
    }
  });

  it('follows headers split across segments of any size (seeded cuts)', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const r = prng(seed);
      const rig = new HsRig({ mode: 'nvme' });
      rig.synAck();
      const { stream, payload } = readStream(reads, { hdgst: seed % 2 === 0, ddgst: seed % 3 === 0, chunk: 1000 + Math.floor(r() * 4000) });
      let off = 0;
      while (off < stream.length) {
        const n = Math.min(stream.length - off, 1 + Math.floor(r() * (r() < 0.3 ? 12 : 3000)));
        const skb = rig.sendRange(stream, off, off + n)!;
        expectPduSplit(rig, stream, payload, skb, off, `seed ${seed} at ${off}`);
        off += n;
      }
      expect(rig.dev.stats['rx-hds-lost-sync'], `seed ${seed}`).toBe(0);
    }
  });

  it('marks split-off header bytes as linear (header buffer) and passes a segment without payload through whole', () => {
    const rig = new HsRig({ mode: 'nvme' });
    rig.synAck();
    const ic = icResp();
    const respOnly = rig.send(0, ic)!;
    expect(respOnly.frags.length).toBe(1);
    expect(rig.dev.isLinear((respOnly.frags[0] as { buf: Buffer }).buf)).toBe(false);
    const pdu = c2hData(0, 0, pattern(2000), { last: true });
    const withData = rig.send(ic.length, pdu)!;
    expect(withData.frags.map((f) => f.kind)).toEqual(['host', 'dmabuf']);
    expect(rig.dev.isLinear((withData.frags[0] as { buf: Buffer }).buf)).toBe(true);
    expect(rig.dev.stats['rx-hds-header-bytes']).toBe(24);
  });

  it('splits a retransmission behind the walker the same way, and skips a hole inside a PDU body', () => {
    const rig = new HsRig({ mode: 'nvme' });
    rig.synAck();
    const { stream, payload } = readStream([pattern(20_000, 7)], {});
    const segs: [number, number][] = [];
    for (let off = 0; off < stream.length; off += 1000) segs.push([off, Math.min(stream.length, off + 1000)]);
    // Segment 5 lies wholly inside the 20000-byte payload: lost now, sent after the rest.
    for (let i = 0; i < segs.length; i++) {
      if (i === 5) continue;
      const [a, b] = segs[i]!;
      expectPduSplit(rig, stream, payload, rig.sendRange(stream, a, b)!, a, `first copy ${i}`);
    }
    const [a5, b5] = segs[5]!;
    expectPduSplit(rig, stream, payload, rig.sendRange(stream, a5, b5)!, a5, 'late segment 5');
    // A re-segmented retransmission across the first header and payload.
    expectPduSplit(rig, stream, payload, rig.sendRange(stream, 100, 2500)!, 100, 'retransmission');
    expect(rig.dev.stats['rx-hds-lost-sync']).toBe(0);
  });

  it('loses sync on a hole that hides a header, stays in host memory, and splits again once the ULP confirms a resync', () => {
    const rig = new HsRig({ mode: 'nvme', acceptResync: true });
    rig.synAck();
    const data = [pattern(3000, 1), pattern(3000, 2), pattern(3000, 3), pattern(3000, 4), pattern(3000, 5)];
    const { stream, payload, starts } = readStream(data, {});
    // The header of read 1's C2HData starts after read 0's PDU and CapsuleResp.
    const hdr1 = payload[1]![0] - 24;
    const lossFrom = hdr1 - 10;
    const lossTo = hdr1 + 10;
    rig.sendRange(stream, 0, lossFrom);
    // Beyond the hole: nothing can be known about the framing until a header is found and confirmed.
    const after = rig.sendRange(stream, lossTo, lossTo + 2000)!;
    expect(split(after).device).toBe(0);
    expect(rig.engine.syncState).not.toBe('sync');
    expect(rig.dev.stats['rx-hds-lost-sync']).toBe(1);
    expect(rig.payloadOf(after).equals(stream.subarray(lossTo, lossTo + 2000))).toBe(true);
    let off = lossTo + 2000;
    const seg = (n: number): Skb => {
      const s = rig.sendRange(stream, off, off + n)!;
      off += n;
      return s;
    };
    while (rig.resyncRequests.length === 0) expect(split(seg(1000)).device).toBe(0);
    expect(rig.engine.syncState).toBe('speculative');
    const asked = rig.resyncRequests[0]!;
    const askedOff = (asked - rig.base) >>> 0;
    expect(starts).toContain(askedOff);
    // The host's parser reaches that header: the engine splits from the next segment on.
    expect(rig.engine.resync(asked)).toBe(true);
    expect(rig.engine.syncState).toBe('sync');
    const next = seg(Math.min(2000, stream.length - off));
    expectPduSplit(rig, stream, payload, next, off - next.len, 'after resync');
    expect(rig.dev.stats['rx-hds-resync']).toBe(1);
  });

  it('a resync answer for another header fails and the search starts over', () => {
    const rig = new HsRig({ mode: 'nvme', acceptResync: true });
    rig.synAck();
    const { stream, payload } = readStream([pattern(3000, 1), pattern(3000, 2), pattern(3000, 3), pattern(3000, 4)], {});
    const hdr1 = payload[1]![0] - 24;
    rig.sendRange(stream, 0, hdr1 - 4);
    rig.sendRange(stream, hdr1 + 4, stream.length);
    expect(rig.engine.syncState).toBe('speculative');
    expect(rig.engine.resync((rig.resyncRequests[0]! + 1) >>> 0)).toBe(false);
    expect(rig.engine.syncState).toBe('searching');
    expect(rig.dev.stats['rx-hds-resync-fail']).toBe(1);
  });

  it('walks while unattached, so a flow attached later splits correctly from its next segment', () => {
    const rig = new HsRig({ mode: 'nvme', attach: false });
    rig.synAck();
    const { stream, payload } = readStream(reads, { chunk: 2048 });
    for (let off = 0; off < 9000; off += 1500) expect(split(rig.sendRange(stream, off, off + 1500)!).device).toBe(0);
    rig.engine.attach();
    const skb = rig.sendRange(stream, 9000, 12_000)!;
    expect(split(skb).device).toBeGreaterThan(0);
    expectPduSplit(rig, stream, payload, skb, 9000, 'attached');
  });

  it('vouches for data digests it checked (ddpCrcOk) and not for a bad one', () => {
    const rig = new HsRig({ mode: 'nvme' });
    rig.synAck();
    const ic = icResp({ ddgst: true });
    rig.send(0, ic);
    const good = c2hData(0, 0, pattern(3000, 1), { ddgst: true, last: true });
    const bad = Buffer.from(c2hData(1, 0, pattern(3000, 2), { ddgst: true, last: true }));
    bad[bad.length - 1]! ^= 0xff;
    let off = ic.length;
    const skbs: Skb[] = [];
    for (const pdu of [good, capsuleResp(0), bad]) {
      for (let i = 0; i < pdu.length; i += 1000) skbs.push(rig.send(off + i, pdu.subarray(i, Math.min(pdu.length, i + 1000)))!);
      off += pdu.length;
    }
    expect(skbs.slice(0, 4).every((s) => s.ddpCrcOk)).toBe(true);
    expect(skbs[skbs.length - 1]!.ddpCrcOk).toBe(false);
    expect(rig.dev.stats['rx-hds-crc-ok']).toBe(1);
    expect(rig.dev.stats['rx-hds-crc-fail']).toBe(1);
  });

  it('drops a frame the page pool cannot hold (counted), keeps walking, and splits its retransmission', () => {
    for (const mode of ['tcp', 'nvme'] as const) {
      const rig = new HsRig({ mode, poolBytes: 2 * 4096 });
      rig.synAck();
      const { stream, payload } = readStream([pattern(12_000, 9)], {});
      const pool = rig.binding.pool;
      // The application holds every frag it got (a user reference each).
      const held: number[] = [];
      let off = 0;
      let dropped = -1;
      while (off < stream.length) {
        const skb = rig.sendRange(stream, off, Math.min(stream.length, off + 1448));
        if (skb === undefined) {
          dropped = off;
          break;
        }
        for (const f of skb.frags) if (f.kind === 'dmabuf') (pool.getUserRef(f.offset), held.push(f.offset));
        off += skb.len;
      }
      expect(dropped, mode).toBeGreaterThan(0);
      expect(rig.dev.stats['rx-devmem-drops']).toBe(1);
      expect(pool.stats['alloc-empty']).toBe(1);
      // Still empty: the next one is dropped too.
      expect(rig.sendRange(stream, dropped + 1448, dropped + 2896)).toBeUndefined();
      for (const o of held) pool.putUserRef(o);
      const again = rig.sendRange(stream, dropped, dropped + 1448)!;
      expect(again).toBeDefined();
      if (mode === 'nvme') expectPduSplit(rig, stream, payload, again, dropped, 'retransmitted after the drop');
      else expect(rig.payloadOf(again).equals(stream.subarray(dropped, dropped + 1448))).toBe(true);
      expect(rig.engine.syncState).toBe('sync');
    }
  });

  it('ignores segments of another flow key and passes through once the flow is released', () => {
    const rig = new HsRig({ mode: 'nvme' });
    rig.synAck();
    rig.dev.releaseFlow(KEY);
    expect(rig.dev.engine(KEY)).toBeUndefined();
    const skb = rig.send(0, icResp())!;
    expect(skb.frags.map((f) => f.kind)).toEqual(['host']);
  });
});
