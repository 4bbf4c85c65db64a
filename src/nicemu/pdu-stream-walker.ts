/**
 * The NIC's walk over the NVMe/TCP PDUs of one TCP byte stream, shared by
 * the offload engines that parse C2H PDUs on receive (the DDP engine and
 * the header-split engine).
 *
 * It keeps what the DDP series' driver keeps per connection: where the next
 * header starts, the part of a header gathered so far (a header may span
 * segments), and the end of the current PDU's body. Stream positions are
 * unbounded numbers, a TCP sequence number mapped around the highest byte
 * seen, so a walk never compares sequence numbers directly.
 *
 * What a header means, what to do with body bytes and what to do when a
 * header does not hold is the engine's: it answers through `PduWalkEngine`.
 */
import { crc32c } from '../wire/crc32c.js';
import { NVME_TCP_COMMON_HEADER_LEN, validateCommonHeader, type PduLayout } from '../wire/nvme-tcp-pdu.js';
import { PduHeaderView } from '../wire/nvme-tcp-pdu-header.js';
import { seqAdd, seqDiff } from '../wire/seq.js';

/** Successor headers checked when judging a resync candidate. */
const CHAIN_CHECKS = 16;

/** The engine's side of a walk. `R` is what it remembers about a PDU whose body it follows. */
export interface PduWalkEngine<R> {
  /**
   * Header bytes [p, q) of the current segment are next. False: the engine
   * will not trust them and has dealt with the rest of the segment itself
   * (the walk stops).
   */
  gatherHeader(p: number, q: number, to: number): boolean;
  /** Could a PDU this connection's peer sends start at buf[off]? With `deep`, DATAL and HDGST too when in reach. */
  headerLooksRight(buf: Buffer, off: number, deep: boolean): boolean;
  /**
   * The whole header starting at stream position `start` is gathered and its
   * HDGST holds: the record to follow its body with, undefined for none, or
   * false when the header does not hold.
   */
  header(layout: PduLayout, h: PduHeaderView, start: number): R | undefined | false;
  /** Body bytes [p, q) of the PDU `rec` (data, padding or digest). */
  body(rec: R | undefined, p: number, q: number): void;
  /** The header at the walker (gathered up to `p`) did not validate; the rest of the segment ends at `to`. */
  badHeader(p: number, to: number): void;
}

export class PduStreamWalker<R> {
  /** Stream position up to which the walk has gone. */
  frontier = 0;
  /** Gathering a header or inside a body. */
  part: 'hdr' | 'body' = 'hdr';
  /** Where the current PDU starts. */
  hdrStart = 0;
  /** Where the current PDU's body ends (with `part` 'body'). */
  curEnd = 0;
  /** The engine's record of the PDU whose body is being walked. */
  cur: R | undefined;

  // Positions: seq mapped to an unbounded number around the highest byte seen.
  refSeq = 0;
  refPos = 0;
  maxSeen = 0;

  private readonly hdr: Buffer;
  private readonly hdrView: PduHeaderView;
  /** Moved along a segment by the resync scan. */
  private readonly scanView = new PduHeaderView();
  private hdrFill = 0;
  private hdrNeed = NVME_TCP_COMMON_HEADER_LEN;
  private layout: PduLayout | undefined;

  constructor(
    /** Largest header gathered (hlen + HDGST). */
    hdrMaxBytes: number,
    private readonly engine: PduWalkEngine<R>,
  ) {
    this.hdr = Buffer.alloc(hdrMaxBytes);
    this.hdrView = new PduHeaderView(this.hdr);
  }

  /** Walks [from, to) of the segment `payload` that starts at stream position `base`; `from` is the frontier. */
  walk(payload: Buffer, base: number, from: number, to: number): void {
    let p = from;
    while (p < to) {
      if (this.part === 'hdr') {
        const n = Math.min(this.hdrNeed - this.hdrFill, to - p);
        if (!this.engine.gatherHeader(p, p + n, to)) return;
        payload.copy(this.hdr, this.hdrFill, p - base, p - base + n);
        this.hdrFill += n;
        p += n;
        if (this.hdrFill < this.hdrNeed) break;
        if (this.layout === undefined) {
          const layout = this.commonHeader();
          if (layout === undefined) {
            this.engine.badHeader(p, to);
            return;
          }
          this.layout = layout;
          this.hdrNeed = layout.headLen;
          if (this.hdrFill < this.hdrNeed) continue;
        }
        if (!this.header(this.layout)) {
          this.engine.badHeader(p, to);
          return;
        }
      } else {
        const n = Math.min(this.curEnd - p, to - p);
        if (n > 0) this.engine.body(this.cur, p, p + n);
        p += n;
        if (p === this.curEnd) this.nextPdu(p);
      }
    }
    this.frontier = to;
  }

  /** A PDU header starts at stream position `at`. */
  nextPdu(at: number): void {
    this.part = 'hdr';
    this.hdrStart = at;
    this.hdrFill = 0;
    this.hdrNeed = NVME_TCP_COMMON_HEADER_LEN;
    this.layout = undefined;
    this.cur = undefined;
  }

  /** The gathered common header: a PDU the peer may send here, or undefined. */
  private commonHeader(): PduLayout | undefined {
    if (!this.engine.headerLooksRight(this.hdr, 0, false)) return undefined;
    try {
      return validateCommonHeader(this.hdrView.commonHeader());
    } catch {
      return undefined;
    }
  }

  /** The whole header (headLen bytes) is gathered: check HDGST, let the engine map it, enter its body. */
  private header(layout: PduLayout): boolean {
    const h = this.hdrView;
    if (layout.hdgstLen !== 0 && crc32c(h.headerBytes()) !== h.hdgst) return false;
    const start = this.hdrStart;
    const rec = this.engine.header(layout, h, start);
    if (rec === false) return false;
    const end = start + layout.plen;
    if (end === start + layout.headLen) {
      this.nextPdu(end);
      return true;
    }
    this.part = 'body';
    this.curEnd = end;
    this.cur = rec;
    return true;
  }

  /** A resync candidate at buf[off]: it looks right and so do its successors inside `buf`. */
  candidateAt(buf: Buffer, off: number): boolean {
    if (!this.engine.headerLooksRight(buf, off, true)) return false;
    const v = this.scanView;
    let next = off + v.at(buf, off).plen;
    for (let k = 0; k < CHAIN_CHECKS && next + NVME_TCP_COMMON_HEADER_LEN <= buf.length; k++) {
      if (!this.engine.headerLooksRight(buf, next, true)) return false;
      next += v.at(buf, next).plen;
    }
    return true;
  }

  // ------------------------------------------------------------- positions

  posOf(seq: number): number {
    return this.refPos + seqDiff(seq, this.refSeq);
  }

  seqOf(pos: number): number {
    return seqAdd(this.refSeq, pos - this.refPos);
  }

  /** A segment [segStart, segEnd) starting at `seq` went by: the highest byte seen moves on. */
  noteSeen(seq: number, segStart: number, segEnd: number): void {
    if (segEnd > this.maxSeen) {
      this.maxSeen = segEnd;
      this.refSeq = seqAdd(seq, segEnd - segStart);
      this.refPos = segEnd;
    }
  }
}
