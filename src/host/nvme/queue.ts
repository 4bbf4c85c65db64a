/**
 * One NVMe/TCP queue on one stream: the host side of the transport, after
 * the shape of Linux drivers/nvme/host/tcp.c (SPEC: NVMe/TCP transport
 * binding; docs/protocol-facts.md).
 *
 * Connection: ICReq (PFV 0, HPDA 0, the digests asked for, MAXR2T 0) →
 * ICResp, which is refused (IC_REJECTED) for PFV ≠ 0, a CPDA above what the
 * host accepts, digests other than those asked for, or a MAXH2CDATA that is
 * not a multiple of 4 of at least 4096.
 *
 * Receive: the state machine over the stream (one state per part of a
 * PDU, as nvme_tcp_recv_skb walks recv_state) and the data digest rule for
 * DDP live in NvmeQueueRx (queue-rx.ts); this class acts on what it reports.
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
import { buildNvmeCommand, type NvmeCommand } from '../../wire/nvme-command.js';
import { parseCqe, type NvmeCqe } from '../../wire/nvme-cqe.js';
import { sglInCapsule, sglNoData, sglTransportData, type SglDescriptor } from '../../wire/nvme-sqe.js';
import { NvmeSc } from '../../wire/nvme-status.js';
import { NVME_TCP_MAX_PDA, PduType, TermReqFes, emitPdu, type Pdu, type PduEmitOptions } from '../../wire/nvme-tcp-pdu.js';
import { PduField } from '../../wire/nvme-tcp-pdu-header.js';
import type { Clock, ClockTimer } from '../net/clock.js';
import { newNvmeHostStats, type NvmeHostStats } from '../net/host-stats.js';
import { newAuditedSkbCopyCounts, type SkbCopyCounts } from '../net/skb-copy.js';
import type { NvmeDevmemHooks } from '../devmem/nvme-hooks.js';
import type { NvmeDdpHooks } from './ddp-hooks.js';
import { NvmeHostError } from './host-error.js';
import { NvmeQueueRx, RxProtocolError, type NvmeRxSink, type NvmeTcpConnectionParams } from './queue-rx.js';
import type { NvmeRequest } from './request.js';
import type { StreamTransport } from './stream-transport.js';

/** Linux's default I/O timeout (NVME_IO_TIMEOUT, 30 s). */
export const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;
/** In-capsule data every admin queue takes (Linux host: NVME_TCP_ADMIN_CCSZ, 8 KiB). */
export const ADMIN_IN_CAPSULE_BYTES = 8192;
/** Most CIDs with the generation counter on: 12 bits of tag. */
const CID_TAG_BITS = 12;
const CID_TAG_MASK = (1 << CID_TAG_BITS) - 1;

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
  /** DDP hook points (ddp-hooks.ts). */
  readonly ddp?: NvmeDdpHooks;
  /** Device-memory receive: C2HData payload in dmabuf frags is handed to these instead of copied. */
  readonly devmem?: NvmeDevmemHooks;
  /** Counters to add to (default: a fresh object, see `stats`). */
  readonly stats?: NvmeHostStats;
  /** One line per notable event (protocol errors, timeouts). */
  readonly log?: (line: string) => void;
}

type IcState = 'idle' | 'await-icresp' | 'done';
type QueueLife = 'new' | 'live' | 'closing' | 'closed' | 'dead';

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
  private readonly copyCounts: SkbCopyCounts = newAuditedSkbCopyCounts();
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
  /** submitWhenFree callers waiting for a CID, first come first served (the block layer's tag wait). */
  private tagWaiters: (() => void)[] = [];

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

  private readonly rx: NvmeQueueRx;

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
        ddpMapped: false,
        pendingCqe: undefined,
        resolve: undefined,
        reject: undefined,
      };
      this.requests.push(req);
    }
    // Pop order hands out CID 0 first.
    for (let tag = opts.depth - 1; tag >= 0; tag--) this.freeTags.push(tag);
    this.icTimer = this.clock.createTimer(() => this.onIcTimeout());
    this.rx = new NvmeQueueRx({ qid: this.qid, counters: this.counters, copyCounts: this.copyCounts, ddp: this.ddp, devmem: this.devmem, log: this.log }, this.rxSink());

    transport.onData((chunk) => this.rx.onChunk(chunk));
    transport.onDrain(() => this.onDrain());
    transport.onClose((err) => this.onTransportClose(err));
  }

  // ------------------------------------------------------------ public face

  /** Counters of this queue (copy counts folded in). */
  get stats(): NvmeHostStats {
    this.counters.copiedBytes = this.copyCounts.copiedBytes;
    this.counters.copySkippedBytes = this.copyCounts.bytesSkipped;
    this.counters.placedMismatches = this.copyCounts.placedMismatches;
    this.counters.ddpMisplacedBytes = this.copyCounts.misplacedBytes ?? 0;
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
    req.ddpMapped = false;
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
      // Best effort (docs/protocol-facts.md): a refusal leaves the read on the copy path.
      let ok = false;
      try {
        ok = this.ddp.setup(req.cid, [req.buf!]);
      } catch (e) {
        this.log(`queue ${this.qid} cid ${req.cid}: ddp setup threw: ${String(e)}`);
      }
      req.ddp = ok;
      req.ddpMapped = ok;
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

  /**
   * As submit, but waits for a free CID instead of failing with QUEUE_FULL,
   * as a block-layer request waits for a tag: the commands a split read
   * adds may outnumber the free CIDs for a moment.
   */
  submitWhenFree(build: NvmeCommandBuilder, data?: NvmeCommandData): Promise<NvmeCqe> {
    if (this.life !== 'live' || (this.freeTags.length > 0 && this.tagWaiters.length === 0)) return this.submit(build, data);
    return new Promise<NvmeCqe>((resolve, reject) => {
      this.tagWaiters.push(() => this.submit(build, data).then(resolve, reject));
    });
  }

  /** Largest read sent as one command while the queue is offloaded (DDP limits), or undefined: no limit. */
  get maxReadBytes(): number | undefined {
    return this.ddp?.maxReadBytes?.();
  }

  /** A read was split into `commands` commands by maxReadBytes. */
  noteReadSplit(commands: number): void {
    this.ddp?.onReadSplit?.(commands);
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
      this.counters.crcHeaderBytes += e.head[2]!;
    }
    if (e.tail.length !== 0) this.counters.crcDataTxBytes += e.plen - e.head.length - e.tail.length;
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

  /** What the receive state machine reports to: this queue. */
  private rxSink(): NvmeRxSink {
    // icState and params change at ICResp: read them live.
    const q = this;
    return {
      get initialized() {
        return q.icState === 'done';
      },
      get connectionParams() {
        return q.params;
      },
      onICResp: (pfv, cpda, hdgst, ddgst, maxh2cdata) => this.onICResp(pfv, cpda, hdgst, ddgst, maxh2cdata),
      onCapsuleResp: (cqeBytes) => this.onCapsuleResp(cqeBytes),
      onR2T: (cccid, ttag, r2to, r2tl) => this.onR2T(cccid, ttag, r2to, r2tl),
      requestByCid: (cid) => this.requestByCid(cid),
      complete: (req, cqe) => this.complete(req, cqe),
      die: (err, how) => this.die(err, how),
      rxError: (e) => this.onRxError(e),
    };
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
    const echo = this.rx.echoHeader();
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
    if (req.ddpMapped) this.ddp?.onCompleted?.(req.cid);
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
    this.wakeTagWaiter();
  }

  /** A CID is free: the first waiter takes it (or, on a queue that ended, is refused like any submit). */
  private wakeTagWaiter(): void {
    this.tagWaiters.shift()?.();
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
      this.rx.kill();
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
    this.rx.kill();
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
    // Waiters for a CID get the queue's refusal.
    for (const w of this.tagWaiters.splice(0)) w();
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
