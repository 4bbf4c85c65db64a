import { describe, expect, it } from 'vitest';
import type { SkbFrag } from '../../../src/nicemu/skb.js';
import { copySkbFrags } from '../../../src/host/net/skb-copy.js';
import { newRxChunk, OFO_PIECE_OVERHEAD_BYTES, sliceFrags, TcpRxQueue } from '../../../src/host/net/tcp-rx-queue.js';
import type { RxSegment, SackBlockOut } from '../../../src/host/net/tcp-rx-queue.js';
import { seqAdd } from '../../../src/wire/seq.js';

const WIN_END = 0x7fff_ffff;

function seg(seq: number, text: string, opts: { split?: number; crcOk?: boolean } = {}): RxSegment {
  const bytes = Buffer.from(text, 'latin1');
  const frags: SkbFrag[] = [];
  const split = opts.split ?? bytes.length;
  for (let i = 0; i < bytes.length; i += split) frags.push({ kind: 'host', buf: bytes.subarray(i, i + split) });
  return { seq: seq >>> 0, len: bytes.length, frags, ddpPlaced: false, ddpCrcOk: opts.crcOk ?? false };
}

function readAll(q: TcpRxQueue): string {
  const chunk = newRxChunk();
  const n = q.read(q.queuedBytes, chunk);
  const out = Buffer.alloc(n);
  copySkbFrags(chunk.frags, out, 0);
  return out.toString('latin1');
}

function sack(q: TcpRxQueue, max = 4): [number, number][] {
  const out: SackBlockOut[] = [];
  const n = q.fillSackBlocks(out, max);
  const r: [number, number][] = [];
  for (let i = 0; i < n; i++) r.push([out[i]!.left, out[i]!.right]);
  return r;
}

describe('TcpRxQueue', () => {
  it('queues an in-order skb without copying or re-wrapping it', () => {
    const q = new TcpRxQueue(1000);
    const s = seg(1000, 'hello');
    expect(q.insert(s, WIN_END)).toBe('in-order');
    expect(q.rcvNxt).toBe(1005);
    expect(q.queuedBytes).toBe(5);
    const chunk = newRxChunk();
    q.peek(5, chunk);
    expect(chunk.frags[0]).toBe(s.frags[0]);
    expect(chunk.seq).toBe(1000);
    expect(readAll(q)).toBe('hello');
  });

  it('heldEndSeq is one past the last byte held: rcv_nxt, or the end of the highest out-of-order piece', () => {
    const q = new TcpRxQueue(0xffff_fffe);
    expect(q.heldEndSeq).toBe(0xffff_fffe);
    q.insert(seg(0xffff_fffe, 'ab'), WIN_END);
    expect(q.heldEndSeq).toBe(0);
    q.insert(seg(20, 'xyz'), WIN_END);
    q.insert(seg(5, 'fg'), WIN_END);
    expect(q.heldEndSeq).toBe(23);
    q.insert(seg(0, 'abcdefghijklmnopqrstuvw'.slice(0, 20)), WIN_END);
    expect(q.rcvNxt).toBe(23);
    expect(q.heldEndSeq).toBe(23);
  });

  it('queues out of order, then delivers everything when the hole fills', () => {
    const q = new TcpRxQueue(0);
    expect(q.insert(seg(5, 'fghij'), WIN_END)).toBe('out-of-order');
    expect(q.insert(seg(15, 'pqrst'), WIN_END)).toBe('out-of-order');
    expect(q.rcvNxt).toBe(0);
    expect(q.ofoBytes).toBe(10);
    expect(q.insert(seg(0, 'abcde'), WIN_END)).toBe('hole-filled');
    expect(q.rcvNxt).toBe(10);
    expect(q.insert(seg(10, 'klmno'), WIN_END)).toBe('hole-filled');
    expect(q.rcvNxt).toBe(20);
    expect(q.ofoEmpty).toBe(true);
    expect(q.ofoBytes).toBe(0);
    expect(readAll(q)).toBe('abcdefghijklmnopqrst');
  });

  it('keeps the bytes accepted first when a retransmission overlaps with different bytes', () => {
    const q = new TcpRxQueue(0);
    q.insert(seg(0, 'AAAA'), WIN_END);
    q.insert(seg(8, 'CCCC'), WIN_END);
    // Overlaps the receive queue [2,4), fills [4,8), overlaps ofo [8,12), then new [12,14).
    expect(q.insert(seg(2, 'xxBBBBxxxxDD'), WIN_END)).toBe('hole-filled');
    expect(q.lastDupBytes).toBe(6);
    expect(q.lastNewBytes).toBe(6);
    expect(q.rcvNxt).toBe(14);
    expect(readAll(q)).toBe('AAAABBBBCCCCDD');
  });

  it('keeps ofo bytes accepted first against a later overlapping ofo segment', () => {
    const q = new TcpRxQueue(0);
    q.insert(seg(10, 'KKKK'), WIN_END);
    expect(q.insert(seg(8, 'zzzzzzzz'), WIN_END)).toBe('out-of-order');
    q.insert(seg(0, '01234567'), WIN_END);
    expect(readAll(q)).toBe('01234567zzKKKKzz');
  });

  it('treats a fully covered segment as a duplicate and reports it as D-SACK', () => {
    const q = new TcpRxQueue(100);
    q.insert(seg(100, 'abcd'), WIN_END);
    expect(q.insert(seg(100, 'abcd'), WIN_END)).toBe('duplicate');
    expect(q.lastDupBytes).toBe(4);
    expect(sack(q)).toEqual([[100, 104]]);
    // The D-SACK is reported once.
    expect(sack(q)).toEqual([]);
    q.insert(seg(110, 'zz'), WIN_END);
    expect(q.insert(seg(110, 'yy'), WIN_END)).toBe('duplicate');
    expect(sack(q)).toEqual([
      [110, 112],
      [110, 112],
    ]);
  });

  it('orders SACK blocks most recent first and drops the ones below rcv_nxt', () => {
    const q = new TcpRxQueue(0);
    q.insert(seg(10, 'aa'), WIN_END);
    q.insert(seg(20, 'bb'), WIN_END);
    q.insert(seg(30, 'cc'), WIN_END);
    expect(sack(q)).toEqual([
      [30, 32],
      [20, 22],
      [10, 12],
    ]);
    q.insert(seg(12, 'xx'), WIN_END); // extends the first block
    expect(sack(q, 3)).toEqual([
      [10, 14],
      [30, 32],
      [20, 22],
    ]);
    q.insert(seg(0, '0123456789'), WIN_END); // fills up to 14
    expect(q.rcvNxt).toBe(14);
    expect(sack(q)).toEqual([
      [30, 32],
      [20, 22],
    ]);
  });

  it('coalesces touching ofo pieces with equal flags but not across different ddpCrcOk', () => {
    const q = new TcpRxQueue(0);
    q.insert(seg(10, 'aa', { crcOk: true }), WIN_END);
    q.insert(seg(12, 'bb', { crcOk: true }), WIN_END);
    expect(q.lastOfoMerges).toBe(1);
    q.insert(seg(14, 'cc', { crcOk: false }), WIN_END);
    expect(q.lastOfoMerges).toBe(0);
    expect(sack(q)).toEqual([[10, 16]]);
    q.insert(seg(0, '0123456789', { crcOk: true }), WIN_END);
    const chunk = newRxChunk();
    q.peek(12, chunk);
    expect(chunk.ddpCrcOk).toBe(true);
    q.peek(16, chunk);
    expect(chunk.ddpCrcOk).toBe(false);
  });

  it('stops a uniform-CRC read where the segments change ddpCrcOk', () => {
    const q = new TcpRxQueue(0);
    q.insert(seg(0, 'aaaa', { crcOk: true }), WIN_END);
    q.insert(seg(4, 'bbbb', { crcOk: true, split: 2 }), WIN_END);
    q.insert(seg(8, 'cccc', { crcOk: false }), WIN_END);
    q.insert(seg(12, 'dddd', { crcOk: true }), WIN_END);
    const chunk = newRxChunk();
    expect(q.read(100, chunk, true)).toBe(8);
    expect(chunk.ddpCrcOk).toBe(true);
    expect(q.read(100, chunk, true)).toBe(4);
    expect(chunk.ddpCrcOk).toBe(false);
    expect(chunk.seq).toBe(8);
    expect(q.read(2, chunk, true)).toBe(2);
    expect(q.read(100, chunk, true)).toBe(2);
    expect(chunk.ddpCrcOk).toBe(true);
    expect(q.queuedBytes).toBe(0);
  });

  it('unshare copies out every host frag it still holds in one memory (readable, partly read, out of order) and nothing else', () => {
    // Each in memory of its own (Buffer.from(string) may put both in one pooled slab).
    const own = (text: string): Buffer => Buffer.from(new Uint8Array(Buffer.from(text, 'latin1')).buffer.slice(0));
    const arena = own('0123456789abcdefghijKLMNOPQRST');
    const other = own('uvwxy');
    const view = (from: number, to: number): SkbFrag => ({ kind: 'host', buf: arena.subarray(from, to) });
    const q = new TcpRxQueue(100);
    // In order: 10 bytes in two frags of the arena and 5 of other memory; then 10 out of order from the arena.
    const inOrder: RxSegment = { seq: 100, len: 15, frags: [view(0, 4), view(4, 10), { kind: 'host', buf: other }], ddpPlaced: false, ddpCrcOk: false };
    const ofo: RxSegment = { seq: 120, len: 10, frags: [view(20, 30)], ddpPlaced: false, ddpCrcOk: false };
    q.insert(inOrder, WIN_END);
    q.insert(ofo, WIN_END);
    const partial = newRxChunk();
    q.read(6, partial); // '012345' read: the cursor sits inside the second frag
    // The partly read frag is copied whole, the one read already not at all.
    expect(q.unshare(arena.buffer)).toBe(6 + 10);
    arena.fill(0x2e); // the memory goes back and is written again
    expect(other.toString('latin1')).toBe('uvwxy');
    // The unread rest and the ofo piece read as they were queued; the hole fills with bytes from elsewhere.
    q.insert(seg(115, 'lmnop'), WIN_END);
    expect(readAll(q)).toBe('6789uvwxylmnopKLMNOPQRST');
    expect(q.unshare(arena.buffer)).toBe(0);
  });

  it('drops data beyond the window edge and reports nothing-inside as beyond-window', () => {
    const q = new TcpRxQueue(0);
    expect(q.insert(seg(0, 'abcdef'), 4)).toBe('in-order');
    expect(q.lastBeyondWindowBytes).toBe(2);
    expect(q.rcvNxt).toBe(4);
    expect(q.insert(seg(10, 'zz'), 8)).toBe('beyond-window');
    expect(q.insert(seg(6, 'zzzz'), 8)).toBe('out-of-order');
    expect(q.ofoBytes).toBe(2);
  });

  it('handles sequence numbers across the 2^32 wrap', () => {
    const base = 0xffff_fffc;
    const q = new TcpRxQueue(base);
    q.insert(seg(seqAdd(base, 6), 'ghij'), seqAdd(base, 100));
    q.insert(seg(base, 'abcdef', { split: 4 }), seqAdd(base, 100));
    expect(q.rcvNxt).toBe(seqAdd(base, 10));
    expect(readAll(q)).toBe('abcdefghij');
  });

  it('reads across frag and segment boundaries, partially, with skip', () => {
    const q = new TcpRxQueue(0);
    q.insert(seg(0, 'abcdefgh', { split: 3 }), WIN_END);
    q.insert(seg(8, 'ijklmnop', { split: 5 }), WIN_END);
    const chunk = newRxChunk();
    expect(q.peek(6, chunk, 4)).toBe(6);
    expect(chunk.seq).toBe(4);
    const b = Buffer.alloc(6);
    copySkbFrags(chunk.frags, b, 0);
    expect(b.toString()).toBe('efghij');
    expect(q.read(5)).toBe(5);
    expect(q.readSeq).toBe(5);
    expect(readAll(q)).toBe('fghijklmnop');
    expect(q.queuedBytes).toBe(0);
    expect(q.read(10, chunk)).toBe(0);
  });

  it('narrows dmabuf frags by offset and size', () => {
    const frags: SkbFrag[] = [
      { kind: 'dmabuf', dmabufId: 3, offset: 4096, size: 100 },
      { kind: 'dmabuf', dmabufId: 3, offset: 8192, size: 100 },
    ];
    expect(sliceFrags(frags, 50, 100)).toEqual([
      { kind: 'dmabuf', dmabufId: 3, offset: 4146, size: 50 },
      { kind: 'dmabuf', dmabufId: 3, offset: 8192, size: 50 },
    ]);
  });

  it('delivers every byte exactly once for random overlapping, duplicated, reordered segments', () => {
    for (let seed = 1; seed <= 30; seed++) {
      let s = seed;
      const rnd = (n: number): number => {
        s = (Math.imul(s, 1103515245) + 12345) >>> 0;
        return (s >>> 8) % n;
      };
      const total = 2000;
      const stream = Buffer.alloc(total);
      for (let i = 0; i < total; i++) stream[i] = (i * 7 + seed) & 0xff;
      const base = (0xffff_ff00 + seed * 13) >>> 0;
      const q = new TcpRxQueue(base);
      const got: Buffer[] = [];
      const chunk = newRxChunk();
      let guard = 0;
      while (q.rcvNxt !== seqAdd(base, total) && guard++ < 100_000) {
        const start = rnd(total);
        const len = 1 + rnd(200);
        const end = Math.min(total, start + len);
        // Most copies carry the right bytes; some carry garbage in bytes that were
        // already accepted, which must never reach the reader.
        const body = Buffer.from(stream.subarray(start, end));
        const accepted = ((q.rcvNxt - base) >>> 0) + 0;
        if (rnd(4) === 0) for (let i = start; i < Math.min(end, accepted); i++) body[i - start] ^= 0xff;
        q.insert({ seq: seqAdd(base, start), len: end - start, frags: [{ kind: 'host', buf: body }], ddpPlaced: false, ddpCrcOk: false }, seqAdd(base, total));
        if (rnd(3) === 0 && q.queuedBytes > 0) {
          const n = q.read(1 + rnd(q.queuedBytes), chunk);
          const b = Buffer.alloc(n);
          copySkbFrags(chunk.frags, b, 0);
          got.push(b);
        }
      }
      const n = q.read(q.queuedBytes, chunk);
      const b = Buffer.alloc(n);
      copySkbFrags(chunk.frags, b, 0);
      got.push(b);
      const all = Buffer.concat(got);
      expect(all.equals(stream), `seed ${seed}`).toBe(true);
    }
  });
});

describe('TcpRxQueue: the out-of-order memory limit (a flood of tiny segments)', () => {
  const PIECE = 1 + OFO_PIECE_OVERHEAD_BYTES;

  it('holds at most limit / (1 + overhead) one-byte pieces, whatever the window, and counts the rest as dropped', () => {
    const q = new TcpRxQueue(0, 100 * PIECE);
    let dropped = 0;
    for (let i = 0; i < 10_000; i++) {
      const r = q.insert(seg(10 + 2 * i, 'x'), WIN_END);
      if (r === 'ofo-no-memory') dropped++;
      expect(q.ofoTruesize).toBeLessThanOrEqual(100 * PIECE);
    }
    expect(q.ofoEntries).toBe(100);
    expect(q.ofoBytes).toBe(100);
    expect(dropped).toBe(9900);
    // The newest piece is what goes: nothing queued is ever dropped.
    expect(q.lastOfoMemDrops).toBe(1);
    expect(q.lastOfoMemDropBytes).toBe(1);
  });

  it('never drops what it queued: a segment that does not fit is cut where the limit is reached, and only its prefix is taken', () => {
    const q = new TcpRxQueue(0, 4 * PIECE + 10);
    for (const at of [10, 20, 30]) expect(q.insert(seg(at, 'x'), WIN_END)).toBe('out-of-order');
    // [5, 40): the piece [5, 10) fits (5 + overhead), [11, 20) does not; the rest goes with it, known bytes too.
    expect(q.acceptablePrefix(5, 35)).toBe(6);
    expect(q.insert(seg(5, 'abcdefghijklmnopqrstuvwxyz0123456789'.slice(0, 35)), WIN_END)).toBe('out-of-order');
    expect(q.lastNewBytes).toBe(5);
    expect(q.lastDupBytes).toBe(1);
    expect(q.lastOfoMemDrops).toBe(3);
    expect(q.ofoBytes).toBe(8);
    // D-SACK for the known byte first, then [5, 11) (the new piece joined the one at 10), then the older ones.
    expect(sack(q)).toEqual([
      [10, 11],
      [5, 11],
      [30, 31],
      [20, 21],
    ]);
    // A piece below everything gets no room either: nothing queued makes way for it.
    expect(q.insert(seg(1, 'z'), WIN_END)).toBe('ofo-no-memory');
    expect(q.ofoEntries).toBe(3);
  });

  it('always takes the bytes at rcv_nxt, however full the queue: the stream goes on', () => {
    const q = new TcpRxQueue(1000, 64 * PIECE);
    for (let i = 0; i < 5000; i++) q.insert(seg(1100 + 2 * i, 'F'), WIN_END);
    expect(q.ofoEntries).toBe(64);
    const data = 'a'.repeat(80) + 'b'.repeat(20);
    expect(q.acceptablePrefix(1000, 100)).toBe(100);
    expect(q.insert(seg(1000, data), WIN_END)).toBe('hole-filled');
    expect(q.rcvNxt).toBe(1101);
    expect(readAll(q)).toBe(data + 'F');
    expect(q.ofoEntries).toBe(63);
    expect(q.ofoTruesize).toBe(63 * PIECE);
  });

  it('acceptablePrefix says, without changing anything, how many bytes insert then takes, for 5000 seeded segments under memory pressure', () => {
    let x = 7;
    const rnd = (n: number): number => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return (x >>> 8) % n;
    };
    const base = 0xffff_fe00;
    const q = new TcpRxQueue(base, 40 * PIECE + 3000);
    const seen = { whole: 0, cut: 0, none: 0 };
    for (let trial = 0; trial < 5000; trial++) {
      const at = seqAdd(q.rcvNxt, rnd(6000) - 300);
      const len = 1 + rnd(rnd(4) === 0 ? 1500 : 8);
      const before = { ofo: q.ofoBytes, truesize: q.ofoTruesize, rcvNxt: q.rcvNxt };
      const p = q.acceptablePrefix(at, len);
      expect({ ofo: q.ofoBytes, truesize: q.ofoTruesize, rcvNxt: q.rcvNxt }).toEqual(before);
      // The socket cuts a segment to its window before asking; the window here is far wider than any segment.
      q.insert(seg(at, 'q'.repeat(len)), seqAdd(before.rcvNxt, 1 << 20));
      expect(q.lastNewBytes + q.lastDupBytes, `trial ${trial}: ${len} bytes at rcv_nxt${at - before.rcvNxt >= 0 ? '+' : ''}${(at - before.rcvNxt) | 0}`).toBe(p);
      expect(q.ofoTruesize).toBeLessThanOrEqual(40 * PIECE + 3000 + (q.ofoEntries > 0 ? 1500 + OFO_PIECE_OVERHEAD_BYTES : 0));
      if (p === len) seen.whole++;
      else if (p === 0) seen.none++;
      else seen.cut++;
      if (rnd(50) === 0) readAll(q);
      // Now and then the hole fills, so the queue drains and fills again.
      if (rnd(40) === 0) q.insert(seg(q.rcvNxt, 'h'.repeat(200)), seqAdd(q.rcvNxt, 1 << 20));
    }
    expect(seen.whole).toBeGreaterThan(500);
    expect(seen.cut).toBeGreaterThan(20);
    expect(seen.none).toBeGreaterThan(100);
  });

  it('charges coalesced pieces per piece and releases the charge when they drain or the FIN comes', () => {
    const q = new TcpRxQueue(0, 1_000_000);
    for (let i = 0; i < 10; i++) q.insert(seg(100 + i, 'c'), WIN_END);
    expect(q.ofoEntries).toBe(1);
    expect(q.ofoTruesize).toBe(10 * PIECE);
    q.insert(seg(0, 'h'.repeat(100)), WIN_END);
    expect(q.ofoTruesize).toBe(0);
    expect(q.ofoBytes).toBe(0);
    q.insert(seg(500, 'late'), WIN_END);
    expect(q.ofoTruesize).toBe(4 + OFO_PIECE_OVERHEAD_BYTES);
    q.consumeFin();
    expect(q.ofoTruesize).toBe(0);
  });
});
