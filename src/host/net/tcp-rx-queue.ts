/**
 * The receive side of one TCP connection, on sequence numbers only: the
 * in-order receive queue the application reads from, the out-of-order (ofo)
 * queue, and the SACK blocks (RFC 2018, D-SACK RFC 2883) that describe it.
 *
 * Payload is never copied here. A segment is kept as views: the skb itself
 * when it arrives whole and in order (the common case allocates nothing), or
 * trimmed frag views (`subarray`, or a narrowed dmabuf range) when part of it
 * was already received. Whatever bytes were accepted first are the stream: a
 * retransmission that overlaps accepted data — in the receive queue or in
 * the ofo queue — only contributes the bytes nobody had yet, even when its
 * copy of the overlap differs (a forged or corrupted duplicate can then
 * never rewrite data a NIC may already have placed).
 *
 * The ofo queue is a sorted array of non-overlapping ranges; neighbours that
 * touch are coalesced (frag lists concatenated) unless their DDP flags
 * differ, mirroring the rule that skbs with different `ulp_crc` are never
 * merged. The caller bounds it by passing the right edge of the window it
 * advertised.
 *
 * The window bounds ofo bytes, not ofo memory: a peer (or anyone who can
 * put segments in the window) sending one byte every other sequence number
 * would pin a whole frame and its views per byte — about 560 bytes of heap
 * each, over 1 GiB for a 4 MiB window. So each ofo piece is charged its
 * payload plus OFO_PIECE_OVERHEAD_BYTES, as Linux charges an skb's
 * truesize against sk_rcvbuf, and the charge is capped at `ofoLimitBytes`.
 * A piece that would go over is dropped, and with it the rest of its
 * segment (so what is taken is always a prefix), counted; the sender
 * retransmits it, as it would a lost segment. A piece at rcv_nxt is never
 * refused: it leaves the ofo queue at once, and refusing it could stall the
 * connection behind a queue full of junk.
 *
 * Unlike Linux (tcp_prune_ofo_queue drops queued data from the tail to make
 * room), nothing once queued is dropped: a NIC that parses the stream reads
 * only the bytes this queue takes (TcpSocket.acceptableBytes, the DDP
 * gate), and it may already have placed them; were they dropped later, the
 * stream would end up holding another copy of those bytes than the one the
 * NIC acted on. `acceptablePrefix` tells, without side effects, how much of
 * a segment `insert` will take.
 */
import { fragLength } from '../../nicemu/skb.js';
import type { SkbFrag } from '../../nicemu/skb.js';
import { seqAdd, seqDiff, seqGt, seqLe, seqLt } from '../../wire/seq.js';

/** What the queue stores per segment; an Skb satisfies it as is. */
export interface RxSegment {
  /** Sequence number of the first payload byte. */
  readonly seq: number;
  /** Payload bytes: the sum of fragLength over frags. */
  readonly len: number;
  readonly frags: readonly SkbFrag[];
  readonly ddpPlaced: boolean;
  readonly ddpCrcOk: boolean;
}

/** What `insert` did with a segment. */
export type RxInsertResult =
  /** Data extended rcv_nxt and nothing was out of order. */
  | 'in-order'
  /** Data extended rcv_nxt by filling (part of) a hole: ACK at once (RFC 5681 §4.2). */
  | 'hole-filled'
  /** New data queued beyond a hole: ACK at once with SACK (RFC 5681 §4.2). */
  | 'out-of-order'
  /** Every byte had been received before (D-SACK recorded). */
  | 'duplicate'
  /** Nothing of the segment lies inside the window. */
  | 'beyond-window'
  /** New out-of-order data dropped: the ofo queue was at its memory limit (nothing after it to prune). */
  | 'ofo-no-memory';

/** A run of readable bytes as frag views, plus the DDP flags of the segments it came from. */
export interface RxChunk {
  /** Views of the bytes in stream order (frags of the skbs, narrowed at the ends). */
  readonly frags: SkbFrag[];
  /** Total bytes in `frags`. */
  len: number;
  /** Sequence number of the first byte. */
  seq: number;
  /** Every segment that contributed had `ddpCrcOk` (the NIC verified their data digests). */
  ddpCrcOk: boolean;
  /** At least one contributing segment had `ddpPlaced`. */
  ddpPlaced: boolean;
}

export function newRxChunk(): RxChunk {
  return { frags: [], len: 0, seq: 0, ddpCrcOk: true, ddpPlaced: false };
}

/** One SACK block [left, right) as the TCP options carry it. */
export interface SackBlockOut {
  left: number;
  right: number;
}

interface OfoEntry {
  seq: number;
  len: number;
  frags: SkbFrag[];
  ddpPlaced: boolean;
  ddpCrcOk: boolean;
  /** What the entry's pieces are charged against the ofo limit. */
  truesize: number;
}

/**
 * Charge of one ofo piece beyond its payload bytes: the received frame it
 * keeps alive, its frag views and its share of an entry. Measured here at
 * ~560 bytes of heap per 1-byte ofo segment (Node 20, 1500-byte MTU
 * frames); Linux's truesize of a small skb is of the same order.
 */
export const OFO_PIECE_OVERHEAD_BYTES = 512;

/** RFC 2018: at most 4 blocks fit in the option space (3 next to timestamps). */
const MAX_SACK_ANCHORS = 4;
/** Compact the receive-queue array once this many consumed slots sit at its front. */
const COMPACT_AFTER = 64;

/**
 * Views of `len` bytes starting `off` bytes into `frags`. Whole frags are
 * reused as they are; a frag cut at either end becomes a narrower view of the
 * same memory.
 */
export function sliceFrags(frags: readonly SkbFrag[], off: number, len: number): SkbFrag[] {
  const out: SkbFrag[] = [];
  let pos = 0;
  const end = off + len;
  for (let i = 0; i < frags.length && pos < end; i++) {
    const f = frags[i]!;
    const flen = fragLength(f);
    const fEnd = pos + flen;
    if (fEnd > off && flen > 0) {
      const from = off > pos ? off - pos : 0;
      const to = end < fEnd ? end - pos : flen;
      out.push(from === 0 && to === flen ? f : narrowFrag(f, from, to));
    }
    pos = fEnd;
  }
  return out;
}

/** A view of bytes [from, to) of one frag. */
export function narrowFrag(f: SkbFrag, from: number, to: number): SkbFrag {
  switch (f.kind) {
    case 'host':
      return { kind: 'host', buf: f.buf.subarray(from, to) };
    case 'placed':
      return { kind: 'placed', buf: f.buf.subarray(from, to) };
    case 'dmabuf':
      return { kind: 'dmabuf', dmabufId: f.dmabufId, offset: f.offset + from, size: to - from };
  }
}

/** `frags` with every host frag from index `from` on viewing `memory` replaced by a copy, or undefined when none views it. */
function unsharedFrags(frags: readonly SkbFrag[], memory: ArrayBufferLike, from: number): { list: SkbFrag[]; copied: number } | undefined {
  let list: SkbFrag[] | undefined;
  let copied = 0;
  for (let f = from; f < frags.length; f++) {
    const frag = frags[f]!;
    if (frag.kind !== 'host' || frag.buf.buffer !== memory) continue;
    list ??= frags.slice();
    list[f] = { kind: 'host', buf: Buffer.from(frag.buf) };
    copied += frag.buf.length;
  }
  return list === undefined ? undefined : { list, copied };
}

export class TcpRxQueue {
  /** RCV.NXT: the next sequence number expected in order. */
  rcvNxt: number;

  /** Readable (in-order, unread) bytes. */
  queuedBytes = 0;
  /** Bytes held in the ofo queue. */
  ofoBytes = 0;
  /** What the ofo queue is charged: payload plus OFO_PIECE_OVERHEAD_BYTES per piece (at most ofoLimitBytes). */
  ofoTruesize = 0;

  /** Bytes of the last `insert` that became new data (in order or ofo). */
  lastNewBytes = 0;
  /** Bytes of the last `insert` that duplicated accepted data. */
  lastDupBytes = 0;
  /** Bytes of the last `insert` dropped beyond the window's right edge. */
  lastBeyondWindowBytes = 0;
  /** Pieces of the last `insert` that were coalesced into an ofo neighbour. */
  lastOfoMerges = 0;
  /** Pieces of the last `insert` queued out of order. */
  lastOfoPieces = 0;
  /** Pieces of the last `insert` dropped because the ofo queue was full, and their bytes. */
  lastOfoMemDrops = 0;
  lastOfoMemDropBytes = 0;

  /** In-order segments; entries before `headIdx` were consumed. */
  private readonly rq: (RxSegment | undefined)[] = [];
  private headIdx = 0;
  /** Read cursor inside rq[headIdx]: frag index and byte offset in it. */
  private headFrag = 0;
  private headFragOff = 0;

  private readonly ofo: OfoEntry[] = [];

  /** Start sequence numbers of recently received ofo data, most recent first (RFC 2018 §4 block order). */
  private readonly sackAnchors: number[] = [];
  private dsackPending = false;
  private dsackLeft = 0;
  private dsackRight = 0;

  /**
   * @param ofoLimitBytes cap on ofoTruesize (default: no cap); TcpSocket
   *   passes twice its receive buffer, so a full window of ordinary
   *   segments always fits.
   */
  constructor(
    rcvNxt: number,
    readonly ofoLimitBytes = Infinity,
  ) {
    this.rcvNxt = rcvNxt >>> 0;
  }

  /** Sequence number of the next byte a read returns. */
  get readSeq(): number {
    return seqAdd(this.rcvNxt, -this.queuedBytes);
  }

  /** One past the last byte held, in order or out of order (the ofo queue is kept in sequence order). */
  get heldEndSeq(): number {
    const last = this.ofo[this.ofo.length - 1];
    return last === undefined ? this.rcvNxt : seqAdd(last.seq, last.len);
  }

  get ofoEmpty(): boolean {
    return this.ofo.length === 0;
  }

  /** Entries in the ofo queue (runs of contiguous pieces with equal DDP flags). */
  get ofoEntries(): number {
    return this.ofo.length;
  }

  /** Start of the first hole's far side (the lowest ofo seq), or undefined. */
  get ofoFirstSeq(): number | undefined {
    return this.ofo.length === 0 ? undefined : this.ofo[0]!.seq;
  }

  /**
   * Accepts the payload of `seg` up to `windowEnd` (the right edge of the
   * window we advertised). Bytes before rcv_nxt and bytes already in the ofo
   * queue are dropped, everything else is queued in order or out of order.
   */
  insert(seg: RxSegment, windowEnd: number): RxInsertResult {
    this.lastNewBytes = 0;
    this.lastDupBytes = 0;
    this.lastBeyondWindowBytes = 0;
    this.lastOfoMerges = 0;
    this.lastOfoPieces = 0;
    this.lastOfoMemDrops = 0;
    this.lastOfoMemDropBytes = 0;
    const segEnd = seqAdd(seg.seq, seg.len);
    let start = seg.seq;
    let end = segEnd;
    if (seg.len === 0) return 'duplicate';
    if (seqLt(start, this.rcvNxt)) {
      if (seqLe(end, this.rcvNxt)) {
        this.lastDupBytes = seg.len;
        this.setDsack(start, end);
        return 'duplicate';
      }
      this.lastDupBytes = seqDiff(this.rcvNxt, start);
      this.setDsack(start, this.rcvNxt);
      start = this.rcvNxt;
    }
    if (seqGt(end, windowEnd)) {
      const cut = seqLe(windowEnd, start) ? seqDiff(end, start) : seqDiff(end, windowEnd);
      this.lastBeyondWindowBytes = cut;
      end = seqAdd(end, -cut);
      if (end === start) return 'beyond-window';
    }

    if (start === this.rcvNxt && this.ofo.length === 0) {
      const len = seqDiff(end, start);
      this.pushInOrder(len === seg.len ? seg : trimmed(seg, seqDiff(start, seg.seq), len));
      this.rcvNxt = end;
      this.lastNewBytes = len;
      return 'in-order';
    }

    const added = this.insertOfo(seg, start, end);
    this.lastNewBytes = added;
    if (added === 0 && this.lastOfoMemDrops > 0) return 'ofo-no-memory';
    this.noteSackAnchor(start);
    if (added === 0) return 'duplicate';
    const before = this.rcvNxt;
    this.drainOfo();
    return before === this.rcvNxt ? 'out-of-order' : 'hole-filled';
  }

  /**
   * How many of the `len` bytes from `seq` (already cut to the window)
   * `insert` would take — queue, or know as bytes it has — before the ofo
   * memory limit makes it drop the rest. No side effect: the same walk as
   * insert's, counting instead of queueing.
   */
  acceptablePrefix(seq: number, len: number): number {
    if (len <= 0) return 0;
    const end = seqAdd(seq, len);
    let cursor = seqLt(seq, this.rcvNxt) ? this.rcvNxt : seq;
    if (!seqLt(cursor, end) || (cursor === this.rcvNxt && this.ofo.length === 0)) return len;
    let truesize = this.ofoTruesize;
    let i = this.ofoFirstEndingAfter(cursor);
    while (seqLt(cursor, end)) {
      const e = i < this.ofo.length ? this.ofo[i]! : undefined;
      const pieceEnd = e === undefined || seqLe(end, e.seq) ? end : seqLt(cursor, e.seq) ? e.seq : undefined;
      if (pieceEnd !== undefined) {
        const cost = seqDiff(pieceEnd, cursor) + OFO_PIECE_OVERHEAD_BYTES;
        if (cursor !== this.rcvNxt && truesize + cost > this.ofoLimitBytes) return seqDiff(cursor, seq);
        truesize += cost;
        cursor = pieceEnd;
        continue;
      }
      // Bytes already queued: known, taken.
      const eEnd = seqAdd(e!.seq, e!.len);
      cursor = seqLt(end, eEnd) ? end : eEnd;
      i++;
    }
    return len;
  }

  /** Consumes a FIN at rcv_nxt: it takes one sequence number; ofo data beyond it cannot exist on a sane peer and is dropped. */
  consumeFin(): void {
    this.ofo.length = 0;
    this.ofoBytes = 0;
    this.ofoTruesize = 0;
    this.sackAnchors.length = 0;
    this.rcvNxt = seqAdd(this.rcvNxt, 1);
  }

  /**
   * Fills `out` with views of the next `n` readable bytes (fewer if fewer are
   * queued) starting `skip` bytes into the readable data, without consuming
   * them. `out` is reset first. Returns the byte count.
   */
  peek(n: number, out: RxChunk, skip = 0, uniformCrc = false): number {
    return this.walk(n, skip, out, false, uniformCrc);
  }

  /**
   * Like `peek` from the read position, then consumes those bytes. `out` may
   * be omitted to just discard. With `uniformCrc`, stops early at the first
   * segment whose ddpCrcOk differs from the bytes before it, so the chunk's
   * flag is exact for every byte (the ULP trusts a PDU's digest only if all
   * its bytes were verified by the NIC).
   */
  read(n: number, out?: RxChunk, uniformCrc = false): number {
    return this.walk(n, 0, out, true, uniformCrc);
  }

  /**
   * The SACK blocks to put in the next ACK, at most `max`: a pending D-SACK
   * first (RFC 2883), then the block holding the most recently received ofo
   * data, then the other recently reported ones (RFC 2018 §4). Writes into
   * `out[0..count)` (objects reused) and returns count; clears the D-SACK.
   */
  fillSackBlocks(out: SackBlockOut[], max: number): number {
    let n = 0;
    if (this.dsackPending && max > 0) {
      this.dsackPending = false;
      n = putBlock(out, n, this.dsackLeft, this.dsackRight);
    }
    // RFC 2883 §4: the block holding a D-SACK range may follow it, so
    // duplicates are looked for among the SACK blocks only.
    const firstSack = n;
    let a = 0;
    while (a < this.sackAnchors.length && n < max) {
      const anchor = this.sackAnchors[a]!;
      const i = seqLt(anchor, this.rcvNxt) ? -1 : this.ofoIndexHolding(anchor);
      if (i < 0) {
        this.sackAnchors.splice(a, 1);
        continue;
      }
      let lo = i;
      while (lo > 0 && seqAdd(this.ofo[lo - 1]!.seq, this.ofo[lo - 1]!.len) === this.ofo[lo]!.seq) lo--;
      let hi = i;
      while (hi + 1 < this.ofo.length && this.ofo[hi + 1]!.seq === seqAdd(this.ofo[hi]!.seq, this.ofo[hi]!.len)) hi++;
      const left = this.ofo[lo]!.seq;
      const right = seqAdd(this.ofo[hi]!.seq, this.ofo[hi]!.len);
      let seen = false;
      for (let k = firstSack; k < n; k++) {
        if (out[k]!.left === left && out[k]!.right === right) seen = true;
      }
      if (seen) {
        // Two anchors in one block: keep the more recent one only.
        this.sackAnchors.splice(a, 1);
        continue;
      }
      n = putBlock(out, n, left, right);
      a++;
    }
    return n;
  }

  /** True when a D-SACK block waits for the next ACK. */
  get hasDsack(): boolean {
    return this.dsackPending;
  }

  /**
   * Calls `cb` with every frag the queue still holds, readable or out of
   * order (a frag partly read is passed whole): what a devmem page pool
   * must not recycle.
   */
  forEachFrag(cb: (f: SkbFrag) => void): void {
    for (let e = this.headIdx; e < this.rq.length; e++) {
      const seg = this.rq[e];
      if (seg === undefined) continue;
      for (let f = e === this.headIdx ? this.headFrag : 0; f < seg.frags.length; f++) cb(seg.frags[f]!);
    }
    for (let i = 0; i < this.ofo.length; i++) {
      const frags = this.ofo[i]!.frags;
      for (let f = 0; f < frags.length; f++) cb(frags[f]!);
    }
  }

  /**
   * Makes the queue stop reading `memory`: every host frag it still holds
   * there (readable or out of order) is replaced by a copy of its bytes.
   * The NIC thread's receive arenas go back to the NIC after each message
   * (page_pool recycling, nicemu/thread/inbox.ts), and what TCP still
   * queues must not change under it. Returns the bytes copied.
   */
  unshare(memory: ArrayBufferLike): number {
    let copied = 0;
    for (let e = this.headIdx; e < this.rq.length; e++) {
      const seg = this.rq[e];
      if (seg === undefined) continue;
      // Frags already read are left as they are: nobody reads them again.
      const frags = unsharedFrags(seg.frags, memory, e === this.headIdx ? this.headFrag : 0);
      if (frags === undefined) continue;
      // Same frags, same lengths: the read cursor (frag index, offset) still points where it did.
      copied += frags.copied;
      this.rq[e] = { seq: seg.seq, len: seg.len, frags: frags.list, ddpPlaced: seg.ddpPlaced, ddpCrcOk: seg.ddpCrcOk };
    }
    for (let i = 0; i < this.ofo.length; i++) {
      const entry = this.ofo[i]!;
      const frags = unsharedFrags(entry.frags, memory, 0);
      if (frags === undefined) continue;
      copied += frags.copied;
      entry.frags = frags.list;
    }
    return copied;
  }

  /** Drops everything (abort): queued views are released for GC. */
  purge(): void {
    this.rq.length = 0;
    this.headIdx = 0;
    this.headFrag = 0;
    this.headFragOff = 0;
    this.queuedBytes = 0;
    this.ofo.length = 0;
    this.ofoBytes = 0;
    this.ofoTruesize = 0;
    this.sackAnchors.length = 0;
    this.dsackPending = false;
  }

  private pushInOrder(seg: RxSegment): void {
    this.rq.push(seg);
    this.queuedBytes += seg.len;
  }

  private setDsack(left: number, right: number): void {
    this.dsackPending = true;
    this.dsackLeft = left;
    this.dsackRight = right;
  }

  private noteSackAnchor(seq: number): void {
    const a = this.sackAnchors;
    for (let i = 0; i < a.length; i++) {
      if (a[i] === seq) {
        a.splice(i, 1);
        break;
      }
    }
    a.unshift(seq);
    if (a.length > MAX_SACK_ANCHORS) a.length = MAX_SACK_ANCHORS;
  }

  /** Index of the ofo entry holding `seq`, or -1. */
  private ofoIndexHolding(seq: number): number {
    const i = this.ofoFirstEndingAfter(seq);
    if (i < this.ofo.length && seqLe(this.ofo[i]!.seq, seq)) return i;
    return -1;
  }

  /** Index of the first ofo entry whose end is after `seq` (binary search; ofo is sorted and disjoint). */
  private ofoFirstEndingAfter(seq: number): number {
    let lo = 0;
    let hi = this.ofo.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const e = this.ofo[mid]!;
      if (seqLe(seqAdd(e.seq, e.len), seq)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Queues the parts of [start, end) of `seg` not already in the ofo queue.
   * Returns the bytes added. Records a D-SACK for the first overlap when the
   * segment brought nothing new or overlapped only partly.
   */
  private insertOfo(seg: RxSegment, start: number, end: number): number {
    let i = this.ofoFirstEndingAfter(start);
    let cursor = start;
    let added = 0;
    let firstDupLeft = 0;
    let firstDupRight = 0;
    let dup = 0;
    while (seqLt(cursor, end)) {
      const e = i < this.ofo.length ? this.ofo[i]! : undefined;
      if (e === undefined || seqLe(end, e.seq)) {
        added += this.insertPiece(i, seg, cursor, end);
        break;
      }
      if (seqLt(cursor, e.seq)) {
        const eSeq = e.seq;
        added += this.insertPiece(i, seg, cursor, eSeq);
        // The piece may have been coalesced into e (moving e.seq) or spliced
        // in before it: find the entry holding eSeq again.
        i = this.ofoFirstEndingAfter(eSeq);
        cursor = eSeq;
        continue;
      }
      const eEnd = seqAdd(e.seq, e.len);
      const overlapEnd = seqLt(end, eEnd) ? end : eEnd;
      // Past a piece dropped for memory the segment is not taken at all: its overlaps are no duplicates.
      if (this.lastOfoMemDrops === 0) {
        if (dup === 0) {
          firstDupLeft = cursor;
          firstDupRight = overlapEnd;
        }
        dup += seqDiff(overlapEnd, cursor);
      }
      cursor = overlapEnd;
      i++;
    }
    if (dup > 0) {
      // Only the first duplicate range of a segment is reported (RFC 2883 §4):
      // a front overlap with the receive queue, if any, was recorded already.
      if (this.lastDupBytes === 0) this.setDsack(firstDupLeft, firstDupRight);
      this.lastDupBytes += dup;
    }
    this.ofoBytes += added;
    return added;
  }

  /**
   * Puts bytes [from, to) of `seg` at ofo index `i`, coalescing with
   * neighbours whose flags match. Returns to - from, or 0 when the piece
   * was dropped: over the ofo limit, or after a piece of the same segment
   * that was.
   */
  private insertPiece(i: number, seg: RxSegment, from: number, to: number): number {
    const len = seqDiff(to, from);
    const cost = len + OFO_PIECE_OVERHEAD_BYTES;
    if (this.lastOfoMemDrops > 0 || (from !== this.rcvNxt && this.ofoTruesize + cost > this.ofoLimitBytes)) {
      this.lastOfoMemDrops++;
      this.lastOfoMemDropBytes += len;
      return 0;
    }
    this.ofoTruesize += cost;
    const frags = sliceFrags(seg.frags, seqDiff(from, seg.seq), len);
    this.lastOfoPieces++;
    const prev = i > 0 ? this.ofo[i - 1]! : undefined;
    const next = i < this.ofo.length ? this.ofo[i]! : undefined;
    const joinsPrev = prev !== undefined && seqAdd(prev.seq, prev.len) === from && sameFlags(prev, seg);
    const joinsNext = next !== undefined && next.seq === to && sameFlags(next, seg);
    if (joinsPrev) {
      for (let k = 0; k < frags.length; k++) prev.frags.push(frags[k]!);
      prev.len += len;
      prev.truesize += cost;
      this.lastOfoMerges++;
      if (joinsNext) {
        for (let k = 0; k < next.frags.length; k++) prev.frags.push(next.frags[k]!);
        prev.len += next.len;
        prev.truesize += next.truesize;
        this.ofo.splice(i, 1);
      }
      return len;
    }
    if (joinsNext) {
      for (let k = 0; k < next.frags.length; k++) frags.push(next.frags[k]!);
      next.frags = frags;
      next.seq = from;
      next.len += len;
      next.truesize += cost;
      this.lastOfoMerges++;
      return len;
    }
    this.ofo.splice(i, 0, { seq: from, len, frags, ddpPlaced: seg.ddpPlaced, ddpCrcOk: seg.ddpCrcOk, truesize: cost });
    return len;
  }


  /** Moves ofo entries that now start at rcv_nxt to the receive queue. */
  private drainOfo(): void {
    let k = 0;
    while (k < this.ofo.length && this.ofo[k]!.seq === this.rcvNxt) {
      const e = this.ofo[k]!;
      this.pushInOrder(e);
      this.ofoBytes -= e.len;
      this.ofoTruesize -= e.truesize;
      this.rcvNxt = seqAdd(e.seq, e.len);
      k++;
    }
    if (k > 0) this.ofo.splice(0, k);
  }

  private walk(n: number, skip: number, out: RxChunk | undefined, commit: boolean, uniformCrc: boolean): number {
    if (out !== undefined) {
      out.frags.length = 0;
      out.len = 0;
      out.seq = seqAdd(this.readSeq, skip);
      out.ddpCrcOk = true;
      out.ddpPlaced = false;
    }
    const avail = this.queuedBytes - skip;
    if (n > avail) n = avail;
    if (n <= 0) return 0;
    const want = skip + n;
    let e = this.headIdx;
    let f = this.headFrag;
    let off = this.headFragOff;
    let pos = 0;
    let lastSeg: RxSegment | undefined;
    while (pos < want) {
      const seg = this.rq[e]!;
      if (f >= seg.frags.length) {
        e++;
        f = 0;
        off = 0;
        continue;
      }
      const frag = seg.frags[f]!;
      const flen = fragLength(frag);
      let take = flen - off;
      if (take > want - pos) take = want - pos;
      if (out !== undefined && pos + take > skip) {
        if (uniformCrc && lastSeg !== seg && out.len > 0 && seg.ddpCrcOk !== out.ddpCrcOk) break;
        const cs = skip > pos ? skip - pos : 0;
        const from = off + cs;
        const to = off + take;
        out.frags.push(from === 0 && to === flen ? frag : narrowFrag(frag, from, to));
        out.len += to - from;
        if (lastSeg !== seg) {
          lastSeg = seg;
          if (!seg.ddpCrcOk) out.ddpCrcOk = false;
          if (seg.ddpPlaced) out.ddpPlaced = true;
        }
      }
      pos += take;
      off += take;
      if (off >= flen) {
        f++;
        off = 0;
        if (f >= seg.frags.length) {
          e++;
          f = 0;
        }
      }
    }
    const got = pos - skip;
    if (commit) {
      for (let k = this.headIdx; k < e; k++) this.rq[k] = undefined;
      this.headIdx = e;
      this.headFrag = f;
      this.headFragOff = off;
      this.queuedBytes -= got;
      if (this.queuedBytes === 0) {
        this.rq.length = 0;
        this.headIdx = 0;
        this.headFrag = 0;
        this.headFragOff = 0;
      } else if (this.headIdx >= COMPACT_AFTER && this.headIdx * 2 >= this.rq.length) {
        this.rq.splice(0, this.headIdx);
        this.headIdx = 0;
      }
    }
    return got;
  }
}

function trimmed(seg: RxSegment, off: number, len: number): RxSegment {
  return { seq: seqAdd(seg.seq, off), len, frags: sliceFrags(seg.frags, off, len), ddpPlaced: seg.ddpPlaced, ddpCrcOk: seg.ddpCrcOk };
}

function sameFlags(a: { ddpPlaced: boolean; ddpCrcOk: boolean }, b: { ddpPlaced: boolean; ddpCrcOk: boolean }): boolean {
  return a.ddpPlaced === b.ddpPlaced && a.ddpCrcOk === b.ddpCrcOk;
}

function putBlock(out: SackBlockOut[], n: number, left: number, right: number): number {
  const b = out[n];
  if (b === undefined) out[n] = { left, right };
  else {
    b.left = left;
    b.right = right;
  }
  return n + 1;
}
