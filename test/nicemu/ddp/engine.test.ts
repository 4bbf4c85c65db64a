/**
 * The per-socket DDP engine, one rule at a time, on hand-cut streams: what
 * it places (and where), what it leaves to the host, when it loses sync and
 * how resync brings it back, which skbs it vouches for the data digest of.
 */
import { describe, expect, it } from 'vitest';
import type { Skb } from '../../../src/nicemu/skb.js';
import { c2hData, capsuleResp, DdpRig, destination, fragBytes, KEY, pattern } from '../../support/nicemu/ddp-engine-rig.js';

function cat(...bufs: Buffer[]): Buffer {
  return Buffer.concat(bufs);
}

/** Guard bytes around a destination are still 0xa5. */
function guardsIntact(mem: Buffer, buf: Buffer): boolean {
  const start = buf.byteOffset - mem.byteOffset;
  for (let i = 0; i < mem.length; i++) {
    if ((i < start || i >= start + buf.length) && mem[i] !== 0xa5) return false;
  }
  return true;
}

function placedViews(skbs: readonly Skb[]): Buffer[] {
  const out: Buffer[] = [];
  for (const s of skbs) for (const f of s.frags) if (f.kind === 'placed') out.push(f.buf);
  return out;
}

/**
 * 8192 bytes of C2HData for CID 1 into a buffer 100 bytes into a page, sent
 * as three segments (0-1000, 1000-5000, the rest with the response): every
 * byte lands where it belongs and the guard bytes around it stay.
 */
function placeAcrossThreeSegments(rig: DdpRig): { rig: DdpRig; mem: Buffer; buf: Buffer; a: Skb; b: Skb; c: Skb } {
  const data = pattern(8192);
  const { mem, buf } = destination(8192, 100);
  expect(rig.setup(1, buf)).toBeUndefined();
  const stream = cat(c2hData(1, 0, data, { last: true }), capsuleResp(1));
  const a = rig.sendRange(stream, 0, 1000);
  const b = rig.sendRange(stream, 1000, 5000);
  const c = rig.sendRange(stream, 5000, stream.length);
  expect(buf.equals(data)).toBe(true);
  expect(guardsIntact(mem, buf)).toBe(true);
  return { rig, mem, buf, a, b, c };
}

describe('DDP engine: placement', () => {
  it('places a C2HData payload split across three segments; PDU headers stay host frags', () => {
    const { rig, mem, buf, a, b, c } = placeAcrossThreeSegments(new DdpRig());
    // The 24-byte header is the host frag at the front; the rest of the first segment is placed.
    expect(a.frags[0]).toMatchObject({ kind: 'host' });
    expect(a.frags[0]!.kind === 'host' && a.frags[0]!.buf.length).toBe(24);
    expect(fragBytes(a)).toEqual({ host: 24, placed: 976 });
    expect(fragBytes(b)).toEqual({ host: 0, placed: 4000 });
    expect(fragBytes(c)).toEqual({ host: 24, placed: 8192 - 4976 });
    expect(a.ddpPlaced && b.ddpPlaced && c.ddpPlaced).toBe(true);
    // Every placed frag views the destination where its bytes belong, and stays inside one page.
    let at = 0;
    for (const v of placedViews([a, b, c])) {
      expect(v.buffer).toBe(mem.buffer);
      expect(v.byteOffset).toBe(buf.byteOffset + at);
      expect((v.byteOffset % 4096) + v.length).toBeLessThanOrEqual(4096);
      at += v.length;
    }
    expect(at).toBe(8192);
    expect(rig.stats['rx-nvme-tcp-packets']).toBe(3);
    expect(rig.stats['rx-nvme-tcp-bytes']).toBe(8192);
  });

  it('without pagedFrags (the NIC thread), a segment crossing pages is one copy and one placed frag per contiguous run, the same bytes', () => {
    const { mem, buf, a, b, c } = placeAcrossThreeSegments(new DdpRig({ device: { pagedFrags: false } }));
    expect(fragBytes(a)).toEqual({ host: 24, placed: 976 });
    expect(fragBytes(b)).toEqual({ host: 0, placed: 4000 });
    expect(fragBytes(c)).toEqual({ host: 24, placed: 8192 - 4976 });
    // 100 bytes into a page, the 8192 bytes cross two page boundaries; b's 4000 bytes cross one and are one frag.
    const views = placedViews([a, b, c]);
    expect(views.map((v) => v.length)).toEqual([976, 4000, 8192 - 4976]);
    let at = 0;
    for (const v of views) {
      expect(v.buffer).toBe(mem.buffer);
      expect(v.byteOffset).toBe(buf.byteOffset + at);
      at += v.length;
    }
    // An SGL whose pages are not one run (every other page of a larger buffer) still gets a frag per page.
    const rig2 = new DdpRig({ device: { pagedFrags: false } });
    const big = destination(4 * 4096, 0);
    const pages = [0, 2].map((p) => big.buf.subarray(p * 4096, (p + 1) * 4096));
    expect(rig2.setupSgl(2, pages)).toBeUndefined();
    const data2 = pattern(8192, 5);
    const stream2 = cat(c2hData(2, 0, data2, { last: true }), capsuleResp(2));
    const d = rig2.sendRange(stream2, 0, stream2.length);
    expect(placedViews([d]).map((v) => v.byteOffset - big.buf.byteOffset)).toEqual([0, 2 * 4096]);
    expect(big.buf.subarray(0, 4096).equals(data2.subarray(0, 4096))).toBe(true);
    expect(big.buf.subarray(2 * 4096, 3 * 4096).equals(data2.subarray(4096))).toBe(true);
    // The page between them is never written.
    expect(big.buf.subarray(4096, 2 * 4096).every((x) => x === big.buf[4096])).toBe(true);
    expect(guardsIntact(big.mem, big.buf)).toBe(true);
  });

  it('walks headers split across segments and many PDUs per segment, padding included', () => {
    const rig = new DdpRig({ hdgst: true });
    const d1 = pattern(3000, 1);
    const d2 = pattern(5000, 2);
    const b1 = destination(3000, 7).buf;
    const b2 = destination(5000, 4000).buf;
    rig.setup(3, b1);
    rig.setup(9, b2);
    const stream = cat(
      c2hData(3, 0, d1.subarray(0, 1000), { hdgst: true, pda: 7 }),
      c2hData(9, 0, d2.subarray(0, 2500), { hdgst: true }),
      c2hData(3, 1000, d1.subarray(1000), { hdgst: true, pda: 31, last: true }),
      capsuleResp(3, { hdgst: true }),
      c2hData(9, 2500, d2.subarray(2500), { hdgst: true, last: true }),
      capsuleResp(9, { hdgst: true }),
    );
    const cuts = [3, 20, 31, stream.length - 40, stream.length];
    let from = 0;
    for (const to of cuts) {
      rig.sendRange(stream, from, to);
      from = to;
    }
    expect(b1.equals(d1)).toBe(true);
    expect(b2.equals(d2)).toBe(true);
    expect(rig.stats['rx-nvme-tcp-bytes']).toBe(8000);
    expect(rig.stats['rx-nvme-tcp-lost-sync']).toBe(0);
    // Header, HDGST and padding bytes were all left to the host.
    const host = rig.got.reduce((n, s) => n + fragBytes(s).host, 0);
    expect(host).toBe(stream.length - 8000);
  });

  it('places a segment that arrives ahead of a hole inside PDU data, and the hole when it is filled', () => {
    const rig = new DdpRig();
    const data = pattern(6000);
    const { buf } = destination(6000);
    rig.setup(1, buf);
    const stream = cat(c2hData(1, 0, data, { last: true }), capsuleResp(1));
    rig.sendRange(stream, 0, 1000);
    const ahead = rig.sendRange(stream, 3000, stream.length);
    const late = rig.sendRange(stream, 1000, 3000);
    expect(fragBytes(ahead).placed).toBe(stream.length - 3000 - 24);
    expect(fragBytes(late).placed).toBe(2000);
    expect(buf.equals(data)).toBe(true);
    expect(rig.stats['rx-nvme-tcp-lost-sync']).toBe(0);
  });

  it('never changes placed bytes: a retransmission with other bytes stays a host frag', () => {
    const rig = new DdpRig();
    const data = pattern(4000);
    const { buf } = destination(4000);
    rig.setup(1, buf);
    const stream = cat(c2hData(1, 0, data, { last: true }), capsuleResp(1));
    rig.sendRange(stream, 0, 2000);
    const forged = Buffer.from(stream.subarray(1000, 3000)).fill(0x33, 0, 1000);
    const again = rig.send(1000, forged);
    // [1000, 2000) was seen: host; [2000, 3000) is new: placed, with this segment's bytes.
    expect(fragBytes(again)).toEqual({ host: 1000, placed: 1000 });
    expect(buf.subarray(0, 2976).equals(data.subarray(0, 2976))).toBe(true);
    expect(rig.stats['rx-nvme-tcp-dup-bytes']).toBe(1000);
  });

  it('does not place a PDU that maps to buffer bytes already mapped (a controller sending a range twice)', () => {
    const rig = new DdpRig();
    const { buf } = destination(4000);
    rig.setup(1, buf);
    const first = pattern(4000, 1);
    const stream = cat(c2hData(1, 0, first), c2hData(1, 0, pattern(4000, 2), { last: true }));
    rig.sendRange(stream, 0, 4024);
    const second = rig.sendRange(stream, 4024, stream.length);
    expect(fragBytes(second).placed).toBe(0);
    expect(buf.equals(first)).toBe(true);
  });

  it('ends a mapping when the completion for its CID goes by on the wire', () => {
    const rig = new DdpRig();
    const { buf } = destination(8000);
    const before = Buffer.from(buf);
    rig.setup(1, buf);
    const stream = cat(c2hData(1, 0, pattern(4000, 1)), capsuleResp(1), c2hData(1, 4000, pattern(4000, 2), { last: true }));
    rig.sendRange(stream, 0, stream.length);
    expect(buf.subarray(0, 4000).equals(pattern(4000, 1))).toBe(true);
    // Data for the CID after its CapsuleResp is not the registered read's.
    expect(buf.subarray(4000).equals(before.subarray(4000))).toBe(true);
  });

  it('never maps a PDU that was on the wire before the setup', () => {
    const rig = new DdpRig();
    const { buf } = destination(4000);
    const before = Buffer.from(buf);
    const stream = c2hData(2, 0, pattern(4000), { last: true });
    rig.sendRange(stream, 0, 10);
    rig.setup(2, buf);
    const rest = rig.sendRange(stream, 10, stream.length);
    expect(fragBytes(rest).placed).toBe(0);
    expect(buf.equals(before)).toBe(true);
  });

  it('stops writing a buffer at teardown and reports completion later', () => {
    const rig = new DdpRig();
    const { buf } = destination(4000);
    rig.setup(1, buf);
    const data = pattern(4000);
    const stream = c2hData(1, 0, data, { last: true });
    rig.sendRange(stream, 0, 1024);
    expect(rig.device.teardown(KEY, 1)).toBe(true);
    expect(rig.teardownsDone).toEqual([]);
    const after = rig.sendRange(stream, 1024, stream.length);
    expect(fragBytes(after).placed).toBe(0);
    expect(buf.subarray(1000).equals(data.subarray(1000))).toBe(false);
    rig.deferred.splice(0).forEach((fn) => fn());
    expect(rig.teardownsDone).toEqual([1]);
    expect(rig.stats['rx-nvme-tcp-teardown']).toBe(1);
  });

  it('does not place data beyond the registered buffer or for a CID outside the table, and counts them', () => {
    const rig = new DdpRig({ queueSize: 16 });
    const { buf } = destination(1000);
    const before = Buffer.from(buf);
    rig.setup(1, buf);
    const stream = cat(c2hData(1, 500, pattern(600)), c2hData(20, 0, pattern(100)));
    const skb = rig.sendRange(stream, 0, stream.length);
    expect(fragBytes(skb).placed).toBe(0);
    expect(buf.equals(before)).toBe(true);
    expect(rig.stats['rx-nvme-tcp-drop']).toBe(2);
  });

  it('places across the 2^32 sequence number wrap', () => {
    const rig = new DdpRig({ base: 0xffff_f000 });
    const data = pattern(10_000);
    const { buf } = destination(10_000);
    rig.setup(0, buf);
    const stream = c2hData(0, 0, data, { last: true });
    for (let off = 0; off < stream.length; off += 1448) rig.sendRange(stream, off, Math.min(stream.length, off + 1448));
    expect(buf.equals(data)).toBe(true);
    expect(rig.stats['rx-nvme-tcp-bytes']).toBe(10_000);
  });
});

describe('DDP engine: losing sync and resync', () => {
  /** Four PDUs A..D of 4000 bytes for CIDs 1..4; returns the stream and where each PDU starts. */
  function fourPdus(rig: DdpRig) {
    const datas = [1, 2, 3, 4].map((i) => pattern(4000, i));
    const dests = [1, 2, 3, 4].map(() => destination(4000));
    const initial = dests.map((d) => Buffer.from(d.buf));
    dests.forEach((d, i) => rig.setup(i + 1, d.buf));
    const pdus = datas.map((d, i) => c2hData(i + 1, 0, d, { last: true }));
    const starts: number[] = [];
    let at = 0;
    for (const p of pdus) {
      starts.push(at);
      at += p.length;
    }
    return { stream: cat(...pdus), starts, datas, bufs: dests.map((d) => d.buf), initial };
  }

  it('loses sync when a gap hides a header, asks about the next plausible header, and places again once the ULP confirms it', () => {
    const rig = new DdpRig();
    const { stream, starts, datas, bufs, initial } = fourPdus(rig);
    const [, b, c, d] = starts as [number, number, number, number];
    rig.sendRange(stream, 0, 2000);
    // The gap [2000, b + 10) hides B's header.
    const lost = rig.sendRange(stream, b + 10, c + 500);
    expect(fragBytes(lost).placed).toBe(0);
    expect(rig.stats['rx-nvme-tcp-lost-sync']).toBe(1);
    expect(rig.resyncRequests).toEqual([rig.seq(c)]);
    expect(rig.device.engineOf(KEY)!.syncState).toBe('speculative');
    // Speculative: C's header was read, nothing is placed until the ULP confirms.
    expect(fragBytes(rig.sendRange(stream, c + 500, d)).placed).toBe(0);
    rig.device.resync(KEY, rig.seq(c));
    expect(rig.stats['rx-nvme-tcp-resync']).toBe(1);
    expect(rig.device.engineOf(KEY)!.syncState).toBe('sync');
    expect(fragBytes(rig.sendRange(stream, d, stream.length)).placed).toBe(4000);
    // The hole, retransmitted: the rest of A (its header was walked in sync) is placed, B's header is not data.
    rig.sendRange(stream, 2000, b + 10);
    expect(bufs[0]!.equals(datas[0]!)).toBe(true);
    expect(bufs[1]!.equals(initial[1]!)).toBe(true);
    expect(bufs[2]!.equals(initial[2]!)).toBe(true);
    expect(bufs[3]!.equals(datas[3]!)).toBe(true);
  });

  it('ignores an answer for a header it is not asking about (a late answer): the walk goes on, the right answer confirms it', () => {
    const rig = new DdpRig();
    const { stream, starts } = fourPdus(rig);
    const [, b, c, d] = starts as [number, number, number, number];
    rig.sendRange(stream, 0, 2000);
    rig.sendRange(stream, b + 10, c + 500);
    expect(rig.resyncRequests).toEqual([rig.seq(c)]);
    // D was never asked about on this walk: the host answers only the request it holds, so this is stale.
    rig.device.resync(KEY, rig.seq(d));
    expect(rig.stats['rx-nvme-tcp-resync-fail']).toBe(1);
    expect(rig.device.engineOf(KEY)!.syncState).toBe('speculative');
    rig.device.resync(KEY, rig.seq(c));
    expect(rig.stats['rx-nvme-tcp-resync']).toBe(1);
    expect(rig.device.engineOf(KEY)!.syncState).toBe('sync');
    expect(fragBytes(rig.sendRange(stream, d, stream.length)).placed).toBe(4000);
  });

  it('does not place from a lure: PDU headers inside read data are only confirmed if the host parses them', () => {
    const rig = new DdpRig();
    const victim = destination(8192).buf;
    const untouched = Buffer.from(victim);
    rig.setup(5, victim);
    // Read data that is itself a stream of C2HData PDUs for CID 5.
    const lure = cat(...Array.from({ length: 8 }, (_, i) => c2hData(5, i * 500, Buffer.alloc(500, 0xee))));
    const { buf: carrierBuf } = destination(lure.length);
    rig.setup(1, carrierBuf);
    const stream = cat(c2hData(1, 0, lure, { last: true }), capsuleResp(1));
    rig.sendRange(stream, 0, 10);
    // Lose the rest of the carrier's header: the next segment starts inside the lure.
    rig.sendRange(stream, 40, 1100);
    expect(rig.resyncRequests.length).toBe(1);
    const guess = rig.resyncRequests[0]!;
    // The host parser's next header is the CapsuleResp after the carrier, not the guess.
    rig.device.resync(KEY, rig.seq(stream.length - 24));
    expect(guess).not.toBe(rig.seq(stream.length - 24));
    for (let off = 1100; off < stream.length; off += 700) rig.sendRange(stream, off, Math.min(stream.length, off + 700));
    expect(victim.equals(untouched)).toBe(true);
    expect(rig.stats['rx-nvme-tcp-resync']).toBe(0);
  });

  it('does not read the framing from a second copy of bytes it saw before (TCP keeps the first)', () => {
    const rig = new DdpRig();
    const bufs = [1, 2, 3].map(() => destination(4000));
    bufs.forEach((d, i) => rig.setup(i + 1, d.buf));
    const a = c2hData(1, 0, pattern(4000, 1), { last: true });
    const b = c2hData(2, 0, pattern(4000, 2), { last: true });
    const c = c2hData(3, 0, pattern(2000, 3));
    const stream = cat(a, b, c);
    const cStart = a.length + b.length;
    rig.sendRange(stream, 0, 1000);
    // A gap hides B's header; the next segment (C's header and data) is not taken as a resync point.
    rig.acceptResync = false;
    rig.sendRange(stream, cStart - 10, stream.length);
    expect(rig.device.engineOf(KEY)!.syncState).toBe('searching');
    // A retransmission from B's header on: B's header is new, C's header is a second copy, and this one is forged (DATAO 2000).
    rig.acceptResync = true;
    const forged = Buffer.from(stream.subarray(a.length));
    forged.writeUInt32LE(2000, cStart - a.length + 12);
    const tail = Buffer.concat([forged, capsuleResp(9)]);
    rig.send(a.length, tail);
    // B's header is taken (first copy); at C's header, a second copy, the walk stops and the search goes on past it.
    expect(rig.resyncRequests).toEqual([rig.seq(cStart), rig.seq(a.length), rig.seq(stream.length)]);
    expect(rig.stats['rx-nvme-tcp-lost-sync']).toBe(2);
    // C's data is never written at the forged offset.
    expect(bufs[2]!.buf.subarray(2000).every((x) => x === 0xa5)).toBe(true);
  });

  it('never places bytes the socket already held at sk_add, nor trusts a header in them (fuzz finding: replay, seed 1 iteration 437)', () => {
    // TCP held [b - 100, b + 28) at sk_add (a segment beyond its read position, e.g. a forged or
    // misplaced one): the host copies those bytes from that first copy, so a later copy the NIC places
    // would overwrite them after the fact.
    const probe = fourPdus(new DdpRig());
    const b = probe.starts[1]!;
    const rig = new DdpRig({ heldBytes: b + 28 });
    const { stream, starts, datas, bufs, initial } = fourPdus(rig);
    const [, , c, d] = starts as [number, number, number, number];
    // The header at 0 is held: not trusted, so the engine searches and asks about C.
    expect(fragBytes(rig.sendRange(stream, 0, b + 2000)).placed).toBe(0);
    expect(rig.stats['rx-nvme-tcp-lost-sync']).toBe(1);
    // B's header is held too; C's is the first one the NIC saw first-hand.
    expect(rig.resyncRequests).toEqual([]);
    expect(fragBytes(rig.sendRange(stream, b + 2000, d)).placed).toBe(0);
    expect(rig.resyncRequests).toEqual([rig.seq(c)]);
    rig.device.resync(KEY, rig.seq(c));
    expect(fragBytes(rig.sendRange(stream, d, stream.length)).placed).toBe(4000);
    expect(bufs[0]!.equals(initial[0]!)).toBe(true);
    expect(bufs[1]!.equals(initial[1]!)).toBe(true);
    expect(bufs[3]!.equals(datas[3]!)).toBe(true);
  });

  it('stays lost while the ULP declines resync requests', () => {
    const rig = new DdpRig({ acceptResync: false });
    const { stream, starts, bufs, initial } = fourPdus(rig);
    const [, b, c] = starts as [number, number, number, number];
    rig.sendRange(stream, 0, 2000);
    rig.sendRange(stream, b + 10, c + 500);
    rig.sendRange(stream, c + 500, stream.length);
    expect(rig.device.engineOf(KEY)!.syncState).toBe('searching');
    expect(bufs[3]!.equals(initial[3]!)).toBe(true);
  });
});

describe('DDP engine: data digest', () => {
  const o = { ddgst: true };

  it('marks every skb of an in-order PDU ddpCrcOk and counts the digest as checked', () => {
    const rig = new DdpRig(o);
    rig.setup(1, destination(5000).buf);
    const stream = cat(c2hData(1, 0, pattern(5000), { ...o, last: true }), capsuleResp(1));
    const skbs = [rig.sendRange(stream, 0, 2000), rig.sendRange(stream, 2000, 4000), rig.sendRange(stream, 4000, stream.length)];
    expect(skbs.map((s) => s.ddpCrcOk)).toEqual([true, true, true]);
    expect(rig.stats['rx-nvme-tcp-crc-ok']).toBe(1);
  });

  it('does not mark the skb that carries a wrong DDGST, split across two segments', () => {
    const rig = new DdpRig(o);
    const stream = Buffer.from(c2hData(1, 0, pattern(3000), { ...o, last: true }));
    stream[stream.length - 1]! ^= 1;
    const end = stream.length;
    const skbs = [rig.sendRange(stream, 0, end - 2), rig.sendRange(stream, end - 2, end)];
    expect(skbs.map((s) => s.ddpCrcOk)).toEqual([true, false]);
    expect(rig.stats['rx-nvme-tcp-crc-fail']).toBe(1);
    expect(rig.stats['rx-nvme-tcp-crc-ok']).toBe(0);
  });

  it('marks nothing of a PDU after a hole in its data, nor the late segment that fills it', () => {
    const rig = new DdpRig(o);
    rig.setup(1, destination(6000).buf);
    const stream = cat(c2hData(1, 0, pattern(6000), { ...o, last: true }), capsuleResp(1));
    const a = rig.sendRange(stream, 0, 1000);
    const c1 = rig.sendRange(stream, 2000, 4000);
    const c2 = rig.sendRange(stream, 4000, stream.length);
    const b = rig.sendRange(stream, 1000, 2000);
    expect([a.ddpCrcOk, c1.ddpCrcOk, c2.ddpCrcOk, b.ddpCrcOk]).toEqual([true, false, false, false]);
    expect(rig.stats['rx-nvme-tcp-crc-ok'] + rig.stats['rx-nvme-tcp-crc-fail']).toBe(0);
    // Placement does not depend on the CRC.
    expect(rig.stats['rx-nvme-tcp-bytes']).toBe(6000);
  });

  it('vouches only for PDUs whose data it saw from the start: the capability switched on mid-PDU', () => {
    const rig = new DdpRig({ ...o, device: { caps: { 'nvme-tcp-ddgst-rx': false } } });
    const p1 = c2hData(1, 0, pattern(3000, 1), o);
    const p2 = c2hData(1, 3000, pattern(3000, 2), { ...o, last: true });
    const stream = cat(p1, p2);
    expect(rig.sendRange(stream, 0, 1000).ddpCrcOk).toBe(false);
    rig.device.setCaps({ 'nvme-tcp-ddgst-rx': true });
    expect(rig.sendRange(stream, 1000, p1.length).ddpCrcOk).toBe(false);
    expect(rig.sendRange(stream, p1.length, stream.length).ddpCrcOk).toBe(true);
    expect(rig.stats['rx-nvme-tcp-crc-ok']).toBe(1);
  });
});

describe('DDP engine: capabilities at run time', () => {
  it('passes segments through and refuses setups while nvme-tcp is off, then finds the framing again through resync', () => {
    const rig = new DdpRig();
    const bufs = [1, 2, 3].map(() => destination(4000).buf);
    rig.setup(1, bufs[0]!);
    const pdus = [1, 2, 3].map((i) => c2hData(i, 0, pattern(4000, i), { last: true }));
    const stream = cat(...pdus);
    rig.sendRange(stream, 0, 1000);
    rig.device.setCaps({ 'nvme-tcp': false });
    expect(rig.device.getCaps()).toEqual({ 'nvme-tcp': false, 'nvme-tcp-ddgst-rx': true });
    const off = rig.sendRange(stream, 1000, pdus[0]!.length + 100);
    expect(fragBytes(off).placed).toBe(0);
    expect(rig.setup(2, bufs[1]!)).toBe('caps-off');
    rig.device.setCaps({ 'nvme-tcp': true });
    expect(rig.setup(3, bufs[2]!)).toBeUndefined();
    const third = pdus[0]!.length + pdus[1]!.length;
    rig.sendRange(stream, pdus[0]!.length + 100, third + 100);
    expect(rig.resyncRequests).toEqual([rig.seq(third)]);
    rig.device.resync(KEY, rig.seq(third));
    rig.sendRange(stream, third + 100, stream.length);
    // PDU 3's header went by before the confirmation: its data is not placed; the stream is in sync again.
    expect(rig.device.engineOf(KEY)!.syncState).toBe('sync');
    expect(bufs[0]!.subarray(0, 976).equals(pattern(4000, 1).subarray(0, 976))).toBe(true);
    expect(rig.stats['rx-nvme-tcp-setup-fail']).toBe(1);
  });
});
