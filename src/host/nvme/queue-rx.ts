/**
 * The receive half of one NVMe/TCP host queue: an explicit state machine
 * over the stream, one state per part of a PDU, as nvme_tcp_recv_skb walks
 * recv_state in Linux drivers/nvme/host/tcp.c:
 *
 *   'pdu'   ── common header (8) → validate → rest of header (+HDGST, +PDO pad,
 *              or a TermReq's echoed header) → check HDGST → dispatch
 *   'data'  ── C2HData payload straight into the request's buffer at DATAO,
 *              through the skb copy routine (placed frags are not copied)
 *   'ddgst' ── the 4-byte data digest, compared with the CRC of the data
 *
 * Every byte reaches it as skb frags with the TCP sequence number of the
 * first one, so it knows the sequence number of each PDU header it reaches
 * (the DDP resync hook). Header and digest bytes are copied into small
 * scratch buffers through the same copy routine, so `copiedBytes` is all
 * the host copied.
 *
 * Data digest, the DDP rule (docs/protocol-facts.md "CRC"): the host skips its CRC of a
 * PDU's data only when every chunk that carried the PDU's data and digest
 * had crcOk. Otherwise the fallback depends on the ULP mode (ulp-mode.ts):
 * 'reference' defers the CRC until a chunk without crcOk shows up and from
 * then on computes it over the destination buffer (catching up on the bytes
 * already there), the PDU's own [DATAO, DATAO+DATAL); 'linux', with the
 * NIC's data-digest offload on, recomputes at the digest over the request's
 * whole buffer, as the series' host does. A mismatch fails that command with
 * DATA_XFER_ERROR, not the queue.
 *
 * What a PDU means for the queue (ICResp, CapsuleResp, R2T, TermReq, a
 * completed read) goes to the queue (queue.ts) through NvmeRxSink; a
 * protocol error is thrown as RxProtocolError and handed to the sink.
 */
import { crc32c } from '../../wire/crc32c.js';
import { WireError } from '../../wire/errors.js';
import { cqeWith, type NvmeCqe } from '../../wire/nvme-cqe.js';
import { NvmeSc } from '../../wire/nvme-status.js';
import {
  NVME_TCP_COMMON_HEADER_LEN,
  NVME_TCP_DIGEST_LEN,
  NVME_TCP_TERM_REQ_MAX_DATA_LEN,
  PduFlags,
  PduType,
  TermReqFes,
  parsePduHeader,
  peekCommonHeader,
  pduTypeName,
  validateCommonHeader,
  type PduHeader,
  type PduLayout,
} from '../../wire/nvme-tcp-pdu.js';
import { PduField } from '../../wire/nvme-tcp-pdu-header.js';
import { seqAdd } from '../../wire/seq.js';
import type { DmabufFrag, HostFrag, PlacedFrag } from '../../nicemu/skb.js';
import type { NvmeHostStats } from '../net/host-stats.js';
import { copyFragRange, type SkbCopyCounts } from '../net/skb-copy.js';
import type { NvmeDevmemHooks } from '../devmem/nvme-hooks.js';
import type { NvmeDdpHooks } from './ddp-hooks.js';
import { NvmeHostError } from './host-error.js';
import type { NvmeRequest } from './request.js';
import type { RxChunk } from './stream-transport.js';
import { DdplabError } from '../../base/errors.js';

/** Largest header the receive path gathers: PDO ≤ 255, a TermReq ≤ 152. */
const RX_HEADER_MAX = 256;

type RecvState = 'pdu' | 'data' | 'ddgst' | 'dead';

/** A protocol error found on receive: what goes in the H2CTermReq. */
export class RxProtocolError extends DdplabError<'RX_PROTOCOL'> {
  constructor(
    readonly fes: number,
    readonly fei: number,
    message: string,
  ) {
    super('RX_PROTOCOL', message);
    this.name = 'RxProtocolError';
  }
}

/** What ICResp granted. */
export interface NvmeTcpConnectionParams {
  readonly cpda: number;
  readonly hdgst: boolean;
  readonly ddgst: boolean;
  readonly maxh2cdata: number;
}

/** The queue, as the receive state machine reports to it. */
export interface NvmeRxSink {
  /** ICResp was accepted: from now on only controller-to-host PDUs may come. */
  readonly initialized: boolean;
  /** The digests ICResp negotiated: every PDU that can carry one must. */
  readonly connectionParams: NvmeTcpConnectionParams;
  onICResp(pfv: number, cpda: number, hdgst: boolean, ddgst: boolean, maxh2cdata: number): void;
  onCapsuleResp(cqeBytes: Buffer): void;
  onR2T(cccid: number, ttag: number, r2to: number, r2tl: number): void;
  /** The outstanding command with this CID on the wire, if any. */
  requestByCid(cid: number): NvmeRequest | undefined;
  /** A command is complete (here: a read whose last C2HData carried SUCCESS). */
  complete(req: NvmeRequest, cqe: NvmeCqe): void;
  /** The queue ends with `err`. */
  die(err: NvmeHostError, how: 'close' | 'abort' | 'none'): void;
  /** Receiving failed (an RxProtocolError, or anything else thrown on the way). */
  rxError(e: unknown): void;
}

export interface NvmeQueueRxConfig {
  readonly qid: number;
  readonly counters: NvmeHostStats;
  readonly copyCounts: SkbCopyCounts;
  readonly ddp: NvmeDdpHooks | undefined;
  readonly devmem: NvmeDevmemHooks | undefined;
  readonly log: (line: string) => void;
}

/** FEI for a header field the PDU codec named in its WireError. */
function feiForField(field: string | undefined): number {
  switch (field) {
    case 'type':
      return PduField.TYPE;
    case 'flags':
      return PduField.FLAGS;
    case 'hlen':
      return PduField.HLEN;
    case 'pdo':
      return PduField.PDO;
    case 'plen':
      return PduField.PLEN;
    case 'cpda':
    case 'hpda':
      return PduField.IC_PDA;
    case 'datal':
      return PduField.XFER_DATAL;
    default:
      return PduField.TYPE;
  }
}

/** A frag the CPU can read (dmabuf frags never reach the ULP's state machine). */
type ReadableFrag = HostFrag | PlacedFrag;

/** True for the PDU types a controller sends after ICResp. */
function isC2HType(type: PduType): boolean {
  return type === PduType.C2HTermReq || type === PduType.CapsuleResp || type === PduType.C2HData || type === PduType.R2T;
}

export class NvmeQueueRx {
  private readonly qid: number;
  private readonly counters: NvmeHostStats;
  private readonly copyCounts: SkbCopyCounts;
  private readonly ddp: NvmeDdpHooks | undefined;
  private readonly devmem: NvmeDevmemHooks | undefined;
  private readonly log: (line: string) => void;

  private recvState: RecvState = 'pdu';
  private rcvNxt = 0;
  private rcvSeqKnown = false;
  private readonly hdr = Buffer.alloc(RX_HEADER_MAX);
  private hdrFill = 0;
  /** Bytes of header to gather: 8 until the common header is in, then the full header. */
  private hdrNeed = NVME_TCP_COMMON_HEADER_LEN;
  private layout: PduLayout | undefined;
  /** The C2HData in progress. */
  private dataReq: NvmeRequest | undefined;
  private dataPos = 0;
  private dataStart = 0;
  private dataRemaining = 0;
  private dataSuccess = false;
  private ddgstOn = false;
  private crcOkSoFar = true;
  /** This PDU's fallback is the series' recompute over the request's whole buffer ('linux' with the ddgst offload on). */
  private crcOverRequest = false;
  private crc = 0;
  private crcPos = 0;
  private readonly ddgstBuf = Buffer.alloc(NVME_TCP_DIGEST_LEN);
  private ddgstFill = 0;

  constructor(
    cfg: NvmeQueueRxConfig,
    private readonly sink: NvmeRxSink,
  ) {
    this.qid = cfg.qid;
    this.counters = cfg.counters;
    this.copyCounts = cfg.copyCounts;
    this.ddp = cfg.ddp;
    this.devmem = cfg.devmem;
    this.log = cfg.log;
  }

  /** The queue is gone: the rest of the stream is dropped. */
  kill(): void {
    this.recvState = 'dead';
  }

  /** The offending header, as much as arrived (at most 128 bytes), copied: the scratch buffer is reused. */
  echoHeader(): Buffer {
    return Buffer.from(this.hdr.subarray(0, Math.min(this.hdrFill, NVME_TCP_TERM_REQ_MAX_DATA_LEN)));
  }

  /** The next chunk of the stream, in order. */
  onChunk(chunk: RxChunk): void {
    if (this.recvState === 'dead') return;
    if (this.rcvSeqKnown && chunk.seq !== this.rcvNxt) {
      this.sink.die(
        new NvmeHostError(
          'TRANSPORT_CLOSED',
          `queue ${this.qid}: transport delivered seq ${chunk.seq}, expected ${this.rcvNxt} (stream not contiguous)`,
          { qid: this.qid },
        ),
        'abort',
      );
      return;
    }
    this.rcvSeqKnown = true;
    let seq = chunk.seq;
    const frags = chunk.frags;
    try {
      for (let i = 0; i < frags.length; i++) {
        const f = frags[i]!;
        if (f.kind === 'dmabuf' && this.devmem !== undefined && this.recvState === 'data') {
          this.rxDeviceData(f, chunk.crcOk);
          seq = seqAdd(seq, f.size);
          continue;
        }
        if (f.kind === 'dmabuf') {
          throw new NvmeHostError(
            'TRANSPORT_CLOSED',
            `queue ${this.qid}: a dmabuf frag (${f.size} bytes) reached the NVMe/TCP ULP, which must read every byte`,
            { qid: this.qid },
          );
        }
        const len = f.buf.length;
        let off = 0;
        while (off < len) {
          switch (this.recvState) {
            case 'pdu':
              off = this.rxPdu(f, off, seqAdd(seq, off));
              break;
            case 'data':
              off = this.rxData(f, off, chunk.crcOk);
              break;
            case 'ddgst':
              off = this.rxDdgst(f, off, chunk.crcOk);
              break;
            default:
              // 'dead': a handler ended the queue; the rest of the stream is dropped.
              return;
          }
        }
        seq = seqAdd(seq, len);
      }
      this.rcvNxt = seq;
    } catch (e) {
      this.sink.rxError(e);
    }
  }

  /** Gathers header bytes; returns the new offset in the frag. */
  private rxPdu(f: ReadableFrag, off: number, seq: number): number {
    if (this.hdrFill === 0) this.ddp?.onPduHeaderAt?.(seq);
    const n = Math.min(this.hdrNeed - this.hdrFill, f.buf.length - off);
    copyFragRange(f, off, off + n, this.hdr, this.hdrFill, this.copyCounts);
    this.hdrFill += n;
    if (this.hdrFill === this.hdrNeed) {
      if (this.layout === undefined) this.onCommonHeader();
      // A PDU with nothing past the common header would be complete already; validation forbids it.
      if (this.layout !== undefined && this.hdrFill === this.hdrNeed) this.onHeader(this.layout);
    }
    return off + n;
  }

  private onCommonHeader(): void {
    let layout: PduLayout;
    try {
      // HPDA 0: C2H data must start on a 4-byte boundary.
      layout = validateCommonHeader(peekCommonHeader(this.hdr), { pda: 0 });
    } catch (e) {
      // Every common-header fault (type, hlen, flags, plen, pdo) is an invalid header field.
      if (e instanceof WireError) throw new RxProtocolError(TermReqFes.InvalidHeaderField, feiForField(e.detail.field), e.message);
      throw e;
    }
    const type = layout.type;
    this.checkTypeAllowed(type);
    if (type === PduType.CapsuleResp || type === PduType.C2HData || type === PduType.R2T) {
      // Digests are per connection once negotiated: every PDU that can carry one must (nvme_tcp_verify_hdgst / check_ddgst).
      const hasH = (layout.flags & PduFlags.HDGSTF) !== 0;
      if (hasH !== this.sink.connectionParams.hdgst) {
        throw new RxProtocolError(
          TermReqFes.InvalidHeaderField,
          PduField.FLAGS,
          `${pduTypeName(type)} ${hasH ? 'has' : 'lacks'} a header digest, negotiated ${this.sink.connectionParams.hdgst ? 'on' : 'off'}`,
        );
      }
      if (type === PduType.C2HData) {
        const hasD = (layout.flags & PduFlags.DDGSTF) !== 0;
        if (hasD !== this.sink.connectionParams.ddgst) {
          throw new RxProtocolError(
            TermReqFes.InvalidHeaderField,
            PduField.FLAGS,
            `C2HData ${hasD ? 'has' : 'lacks'} a data digest, negotiated ${this.sink.connectionParams.ddgst ? 'on' : 'off'}`,
          );
        }
      }
    }
    this.layout = layout;
    // TermReq: its echoed header is part of what we gather (plen ≤ 152). Data PDUs: up to PDO (header, HDGST, pad).
    if (type === PduType.C2HTermReq) this.hdrNeed = layout.plen;
    else if (type === PduType.C2HData && layout.dataLength > 0) this.hdrNeed = layout.dataOffset;
    else this.hdrNeed = layout.headLen;
  }

  /** Which PDUs a host may receive now: ICResp (or C2HTermReq) first, then only controller-to-host PDUs. */
  private checkTypeAllowed(type: PduType): void {
    if (this.sink.initialized) {
      if (isC2HType(type)) return;
      if (type === PduType.ICResp) throw new RxProtocolError(TermReqFes.PduSequenceError, 0, 'ICResp after the connection was initialized');
    } else {
      if (type === PduType.ICResp || type === PduType.C2HTermReq) return;
      if (isC2HType(type)) throw new RxProtocolError(TermReqFes.PduSequenceError, 0, `${pduTypeName(type)} before ICResp`);
    }
    throw new RxProtocolError(TermReqFes.InvalidHeaderField, PduField.TYPE, `a host never receives ${pduTypeName(type)}`);
  }

  private onHeader(layout: PduLayout): void {
    const head = this.hdr.subarray(0, this.hdrNeed);
    let header: PduHeader;
    try {
      header = parsePduHeader(head, { pda: 0 }).header;
    } catch (e) {
      if (e instanceof WireError) throw new RxProtocolError(TermReqFes.InvalidHeaderField, feiForField(e.detail.field), e.message);
      throw e;
    }
    if (layout.hdgstLen !== 0) {
      this.counters.crcHeaderBytes += layout.hlen;
      if (crc32c(head.subarray(0, layout.hlen)) !== head.readUInt32LE(layout.hlen)) {
        this.counters.hdgstErrors++;
        throw new RxProtocolError(TermReqFes.HeaderDigestError, 0, `${pduTypeName(layout.type)}: header digest mismatch`);
      }
    }
    this.counters.pdusRx++;
    switch (header.type) {
      case PduType.ICResp:
        this.endPdu();
        this.sink.onICResp(header.pfv, header.cpda, header.hdgstEnable, header.ddgstEnable, header.maxh2cdata);
        return;
      case PduType.C2HTermReq: {
        this.counters.c2hTermReqRx++;
        const fes = header.fes;
        const fei = header.fei;
        this.endPdu();
        this.sink.die(
          new NvmeHostError('PEER_TERMINATED', `queue ${this.qid}: controller sent C2HTermReq (FES ${fes}, FEI 0x${fei.toString(16)})`, {
            qid: this.qid,
            fes,
            fei,
          }),
          'close',
        );
        return;
      }
      case PduType.CapsuleResp:
        this.endPdu();
        this.sink.onCapsuleResp(header.cqe);
        return;
      case PduType.R2T:
        this.endPdu();
        this.sink.onR2T(header.cccid, header.ttag, header.r2to, header.r2tl);
        return;
      case PduType.C2HData:
        this.onC2HDataHeader(header.cccid, header.datao, header.datal, header.success, layout);
        return;
      case PduType.ICReq:
      case PduType.H2CTermReq:
      case PduType.CapsuleCmd:
      case PduType.H2CData:
        throw new RxProtocolError(TermReqFes.InvalidHeaderField, PduField.TYPE, `a host never receives ${pduTypeName(header.type)}`);
      default: {
        const unreachable: never = header;
        throw new Error(`unhandled PDU ${String(unreachable)}`);
      }
    }
  }

  /** Back to the start of the next PDU. */
  private endPdu(): void {
    this.recvState = this.recvState === 'dead' ? 'dead' : 'pdu';
    this.hdrFill = 0;
    this.hdrNeed = NVME_TCP_COMMON_HEADER_LEN;
    this.layout = undefined;
    this.dataReq = undefined;
  }

  private onC2HDataHeader(cccid: number, datao: number, datal: number, success: boolean, layout: PduLayout): void {
    this.counters.c2hDataPdus++;
    const req = this.sink.requestByCid(cccid);
    if (req === undefined || req.state !== 'inflight' || req.dir !== 'read') {
      throw new RxProtocolError(TermReqFes.InvalidHeaderField, PduField.XFER_CCCID, `C2HData for cid ${cccid}, which is no outstanding read`);
    }
    const len = req.buf!.length;
    if (datal === 0) throw new RxProtocolError(TermReqFes.InvalidHeaderField, PduField.XFER_DATAL, `C2HData for cid ${cccid} with DATAL 0`);
    if (datao + datal > len) {
      throw new RxProtocolError(TermReqFes.DataOutOfRange, 0, `C2HData for cid ${cccid}: [${datao}, ${datao + datal}) beyond its ${len} bytes`);
    }
    if (datao !== req.dataReceived) {
      // A controller sends a command's data in order; anything else is a broken stream.
      throw new RxProtocolError(TermReqFes.InvalidHeaderField, PduField.XFER_DATAO, `C2HData for cid ${cccid} at DATAO ${datao}, expected ${req.dataReceived}`);
    }
    if (success && datao + datal !== len) {
      throw new RxProtocolError(TermReqFes.InvalidHeaderField, PduField.FLAGS, `C2HData for cid ${cccid} with SUCCESS before the end of its data`);
    }
    this.counters.c2hDataBytes += datal;
    this.dataReq = req;
    this.dataStart = datao;
    this.dataPos = datao;
    this.dataRemaining = datal;
    this.dataSuccess = success;
    this.ddgstOn = layout.ddgstLen !== 0;
    this.crcOkSoFar = true;
    this.crcOverRequest = this.ddgstOn && this.ddp?.ulpMode === 'linux' && this.ddp.ddgstRxOffloaded?.() === true;
    this.crc = 0;
    this.crcPos = datao;
    this.ddgstFill = 0;
    this.recvState = 'data';
  }

  private rxData(f: ReadableFrag, off: number, crcOk: boolean): number {
    const req = this.dataReq!;
    const dst = req.buf!;
    const n = Math.min(this.dataRemaining, f.buf.length - off);
    copyFragRange(f, off, off + n, dst, this.dataPos, this.copyCounts);
    this.dataPos += n;
    this.dataRemaining -= n;
    if (this.ddgstOn) {
      if (!crcOk) this.crcOkSoFar = false;
      if (!this.crcOkSoFar && !this.crcOverRequest) this.crcCatchUp(dst);
    }
    if (this.dataRemaining === 0) {
      req.dataReceived = this.dataPos;
      if (this.ddgstOn) this.recvState = 'ddgst';
      else this.endC2HData();
    }
    return off + n;
  }

  /** C2HData payload left in device memory: the hooks learn where it is; nothing is copied. */
  private rxDeviceData(f: DmabufFrag, crcOk: boolean): void {
    const req = this.dataReq!;
    if (f.size > this.dataRemaining) {
      throw new NvmeHostError('TRANSPORT_CLOSED', `queue ${this.qid}: a ${f.size}-byte dmabuf frag runs past the end of cid ${req.cid}'s C2HData`, { qid: this.qid });
    }
    this.devmem!.onDeviceData(req.cid, this.dataPos, f);
    this.dataPos += f.size;
    this.dataRemaining -= f.size;
    if (this.ddgstOn) {
      if (!crcOk) this.crcOkSoFar = false;
      if (!this.crcOkSoFar && !this.crcOverRequest) this.crcCatchUp(req.buf!);
    }
    if (this.dataRemaining === 0) {
      req.dataReceived = this.dataPos;
      if (this.ddgstOn) this.recvState = 'ddgst';
      else this.endC2HData();
    }
  }

  /** CRCs the PDU's data from where the CRC stopped up to what has arrived. */
  private crcCatchUp(dst: Buffer): void {
    if (this.crcPos === this.dataPos) return;
    // Bytes still in device memory must come out before the host can CRC them.
    this.devmem?.fillFromDevice(this.dataReq!.cid, dst, this.crcPos, this.dataPos);
    this.crc = crc32c(dst.subarray(this.crcPos, this.dataPos), this.crc);
    this.counters.crcDataRxBytes += this.dataPos - this.crcPos;
    this.crcPos = this.dataPos;
  }

  private rxDdgst(f: ReadableFrag, off: number, crcOk: boolean): number {
    const n = Math.min(NVME_TCP_DIGEST_LEN - this.ddgstFill, f.buf.length - off);
    copyFragRange(f, off, off + n, this.ddgstBuf, this.ddgstFill, this.copyCounts);
    this.ddgstFill += n;
    if (!crcOk) this.crcOkSoFar = false;
    if (this.ddgstFill === NVME_TCP_DIGEST_LEN) {
      const req = this.dataReq!;
      if (this.crcOkSoFar) {
        // The NIC checked every byte of this PDU's data and digest (ddpCrcOk on all of it).
        this.counters.ddgstOffloaded++;
      } else {
        const computed = this.crcOverRequest ? this.crcOfRequest(req) : this.crcOfPdu(req);
        const got = this.ddgstBuf.readUInt32LE(0);
        if (got !== computed) {
          // As Linux: the command fails with a data transfer error, the queue goes on.
          this.counters.ddgstErrors++;
          req.statusOverride = NvmeSc.DATA_XFER_ERROR;
          this.log(
            `queue ${this.qid} cid ${req.cid}: data digest mismatch at DATAO ${this.dataStart}: ` +
              `got 0x${got.toString(16)}, computed 0x${computed.toString(16)}` +
              (this.crcOverRequest ? ` over the request's ${req.buf!.length} bytes (the series' fallback)` : ''),
          );
        }
      }
      this.endC2HData();
    }
    return off + n;
  }

  /** 'reference': the CRC of this PDU's data, [DATAO, DATAO+DATAL). */
  private crcOfPdu(req: NvmeRequest): number {
    this.crcCatchUp(req.buf!);
    return this.crc;
  }

  /** 'linux': the series' fallback, CRC32C over the request's buffer from its start for its whole data length. */
  private crcOfRequest(req: NvmeRequest): number {
    const buf = req.buf!;
    this.devmem?.fillFromDevice(req.cid, buf, 0, buf.length);
    this.counters.crcDataRxBytes += buf.length;
    return crc32c(buf);
  }

  private endC2HData(): void {
    const req = this.dataReq!;
    const success = this.dataSuccess;
    this.endPdu();
    if (success) {
      // SUCCESS: this PDU is the completion (no CapsuleResp follows).
      this.counters.successCompletions++;
      this.sink.complete(req, cqeWith({ cid: req.cid, sqId: this.qid, sqHead: 0xffff }));
    }
  }
}
