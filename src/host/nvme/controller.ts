/**
 * The host side of an NVMe over Fabrics association: the admin queue and N
 * I/O queues, each an NvmeQueue on its own stream, bound to one controller.
 *
 * Bring-up, in the order Linux's nvme_tcp_setup_ctrl and the core walk it:
 *   1. admin queue: ICReq/ICResp, Fabrics Connect (QID 0, CNTLID 0xFFFF,
 *      KATO) → CNTLID
 *   2. Property Get CAP and VS; Property Set CC (EN, 64-byte SQEs, 16-byte
 *      CQEs, 4 KiB pages, NVM command set); poll CSTS until RDY (or CFS), for
 *      at most CAP.TO × 500 ms
 *   3. Identify Controller (MDTS, IOCCSZ, …), the active namespace list,
 *      Identify Namespace of the first namespace (size, LBA format)
 *   4. N I/O queues: ICReq/ICResp and Connect (QID i, SQSIZE = depth − 1,
 *      the CNTLID) on each, in parallel; in-capsule writes up to IOCCSZ
 *   5. Keep Alive on the admin queue every KATO/2
 * Shutdown: close the I/O queues, CC.SHN = normal, poll CSTS.SHST until
 * complete, close the admin queue.
 *
 * Every bring-up step — a queue's TCP connection, its ICReq, its Fabrics
 * Connect, each admin command of bring-up — must get its answer within the
 * connect timeout (default 10 s, the time Linux's host gives ICResp), or
 * bring-up fails with CONNECT_TIMEOUT in one line naming the target, the
 * step and the queue: a target that never answers ends the attempt, it
 * never hangs it. After bring-up, I/O commands have the I/O timeout.
 *
 * Any queue that dies (protocol error, timeout, lost connection) or a failed
 * keep-alive ends the whole association, as Linux's error recovery resets
 * the whole controller: every queue is aborted and onError listeners hear
 * the first cause once. With `ioQueueFailure: 'queue'` an I/O queue's death
 * fails that queue's commands only and the association carries on with the
 * others, as the target side allows (only the admin queue's end ends an
 * association there): a hostile or broken queue costs its own I/O.
 */
import { randomUUID } from 'node:crypto';
import { cqeResult64, type NvmeCqe } from '../../wire/nvme-cqe.js';
import {
  NVMF_CNTLID_DYNAMIC,
  buildConnectData,
  connectCntlidFromDw0,
  hostIdFromUuid,
  hostIdToUuid,
} from '../../wire/nvme-fabrics.js';
import {
  NVME_IDENTIFY_DATA_LEN,
  NvmeIdCns,
  idNsLbaSizeBytes,
  inCapsuleDataBytes,
  parseIdCtrl,
  parseIdNs,
  parseNsList,
  type NvmeIdCtrl,
  type NvmeIdNs,
} from '../../wire/nvme-identify.js';
import { NVME_MAX_NLB } from '../../wire/nvme-io.js';
import { CcShn, CstsShst, NvmeReg, encodeCc, parseCap, parseCsts, parseVersion, type NvmeCap, type NvmeVersion } from '../../wire/nvme-registers.js';
import { NVME_FABRICS_OPCODE, NvmeIoOpcode } from '../../wire/nvme-sqe.js';
import { statusToString } from '../../wire/nvme-status.js';
import { RealClock, type Clock, type ClockTimer } from '../net/clock.js';
import { sumNvmeHostStats, type NvmeHostStats } from '../net/host-stats.js';
import type { NvmeDdpHooks } from './ddp-hooks.js';
import type { NvmeDevmemHooks } from '../devmem/nvme-hooks.js';
import { NvmeHostError, nvmeStatusError } from './host-error.js';
import { ADMIN_IN_CAPSULE_BYTES, DEFAULT_COMMAND_TIMEOUT_MS, NvmeQueue } from './queue.js';
import type { StreamTransportFactory } from './stream-transport.js';

/** Admin queue depth (Linux NVME_AQ_DEPTH). */
export const ADMIN_QUEUE_DEPTH = 32;
/** Linux's default keep-alive timeout (NVME_DEFAULT_KATO, 5 s). */
export const DEFAULT_KATO_MS = 5000;
/** Linux's admin command timeout (NVME_ADMIN_TIMEOUT, 60 s). */
export const DEFAULT_ADMIN_TIMEOUT_MS = 60_000;
/** How long each bring-up step may wait for its answer (Linux's host waits 10 s for ICResp). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** How long shutdown waits for CSTS.SHST = complete (Linux's default shutdown timeout, 5 s). */
const SHUTDOWN_TIMEOUT_MS = 5000;
/** CSTS polling period during enable and shutdown. */
const CSTS_POLL_MS = 5;
/** Connect CATTR bit 2: the host disables SQ flow control (SQHD updates). */
const CATTR_DISABLE_SQFLOW = 0x04;
/** CC.IOSQES / IOCQES for the NVM command set: 64-byte SQEs, 16-byte CQEs (log2). */
const NVM_IOSQES = 6;
const NVM_IOCQES = 4;
/** CAP.MPSMIN is 4 KiB on every fabrics controller ddplab talks to; MDTS is in its units. */
const MPS_BYTES = 4096;

export interface NvmeControllerOptions {
  /** Opens the stream for queue `qid` (0 = admin). */
  readonly transports: StreamTransportFactory;
  /** NQN of the subsystem to connect to. */
  readonly subnqn: string;
  /** Host NQN (default: nqn.2014-08.org.nvmexpress:uuid:<hostid>). */
  readonly hostnqn?: string;
  /** 16-byte host identifier (default: a random UUID). */
  readonly hostid?: Buffer;
  /** I/O queues to create (default 1). */
  readonly ioQueues?: number;
  /** Depth of each I/O queue (default 128, capped by CAP.MQES + 1). */
  readonly queueDepth?: number;
  readonly hdgst?: boolean;
  readonly ddgst?: boolean;
  /** Keep-alive timeout sent in Connect (default 5000 ms); Keep Alive goes out every KATO/2. 0 = none. */
  readonly katoMs?: number;
  /** I/O command timeout (default 30 s). */
  readonly commandTimeoutMs?: number;
  /** Admin command timeout (default 60 s). */
  readonly adminTimeoutMs?: number;
  /** Limit on each bring-up step: TCP connection, ICReq, Fabrics Connect, bring-up admin commands (default 10 s; 0: none). */
  readonly connectTimeoutMs?: number;
  /** How errors name the target, e.g. "192.0.2.1:4420" (default: "the target"). */
  readonly targetName?: string;
  /** Largest CPDA accepted (default 31; Linux's host accepts only 0). */
  readonly maxCpda?: number;
  /**
   * Ask the controller to disable SQ flow control in Connect (CATTR bit 2,
   * Linux's `disable_sqflow` option). Default true: it lets a controller
   * complete reads with C2HData SUCCESS. The host accepts SUCCESS either way,
   * as Linux's does.
   */
  readonly disableSqflow?: boolean;
  /**
   * What the death of an I/O queue (protocol error, timeout, lost
   * connection) ends: 'association' (default; Linux's error recovery resets
   * the controller) or 'queue' (that queue's commands fail, the others go on;
   * the admin queue's death still ends the association).
   */
  readonly ioQueueFailure?: 'association' | 'queue';
  /** CID generation counter on I/O queues (default false: CIDs < queue depth, as DDP without full CID range needs). */
  readonly cidGeneration?: boolean;
  readonly clock?: Clock;
  /** DDP hook points per I/O queue: called once per qid ≥ 1. */
  readonly ddp?: (qid: number) => NvmeDdpHooks | undefined;
  /** Device-memory receive hooks per I/O queue: called once per qid ≥ 1, after its transport opened. */
  readonly devmem?: (qid: number) => NvmeDevmemHooks | undefined;
  /** One line per notable event. */
  readonly log?: (line: string) => void;
}

/** What bring-up learned about the controller and its namespace. */
export interface NvmeControllerInfo {
  readonly cntlid: number;
  readonly cap: NvmeCap;
  readonly version: NvmeVersion;
  readonly idCtrl: NvmeIdCtrl;
  readonly nsid: number;
  readonly idNs: NvmeIdNs;
  readonly lbaSizeBytes: number;
  /** Namespace size in bytes. */
  readonly nsSizeBytes: number;
  /** Largest transfer per command (MDTS; Infinity when the controller sets no limit), also capped by NLB. */
  readonly maxTransferBytes: number;
  /** In-capsule write data the I/O queues take (IOCCSZ). */
  readonly inCapsuleBytes: number;
  /** Depth of each I/O queue. */
  readonly queueDepth: number;
}

export class NvmeController {
  private readonly clock: Clock;
  private readonly log: (line: string) => void;
  private kaTimer: ClockTimer | undefined;
  private kaIntervalMs = 0;
  private failure: NvmeHostError | undefined;
  private readonly errorListeners: ((err: NvmeHostError) => void)[] = [];
  private shuttingDown = false;
  /** How long an orderly shutdown may wait for the target before the connections are reset. */
  private readonly shutdownLimitMs: number;

  private constructor(
    readonly admin: NvmeQueue,
    readonly ioQueues: readonly NvmeQueue[],
    readonly info: NvmeControllerInfo,
    opts: NvmeControllerOptions,
    clock: Clock,
  ) {
    this.clock = clock;
    this.log = opts.log ?? (() => undefined);
    this.shutdownLimitMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const isolate = opts.ioQueueFailure === 'queue';
    for (const q of [admin, ...ioQueues]) {
      q.onTerminated((err) => {
        if (err === undefined || this.shuttingDown) return;
        if (isolate && q !== admin) {
          // The queue already failed its own commands; later ones on it get QUEUE_DEAD naming the cause.
          this.log(`I/O queue ${q.qid} lost (${err.message}); the other queues go on`);
          return;
        }
        this.fail(err);
      });
    }
  }

  /** Connects the admin queue, enables the controller, identifies it and connects the I/O queues. */
  static async connect(opts: NvmeControllerOptions): Promise<NvmeController> {
    const clock = opts.clock ?? new RealClock();
    const log = opts.log ?? (() => undefined);
    const hostid = opts.hostid ?? hostIdFromUuid(randomUUID());
    const hostnqn = opts.hostnqn ?? `nqn.2014-08.org.nvmexpress:uuid:${hostIdToUuid(hostid)}`;
    const katoMs = opts.katoMs ?? DEFAULT_KATO_MS;
    const ioCount = opts.ioQueues ?? 1;
    if (!Number.isInteger(ioCount) || ioCount < 1 || ioCount > 0xfffe) {
      throw new NvmeHostError('INVALID_ARGUMENT', `I/O queue count ${ioCount} is not in 1..65534`);
    }
    const cattr = opts.disableSqflow === false ? 0 : CATTR_DISABLE_SQFLOW;
    const hdgst = opts.hdgst ?? false;
    const ddgst = opts.ddgst ?? false;
    const stage = connectStages(clock, opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, opts.targetName);

    const admin = new NvmeQueue(await stage('TCP SYN', 0, openTransport(opts, 0), (t) => t.abort()), {
      qid: 0,
      depth: ADMIN_QUEUE_DEPTH,
      hdgst,
      ddgst,
      clock,
      commandTimeoutMs: opts.adminTimeoutMs ?? DEFAULT_ADMIN_TIMEOUT_MS,
      maxCpda: opts.maxCpda,
      inCapsuleBytes: ADMIN_IN_CAPSULE_BYTES,
      log,
    });
    const ioQueues: NvmeQueue[] = [];
    try {
      await stage('ICReq', 0, admin.connect());
      const connectData = buildConnectData({ hostid, cntlid: NVMF_CNTLID_DYNAMIC, subnqn: opts.subnqn, hostnqn });
      const cqe = await fabricsConnect(admin, stage, 0, ADMIN_QUEUE_DEPTH - 1, cattr, katoMs, connectData, `admin Connect to ${opts.subnqn} refused`);
      const cntlid = connectCntlidFromDw0(cqe.dw0);
      const { cap, vs } = await enableController(admin, clock, stage);

      const { idCtrl, nsid, idNs } = await identifyController(admin, stage, opts.subnqn);
      const lbaSizeBytes = idNsLbaSizeBytes(idNs);
      const depth = Math.min(opts.queueDepth ?? 128, cap.mqes + 1);
      const mdtsBytes = idCtrl.mdts === 0 ? Infinity : MPS_BYTES * 2 ** idCtrl.mdts;
      const info: NvmeControllerInfo = {
        cntlid,
        cap,
        version: vs,
        idCtrl,
        nsid,
        idNs,
        lbaSizeBytes,
        nsSizeBytes: idNs.nsze * lbaSizeBytes,
        maxTransferBytes: Math.min(mdtsBytes, (NVME_MAX_NLB + 1) * lbaSizeBytes),
        inCapsuleBytes: inCapsuleDataBytes(idCtrl),
        queueDepth: depth,
      };
      log(
        `connected to ${opts.subnqn}: cntlid ${cntlid}, NVMe ${info.version.major}.${info.version.minor}, ` +
          `nsid ${nsid} ${info.nsSizeBytes} bytes in ${lbaSizeBytes}-byte blocks, ${ioCount} I/O queues of ${depth}`,
      );

      const connects: Promise<void>[] = [];
      for (let qid = 1; qid <= ioCount; qid++) {
        connects.push(
          (async () => {
            const q = new NvmeQueue(await stage('TCP SYN', qid, openTransport(opts, qid), (t) => t.abort()), {
              qid,
              depth,
              hdgst,
              ddgst,
              clock,
              commandTimeoutMs: opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
              maxCpda: opts.maxCpda,
              inCapsuleBytes: info.inCapsuleBytes,
              cidGeneration: opts.cidGeneration,
              ddp: opts.ddp?.(qid),
              devmem: opts.devmem?.(qid),
              log,
            });
            ioQueues[qid - 1] = q;
            await stage('ICReq', qid, q.connect());
            const data = buildConnectData({ hostid, cntlid, subnqn: opts.subnqn, hostnqn });
            await fabricsConnect(q, stage, qid, depth - 1, cattr, 0, data, `I/O queue ${qid} Connect refused`);
          })(),
        );
      }
      const settled = await Promise.allSettled(connects);
      const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failed !== undefined) throw failed.reason;

      const ctrl = new NvmeController(admin, ioQueues, info, opts, clock);
      ctrl.startKeepAlive(katoMs);
      return ctrl;
    } catch (e) {
      for (const q of ioQueues) q?.abort();
      admin.abort();
      if (e instanceof NvmeHostError && (e.code === 'CONNECT_FAILED' || e.code === 'CONNECT_TIMEOUT')) throw e;
      throw new NvmeHostError('CONNECT_FAILED', `bring-up of ${opts.subnqn} failed: ${e instanceof Error ? e.message : String(e)}`, {
        cause: e,
      });
    }
  }

  /** The error that ended the association, if one did. */
  get error(): NvmeHostError | undefined {
    return this.failure;
  }

  /** Called once, with the first cause, when the association is lost. */
  onError(cb: (err: NvmeHostError) => void): void {
    this.errorListeners.push(cb);
  }

  /** Host counters summed over the admin and I/O queues. */
  stats(): NvmeHostStats {
    return sumNvmeHostStats([this.admin.stats, ...this.ioQueues.map((q) => q.stats)]);
  }

  /** Reads `buf.length` bytes (a multiple of the LBA size) from LBA `slba` through I/O queue `queue` (0-based). Rejects on a non-zero status. */
  async read(queue: number, slba: number, buf: Buffer): Promise<NvmeCqe> {
    return this.rw('read', queue, slba, buf);
  }

  /** Writes `buf` at LBA `slba` through I/O queue `queue` (0-based). `buf` must not change until the promise settles. */
  async write(queue: number, slba: number, buf: Buffer): Promise<NvmeCqe> {
    return this.rw('write', queue, slba, buf);
  }

  /** Flush through I/O queue `queue`. */
  async flush(queue: number): Promise<NvmeCqe> {
    const q = this.queueAt(queue);
    const cqe = await q.submit((cid) => ({ kind: 'flush', cid, nsid: this.info.nsid }));
    if (cqe.status !== 0) throw nvmeStatusError(cqe.status, NvmeIoOpcode.FLUSH, q.qid, cqe.cid);
    return cqe;
  }

  /**
   * Orderly shutdown: I/O queues closed, CC.SHN = normal and CSTS.SHST
   * polled until complete, admin queue closed. Safe to call after a failure
   * (then it only closes what is left). Bounded by the connect timeout:
   * past it, every connection is reset.
   */
  async shutdown(): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    this.kaTimer?.cancel();
    // A target that stopped answering would leave CC.SHN and the FINs unanswered forever:
    // after the connect timeout the connections are reset instead.
    const limit = this.shutdownLimitMs > 0 ? this.shutdownLimitMs : Infinity;
    let timer: ClockTimer | undefined;
    const expired = new Promise<boolean>((resolve) => {
      if (limit === Infinity) return;
      timer = this.clock.createTimer(() => resolve(true));
      timer.arm(limit);
    });
    const timedOut = await Promise.race([this.orderlyShutdown().then(() => false), expired]);
    timer?.cancel();
    if (timedOut) {
      this.log(`shutdown: the target did not finish within ${limit} ms; resetting the connections`);
      for (const q of this.ioQueues) q.abort();
      this.admin.abort();
    }
  }

  private async orderlyShutdown(): Promise<void> {
    await Promise.all(this.ioQueues.map((q) => q.close()));
    if (this.admin.live) {
      try {
        const cc = encodeCc({ en: true, css: 0, mps: 0, ams: 0, shn: CcShn.NORMAL, iosqes: NVM_IOSQES, iocqes: NVM_IOCQES });
        await adminCommand(this.admin, (cid) => ({ kind: 'property-set', cid, offset: NvmeReg.CC, size: 4, value: BigInt(cc) }), 'Property Set CC.SHN');
        await waitCsts(this.admin, this.clock, SHUTDOWN_TIMEOUT_MS, (csts) => parseCsts(csts).shst === CstsShst.COMPLETE, 'CSTS.SHST complete');
      } catch (e) {
        this.log(`shutdown: ${e instanceof Error ? e.message : String(e)}; closing anyway`);
      }
    }
    await this.admin.close();
  }

  /** Abortive end of the association (every queue reset). */
  abort(): void {
    this.shuttingDown = true;
    this.kaTimer?.cancel();
    for (const q of this.ioQueues) q.abort();
    this.admin.abort();
  }

  private queueAt(queue: number): NvmeQueue {
    const q = this.ioQueues[queue];
    if (q === undefined) {
      throw new NvmeHostError('INVALID_ARGUMENT', `no I/O queue ${queue} (have ${this.ioQueues.length})`);
    }
    return q;
  }

  private async rw(kind: 'read' | 'write', queue: number, slba: number, buf: Buffer): Promise<NvmeCqe> {
    const q = this.queueAt(queue);
    const lba = this.info.lbaSizeBytes;
    const blocks = buf.length / lba;
    if (!Number.isInteger(blocks) || blocks < 1 || blocks > NVME_MAX_NLB + 1 || buf.length > this.info.maxTransferBytes) {
      throw new NvmeHostError(
        'INVALID_ARGUMENT',
        `${kind} of ${buf.length} bytes: not a positive multiple of ${lba} up to ${Math.min(this.info.maxTransferBytes, (NVME_MAX_NLB + 1) * lba)}`,
      );
    }
    if (!Number.isSafeInteger(slba) || slba < 0 || (slba + blocks) * lba > this.info.nsSizeBytes) {
      throw new NvmeHostError('INVALID_ARGUMENT', `${kind} of LBAs [${slba}, ${slba + blocks}) outside the namespace`);
    }
    const nsid = this.info.nsid;
    const pieceBytes = kind === 'read' ? q.maxReadBytes : undefined;
    if (pieceBytes !== undefined && buf.length > pieceBytes) return this.splitRead(q, slba, buf, Math.max(lba, Math.floor(pieceBytes / lba) * lba));
    const cqe = await q.submit((cid, dptr) => ({ kind, cid, nsid, slba, nlb: blocks - 1, dptr }), { dir: kind, buf });
    if (cqe.status !== 0) throw nvmeStatusError(cqe.status, kind === 'read' ? NvmeIoOpcode.READ : NvmeIoOpcode.WRITE, q.qid, cqe.cid);
    return cqe;
  }

  /**
   * A read larger than the offloaded queue takes in one command, as Linux's
   * block layer splits a bio at the queue limits the DDP series sets from
   * max_ddp_sgl_len: commands of `pieceBytes` over views of `buf`, all in
   * flight together; the read completes when all have, and fails with the
   * first error.
   */
  private async splitRead(q: NvmeQueue, slba: number, buf: Buffer, pieceBytes: number): Promise<NvmeCqe> {
    const lba = this.info.lbaSizeBytes;
    const nsid = this.info.nsid;
    const pieces: Promise<NvmeCqe>[] = [];
    for (let off = 0; off < buf.length; off += pieceBytes) {
      const part = buf.subarray(off, Math.min(buf.length, off + pieceBytes));
      const at = slba + off / lba;
      const nlb = part.length / lba - 1;
      pieces.push(q.submitWhenFree((cid, dptr) => ({ kind: 'read', cid, nsid, slba: at, nlb, dptr }), { dir: 'read', buf: part }));
    }
    q.noteReadSplit(pieces.length);
    const settled = await Promise.allSettled(pieces);
    let last: NvmeCqe | undefined;
    for (const s of settled) {
      if (s.status === 'rejected') throw s.reason;
      if (s.value.status !== 0) throw nvmeStatusError(s.value.status, NvmeIoOpcode.READ, q.qid, s.value.cid);
      last = s.value;
    }
    return last!;
  }

  private startKeepAlive(katoMs: number): void {
    if (katoMs === 0) return;
    // Linux sends Keep Alive at KATO/2 so one lost or late command does not expire the controller's timer.
    this.kaIntervalMs = katoMs / 2;
    this.kaTimer = this.clock.createTimer(() => this.sendKeepAlive());
    this.kaTimer.arm(this.kaIntervalMs);
  }

  private sendKeepAlive(): void {
    if (this.shuttingDown || this.failure !== undefined) return;
    this.admin.submit((cid) => ({ kind: 'keep-alive', cid })).then(
      (cqe) => {
        if (cqe.status !== 0) {
          this.fail(new NvmeHostError('KEEP_ALIVE_FAILED', `Keep Alive failed: ${statusToString(cqe.status)}`, { qid: 0, status: cqe.status }));
          return;
        }
        if (!this.shuttingDown && this.failure === undefined) this.kaTimer?.arm(this.kaIntervalMs);
      },
      (err: unknown) => {
        if (this.shuttingDown) return;
        this.fail(new NvmeHostError('KEEP_ALIVE_FAILED', `Keep Alive failed: ${err instanceof Error ? err.message : String(err)}`, { qid: 0, cause: err }));
      },
    );
  }

  private fail(err: NvmeHostError): void {
    if (this.failure !== undefined) return;
    this.failure = err;
    this.log(`association lost: ${err.message}`);
    this.kaTimer?.cancel();
    for (const q of this.ioQueues) q.abort(err);
    this.admin.abort(err);
    for (const cb of this.errorListeners.splice(0)) cb(err);
  }
}

async function openTransport(opts: NvmeControllerOptions, qid: number) {
  try {
    return await opts.transports(qid);
  } catch (e) {
    throw new NvmeHostError('CONNECT_FAILED', `queue ${qid}: cannot open the connection: ${e instanceof Error ? e.message : String(e)}`, {
      qid,
      cause: e,
    });
  }
}

/**
 * Bounds one bring-up step: rejects with CONNECT_TIMEOUT naming the target,
 * the step and the queue when `work` has not settled within the timeout.
 * `late` gets a result that arrives after that (a connection to close).
 */
type ConnectStage = <T>(what: string, qid: number, work: Promise<T>, late?: (v: T) => void) => Promise<T>;

function connectStages(clock: Clock, timeoutMs: number, targetName: string | undefined): ConnectStage {
  const target = targetName === undefined ? 'the target' : `target ${targetName}`;
  const limit = timeoutMs % 1000 === 0 ? `${timeoutMs / 1000} s` : `${timeoutMs} ms`;
  return <T>(what: string, qid: number, work: Promise<T>, late?: (v: T) => void): Promise<T> => {
    if (timeoutMs <= 0) return work;
    return new Promise<T>((resolve, reject) => {
      let expired = false;
      const timer = clock.createTimer(() => {
        expired = true;
        const queue = qid === 0 ? 'admin queue' : `I/O queue ${qid}`;
        reject(new NvmeHostError('CONNECT_TIMEOUT', `${target} did not answer the ${what} within ${limit} (${queue})`, { qid }));
      });
      timer.arm(timeoutMs);
      work.then(
        (v) => {
          if (expired) late?.(v);
          else {
            timer.cancel();
            resolve(v);
          }
        },
        (e: unknown) => {
          if (expired) return;
          timer.cancel();
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });
  };
}

/** An admin command that must succeed (within the connect timeout during bring-up). */
/** Fabrics Connect of queue `qid` (data in-capsule, as every host sends it); a refusal throws CONNECT_FAILED with `refused` and the status. */
async function fabricsConnect(
  q: NvmeQueue,
  stage: ConnectStage,
  qid: number,
  sqsize: number,
  cattr: number,
  kato: number,
  data: Buffer,
  refused: string,
): Promise<NvmeCqe> {
  const cqe = await stage(
    'Fabrics Connect',
    qid,
    q.submit((cid, dptr) => ({ kind: 'connect', cid, recfmt: 0, qid, sqsize, cattr, kato, dptr }), { dir: 'write', buf: data, forceInCapsule: true }),
  );
  if (cqe.status !== 0) {
    throw new NvmeHostError('CONNECT_FAILED', `${refused}: ${statusToString(cqe.status, NVME_FABRICS_OPCODE)}`, { qid, status: cqe.status });
  }
  return cqe;
}

/** Reads CAP and VS, sets CC.EN and waits for CSTS.RDY (Linux's nvme_enable_ctrl), as CAP.TO allows. */
async function enableController(admin: NvmeQueue, clock: Clock, stage: ConnectStage): Promise<{ cap: NvmeCap; vs: NvmeVersion }> {
  const capRaw = cqeResult64(await adminCommand(admin, (cid) => ({ kind: 'property-get', cid, offset: NvmeReg.CAP, size: 8 }), 'Property Get CAP', stage));
  const cap = parseCap(capRaw);
  const vs = await adminCommand(admin, (cid) => ({ kind: 'property-get', cid, offset: NvmeReg.VS, size: 4 }), 'Property Get VS', stage);
  const cc = encodeCc({ en: true, css: 0, mps: 0, ams: 0, shn: CcShn.NONE, iosqes: NVM_IOSQES, iocqes: NVM_IOCQES });
  await adminCommand(admin, (cid) => ({ kind: 'property-set', cid, offset: NvmeReg.CC, size: 4, value: BigInt(cc) }), 'Property Set CC', stage);
  await waitCsts(admin, clock, cap.to * 500, (csts) => {
    const s = parseCsts(csts);
    if (s.cfs) throw new NvmeHostError('CONNECT_FAILED', 'controller reported fatal status (CSTS.CFS) after CC.EN', { qid: 0 });
    return s.rdy;
  }, 'CSTS.RDY', stage);
  return { cap, vs: parseVersion(Number(cqeResult64(vs) & 0xffff_ffffn)) };
}

/** Identify Controller, the active namespace list and the first namespace (ddplab's targets export one). */
async function identifyController(admin: NvmeQueue, stage: ConnectStage, subnqn: string): Promise<{ idCtrl: NvmeIdCtrl; nsid: number; idNs: NvmeIdNs }> {
  const idCtrl = parseIdCtrl(await identify(admin, NvmeIdCns.CTRL, 0, stage));
  const nsids = parseNsList(await identify(admin, NvmeIdCns.NS_ACTIVE_LIST, 0, stage));
  const nsid = nsids[0];
  if (nsid === undefined) throw new NvmeHostError('CONNECT_FAILED', `${subnqn} has no active namespace`, { qid: 0 });
  const idNs = parseIdNs(await identify(admin, NvmeIdCns.NS, nsid, stage));
  return { idCtrl, nsid, idNs };
}

async function adminCommand(admin: NvmeQueue, build: Parameters<NvmeQueue['submit']>[0], what: string, stage?: ConnectStage): Promise<NvmeCqe> {
  const cqe = await (stage !== undefined ? stage(what, 0, admin.submit(build)) : admin.submit(build));
  if (cqe.status !== 0) throw new NvmeHostError('CONNECT_FAILED', `${what} failed: ${statusToString(cqe.status, NVME_FABRICS_OPCODE)}`, { qid: 0, status: cqe.status });
  return cqe;
}

async function identify(admin: NvmeQueue, cns: number, nsid: number, stage: ConnectStage): Promise<Buffer> {
  const buf = Buffer.alloc(NVME_IDENTIFY_DATA_LEN);
  const cqe = await stage(`Identify CNS ${cns}`, 0, admin.submit((cid, dptr) => ({ kind: 'identify', cid, cns, nsid, dptr }), { dir: 'read', buf }));
  if (cqe.status !== 0) {
    throw new NvmeHostError('CONNECT_FAILED', `Identify CNS ${cns} NSID ${nsid} failed: ${statusToString(cqe.status)}`, { qid: 0, status: cqe.status });
  }
  return buf;
}

/** Polls CSTS until `done(csts)` or `timeoutMs` passes. */
async function waitCsts(admin: NvmeQueue, clock: Clock, timeoutMs: number, done: (csts: number) => boolean, what: string, stage?: ConnectStage): Promise<void> {
  const deadline = clock.nowMs() + timeoutMs;
  for (;;) {
    const cqe = await adminCommand(admin, (cid) => ({ kind: 'property-get', cid, offset: NvmeReg.CSTS, size: 4 }), 'Property Get CSTS', stage);
    if (done(cqe.dw0)) return;
    if (clock.nowMs() >= deadline) throw new NvmeHostError('CONNECT_FAILED', `no ${what} within ${timeoutMs} ms`, { qid: 0 });
    await sleep(clock, CSTS_POLL_MS);
  }
}

function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.createTimer(resolve).arm(ms));
}
