/**
 * One NVMe/TCP connection of a capture, replayed: both directions
 * reassembled (replay/stream.ts), framed into PDUs (pdu-stream.ts), the
 * host's commands learned from its own stream (replay/command-learner.ts)
 * and the target's answers received by the passive host ULP
 * (replay/host-ulp.ts), with the DDP offload of the NIC, when there is one,
 * set up and torn down per read as the live host would (replay/offload.ts).
 *
 *   capture ─ host → target frames ──► h2c stream ─► PDUs ─► command learner ─┐
 *          └─ target → host frames ─► NIC (DDP) ─► skb ─► c2h stream ─► PDUs ─► host ULP
 *                                                                  command table ┘
 *
 * The host's ACKs in the capture tell the c2h stream which holes the live
 * host did not have (replay/stream.ts); the target's ACKs do the same for
 * the h2c stream.
 */
import type { UlpMode } from '../host/nvme/ulp-mode.js';
import { createHash } from 'node:crypto';
import type { Skb } from '../nicemu/skb.js';
import type { FlowKey } from '../nicemu/flow-table.js';
import type { RxChunk, RxSegment } from '../host/net/tcp-rx-queue.js';
import { ipToString } from '../wire/ipv4.js';
import { seqAdd, seqInWindow, seqLe } from '../wire/seq.js';
import { TCP_ACK, TCP_FIN, TCP_SYN, type TcpRepr } from '../wire/tcp.js';
import { PduFlags, PduType } from '../wire/nvme-tcp-pdu.js';
import { PduStream } from './pdu-stream.js';
import { ReplayCommandLearner, H2C_PDU_TYPES } from './command-learner.js';
import { ReplayCommandTable, type ReplayCommand } from './commands.js';
import { ReplayHostUlp, C2H_PDU_TYPES } from './host-ulp.js';
import type { ReplayOffload } from './offload.js';
import { ReplayStream, type ReplayStreamSink } from './stream.js';

/** How a read ended up. */
export type ReplayReadStatus =
  /** Every byte arrived, completed with success, digests fine. */
  | 'ok'
  /** Every byte arrived; the controller completed it with an error status. */
  | 'error'
  /** Every byte arrived; a data digest did not match. */
  | 'digest-error'
  /** Every byte arrived; its completion did not (lost, or after the capture ended). */
  | 'no-completion'
  /** Some of its data never arrived: no SHA-256. */
  | 'incomplete';

/** One read command, in the order the host sent it. */
export interface ReplayRead {
  /** Connection index in the report. */
  readonly conn: number;
  readonly cid: number;
  readonly slba: number | null;
  readonly lenBytes: number;
  readonly status: ReplayReadStatus;
  /** NVMe status of the completion (0: success), null without one. */
  readonly nvmeStatus: number | null;
  /** SHA-256 of the data when every byte arrived, else null. */
  readonly sha256: string | null;
  /** Bytes that never arrived. */
  readonly missingBytes: number;
  /** The NIC placed it (DDP mapping accepted). */
  readonly ddp: boolean;
  /** Its C2HData PDUs, and those whose data digest the NIC verified (every skb of the PDU had ulp_crc). */
  readonly c2hPdus: number;
  readonly nicVerifiedPdus: number;
  /** C2H stream ranges [seq, plen) of its C2HData PDUs (when asked for). */
  readonly pdus?: readonly (readonly [number, number])[];
}

/** Connection-wide counts of commands. */
export interface ReplayCommandCounts {
  total: number;
  reads: number;
  writes: number;
  other: number;
  /** Completion seen (CapsuleResp or SUCCESS). */
  completed: number;
  readsCompleted: number;
  writesCompleted: number;
  /** Completed with a non-zero NVMe status. */
  errors: number;
  /** Reads some of whose data never arrived. */
  readsIncomplete: number;
  /** Commands without a completion at the end. */
  notCompleted: number;
  /** Commands retired because a later one for the same CID proved their completion lost. */
  lostCompletions: number;
}

export function newReplayCommandCounts(): ReplayCommandCounts {
  return { total: 0, reads: 0, writes: 0, other: 0, completed: 0, readsCompleted: 0, writesCompleted: 0, errors: 0, readsIncomplete: 0, notCompleted: 0, lostCompletions: 0 };
}

export interface ReplayConnectionInit {
  readonly index: number;
  readonly hostIp: number;
  readonly hostPort: number;
  readonly targetIp: number;
  readonly targetPort: number;
  /** Record each read's C2H PDU ranges in its result. */
  readonly recordPduRanges: boolean;
  /** How the host checks a data digest the NIC did not fully verify (default 'reference'). */
  readonly ulp?: UlpMode;
}

/** The host's ACKs of the target's stream, by the host stream bytes that carried them. */
interface AckMark {
  readonly seq: number;
  readonly len: number;
  readonly ack: number;
}

const ACK_LOG_MAX = 4096;

export class ReplayConnection {
  readonly index: number;
  /** The NIC flow of the target → host direction (remote = target). */
  readonly key: FlowKey;
  readonly label: string;
  readonly c2h: ReplayStream;
  readonly h2c: ReplayStream;
  readonly c2hPdus: PduStream;
  readonly h2cPdus: PduStream;
  readonly table: ReplayCommandTable;
  readonly ulp: ReplayHostUlp;
  readonly learner: ReplayCommandLearner;
  readonly counts: ReplayCommandCounts = newReplayCommandCounts();
  /** Queue id from the Connect, when the capture has it. */
  qid: number | undefined;
  /** Digests and PDAs as negotiated (ICReq/ICResp), when the capture has them. */
  readonly params = { hdgst: undefined as boolean | undefined, ddgst: undefined as boolean | undefined, hpda: 0, cpda: 0, icResp: false };
  /** The controller sent a C2HTermReq (its FES). */
  terminatedFes: number | undefined;
  /** The offload was added to this connection (sk_add). */
  offloadAttached = false;

  private offload: ReplayOffload | undefined;
  private readonly reads: (ReplayRead | undefined)[] = [];
  private readonly ackLog: AckMark[] = [];
  private lastH2cAck = 0;
  private queueSize = 0x10000;

  constructor(init: ReplayConnectionInit) {
    this.index = init.index;
    this.key = { remoteIp: init.targetIp, remotePort: init.targetPort, localIp: init.hostIp, localPort: init.hostPort };
    this.label = `${ipToString(init.hostIp)}:${init.hostPort}>${ipToString(init.targetIp)}:${init.targetPort}`;
    const recordRanges = init.recordPduRanges;
    const ulpMode = init.ulp ?? 'reference';
    this.table = new ReplayCommandTable({
      activated: (cmd) => this.activated(cmd),
      completing: (cmd) => this.completing(cmd),
      abandoned: (cmd) => this.abandoned(cmd),
      finished: (cmd) => this.finished(cmd),
    });
    this.ulp = new ReplayHostUlp(this.table, {
      icResp: (cpda, hdgst, ddgst) => {
        this.params.cpda = cpda;
        this.params.hdgst = hdgst;
        this.params.ddgst = ddgst;
        this.params.icResp = true;
      },
      completed: (cmd, nextPduSeq) => this.completed(cmd, nextPduSeq),
      headerAt: (seq, type, flags) => this.headerAt(seq, type, flags),
      terminated: (fes) => {
        this.terminatedFes ??= fes;
      },
      crcOverRequest: () => ulpMode === 'linux' && this.offload?.ddgstRxOffloaded() === true,
    });
    const conn = this;
    this.learner = new ReplayCommandLearner(
      {
        get qid() {
          return conn.qid;
        },
        set qid(q: number | undefined) {
          conn.qid = q;
        },
        icReq: (hpda, hdgst, ddgst) => {
          this.params.hpda = hpda;
          if (!this.params.icResp) {
            this.params.hdgst = hdgst;
            this.params.ddgst = ddgst;
          }
        },
        h2cAckAt: (seq) => this.h2cAckAt(seq),
        submit: (cmd) => this.submit(cmd),
      },
      recordRanges,
    );
    this.c2hPdus = new PduStream(this.ulp, C2H_PDU_TYPES);
    this.h2cPdus = new PduStream(this.learner, H2C_PDU_TYPES);
    this.c2h = new ReplayStream(this.streamSink(this.c2hPdus, () => this.c2h, true));
    this.h2c = new ReplayStream(this.streamSink(this.h2cPdus, () => this.h2c, false));
  }

  /** Installs the NIC's offload for this connection (before any frame). */
  useOffload(offload: ReplayOffload): void {
    this.offload = offload;
  }

  /** A host → target frame from the capture. `c2hMark`: the caller's clock for settling c2h holes. */
  hostFrame(tcp: TcpRepr, c2hMark: number): void {
    if ((tcp.flags & TCP_SYN) !== 0) {
      this.h2c.syn(tcp.seq);
    } else {
      const payload = tcp.payload;
      if (payload.length > 0) {
        this.ackLog.push({ seq: tcp.seq, len: payload.length, ack: tcp.ack });
        if (this.ackLog.length > ACK_LOG_MAX) this.pruneAckLog(this.h2c.rcvNxt);
      }
      this.h2c.segment(segmentOf(tcp), (tcp.flags & TCP_FIN) !== 0);
    }
    if ((tcp.flags & TCP_ACK) !== 0) {
      this.lastH2cAck = tcp.ack;
      this.c2h.acked(tcp.ack, c2hMark);
    }
  }

  /** A target → host frame as the capture holds it (before any impairment): its ACK covers the host's stream. */
  targetFrameSeen(flags: number, ack: number): void {
    if ((flags & TCP_ACK) === 0) return;
    this.h2c.acked(ack, 0);
    // The host's frames are never impaired: what the target acknowledged and we lack is lost for good.
    this.h2c.settle(Number.POSITIVE_INFINITY);
  }

  /** A target → host segment as the NIC delivered it (the flow's receive handler). */
  deliver(skb: Skb): void {
    if ((skb.tcp.flags & TCP_SYN) !== 0) {
      this.c2h.syn(skb.seq);
      return;
    }
    this.c2h.segment(skb, (skb.tcp.flags & TCP_FIN) !== 0);
  }

  /** Declares lost the c2h holes the host acknowledged no later than `settledMark`. */
  settle(settledMark: number): void {
    if (this.c2h.holeCovered) this.c2h.settle(settledMark);
  }

  /** End of the capture. */
  finish(): void {
    this.h2c.finish();
    this.c2h.finish();
    this.h2cPdus.finish();
    this.c2hPdus.finish();
    this.table.finish();
    if (this.offloadAttached) this.offload?.detach();
    this.counts.lostCompletions = this.table.lostCompletions;
  }

  /** The reads in the order the host sent them. */
  readResults(): ReplayRead[] {
    const out: ReplayRead[] = [];
    for (const r of this.reads) if (r !== undefined) out.push(r);
    return out;
  }

  /** The command table's teardown completion (from the NIC, through the offload). */
  teardownDone(cid: number): void {
    this.table.teardownDone(cid);
  }

  // ------------------------------------------------------------ internals

  private streamSink(pdus: PduStream, stream: () => ReplayStream, c2h: boolean): ReplayStreamSink {
    const begin = (seq: number): void => {
      if (!pdus.isStarted) pdus.start(seq, !stream().midStream);
    };
    return {
      data: (chunk: RxChunk) => {
        begin(chunk.seq);
        pdus.push(chunk);
        if (c2h) this.table.ulpReached(pdus.openPduSeq);
      },
      gap: (seq, len) => {
        begin(seq);
        pdus.gap(seq, len);
        if (c2h) this.table.ulpReached(pdus.openPduSeq);
      },
    };
  }

  private h2cAckAt(seq: number): number {
    const log = this.ackLog;
    for (let i = 0; i < log.length; i++) {
      const m = log[i]!;
      if (seqInWindow(seq, m.seq, m.len)) {
        // Host stream bytes before this one were read already: their marks are done with.
        if (i > 0) log.splice(0, i);
        return m.ack;
      }
    }
    return this.lastH2cAck;
  }

  private pruneAckLog(readSeq: number): void {
    let k = 0;
    while (k < this.ackLog.length && seqLe(seqAdd(this.ackLog[k]!.seq, this.ackLog[k]!.len), readSeq)) k++;
    if (k > 0) this.ackLog.splice(0, k);
    if (this.ackLog.length > ACK_LOG_MAX) this.ackLog.splice(0, this.ackLog.length - ACK_LOG_MAX);
  }

  private submit(cmd: ReplayCommand): void {
    const c = this.counts;
    c.total++;
    if (cmd.kind === 'read') c.reads++;
    else if (cmd.kind === 'write') c.writes++;
    else c.other++;
    if (cmd.kind === 'connect' && cmd.connectSqsize !== undefined) this.queueSize = cmd.connectSqsize + 1;
    this.table.submit(cmd);
  }

  private headerAt(seq: number, type: PduType, flags: number): void {
    this.offload?.headerAt(seq);
    if (this.offloadAttached || this.qid !== undefined || !this.c2h.midStream) return;
    // A capture that began after the Connect: offload from a PDU boundary. Without the ICReq/ICResp
    // the digests are read off a C2HData header (the NIC only takes PDUs flagged as configured).
    if (this.params.hdgst === undefined) {
      if (type !== PduType.C2HData) return;
      this.params.hdgst = (flags & PduFlags.HDGSTF) !== 0;
      this.params.ddgst = (flags & PduFlags.DDGSTF) !== 0;
    }
    this.attachOffload(seq);
  }

  private completed(cmd: ReplayCommand, nextPduSeq: number): void {
    // Linux adds the offload to an I/O queue's socket once its Connect completed.
    if (cmd.kind === 'connect' && (cmd.connectQid ?? 0) > 0 && !this.offloadAttached) this.attachOffload(nextPduSeq);
  }

  private attachOffload(nextPduSeq: number): void {
    if (this.offload === undefined) return;
    this.offloadAttached = true;
    this.offload.attach(nextPduSeq, {
      hdgst: this.params.hdgst ?? false,
      ddgst: this.params.ddgst ?? false,
      cpda: this.params.cpda,
      queueSize: this.queueSize,
      heldEndSeq: this.c2h.receivedEnd,
    });
  }

  private activated(cmd: ReplayCommand): void {
    if (cmd.kind === 'read' && this.offload !== undefined && this.offloadAttached) cmd.ddp = this.offload.setup(cmd);
  }

  private completing(cmd: ReplayCommand): 'done' | 'pending' {
    if (!cmd.ddp || this.offload === undefined) return 'done';
    return this.offload.teardown(cmd);
  }

  private abandoned(cmd: ReplayCommand): void {
    if (cmd.ddp && cmd.state === 'active') this.offload?.teardown(cmd);
  }

  private finished(cmd: ReplayCommand): void {
    const c = this.counts;
    const done = cmd.completion !== undefined;
    if (done && cmd.ddp) this.offload?.completed(cmd);
    if (done) {
      c.completed++;
      if (cmd.kind === 'read') c.readsCompleted++;
      if (cmd.kind === 'write') c.writesCompleted++;
      if (cmd.status !== 0) c.errors++;
    } else {
      c.notCompleted++;
    }
    if (cmd.kind !== 'read') return;
    const whole = cmd.buf !== undefined && cmd.coverage.covers(cmd.lenBytes);
    if (!whole) c.readsIncomplete++;
    let status: ReplayReadStatus;
    if (!whole) status = 'incomplete';
    else if (!done) status = 'no-completion';
    else if (cmd.ddgstMismatch > 0) status = 'digest-error';
    else if (cmd.status !== 0) status = 'error';
    else status = 'ok';
    const read: ReplayRead = {
      conn: this.index,
      cid: cmd.cid,
      slba: cmd.slba ?? null,
      lenBytes: cmd.lenBytes,
      status,
      nvmeStatus: cmd.status ?? null,
      sha256: whole ? createHash('sha256').update(cmd.buf!).digest('hex') : null,
      missingBytes: cmd.lenBytes - Math.min(cmd.lenBytes, cmd.coverage.bytes),
      ddp: cmd.ddp,
      c2hPdus: cmd.dataPdus,
      nicVerifiedPdus: cmd.ddgstNicVerified,
      ...(cmd.pduRanges !== undefined ? { pdus: cmd.pduRanges } : {}),
    };
    this.reads[cmd.index] = read;
  }
}

const NO_FRAGS: RxSegment['frags'] = [];

function segmentOf(tcp: TcpRepr): RxSegment {
  const p = tcp.payload;
  return { seq: tcp.seq, len: p.length, frags: p.length > 0 ? [{ kind: 'host', buf: p }] : NO_FRAGS, ddpPlaced: false, ddpCrcOk: false };
}
