/**
 * One NVMe/TCP queue on one stream: the host side of the transport, after
 * the shape of Linux drivers/nvme/host/tcp.c (SPEC: NVMe/TCP transport
 * binding; FACTS.md).
 *
 * Connection: ICReq (PFV 0, HPDA 0, the digests asked for, MAXR2T 0) →
 * ICResp, which is refused (IC_REJECTED) for PFV ≠ 0, a CPDA above what the
 * host accepts, digests other than those asked for, or a MAXH2CDATA that is
 * not a multiple of 4 of at least 4096.
 *
 * Receive: an explicit state machine over the stream, one state per part of
 * a PDU, as nvme_tcp_recv_skb walks recv_state:
 *
 *   'pdu'   ── common header (8) → validate → rest of header (+HDGST, +PDO pad,
 *              or a TermReq's echoed header) → check HDGST → dispatch
 *   'data'  ── C2HData payload straight into the request's buffer at DATAO,
 *              through the skb copy routine (placed frags are not copied)
 *   'ddgst' ── the 4-byte data digest, compared with the CRC of the data
 *
 * Every byte reaches the ULP as skb frags with the TCP sequence number of the
 * first one, so the state machine knows the sequence number of each PDU
 * header it reaches (the DDP resync hook). Header and digest bytes are
 * copied into small scratch buffers through the same copy routine, so
 * `bytesCopied` is all the host copied.
 *
 * Data digest, the DDP rule (issue 6; FACTS.md "CRC"): the host skips its
 * CRC of a PDU's data only when every chunk that carried the PDU's data and
 * digest had crcOk. Until a chunk without it shows up the CRC is deferred;
 * from then on it is computed over the destination buffer (catching up on
 * the bytes already there), which is the NIC-independent software fallback.
 * A mismatch fails that command with DATA_XFER_ERROR, not the queue.
 *
 * Protocol errors (anything a correct controller cannot send) end the queue:
 * an H2CTermReq with the Fatal Error Status and, for an invalid header
 * field, FEI = the byte offset of the field; then the connection is closed
 * and every outstanding command fails with PROTOCOL_ERROR. A command that
 * outlives its timeout fails with TIMEOUT and tears the queue down (Linux
 * resets the controller; the caller decides).
 *
 * CIDs are the request table's indices 0..depth-1 (DDP without the full CID
 * range needs CIDs below the queue size), optionally with a 4-bit generation
 * counter in bits 15:12 like Linux's nvme_cid, which catches completions for
 * a command that is gone.
 */
import { crc32c } from '../../wire/crc32c.js';
import { WireError } from '../../wire/errors.js';
import { buildNvmeCommand, type NvmeCommand } from '../../wire/nvme-command.js';
import { cqeWith, parseCqe, type NvmeCqe } from '../../wire/nvme-cqe.js';
import { sglInCapsule, sglNoData, sglTransportData, type SglDescriptor } from '../../wire/nvme-sqe.js';
import { NvmeSc, type NvmeStatus } from '../../wire/nvme-status.js';
import {
  NVME_TCP_COMMON_HEADER_LEN,
  NVME_TCP_DIGEST_LEN,
  NVME_TCP_MAX_PDA,
  NVME_TCP_TERM_REQ_MAX_DATA_LEN,
  PduFlags,
  PduType,
  TermReqFes,
  emitPdu,
  parsePduHeader,
  peekCommonHeader,
  pduTypeName,
  validateCommonHeader,
  type Pdu,
  type PduEmitOptions,
  type PduHeader,
  type PduLayout,
} from '../../wire/nvme-tcp-pdu.js';
import { PduField } from '../../wire/nvme-tcp-pdu-header.js';
import { seqAdd } from '../../wire/seq.js';
import type { DmabufFrag, HostFrag, PlacedFrag } from '../../nicemu/skb.js';
import type { Clock, ClockTimer } from '../net/clock.js';
import { newNvmeHostStats, type NvmeHostStats } from '../net/host-stats.js';
import type { NvmeDdpHooks } from './ddp-hooks.js';
import type { NvmeDevmemHooks } from '../devmem/nvme-hooks.js';
import { NvmeHostError } from './host-error.js';
import { copySkbFrags, newSkbCopyCounts, type SkbCopyCounts } from '../net/skb-copy.js';
import type { RxChunk, StreamTransport } from './stream-transport.js';
import { DdplabError } from '../../base/errors.js';

/** Linux's default I/O timeout (NVME_IO_TIMEOUT, 30 s). */
export const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;
/** In-capsule data every admin queue takes (Linux host: NVME_TCP_ADMIN_CCSZ, 8 KiB). */
export const ADMIN_IN_CAPSULE_BYTES = 8192;
/** Most CIDs with the generation counter on: 12 bits of tag. */
const CID_TAG_BITS = 12;
const CID_TAG_MASK = (1 << CID_TAG_BITS) - 1;
/** Largest header the receive path gathers: PDO ≤ 255, a TermReq ≤ 152. */
const RX_HEADER_MAX = 256;

/** Which way a command's data moves, as the host sees it. */
export type NvmeDataDir = 'none' | 'read' | 'write';

/** A command's data: a read's destination or a write's source. */
export interface NvmeCommandData {
  readonly dir: 'read' | 'write';
  /** The whole transfer; not touched by the caller until the command settles. */
  readonly buf: Buffer;
  /** Force the data into the capsule (Connect data must be in-capsule on every queue). */
  readonly forceInCapsule?: boolean;
}

/** Builds the command once the queue chose its CID and data pointer. */
export type NvmeCommandBuilder = (cid: number, dptr: SglDescriptor) => NvmeCommand;

export interface NvmeQueueOptions {
  /** Queue id: 0 for the admin queue. */
  readonly qid: number;
  /** Most commands in flight; CIDs stay in 0..depth-1 (without the generation counter). */
  readonly depth: number;
  /** Ask for header digests in ICReq. */
  readonly hdgst: boolean;
  /** Ask for data digests in ICReq. */
  readonly ddgst: boolean;
  readonly clock: Clock;
  /** Per-command timeout (default 30 s). */
  readonly commandTimeoutMs?: number;
  /** Largest CPDA accepted in ICResp: 31 (default) accepts any padding; 0 is Linux's rule. */
  readonly maxCpda?: number;
  /** Write data up to this many bytes goes in the command capsule (IOCCSZ; admin: 8 KiB). Default 0. */
  readonly inCapsuleBytes?: number;
  /** Put a 4-bit generation counter in CID bits 15:12 (needs depth ≤ 4096). Default false. */
  readonly cidGeneration?: boolean;
  /** DDP hook points (issue 6). */
  readonly ddp?: NvmeDdpHooks;
  /** Device-memory receive (issue 9): C2HData payload in dmabuf frags is handed to these instead of copied. */
  readonly devmem?: NvmeDevmemHooks;
  /** Counters to add to (default: a fresh object, see `stats`). */
  readonly stats?: NvmeHostStats;
  /** One line per notable event (protocol errors, timeouts). */
  readonly log?: (line: string) => void;
}

/** What ICResp granted. */
export interface NvmeTcpConnectionParams {
  readonly cpda: number;
  readonly hdgst: boolean;
  readonly ddgst: boolean;
  readonly maxh2cdata: number;
}

type RequestState = 'free' | 'inflight' | 'teardown';

/** A command between submission and completion; one per CID, reused. */
interface NvmeRequest {
  readonly tag: number;
  readonly timer: ClockTimer;
  state: RequestState;
  /** CID on the wire (tag, plus the generation in bits 15:12 when enabled). */
  cid: number;
  opcode: number;
  dir: NvmeDataDir;
  buf: Buffer | undefined;
  inCapsule: boolean;
  /** C2H: next DATAO expected (bytes received so far, in order). */
  dataReceived: number;
  /** H2C: bytes sent in H2CData so far. */
  dataSent: number;
  /** Status that overrides the controller's (DATA_XFER_ERROR after a data digest mismatch). */
  statusOverride: NvmeStatus;
  ddp: boolean;
  pendingCqe: NvmeCqe | undefined;
  resolve: ((cqe: NvmeCqe) => void) | undefined;
  reject: ((err: Error) => void) | undefined;
}

type RecvState = 'pdu' | 'data' | 'ddgst' | 'dead';
type IcState = 'idle' | 'await-icresp' | 'done';
type QueueLife = 'new' | 'live' | 'closing' | 'closed' | 'dead';

/** A protocol error found on receive: what goes in the H2CTermReq. */
class RxProtocolError extends DdplabError<'RX_PROTOCOL'> {
  constructor(
    readonly fes: number,
    readonly fei: number,
    message: string,
  ) {
    super('RX_PROTOCOL', message);
    this.name = 'RxProtocolError';
  }
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

/** Bytes [from, to) of a frag, keeping its kind (a placed slice still views the destination). */
function sliceFrag(f: ReadableFrag, from: number, to: number): ReadableFrag {
  if (from === 0 && to === f.buf.length) return f;
  return f.kind === 'host' ? { kind: 'host', buf: f.buf.subarray(from, to) } : { kind: 'placed', buf: f.buf.subarray(from, to) };
}

/** True for the PDU types a controller sends after ICResp. */
function isC2HType(type: PduType): boolean {
  return type === PduType.C2HTermReq || type === PduType.CapsuleResp || type === PduType.C2HData || type === PduType.R2T;
}

export class NvmeQueue {
  readonly qid: number;
  readonly depth: number;
  private readonly clock: Clock;
  private readonly timeoutMs: number;
  private readonly maxCpda: number;
  private readonly wantHdgst: boolean;
  private readonly wantDdgst: boolean;
  private readonly cidGeneration: boolean;
  private readonly ddp: NvmeDdpHooks | undefined;
  private readonly devmem: NvmeDevmemHooks | undefined;
  private readonly log: (line: string) => void;
  private readonly counters: NvmeHostStats;
  private readonly copyCounts: SkbCopyCounts = newSkbCopyCounts();
  /** Write data up to this size goes in-capsule. */
  inCapsuleBytes: number;

  private life: QueueLife = 'new';
  private failure: NvmeHostError | undefined;
  private readonly deadListeners: ((err: NvmeHostError | undefined) => void)[] = [];
  private closeWaiters: (() => void)[] = [];

  // Request table.
  private readonly requests: NvmeRequest[] = [];
  private readonly freeTags: number[] = [];
  private readonly generation: Uint8Array;
  private inflightCount = 0;

  // Connection parameters.
  private icState: IcState = 'idle';
  private icTimer: ClockTimer;
  private icResolve: (() => void) | undefined;
  private icReject: ((err: Error) => void) | undefined;
  private params: NvmeTcpConnectionParams = { cpda: 0, hdgst: false, ddgst: false, maxh2cdata: 0 };
  private txOpts: PduEmitOptions = {};

  // Transmit.
  private txBlocked = false;
  private txBacklog: Buffer[][] = [];

  // Receive state machine.
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
  private crc = 0;
  private crcPos = 0;
  private readonly ddgstBuf = Buffer.alloc(NVME_TCP_DIGEST_LEN);
  private ddgstFill = 0;

  constructor(
    private readonly transport: StreamTransport,
    opts: NvmeQueueOptions,
  ) {
    if (!Number.isInteger(opts.depth) || opts.depth < 1 || opts.depth > 0x10000) {
      throw new NvmeHostError('INVALID_ARGUMENT', `queue depth ${opts.depth} is not in 1..65536`, { qid: opts.qid });
    }
    if (opts.cidGeneration === true && opts.depth > CID_TAG_MASK + 1) {
      throw new NvmeHostError('INVALID_ARGUMENT', `queue depth ${opts.depth} leaves no room for a CID generation counter`, {
        qid: opts.qid,
      });
    }
    this.qid = opts.qid;
    this.depth = opts.depth;
    this.clock = opts.clock;
    this.timeoutMs = opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    this.maxCpda = Math.min(opts.maxCpda ?? NVME_TCP_MAX_PDA, NVME_TCP_MAX_PDA);
    this.wantHdgst = opts.hdgst;
    this.wantDdgst = opts.ddgst;
    this.cidGeneration = opts.cidGeneration === true;
    this.ddp = opts.ddp;
    this.devmem = opts.devmem;
    this.log = opts.log ?? (() => undefined);
    this.counters = opts.stats ?? newNvmeHostStats();
    this.inCapsuleBytes = opts.inCapsuleBytes ?? 0;
    this.generation = new Uint8Array(opts.depth);
    for (let tag = 0; tag < opts.depth; tag++) {
      const req: NvmeRequest = {
        tag,
        timer: this.clock.createTimer(() => this.onCommandTimeout(req)),
        state: 'free',
        cid: tag,
        opcode: 0,
        dir: 'none',
        buf: undefined,
        inCapsule: false,
        dataReceived: 0,
        dataSent: 0,
        statusOverride: NvmeSc.SUCCESS,
        ddp: false,
        pendingCqe: undefined,
        resolve: undefined,
        reject: undefined,
      };
      this.requests.push(req);
    }
    // Pop order hands out CID 0 first.
    for (let tag = opts.depth - 1; tag >= 0; tag--) this.freeTags.push(tag);
    this.icTimer = this.clock.createTimer(() => this.onIcTimeout());

    transport.onData((chunk) => this.onChunk(chunk));
    transport.onDrain(() => this.onDrain());
    transport.onClose((err) => this.onTransportClose(err));
  }

  // ------------------------------------------------------------ public face

  /** Counters of this queue (copy counts folded in). */
  get stats(): NvmeHostStats {
    this.counters.bytesCopied = this.copyCounts.bytesCopied;
    this.counters.bytesCopySkipped = this.copyCounts.bytesSkipped;
    this.counters.placedMismatches = this.copyCounts.placedMismatches;
    return this.counters;
  }

  /** What ICResp granted (valid after connect()). */
  get connectionParams(): NvmeTcpConnectionParams {
    return this.params;
  }

  /** Commands submitted and not yet settled. */
  get inflight(): number {
    return this.inflightCount;
  }

  /** True while commands can be submitted. */
  get live(): boolean {
    return this.life === 'live';
  }

  /** The error that ended the queue, if one did. */
  get error(): NvmeHostError | undefined {
    return this.failure;
  }

  /** Registers a callback for the end of the queue: an error, or undefined after close(). */
  onTerminated(cb: (err: NvmeHostError | undefined) => void): void {
    this.deadListeners.push(cb);
  }

  /** ICReq/ICResp. Resolves once the connection parameters are agreed. */
  connect(): Promise<void> {
    if (this.icState !== 'idle' || this.life !== 'new') {
      return Promise.reject(new NvmeHostError('INVALID_ARGUMENT', `queue ${this.qid}: connect() called twice`, { qid: this.qid }));
    }
    this.icState = 'await-icresp';
    return new Promise<void>((resolve, reject) => {
      this.icResolve = resolve;
      this.icReject = reject;
      this.icTimer.arm(this.timeoutMs);
      this.sendPdu({ type: PduType.ICReq, pfv: 0, hpda: 0, hdgstEnable: this.wantHdgst, ddgstEnable: this.wantDdgst, maxr2t: 0 });
    });
  }

  /**
   * Sends a command and resolves with its completion (a CQE whose status may
   * be non-zero; DATA_XFER_ERROR after a data digest mismatch). Rejects with
   * NvmeHostError when the queue cannot carry it to completion (QUEUE_DEAD,
   * QUEUE_FULL, TIMEOUT, PROTOCOL_ERROR, PEER_TERMINATED, TRANSPORT_CLOSED).
   */
  submit(build: NvmeCommandBuilder, data?: NvmeCommandData): Promise<NvmeCqe> {
    if (this.life !== 'live') return Promise.reject(this.deadError());
    const tag = this.freeTags.pop();
    if (tag === undefined) {
      return Promise.reject(new NvmeHostError('QUEUE_FULL', `queue ${this.qid}: all ${this.depth} CIDs in use`, { qid: this.qid }));
    }
    const req = this.requests[tag]!;
    const len = data?.buf.length ?? 0;
    if (data !== undefined && (len === 0 || len > 0xffff_ffff)) {
      this.freeTags.push(tag);
      return Promise.reject(
        new NvmeHostError('INVALID_ARGUMENT', `queue ${this.qid}: data length ${len} is not in 1..2^32-1`, { qid: this.qid }),
      );
    }
    if (this.cidGeneration) {
      this.generation[tag] = (this.generation[tag]! + 1) & 0xf;
      req.cid = (this.generation[tag]! << CID_TAG_BITS) | tag;
    } else {
      req.cid = tag;
    }
    req.dir = data?.dir ?? 'none';
    req.buf = data?.buf;
    req.inCapsule = data !== undefined && data.dir === 'write' && (data.forceInCapsule === true || len <= this.inCapsuleBytes);
    req.dataReceived = 0;
    req.dataSent = 0;
    req.statusOverride = NvmeSc.SUCCESS;
    req.ddp = false;
    req.pendingCqe = undefined;

    let dptr: SglDescriptor;
    if (data === undefined) dptr = sglNoData();
    else if (req.inCapsule) dptr = sglInCapsule(len);
    else dptr = sglTransportData(len);
    let sqe: Buffer;
    try {
      sqe = buildNvmeCommand(build(req.cid, dptr));
    } catch (e) {
      this.freeTags.push(tag);
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    req.opcode = sqe[0]!;

    const promise = new Promise<NvmeCqe>((resolve, reject) => {
      req.resolve = resolve;
      req.reject = reject;
    });
    req.state = 'inflight';
    this.inflightCount++;
    this.counters.commandsSubmitted++;

    if (req.dir === 'read' && this.ddp !== undefined && len >= this.ddp.ioThresholdBytes) {
      // Best effort (FACTS.md): a refusal leaves the read on the copy path.
      let ok = false;
      try {
        ok = this.ddp.setup(req.cid, [req.buf!]);
      } catch (e) {
        this.log(`queue ${this.qid} cid ${req.cid}: ddp setup threw: ${String(e)}`);
      }
      req.ddp = ok;
      if (ok) this.counters.ddpSetup++;
      else this.counters.ddpSetupFail++;
    }

    req.timer.arm(this.timeoutMs);
    if (req.inCapsule) {
      this.counters.inCapsuleWrites++;
      this.counters.inCapsuleBytes += len;
      this.sendPdu({ type: PduType.CapsuleCmd, sqe, data: [req.buf!] });
    } else {
      this.sendPdu({ type: PduType.CapsuleCmd, sqe, data: [] });
    }
    return promise;
  }

  /** The NIC finished a teardown that ddp.teardown() reported 'pending': the request may complete now. */
  ddpTeardownDone(cid: number): void {
    const req = this.requestByCid(cid);
    if (req === undefined || req.state !== 'teardown') {
      this.log(`queue ${this.qid}: ddp teardown done for cid ${cid}, which is not tearing down`);
      return;
    }
    this.finish(req, req.pendingCqe!);
  }

  /**
   * Orderly close: refuses new commands, closes the stream (FIN) and
   * resolves when the transport reports it closed. Commands still in
   * flight fail with QUEUE_DEAD.
   */
  close(): Promise<void> {
    if (this.life === 'closed' || this.life === 'dead') return Promise.resolve();
    const done = new Promise<void>((resolve) => this.closeWaiters.push(resolve));
    if (this.life !== 'closing') {
      this.life = 'closing';
      if (this.icState === 'await-icresp') {
        this.icTimer.cancel();
        this.icState = 'done';
        this.icReject?.(new NvmeHostError('QUEUE_DEAD', `queue ${this.qid} closed before ICResp`, { qid: this.qid }));
        this.icResolve = undefined;
        this.icReject = undefined;
      }
      this.failAll(new NvmeHostError('QUEUE_DEAD', `queue ${this.qid} closed by the host`, { qid: this.qid }));
      this.transport.close();
    }
    return done;
  }

  /** Abortive close (RST where the transport can); outstanding commands fail with `reason`. */
  abort(reason?: NvmeHostError): void {
    this.die(reason ?? new NvmeHostError('QUEUE_DEAD', `queue ${this.qid} aborted by the host`, { qid: this.qid }), 'abort');
  }

  // --------------------------------------------------------------- transmit

  private sendPdu(pdu: Pdu): void {
    const e = emitPdu(pdu, pdu.type === PduType.ICReq || pdu.type === PduType.H2CTermReq ? {} : this.txOpts);
    this.counters.pdusTx++;
    if (this.txOpts.hdgst === true && (pdu.type === PduType.CapsuleCmd || pdu.type === PduType.H2CData)) {
      this.counters.bytesCrcHeader += e.head[2]!;
    }
    if (e.tail.length !== 0) this.counters.bytesCrcDataTx += e.plen - e.head.length - e.tail.length;
    const bufs: Buffer[] = [e.head];
    for (let i = 0; i < e.data.length; i++) bufs.push(e.data[i]!);
    if (e.tail.length !== 0) bufs.push(e.tail);
    if (this.txBlocked) {
      this.txBacklog.push(bufs);
      return;
    }
    if (!this.transport.write(bufs)) this.txBlocked = true;
  }

  private onDrain(): void {
    this.txBlocked = false;
    while (this.txBacklog.length > 0 && !this.txBlocked) {
      const bufs = this.txBacklog.shift()!;
      if (!this.transport.write(bufs)) this.txBlocked = true;
    }
  }

  // ---------------------------------------------------------------- receive

  private onChunk(chunk: RxChunk): void {
    if (this.recvState === 'dead') return;
    if (this.rcvSeqKnown && chunk.seq !== this.rcvNxt) {
      this.die(
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
      this.onRxError(e);
    }
  }

  /** Gathers header bytes; returns the new offset in the frag. */
  private rxPdu(f: ReadableFrag, off: number, seq: number): number {
    if (this.hdrFill === 0) this.ddp?.onPduHeaderAt?.(seq);
    const n = Math.min(this.hdrNeed - this.hdrFill, f.buf.length - off);
    copySkbFrags([sliceFrag(f, off, off + n)], this.hdr, this.hdrFill, this.copyCounts);
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
      if (hasH !== this.params.hdgst) {
        throw new RxProtocolError(
          TermReqFes.InvalidHeaderField,
          PduField.FLAGS,
          `${pduTypeName(type)} ${hasH ? 'has' : 'lacks'} a header digest, negotiated ${this.params.hdgst ? 'on' : 'off'}`,
        );
      }
      if (type === PduType.C2HData) {
        const hasD = (layout.flags & PduFlags.DDGSTF) !== 0;
        if (hasD !== this.params.ddgst) {
          throw new RxProtocolError(
            TermReqFes.InvalidHeaderField,
            PduField.FLAGS,
            `C2HData ${hasD ? 'has' : 'lacks'} a data digest, negotiated ${this.params.ddgst ? 'on' : 'off'}`,
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
    if (this.icState === 'done') {
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
      this.counters.bytesCrcHeader += layout.hlen;
      if (crc32c(head.subarray(0, layout.hlen)) !== head.readUInt32LE(layout.hlen)) {
        this.counters.hdgstErrors++;
        throw new RxProtocolError(TermReqFes.HeaderDigestError, 0, `${pduTypeName(layout.type)}: header digest mismatch`);
      }
    }
    this.counters.pdusRx++;
    switch (header.type) {
      case PduType.ICResp:
        this.endPdu();
        this.onICResp(header.pfv, header.cpda, header.hdgstEnable, header.ddgstEnable, header.maxh2cdata);
        return;
      case PduType.C2HTermReq: {
        this.counters.c2hTermReqRx++;
        const fes = header.fes;
        const fei = header.fei;
        this.endPdu();
        this.die(
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
        this.onCapsuleResp(header.cqe);
        return;
      case PduType.R2T:
        this.endPdu();
        this.onR2T(header.cccid, header.ttag, header.r2to, header.r2tl);
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

  private onICResp(pfv: number, cpda: number, hdgst: boolean, ddgst: boolean, maxh2cdata: number): void {
    this.icTimer.cancel();
    let why: string | undefined;
    let fei = 0;
    if (pfv !== 0) {
      why = `PFV ${pfv} is not 0 (NVMe/TCP 1.0)`;
      fei = 8;
    } else if (cpda > this.maxCpda) {
      why = `CPDA ${cpda} above the ${this.maxCpda} this host accepts`;
      fei = PduField.IC_PDA;
    } else if (hdgst !== this.wantHdgst) {
      why = `header digest ${hdgst ? 'enabled' : 'disabled'}, asked ${this.wantHdgst ? 'on' : 'off'}`;
      fei = 11;
    } else if (ddgst !== this.wantDdgst) {
      why = `data digest ${ddgst ? 'enabled' : 'disabled'}, asked ${this.wantDdgst ? 'on' : 'off'}`;
      fei = 11;
    } else if (maxh2cdata < 4096 || maxh2cdata % 4 !== 0) {
      why = `MAXH2CDATA ${maxh2cdata} is not a multiple of 4 of at least 4096`;
      fei = PduField.IC_MAX;
    }
    if (why !== undefined) {
      // Linux fails the connect and shuts the socket down without a TermReq.
      this.log(`queue ${this.qid}: ICResp refused: ${why}`);
      this.icState = 'done';
      this.die(new NvmeHostError('IC_REJECTED', `queue ${this.qid}: ICResp refused: ${why}`, { qid: this.qid, fei }), 'close');
      return;
    }
    this.params = { cpda, hdgst, ddgst, maxh2cdata };
    this.txOpts = { hdgst, ddgst, pda: cpda };
    this.icState = 'done';
    this.life = 'live';
    const resolve = this.icResolve;
    this.icResolve = undefined;
    this.icReject = undefined;
    resolve?.();
  }

  private onCapsuleResp(cqeBytes: Buffer): void {
    this.counters.capsuleResps++;
    const cqe = parseCqe(cqeBytes);
    const req = this.requestByCid(cqe.cid);
    if (req === undefined || req.state !== 'inflight') {
      throw new RxProtocolError(TermReqFes.InvalidHeaderField, PduField.CAPSULE_RESP_CID, `CapsuleResp for cid ${cqe.cid}, which is not outstanding`);
    }
    if (req.dir === 'read' && cqe.status === NvmeSc.SUCCESS && req.dataReceived !== req.buf!.length && req.statusOverride === 0) {
      // A successful read must have delivered all its data first.
      this.log(`queue ${this.qid} cid ${req.cid}: completed with ${req.dataReceived} of ${req.buf!.length} bytes`);
      req.statusOverride = NvmeSc.DATA_XFER_ERROR;
    }
    this.complete(req, cqe);
  }

  private onR2T(cccid: number, ttag: number, r2to: number, r2tl: number): void {
    this.counters.r2tRx++;
    const req = this.requestByCid(cccid);
    if (req === undefined || req.state !== 'inflight' || req.dir !== 'write' || req.inCapsule) {
      throw new RxProtocolError(TermReqFes.InvalidHeaderField, PduField.XFER_CCCID, `R2T for cid ${cccid}, which is no outstanding write awaiting R2T`);
    }
    const buf = req.buf!;
    if (r2tl === 0) throw new RxProtocolError(TermReqFes.InvalidHeaderField, PduField.XFER_DATAL, `R2T for cid ${cccid} with R2TL 0`);
    if (r2to !== req.dataSent) {
      throw new RxProtocolError(TermReqFes.InvalidHeaderField, PduField.XFER_DATAO, `R2T for cid ${cccid} at R2TO ${r2to}, ${req.dataSent} bytes already sent`);
    }
    if (r2to + r2tl > buf.length) {
      throw new RxProtocolError(TermReqFes.DataOutOfRange, 0, `R2T for cid ${cccid} asks [${r2to}, ${r2to + r2tl}) of a ${buf.length}-byte write`);
    }
    const max = this.params.maxh2cdata;
    let off = r2to;
    const end = r2to + r2tl;
    while (off < end) {
      const n = Math.min(end - off, max);
      // The data is a view of the caller's buffer: nothing is copied on the way out.
      this.sendPdu({
        type: PduType.H2CData,
        cccid: req.cid,
        ttag,
        datao: off,
        datal: n,
        lastPdu: off + n === end,
        data: [buf.subarray(off, off + n)],
      });
      this.counters.h2cDataPdus++;
      this.counters.h2cDataBytes += n;
      off += n;
    }
    req.dataSent = end;
  }

  private onC2HDataHeader(cccid: number, datao: number, datal: number, success: boolean, layout: PduLayout): void {
    this.counters.c2hDataPdus++;
    const req = this.requestByCid(cccid);
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
    this.crc = 0;
    this.crcPos = datao;
    this.ddgstFill = 0;
    this.recvState = 'data';
  }

  private rxData(f: ReadableFrag, off: number, crcOk: boolean): number {
    const req = this.dataReq!;
    const dst = req.buf!;
    const n = Math.min(this.dataRemaining, f.buf.length - off);
    copySkbFrags([sliceFrag(f, off, off + n)], dst, this.dataPos, this.copyCounts);
    this.dataPos += n;
    this.dataRemaining -= n;
    if (this.ddgstOn) {
      if (!crcOk) this.crcOkSoFar = false;
      if (!this.crcOkSoFar) this.crcCatchUp(dst);
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
      if (!this.crcOkSoFar) this.crcCatchUp(req.buf!);
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
    this.counters.bytesCrcDataRx += this.dataPos - this.crcPos;
    this.crcPos = this.dataPos;
  }

  private rxDdgst(f: ReadableFrag, off: number, crcOk: boolean): number {
    const n = Math.min(NVME_TCP_DIGEST_LEN - this.ddgstFill, f.buf.length - off);
    copySkbFrags([sliceFrag(f, off, off + n)], this.ddgstBuf, this.ddgstFill, this.copyCounts);
    this.ddgstFill += n;
    if (!crcOk) this.crcOkSoFar = false;
    if (this.ddgstFill === NVME_TCP_DIGEST_LEN) {
      const req = this.dataReq!;
      if (this.crcOkSoFar) {
        // The NIC checked every byte of this PDU's data and digest (ddpCrcOk on all of it).
        this.counters.ddgstOffloaded++;
      } else {
        this.crcCatchUp(req.buf!);
        const got = this.ddgstBuf.readUInt32LE(0);
        if (got !== this.crc) {
          // As Linux: the command fails with a data transfer error, the queue goes on.
          this.counters.ddgstErrors++;
          req.statusOverride = NvmeSc.DATA_XFER_ERROR;
          this.log(
            `queue ${this.qid} cid ${req.cid}: data digest mismatch at DATAO ${this.dataStart}: ` +
              `got 0x${got.toString(16)}, computed 0x${this.crc.toString(16)}`,
          );
        }
      }
      this.endC2HData();
    }
    return off + n;
  }

  private endC2HData(): void {
    const req = this.dataReq!;
    const success = this.dataSuccess;
    this.endPdu();
    if (success) {
      // SUCCESS: this PDU is the completion (no CapsuleResp follows).
      this.counters.successCompletions++;
      this.complete(req, cqeWith({ cid: req.cid, sqId: this.qid, sqHead: 0xffff }));
    }
  }

  private onRxError(e: unknown): void {
    if (e instanceof RxProtocolError) {
      this.sendTermReq(e.fes, e.fei);
      this.log(`queue ${this.qid}: protocol error, H2CTermReq FES ${e.fes} FEI ${e.fei}: ${e.message}`);
      this.die(
        new NvmeHostError('PROTOCOL_ERROR', `queue ${this.qid}: ${e.message} (H2CTermReq FES ${e.fes}, FEI ${e.fei})`, {
          qid: this.qid,
          fes: e.fes,
          fei: e.fei,
        }),
        'close',
      );
      return;
    }
    if (e instanceof NvmeHostError) {
      this.die(e, 'abort');
      return;
    }
    this.die(new NvmeHostError('PROTOCOL_ERROR', `queue ${this.qid}: receive failed: ${String(e)}`, { qid: this.qid, cause: e }), 'abort');
  }

  private sendTermReq(fes: number, fei: number): void {
    // The offending header, as much as arrived (at most 128 bytes), copied: hdr is reused.
    const echo = Buffer.from(this.hdr.subarray(0, Math.min(this.hdrFill, NVME_TCP_TERM_REQ_MAX_DATA_LEN)));
    this.counters.h2cTermReqSent++;
    this.sendPdu({ type: PduType.H2CTermReq, fes, fei, data: echo.length > 0 ? [echo] : [] });
  }

  // ------------------------------------------------------------ completion

  private requestByCid(cid: number): NvmeRequest | undefined {
    const tag = this.cidGeneration ? cid & CID_TAG_MASK : cid;
    const req = this.requests[tag];
    if (req === undefined || req.state === 'free' || req.cid !== cid) return undefined;
    return req;
  }

  private complete(req: NvmeRequest, cqe: NvmeCqe): void {
    req.timer.cancel();
    if (req.ddp) {
      req.ddp = false;
      this.counters.ddpTeardown++;
      let r: 'done' | 'pending' = 'done';
      try {
        r = this.ddp!.teardown(req.cid);
      } catch (e) {
        this.log(`queue ${this.qid} cid ${req.cid}: ddp teardown threw: ${String(e)}`);
      }
      if (r === 'pending') {
        // Completion waits for ddp_teardown_done: the NIC may still hold the buffer.
        req.state = 'teardown';
        req.pendingCqe = cqe;
        return;
      }
    }
    this.finish(req, cqe);
  }

  private finish(req: NvmeRequest, cqe: NvmeCqe): void {
    const resolve = req.resolve!;
    const out = req.statusOverride !== NvmeSc.SUCCESS ? { ...cqe, status: req.statusOverride } : cqe;
    this.release(req);
    this.counters.commandsCompleted++;
    if (out.status !== NvmeSc.SUCCESS) this.counters.commandErrors++;
    resolve(out);
  }

  private release(req: NvmeRequest): void {
    req.timer.cancel();
    req.state = 'free';
    req.buf = undefined;
    req.resolve = undefined;
    req.reject = undefined;
    req.pendingCqe = undefined;
    this.inflightCount--;
    this.freeTags.push(req.tag);
  }

  private onCommandTimeout(req: NvmeRequest): void {
    if (req.state === 'free' || this.life === 'dead') return;
    this.counters.commandTimeouts++;
    const what = req.state === 'teardown' ? 'DDP teardown' : 'completion';
    this.log(`queue ${this.qid} cid ${req.cid}: no ${what} after ${this.timeoutMs} ms, tearing the queue down`);
    this.die(
      new NvmeHostError('TIMEOUT', `queue ${this.qid} cid ${req.cid}: command timed out after ${this.timeoutMs} ms`, {
        qid: this.qid,
        cid: req.cid,
      }),
      'abort',
    );
  }

  private onIcTimeout(): void {
    if (this.icState !== 'await-icresp') return;
    this.die(new NvmeHostError('IC_REJECTED', `queue ${this.qid}: no ICResp within ${this.timeoutMs} ms`, { qid: this.qid }), 'abort');
  }

  // ------------------------------------------------------------- teardown

  private onTransportClose(err?: Error): void {
    if (this.life === 'closing') {
      this.life = 'closed';
      this.recvState = 'dead';
      this.notifyTerminated(undefined);
      return;
    }
    if (this.life === 'dead' || this.life === 'closed') {
      this.wakeClosers();
      return;
    }
    const why = err !== undefined ? `: ${err.message}` : ' by the controller';
    this.die(new NvmeHostError('TRANSPORT_CLOSED', `queue ${this.qid}: connection closed${why}`, { qid: this.qid, cause: err }), 'none');
  }

  /** Ends the queue with `err`: every outstanding command fails with it. */
  private die(err: NvmeHostError, how: 'close' | 'abort' | 'none'): void {
    if (this.life === 'dead' || this.life === 'closed') return;
    this.life = 'dead';
    this.failure = err;
    this.recvState = 'dead';
    this.icTimer.cancel();
    const icReject = this.icReject;
    this.icResolve = undefined;
    this.icReject = undefined;
    icReject?.(err);
    this.failAll(err);
    this.txBacklog = how === 'abort' ? [] : this.txBacklog;
    if (how === 'close') {
      // Flush the TermReq (and anything queued) before FIN.
      this.flushBacklogIgnoringLimit();
      this.transport.close();
    } else if (how === 'abort') {
      this.transport.abort();
    }
    this.notifyTerminated(err);
  }

  private flushBacklogIgnoringLimit(): void {
    for (const bufs of this.txBacklog) this.transport.write(bufs);
    this.txBacklog = [];
  }

  private failAll(err: NvmeHostError): void {
    for (const req of this.requests) {
      if (req.state === 'free') continue;
      if (req.ddp) {
        // The NIC's context goes with the queue; tell it anyway so its table is clean.
        req.ddp = false;
        try {
          this.ddp?.teardown(req.cid);
        } catch {
          // Failing the queue already; a hook error changes nothing for the caller.
        }
      }
      const reject = req.reject!;
      this.release(req);
      reject(err);
    }
  }

  private notifyTerminated(err: NvmeHostError | undefined): void {
    this.wakeClosers();
    const listeners = this.deadListeners.splice(0);
    for (const cb of listeners) cb(err);
  }

  private wakeClosers(): void {
    const waiters = this.closeWaiters;
    this.closeWaiters = [];
    for (const w of waiters) w();
  }

  private deadError(): NvmeHostError {
    if (this.failure !== undefined) {
      return new NvmeHostError('QUEUE_DEAD', `queue ${this.qid} is down: ${this.failure.message}`, {
        qid: this.qid,
        cause: this.failure,
      });
    }
    const why = this.life === 'new' ? 'not connected yet' : 'closed';
    return new NvmeHostError('QUEUE_DEAD', `queue ${this.qid} is ${why}`, { qid: this.qid });
  }
}
