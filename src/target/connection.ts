/**
 * One NVMe/TCP queue on one kernel TCP connection: the controller side of
 * the transport state machine.
 *
 *   await-icreq ──ICReq──► await-connect ──Connect──► live ──► closing ──► closed
 *        │                      │                      │          ▲
 *        └──────── protocol error: C2HTermReq ─────────┴──────────┘
 *
 * Receive: the kernel's byte stream goes through the wire PduFramer; every
 * PDU is checked against the queue's state and negotiated parameters and
 * any violation gets a C2HTermReq with the transport's Fatal Error Status
 * (and, for an invalid header field, FEI = the byte offset of that field),
 * after which the connection is closed. Nothing a host sends can throw out
 * of this class: other connections never notice.
 *
 * Commands: the command sets run in fabrics-cmd.ts (Connect, Property
 * Get/Set), admin-cmd.ts and io-cmd.ts, as Linux nvmet splits them; they
 * see the queue through CommandQueue (request.ts). Writes take their data
 * in-capsule (up to the queue's in-capsule size) or by R2T/H2CData, at most MAXR2T+1 R2Ts outstanding per command,
 * each asking for min(remaining, MAXH2CDATA) bytes. Completions of I/O
 * queues go through the CompletionScheduler (order, interleave, delay); the
 * admin queue answers in order at once.
 *
 * Transmit: a queue of small descriptors; read data is produced from the
 * namespace only when its C2HData PDU is written, and writing stops while
 * socket.write() reports a full buffer until 'drain', so a slow host costs
 * descriptors, not megabytes. A PDU goes out as header (+HDGST+pad), a view
 * of the data, and the DDGST, under cork: no copy of read data beyond the
 * one that composes it from pattern and overlay.
 */
import type { Socket } from 'node:net';
import { WireError } from '../wire/errors.js';
import { NVME_FABRICS_OPCODE, parseSqe, sglIsInCapsule, sglIsTransportData, type SglDescriptor } from '../wire/nvme-sqe.js';
import { buildCqe, cqeWith } from '../wire/nvme-cqe.js';
import { NvmeSc, type NvmeStatus } from '../wire/nvme-status.js';
import { NvmfFctype, type NvmfConnectCommand } from '../wire/nvme-fabrics.js';
import {
  PduFlags,
  PduType,
  TermReqFes,
  emitPdu,
  pduTypeName,
  type EmittedPdu,
  type Pdu,
  type PduEmitOptions,
} from '../wire/nvme-tcp-pdu.js';
import { PduField, PduHeaderView } from '../wire/nvme-tcp-pdu-header.js';
import { PduFramer, type FramedPdu } from '../wire/pdu-framer.js';
import { executeAdminCommand } from './admin-cmd.js';
import type { AssociationMember, Controller, Subsystem } from './controller.js';
import { executeConnect, type ConnectableQueue } from './fabrics-cmd.js';
import { HostileQueue } from './hostile.js';
import { executeIoCommand } from './io-cmd.js';
import { inCapsuleLimit, digestAllows } from './options.js';
import { C2hBufferPool } from './c2h-buffers.js';
import { statusOnly, type C2HSource, type Command, type ReplyFields } from './request.js';
import { CompletionScheduler, Prng, type Completion } from './scheduler.js';
import type { QueueStats } from './stats.js';

export type QueueState = 'await-icreq' | 'await-connect' | 'live' | 'closing' | 'closed';

/** Connect CATTR bit 2: the host disables SQ flow control (no SQHD updates needed). */
const CATTR_DISABLE_SQ_FLOW_CONTROL = 0x04;
/** Reserved TTAG value never handed out. */
const TTAG_LIMIT = 0xffff;
/** How long a closing connection waits for the host to close before it is destroyed. */
const CLOSE_GRACE_MS = 2000;
/** A TermReq echoes at most this much of the offending PDU header. */
const TERM_REQ_ECHO_MAX = 128;

interface R2TSlot {
  readonly cmd: Command;
  readonly ttag: number;
  readonly r2to: number;
  readonly r2tl: number;
  received: number;
}

/** A completion: optional C2HData, then a CapsuleResp unless the last C2HData carries SUCCESS. */
interface Reply extends Completion {
  readonly cmd: Command;
  readonly status: NvmeStatus;
  readonly dnr: boolean;
  readonly dw0: number;
  readonly dw1: number;
  readonly c2h: C2HSource | undefined;
  readonly c2hPdus: number;
  readonly c2hPduBytes: number;
  readonly success: boolean;
  readonly parts: number;
}

type TxItem =
  | { readonly kind: 'pdu'; readonly pdu: Pdu }
  | { readonly kind: 'c2h'; readonly reply: Reply; readonly datao: number; readonly datal: number; readonly last: boolean }
  | { readonly kind: 'end' };

function fragsLength(frags: readonly Buffer[]): number {
  let n = 0;
  for (const f of frags) n += f.length;
  return n;
}

function copyFrags(frags: readonly Buffer[], out: Buffer, at: number): void {
  let pos = at;
  for (const f of frags) {
    out.set(f, pos);
    pos += f.length;
  }
}

export class QueueConnection implements AssociationMember {
  state: QueueState = 'await-icreq';
  qid = -1;
  ctrl: Controller | undefined;

  // Negotiated in ICReq/ICResp.
  private hdgst = false;
  private ddgst = false;
  private hpda = 0;
  private maxr2t = 0;
  // Set by Connect.
  private qsize = 1;
  private sqHead = 0;
  private sqFlowDisabled = false;

  private readonly framer: PduFramer;
  private readonly commands = new Map<number, Command>();
  private readonly r2ts = new Map<number, R2TSlot>();
  private nextTtag = 0;
  /** Stream offset where the next PDU starts: where a header the framer refuses begins. */
  private nextPduStart = 0;
  private scheduler: CompletionScheduler<Reply> | undefined;
  /** The hostile mode, on the one queue it names (options.hostile). */
  private hostile: HostileQueue | undefined;

  private tx: Array<TxItem | undefined> = [];
  /** Read data buffers, reused once written (c2h-buffers.ts). */
  private readonly c2hPool = new C2hBufferPool();
  private txHead = 0;
  private waitingDrain = false;
  private pumpScheduled = false;
  private closeTimer: NodeJS.Timeout | undefined;
  private readonly tag: string;
  private readonly cmdQueue: ConnectableQueue;

  constructor(
    private readonly socket: Socket,
    private readonly subsys: Subsystem,
    readonly stats: QueueStats,
    private readonly onClosed: (c: QueueConnection) => void,
  ) {
    const o = subsys.options;
    this.tag = `conn ${stats.conn} ${stats.remote}`;
    this.cmdQueue = this.commandQueue();
    // The largest PDU a host may legitimately send, plus room for header, digests and padding.
    const maxData = Math.max(inCapsuleLimit(o, 0), o.inCapsuleBytes, o.maxH2CDataBytes);
    this.framer = new PduFramer((p) => this.onPdu(p), { verifyDigests: true, pda: o.cpda, maxPlen: maxData + 256 });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e: Error) => {
      if (this.state !== 'closing' && this.state !== 'closed') this.subsys.log(`${this.tag}: socket error: ${e.message}`);
    });
    socket.on('end', () => {
      if (this.stats.closedBy === 'open') this.stats.closedBy = 'host';
    });
    socket.on('close', () => this.cleanup());
  }

  // ------------------------------------------------------------ receive

  private onData(chunk: Buffer): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.stats.bytesRx += chunk.length;
    const before = this.framer.streamOffset;
    try {
      this.framer.push(chunk);
    } catch (e) {
      this.onFramerError(e, chunk, before);
    }
    this.schedulePump();
  }

  /** A header the framer refused: map the WireError onto FES/FEI. */
  private onFramerError(e: unknown, chunk: Buffer, chunkStart: number): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    if (!(e instanceof WireError)) {
      this.internalError(e);
      return;
    }
    // Echo the offending header when it starts in this chunk (it nearly always does).
    const at = this.nextPduStart - chunkStart;
    let echo: Buffer = Buffer.alloc(0);
    if (at >= 0 && at < chunk.length) {
      const v = new PduHeaderView(chunk, at);
      const hlen = v.hasBytes(PduField.HLEN + 1) ? v.hlen : 8;
      echo = chunk.subarray(at, at + Math.min(TERM_REQ_ECHO_MAX, Math.max(8, hlen), chunk.length - at));
    }
    const field = e.detail.field;
    let fes: number = TermReqFes.InvalidHeaderField;
    let fei: number = PduField.TYPE;
    const type = at >= 0 && at < chunk.length ? chunk[at] : undefined;
    const isTermReq = type === PduType.H2CTermReq || type === PduType.C2HTermReq;
    if (e.code === 'PDU_TOO_LARGE' && !isTermReq) {
      // More data than any transfer the target accepts (a TermReq's plen is just a bad field).
      fes = TermReqFes.DataLimitExceeded;
      fei = 0;
    } else if (field === 'flags') fei = PduField.FLAGS;
    else if (field === 'hlen') fei = PduField.HLEN;
    else if (field === 'pdo') fei = PduField.PDO;
    else if (field === 'plen') fei = PduField.PLEN;
    else if (field === 'datal') fei = PduField.XFER_DATAL;
    else if (field === 'hpda') fei = PduField.IC_PDA;
    this.fatal(fes, fei, echo, e.message);
  }

  private onPdu(f: FramedPdu): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.stats.pdusRx++;
    this.nextPduStart = f.streamOffset + f.layout.plen;
    try {
      this.dispatch(f);
    } catch (e) {
      this.internalError(e);
    }
  }

  private dispatch(f: FramedPdu): void {
    const pdu = f.pdu;
    if (f.hdgstStatus === 'mismatch') {
      this.stats.headerDigestErrors++;
      this.fatal(TermReqFes.HeaderDigestError, 0, f.headerBytes, `${pduTypeName(pdu.type)} header digest mismatch`);
      return;
    }
    switch (pdu.type) {
      case PduType.ICReq:
        if (this.state !== 'await-icreq') {
          this.fatal(TermReqFes.PduSequenceError, 0, f.headerBytes, 'ICReq after connection initialization');
          return;
        }
        this.onICReq(f, pdu.pfv, pdu.hpda, pdu.hdgstEnable, pdu.ddgstEnable, pdu.maxr2t);
        return;
      case PduType.H2CTermReq:
        this.stats.h2cTermReqsReceived++;
        this.subsys.log(`${this.tag}: host sent H2CTermReq FES ${pdu.fes} FEI ${pdu.fei}; closing`);
        this.stats.closedBy = 'host';
        this.beginClose();
        return;
      case PduType.CapsuleCmd:
      case PduType.H2CData:
        if (this.state === 'await-icreq') {
          this.fatal(TermReqFes.PduSequenceError, 0, f.headerBytes, `${pduTypeName(pdu.type)} before ICReq`);
          return;
        }
        if (!this.checkDigestFlags(f)) return;
        if (pdu.type === PduType.CapsuleCmd) this.onCapsule(f, pdu.sqe, pdu.data);
        else this.onH2CData(f, pdu.cccid, pdu.ttag, pdu.datao, pdu.datal, pdu.data);
        return;
      case PduType.ICResp:
      case PduType.C2HTermReq:
      case PduType.CapsuleResp:
      case PduType.C2HData:
      case PduType.R2T:
        // Controller-to-host types are not valid from a host.
        this.fatal(TermReqFes.InvalidHeaderField, PduField.TYPE, f.headerBytes, `host sent ${pduTypeName(pdu.type)}`);
        return;
      default: {
        const unreachable: never = pdu;
        throw new Error(`unhandled PDU ${String(unreachable)}`);
      }
    }
  }

  /** HDGSTF/DDGSTF must match what ICReq/ICResp negotiated. */
  private checkDigestFlags(f: FramedPdu): boolean {
    const hasH = (f.layout.flags & PduFlags.HDGSTF) !== 0;
    const hasD = (f.layout.flags & PduFlags.DDGSTF) !== 0;
    const wantD = this.ddgst && f.layout.dataLength > 0;
    if (hasH !== this.hdgst || hasD !== wantD) {
      this.fatal(
        TermReqFes.InvalidHeaderField,
        PduField.FLAGS,
        f.headerBytes,
        `${pduTypeName(f.pdu.type)} digest flags 0x${f.layout.flags.toString(16)} disagree with negotiated hdgst=${this.hdgst} ddgst=${this.ddgst}`,
      );
      return false;
    }
    return true;
  }

  private onICReq(f: FramedPdu, pfv: number, hpda: number, hdgst: boolean, ddgst: boolean, maxr2t: number): void {
    if (pfv !== 0) {
      this.fatal(TermReqFes.UnsupportedParameter, PduField.IC_PFV, f.headerBytes, `ICReq PFV ${pfv} (only 0 supported)`);
      return;
    }
    const o = this.subsys.options;
    this.hpda = hpda;
    this.maxr2t = maxr2t;
    this.hdgst = hdgst && digestAllows(o, 'header');
    this.ddgst = ddgst && digestAllows(o, 'data');
    this.state = 'await-connect';
    this.pushPdu({
      type: PduType.ICResp,
      pfv: 0,
      cpda: o.cpda,
      hdgstEnable: this.hdgst,
      ddgstEnable: this.ddgst,
      maxh2cdata: o.maxH2CDataBytes,
    });
  }

  private onCapsule(f: FramedPdu, sqeBytes: Buffer, data: readonly Buffer[]): void {
    const sqe = parseSqe(sqeBytes);
    this.stats.commands++;
    if (this.commands.has(sqe.cid)) {
      this.fatal(TermReqFes.InvalidHeaderField, PduField.CAPSULE_CMD_CID, f.headerBytes, `CID ${sqe.cid} is already outstanding`);
      return;
    }
    const dataLen = fragsLength(data);
    this.stats.inCapsuleBytes += dataLen;
    const isIo = this.qid > 0;
    const cmd: Command = {
      cid: sqe.cid,
      opcode: sqe.opcode,
      isIo,
      buf: undefined,
      dataLen: 0,
      received: 0,
      r2tIssued: 0,
      r2tOutstanding: 0,
      ddgstFailed: f.ddgstStatus === 'mismatch',
      onData: undefined,
      held: false,
    };
    this.commands.set(cmd.cid, cmd);
    if (this.qsize > 0) this.sqHead = (this.sqHead + 1) % this.qsize;

    // In-capsule data the command did not describe is data past its length.
    if (dataLen > 0 && (!sglIsInCapsule(sqe.dptr) || dataLen > sqe.dptr.length)) {
      this.fatal(
        TermReqFes.DataOutOfRange,
        0,
        f.headerBytes,
        `CID ${sqe.cid}: ${dataLen} bytes of in-capsule data, SGL describes ${sglIsInCapsule(sqe.dptr) ? sqe.dptr.length : 0}`,
      );
      return;
    }
    if (cmd.ddgstFailed) {
      this.stats.dataDigestErrors++;
      this.subsys.log(`${this.tag}: CID ${cmd.cid} in-capsule data digest error: Transient Transport Error`);
    }

    if (this.state === 'await-connect') {
      if (sqe.opcode === NVME_FABRICS_OPCODE && (sqe.nsid & 0xff) === NvmfFctype.CONNECT) {
        executeConnect(this.cmdQueue, cmd, sqeBytes, data, dataLen);
      } else {
        this.complete(cmd, statusOnly(NvmeSc.CMD_SEQ_ERROR));
      }
      return;
    }
    if (isIo) executeIoCommand(this.cmdQueue, cmd, sqeBytes, data, dataLen);
    else executeAdminCommand(this.cmdQueue, cmd, sqeBytes);
  }

  /**
   * Gets a command's host-to-controller data: from the capsule, or by R2T.
   * Calls `then` with the whole data once it is in (and not if the command
   * failed on the way, e.g. a data digest error, which completes it).
   */
  private acquireData(
    cmd: Command,
    sgl: SglDescriptor,
    data: readonly Buffer[],
    dataLen: number,
    expectedLen: number,
    then: (cmd: Command, data: Buffer) => void,
  ): void {
    if (sgl.length !== expectedLen) {
      this.complete(cmd, statusOnly(NvmeSc.SGL_INVALID_DATA));
      return;
    }
    if (sglIsInCapsule(sgl)) {
      if (sgl.addr !== 0n) {
        this.complete(cmd, statusOnly(NvmeSc.SGL_INVALID_OFFSET));
        return;
      }
      if (sgl.length > inCapsuleLimit(this.subsys.options, this.qid < 0 ? 0 : this.qid) || dataLen !== sgl.length) {
        this.complete(cmd, statusOnly(NvmeSc.SGL_INVALID_DATA));
        return;
      }
      if (cmd.ddgstFailed) {
        this.complete(cmd, statusOnly(NvmeSc.TRANSIENT_TR_ERR, false));
        return;
      }
      const buf = data.length === 1 ? (data[0] as Buffer) : Buffer.concat(data as Buffer[], dataLen);
      then(cmd, buf);
      return;
    }
    if (!sglIsTransportData(sgl)) {
      this.complete(cmd, statusOnly(NvmeSc.SGL_INVALID_TYPE));
      return;
    }
    if (expectedLen === 0) {
      then(cmd, Buffer.alloc(0));
      return;
    }
    cmd.buf = Buffer.allocUnsafe(expectedLen);
    cmd.dataLen = expectedLen;
    cmd.onData = then;
    this.issueR2Ts(cmd);
  }

  /** Keeps up to MAXR2T+1 R2Ts outstanding for the command. */
  private issueR2Ts(cmd: Command): void {
    const o = this.subsys.options;
    while (cmd.r2tOutstanding < this.maxr2t + 1 && cmd.r2tIssued < cmd.dataLen) {
      const ttag = this.allocTtag();
      if (ttag === undefined) break; // every tag in use: the next completed R2T frees one
      const r2tl = Math.min(cmd.dataLen - cmd.r2tIssued, o.maxH2CDataBytes);
      const slot: R2TSlot = { cmd, ttag, r2to: cmd.r2tIssued, r2tl, received: 0 };
      this.r2ts.set(ttag, slot);
      cmd.r2tIssued += r2tl;
      cmd.r2tOutstanding++;
      this.stats.r2tPdus++;
      this.pushPdu({ type: PduType.R2T, cccid: cmd.cid, ttag, r2to: slot.r2to, r2tl });
    }
  }

  private allocTtag(): number | undefined {
    for (let i = 0; i < TTAG_LIMIT; i++) {
      const t = this.nextTtag;
      this.nextTtag = (t + 1) % TTAG_LIMIT;
      if (!this.r2ts.has(t)) return t;
    }
    return undefined;
  }

  private onH2CData(f: FramedPdu, cccid: number, ttag: number, datao: number, datal: number, data: readonly Buffer[]): void {
    this.stats.h2cDataPdus++;
    if (this.state !== 'live' && this.state !== 'await-connect') return;
    const slot = this.r2ts.get(ttag);
    if (!slot) {
      this.fatal(TermReqFes.InvalidHeaderField, PduField.XFER_TTAG, f.headerBytes, `H2CData with unknown TTAG ${ttag}`);
      return;
    }
    if (slot.cmd.cid !== cccid) {
      this.fatal(TermReqFes.InvalidHeaderField, PduField.XFER_CCCID, f.headerBytes, `H2CData CCCID ${cccid} but TTAG ${ttag} belongs to CID ${slot.cmd.cid}`);
      return;
    }
    if (datal === 0) {
      this.fatal(TermReqFes.InvalidHeaderField, PduField.XFER_DATAL, f.headerBytes, 'H2CData with DATAL 0');
      return;
    }
    if (datal > this.subsys.options.maxH2CDataBytes) {
      this.fatal(TermReqFes.DataLimitExceeded, 0, f.headerBytes, `H2CData DATAL ${datal} above MAXH2CDATA ${this.subsys.options.maxH2CDataBytes}`);
      return;
    }
    if (datao < slot.r2to || datao + datal > slot.r2to + slot.r2tl) {
      this.fatal(
        TermReqFes.DataOutOfRange,
        0,
        f.headerBytes,
        `H2CData [${datao}, +${datal}) outside R2T [${slot.r2to}, +${slot.r2tl}) of CID ${cccid}`,
      );
      return;
    }
    const expected = slot.r2to + slot.received;
    if (datao !== expected) {
      this.fatal(TermReqFes.InvalidHeaderField, PduField.XFER_DATAO, f.headerBytes, `H2CData DATAO ${datao}, expected ${expected}`);
      return;
    }
    const cmd = slot.cmd;
    const buf = cmd.buf;
    if (!buf) throw new Error(`CID ${cmd.cid} has an R2T but no buffer`);
    copyFrags(data, buf, datao);
    if (f.ddgstStatus === 'mismatch') {
      if (!cmd.ddgstFailed) this.subsys.log(`${this.tag}: CID ${cmd.cid} H2CData data digest error: Transient Transport Error`);
      cmd.ddgstFailed = true;
      this.stats.dataDigestErrors++;
    }
    slot.received += datal;
    if (slot.received < slot.r2tl) return;
    this.r2ts.delete(ttag);
    cmd.r2tOutstanding--;
    cmd.received += slot.r2tl;
    if (cmd.received < cmd.dataLen) {
      this.issueR2Ts(cmd);
      return;
    }
    const then = cmd.onData;
    cmd.onData = undefined;
    cmd.buf = undefined;
    // A data digest error is not fatal to the connection: the command fails
    // with Transient Transport Error (NVMe/TCP; SPDK's target does this).
    if (cmd.ddgstFailed) this.complete(cmd, statusOnly(NvmeSc.TRANSIENT_TR_ERR, false));
    else if (then) then(cmd, buf);
  }

  // ------------------------------------------------------------ commands

  /** What the command sets (fabrics-cmd.ts, admin-cmd.ts, io-cmd.ts) see of this queue. */
  private commandQueue(): ConnectableQueue {
    // The controller is read live: Connect sets it after this view exists.
    const conn = this;
    return {
      subsys: this.subsys,
      stats: this.stats,
      tag: this.tag,
      get ctrl() {
        return conn.ctrl;
      },
      complete: (cmd, r) => this.complete(cmd, r),
      acquireData: (cmd, sgl, data, dataLen, expectedLen, then) => this.acquireData(cmd, sgl, data, dataLen, expectedLen, then),
      installQueue: (cmd, ctrl, c, hostnqn) => this.installQueue(cmd, ctrl, c, hostnqn),
    };
  }

  /** Connect accepted (fabrics-cmd.ts): the queue joins the controller and goes live. */
  private installQueue(cmd: Command, ctrl: Controller, c: NvmfConnectCommand, hostnqn: string): void {
    const o = this.subsys.options;
    this.ctrl = ctrl;
    this.qid = c.qid;
    this.qsize = c.sqsize + 1;
    this.sqHead = 1 % this.qsize;
    this.sqFlowDisabled = (c.cattr & CATTR_DISABLE_SQ_FLOW_CONTROL) !== 0;
    this.stats.qid = c.qid;
    this.stats.cntlid = ctrl.cntlid;
    ctrl.attach(this);
    if (o.hostile !== undefined && o.hostile.qid === c.qid) {
      this.hostile = new HostileQueue(o.hostile, (line) => this.subsys.log(`${this.tag} qid ${c.qid}: hostile ${line}`));
    }
    if (c.qid > 0) {
      this.scheduler = new CompletionScheduler<Reply>(
        { order: o.order, interleave: o.interleave, batchMax: o.batchMax, delayUs: o.delayUs },
        Prng.derive(o.seed, ctrl.cntlid, c.qid),
        (r, p) => this.emitPart(r, p),
      );
    }
    this.state = 'live';
    this.subsys.log(
      `${this.tag}: qid ${c.qid} cntlid ${ctrl.cntlid} connected (host ${hostnqn}, sqsize ${c.sqsize}` +
        `${this.hdgst ? ', hdgst' : ''}${this.ddgst ? ', ddgst' : ''}${this.sqFlowDisabled ? ', no SQ flow control' : ''})`,
    );
    this.complete(cmd, { dw0: ctrl.cntlid });
  }

  // ----------------------------------------------------------- completion

  private complete(cmd: Command, r: ReplyFields): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    const o = this.subsys.options;
    const status = r.status ?? NvmeSc.SUCCESS;
    // Data goes back only for a successful command.
    const c2h = status === NvmeSc.SUCCESS ? r.c2h : undefined;
    const pduBytes = c2h ? (cmd.isIo && o.c2hSizeBytes > 0 ? o.c2hSizeBytes : c2h.lenBytes) : 0;
    const c2hPdus = c2h && c2h.lenBytes > 0 ? Math.ceil(c2h.lenBytes / pduBytes) : 0;
    // SUCCESS replaces the CapsuleResp only where the host disabled SQ flow
    // control (NVMe/TCP: SQHD updates would otherwise be lost), and only
    // when the CQE would say nothing but "success".
    const success =
      c2hPdus > 0 && o.c2hSuccess && this.sqFlowDisabled && (r.dw0 ?? 0) === 0 && (r.dw1 ?? 0) === 0;
    const reply: Reply = {
      cmd,
      status,
      dnr: status === NvmeSc.SUCCESS ? false : (r.dnr ?? true),
      dw0: r.dw0 ?? 0,
      dw1: r.dw1 ?? 0,
      c2h,
      c2hPdus,
      c2hPduBytes: pduBytes,
      success,
      parts: c2hPdus + (success ? 0 : 1),
    };
    if (status !== NvmeSc.SUCCESS) this.stats.errorCompletions++;
    if (this.scheduler) this.scheduler.submit(reply);
    else for (let p = 0; p < reply.parts; p++) this.emitPart(reply, p);
    this.schedulePump();
  }

  /** Turns part `p` of a reply into a transmit item (the scheduler decides the order). */
  private emitPart(r: Reply, p: number): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    const last = p === r.parts - 1;
    if (p < r.c2hPdus && r.c2h) {
      const datao = p * r.c2hPduBytes;
      const datal = Math.min(r.c2hPduBytes, r.c2h.lenBytes - datao);
      this.pushTx({ kind: 'c2h', reply: r, datao, datal, last: p === r.c2hPdus - 1 });
    } else {
      const cqe = buildCqe(
        cqeWith({
          cid: r.cmd.cid,
          sqId: this.qid < 0 ? 0 : this.qid,
          sqHead: this.sqFlowDisabled ? 0 : this.sqHead,
          status: r.status,
          dnr: r.dnr,
          dw0: r.dw0 >>> 0,
          dw1: r.dw1 >>> 0,
        }),
      );
      this.pushPdu({ type: PduType.CapsuleResp, cqe });
    }
    if (last) {
      this.commands.delete(r.cmd.cid);
      if (r.success) this.stats.successFlagCompletions++;
      if (r.c2h && r.cmd.isIo) this.stats.readBytes += r.c2h.lenBytes;
    }
    if (this.scheduler) this.stats.reorderedCompletions = this.scheduler.reordered;
    this.schedulePump();
  }

  // ----------------------------------------------------------- transmit

  private pushPdu(pdu: Pdu): void {
    this.pushTx({ kind: 'pdu', pdu });
  }

  private pushTx(item: TxItem): void {
    this.tx.push(item);
    this.schedulePump();
  }

  /** Writes happen after the current burst of PDUs is handled, so they leave in one corked batch. */
  private schedulePump(): void {
    if (this.pumpScheduled || this.waitingDrain) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    if (this.waitingDrain || this.state === 'closed') return;
    const socket = this.socket;
    socket.cork();
    try {
      while (this.txHead < this.tx.length) {
        if (socket.destroyed || !socket.writable) {
          this.tx = [];
          this.txHead = 0;
          return;
        }
        const item = this.tx[this.txHead] as TxItem;
        this.tx[this.txHead++] = undefined;
        if (!this.writeItem(item)) {
          this.waitingDrain = true;
          this.stats.backpressureWaits++;
          socket.once('drain', () => {
            this.waitingDrain = false;
            this.pump();
          });
          break;
        }
      }
      if (this.txHead === this.tx.length) {
        this.tx = [];
        this.txHead = 0;
      } else if (this.txHead > 4096) {
        this.tx = this.tx.slice(this.txHead);
        this.txHead = 0;
      }
    } catch (e) {
      this.internalError(e);
    } finally {
      socket.uncork();
    }
  }

  private emitOptions(): PduEmitOptions {
    return { hdgst: this.hdgst, ddgst: this.ddgst, pda: this.hpda };
  }

  /** Writes one item; false when the socket asks us to wait for 'drain'. */
  private writeItem(item: TxItem): boolean {
    switch (item.kind) {
      case 'end':
        this.socket.end();
        return true;
      case 'pdu':
        return this.writePdu(item.pdu);
      case 'c2h': {
        const r = item.reply;
        if (!r.c2h) return true;
        // Pooled only where nothing but the socket sees the chunk (a hostile profile may keep or forge from it).
        const pool = r.c2h.fresh === true && this.hostile === undefined ? this.c2hPool : undefined;
        const data = r.c2h.chunk(item.datao, item.datal, pool);
        this.stats.c2hDataPdus++;
        return this.writePdu(
          {
            type: PduType.C2HData,
            cccid: r.cmd.cid,
            datao: item.datao,
            datal: item.datal,
            lastPdu: item.last,
            success: item.last && r.success,
            data: [data],
          },
          pool,
        );
      }
    }
  }

  /** With `pool`, the PDU's data buffers go back to it once the kernel has them. */
  private writePdu(pdu: Pdu, pool?: C2hBufferPool): boolean {
    const e = emitPdu(pdu, this.emitOptions());
    if (this.hostile === undefined) return this.writeEmitted(e, pool);
    let ok = true;
    for (const x of this.hostile.outgoing(pdu, e)) ok = this.writeEmitted(x);
    this.stats.hostilePdus = this.hostile.forgedPdus;
    return ok;
  }

  private writeEmitted(e: EmittedPdu, pool?: C2hBufferPool): boolean {
    const socket = this.socket;
    let ok = socket.write(e.head);
    if (pool === undefined) for (const d of e.data) ok = socket.write(d);
    else for (const d of e.data) ok = socket.write(d, (err) => err == null && pool.give(d));
    if (e.tail.length > 0) ok = socket.write(e.tail);
    this.stats.pdusTx++;
    this.stats.bytesTx += e.plen;
    return ok;
  }

  // ------------------------------------------------------------ closing

  /**
   * A fatal transport error: C2HTermReq with FES/FEI and up to 128 bytes of
   * the offending header, then close. Responses already queued still go
   * out first, in order.
   */
  private fatal(fes: number, fei: number, header: Buffer, why: string): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.subsys.stats.protocolErrors++;
    this.subsys.log(`${this.tag}${this.qid >= 0 ? ` qid ${this.qid}` : ''}: protocol error: ${why}; C2HTermReq FES ${fes} FEI ${fei}`);
    this.stats.closedBy = 'target-error';
    this.stats.termReqsSent[String(fes)] = (this.stats.termReqsSent[String(fes)] ?? 0) + 1;
    const echo = header.subarray(0, Math.min(header.length, TERM_REQ_ECHO_MAX));
    this.dropCommands();
    this.state = 'closing';
    this.tx.push({ kind: 'pdu', pdu: { type: PduType.C2HTermReq, fes, fei, data: [Buffer.from(echo)] } }, { kind: 'end' });
    this.armCloseTimer();
    // New completions are refused from now on; what is queued, TermReq last, still goes out.
    queueMicrotask(() => this.pump());
  }

  private internalError(e: unknown): void {
    const msg = e instanceof Error ? e.message : String(e);
    this.subsys.log(`${this.tag}: internal error: ${msg}; closing`);
    if (process.env.DDPLAB_DEBUG && e instanceof Error && e.stack) this.subsys.log(e.stack);
    this.stats.closedBy = 'target-error';
    this.beginClose();
  }

  /** Controller-initiated end of the queue (keep-alive expiry, association teardown, shutdown). */
  terminate(reason: 'keep-alive' | 'association' | 'shutdown'): void {
    if (this.state === 'closed') return;
    if (this.stats.closedBy === 'open') this.stats.closedBy = reason;
    this.ctrl = undefined; // the controller already forgot us
    this.beginClose();
  }

  /** Target shutdown of a queue that may have no controller yet. */
  shutdown(): void {
    if (this.stats.closedBy === 'open') this.stats.closedBy = 'shutdown';
    this.beginClose();
    this.socket.destroy();
  }

  private beginClose(): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.dropCommands();
    this.state = 'closing';
    this.tx = [];
    this.txHead = 0;
    this.socket.end();
    this.armCloseTimer();
  }

  private armCloseTimer(): void {
    if (this.closeTimer) return;
    this.closeTimer = setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS);
    this.closeTimer.unref();
  }

  private dropCommands(): void {
    this.scheduler?.close();
    this.commands.clear();
    this.r2ts.clear();
  }

  private cleanup(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.dropCommands();
    this.tx = [];
    this.txHead = 0;
    const ctrl = this.ctrl;
    this.ctrl = undefined;
    ctrl?.detach(this);
    this.onClosed(this);
  }
}
