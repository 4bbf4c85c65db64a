/**
 * `ddplab bench`: a sweep of end-to-end runs over a grid of impairment and
 * offload settings, on one topology, answering the question a reviewer put
 * to the DDP series in 2020 — what does dropping 1 in 1000, 1 in 10,000,
 * 1 in 100,000 packets do to placement and to throughput?
 *
 * Grid axes: loss toward the host (--drop), reordering (--reorder), offload
 * mode, workload (rw, bs); several seeds per point. Each run is a normal
 * `ddplab run` (runOnTopology) with its report kept whole, plus the figures
 * the sweep compares (BenchRunMetrics). The transfer size can be chosen
 * so that the smallest loss rate yields some loss events at all: at 1e-5
 * and 1448 payload bytes per frame, 64 MiB is 46k frames — less than one
 * expected drop.
 */
import { cpus, loadavg, release } from 'node:os';
import type { WorkloadRw } from '../../host/workload/options.js';
import type { ImpairConfig, ImpairSpec } from '../../nicemu/port/impair.js';
import { impairLossEvents } from '../../nicemu/port/impair.js';
import type { WorkloadProgress } from '../../host/workload/workload.js';
import type { DigestChoice } from '../host-run.js';
import { OFFLOAD_MODES, usesDdpEngine, type OffloadMode } from '../../host/offload-mode.js';
import { runOnTopology, type RunOptions, type RunReport } from '../run.js';
import type { NicProfile } from '../../nicemu/ddp/nic-profile.js';
import { DEFAULT_DDP_HOST_SETTINGS } from '../../host/nvme/ddp-settings.js';
import { withTopology, type Topology } from '../topology.js';

export { OFFLOAD_MODES, type OffloadMode };

export interface BenchGrid {
  readonly drop: readonly number[];
  readonly reorder: readonly number[];
  readonly offload: readonly OffloadMode[];
  /** NIC profiles, swept for the modes that run the DDP engine (absent in older report.json files). */
  readonly nic?: readonly NicProfile[];
  readonly rw: readonly WorkloadRw[];
  /** Block sizes, one per point ("4k", "128k"). */
  readonly bs: readonly string[];
}

/** Bytes per run: fixed, or chosen from the sweep's smallest loss rate (see sweepSizeBytes). */
export type BenchSize = { readonly kind: 'fixed'; readonly bytes: number } | { readonly kind: 'auto'; readonly minLossEvents: number; readonly minBytes: number; readonly maxBytes: number };

export interface BenchOptions {
  readonly grid: BenchGrid;
  /** Runs per point, seeds seedBase, seedBase+1, ... */
  readonly seeds: number;
  readonly seedBase: number;
  readonly size: BenchSize;
  readonly iodepth: number;
  readonly queues: number;
  readonly digest: DigestChoice;
  readonly mtu: number;
  readonly order: 'fifo' | 'random' | 'reverse';
  readonly interleave: boolean;
  readonly c2hSize: string;
  /** How reordered frames are held (both directions). */
  readonly reorderDepth?: number;
  readonly reorderUs?: number;
  /** Extra impairment on every point (bursty loss, duplication, corruption, the host's own transmissions). */
  readonly extraRx?: Omit<ImpairSpec, 'drop' | 'reorder' | 'reorderDepth' | 'reorderUs'>;
  readonly tx?: ImpairSpec;
  readonly id?: string;
  readonly onRunStart?: (k: number, total: number, point: BenchPoint) => void;
  readonly onRunProgress?: (p: WorkloadProgress) => void;
  readonly onRunDone?: (run: BenchRun, k: number, total: number) => void;
  readonly log?: (line: string) => void;
  /** Replaces runOnTopology (tests). */
  readonly runPoint?: (topo: Topology, o: RunOptions) => Promise<RunReport>;
}

/** One cell of the grid (no seed). */
export interface BenchCell {
  readonly drop: number;
  readonly reorder: number;
  readonly offload: OffloadMode;
  /** The NIC profile, for modes that run the DDP engine. */
  readonly nic?: NicProfile;
  readonly rw: WorkloadRw;
  readonly bs: string;
}

export interface BenchPoint extends BenchCell {
  readonly seed: number;
  readonly sizeBytes: number;
}

/** The figures a sweep compares, from one run's report. */
export interface BenchRunMetrics {
  readonly ok: boolean;
  readonly error?: string;
  readonly mismatches: number;
  readonly verifiedBytes: number;
  readonly readBytes: number;
  readonly writeBytes: number;
  readonly elapsedMs: number;
  /** Read + write payload, 10^6 bytes per second. */
  readonly goodputMBps: number;
  /** CPU time of the whole host process (NIC model included) per GiB moved. */
  readonly hostCpuMsPerGiB: number;
  /**
   * The same without the NIC model: the NIC thread's CPU when it ran on
   * one, else the DDP engine's own time (rx-nvme-tcp-engine-us: the
   * placement copies and CRC32C a real NIC does in hardware).
   */
  readonly hostCpuMsPerGiBWithoutNic: number;
  /** Bytes the host's copy routine copied (PDU headers and every payload byte not already in place). */
  readonly hostCopiedBytes: number;
  /** Bytes the host CRC'd itself (digests the NIC did not vouch for). */
  readonly hostCrcBytes: number;
  /** Frames toward the host that entered the impairment stage. */
  readonly rxFrames: number;
  /** Frames toward the host lost in the stage or corrupted (the NIC drops those): what TCP had to repair. */
  readonly lossEvents: number;
  /**
   * Frames lost before the impairment stage saw them: the capture ring
   * (rxKernelDrops) or the port's rx queue (rxQueueDrops) overflowed. Not
   * asked for, but TCP and DDP see them as loss all the same.
   */
  readonly portDrops: number;
  readonly reorderEvents: number;
  readonly dupEvents: number;
  /** The same for the host's own transmissions. */
  readonly txLossEvents: number;
  /** Segments the target kernel retransmitted (TcpRetransSegs). */
  readonly targetRetrans: number;
  /** Segments the host queued out of order. */
  readonly hostOfo: number;
  /** DDP view; null when the run had no offload report (offload none, or a build without DDP). */
  readonly ddp: BenchDdpMetrics | null;
}

export interface BenchDdpMetrics {
  readonly placementPct: number;
  readonly c2hDataBytes: number;
  readonly placedBytes: number;
  /** C2HData bytes of offered reads the NIC did not place (loss, reordering, lost sync until resync). */
  readonly unplacedLostSyncBytes: number;
  readonly unplacedBelowThresholdBytes: number;
  readonly unplacedLimitsBytes: number;
  readonly resyncRequests: number;
  readonly resyncConfirmed: number;
  readonly lostSync: number;
}

/** The keys of fio's layout in a run report (src/host/workload/fio-json.ts): a second copy of the workload's figures. */
const FIO_LAYOUT_KEYS = ['fio version', 'timestamp', 'timestamp_ms', 'time', 'global options', 'jobs', 'disk_util'] as const;
type FioLayoutKey = (typeof FIO_LAYOUT_KEYS)[number];

/**
 * A run's report as a sweep keeps it: without the workload's own copy of
 * io/latency and without fio's layout of them (jobs[0]), with its errors.
 */
export type BenchRunReport = Omit<RunReport, 'workload' | FioLayoutKey> & { readonly workloadErrors?: { readonly count: number; readonly first: readonly string[] } };

/** The report without its workload section and fio's layout. */
function keptReport(report: RunReport): BenchRunReport {
  const { workload, ...rest } = report;
  const kept: Record<string, unknown> = { ...rest };
  for (const k of FIO_LAYOUT_KEYS) delete kept[k];
  const errors = workload?.errors;
  return { ...(kept as Omit<RunReport, 'workload' | FioLayoutKey>), ...(errors !== undefined && errors.count > 0 ? { workloadErrors: errors } : {}) };
}

export interface BenchRun {
  readonly point: BenchPoint;
  /** 1-minute load average of the machine when the run started: other work on the box skews goodput. */
  readonly loadAvg1: number;
  readonly metrics: BenchRunMetrics;
  /** null when the run failed before it produced a report. */
  readonly report: BenchRunReport | null;
}

export interface BenchResult {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly machine: { readonly cpus: number; readonly cpuModel: string; readonly kernel: string; readonly node: string };
  readonly topology: { readonly id: string; readonly mtu: number };
  readonly options: Omit<BenchOptions, 'onRunStart' | 'onRunProgress' | 'onRunDone' | 'log' | 'runPoint'>;
  readonly runs: readonly BenchRun[];
}

/** TCP payload a full-sized frame carries at this MTU (IPv4 and TCP headers with timestamps). */
export function payloadPerFrame(mtu: number): number {
  return mtu - 20 - 32;
}

/**
 * A transfer size for loss rate `p`: enough full frames that
 * `minLossEvents` losses are expected, within [minBytes, maxBytes], rounded
 * up to a MiB.
 */
export function autoSizeBytes(p: number, mtu: number, s: Extract<BenchSize, { kind: 'auto' }>): number {
  const want = p > 0 ? (s.minLossEvents / p) * payloadPerFrame(mtu) : 0;
  const mib = 1 << 20;
  const bytes = Math.ceil(Math.max(s.minBytes, Math.min(s.maxBytes, want)) / mib) * mib;
  return bytes;
}

/**
 * The one size every run of a sweep moves. Goodput depends on run length
 * (each run is a fresh host process: JIT warm-up and TCP slow start weigh
 * more on a short run — 4k reads measured 42 MB/s over 64 MiB and 125 MB/s
 * over 1 GiB), so points sized by their own loss rate would not compare.
 * Auto: sized for the smallest non-zero drop rate of the grid.
 */
export function sweepSizeBytes(o: Pick<BenchOptions, 'grid' | 'size' | 'mtu'>): number {
  if (o.size.kind === 'fixed') return o.size.bytes;
  const positive = o.grid.drop.filter((p) => p > 0);
  return autoSizeBytes(positive.length > 0 ? Math.min(...positive) : 0, o.mtu, o.size);
}

/**
 * The grid's points in run order: offload modes (and, for the modes that
 * run the DDP engine, NIC profiles) innermost, then seeds, so the series a
 * comparison sets side by side run back to back — whatever else the machine
 * is doing at that moment weighs on both alike.
 */
export function benchPoints(o: Pick<BenchOptions, 'grid' | 'seeds' | 'seedBase' | 'size' | 'mtu'>): BenchPoint[] {
  const out: BenchPoint[] = [];
  const sizeBytes = sweepSizeBytes(o);
  for (const rw of o.grid.rw) {
    for (const bs of o.grid.bs) {
      for (const reorder of o.grid.reorder) {
        for (const drop of o.grid.drop) {
          for (let k = 0; k < o.seeds; k++) {
            for (const offload of o.grid.offload) {
              const nics = o.grid.nic !== undefined && usesDdpEngine(offload) ? o.grid.nic : [undefined];
              for (const nic of nics) out.push({ drop, reorder, offload, ...(nic !== undefined ? { nic } : {}), rw, bs, seed: o.seedBase + k, sizeBytes });
            }
          }
        }
      }
    }
  }
  return out;
}

export function cellKey(c: BenchCell): string {
  return `${c.rw}|${c.bs}|${c.reorder}|${c.drop}|${c.offload}|${c.nic ?? ''}`;
}

/** The impairment of one point (undefined: a clean run). */
export function pointImpair(o: Pick<BenchOptions, 'reorderDepth' | 'reorderUs' | 'extraRx' | 'tx'>, p: BenchPoint): ImpairConfig | undefined {
  const rx: ImpairSpec = {
    ...(o.extraRx ?? {}),
    ...(p.drop > 0 ? { drop: p.drop } : {}),
    ...(p.reorder > 0
      ? { reorder: p.reorder, ...(o.reorderDepth !== undefined ? { reorderDepth: o.reorderDepth } : {}), ...(o.reorderUs !== undefined ? { reorderUs: o.reorderUs } : {}) }
      : {}),
  };
  const rxActive = Object.keys(rx).length > 0;
  if (!rxActive && o.tx === undefined) return undefined;
  return { seed: p.seed, ...(rxActive ? { rx } : {}), ...(o.tx !== undefined ? { tx: o.tx } : {}) };
}

function runOptions(o: BenchOptions, p: BenchPoint, onProgress: ((p: WorkloadProgress) => void) | undefined, log: ((l: string) => void) | undefined): RunOptions {
  const impair = pointImpair(o, p);
  return {
    workload: { rw: p.rw, bs: p.bs, iodepth: o.iodepth, queues: o.queues, size: p.sizeBytes, seed: p.seed, verify: true },
    queues: o.queues,
    digest: o.digest,
    order: o.order,
    interleave: o.interleave,
    c2hSize: o.c2hSize,
    profile: 'linux',
    mtu: o.mtu,
    offload: p.offload,
    ...(p.nic !== undefined ? { ddpSettings: { ...DEFAULT_DDP_HOST_SETTINGS, nic: p.nic } } : {}),
    vethOffloads: false,
    ...(impair !== undefined ? { impair } : {}),
    ...(onProgress !== undefined ? { onProgress } : {}),
    ...(log !== undefined ? { log } : {}),
  };
}

/**
 * CPU the NIC model took inside the host process: its whole thread when it
 * ran on one (cpu.nicThread), else the DDP engine's own time
 * (rx-nvme-tcp-engine-us, the placement and CRC a real NIC does in hardware).
 */
function nicModelMs(r: Omit<RunReport, 'workload'>): number {
  const t = r.cpu.nicThread;
  if (t !== null && t !== undefined) return t.userMs + t.systemMs;
  return (r.nic['rx-nvme-tcp-engine-us'] ?? 0) / 1000;
}

/** The sweep's figures from one report. */
export function benchMetrics(r: Omit<RunReport, 'workload'>): BenchRunMetrics {
  const rx = r.impair?.rx;
  const tx = r.impair?.tx;
  const cpuMs = r.cpu.userMs + r.cpu.systemMs;
  const gib = (r.io.readBytes + r.io.writeBytes) / 2 ** 30;
  // Without offload the report still carries a ddp object (0 % placed, every byte "below threshold"): not a DDP figure.
  const d = r.ddp !== undefined && usesDdpEngine(r.ddp.offload) ? r.ddp : undefined;
  const nic = r.nic;
  return {
    ok: r.ok,
    ...(r.error !== undefined ? { error: r.error } : {}),
    mismatches: r.verify.mismatches,
    verifiedBytes: r.verify.bytes,
    readBytes: r.io.readBytes,
    writeBytes: r.io.writeBytes,
    elapsedMs: r.io.elapsedMs,
    goodputMBps: r.io.MBps,
    hostCpuMsPerGiB: gib > 0 ? cpuMs / gib : 0,
    hostCpuMsPerGiBWithoutNic: gib > 0 ? (cpuMs - nicModelMs(r)) / gib : 0,
    hostCopiedBytes: r.host.copiedBytes,
    hostCrcBytes: r.host.crcBytes,
    rxFrames: rx?.frames ?? r.port.rxFrames,
    lossEvents: rx !== undefined ? impairLossEvents(rx) : 0,
    portDrops: r.port.rxKernelDrops + r.port.rxQueueDrops,
    reorderEvents: rx?.reordered ?? 0,
    dupEvents: rx?.duplicated ?? 0,
    txLossEvents: tx !== undefined ? impairLossEvents(tx) : 0,
    targetRetrans: r.targetTcp?.['TcpRetransSegs'] ?? 0,
    hostOfo: r.tcp.ofoQueue,
    ddp:
      d === undefined
        ? null
        : {
            placementPct: d.placementPct,
            c2hDataBytes: d.c2hDataBytes,
            placedBytes: d.placedBytes,
            unplacedLostSyncBytes: d.notPlacedBytes.lostSync,
            unplacedBelowThresholdBytes: d.notPlacedBytes.belowThreshold,
            unplacedLimitsBytes: d.notPlacedBytes.limits,
            resyncRequests: nic['rx-nvme-tcp-resync-req'],
            resyncConfirmed: nic['rx-nvme-tcp-resync'],
            lostSync: nic['rx-nvme-tcp-lost-sync'],
          },
  };
}

function failedMetrics(error: string): BenchRunMetrics {
  return {
    ok: false,
    error,
    mismatches: 0,
    verifiedBytes: 0,
    readBytes: 0,
    writeBytes: 0,
    elapsedMs: 0,
    goodputMBps: 0,
    hostCpuMsPerGiB: 0,
    hostCpuMsPerGiBWithoutNic: 0,
    hostCopiedBytes: 0,
    hostCrcBytes: 0,
    rxFrames: 0,
    lossEvents: 0,
    portDrops: 0,
    reorderEvents: 0,
    dupEvents: 0,
    txLossEvents: 0,
    targetRetrans: 0,
    hostOfo: 0,
    ddp: null,
  };
}

/**
 * Runs the sweep on a fresh topology, removed however the sweep ends. A run
 * that fails is recorded (its error kept) and the sweep goes on;
 * `onRunDone` sees every run as it ends, so a caller can write partial
 * results.
 */
export async function bench(o: BenchOptions): Promise<BenchResult> {
  return withTopology({ ...(o.id !== undefined ? { id: o.id } : {}), mtu: o.mtu, vethOffloads: false }, (topo) => benchOnTopology(topo, o));
}

/** Runs every point of the sweep on `topo`, one after the other. */
export async function benchOnTopology(topo: Topology, o: BenchOptions): Promise<BenchResult> {
  const points = benchPoints(o);
  const startedAt = new Date().toISOString();
  const runPoint = o.runPoint ?? runOnTopology;
  const runs: BenchRun[] = [];
  for (let k = 0; k < points.length; k++) {
    const p = points[k]!;
    o.onRunStart?.(k, points.length, p);
    const loadAvg1 = loadavg()[0]!;
    let run: BenchRun;
    try {
      const report = await runPoint(topo, runOptions(o, p, o.onRunProgress, o.log));
      run = { point: p, loadAvg1, metrics: benchMetrics(report), report: keptReport(report) };
    } catch (e) {
      run = { point: p, loadAvg1, metrics: failedMetrics(e instanceof Error ? e.message : String(e)), report: null };
    }
    runs.push(run);
    o.onRunDone?.(run, k, points.length);
  }
  return {
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: benchMachine(),
    topology: { id: topo.id, mtu: topo.mtu },
    options: benchOptionsRecord(o),
    runs,
  };
}

/** What the figures were measured on. */
export function benchMachine(): BenchResult['machine'] {
  const c = cpus();
  return { cpus: c.length, cpuModel: c[0]?.model ?? 'unknown', kernel: release(), node: process.version };
}

/** The options as a report records them (no callbacks). */
export function benchOptionsRecord(o: BenchOptions): BenchResult['options'] {
  const { onRunStart: _a, onRunProgress: _b, onRunDone: _c, log: _d, runPoint: _e, ...options } = o;
  return options;
}
