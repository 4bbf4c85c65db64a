/**
 * The commands of one captured connection, as a passive host ULP knows them:
 * learned from the CapsuleCmds the host sent, matched to the target's
 * C2HData and completions by CID.
 *
 * A live host reuses a CID only after the command holding it completed (and
 * its DDP teardown finished). A replay sees the host's stream and the
 * target's stream separately, so a CID can have several commands waiting:
 * a new CapsuleCmd may be read before the old command's completion (the
 * replay's impairment delayed it), or the old completion may be lost for
 * good. Commands therefore queue per CID; the head is the CID's current
 * command (its buffer allocated, its DDP mapping set up), the next one
 * becomes current when the head finishes.
 *
 * Which queued command a PDU belongs to is decided exactly by sequence
 * numbers: when the host sent a CapsuleCmd, its ACK of the target's stream
 * (`h2cAck`) was at or past every byte of the commands it had completed —
 * it had received them — and the target cannot answer a command before it
 * was sent. So a target PDU at or past a queued command's h2cAck is not for
 * any command queued before it: those lost their completion and are retired.
 * The host's receive position passing h2cAck (`ulpReached`) retires them too,
 * early, so the new command gets its buffer and DDP mapping before its data.
 */
import { seqLe, seqLt } from '../wire/seq.js';
import { ByteCoverage } from './byte-coverage.js';

export type ReplayCommandKind = 'read' | 'write' | 'flush' | 'connect' | 'fabrics' | 'admin' | 'other';

export type ReplayCommandState =
  /** Behind another command with the same CID. */
  | 'queued'
  /** The CID's current command: PDUs for the CID are its. */
  | 'active'
  /** Completion seen, DDP teardown not finished yet. */
  | 'completing'
  | 'done';

/** How a command's completion came. */
export type CompletionKind = 'capsule-resp' | 'c2h-success';

export interface ReplayCommand {
  /** Position of its CapsuleCmd in the connection's host stream (0, 1, ...). */
  readonly index: number;
  readonly cid: number;
  readonly opcode: number;
  readonly kind: ReplayCommandKind;
  /** Read/Write: starting LBA and 0's based block count. */
  readonly slba: number | undefined;
  readonly nlb: number | undefined;
  /** Data length from the command's SGL descriptor. */
  readonly lenBytes: number;
  /** The target returns data in C2HData PDUs. */
  readonly c2hData: boolean;
  /** Connect: the queue it creates and that queue's size, 0's based. */
  readonly connectQid: number | undefined;
  readonly connectSqsize: number | undefined;
  /** The host's ACK of the target's stream when it sent this command. */
  readonly h2cAck: number;
  state: ReplayCommandState;
  /** Destination of the C2HData (from activation to finish). */
  buf: Buffer | undefined;
  readonly coverage: ByteCoverage;
  /** The NIC accepted a DDP mapping for it. */
  ddp: boolean;
  completion: CompletionKind | undefined;
  /** NVMe status of the completion (0 = success). */
  status: number | undefined;
  dataPdus: number;
  ddgstOk: number;
  ddgstMismatch: number;
  ddgstNicVerified: number;
  ddgstUnverifiable: number;
  /** C2H stream ranges [seq, plen) of its C2HData PDUs, when the replay records them. */
  pduRanges: [number, number][] | undefined;
}

export type ReplayCommandInit = Pick<
  ReplayCommand,
  'index' | 'cid' | 'opcode' | 'kind' | 'slba' | 'nlb' | 'lenBytes' | 'c2hData' | 'connectQid' | 'connectSqsize' | 'h2cAck'
>;

export function newReplayCommand(init: ReplayCommandInit, recordRanges: boolean): ReplayCommand {
  return {
    ...init,
    state: 'queued',
    buf: undefined,
    coverage: new ByteCoverage(),
    ddp: false,
    completion: undefined,
    status: undefined,
    dataPdus: 0,
    ddgstOk: 0,
    ddgstMismatch: 0,
    ddgstNicVerified: 0,
    ddgstUnverifiable: 0,
    pduRanges: recordRanges ? [] : undefined,
  };
}

/** What the connection does at each step of a command's life. */
export interface ReplayCommandHooks {
  /** The command became its CID's current one; its buffer (if any) exists now. */
  activated(cmd: ReplayCommand): void;
  /** Its completion arrived: 'pending' when it must wait for teardownDone before finishing. */
  completing(cmd: ReplayCommand): 'done' | 'pending';
  /** Retired without waiting (lost completion, end of capture): drop any mapping now. */
  abandoned(cmd: ReplayCommand): void;
  /** The command is over; its buffer is released after this call. */
  finished(cmd: ReplayCommand): void;
}

export class ReplayCommandTable {
  /** Commands retired because a later command for their CID showed their completion was lost. */
  lostCompletions = 0;
  private readonly byCid = new Map<number, ReplayCommand[]>();
  /** CIDs with commands waiting behind the current one. */
  private readonly blocked = new Set<number>();
  private open = 0;

  constructor(private readonly hooks: ReplayCommandHooks) {}

  /** Commands submitted and not finished. */
  get outstanding(): number {
    return this.open;
  }

  /** A CapsuleCmd from the host. */
  submit(cmd: ReplayCommand): void {
    this.open++;
    const q = this.byCid.get(cmd.cid);
    if (q === undefined) {
      this.byCid.set(cmd.cid, [cmd]);
      this.activate(cmd);
      return;
    }
    q.push(cmd);
    if (q.length === 1) this.activate(cmd);
    else this.blocked.add(cmd.cid);
  }

  /** The command a target PDU for `cid` at stream position `pduSeq` belongs to (undefined: none). */
  current(cid: number, pduSeq: number): ReplayCommand | undefined {
    const q = this.byCid.get(cid);
    if (q === undefined) return undefined;
    this.advance(q, pduSeq);
    const head = q[0];
    if (head === undefined || head.state !== 'active') return undefined;
    // Sent before this command was: the PDU answers an earlier command the capture did not show.
    if (seqLt(pduSeq, head.h2cAck)) return undefined;
    return head;
  }

  /**
   * The command a PDU for `cid` at `pduSeq` would belong to (see current()),
   * without retiring anything: what hunting judges a candidate header by.
   */
  peekAt(cid: number, pduSeq: number): ReplayCommand | undefined {
    const q = this.byCid.get(cid);
    if (q === undefined) return undefined;
    let pick: ReplayCommand | undefined;
    for (const c of q) if (seqLe(c.h2cAck, pduSeq)) pick = c;
    return pick;
  }

  /** A completion for `cmd` (the current command of its CID). */
  complete(cmd: ReplayCommand, status: number, how: CompletionKind): void {
    if (cmd.state !== 'active') return;
    cmd.completion = how;
    cmd.status = status;
    if (this.hooks.completing(cmd) === 'pending') cmd.state = 'completing';
    else this.finishHead(cmd);
  }

  /** The NIC finished tearing down `cid`'s mapping. */
  teardownDone(cid: number): void {
    const head = this.byCid.get(cid)?.[0];
    if (head !== undefined && head.state === 'completing') this.finishHead(head);
  }

  /** The host's receive position reached `seq`: retire commands whose completion must have been lost. */
  ulpReached(seq: number): void {
    if (this.blocked.size === 0) return;
    for (const cid of [...this.blocked]) {
      const q = this.byCid.get(cid);
      if (q !== undefined) this.advance(q, seq);
    }
  }

  /** End of the capture: every command still open finishes as it is. */
  finish(): void {
    for (const q of [...this.byCid.values()]) {
      while (q.length > 0) this.retire(q[0]!);
    }
  }

  private advance(q: ReplayCommand[], seq: number): void {
    while (q.length > 1 && seqLe(q[1]!.h2cAck, seq)) {
      if (q[0]!.completion === undefined) this.lostCompletions++;
      this.retire(q[0]!);
    }
  }

  /** Ends the head of its CID's queue (always active or completing: a head is activated when it becomes one). */
  private retire(cmd: ReplayCommand): void {
    this.hooks.abandoned(cmd);
    this.finishHead(cmd);
  }

  private activate(cmd: ReplayCommand): void {
    cmd.state = 'active';
    if (cmd.c2hData && cmd.lenBytes > 0) {
      // Not zeroed: a read is reported only when every byte of it arrived.
      cmd.buf = Buffer.allocUnsafe(cmd.lenBytes);
    }
    this.hooks.activated(cmd);
  }

  /** Finishes the head of its CID's queue and makes the next command current. */
  private finishHead(cmd: ReplayCommand): void {
    const q = this.byCid.get(cmd.cid)!;
    cmd.state = 'done';
    this.open--;
    this.hooks.finished(cmd);
    cmd.buf = undefined;
    q.shift();
    if (q.length <= 1) this.blocked.delete(cmd.cid);
    if (q.length === 0) this.byCid.delete(cmd.cid);
    else this.activate(q[0]!);
  }
}
