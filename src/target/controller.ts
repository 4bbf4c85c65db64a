/**
 * The subsystem and its controllers: the state behind the admin queue.
 *
 * One subsystem (one NQN, one namespace, NSID 1) per target. Each admin
 * queue Connect with CNTLID 0xFFFF creates a controller (the dynamic
 * controller model Linux nvmet and SPDK use); I/O queue Connects name that
 * CNTLID and join its association. A controller holds the properties the
 * host drives over Property Get/Set (CAP, VS, CC, CSTS), answers Identify,
 * and runs the keep-alive timer: when KATO passes without a Keep Alive or
 * any other command on the association, the association — the admin queue
 * and every I/O queue — is torn down, as Linux nvmet does on keep-alive
 * expiry.
 */
import { NVME_IDENTIFY_DATA_LEN, NvmeCtrlSgls, NvmeCtrlType, NvmeIdCns, buildIdCtrl, buildIdNs, buildNsList } from '../wire/nvme-identify.js';
import {
  CAP_CSS_NVM,
  CC_EN,
  CSTS_CFS,
  CSTS_RDY,
  CstsShst,
  NvmeReg,
  encodeCap,
  encodeVersion,
  parseCc,
} from '../wire/nvme-registers.js';
import { NvmeSc, type NvmeStatus } from '../wire/nvme-status.js';
import { mdtsOf, type TargetOptions } from './options.js';
import type { NamespaceStore } from './namespace-store.js';
import type { TargetStats } from './stats.js';

/** NVMe version the controller reports in VS and Identify VER. */
export const TARGET_NVME_VERSION = encodeVersion({ major: 1, minor: 3, tertiary: 0 });
/** The namespace's id. */
export const NSID = 1;

/** What a controller needs from a queue (connection) that belongs to it. */
export interface AssociationMember {
  readonly qid: number;
  /** Ends the queue because its association is going away. */
  terminate(reason: 'keep-alive' | 'association' | 'shutdown'): void;
}

export interface StatusResult {
  readonly status: NvmeStatus;
  readonly dnr: boolean;
}

export interface PropertyGetResult extends StatusResult {
  readonly value: bigint;
}

export interface IdentifyResult extends StatusResult {
  readonly data: Buffer | undefined;
}

const OK: StatusResult = { status: NvmeSc.SUCCESS, dnr: false };
const INVALID_FIELD: StatusResult = { status: NvmeSc.INVALID_FIELD, dnr: true };

/** CC.IOSQES/IOCQES an NVM I/O controller requires: 64-byte SQEs, 16-byte CQEs (log2). */
const NVM_IOSQES = 6;
const NVM_IOCQES = 4;

export type Logger = (line: string) => void;

export class Subsystem {
  readonly controllers = new Map<number, Controller>();
  private nextCntlid = 1;

  constructor(
    readonly options: TargetOptions,
    readonly store: NamespaceStore,
    readonly stats: TargetStats,
    readonly log: Logger,
  ) {}

  get nqn(): string {
    return this.options.subsysNqn;
  }

  /** Creates a controller for an admin-queue Connect; undefined when all 0xFFEF ids are taken. */
  createController(hostNqn: string, hostId: Uint8Array, katoMs: number): Controller | undefined {
    // CNTLIDs 0xFFF0..0xFFFF are reserved; wrap and skip ids still in use.
    for (let tries = 0; tries < 0xffef; tries++) {
      const id = this.nextCntlid;
      this.nextCntlid = id >= 0xffef ? 1 : id + 1;
      if (this.controllers.has(id)) continue;
      const ctrl = new Controller(this, id, hostNqn, Buffer.from(hostId), katoMs);
      this.controllers.set(id, ctrl);
      this.stats.controllersCreated++;
      return ctrl;
    }
    return undefined;
  }

  /** Tears down every controller (target shutdown). */
  shutdown(): void {
    for (const c of [...this.controllers.values()]) c.destroy('shutdown');
  }
}

export class Controller {
  cc = 0;
  csts = 0;
  private readonly members = new Set<AssociationMember>();
  private kaTimer: NodeJS.Timeout | undefined;
  private readyTimer: NodeJS.Timeout | undefined;
  private destroyed = false;
  private trafficSeen = false;
  /** KATO in effect (ms), 0 = no keep-alive. */
  readonly katoMs: number;

  constructor(
    readonly subsys: Subsystem,
    readonly cntlid: number,
    readonly hostNqn: string,
    readonly hostId: Buffer,
    katoMs: number,
  ) {
    // Linux nvmet rounds KATO up to whole seconds; we round up to the KAS granularity.
    const kas = subsys.options.kasMs;
    this.katoMs = katoMs === 0 ? 0 : Math.ceil(katoMs / kas) * kas;
    this.armKeepAlive();
  }

  get options(): TargetOptions {
    return this.subsys.options;
  }

  get isDestroyed(): boolean {
    return this.destroyed;
  }

  /** CSTS.RDY: I/O and non-Fabrics admin commands are refused until then. */
  get ready(): boolean {
    return (this.csts & CSTS_RDY) !== 0 && (this.cc & CC_EN) !== 0;
  }

  attach(m: AssociationMember): void {
    this.members.add(m);
  }

  /** A queue went away. The admin queue's end ends the association. */
  detach(m: AssociationMember): void {
    this.members.delete(m);
    if (m.qid === 0 && !this.destroyed) this.destroy('association');
  }

  hasQueue(qid: number): boolean {
    for (const m of this.members) if (m.qid === qid) return true;
    return false;
  }

  ioQueueCount(): number {
    let n = 0;
    for (const m of this.members) if (m.qid !== 0) n++;
    return n;
  }

  /** Restarts the keep-alive timer (Keep Alive command). */
  keepAlive(): void {
    this.trafficSeen = false;
    this.armKeepAlive();
  }

  /**
   * Any command on any queue of the association also proves the host alive
   * (traffic-based keep alive, as Linux nvmet does it): a flag checked when
   * the timer fires, so the I/O path does not touch timers.
   */
  noteTraffic(): void {
    this.trafficSeen = true;
  }

  destroy(reason: 'keep-alive' | 'association' | 'shutdown'): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.kaTimer) clearTimeout(this.kaTimer);
    if (this.readyTimer) clearTimeout(this.readyTimer);
    this.subsys.controllers.delete(this.cntlid);
    const members = [...this.members];
    this.members.clear();
    for (const m of members) m.terminate(reason);
  }

  cap(): bigint {
    const o = this.options;
    return encodeCap({
      mqes: o.maxQueueSize - 1,
      cqr: true,
      ams: 0,
      // CAP.TO (500 ms units) must cover the configured ready delay.
      to: Math.min(255, Math.max(15, Math.ceil(o.readyDelayMs / 500) + 1)),
      dstrd: 0,
      nssrs: false,
      css: CAP_CSS_NVM,
      bps: false,
      mpsmin: 0,
      mpsmax: 0,
    });
  }

  /**
   * Property Get as Linux nvmet answers it: 8-byte reads reach only CAP,
   * 4-byte reads VS, CC and CSTS; anything else is Invalid Field.
   */
  propertyGet(offset: number, size: 4 | 8): PropertyGetResult {
    if (size === 8) {
      if (offset === NvmeReg.CAP) return { ...OK, value: this.cap() };
      return { ...INVALID_FIELD, value: 0n };
    }
    switch (offset) {
      case NvmeReg.VS:
        return { ...OK, value: BigInt(TARGET_NVME_VERSION) };
      case NvmeReg.CC:
        return { ...OK, value: BigInt(this.cc) };
      case NvmeReg.CSTS:
        return { ...OK, value: BigInt(this.csts) };
      default:
        return { ...INVALID_FIELD, value: 0n };
    }
  }

  /** Property Set: only CC (4 bytes) is writable. */
  propertySet(offset: number, size: 4 | 8, value: bigint): StatusResult {
    if (size !== 4 || offset !== NvmeReg.CC) return INVALID_FIELD;
    this.updateCc(Number(value & 0xffff_ffffn));
    return OK;
  }

  /**
   * CC write. EN 0→1 checks the configuration the way nvmet does (MPS, AMS,
   * CSS 0; IOSQES 6, IOCQES 4) and sets CSTS.RDY, or CSTS.CFS if it is
   * wrong; EN 1→0 resets; SHN set → SHST complete, SHN cleared → normal.
   */
  private updateCc(next: number): void {
    const prev = this.cc;
    this.cc = next;
    const enNow = (next & CC_EN) !== 0;
    const enBefore = (prev & CC_EN) !== 0;
    if (enNow && !enBefore) this.enable();
    if (!enNow && enBefore) {
      if (this.readyTimer) clearTimeout(this.readyTimer);
      this.readyTimer = undefined;
      this.csts &= ~(CSTS_RDY | CSTS_CFS);
    }
    const shnNow = parseCc(next).shn;
    const shnBefore = parseCc(prev).shn;
    if (shnNow !== 0 && shnBefore === 0) {
      if (this.readyTimer) clearTimeout(this.readyTimer);
      this.readyTimer = undefined;
      this.csts = (this.csts & ~(CSTS_RDY | (0x3 << 2))) | (CstsShst.COMPLETE << 2);
    } else if (shnNow === 0 && shnBefore !== 0) {
      this.csts &= ~(0x3 << 2);
    }
  }

  private enable(): void {
    const cc = parseCc(this.cc);
    if (cc.iosqes !== NVM_IOSQES || cc.iocqes !== NVM_IOCQES || cc.mps !== 0 || cc.ams !== 0 || cc.css !== 0) {
      this.csts = CSTS_CFS;
      this.subsys.log(`cntlid ${this.cntlid}: CC 0x${this.cc.toString(16)} rejected (CSTS.CFS)`);
      return;
    }
    const delay = this.options.readyDelayMs;
    if (delay === 0) {
      this.csts = CSTS_RDY;
      return;
    }
    this.readyTimer = setTimeout(() => {
      this.readyTimer = undefined;
      if ((this.cc & CC_EN) !== 0) this.csts = CSTS_RDY;
    }, delay);
  }

  /** Identify: controller, namespace, active namespace list, namespace descriptors. */
  identify(cns: number, nsid: number): IdentifyResult {
    switch (cns) {
      case NvmeIdCns.CTRL:
        return { ...OK, data: this.identifyController() };
      case NvmeIdCns.NS:
        if (nsid !== NSID) return { status: NvmeSc.INVALID_NS, dnr: true, data: undefined };
        return { ...OK, data: this.identifyNamespace() };
      case NvmeIdCns.NS_ACTIVE_LIST:
        // NSIDs greater than the one given; 0xFFFFFFFE and up are invalid starts.
        if (nsid >= 0xfffffffe) return { status: NvmeSc.INVALID_NS, dnr: true, data: undefined };
        return { ...OK, data: buildNsList(nsid < NSID ? [NSID] : []) };
      case NvmeIdCns.NS_DESC_LIST:
        if (nsid !== NSID) return { status: NvmeSc.INVALID_NS, dnr: true, data: undefined };
        return { ...OK, data: this.namespaceDescriptors() };
      default:
        return { ...INVALID_FIELD, data: undefined };
    }
  }

  private identifyController(): Buffer {
    const o = this.options;
    return buildIdCtrl({
      vid: 0,
      ssvid: 0,
      sn: `ddplab${o.seed.toString(16).padStart(8, '0')}`,
      mn: `ddplab NVMe/TCP target (${o.profile})`,
      fr: '0.1.0',
      mdts: mdtsOf(o),
      cntlid: this.cntlid,
      ver: TARGET_NVME_VERSION,
      cntrltype: NvmeCtrlType.IO,
      kas: o.kasMs / 100,
      sqes: (NVM_IOSQES << 4) | NVM_IOSQES,
      cqes: (NVM_IOCQES << 4) | NVM_IOCQES,
      maxcmd: o.maxQueueSize,
      nn: NSID,
      oncs: 0,
      vwc: 1,
      sgls: NvmeCtrlSgls.SUPPORTED | (o.inCapsuleBytes > 0 ? NvmeCtrlSgls.ADDR_OFFSET : 0),
      subnqn: o.subsysNqn,
      ioccsz: (64 + o.inCapsuleBytes) / 16,
      iorcsz: 1,
      icdoff: 0,
      fcatt: 0,
      msdbd: 1,
    });
  }

  private identifyNamespace(): Buffer {
    const store = this.subsys.store;
    return buildIdNs({
      nsze: store.nlb,
      ncap: store.nlb,
      nuse: store.nlb,
      nsfeat: 0,
      nlbaf: 0,
      flbas: 0,
      lbaf: [{ ms: 0, lbads: Math.log2(store.lbaSize), rp: 0 }],
    });
  }

  /**
   * Namespace Identification Descriptor list (CNS 3): one NGUID derived
   * from the subsystem NQN and seed, so a host sees a stable unique id.
   */
  private namespaceDescriptors(): Buffer {
    const out = Buffer.alloc(NVME_IDENTIFY_DATA_LEN);
    const NIDT_NGUID = 0x02;
    out[0] = NIDT_NGUID;
    out[1] = 16;
    const id = Buffer.from(`${this.options.subsysNqn}#${this.options.seed}`);
    // A cheap stable 16-byte digest: four FNV-1a lanes with different offsets.
    for (let lane = 0; lane < 4; lane++) {
      let h = (0x811c9dc5 ^ Math.imul(lane + 1, 0x9e3779b1)) >>> 0;
      for (const b of id) h = Math.imul(h ^ b, 0x01000193) >>> 0;
      out.writeUInt32BE(h, 4 + lane * 4);
    }
    return out;
  }

  private armKeepAlive(): void {
    if (this.katoMs === 0 || this.destroyed) return;
    if (this.kaTimer) clearTimeout(this.kaTimer);
    this.kaTimer = setTimeout(() => {
      if (this.trafficSeen) {
        this.trafficSeen = false;
        this.armKeepAlive();
        return;
      }
      this.subsys.log(`cntlid ${this.cntlid}: keep-alive timeout (${this.katoMs} ms), closing the association`);
      this.destroy('keep-alive');
    }, this.katoMs);
    // A target waiting only on keep-alive timers must still exit when asked.
    this.kaTimer.unref();
  }
}
