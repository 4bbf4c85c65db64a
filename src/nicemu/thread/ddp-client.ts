/**
 * The DDP device as the host thread sees it when the NIC runs on its own
 * thread: the driver half of the ops. Each op is queued, in order with the
 * frames the host transmits, to the NIC thread's NvmeTcpDdpDevice; the
 * ULP's callbacks (resyncRequest, teardownDone) come back as events.
 *
 * sk_add and setup answer at once, as a driver does: the checks that need
 * no NIC round trip (caps, config, limits, CID range, CIDs in use, in-flight
 * cap, an SGL the NIC can reach) are made here, on the driver's own record
 * of what it mapped — the same rules the engine applies (engine.ts), and a
 * CID is free here only once its teardownDone came back, after the engine
 * freed it. Should the engine still refuse a setup, the NIC thread says so
 * (counted in `refusedAfterAccept`): the read is copied, and its teardown
 * completes as any teardown of an unmapped CID does.
 *
 * Buffers: the NIC thread can place only into shared memory
 * (SharedArrayBuffer); each one is registered once and named by a region
 * number. A buffer in private memory is refused ('not-shared') and read
 * through the copy path.
 */
import { DEFAULT_DDP_LIMITS, type DdpDeviceOps, type DdpSocket, type NvmeTcpDdpCaps, type SetupRefusal, type SkAddRefusal } from '../ddp/offload.js';
import type { NvmeTcpSkConfig, UlpDdpOps } from '../ddp/engine.js';
import type { NvmeTcpDdpLimits } from '../ddp/limits.js';
import { NIC_PROFILES, type NicProfile } from '../ddp/nic-profile.js';
import { newUlpDdpStats, type UlpDdpStats } from '../ddp/stats.js';
import type { FlowKey } from '../flow-table.js';
import type { Sgl } from '../ddp/sgl.js';
import type { HostOp } from './protocol.js';

/** What the proxy needs of the thread client. */
export interface DdpClientLink {
  flowIdOf(key: FlowKey): number | undefined;
  enqueue(op: HostOp): void;
  /** The NIC thread's latest ulp-ddp counters. */
  readonly ddpStats: UlpDdpStats | null;
}

interface ClientSocket {
  readonly key: FlowKey;
  readonly ulp: UlpDdpOps;
  readonly cidLimit: number;
  readonly maxInflight: number;
  /** CIDs set up and not yet reported done. */
  readonly mapped: Set<number>;
}

export class NicThreadDdpDevice implements DdpDeviceOps {
  private readonly lim: NvmeTcpDdpLimits;
  private readonly caps: { nvmeTcp: boolean; ddgstRx: boolean };
  private readonly sockets = new Map<number, ClientSocket>();
  /** Sockets sk_del took off: a teardown still pending in the NIC reports its teardownDone to their ULP, as in one thread. */
  private readonly retired = new Map<number, ClientSocket>();
  private readonly regions = new Map<SharedArrayBuffer, number>();
  private readonly flatSgl = new WeakMap<Sgl, number[]>();
  /** Regions by number, for the placed frags the NIC thread names. */
  readonly regionMemory = new Map<number, SharedArrayBuffer>();
  /** Refusals decided here (the NIC thread never saw them), added to its counters. */
  private skAddFail = 0;
  private setupFail = 0;
  /** Setups accepted here that the engine refused (0 unless the two sets of rules drift apart). */
  refusedAfterAccept = 0;

  constructor(
    private readonly link: DdpClientLink,
    private readonly profile: NicProfile,
    limits: Partial<NvmeTcpDdpLimits> | undefined,
    caps: NvmeTcpDdpCaps,
  ) {
    this.lim = { ...DEFAULT_DDP_LIMITS, ...limits };
    this.caps = { nvmeTcp: caps['nvme-tcp'], ddgstRx: caps['nvme-tcp-ddgst-rx'] };
  }

  limits(): NvmeTcpDdpLimits {
    return this.lim;
  }

  getCaps(): NvmeTcpDdpCaps {
    return { 'nvme-tcp': this.caps.nvmeTcp, 'nvme-tcp-ddgst-rx': this.caps.ddgstRx };
  }

  setCaps(caps: Partial<NvmeTcpDdpCaps>): void {
    if (caps['nvme-tcp'] !== undefined) this.caps.nvmeTcp = caps['nvme-tcp'];
    if (caps['nvme-tcp-ddgst-rx'] !== undefined) this.caps.ddgstRx = caps['nvme-tcp-ddgst-rx'];
    this.link.enqueue({ op: 'setCaps', caps });
  }

  getStats(): UlpDdpStats {
    const s = { ...(this.link.ddpStats ?? newUlpDdpStats()) };
    s['rx-nvme-tcp-sk-add-fail'] += this.skAddFail;
    s['rx-nvme-tcp-setup-fail'] += this.setupFail;
    return s;
  }

  skAdd(sk: DdpSocket, config: NvmeTcpSkConfig, ulp: UlpDdpOps): SkAddRefusal | undefined {
    const flow = this.link.flowIdOf(sk.key);
    let why: SkAddRefusal | undefined;
    if (!this.caps.nvmeTcp) why = 'caps-off';
    else if (config.pfv !== 0 || !Number.isInteger(config.queueSize) || config.queueSize < 1 || config.queueSize > 0x10000) why = 'bad-config';
    else if (flow === undefined) why = 'no-flow';
    else if (this.sockets.has(flow)) why = 'flow-busy';
    else if (this.sockets.size >= this.lim.maxSockets) why = 'socket-limit';
    if (why !== undefined) {
      this.skAddFail++;
      return why;
    }
    const rules = NIC_PROFILES[this.profile];
    this.retired.delete(flow!);
    this.sockets.set(flow!, {
      key: sk.key,
      ulp,
      cidLimit: this.lim.fullCcidRange ? 0x10000 : config.queueSize,
      maxInflight: rules.setupsWithinQueueSize ? Math.min(this.lim.maxSetupsPerSocket, config.queueSize) : this.lim.maxSetupsPerSocket,
      mapped: new Set(),
    });
    this.link.enqueue({ op: 'skAdd', flow: flow!, nextPduSeq: sk.nextPduSeq, ...(sk.heldEndSeq !== undefined ? { heldEndSeq: sk.heldEndSeq } : {}), config });
    return undefined;
  }

  skDel(key: FlowKey): void {
    const flow = this.link.flowIdOf(key);
    const s = flow !== undefined ? this.sockets.get(flow) : undefined;
    if (s === undefined) return;
    this.sockets.delete(flow!);
    this.retired.set(flow!, s);
    this.link.enqueue({ op: 'skDel', flow: flow! });
  }

  setup(key: FlowKey, cid: number, sgl: Sgl): SetupRefusal | undefined {
    const why = this.setupCheck(key, cid, sgl);
    if (why !== undefined) {
      this.setupFail++;
      return why;
    }
    const flow = this.link.flowIdOf(key)!;
    // The same SGL object comes back for a buffer read again (host/nvme/ddp.ts keeps them): described once.
    let flat = this.flatSgl.get(sgl);
    if (flat === undefined) {
      flat = [];
      for (const b of sgl) flat.push(this.regionOf(b.buffer as SharedArrayBuffer), b.byteOffset, b.length);
      this.flatSgl.set(sgl, flat);
    }
    this.sockets.get(flow)!.mapped.add(cid);
    this.link.enqueue({ op: 'setup', flow, cid, sgl: flat });
    return undefined;
  }

  private setupCheck(key: FlowKey, cid: number, sgl: Sgl): SetupRefusal | undefined {
    if (!this.caps.nvmeTcp) return 'caps-off';
    const flow = this.link.flowIdOf(key);
    const s = flow !== undefined ? this.sockets.get(flow) : undefined;
    if (s === undefined) return 'not-offloaded';
    if (sgl.length > this.lim.maxDdpSglLen) return 'sgl-too-long';
    if (!Number.isInteger(cid) || cid < 0 || cid >= s.cidLimit) return 'cid-range';
    if (s.mapped.has(cid)) return 'cid-busy';
    if (s.mapped.size >= s.maxInflight) return 'inflight-limit';
    let bytes = 0;
    for (const b of sgl) {
      if (!(b.buffer instanceof SharedArrayBuffer)) return 'not-shared';
      bytes += b.length;
    }
    if (bytes === 0) return 'empty-sgl';
    return undefined;
  }

  teardown(key: FlowKey, cid: number): boolean {
    const flow = this.link.flowIdOf(key);
    if (flow === undefined || !this.sockets.has(flow)) return false;
    this.link.enqueue({ op: 'teardown', flow, cid });
    return true;
  }

  auditCompleted(key: FlowKey, cid: number): void {
    const flow = this.link.flowIdOf(key);
    if (flow !== undefined && this.sockets.has(flow)) this.link.enqueue({ op: 'audit', flow, cid });
  }

  resync(key: FlowKey, seq: number): void {
    const flow = this.link.flowIdOf(key);
    if (flow !== undefined && this.sockets.has(flow)) this.link.enqueue({ op: 'resync', flow, seq });
  }

  /** The NIC thread's resyncRequest for `flow`. */
  onResyncRequest(flow: number, seq: number, flags: number): void {
    const s = this.sockets.get(flow);
    if (s !== undefined) s.ulp.resyncRequest(s.key, seq, flags);
  }

  /** The NIC thread's teardownDone: the CID is free again. */
  onTeardownDone(flow: number, cid: number): void {
    const s = this.sockets.get(flow) ?? this.retired.get(flow);
    if (s === undefined) return;
    s.mapped.delete(cid);
    s.ulp.teardownDone(s.key, cid);
  }

  onSetupRefused(): void {
    this.refusedAfterAccept++;
  }

  private regionOf(memory: SharedArrayBuffer): number {
    let id = this.regions.get(memory);
    if (id === undefined) {
      id = this.regions.size + 1;
      this.regions.set(memory, id);
      this.regionMemory.set(id, memory);
      this.link.enqueue({ op: 'register', region: id, memory });
    }
    return id;
  }
}
