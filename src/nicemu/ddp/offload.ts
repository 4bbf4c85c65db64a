/**
 * The NVMe/TCP DDP offload of the software NIC, as a device: the ops the
 * netdev series gives a driver (ulp_ddp_dev_ops; docs/design.md, "Contracts") and
 * the per-socket engines they drive (nicemu/ddp/engine.ts).
 *
 *   limits()          what the device can do: SGL entries per I/O, the I/O
 *                     size below which DDP is not worth it, CID range, and
 *                     ddplab's own caps on offloaded sockets and setups
 *   skAdd/skDel       offload a connection (its NIC flow) with the per-socket
 *                     config and the ULP's callbacks / stop offloading it
 *   setup/teardown    map / unmap one read's CID to its destination SGL;
 *                     teardown completes later through ulp.teardownDone, as
 *                     a hardware invalidation completes with a CQE
 *   resync            the ULP's answer to a resync request
 *   getCaps/setCaps   `nvme-tcp`, `nvme-tcp-ddgst-rx`, switchable while
 *                     running like `ethtool -K`
 *   getStats          the ulp-ddp counters
 *
 * Offload is opportunistic: every refusal (caps off, a limit, an injected
 * fault) is counted (-sk-add-fail, -setup-fail) and leaves the socket or
 * I/O on the software path; nothing here throws at the ULP.
 *
 * Failure injection is data (`faults`), as netdevsim exposes knobs in
 * debugfs, not conditionals spread through the receive path.
 */
import { DdpEngine, type DdpDefer, type DdpDeviceContext, type DdpSchedule, type DdpSetupRefusal, type NvmeTcpSkConfig, type UlpDdpOps } from './engine.js';
import { DEVICE_DEFAULT_NIC_PROFILE, DEFAULT_NIC_TIMING, NIC_PROFILES, type NicProfile } from './nic-profile.js';
import { newUlpDdpStats, type UlpDdpStats } from './stats.js';
import { DdpAcceptGate, type AcceptableBytes } from './accept-gate.js';
import { NicTcpChecks } from './tcp-checks.js';
import type { FlowEntry, FlowKey, RxOffloadEngine } from '../flow-table.js';
import type { NicEmu } from '../nic.js';
import { TCP_ACK } from '../../wire/tcp.js';
import type { Sgl } from './sgl.js';

export { ULP_DDP_RESYNC_PENDING, type DdpDefer, type DdpSchedule, type NvmeTcpSkConfig, type UlpDdpOps } from './engine.js';
export type { NicProfile } from './nic-profile.js';
import { DEFAULT_DDP_LIMITS, type NvmeTcpDdpLimits } from './limits.js';
import { MicroTimers } from '../../base/micro-timers.js';

/** A live device's timers: microsecond-precise (a NIC's teardown latency is tens of µs, below setTimeout's 1 ms). */
function microSchedule(): DdpSchedule {
  const timers = new MicroTimers();
  return (fn, us) => timers.schedule(fn, us);
}

// The limits live in limits.ts so that the CLI's flags can name them without loading the NIC.
export { DEFAULT_DDP_LIMITS, type NvmeTcpDdpLimits } from './limits.js';

/** Capability bits, by their ethtool/ulp-ddp names. */
export interface NvmeTcpDdpCaps {
  'nvme-tcp': boolean;
  'nvme-tcp-ddgst-rx': boolean;
}

/** The socket handed to skAdd: its flow, and where its next PDU starts (tcp copied_seq, the ULP's read position). */
export interface DdpSocket {
  readonly key: FlowKey;
  readonly nextPduSeq: number;
  /**
   * One past the last stream byte the socket's TCP already holds at sk_add,
   * in order or out of order (default: nextPduSeq, nothing held). The NIC
   * never saw those bytes: it places none of them and trusts no header in
   * them, since a later copy need not be the one TCP kept.
   */
  readonly heldEndSeq?: number;
  /**
   * The socket's TCP verdict on a segment (payload bytes it takes, from the
   * first). Used only when the device runs with `nicTcpOracle` (not
   * hardware: nicemu/ddp/accept-gate.ts); otherwise the engine parses every
   * segment, as a NIC does, whatever TCP later makes of it.
   */
  readonly acceptableBytes?: AcceptableBytes;
}

/** Injected failures (all off by default); change them at any time. */
export interface DdpFaults {
  /** Refuse every skAdd. */
  skAddFail: boolean;
  /** Refuse every Nth setup (0: never). */
  setupFailEvery: number;
}

export interface NvmeTcpDdpDeviceOptions {
  readonly limits?: Partial<NvmeTcpDdpLimits>;
  /** Initial capabilities (default: both on). */
  readonly caps?: Partial<NvmeTcpDdpCaps>;
  readonly defer?: DdpDefer;
  /** Which NIC the device stands for (nicemu/ddp/nic-profile.ts; without one 'ideal', the CLI's --nic defaults to 'hardware'). */
  readonly profile?: NicProfile;
  /** 'hardware': packets of the flow after a resync confirmation before placing resumes (default 4). */
  readonly resyncLatencyPackets?: number;
  /** Headers walked from an unanswered resync request before the NIC asks again at the current one (default 8). */
  readonly resyncRetryPdus?: number;
  /** 'hardware': packets of the flow after teardown before teardownDone (default 2) ... */
  readonly teardownLatencyPackets?: number;
  /** ... or microseconds, whichever comes first (default 50). */
  readonly teardownLatencyUs?: number;
  /**
   * Runs a timer's work after some microseconds (default: a MicroTimers of
   * the device, precise to a loop turn where setTimeout would round up to
   * a millisecond or more); a rig on virtual time passes its own.
   */
  readonly schedule?: DdpSchedule;
  /**
   * Not hardware (default off): the engine asks the host's TCP whether it
   * takes a segment before parsing it (nicemu/ddp/accept-gate.ts). A NIC
   * sees only the frame; this is the model's oracle, kept to compare.
   */
  readonly nicTcpOracle?: boolean;
  /**
   * Time the engine's work on every segment into rx-nvme-tcp-engine-us
   * (default true): in the host's thread that is how a run tells the NIC
   * model's CPU from the host's. The NIC thread passes false: all of its CPU
   * is the NIC's (the run report's cpu.nicThread), and the two clock reads
   * per segment cost it ~3%.
   */
  readonly timeEngine?: boolean;
  /**
   * One placed frag per page (default true), as a driver builds skb frags
   * from the pages of the read's SGL. The NIC thread passes false: its
   * outbox turns placed frags into (region, offset, length) records and
   * merges those that continue one another, so there a run of
   * memory-contiguous pages is one frag from the start (one view fewer per
   * page boundary a segment crosses: at MTU 9000 most segments cross two).
   * Either way a segment's bytes are copied once per such run.
   */
  readonly pagedFrags?: boolean;
  /**
   * A mitigation hardware could have (default off): the NIC keeps from the
   * engine segments that fail the PAWS, ACK and window checks it can make
   * from both directions on its own port (nicemu/ddp/tcp-checks.ts).
   */
  readonly nicTcpChecks?: boolean;
}

/** Why skAdd or setup said no, for the ULP's log and counters. */
export type SkAddRefusal = 'caps-off' | 'no-flow' | 'flow-busy' | 'socket-limit' | 'bad-config' | 'fault';
export type SetupRefusal = DdpSetupRefusal | 'caps-off' | 'not-offloaded' | 'sgl-too-long' | 'fault' | 'not-shared';

/**
 * The device ops a ULP calls: NvmeTcpDdpDevice in the ULP's own thread, or
 * the proxy of a NIC on its own thread (nicemu/thread/ddp-client.ts), which
 * refuses a buffer the NIC thread cannot reach ('not-shared': not in
 * shared memory).
 */
export interface DdpDeviceOps {
  limits(): NvmeTcpDdpLimits;
  getCaps(): NvmeTcpDdpCaps;
  setCaps(caps: Partial<NvmeTcpDdpCaps>): void;
  getStats(): UlpDdpStats;
  skAdd(sk: DdpSocket, config: NvmeTcpSkConfig, ulp: UlpDdpOps): SkAddRefusal | undefined;
  skDel(key: FlowKey): void;
  setup(key: FlowKey, cid: number, sgl: Sgl): SetupRefusal | undefined;
  teardown(key: FlowKey, cid: number): boolean;
  auditCompleted(key: FlowKey, cid: number): void;
  resync(key: FlowKey, seq: number): void;
}

interface OffloadedSocket {
  readonly entry: FlowEntry;
  readonly engine: DdpEngine;
  /** What sits on the flow: the engine, or the engine behind the TCP verdict. */
  readonly rx: RxOffloadEngine;
  readonly ulp: UlpDdpOps;
}

export class NvmeTcpDdpDevice implements DdpDeviceOps {
  readonly faults: DdpFaults = { skAddFail: false, setupFailEvery: 0 };
  private readonly lim: NvmeTcpDdpLimits;
  private readonly stats: UlpDdpStats = newUlpDdpStats();
  private readonly ctx: DdpDeviceContext & { readonly caps: { nvmeTcp: boolean; ddgstRx: boolean } };
  /** Which NIC the device stands for. */
  readonly profile: NicProfile;
  private readonly sockets = new Map<FlowEntry, OffloadedSocket>();
  private readonly defer: DdpDefer;
  private readonly nicTcpOracle: boolean;
  private readonly tcpChecks: NicTcpChecks | undefined;
  private setupCalls = 0;

  constructor(
    private readonly nic: NicEmu,
    opts: NvmeTcpDdpDeviceOptions = {},
  ) {
    this.lim = { ...DEFAULT_DDP_LIMITS, ...opts.limits };
    this.defer = opts.defer ?? ((fn) => void setImmediate(fn));
    this.profile = opts.profile ?? DEVICE_DEFAULT_NIC_PROFILE;
    const d = DEFAULT_NIC_TIMING;
    this.ctx = {
      stats: this.stats,
      caps: { nvmeTcp: opts.caps?.['nvme-tcp'] ?? true, ddgstRx: opts.caps?.['nvme-tcp-ddgst-rx'] ?? true },
      rules: NIC_PROFILES[this.profile],
      timing: {
        resyncLatencyPackets: opts.resyncLatencyPackets ?? d.resyncLatencyPackets,
        resyncRetryPdus: opts.resyncRetryPdus ?? d.resyncRetryPdus,
        teardownLatencyPackets: opts.teardownLatencyPackets ?? d.teardownLatencyPackets,
        teardownLatencyUs: opts.teardownLatencyUs ?? d.teardownLatencyUs,
      },
      defer: this.defer,
      schedule: opts.schedule ?? microSchedule(),
      fullCcidRange: this.lim.fullCcidRange,
      timeEngine: opts.timeEngine ?? true,
      pagedFrags: opts.pagedFrags ?? true,
    };
    this.nicTcpOracle = opts.nicTcpOracle ?? false;
    this.tcpChecks = opts.nicTcpChecks === true ? new NicTcpChecks() : undefined;
    if (this.tcpChecks !== undefined) nic.addTxTap((f) => this.tcpChecks!.observeTx(f));
    nic.addTxTap((f) => this.observeAck(f));
  }

  /** A frame the host sends: its ACK number goes to the connection's engine (resync waits for the host to pass a request). */
  private observeAck(f: Buffer): void {
    if (this.sockets.size === 0 || f.length < 54 || f[12] !== 0x08 || f[13] !== 0x00 || f[23] !== 6) return;
    const l4 = 14 + (f[14]! & 0x0f) * 4;
    if (f.length < l4 + 20 || (f[l4 + 13]! & TCP_ACK) === 0) return;
    const entry = this.nic.lookupFlow({ localIp: f.readUInt32BE(26), localPort: f.readUInt16BE(l4), remoteIp: f.readUInt32BE(30), remotePort: f.readUInt16BE(l4 + 2) });
    const s = entry !== undefined ? this.sockets.get(entry) : undefined;
    s?.engine.hostAcked(f.readUInt32BE(l4 + 8));
  }

  limits(): NvmeTcpDdpLimits {
    return this.lim;
  }

  getCaps(): NvmeTcpDdpCaps {
    return { 'nvme-tcp': this.ctx.caps.nvmeTcp, 'nvme-tcp-ddgst-rx': this.ctx.caps.ddgstRx };
  }

  /**
   * Switches capabilities now. Turning `nvme-tcp` off stops setups and
   * placement at once (in-flight reads fall back to copies); turning it back
   * on makes each socket find its PDU framing again through resync.
   */
  setCaps(caps: Partial<NvmeTcpDdpCaps>): void {
    const c = this.ctx.caps;
    if (caps['nvme-tcp'] !== undefined) c.nvmeTcp = caps['nvme-tcp'];
    if (caps['nvme-tcp-ddgst-rx'] !== undefined) c.ddgstRx = caps['nvme-tcp-ddgst-rx'];
  }

  /** A snapshot of the counters. */
  getStats(): UlpDdpStats {
    return { ...this.stats };
  }

  /** Offloads the connection of `sk`: installs an engine on its NIC flow. Undefined on success, else why not. */
  skAdd(sk: DdpSocket, config: NvmeTcpSkConfig, ulp: UlpDdpOps): SkAddRefusal | undefined {
    const why = this.skAddCheck(sk, config);
    if (why !== undefined) {
      this.stats['rx-nvme-tcp-sk-add-fail']++;
      return why;
    }
    const entry = this.nic.lookupFlow(sk.key)!;
    const engine = new DdpEngine(sk.key, config, ulp, this.ctx, sk.nextPduSeq, this.lim.maxSetupsPerSocket, sk.heldEndSeq);
    const verdict = this.nicTcpOracle ? sk.acceptableBytes : this.tcpChecks?.verdictFor(sk.key);
    const rx = verdict === undefined ? engine : new DdpAcceptGate(engine, verdict, this.stats);
    entry.offload = rx;
    this.sockets.set(entry, { entry, engine, rx, ulp });
    this.stats['rx-nvme-tcp-sk-add']++;
    return undefined;
  }

  private skAddCheck(sk: DdpSocket, config: NvmeTcpSkConfig): SkAddRefusal | undefined {
    if (this.faults.skAddFail) return 'fault';
    if (!this.ctx.caps.nvmeTcp) return 'caps-off';
    if (config.pfv !== 0 || !Number.isInteger(config.queueSize) || config.queueSize < 1 || config.queueSize > 0x10000) return 'bad-config';
    const entry = this.nic.lookupFlow(sk.key);
    if (entry === undefined) return 'no-flow';
    if (entry.offload !== undefined) return 'flow-busy';
    if (this.sockets.size >= this.lim.maxSockets) return 'socket-limit';
    return undefined;
  }

  /** Stops offloading the connection: its mappings go, its flow is plain pass-through again. */
  skDel(key: FlowKey): void {
    const s = this.socketOf(key);
    if (s === undefined) return;
    s.engine.delete();
    if (s.entry.offload === s.rx) s.entry.offload = undefined;
    this.sockets.delete(s.entry);
    this.stats['rx-nvme-tcp-sk-del']++;
  }

  /** Maps read `cid` to `sgl`. Undefined on success, else why not (the read then goes the copy path). */
  setup(key: FlowKey, cid: number, sgl: Sgl): SetupRefusal | undefined {
    const why = this.setupCheck(key, cid, sgl);
    if (why !== undefined) {
      this.stats['rx-nvme-tcp-setup-fail']++;
      return why;
    }
    this.stats['rx-nvme-tcp-setup']++;
    return undefined;
  }

  private setupCheck(key: FlowKey, cid: number, sgl: Sgl): SetupRefusal | undefined {
    this.setupCalls++;
    if (!this.ctx.caps.nvmeTcp) return 'caps-off';
    const s = this.socketOf(key);
    if (s === undefined) return 'not-offloaded';
    if (sgl.length > this.lim.maxDdpSglLen) return 'sgl-too-long';
    const every = this.faults.setupFailEvery;
    if (every > 0 && this.setupCalls % every === 0) return 'fault';
    return s.engine.setup(cid, sgl);
  }

  /**
   * Unmaps `cid` and reports completion through the ULP's teardownDone
   * later: 'ideal' invalidates now; 'hardware' keeps the mapping live (the
   * NIC may still write the buffer) until teardownDone, after
   * teardownLatencyPackets packets of the flow or teardownLatencyUs. Returns
   * false when the socket is not offloaded (any more): then no completion
   * follows.
   */
  teardown(key: FlowKey, cid: number): boolean {
    const s = this.socketOf(key);
    if (s === undefined) return false;
    const ulp = s.ulp;
    const done = (): void => ulp.teardownDone(key, cid);
    if (s.engine.teardown(cid, done)) this.stats['rx-nvme-tcp-teardown']++;
    else this.defer(done);
    return true;
  }

  /**
   * Model-only audit, no device op: the ULP completed `cid`'s command to the
   * application. A NIC write into that command's buffer from now on is
   * counted in `ddp-writes-after-completion` (0 with a ULP that completes
   * only after teardownDone).
   */
  auditCompleted(key: FlowKey, cid: number): void {
    this.socketOf(key)?.engine.auditCompleted(cid);
  }

  /** The ULP's resync response: its parser reached a PDU header at `seq`. */
  resync(key: FlowKey, seq: number): void {
    this.socketOf(key)?.engine.resync(seq);
  }

  /** The engine of an offloaded connection (tests, reports). */
  engineOf(key: FlowKey): DdpEngine | undefined {
    return this.socketOf(key)?.engine;
  }

  private socketOf(key: FlowKey): OffloadedSocket | undefined {
    const entry = this.nic.lookupFlow(key);
    if (entry !== undefined) {
      const s = this.sockets.get(entry);
      if (s !== undefined) return s;
    }
    // The flow may be gone already (connection closed): find the socket by key.
    for (const s of this.sockets.values()) {
      const k = s.entry.key;
      if (k.remoteIp === key.remoteIp && k.remotePort === key.remotePort && k.localIp === key.localIp && k.localPort === key.localPort) return s;
    }
    return undefined;
  }
}
