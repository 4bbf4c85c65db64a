/**
 * NVMe/TCP PDU framing of one captured direction, for a replay: in-order
 * bytes as skb frags in (with the TCP sequence number of the first), PDUs
 * out to a direction-specific handler — and, unlike a live receiver, it
 * keeps going when the capture does not: it starts without knowing where a
 * PDU begins, and it is told about bytes that will never arrive.
 *
 * Receive states, as the Linux host walks recv_state (header → data →
 * digest), plus the two a capture needs:
 *
 *   hunt ─► header ─► pad ─► data ─► ddgst ─► (PDU ends) ─► header
 *     ▲        │                                  skip ─────► header
 *     └────────┴─ a header that does not validate, a gap over a header
 *
 * hunt   Looking for a PDU boundary: at the start of a capture taken
 *        mid-connection, and whenever sync is lost. A candidate is a
 *        plausible common header (isPlausiblePduHeader) of a type this
 *        direction carries, whose whole header parses; with HDGST it must
 *        verify (decisive), without it the next header (at +plen) must be
 *        plausible too, once those bytes are here (or the PDU is too long
 *        to wait for, or the capture ended). The handler may veto on
 *        meaning (a C2HData beyond its command's length). Bytes passed
 *        over are counted; the frags from the accepted header on are fed
 *        through the machine as they arrived (a `placed` frag stays placed).
 * skip   The rest of a PDU whose header a gap cut short (plen was known).
 *
 * Gaps (bytes the capture lost) are walked like bytes that are absent: in
 * the data of a PDU whose header was seen, the PDU goes on (its lost data
 * is reported, its digest cannot be checked); a gap that swallows a PDU
 * header loses sync, unless it ends exactly where the next header starts.
 *
 * Data goes where the handler says (a command's buffer at DATAO) through
 * the host's one copy routine, so placed bytes are skipped and counted as
 * such. Data digests follow the DDP rule of the live host: skipped when
 * every chunk of the PDU's data and digest had ddpCrcOk, else computed over
 * the destination. Header and digest bytes are copied into scratch through
 * the same routine.
 */
import { crc32c } from '../wire/crc32c.js';
import { WireError } from '../wire/errors.js';
import {
  NVME_TCP_COMMON_HEADER_LEN,
  NVME_TCP_DIGEST_LEN,
  PduFlags,
  isPduType,
  isPlausiblePduHeader,
  parsePduHeader,
  pduHeaderLength,
  peekCommonHeader,
  validateCommonHeader,
  type DigestCheck,
  type ParsedPduHeader,
  type PduLayout,
  type PduType,
} from '../wire/nvme-tcp-pdu.js';
import { seqAdd, seqDiff } from '../wire/seq.js';
import type { RxChunk } from '../host/net/tcp-rx-queue.js';
import { copySkbFrags, newSkbCopyCounts, type SkbCopyCounts } from '../host/net/skb-copy.js';
import { FragWindow, type ReadableFrag } from './frag-window.js';

/** What came of a PDU's data digest. */
export type DataDigestResult =
  | 'absent'
  /** Computed by the host, matched. */
  | 'ok'
  | 'mismatch'
  /** The NIC verified it (every chunk had ddpCrcOk): the host skipped its CRC. */
  | 'nic-verified'
  /** Part of the data or digest was lost: nothing to check against. */
  | 'unverifiable';

/** Where a PDU's data goes: data byte i to buf[off + i]. */
export interface PduDataTarget {
  readonly buf: Buffer;
  readonly off: number;
  /**
   * The 'linux' ULP's fallback (src/host/nvme/ulp-mode.ts): when the PDU
   * was not fully NIC-verified, its digest is compared with the CRC of this
   * buffer, the request's whole data, instead of the PDU's own data.
   */
  readonly request?: Buffer;
}

export interface PduEvent {
  /** The header; its views (sqe, cqe, headerBytes) are valid only during the call. */
  readonly parsed: ParsedPduHeader;
  /** TCP sequence number of the PDU's first byte. */
  readonly seq: number;
  readonly hdgst: DigestCheck;
}

/** One run of data that arrived: [offset, offset + length) of the PDU's data. */
export type DataPiece = readonly [number, number];

export interface PduEndEvent extends PduEvent {
  readonly ddgst: DataDigestResult;
  /** The data that arrived, in order (one piece for a PDU nothing was lost of). */
  readonly received: readonly DataPiece[];
  /** Data bytes lost in gaps. */
  readonly dataMissing: number;
}

/** What a direction does with its PDUs. */
export interface PduStreamHandler {
  /** Hunting: may a PDU with this (well-formed) header start at `seq`? Views valid during the call only. */
  candidate(parsed: ParsedPduHeader, seq: number): boolean;
  /** A header arrived; returns where its data goes, or undefined to pass over it. */
  header(ev: PduEvent): PduDataTarget | undefined;
  /** The PDU ended (data and digest done, or lost). */
  end(ev: PduEndEvent): void;
}

export interface PduStreamStats {
  /** PDUs by type code (index 0..9). */
  readonly pdus: number[];
  hdgstOk: number;
  hdgstMismatch: number;
  ddgstOk: number;
  ddgstMismatch: number;
  ddgstNicVerified: number;
  ddgstUnverifiable: number;
  /** Header bytes the host CRC'd, and data bytes. */
  crcHeaderBytes: number;
  bytesCrcData: number;
  /** Header, padding-free header and digest bytes through the copy routine. */
  readonly headerCopy: SkbCopyCounts;
  /** PDU data into its destination through the copy routine: copied vs already in place. */
  readonly dataCopy: SkbCopyCounts;
  /** Data bytes the handler passed over (no destination). */
  dataDiscarded: number;
  /** Times a PDU boundary was found by hunting, and bytes passed over while hunting. */
  syncs: number;
  huntSkippedBytes: number;
  /** Times sync was lost (a gap over a header, a header that did not validate). */
  syncLost: number;
  /** Headers met in sync that did not validate. */
  badHeaders: number;
  /** PDUs a gap cut before their header was whole. */
  headerlessPdus: number;
  /** PDUs the end of the capture cut short. */
  truncatedPdus: number;
}

export function newPduStreamStats(): PduStreamStats {
  return {
    pdus: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    hdgstOk: 0,
    hdgstMismatch: 0,
    ddgstOk: 0,
    ddgstMismatch: 0,
    ddgstNicVerified: 0,
    ddgstUnverifiable: 0,
    crcHeaderBytes: 0,
    bytesCrcData: 0,
    headerCopy: newSkbCopyCounts(),
    dataCopy: newSkbCopyCounts(),
    dataDiscarded: 0,
    syncs: 0,
    huntSkippedBytes: 0,
    syncLost: 0,
    badHeaders: 0,
    headerlessPdus: 0,
    truncatedPdus: 0,
  };
}

type StreamState = 'hunt' | 'header' | 'pad' | 'data' | 'ddgst' | 'skip';

/** Largest header gathered: hlen 128 (IC PDUs) + HDGST, and room for a TermReq. */
const HDR_MAX = 256;
/**
 * Hunting without header digests waits for the next header to check a
 * candidate against, but not for more than this many bytes: a longer PDU is
 * taken on its own plausibility and the handler's judgement.
 */
const HUNT_LOOKAHEAD_BYTES = 4 * 1024 * 1024;
const NO_PIECES: readonly DataPiece[] = [];

export class PduStream {
  readonly stats: PduStreamStats = newPduStreamStats();
  /** Sequence number where the first PDU boundary was found, and bytes passed over before it (undefined: not yet). */
  firstSync: { readonly seq: number; readonly skipped: number } | undefined;

  private state: StreamState = 'hunt';
  /** Sequence number of the next byte the machine consumes. */
  private pos = 0;
  /** Sequence number just past the last byte pushed or gap reported. */
  private inputEnd = 0;
  private started = false;

  // The input being walked (a chunk's frags, or hunted frags fed again).
  private work: readonly ReadableFrag[] = [];
  private workAt = 0;
  private crcOkInput = false;

  // hunt
  private readonly window = new FragWindow();
  private huntSeq = 0;
  private scanOff = 0;
  private readonly probe = Buffer.alloc(HDR_MAX);
  private readonly probeNext = Buffer.alloc(NVME_TCP_COMMON_HEADER_LEN);

  // header
  private readonly hdr = Buffer.alloc(HDR_MAX);
  private hdrFill = 0;
  private hdrNeed = NVME_TCP_COMMON_HEADER_LEN;
  private pduSeq = 0;
  private layout: PduLayout | undefined;
  private parsed: ParsedPduHeader | undefined;
  private hdgst: DigestCheck = 'absent';

  // body
  private skipLeft = 0;
  private padLeft = 0;
  private dataLeft = 0;
  private dataDone = 0;
  private dataMissing = 0;
  private target: PduDataTarget | undefined;
  private pieces: DataPiece[] | undefined;
  private pieceStart = -1;
  private crcOkSoFar = true;
  private crcBroken = false;
  private crc = 0;
  private crcPos = 0;
  private readonly ddgstBuf = Buffer.alloc(NVME_TCP_DIGEST_LEN);
  private ddgstFill = 0;
  private ddgstMissing = false;

  constructor(
    private readonly handler: PduStreamHandler,
    /** PDU types this direction carries; anything else is not a header here. */
    private readonly allowed: ReadonlySet<PduType>,
  ) {}

  /**
   * Where the stream starts: at a PDU boundary (`atBoundary`, the first
   * byte after the SYN), or somewhere unknown (a capture taken mid-connection).
   */
  start(seq: number, atBoundary: boolean): void {
    this.started = true;
    this.inputEnd = seq;
    if (atBoundary) {
      this.toHeader(seq);
      this.firstSync = { seq, skipped: 0 };
    } else {
      this.beginHunt(seq);
    }
  }

  /** True once start() was called. */
  get isStarted(): boolean {
    return this.started;
  }

  /** Sequence number of the next byte expected. */
  get nextSeq(): number {
    return this.inputEnd;
  }

  /**
   * Where the earliest PDU that has not ended starts (the one in progress,
   * or the next): every PDU the handler will still hear of, header or end,
   * starts at or after it. While hunting, bytes held for look-ahead are not
   * parsed yet: this is where the scan is.
   */
  get openPduSeq(): number {
    return this.state === 'hunt' ? seqAdd(this.huntSeq, this.scanOff) : this.pduSeq;
  }

  /** True while looking for a PDU boundary. */
  get hunting(): boolean {
    return this.state === 'hunt';
  }

  /** The next in-order bytes (chunk.seq must be nextSeq). */
  push(chunk: RxChunk): void {
    if (chunk.seq !== this.inputEnd) {
      throw new Error(`PduStream: chunk at seq ${chunk.seq}, expected ${this.inputEnd}`);
    }
    this.inputEnd = seqAdd(this.inputEnd, chunk.len);
    for (const f of chunk.frags) {
      if (f.kind === 'dmabuf') throw new Error('PduStream: a dmabuf frag reached a replay stream');
    }
    this.run(chunk.frags as readonly ReadableFrag[], chunk.ddpCrcOk);
  }

  /** Bytes [seq, seq + len) will never arrive (seq must be nextSeq). */
  gap(seq: number, len: number): void {
    if (seq !== this.inputEnd) throw new Error(`PduStream: gap at seq ${seq}, expected ${this.inputEnd}`);
    this.inputEnd = seqAdd(this.inputEnd, len);
    if (this.state === 'hunt' && this.window.end > this.scanOff && this.scan(true)) this.run(this.work, false, true);
    this.missing(len);
  }

  /** End of the capture: a candidate still waiting is taken, a PDU still open is cut short. */
  finish(): void {
    if (this.state === 'hunt' && this.window.end > this.scanOff && this.scan(true)) this.run(this.work, false, true);
    switch (this.state) {
      case 'hunt':
        // Offsets count from where the hunt began: everything held was passed over.
        this.stats.huntSkippedBytes += this.window.end;
        this.window.clear();
        return;
      case 'header':
        if (this.hdrFill > 0) this.stats.truncatedPdus++;
        return;
      case 'skip':
        return;
      case 'pad':
      case 'data':
      case 'ddgst': {
        this.stats.truncatedPdus++;
        const left = seqDiff(seqAdd(this.pduSeq, this.layout!.plen), this.pos);
        this.missing(left);
        return;
      }
    }
  }

  // ------------------------------------------------------------ walking

  /** Walks frags through the states; a hunt that succeeds feeds its frags from the header on. */
  private run(frags: readonly ReadableFrag[], crcOk: boolean, resume = false): void {
    if (!resume) {
      this.work = frags;
      this.workAt = 0;
    }
    this.crcOkInput = crcOk;
    for (;;) {
      while (this.workAt < this.work.length) this.feed(this.work[this.workAt++]!);
      if (this.state !== 'hunt' || !this.scan(false)) return;
      // Hunted bytes may come from several chunks: trust no ddpCrcOk for them.
      this.crcOkInput = false;
    }
  }

  private feed(f: ReadableFrag): void {
    const len = f.buf.length;
    let off = 0;
    while (off < len) {
      switch (this.state) {
        case 'hunt':
          this.window.append(off === 0 ? f : slice(f, off, len));
          this.pos = seqAdd(this.pos, len - off);
          off = len;
          break;
        case 'header':
          off = this.rxHeader(f, off);
          break;
        case 'pad': {
          const n = Math.min(this.padLeft, len - off);
          this.padLeft -= n;
          this.pos = seqAdd(this.pos, n);
          off += n;
          if (this.padLeft === 0) this.afterPad();
          break;
        }
        case 'data':
          off = this.rxData(f, off);
          break;
        case 'ddgst':
          off = this.rxDdgst(f, off);
          break;
        case 'skip': {
          const n = Math.min(this.skipLeft, len - off);
          this.skipLeft -= n;
          this.pos = seqAdd(this.pos, n);
          off += n;
          if (this.skipLeft === 0) this.toHeader(this.pos);
          break;
        }
      }
    }
  }

  private rxHeader(f: ReadableFrag, off: number): number {
    const n = Math.min(this.hdrNeed - this.hdrFill, f.buf.length - off);
    copySkbFrags([slice(f, off, off + n)], this.hdr, this.hdrFill, this.stats.headerCopy);
    this.hdrFill += n;
    this.pos = seqAdd(this.pos, n);
    if (this.hdrFill < this.hdrNeed) return off + n;
    if (this.layout === undefined) {
      const layout = this.validate();
      if (layout === undefined) {
        this.badHeader();
        return off + n;
      }
      this.layout = layout;
      this.hdrNeed = layout.headLen;
      if (this.hdrFill < this.hdrNeed) return off + n;
    }
    this.onHeader();
    return off + n;
  }

  private validate(): PduLayout | undefined {
    const type = this.hdr[0]!;
    if (!isPduType(type) || !this.allowed.has(type)) return undefined;
    try {
      return validateCommonHeader(peekCommonHeader(this.hdr));
    } catch (e) {
      if (e instanceof WireError) return undefined;
      throw e;
    }
  }

  private onHeader(): void {
    const layout = this.layout!;
    let parsed: ParsedPduHeader;
    try {
      parsed = parsePduHeader(this.hdr.subarray(0, layout.headLen));
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      this.badHeader();
      return;
    }
    this.parsed = parsed;
    const s = this.stats;
    s.pdus[layout.type]!++;
    this.hdgst = 'absent';
    if (parsed.hdgst !== undefined) {
      s.crcHeaderBytes += layout.hlen;
      this.hdgst = crc32c(parsed.headerBytes) === parsed.hdgst ? 'ok' : 'mismatch';
      if (this.hdgst === 'ok') s.hdgstOk++;
      else s.hdgstMismatch++;
    }
    this.padLeft = layout.dataOffset - layout.headLen;
    this.dataLeft = layout.dataLength;
    this.dataDone = 0;
    this.dataMissing = 0;
    this.pieces = undefined;
    this.pieceStart = -1;
    this.crcOkSoFar = true;
    this.crcBroken = false;
    this.crc = 0;
    this.crcPos = 0;
    this.ddgstFill = 0;
    this.ddgstMissing = false;
    this.target = this.handler.header({ parsed, seq: this.pduSeq, hdgst: this.hdgst });
    if (this.padLeft > 0) this.state = 'pad';
    else this.afterPad();
  }

  private afterPad(): void {
    if (this.dataLeft > 0) this.state = 'data';
    else this.afterData();
  }

  private afterData(): void {
    this.closePiece();
    if (this.layout!.ddgstLen > 0) this.state = 'ddgst';
    else this.endPdu();
  }

  private rxData(f: ReadableFrag, off: number): number {
    const n = Math.min(this.dataLeft, f.buf.length - off);
    const piece = slice(f, off, off + n);
    if (this.pieceStart < 0) this.pieceStart = this.dataDone;
    const t = this.target;
    const withDdgst = this.layout!.ddgstLen > 0;
    if (t !== undefined) {
      copySkbFrags([piece], t.buf, t.off + this.dataDone, this.stats.dataCopy);
      this.dataDone += n;
      if (withDdgst) {
        if (!this.crcOkInput) this.crcOkSoFar = false;
        if (!this.crcOkSoFar && !this.crcBroken && t.request === undefined) this.crcCatchUp();
      }
    } else {
      this.stats.dataDiscarded += n;
      if (withDdgst && !this.crcBroken) {
        this.crc = crc32c(piece.buf, this.crc);
        this.stats.bytesCrcData += n;
        this.crcPos += n;
      }
      this.dataDone += n;
    }
    this.dataLeft -= n;
    this.pos = seqAdd(this.pos, n);
    if (this.dataLeft === 0) this.afterData();
    return off + n;
  }

  /** CRCs the target's data from where the CRC stopped to what has arrived (the software fallback). */
  private crcCatchUp(): void {
    const t = this.target!;
    if (this.crcPos === this.dataDone) return;
    this.crc = crc32c(t.buf.subarray(t.off + this.crcPos, t.off + this.dataDone), this.crc);
    this.stats.bytesCrcData += this.dataDone - this.crcPos;
    this.crcPos = this.dataDone;
  }

  private rxDdgst(f: ReadableFrag, off: number): number {
    const n = Math.min(NVME_TCP_DIGEST_LEN - this.ddgstFill, f.buf.length - off);
    copySkbFrags([slice(f, off, off + n)], this.ddgstBuf, this.ddgstFill, this.stats.headerCopy);
    this.ddgstFill += n;
    if (!this.crcOkInput) this.crcOkSoFar = false;
    this.pos = seqAdd(this.pos, n);
    if (this.ddgstFill === NVME_TCP_DIGEST_LEN) this.endPdu();
    return off + n;
  }

  private endPdu(): void {
    const layout = this.layout!;
    const s = this.stats;
    let ddgst: DataDigestResult = 'absent';
    if (layout.ddgstLen > 0) {
      if (this.crcBroken || this.ddgstMissing) {
        ddgst = 'unverifiable';
        s.ddgstUnverifiable++;
      } else if (this.target !== undefined && this.crcOkSoFar) {
        ddgst = 'nic-verified';
        s.ddgstNicVerified++;
      } else {
        const request = this.target?.request;
        let crc = this.crc;
        if (request !== undefined) {
          crc = crc32c(request);
          s.bytesCrcData += request.length;
        } else if (this.target !== undefined) {
          this.crcCatchUp();
          crc = this.crc;
        }
        ddgst = crc === this.ddgstBuf.readUInt32LE(0) ? 'ok' : 'mismatch';
        if (ddgst === 'ok') s.ddgstOk++;
        else s.ddgstMismatch++;
      }
    }
    let received: readonly DataPiece[] = NO_PIECES;
    if (this.pieces !== undefined) received = this.pieces;
    const ev: PduEndEvent = {
      parsed: this.parsed!,
      seq: this.pduSeq,
      hdgst: this.hdgst,
      ddgst,
      received,
      dataMissing: this.dataMissing,
    };
    const next = seqAdd(this.pduSeq, layout.plen);
    this.target = undefined;
    this.toHeader(next);
    this.handler.end(ev);
  }

  private closePiece(): void {
    if (this.pieceStart < 0) return;
    (this.pieces ??= []).push([this.pieceStart, this.dataDone - this.pieceStart]);
    this.pieceStart = -1;
  }

  private toHeader(seq: number): void {
    this.state = 'header';
    this.pos = seq;
    this.pduSeq = seq;
    this.hdrFill = 0;
    this.hdrNeed = NVME_TCP_COMMON_HEADER_LEN;
    this.layout = undefined;
    this.parsed = undefined;
  }

  /** A header in sync that is no header: hunt again from its second byte. */
  private badHeader(): void {
    this.stats.badHeaders++;
    this.stats.syncLost++;
    const again = Buffer.from(this.hdr.subarray(1, this.hdrFill));
    this.beginHunt(seqAdd(this.pduSeq, 1));
    this.window.append({ kind: 'host', buf: again });
    this.pos = seqAdd(this.pos, again.length);
  }

  // ---------------------------------------------------------- gaps

  /** Walks `len` absent bytes through the states. */
  private missing(len: number): void {
    let left = len;
    const gapEnd = seqAdd(this.pos, len);
    while (left > 0) {
      switch (this.state) {
        case 'hunt':
          this.stats.huntSkippedBytes += this.window.end;
          this.beginHunt(gapEnd);
          return;
        case 'header': {
          if (this.hdrFill === 0 || this.layout === undefined) {
            // The header (or its length) is gone: where the next PDU starts is unknown.
            if (this.hdrFill > 0) this.stats.headerlessPdus++;
            this.loseSync(gapEnd);
            return;
          }
          // plen is known: the PDU is lost, but the next one starts at a known place.
          this.stats.headerlessPdus++;
          const rest = seqDiff(seqAdd(this.pduSeq, this.layout.plen), this.pos);
          this.skipLeft = rest;
          this.state = 'skip';
          break;
        }
        case 'skip': {
          const n = Math.min(this.skipLeft, left);
          this.skipLeft -= n;
          left -= n;
          this.pos = seqAdd(this.pos, n);
          if (this.skipLeft === 0) this.toHeader(this.pos);
          if (left > 0) {
            this.loseSync(gapEnd);
            return;
          }
          break;
        }
        case 'pad': {
          const n = Math.min(this.padLeft, left);
          this.padLeft -= n;
          left -= n;
          this.pos = seqAdd(this.pos, n);
          if (this.padLeft === 0) this.afterPad();
          break;
        }
        case 'data': {
          const n = Math.min(this.dataLeft, left);
          this.closePiece();
          this.crcBroken = true;
          this.dataMissing += n;
          this.dataDone += n;
          this.dataLeft -= n;
          left -= n;
          this.pos = seqAdd(this.pos, n);
          if (this.dataLeft === 0) this.afterData();
          break;
        }
        case 'ddgst': {
          const n = Math.min(NVME_TCP_DIGEST_LEN - this.ddgstFill, left);
          this.ddgstFill += n;
          this.ddgstMissing = true;
          left -= n;
          this.pos = seqAdd(this.pos, n);
          if (this.ddgstFill === NVME_TCP_DIGEST_LEN) this.endPdu();
          break;
        }
      }
      // A PDU that ended inside the gap leaves the machine at a header: more gap means sync is lost.
      if (left > 0 && this.atPduBoundary()) {
        this.loseSync(gapEnd);
        return;
      }
    }
  }

  private atPduBoundary(): boolean {
    return this.state === 'header' && this.hdrFill === 0;
  }

  private loseSync(at: number): void {
    this.stats.syncLost++;
    this.beginHunt(at);
  }

  // ----------------------------------------------------------- hunting

  private beginHunt(seq: number): void {
    this.state = 'hunt';
    this.pos = seq;
    this.huntSeq = seq;
    this.scanOff = 0;
    this.window.clear();
  }

  /**
   * Scans the hunted bytes for a PDU boundary (see the file comment).
   * Returns true when it found one: the machine is then at that header and
   * `work` holds the frags from it on. `final`: no more bytes will come.
   */
  private scan(final: boolean): boolean {
    const w = this.window;
    const end = w.end;
    let off = this.scanOff;
    while (off + NVME_TCP_COMMON_HEADER_LEN <= end) {
      const type = w.byteAt(off);
      if (!isPduType(type) || !this.allowed.has(type) || w.byteAt(off + 2) !== pduHeaderLength(type)) {
        off++;
        continue;
      }
      const probe = this.probe;
      w.copyOut(off, NVME_TCP_COMMON_HEADER_LEN, probe);
      if (!isPlausiblePduHeader(probe, 0)) {
        off++;
        continue;
      }
      const hdgst = (probe[1]! & PduFlags.HDGSTF) !== 0;
      const headLen = probe[2]! + (hdgst ? NVME_TCP_DIGEST_LEN : 0);
      const plen = probe.readUInt32LE(4);
      if (off + headLen > end) {
        if (final) {
          off++;
          continue;
        }
        break;
      }
      w.copyOut(off, headLen, probe);
      let parsed: ParsedPduHeader;
      try {
        parsed = parsePduHeader(probe.subarray(0, headLen));
      } catch (e) {
        if (!(e instanceof WireError)) throw e;
        off++;
        continue;
      }
      if (parsed.hdgst !== undefined && crc32c(parsed.headerBytes) !== parsed.hdgst) {
        off++;
        continue;
      }
      if (!this.handler.candidate(parsed, seqAdd(this.huntSeq, off))) {
        off++;
        continue;
      }
      if (parsed.hdgst === undefined) {
        const next = off + plen;
        if (next + NVME_TCP_COMMON_HEADER_LEN <= end) {
          w.copyOut(next, NVME_TCP_COMMON_HEADER_LEN, this.probeNext);
          const t = this.probeNext[0]!;
          if (!isPduType(t) || !this.allowed.has(t) || !isPlausiblePduHeader(this.probeNext, 0)) {
            off++;
            continue;
          }
        } else if (!final && plen <= HUNT_LOOKAHEAD_BYTES) {
          break;
        }
      }
      this.accept(off);
      return true;
    }
    this.scanOff = off;
    w.dropBefore(off);
    return false;
  }

  private accept(off: number): void {
    const seq = seqAdd(this.huntSeq, off);
    const frags = this.window.fragsFrom(off);
    this.stats.syncs++;
    this.stats.huntSkippedBytes += off;
    this.firstSync ??= { seq, skipped: off };
    this.window.clear();
    this.scanOff = 0;
    this.toHeader(seq);
    this.work = frags;
    this.workAt = 0;
  }
}

function slice(f: ReadableFrag, from: number, to: number): ReadableFrag {
  if (from === 0 && to === f.buf.length) return f;
  return f.kind === 'host' ? { kind: 'host', buf: f.buf.subarray(from, to) } : { kind: 'placed', buf: f.buf.subarray(from, to) };
}
