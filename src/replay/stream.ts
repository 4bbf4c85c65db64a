/**
 * One direction of a captured TCP connection, put back in order for a
 * receiver that only watches: the host's receive queue and ofo queue
 * (src/host/net/tcp-rx-queue.ts, the same code the live host runs, so the
 * first copy of a byte wins over any retransmission exactly as it does
 * live), without windows, ACKs or a socket.
 *
 * Sync. A SYN gives the stream's start (ISN + 1). A capture that begins
 * later starts at the first segment seen, and says so (`midStream`): the
 * consumer must then find a PDU boundary itself.
 *
 * Holes. A live receiver waits for a retransmission; a capture may never
 * hold one — the frame was lost by the capture, or the replay's own
 * impairment dropped a frame the live host did receive. A hole is declared
 * lost (a `gap` for the consumer, and reading goes on past it) when:
 *  - the receiver's own ACK in the capture covers it: the live receiver had
 *    those bytes, so no retransmission will come — once the impairment
 *    stage can no longer be holding the frame back (`settle`);
 *  - it stayed open while `holeSegments` later segments arrived;
 *  - the capture ended (`finish`).
 * Declaring a hole rebuilds the receive queue at the hole's far side and
 * re-inserts the segments that were out of order, in their arrival order.
 */
import { newRxChunk, TcpRxQueue, type RxChunk, type RxSegment } from '../host/net/tcp-rx-queue.js';
import { seqAdd, seqDiff, seqGt, seqLe, seqLt, seqMax } from '../wire/seq.js';

/** Where the in-order bytes go. */
export interface ReplayStreamSink {
  /** The next in-order bytes; `chunk` and its frag array are reused after the call. */
  data(chunk: RxChunk): void;
  /** Bytes [seq, seq + len) will never arrive: the stream continues after them. */
  gap(seq: number, len: number): void;
}

export interface ReplayStreamStats {
  /** Segments with payload. */
  segments: number;
  /** Payload bytes that were new (delivered or queued). */
  bytes: number;
  /** Payload bytes that repeated bytes already received (retransmissions, duplicates). */
  dupBytes: number;
  /** Segments that arrived beyond a hole. */
  ofoSegments: number;
  /** Holes declared lost, and their bytes. */
  gaps: number;
  gapBytes: number;
  /** Bytes before the point the stream synced at (seen late, after a mid-stream start). */
  beforeSyncBytes: number;
}

export function newReplayStreamStats(): ReplayStreamStats {
  return { segments: 0, bytes: 0, dupBytes: 0, ofoSegments: 0, gaps: 0, gapBytes: 0, beforeSyncBytes: 0 };
}

export interface ReplayStreamOptions {
  /** Segments arriving while a hole stays open before it is declared lost (default 4096). */
  readonly holeSegments?: number;
}

/** Receive windows are below 2^30 (RFC 7323): anything farther ahead is not this stream's. */
const WINDOW_BYTES = 2 ** 30;
const DEFAULT_HOLE_SEGMENTS = 4096;

export class ReplayStream {
  readonly stats: ReplayStreamStats = newReplayStreamStats();
  /** True once the start of the stream is known. */
  synced = false;
  /** The capture began after the stream's first byte. */
  midStream = false;
  /** Sequence number the stream synced at. */
  startSeq = 0;

  private q: TcpRxQueue = new TcpRxQueue(0);
  private readonly chunk: RxChunk = newRxChunk();
  /** Segments inserted while the ofo queue was not empty, in arrival order (for rebuilding after a hole). */
  private pending: RxSegment[] = [];
  private holeSegs = 0;
  /** Highest ACK of the receiver seen beyond rcv_nxt, and the caller's mark at that time. */
  private coveredAck: number | undefined;
  private coveredMark = 0;
  private finSeq: number | undefined;
  /** End of the highest segment taken into the queues (see receivedEnd). */
  private highEnd: number | undefined;
  private readonly holeLimit: number;

  constructor(
    private readonly sink: ReplayStreamSink,
    opts: ReplayStreamOptions = {},
  ) {
    this.holeLimit = opts.holeSegments ?? DEFAULT_HOLE_SEGMENTS;
  }

  /** Sequence number of the next byte the consumer will get. */
  get rcvNxt(): number {
    return this.q.rcvNxt;
  }

  /** One past the highest byte received so far, in order or beyond a hole (rcv_nxt when nothing is out of order). */
  get receivedEnd(): number {
    return this.highEnd !== undefined && seqGt(this.highEnd, this.q.rcvNxt) ? this.highEnd : this.q.rcvNxt;
  }

  /** True while bytes wait beyond a hole. */
  get hasHole(): boolean {
    return !this.q.ofoEmpty;
  }

  /** True when a hole waits for `settle` to be declared lost. */
  get holeCovered(): boolean {
    return this.coveredAck !== undefined;
  }

  /** The sender's SYN: the stream starts at seq + 1. Ignored once synced. */
  syn(seq: number): void {
    if (this.synced) return;
    this.syncAt(seqAdd(seq, 1), false);
  }

  /** A segment of this direction; `fin` when it carries FIN. */
  segment(seg: RxSegment, fin: boolean): void {
    if (!this.synced) {
      if (seg.len === 0 && !fin) {
        // A pure ACK names the next byte the sender will send: a clean place to start.
        this.syncAt(seg.seq, true);
        return;
      }
      this.syncAt(seg.seq, true);
    }
    if (fin) this.finSeq = seqAdd(seg.seq, seg.len);
    if (seg.len === 0) return;
    const s = this.stats;
    s.segments++;
    if (seqLt(seg.seq, this.startSeq) && this.midStream) {
      s.beforeSyncBytes += Math.min(seg.len, seqDiff(this.startSeq, seg.seq));
    }
    const hadHole = !this.q.ofoEmpty;
    this.q.insert(seg, seqAdd(this.q.rcvNxt, WINDOW_BYTES));
    if (this.q.lastNewBytes > 0) {
      const end = seqAdd(seg.seq, seg.len);
      if (this.highEnd === undefined || seqGt(end, this.highEnd)) this.highEnd = end;
    }
    s.bytes += this.q.lastNewBytes;
    s.dupBytes += this.q.lastDupBytes;
    if (!this.q.ofoEmpty) {
      s.ofoSegments++;
      this.pending.push(seg);
      if (hadHole) this.holeSegs++;
    }
    this.drain();
    if (this.q.ofoEmpty) this.holeClosed();
    else if (this.holeSegs >= this.holeLimit) this.declareFirstHole();
  }

  /**
   * The receiver acknowledged up to `ack` (from a frame of the other
   * direction). `mark` is the caller's clock for `settle` (e.g. frames the
   * impairment stage had taken in).
   */
  acked(ack: number, mark: number): void {
    if (!this.synced || !seqGt(ack, this.q.rcvNxt)) return;
    // A FIN takes one sequence number the data never fills.
    if (this.finSeq !== undefined && seqGt(ack, this.finSeq)) ack = this.finSeq;
    if (!seqGt(ack, this.q.rcvNxt)) return;
    if (this.coveredAck === undefined) {
      this.coveredAck = ack;
      this.coveredMark = mark;
    } else if (seqGt(ack, this.coveredAck)) {
      this.coveredAck = ack;
      this.coveredMark = Math.max(this.coveredMark, mark);
    }
  }

  /**
   * Declares lost what the receiver acknowledged but never reached us,
   * provided it was acknowledged no later than `settledMark` (frames held
   * back since then may still fill it).
   */
  settle(settledMark: number): void {
    let ack = this.coveredAck;
    if (ack === undefined || this.coveredMark > settledMark) return;
    this.coveredAck = undefined;
    // The FIN may have come (late) since the ACK was seen: its sequence number holds no data.
    if (this.finSeq !== undefined && seqGt(ack, this.finSeq)) ack = this.finSeq;
    while (seqLt(this.q.rcvNxt, ack)) {
      const first = this.q.ofoFirstSeq;
      const to = first !== undefined && seqLe(first, ack) ? first : ack;
      this.skipTo(to);
    }
  }

  /** End of the capture: every remaining hole is lost; what lies beyond is delivered. */
  finish(): void {
    this.coveredAck = undefined;
    while (!this.q.ofoEmpty) this.declareFirstHole();
  }

  private syncAt(seq: number, midStream: boolean): void {
    this.synced = true;
    this.midStream = midStream;
    this.startSeq = seq;
    this.q = new TcpRxQueue(seq);
  }

  private drain(): void {
    const q = this.q;
    while (q.queuedBytes > 0) {
      // uniformCrc: a chunk's ddpCrcOk holds for every byte in it.
      q.read(q.queuedBytes, this.chunk, true);
      this.sink.data(this.chunk);
    }
  }

  private holeClosed(): void {
    this.pending = [];
    this.holeSegs = 0;
    if (this.coveredAck !== undefined && !seqGt(this.coveredAck, this.q.rcvNxt)) this.coveredAck = undefined;
  }

  private declareFirstHole(): void {
    const first = this.q.ofoFirstSeq;
    if (first === undefined) return;
    this.skipTo(first);
  }

  /** Gives up on [rcv_nxt, to): the consumer gets a gap, then whatever was queued beyond. */
  private skipTo(to: number): void {
    const from = this.q.rcvNxt;
    const len = seqDiff(to, from);
    if (len <= 0) return;
    this.stats.gaps++;
    this.stats.gapBytes += len;
    const segs = this.pending;
    this.pending = [];
    this.holeSegs = 0;
    this.q = new TcpRxQueue(to);
    this.sink.gap(from, len);
    const windowEnd = seqAdd(to, WINDOW_BYTES);
    for (const seg of segs) {
      const hadHole = !this.q.ofoEmpty;
      this.q.insert(seg, windowEnd);
      if (!this.q.ofoEmpty) {
        this.pending.push(seg);
        if (hadHole) this.holeSegs++;
      }
      this.drain();
    }
    if (this.q.ofoEmpty) this.holeClosed();
    if (this.coveredAck !== undefined) this.coveredAck = seqMax(this.coveredAck, this.q.rcvNxt);
    if (this.coveredAck !== undefined && !seqGt(this.coveredAck, this.q.rcvNxt)) this.coveredAck = undefined;
  }
}
