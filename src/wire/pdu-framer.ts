/**
 * Streaming NVMe/TCP PDU framer: TCP byte stream in (chunks as the socket
 * delivers them), whole PDUs out, in order, identical whatever the chunking.
 *
 * Receive states follow the Linux host's recv_state (header → data → digest),
 * with padding as its own state:
 *
 *   common ─► head ─► pad ─► data ─► ddgst ─► (PDU delivered) ─► common
 *   (8 bytes)  (hlen+HDGST)  (pdo-head)  (dataLength)  (4)
 *
 * Zero-copy: a header that lies inside one chunk is a view of it, and data is
 * delivered as views of the chunks it arrived in (one fragment per chunk), so
 * a PDU wholly inside one chunk is made of subarrays of that chunk. Only a
 * header (≤ 128 bytes + HDGST) or a digest split across chunks is copied.
 * Memory held between pushes: one PDU header plus the current PDU's data
 * fragments.
 *
 * Digests are per PDU (HDGSTF/DDGSTF in each header), so one framer runs from
 * the ICReq/ICResp exchange (never digested) through the digested phase.
 */
import { crc32c, crc32cFrags } from './crc32c.js';
import { WireError } from './errors.js';
import {
  NVME_TCP_COMMON_HEADER_LEN,
  NVME_TCP_DIGEST_LEN,
  peekCommonHeader,
  pduWithData,
  validateCommonHeader,
  type DigestCheck,
  type ParsedPdu,
  type PduHeader,
  type PduLayout,
  type PduParseOptions,
  parsePduHeader,
} from './nvme-tcp-pdu.js';

const EMPTY = Buffer.alloc(0);

/** A digest's state on a framed PDU: 'unchecked' when present but verification is off. */
export type DigestStatus = DigestCheck | 'unchecked';

/** A PDU delivered by the framer. */
export interface FramedPdu extends ParsedPdu {
  /** Offset of the PDU's first byte in the stream (bytes pushed before it). */
  readonly streamOffset: number;
  /**
   * HDGST check. A 'mismatch' means the header, plen included, cannot be
   * trusted; the framer still steps by plen, the consumer should end the
   * connection (TermReq FES HeaderDigestError).
   */
  readonly hdgstStatus: DigestStatus;
  /** DDGST check over the data fragments. */
  readonly ddgstStatus: DigestStatus;
}

export interface PduFramerOptions extends PduParseOptions {
  /** Verify HDGST and DDGST of every PDU that carries them (default false). */
  readonly verifyDigests?: boolean;
}

type FramerState = 'common' | 'head' | 'pad' | 'data' | 'ddgst' | 'failed';

/**
 * Frames a byte stream into PDUs.
 *
 * `push(chunk)` delivers, synchronously and in stream order, every PDU the
 * chunk completes to `onPdu`. A malformed header makes push throw a
 * WireError after delivering the PDUs before it; the framer is then failed
 * and every later push (or end) throws the same error. If `onPdu` throws,
 * the framer fails with that error too (the rest of the chunk is lost, so
 * framing cannot continue). `onPdu` must not call push.
 *
 * Chunks are retained (as data views) only until their PDU is delivered;
 * the framer never writes to them.
 */
export class PduFramer {
  private readonly onPdu: (pdu: FramedPdu) => void;
  private readonly opts: PduFramerOptions;
  private readonly verify: boolean;

  private state: FramerState = 'common';
  private error: unknown = undefined;
  private pushing = false;
  /** Stream offset of the next byte to be pushed. */
  private offset = 0;
  /** Stream offset of the current PDU's first byte. */
  private pduStart = 0;

  // state 'common': the 8-byte common header split across chunks.
  private readonly common = Buffer.alloc(NVME_TCP_COMMON_HEADER_LEN);
  private commonFill = 0;
  // state 'head': hlen + HDGST bytes, a view or a copy.
  private layout: PduLayout | undefined = undefined;
  private head: Buffer = EMPTY;
  private headFill = 0;
  private header: PduHeader | undefined = undefined;
  private headerBytes: Buffer = EMPTY;
  private hdgst: number | undefined = undefined;
  // state 'pad'.
  private padLeft = 0;
  // state 'data'.
  private frags: Buffer[] = [];
  private dataLeft = 0;
  // state 'ddgst': a digest split across chunks.
  private readonly ddgstScratch = Buffer.alloc(NVME_TCP_DIGEST_LEN);
  private ddgstFill = 0;

  constructor(onPdu: (pdu: FramedPdu) => void, opts: PduFramerOptions = {}) {
    this.onPdu = onPdu;
    this.opts = opts;
    this.verify = opts.verifyDigests === true;
  }

  /** Bytes pushed so far (the stream offset of the next byte). */
  get streamOffset(): number {
    return this.offset;
  }

  /** True at a PDU boundary (nothing of a next PDU received yet). */
  get idle(): boolean {
    return this.state === 'common' && this.commonFill === 0;
  }

  /** The error that failed the framer, if any. */
  get failure(): unknown {
    return this.error;
  }

  /** Feeds the next bytes of the stream. */
  push(chunk: Buffer): void {
    if (this.state === 'failed') throw this.error;
    if (this.pushing) throw new Error('PduFramer.push called from its own onPdu callback');
    this.pushing = true;
    try {
      let off = 0;
      while (off < chunk.length) {
        switch (this.state) {
          case 'common':
            off = this.onCommon(chunk, off);
            break;
          case 'head':
            off = this.onHead(chunk, off);
            break;
          case 'pad':
            off = this.onPad(chunk, off);
            break;
          case 'data':
            off = this.onData(chunk, off);
            break;
          case 'ddgst':
            off = this.onDdgst(chunk, off);
            break;
        }
      }
    } catch (e) {
      this.state = 'failed';
      this.error = e;
      throw e;
    } finally {
      this.pushing = false;
    }
  }

  /**
   * Declares the end of the stream. Throws WireError TRUNCATED when a PDU
   * was started but not finished (or the failure, if the framer failed).
   */
  end(): void {
    if (this.state === 'failed') throw this.error;
    if (!this.idle) {
      const got = this.offset - this.pduStart;
      const expected = this.layout?.plen ?? NVME_TCP_COMMON_HEADER_LEN;
      const e = new WireError('TRUNCATED', `stream ended inside a PDU: ${got} of ${expected} bytes`, {
        field: 'plen',
        expected,
        got,
      });
      this.state = 'failed';
      this.error = e;
      throw e;
    }
  }

  private onCommon(chunk: Buffer, off: number): number {
    const avail = chunk.length - off;
    if (this.commonFill === 0 && avail >= NVME_TCP_COMMON_HEADER_LEN) {
      // Common header in one piece: validate in place; view the head if it fits.
      this.pduStart = this.offset;
      const layout = validateCommonHeader(peekCommonHeader(chunk, off), this.opts);
      this.layout = layout;
      if (avail >= layout.headLen) {
        this.head = chunk.subarray(off, off + layout.headLen);
        this.advance(layout.headLen);
        this.onHeadComplete();
        return off + layout.headLen;
      }
      this.head = Buffer.allocUnsafe(layout.headLen);
      chunk.copy(this.head, 0, off);
      this.headFill = avail;
      this.state = 'head';
      this.advance(avail);
      return chunk.length;
    }
    if (this.commonFill === 0) this.pduStart = this.offset;
    const n = Math.min(NVME_TCP_COMMON_HEADER_LEN - this.commonFill, avail);
    chunk.copy(this.common, this.commonFill, off, off + n);
    this.commonFill += n;
    this.advance(n);
    if (this.commonFill === NVME_TCP_COMMON_HEADER_LEN) {
      const layout = validateCommonHeader(peekCommonHeader(this.common), this.opts);
      this.layout = layout;
      this.head = Buffer.allocUnsafe(layout.headLen);
      this.common.copy(this.head, 0);
      this.headFill = NVME_TCP_COMMON_HEADER_LEN;
      this.commonFill = 0;
      this.state = 'head';
    }
    return off + n;
  }

  private onHead(chunk: Buffer, off: number): number {
    const layout = this.currentLayout();
    const n = Math.min(layout.headLen - this.headFill, chunk.length - off);
    chunk.copy(this.head, this.headFill, off, off + n);
    this.headFill += n;
    this.advance(n);
    if (this.headFill === layout.headLen) this.onHeadComplete();
    return off + n;
  }

  /** Decodes the header as soon as it is whole, so header errors surface before its data is awaited. */
  private onHeadComplete(): void {
    const parsed = parsePduHeader(this.head, this.opts);
    this.header = parsed.header;
    this.headerBytes = parsed.headerBytes;
    this.hdgst = parsed.hdgst;
    const layout = parsed.layout;
    this.padLeft = layout.dataOffset - layout.headLen;
    this.dataLeft = layout.dataLength;
    this.frags = [];
    this.ddgstFill = 0;
    this.nextAfterHead();
  }

  private nextAfterHead(): void {
    if (this.padLeft > 0) this.state = 'pad';
    else this.nextAfterPad();
  }

  private nextAfterPad(): void {
    if (this.dataLeft > 0) this.state = 'data';
    else this.nextAfterData();
  }

  private nextAfterData(): void {
    if (this.currentLayout().ddgstLen > 0) this.state = 'ddgst';
    else this.deliver(undefined);
  }

  private onPad(chunk: Buffer, off: number): number {
    const n = Math.min(this.padLeft, chunk.length - off);
    this.padLeft -= n;
    this.advance(n);
    if (this.padLeft === 0) this.nextAfterPad();
    return off + n;
  }

  private onData(chunk: Buffer, off: number): number {
    const n = Math.min(this.dataLeft, chunk.length - off);
    this.frags.push(chunk.subarray(off, off + n));
    this.dataLeft -= n;
    this.advance(n);
    if (this.dataLeft === 0) this.nextAfterData();
    return off + n;
  }

  private onDdgst(chunk: Buffer, off: number): number {
    const avail = chunk.length - off;
    if (this.ddgstFill === 0 && avail >= NVME_TCP_DIGEST_LEN) {
      this.advance(NVME_TCP_DIGEST_LEN);
      this.deliver(chunk.readUInt32LE(off));
      return off + NVME_TCP_DIGEST_LEN;
    }
    const n = Math.min(NVME_TCP_DIGEST_LEN - this.ddgstFill, avail);
    chunk.copy(this.ddgstScratch, this.ddgstFill, off, off + n);
    this.ddgstFill += n;
    this.advance(n);
    if (this.ddgstFill === NVME_TCP_DIGEST_LEN) this.deliver(this.ddgstScratch.readUInt32LE(0));
    return off + n;
  }

  private deliver(ddgst: number | undefined): void {
    const layout = this.currentLayout();
    const header = this.header;
    if (header === undefined) throw new Error('PduFramer: PDU completed without a header');
    const data = this.frags;
    const pdu = pduWithData(header, data);
    let hdgstStatus: DigestStatus = 'absent';
    if (this.hdgst !== undefined) {
      hdgstStatus = !this.verify ? 'unchecked' : crc32c(this.headerBytes) === this.hdgst ? 'ok' : 'mismatch';
    }
    let ddgstStatus: DigestStatus = 'absent';
    if (ddgst !== undefined) {
      ddgstStatus = !this.verify ? 'unchecked' : crc32cFrags(data) === ddgst ? 'ok' : 'mismatch';
    }
    const framed: FramedPdu = {
      pdu,
      layout,
      headerBytes: this.headerBytes,
      hdgst: this.hdgst,
      ddgst,
      streamOffset: this.pduStart,
      hdgstStatus,
      ddgstStatus,
    };
    // Back to a PDU boundary before handing out: drop references to this PDU.
    this.state = 'common';
    this.layout = undefined;
    this.header = undefined;
    this.head = EMPTY;
    this.headerBytes = EMPTY;
    this.frags = [];
    this.onPdu(framed);
  }

  private advance(n: number): void {
    this.offset += n;
  }

  private currentLayout(): PduLayout {
    if (this.layout === undefined) throw new Error('PduFramer: no PDU header in progress');
    return this.layout;
  }
}
