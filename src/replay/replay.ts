/**
 * `ddplab replay`: the software NIC and the host's receive path run over a
 * capture instead of a live port (docs/design.md, "Offline"), deterministic and
 * optionally impaired.
 *
 * The capture is read once, in order. Every frame of an NVMe/TCP connection
 * (TCP port `port` on one side) goes one of two ways:
 *  - host → target: straight into the connection's host-side stream, which
 *    rebuilds what the host ULP knew — digests, commands issued, the buffer
 *    and DDP mapping of each read (replay/connection.ts);
 *  - target → host: into the NIC of the host's MAC address through its
 *    port (replay/port.ts) — optionally through the impairment stage first
 *    (nicemu/port/impair.ts, seeded, on frames toward the host only, as a lossy
 *    wire would) — then the NIC's receive path with its DDP engine, skbs,
 *    TCP reassembly and the passive host ULP.
 * Target frames are handed to the NIC in runs, each run ending where a host
 * frame comes, so every host frame takes effect exactly between the target
 * frames around it in the capture. The impairment stage runs on capture
 * time (a virtual clock), so its decisions depend on the file and the seed
 * only; the DDP device's asynchronous teardown completions run between runs.
 */
import { macToString, ETHERTYPE_IPV4, parseEthernet } from '../wire/ethernet.js';
import { IPPROTO_TCP, IPV4_MF, parseIpv4 } from '../wire/ipv4.js';
import { isPartialTcpChecksum, parseTcp, TCP_HEADER_LEN, verifyTcpChecksum, type TcpRepr } from '../wire/tcp.js';
import { needBytes, WireError } from '../wire/errors.js';
import { NicEmu } from '../nicemu/nic.js';
import { DEVICE_DEFAULT_NIC_PROFILE, type NicProfile } from '../nicemu/ddp/nic-profile.js';
import { newNicRxStats, type NicRxStats } from '../nicemu/nic-stats.js';
import type { RxFrame } from '../nicemu/port/port.js';
import { DEFAULT_REORDER_DEPTH, impairSpecActive, withImpairment, type ImpairPort, type ImpairSpec } from '../nicemu/port/impair.js';
import { NvmeTcpDdpDevice, type NvmeTcpDdpLimits } from '../nicemu/ddp/offload.js';
import { ddpLimitsWith, type DdpLimitOverrides } from '../host/nvme/ddp-settings.js';
import type { UlpMode } from '../host/nvme/ulp-mode.js';
import { UserError } from '../base/errors.js';
import type { CaptureTruncation } from '../wire/capture-reader.js';
import { usesCrcOffload, usesDdpEngine, type DdpOffloadMode } from '../host/offload-mode.js';
import { asUserError, openReplayCapture, replayTruncation } from './capture-file.js';
import { ReplayConnection } from './connection.js';
import { ReplayDdp } from './ddp.js';
import { ReplayPort } from './port.js';
import { connectionReport, totalsOf, type ReplayFrameCounts, type ReplayOptionsReport, type ReplayReport } from './report.js';


export interface ReplayOptions {
  /** The capture (pcap or pcapng, Ethernet). */
  readonly path: string;
  /** TCP port of the NVMe/TCP target (default 4420). */
  readonly port?: number;
  /** NIC offload (default none). */
  readonly offload?: DdpOffloadMode;
  /** Impairment of frames toward the host (drop, reorder, ...); absent or inactive: none. */
  readonly impair?: ImpairSpec;
  /** Seed of the impairment's decisions (default 1). */
  readonly seed?: number;
  /**
   * Verify TCP checksums strictly. By default a checksum left partial by the
   * sender's offload (the pseudo-header sum, what captures taken on the
   * sender show) is accepted; a wrong one drops the frame either way.
   */
  readonly verifyChecksums?: boolean;
  /** Put each read's C2H PDU ranges in its result (for tests and for finding a read in Wireshark). */
  readonly recordPduRanges?: boolean;
  /**
   * How the host checks a data digest the NIC did not fully verify
   * (src/host/nvme/ulp-mode.ts). Default 'reference' here; `ddplab replay`
   * defaults to 'linux' and passes it.
   */
  readonly ulp?: UlpMode;
  /** The NIC's limits over its defaults (max SGL entries, io_threshold, full CID range). */
  readonly limits?: DdpLimitOverrides;
  /** Which NIC the software NIC stands for (default here: the device's; `ddplab replay` passes 'hardware'). */
  readonly nic?: NicProfile;
}

// TCP header fields the replay reads without parsing the segment.
const TCP_SRC_PORT = 0;
const TCP_DST_PORT = 2;
const TCP_ACK_NUM = 8;
const TCP_FLAGS = 13;
/** Target frames handed to the NIC in one batch at most. */
const RUN_FRAMES = 64;

/** One host's NIC: its port, the impairment in front of it, its DDP device. */
interface HostNic {
  readonly mac: Buffer;
  readonly port: ReplayPort;
  readonly impair: ImpairPort | undefined;
  readonly nic: NicEmu;
  readonly ddp: NvmeTcpDdpDevice | undefined;
  /** Frames handed to the impairment stage (the clock holes settle by). */
  framesIn: number;
  /** Capture time of the latest frame handed over: the impairment stage's clock. */
  readonly clock: { us: number };
}

export async function replayCapture(opts: ReplayOptions): Promise<ReplayReport> {
  // A file that is no capture is refused here, before any NIC or host is built.
  const reader = await openReplayCapture(opts.path);
  const replay = new Replay(opts);
  try {
    for await (const rec of reader) replay.frame(rec.data, rec.tsSec * 1_000_000 + Math.floor(rec.tsNsec / 1000));
  } catch (e) {
    reader.close();
    throw asUserError(e, opts.path);
  }
  // A capture cut short (its writer killed) replays up to the cut; the report says what was lost.
  return replay.finish(reader.truncated);
}

class Replay {
  readonly frames: ReplayFrameCounts = {
    total: 0,
    toTarget: 0,
    toHost: 0,
    toTargetBadChecksum: 0,
    otherTcp: 0,
    otherIp: 0,
    nonIp: 0,
    malformed: 0,
  };
  private readonly port: number;
  private readonly offload: DdpOffloadMode;
  private readonly ulp: UlpMode;
  private readonly impairSpec: ImpairSpec | undefined;
  private readonly seed: number;
  private readonly strictChecksums: boolean;
  /** Frames a held-back frame may wait for in the impairment stage. */
  private readonly holdFrames: number;
  private readonly nics = new Map<string, HostNic>();
  private readonly conns: ReplayConnection[] = [];
  /** Connections by (host port, target port), then addresses. */
  private readonly byPorts = new Map<number, ReplayConnection[]>();
  /** TCP ports seen on frames of no NVMe/TCP connection, with their frame counts. */
  private readonly otherPorts = new Map<number, number>();
  private readonly deferred: (() => void)[] = [];
  private get nicProfile(): NicProfile {
    return this.opts.nic ?? DEVICE_DEFAULT_NIC_PROFILE;
  }
  private readonly nicOfConn = new Map<ReplayConnection, HostNic>();
  private lastNic: HostNic | undefined;
  private run: RxFrame[] = [];
  private runNic: HostNic | undefined;

  constructor(private readonly opts: ReplayOptions) {
    this.port = opts.port ?? 4420;
    this.offload = opts.offload ?? 'none';
    this.ulp = opts.ulp ?? 'reference';
    this.impairSpec = impairSpecActive(opts.impair) ? opts.impair : undefined;
    this.seed = opts.seed ?? 1;
    this.strictChecksums = opts.verifyChecksums === true;
    const s = this.impairSpec;
    this.holdFrames = s?.reorderDepth ?? (s?.reorderUs !== undefined ? Number.POSITIVE_INFINITY : DEFAULT_REORDER_DEPTH);
  }

  /** One captured frame, in file order. */
  frame(data: Buffer, tsUs: number): void {
    const f = this.frames;
    f.total++;
    let srcIp: number;
    let dstIp: number;
    let seg: Buffer;
    let ethSrc: Buffer;
    let ethDst: Buffer;
    try {
      const eth = parseEthernet(data);
      if (eth.ethertype !== ETHERTYPE_IPV4) {
        f.nonIp++;
        return;
      }
      const ip = parseIpv4(eth.payload);
      if (ip.protocol !== IPPROTO_TCP || (ip.flags & IPV4_MF) !== 0 || ip.fragOffsetBytes !== 0) {
        f.otherIp++;
        return;
      }
      seg = ip.payload;
      needBytes(seg, TCP_HEADER_LEN, 'tcp header');
      srcIp = ip.src;
      dstIp = ip.dst;
      ethSrc = eth.src;
      ethDst = eth.dst;
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      f.malformed++;
      return;
    }
    const srcPort = seg.readUInt16BE(TCP_SRC_PORT);
    const dstPort = seg.readUInt16BE(TCP_DST_PORT);
    if (dstPort === this.port) this.hostFrame(seg, srcIp, dstIp, ethSrc);
    else if (srcPort === this.port) this.targetFrame(data, tsUs, seg, srcIp, dstIp, ethDst);
    else {
      f.otherTcp++;
      this.otherPorts.set(srcPort, (this.otherPorts.get(srcPort) ?? 0) + 1);
      this.otherPorts.set(dstPort, (this.otherPorts.get(dstPort) ?? 0) + 1);
    }
  }

  /** Host → target: straight into the connection's host stream, between the target frames around it. */
  private hostFrame(seg: Buffer, srcIp: number, dstIp: number, hostMac: Buffer): void {
    const f = this.frames;
    // The host's own frames never go through a NIC: checked here as its NIC would check them.
    if (!verifyTcpChecksum(srcIp, dstIp, seg) && (this.strictChecksums || !isPartialTcpChecksum(srcIp, dstIp, seg))) {
      f.toTargetBadChecksum++;
      return;
    }
    let tcp: TcpRepr;
    try {
      tcp = parseTcp(seg);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      f.malformed++;
      return;
    }
    f.toTarget++;
    const conn = this.connection(srcIp, tcp.srcPort, dstIp, tcp.dstPort, hostMac);
    this.flushRun();
    conn.hostFrame(tcp, this.nicOfConn.get(conn)!.framesIn);
    this.afterStep();
  }

  /** Target → host: its ACK tells the host stream what the target had; the frame joins the run for the host's NIC. */
  private targetFrame(data: Buffer, tsUs: number, seg: Buffer, srcIp: number, dstIp: number, hostMac: Buffer): void {
    this.frames.toHost++;
    // Only the ports, flags and ACK are needed here: the NIC parses the segment itself.
    const conn = this.connection(dstIp, seg.readUInt16BE(TCP_DST_PORT), srcIp, seg.readUInt16BE(TCP_SRC_PORT), hostMac);
    conn.targetFrameSeen(seg[TCP_FLAGS]!, seg.readUInt32BE(TCP_ACK_NUM));
    const nic = this.nicOf(hostMac);
    if (this.runNic !== nic) this.flushRun();
    this.runNic = nic;
    this.run.push({ data, tsUs });
    if (this.run.length >= RUN_FRAMES) this.flushRun();
  }

  /** End of the capture (or of what a capture cut short holds): held frames out, holes declared, commands finished, the report. */
  async finish(cut?: CaptureTruncation): Promise<ReplayReport> {
    this.flushRun();
    for (const nic of this.nics.values()) {
      // Frames the impairment stage still holds go to the NIC now (close flushes them).
      if (nic.impair !== undefined) await nic.impair.close();
      this.drainDeferred();
    }
    for (const c of this.conns) {
      c.finish();
      this.drainDeferred();
    }
    if (this.conns.length === 0) throw this.noNvmeTcp(cut);
    const report = this.report();
    if (cut !== undefined) report.notes.push(cut.message);
    return { ...report, truncated: replayTruncation(cut) };
  }

  private connection(hostIp: number, hostPort: number, targetIp: number, targetPort: number, hostMac: Buffer): ReplayConnection {
    const k = ((hostPort << 16) | targetPort) >>> 0;
    let list = this.byPorts.get(k);
    if (list !== undefined) {
      for (const c of list) if (c.key.localIp === hostIp && c.key.remoteIp === targetIp) return c;
    } else {
      list = [];
      this.byPorts.set(k, list);
    }
    const conn = new ReplayConnection({
      index: this.conns.length,
      hostIp,
      hostPort,
      targetIp,
      targetPort,
      recordPduRanges: this.opts.recordPduRanges === true,
      ulp: this.ulp,
    });
    list.push(conn);
    this.conns.push(conn);
    const nic = this.nicOf(hostMac);
    this.nicOfConn.set(conn, nic);
    nic.nic.addFlow({ key: conn.key, deliver: (skb) => conn.deliver(skb) });
    if (nic.ddp !== undefined) conn.useOffload(new ReplayDdp(nic.ddp, conn.key, (cid) => conn.teardownDone(cid)));
    return conn;
  }

  private nicOf(mac: Buffer): HostNic {
    // Per frame: most captures have one host, so the last NIC is checked first, byte by byte.
    const last = this.lastNic;
    if (last !== undefined && sameMac(last.mac, mac)) return last;
    const name = macToString(mac);
    const h = this.nics.get(name);
    if (h !== undefined) {
      this.lastNic = h;
      return h;
    }
    const port = new ReplayPort();
    const clock = { us: 0 };
    // Each host's stage gets its own decisions (the first host's are the seed's own). Its clock is
    // capture time and moves only when a batch is handed over, so a timer of the stage firing
    // between batches finds nothing due that the batch did not release already.
    const impair =
      this.impairSpec === undefined ? undefined : withImpairment(port, { seed: this.seed + this.nics.size, rx: this.impairSpec }, { nowUs: () => clock.us });
    const nic = new NicEmu(impair ?? port, { mac: Buffer.from(mac), acceptPartialChecksums: !this.strictChecksums });
    const ddp =
      !usesDdpEngine(this.offload)
        ? undefined
        : new NvmeTcpDdpDevice(nic, {
            limits: this.opts.limits ?? {},
            profile: this.nicProfile,
            // The NIC's own timers (teardown latency) run between the replay's steps, like its completions.
            schedule: (fn) => void this.deferred.push(fn),
            caps: { 'nvme-tcp': true, 'nvme-tcp-ddgst-rx': usesCrcOffload(this.offload) },
            // Teardown completions run between the replay's steps, not on the event loop: deterministic.
            defer: (fn) => this.deferred.push(fn),
          });
    const host: HostNic = {
      mac: Buffer.from(mac),
      port,
      impair,
      nic,
      ddp,
      framesIn: 0,
      clock,
    };
    this.nics.set(name, host);
    this.lastNic = host;
    return host;
  }

  private flushRun(): void {
    const nic = this.runNic;
    if (nic === undefined || this.run.length === 0) return;
    const batch = this.run;
    this.run = [];
    nic.framesIn += batch.length;
    for (let i = 0; i < batch.length; i++) if (batch[i]!.tsUs > nic.clock.us) nic.clock.us = batch[i]!.tsUs;
    nic.port.deliver(batch);
    this.afterStep();
  }

  /** Between steps: deferred NIC completions, then holes the host's ACKs settled. */
  private afterStep(): void {
    this.drainDeferred();
    for (const c of this.conns) {
      if (!c.c2h.holeCovered) continue;
      c.settle(this.settledMark(this.nicOfConn.get(c)!));
      this.drainDeferred();
    }
  }

  /**
   * Holes acknowledged at or before this mark cannot be filled by a frame
   * the impairment stage holds: it holds none, or every frame it held then
   * has had its `holdFrames` later frames since.
   */
  private settledMark(nic: HostNic): number {
    if (nic.impair === undefined) return Number.POSITIVE_INFINITY;
    if (nic.impair.impairStats().rx.held === 0) return Number.POSITIVE_INFINITY;
    return nic.framesIn - this.holdFrames - 1;
  }

  private drainDeferred(): void {
    while (this.deferred.length > 0) this.deferred.shift()!();
  }

  private noNvmeTcp(cut: CaptureTruncation | undefined): UserError {
    const f = this.frames;
    const ports = [...this.otherPorts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, 8).map(([p]) => p);
    const saw =
      ports.length > 0
        ? `TCP ports seen: ${ports.join(', ')}${this.otherPorts.size > ports.length ? ', ...' : ''} — if the target listens on one of them, use --port N`
        : `no TCP at all (${f.nonIp} non-IPv4, ${f.otherIp} other IPv4, ${f.malformed} malformed frames)`;
    const short = cut === undefined ? '' : ` (the file is cut short after them, ${cut.bytes} bytes into a ${cut.what})`;
    return new UserError('NO_NVME_TCP', `${this.opts.path}: no NVMe/TCP on TCP port ${this.port} in ${f.total} frames${short}; ${saw}`);
  }

  private report(): Omit<ReplayReport, 'truncated'> {
    const connections = this.conns.map((c) => connectionReport(c));
    const nic: NicRxStats = newNicRxStats();
    let ddp: Record<string, number> | null = null;
    let impair: Record<string, number> | null = null;
    for (const h of this.nics.values()) {
      for (const k of Object.keys(nic) as (keyof NicRxStats)[]) nic[k] += h.nic.stats[k];
      if (h.ddp !== undefined) {
        ddp ??= {};
        // Time spent is not a property of the capture: leaving it out keeps the report deterministic.
        for (const [k, v] of Object.entries(h.ddp.getStats())) if (!/-(ns|us|ms)$/.test(k)) ddp[k] = (ddp[k] ?? 0) + v;
      }
      if (h.impair !== undefined) {
        impair ??= {};
        for (const [k, v] of Object.entries(h.impair.impairStats().rx)) impair[k] = (impair[k] ?? 0) + v;
      }
    }
    const reads = this.conns.flatMap((c) => c.readResults());
    return {
      file: this.opts.path,
      options: {
        port: this.port,
        offload: this.offload,
        drop: this.impairSpec?.drop ?? 0,
        reorder: this.impairSpec?.reorder ?? 0,
        seed: this.seed,
        verifyChecksums: this.strictChecksums,
        ulp: this.ulp,
        nic: this.nicProfile,
        limits: reportedLimits(ddpLimitsWith(this.opts.limits ?? {})),
      },
      frames: { ...this.frames },
      connections,
      total: totalsOf(connections),
      reads,
      nic,
      ddp,
      impair,
      notes: this.notes(connections, reads),
    };
  }

  private notes(connections: ReturnType<typeof connectionReport>[], reads: ReplayReport['reads']): string[] {
    const out: string[] = [];
    for (const c of connections) {
      for (const [dir, d] of [
        ['target→host', c.c2h],
        ['host→target', c.h2c],
      ] as const) {
        if (d.midStream) {
          out.push(
            d.firstPduSeq === null
              ? `connection ${c.index} ${dir}: the capture starts mid-connection and no PDU boundary was found`
              : `connection ${c.index} ${dir}: the capture starts mid-connection; synced at the first plausible PDU header (seq ${d.firstPduSeq}) after passing over ${d.skippedBytes} bytes`,
          );
        }
        if (d.tcp.gaps > 0) out.push(`connection ${c.index} ${dir}: ${d.tcp.gaps} gaps, ${d.tcp.gapBytes} bytes never arrived (frames missing from the capture${this.impairSpec !== undefined ? ' or dropped by the impairment' : ''})`);
        if (d.syncLost > 0) out.push(`connection ${c.index} ${dir}: PDU sync lost ${d.syncLost} times, found again ${d.resyncs} times (${d.huntSkippedBytes} bytes passed over)`);
        if (d.hdgst.mismatch > 0) out.push(`connection ${c.index} ${dir}: ${d.hdgst.mismatch} header digest mismatches (those PDUs were not acted on)`);
        if (d.ddgst.mismatch > 0) out.push(`connection ${c.index} ${dir}: ${d.ddgst.mismatch} data digest mismatches`);
      }
      if (c.terminatedFes !== null) out.push(`connection ${c.index}: the controller terminated it (C2HTermReq FES ${c.terminatedFes})`);
      if (c.unknownCidPdus > 0) out.push(`connection ${c.index}: ${c.unknownCidPdus} target PDUs for a CID with no known command`);
    }
    for (const r of reads) {
      if (r.status === 'digest-error') out.push(`read conn ${r.conn} cid ${r.cid} slba ${r.slba ?? '?'}: data digest mismatch`);
    }
    const incomplete = reads.filter((r) => r.status === 'incomplete').length;
    if (incomplete > 0) out.push(`${incomplete} reads incomplete (data missing): no SHA-256 for them`);
    return out;
  }
}

function sameMac(a: Buffer, b: Buffer): boolean {
  for (let i = 0; i < 6; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The limits a report echoes: those the host's settings can change. */
function reportedLimits(l: NvmeTcpDdpLimits): ReplayOptionsReport['limits'] {
  return { maxDdpSglLen: l.maxDdpSglLen, ioThresholdBytes: l.ioThresholdBytes, fullCcidRange: l.fullCcidRange };
}
