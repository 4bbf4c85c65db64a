/**
 * The host process of a run (docs/design.md, "The picture", right-hand box): a
 * live Port on the interface, the software NIC, the userspace host stack
 * and the NVMe/TCP host ULP, running a workload against a target and
 * returning the report. `ddplab host` runs this inside the host namespace;
 * `ddplab run` spawns that and reads its report.
 */
import type { RxArenaStats } from '../nicemu/thread/protocol.js';
import { readFileSync } from 'node:fs';
import { HostStack } from '../host/net/host-stack.js';
import { RealClock } from '../host/net/clock.js';
import { NvmeController } from '../host/nvme/controller.js';
import { NvmeHostError } from '../host/nvme/host-error.js';
import { hostBytesCrc, newNvmeHostStats, sumNvmeHostStats, type NvmeHostStats } from '../host/net/host-stats.js';
import { controllerDevice, runWorkload, type WorkloadProgress, type WorkloadReport } from '../host/workload/workload.js';
import type { WorkloadOptions } from '../host/workload/options.js';
import type { TcpStats } from '../host/net/tcp-stats.js';
import { NicEmu, type NicDropInfo, type NicDropReason } from '../nicemu/nic.js';
import type { NicRxStats } from '../nicemu/nic-stats.js';
import { openLivePort } from '../nicemu/port/live.js';
import { PortError, type Port, type PortStats } from '../nicemu/port/port.js';
import { UserError } from '../base/errors.js';
import { withImpairment, type ImpairConfig, type ImpairStats } from '../nicemu/port/impair.js';
import { withCapture } from '../nicemu/port/capture.js';
import type { NicLink } from '../nicemu/nic-link.js';
import { NicThread } from '../nicemu/thread/nic-thread.js';
import { pcapPortAddonBuilt } from '../nicemu/port/pcap-batch.js';
import { cpuTimeSince, threadCpuUsage, type CpuTime } from '../base/thread-cpu.js';
import { macToString, parseMac } from '../wire/ethernet.js';
import { ipToString, parseIpv4Addr } from '../wire/ipv4.js';
import { ArpError } from '../host/net/arp.js';
import { ddpModeOf, headerSplitOf, usesCrcOffload, usesDdpEngine, usesZcrx, type OffloadMode } from '../host/offload-mode.js';
import { ZcrxHost, type ZcrxRunReport } from './zcrx-host.js';
import { requireInterface, requireLibpcap, requireNetRaw } from './privileges.js';
import { NvmeDdpOffload, ddpReport, newNvmeDdpUlpStats, type DdpReport } from '../host/nvme/ddp.js';
import { NvmeTcpDdpDevice, type DdpDeviceOps } from '../nicemu/ddp/offload.js';
import { DEFAULT_DDP_HOST_SETTINGS, ddpLimitsWith, type DdpHostSettings } from '../host/nvme/ddp-settings.js';
import { newUlpDdpStats, type UlpDdpStats } from '../nicemu/ddp/stats.js';
import { DEFAULT_NIC_PROFILE } from '../nicemu/ddp/nic-profile.js';
import { withReadHashes, writeReadHashes, type LiveReadHash } from '../replay/live-read-hashes.js';
import { DEVMEM_DEFAULTS, DevmemHost, type DevmemRunOptions, type DevmemRunReport } from './devmem-host.js';

export type DigestChoice = 'none' | 'header' | 'data' | 'both';

/** How long the host waits for a target: each bring-up step, and each I/O command. */
export interface HostTimeouts {
  readonly connectTimeoutMs: number;
  readonly ioTimeoutMs: number;
}

export interface HostRunOptions {
  readonly iface: string;
  /** Our IPv4 address, owned by the userspace stack (host0 has no kernel address). */
  readonly hostIp: string;
  /** MAC the stack uses; default: the interface's own. */
  readonly hostMac?: string;
  /** Prefix length of hostIp's subnet: a target outside it is reached through `gateway`. Default: every peer on the link. */
  readonly prefixLen?: number;
  /** Next hop for a target outside the subnet (A.B.C.D). */
  readonly gateway?: string;
  readonly targetIp: string;
  readonly targetPort: number;
  readonly nqn: string;
  readonly queues: number;
  readonly queueDepth?: number;
  /** Limit on each bring-up step (default 10 s, see NvmeController). */
  readonly connectTimeoutMs?: number;
  /** NVMe I/O timeout (default 30 s). */
  readonly ioTimeoutMs?: number;
  readonly digest: DigestChoice;
  /** DDP offload or devmem receive (default none). */
  readonly offload?: OffloadMode;
  /** DDP: the ULP's data-digest fallback and the limits over the NIC's defaults (default: linux, the defaults). */
  readonly ddpSettings?: DdpHostSettings;
  /** Pool size, token return path, hold: with offload devmem-tcp or devmem-nvme (default DEVMEM_DEFAULTS). */
  readonly devmem?: DevmemRunOptions;
  readonly workload: WorkloadOptions;
  /** Write the SHA-256 of every read's data to this file (JSON), for comparison with a replay of the capture. */
  readonly hashReads?: string;
  /** Writes every frame received and sent to this pcap file (the capture tap, outside the impairment). */
  readonly capture?: string;
  /**
   * Run the software NIC on its own thread (default true; src/nicemu/thread/):
   * offload none, ddp and ddp-crc. Devmem and zcrx runs, and the NIC's TCP
   * oracle (not hardware), keep it in the host's thread.
   */
  readonly nicThread?: boolean;
  /**
   * Linux's software GRO on the NIC thread's skbs before TCP (default true,
   * as Linux has it on every device; src/nicemu/gro.ts). Off: every segment
   * goes up on its own (`ethtool -K dev gro off`). The in-thread NIC never
   * merges.
   */
  readonly gro?: boolean;
  /**
   * Seeded loss/reorder/duplication/corruption between the interface and
   * everything else: the capture tap wraps the impaired port, so
   * a capture shows what the NIC actually received and what the host sent
   * before tx impairment.
   */
  readonly impair?: ImpairConfig;
  readonly log?: (line: string) => void;
  /**
   * Accept TCP checksums left partial by the sender's offloads (default true:
   * only a peer on the same host sends them — a veth or tap peer with tx
   * checksum offload on — and no wire lies between it and us).
   */
  readonly acceptPartialChecksums?: boolean;
  /**
   * Frames above the MTU may arrive (an external peer's TSO/GSO): size the
   * capture for 64 KiB frames (LivePortOptions.superFrames). Default false;
   * `ddplab run --target` sets it.
   */
  readonly superFrames?: boolean;
  /**
   * Stops the run early (SIGINT/SIGTERM in `ddplab host`): no new I/O is
   * issued, the commands in flight get `interruptGraceMs` to complete, then
   * the connections are reset; the report covers what was done and says
   * `interrupted`.
   */
  readonly signal?: AbortSignal;
  /** How long in-flight commands may take to complete after `signal` (default 2000 ms). */
  readonly interruptGraceMs?: number;
}

/** Default grace for in-flight commands after an interrupt. */
export const INTERRUPT_GRACE_MS = 2000;

/** The run report's host side; `ddplab run --json` prints it with the orchestrator's additions. */
export interface HostRunReport {
  readonly ok: boolean;
  readonly error?: string;
  /** Present (true) when HostRunOptions.signal stopped the workload before its size or time. */
  readonly interrupted?: true;
  readonly workload?: WorkloadReport;
  readonly host: NvmeHostStats & { readonly crcBytes: number };
  /** NIC counters: the pass-through ones and the ulp-ddp ones (rx-nvme-tcp-*, zero without offload). */
  readonly nic: NicRxStats & UlpDdpStats;
  /** Placement %, and why C2HData payload was copied instead. */
  readonly ddp: DdpReport;
  /** Devmem receive: where the data went, tokens, pool drops (offload devmem-*). */
  readonly devmem?: DevmemRunReport;
  /** io_uring zero-copy receive: where the data went, buffers, copy fallback (offload zcrx-nvme). */
  readonly zcrx?: ZcrxRunReport;
  readonly tcp: TcpStats;
  readonly port: PortStats;
  /** What the impairment stage was asked to do and did, per direction (absent: no impairment). */
  readonly impair?: { readonly config: ImpairConfig; readonly rx: ImpairStats; readonly tx: ImpairStats };
  /** The NIC thread's receive arenas (page-pool recycling, nicemu/thread/inbox.ts); absent when the NIC ran in the host thread. */
  readonly rxArenas?: RxArenaStats;
  /**
   * CPU time over the whole run: the host process (userMs, systemMs: NIC,
   * TCP, ULP, workload), its host thread (TCP, ULP, workload; the NIC too
   * when it shares the thread), and the NIC thread (null: the NIC ran in the
   * host thread).
   */
  readonly cpu: {
    readonly userMs: number;
    readonly systemMs: number;
    readonly hostThread: CpuTime;
    readonly nicThread: CpuTime | null;
  };
}

function readSysfs(iface: string, what: string): string {
  return readFileSync(`/sys/class/net/${iface}/${what}`, 'utf8').trim();
}

export async function hostRun(opts: HostRunOptions, onProgress?: (p: WorkloadProgress) => void): Promise<HostRunReport> {
  requireNetRaw('ddplab host');
  requireInterface(opts.iface);
  const log = opts.log ?? (() => undefined);
  const mac = parseMac(opts.hostMac ?? readSysfs(opts.iface, 'address'));
  const mtu = Number(readSysfs(opts.iface, 'mtu'));
  const hostIp = parseIpv4Addr(opts.hostIp);
  const targetIp = parseIpv4Addr(opts.targetIp);
  const clock = new RealClock();
  const cpu0 = process.cpuUsage();
  const thread0 = threadCpuUsage();
  const offload = opts.offload ?? 'none';
  const ddpSettings = opts.ddpSettings ?? DEFAULT_DDP_HOST_SETTINGS;
  const acceptPartial = opts.acceptPartialChecksums ?? true;
  const fromTarget = new TargetDrops(targetIp);
  // Our own transmissions come back through libpcap on the same interface;
  // the filter keeps them out of the receive path.
  const filter = `not ether src ${macToString(mac)}`;
  // (Without ddplab's libpcap addon — the bootstrap builds it — the NIC stays in this thread.)
  const onThread =
    (opts.nicThread ?? true) && (offload === 'none' || usesDdpEngine(offload)) && ddpSettings.nicTcp?.oracle !== true && pcapPortAddonBuilt();
  // The pcap addon can load once per process: on the NIC thread, that thread checks it (same error, same line).
  if (!onThread) requireLibpcap();
  // A NIC thread that fails (a bug in the NIC model) stops the run with its error.
  let nicFailed: (e: Error) => void = () => undefined;
  const nicFailure = new Promise<never>((_, reject) => {
    nicFailed = reject;
  });
  nicFailure.catch(() => undefined);
  const built = onThread
    ? await nicOnThread(opts, { mac, mtu, offload, ddpSettings, acceptPartial, filter }, (e) => nicFailed(e))
    : await nicInThread(opts, { mac, mtu, offload, ddpSettings, acceptPartial, filter });
  const nic = built.nic;
  nic.onDrop = fromTarget.record;
  const stack = new HostStack({
    nic,
    clock,
    ip: hostIp,
    mtu,
    ...(opts.prefixLen !== undefined ? { prefixLen: opts.prefixLen } : {}),
    ...(opts.gateway !== undefined ? { gateway: parseIpv4Addr(opts.gateway) } : {}),
  });
  const ddp = built.ddpDevice !== undefined ? new NvmeDdpOffload(built.ddpDevice, { log, ulp: ddpSettings.ulp }) : undefined;
  if (onThread) log(`NIC on its own thread${ddp !== undefined ? ' (DDP engine with it)' : ''}`);
  const split = headerSplitOf(offload);
  // zcrx-nvme: the --devmem-pool size is the area's.
  const zcrx = usesZcrx(offload) ? new ZcrxHost({ areaBytes: opts.devmem?.poolBytes ?? DEVMEM_DEFAULTS.poolBytes }, log) : undefined;
  const devmem = split !== undefined && zcrx === undefined ? new DevmemHost(opts.devmem ?? { mode: split, ...DEVMEM_DEFAULTS }, log) : undefined;
  let ctrl: NvmeController | undefined;
  let workload: WorkloadReport | undefined;
  let error: string | undefined;
  const targetName = `${opts.targetIp}:${opts.targetPort}`;
  // A command the target left unanswered: the error line says which target and that it was the I/O timeout.
  const describe = (e: unknown): string => {
    const msg = e instanceof Error ? e.message : String(e);
    if (e instanceof NvmeHostError && e.code === 'CONNECT_TIMEOUT' && msg.includes('TCP SYN')) {
      return `${msg}: ${fromTarget.describe(opts.targetIp, built.portStats().rxTruncated ?? 0, acceptPartial)}`;
    }
    return e instanceof NvmeHostError && e.code === 'TIMEOUT' ? `target ${targetName} did not answer: ${msg} (I/O timeout)` : msg;
  };
  const readHashes: LiveReadHash[] = [];
  // An interrupt: the workload stops issuing at once (its signal); what is
  // still in flight after the grace is cut by resetting the connections.
  let graceTimer: NodeJS.Timeout | undefined;
  let cut = false;
  const onInterrupt = (): void => {
    log(`interrupted: no new I/O; ${opts.interruptGraceMs ?? INTERRUPT_GRACE_MS} ms for the commands in flight`);
    graceTimer = setTimeout(() => {
      log('interrupted: commands still in flight after the grace; resetting the connections');
      cut = true;
      ctrl?.abort();
    }, opts.interruptGraceMs ?? INTERRUPT_GRACE_MS);
  };
  if (opts.signal?.aborted === true) onInterrupt();
  else opts.signal?.addEventListener('abort', onInterrupt, { once: true });
  try {
    log(`host ${opts.hostIp} (${macToString(mac)}) on ${opts.iface} mtu ${mtu}: connecting to ${opts.targetIp}:${opts.targetPort}`);
    await resolveNextHop(stack, targetIp, opts.iface, log);
    ctrl = await NvmeController.connect({
      transports: async (qid) => {
        try {
          if (zcrx !== undefined) return await zcrx.transport(stack, targetIp, opts.targetPort, qid);
          if (devmem !== undefined) return await devmem.transport(stack, targetIp, opts.targetPort, qid);
          const conn = await stack.connect(targetIp, opts.targetPort);
          ddp?.bindConnection(qid, conn);
          return conn.transport;
        } catch (e) {
          throw new Error(`${opts.targetIp}:${opts.targetPort}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
        }
      },
      ...(ddp !== undefined ? { ddp: ddp.hooksFor } : {}),
      ...(devmem !== undefined ? { ddp: devmem.resyncFor, devmem: devmem.hooksFor } : {}),
      ...(zcrx !== undefined ? { ddp: zcrx.resyncFor, devmem: zcrx.hooksFor } : {}),
      subnqn: opts.nqn,
      ioQueues: opts.queues,
      queueDepth: opts.queueDepth ?? Math.max(32, opts.workload.iodepth ?? 1),
      hdgst: opts.digest === 'header' || opts.digest === 'both',
      ddgst: opts.digest === 'data' || opts.digest === 'both',
      clock,
      log,
      targetName,
      ...(opts.connectTimeoutMs !== undefined ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
      ...(opts.ioTimeoutMs !== undefined ? { commandTimeoutMs: opts.ioTimeoutMs } : {}),
      // A queue the target breaks (a protocol error, a timeout) costs its own I/O; the others carry on.
      ioQueueFailure: 'queue',
      // Linux's host skips CID generation bits unless the NIC takes the full CID range.
      ...(ddp !== undefined && ddp.device.limits().fullCcidRange ? { cidGeneration: true } : {}),
    });
    if (ddp !== undefined) log(`DDP ${offload}: ${ddp.offloadQueues(ctrl.ioQueues)} of ${ctrl.ioQueues.length} I/O queues offloaded`);
    const failed = new Promise<never>((_, reject) => {
      ctrl!.onError((e) => reject(e));
    });
    failed.catch(() => undefined);
    const device = zcrx !== undefined ? zcrx.workloadDevice(ctrl) : devmem !== undefined ? devmem.workloadDevice(ctrl) : controllerDevice(ctrl);
    workload = await Promise.race([
      runWorkload(opts.hashReads !== undefined ? withReadHashes(device, readHashes) : device, { ...opts.workload, queues: opts.workload.queues ?? opts.queues }, {
        clock,
        ...(onProgress !== undefined ? { onProgress } : {}),
        ...(opts.signal !== undefined ? { signal: opts.signal } : {}),
      }),
      failed,
      nicFailure,
    ]);
    devmem?.workloadEnded();
    zcrx?.workloadEnded();
    // The workload counted the torn-down queue's failed I/O; the run names the queue and why in one line.
    const lost = ctrl.ioQueues.find((q) => q.error !== undefined);
    // (Queues this run reset itself after an interrupt's grace are not the target's doing.)
    if (lost !== undefined && !cut) error = describe(lost.error);
    await ctrl.shutdown();
  } catch (e) {
    error = describe(e);
    ctrl?.abort();
  } finally {
    clearTimeout(graceTimer);
    opts.signal?.removeEventListener('abort', onInterrupt);
    await stack.close();
    await built.close();
  }
  const hostThread = cpuTimeSince(thread0, threadCpuUsage());
  const interrupted = opts.signal?.aborted === true;
  // A devmem page pool that ran dry looks like a target that does not answer: say what happened.
  if (error !== undefined && devmem !== undefined) error = devmem.explainFailure(error);
  if (opts.hashReads !== undefined) writeReadHashes(opts.hashReads, readHashes);
  const host = ctrl?.stats();
  const hostStats = host ?? newNvmeHostStats();
  const ddpStats = built.ddpDevice?.getStats() ?? newUlpDdpStats();
  return {
    ok: error === undefined && workload !== undefined && workload.ok && !interrupted,
    ...(error !== undefined ? { error } : {}),
    ...(interrupted ? { interrupted: true as const } : {}),
    ...(workload !== undefined ? { workload } : {}),
    host: { ...hostStats, crcBytes: hostBytesCrc(hostStats) },
    nic: { ...nic.stats, ...ddpStats },
    ddp: ddpReport(ddpModeOf(offload), sumNvmeHostStats(ctrl?.ioQueues.map((q) => q.stats) ?? []), ddpStats, ddp?.stats() ?? newNvmeDdpUlpStats(), {
      ulp: ddpSettings.ulp,
      nic: ddpSettings.nic ?? DEFAULT_NIC_PROFILE,
      limits: ddpLimitsWith(ddpSettings.limits),
    }),
    ...(devmem !== undefined ? { devmem: devmem.report(sumNvmeHostStats(ctrl?.ioQueues.map((q) => q.stats) ?? [])) } : {}),
    ...(zcrx !== undefined ? { zcrx: zcrx.report(sumNvmeHostStats(ctrl?.ioQueues.map((q) => q.stats) ?? [])) } : {}),
    tcp: { ...stack.tcpStats },
    port: built.portStats(),
    ...(opts.impair !== undefined && built.impairStats() !== null ? { impair: { config: opts.impair, ...built.impairStats()! } } : {}),
    ...(built.rxArenas() !== null ? { rxArenas: built.rxArenas()! } : {}),
    cpu: { ...cpuSince(cpu0), hostThread, nicThread: built.nicThreadCpu() },
  };
}

/**
 * ARP for the target (or its gateway) before the first SYN, so that a
 * target that is not there fails in one line naming the address and the
 * interface rather than as a TCP or NVMe error.
 */
async function resolveNextHop(stack: HostStack, targetIp: number, iface: string, log: (line: string) => void): Promise<void> {
  const hop = stack.nextHop(targetIp);
  const via = hop === targetIp ? '' : ` (gateway to ${ipToString(targetIp)})`;
  try {
    const mac = await stack.arp.resolve(hop);
    log(`ARP: ${ipToString(hop)}${via} is at ${macToString(mac)}`);
  } catch (e) {
    if (e instanceof ArpError) throw new ArpError(`no ARP reply from ${ipToString(hop)}${via} on ${iface}`);
    throw e;
  }
}

function cpuSince(start: NodeJS.CpuUsage): { userMs: number; systemMs: number } {
  const d = process.cpuUsage(start);
  return { userMs: d.user / 1000, systemMs: d.system / 1000 };
}

// The --target parser lives where the CLI can load it without the host stack.
export { parseTargetAddress } from './target-address.js';

/**
 * What the NIC dropped of the target's frames, so that a SYN that went
 * unanswered says what did arrive: SYN-ACKs with bad or partial checksums
 * are a peer's offloads, not an absent target.
 */
class TargetDrops {
  private readonly counts = new Map<string, number>();
  constructor(private readonly targetIp: number) {}

  readonly record = (reason: NicDropReason, info: NicDropInfo): void => {
    if (reason !== 'rx_errors' && info.srcIp !== this.targetIp) return;
    const synAck = info.tcpFlags !== undefined && (info.tcpFlags & 0x12) === 0x12;
    const key = `${reason}${synAck ? ':synack' : ''}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  };

  describe(target: string, truncated: number, acceptPartial: boolean): string {
    const n = (k: string): number => this.counts.get(k) ?? 0;
    const plural = (k: number, one: string, many: string): string => `${k} ${k === 1 ? one : many}`;
    const parts: string[] = [];
    if (n('rx_csum_partial_dropped:synack') > 0) {
      parts.push(
        `${plural(n('rx_csum_partial_dropped:synack'), 'SYN-ACK', 'SYN-ACKs')} arrived with partial TCP checksums (the peer's tx checksum offload) and the NIC dropped them` +
          (acceptPartial ? '' : ' because --no-accept-partial-csum was given'),
      );
    }
    if (n('rx_csum_errors:synack') > 0) parts.push(`${plural(n('rx_csum_errors:synack'), 'SYN-ACK', 'SYN-ACKs')} arrived with bad TCP checksums and the NIC dropped them`);
    if (n('rx_no_flow:synack') > 0) parts.push(`${plural(n('rx_no_flow:synack'), 'SYN-ACK', 'SYN-ACKs')} arrived for no connection of ours (wrong port or sequence)`);
    const other = n('rx_csum_partial_dropped') + n('rx_csum_errors') + n('rx_no_flow');
    if (other > 0) parts.push(`${plural(other, 'other frame', 'other frames')} from ${target} dropped (checksum or no connection)`);
    if (truncated > 0) parts.push(`${plural(truncated, 'frame was', 'frames were')} cut short by the capture (larger than the interface's MTU)`);
    if (n('rx_errors') > 0) parts.push(`${plural(n('rx_errors'), 'frame', 'frames')} did not parse`);
    return parts.length > 0 ? parts.join('; ') : `no TCP segment from ${target} reached the NIC`;
  }
}

/** The NIC as a run uses it, wherever it runs. */
interface BuiltNic {
  readonly nic: NicLink & { readonly stats: NicRxStats; onDrop: ((reason: NicDropReason, info: NicDropInfo) => void) | undefined };
  readonly ddpDevice: DdpDeviceOps | undefined;
  portStats(): PortStats;
  impairStats(): { rx: ImpairStats; tx: ImpairStats } | null;
  nicThreadCpu(): CpuTime | null;
  /** The NIC thread's receive arenas; null when the NIC runs in the host thread. */
  rxArenas(): RxArenaStats | null;
  close(): Promise<void>;
}

interface NicBuildArgs {
  readonly mac: Buffer;
  readonly mtu: number;
  readonly offload: OffloadMode;
  readonly ddpSettings: DdpHostSettings;
  readonly acceptPartial: boolean;
  readonly filter: string;
}

function ddpCaps(offload: OffloadMode): { 'nvme-tcp': boolean; 'nvme-tcp-ddgst-rx': boolean } {
  return { 'nvme-tcp': true, 'nvme-tcp-ddgst-rx': usesCrcOffload(offload) };
}

/** The NIC in the host's thread: port, impairment, capture tap, NicEmu and the DDP device, all here. */
async function nicInThread(opts: HostRunOptions, a: NicBuildArgs): Promise<BuiltNic> {
  const live = openLivePort({ iface: opts.iface, filter: a.filter, superFrames: opts.superFrames ?? false });
  const impaired = opts.impair !== undefined ? withImpairment(live, opts.impair) : undefined;
  const port: Port = opts.capture !== undefined ? withCapture(impaired ?? live, opts.capture) : (impaired ?? live);
  const nic = new NicEmu(port, { mac: a.mac, acceptPartialChecksums: a.acceptPartial, mtu: a.mtu });
  const ddpDevice = usesDdpEngine(a.offload)
    ? new NvmeTcpDdpDevice(nic, {
        limits: a.ddpSettings.limits,
        caps: ddpCaps(a.offload),
        nicTcpOracle: a.ddpSettings.nicTcp?.oracle ?? false,
        nicTcpChecks: a.ddpSettings.nicTcp?.checks ?? false,
        profile: a.ddpSettings.nic ?? DEFAULT_NIC_PROFILE,
      })
    : undefined;
  return {
    nic,
    ddpDevice,
    portStats: () => port.stats,
    impairStats: () => impaired?.impairStats() ?? null,
    nicThreadCpu: () => null,
    rxArenas: () => null,
    close: () => port.close(),
  };
}

/** The NIC on its own thread (src/nicemu/thread/): the same parts, built there. */
async function nicOnThread(opts: HostRunOptions, a: NicBuildArgs, onFailed: (e: Error) => void): Promise<BuiltNic> {
  const nic = await NicThread.start(
    {
      iface: opts.iface,
      filter: a.filter,
      superFrames: opts.superFrames ?? false,
      mac: [...a.mac],
      mtu: a.mtu,
      acceptPartialChecksums: a.acceptPartial,
      gro: opts.gro ?? true,
      ...(opts.impair !== undefined ? { impair: opts.impair } : {}),
      ...(opts.capture !== undefined ? { capturePath: opts.capture } : {}),
      ...(usesDdpEngine(a.offload)
        ? {
            ddp: {
              ...(a.ddpSettings.limits !== undefined ? { limits: a.ddpSettings.limits } : {}),
              caps: ddpCaps(a.offload),
              nicTcpChecks: a.ddpSettings.nicTcp?.checks ?? false,
              profile: a.ddpSettings.nic ?? DEFAULT_NIC_PROFILE,
            },
          }
        : {}),
    },
    onFailed,
  ).catch((e: unknown) => {
    if (e instanceof PortError && e.code === 'LIBPCAP_MISSING') throw new UserError('LIBPCAP_MISSING', e.message);
    throw e;
  });
  return {
    nic,
    ddpDevice: nic.ddp,
    portStats: () => nic.portStats,
    impairStats: () => nic.impairStats,
    nicThreadCpu: () => nic.cpu,
    rxArenas: () => nic.rxArenas,
    close: () => nic.close(),
  };
}
