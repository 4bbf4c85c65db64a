/**
 * Reads the host's side of a captured connection to learn what the host
 * asked for: the digests and HPDA of its ICReq, and each CapsuleCmd — its
 * CID, what it is (Read/Write/Flush, a Fabrics Connect and the queue it
 * creates, an admin command) and how much data the target owes it — which
 * the command table then matches with the target's PDUs. Write data
 * (in-capsule or H2CData) is counted and passed over; its digests are
 * still checked.
 */
import { parseConnect, NvmfFctype } from '../wire/nvme-fabrics.js';
import { parseReadWrite } from '../wire/nvme-io.js';
import { NVME_FABRICS_OPCODE, NvmeIoOpcode, NvmePsdt, parseSqe, sglIsTransportData, sqeDataDirection } from '../wire/nvme-sqe.js';
import { PduType, type ParsedPduHeader } from '../wire/nvme-tcp-pdu.js';
import { WireError } from '../wire/errors.js';
import type { PduDataTarget, PduEndEvent, PduEvent, PduStreamHandler } from './pdu-stream.js';
import { newReplayCommand, type ReplayCommand, type ReplayCommandInit, type ReplayCommandKind } from './commands.js';

/** Host → target PDU types. */
export const H2C_PDU_TYPES: ReadonlySet<PduType> = new Set([PduType.ICReq, PduType.H2CTermReq, PduType.CapsuleCmd, PduType.H2CData]);

export interface CommandLearnerStats {
  commands: number;
  reads: number;
  writes: number;
  /** Write data in CapsuleCmds and in H2CData PDUs. */
  inCapsuleBytes: number;
  h2cDataBytes: number;
  /** PDUs whose header digest did not match: not acted on. */
  untrustedPdus: number;
  termReqs: number;
}

export function newCommandLearnerStats(): CommandLearnerStats {
  return { commands: 0, reads: 0, writes: 0, inCapsuleBytes: 0, h2cDataBytes: 0, untrustedPdus: 0, termReqs: 0 };
}

/** What the learner needs from its connection. */
export interface CommandLearnerContext {
  /** The queue id, once a Connect named it (undefined: not seen). */
  qid: number | undefined;
  /** ICReq: what the host asked for. */
  icReq(hpda: number, hdgst: boolean, ddgst: boolean): void;
  /** The host's ACK of the target's stream in the segment that carried host stream byte `seq`. */
  h2cAckAt(seq: number): number;
  /** A command to track. */
  submit(cmd: ReplayCommand): void;
}

export class ReplayCommandLearner implements PduStreamHandler {
  readonly stats: CommandLearnerStats = newCommandLearnerStats();
  private index = 0;

  constructor(
    private readonly ctx: CommandLearnerContext,
    private readonly recordRanges: boolean,
  ) {}

  candidate(parsed: ParsedPduHeader, _seq: number): boolean {
    const h = parsed.header;
    if (h.type !== PduType.CapsuleCmd) return true;
    // NVMe/TCP commands use SGLs and are not fused (what Linux and SPDK hosts send).
    const flags = h.sqe[1]!;
    return flags >>> 6 === NvmePsdt.SGL && (flags & 0x3) === 0;
  }

  header(ev: PduEvent): PduDataTarget | undefined {
    const h = ev.parsed.header;
    if (ev.hdgst === 'mismatch') {
      this.stats.untrustedPdus++;
      return undefined;
    }
    switch (h.type) {
      case PduType.ICReq:
        this.ctx.icReq(h.hpda, h.hdgstEnable, h.ddgstEnable);
        break;
      case PduType.CapsuleCmd:
        this.stats.inCapsuleBytes += ev.parsed.layout.dataLength;
        this.learn(h.sqe, ev.seq);
        break;
      case PduType.H2CData:
        this.stats.h2cDataBytes += h.datal;
        break;
      case PduType.H2CTermReq:
        this.stats.termReqs++;
        break;
      default:
        break;
    }
    return undefined;
  }

  end(_ev: PduEndEvent): void {
    // Nothing to do once a host PDU's data has passed: the command was learned at its header.
  }

  private learn(sqeBytes: Buffer, seq: number): void {
    const sqe = parseSqe(sqeBytes);
    let kind: ReplayCommandKind = 'other';
    let slba: number | undefined;
    let nlb: number | undefined;
    let connectQid: number | undefined;
    let connectSqsize: number | undefined;
    if (sqe.opcode === NVME_FABRICS_OPCODE) {
      kind = 'fabrics';
      if ((sqe.nsid & 0xff) === NvmfFctype.CONNECT) {
        const c = parseConnect(sqeBytes);
        kind = 'connect';
        connectQid = c.qid;
        connectSqsize = c.sqsize;
        // The queue is known from its Connect on: classify what follows by it.
        this.ctx.qid = c.qid;
      }
    } else if (this.ctx.qid === 0) {
      kind = 'admin';
    } else if (sqe.opcode === NvmeIoOpcode.READ || sqe.opcode === NvmeIoOpcode.WRITE) {
      // An I/O queue, or a capture that began after the Connect (taken for one).
      try {
        const rw = parseReadWrite(sqeBytes);
        kind = rw.kind;
        slba = rw.slba;
        nlb = rw.nlb;
      } catch (e) {
        if (!(e instanceof WireError)) throw e;
      }
    } else if (sqe.opcode === NvmeIoOpcode.FLUSH) {
      kind = 'flush';
    }
    if (kind === 'read') this.stats.reads++;
    if (kind === 'write') this.stats.writes++;
    this.stats.commands++;
    const init: ReplayCommandInit = {
      index: this.index++,
      cid: sqe.cid,
      opcode: sqe.opcode,
      kind,
      slba,
      nlb,
      lenBytes: sqe.dptr.length,
      c2hData: sqeDataDirection(sqe) === 'c2h' && sglIsTransportData(sqe.dptr) && sqe.dptr.length > 0,
      connectQid,
      connectSqsize,
      h2cAck: this.ctx.h2cAckAt(seq),
    };
    this.ctx.submit(newReplayCommand(init, this.recordRanges));
  }
}
