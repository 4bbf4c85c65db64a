/**
 * `ddplab run`: one end-to-end run on the live topology. Builds the
 * namespaces, starts the target (kernel TCP) in one and the host (libpcap
 * port → software NIC → userspace TCP → NVMe/TCP host → workload) in the
 * other as two processes, shows progress, and returns the report; the
 * topology is removed on every exit path (withTopology).
 */
import { resolve } from 'node:path';
import { DDPLAB_BIN } from '../base/paths.js';
import { workloadHostArgs, type WorkloadOptions } from '../host/workload/options.js';
import type { WorkloadProgress } from '../host/workload/workload.js';
import { UserError } from '../base/errors.js';
import type { OffloadMode } from '../host/offload-mode.js';
import { devmemArgs, impairArgs, timeoutArgs } from './host-argv.js';
import type { DevmemRunOptions } from './devmem-host.js';
import { ddpHostArgs, type DdpHostSettings } from '../host/nvme/ddp-settings.js';
import type { ImpairConfig } from '../nicemu/port/impair.js';
import { kernelTcpDelta, readKernelTcpCounters, type KernelTcpCounters } from './kernel-tcp-stats.js';
import type { DigestChoice, HostRunReport, HostTimeouts } from './host-run.js';
import { runReportFromHost, type RunReport } from './run-report.js';
import { nodeProcessCpu } from './target-cpu.js';
import { cpuTimeSince, type CpuTime } from '../base/thread-cpu.js';
import { RunChild } from './child.js';
import { withInterrupt } from './interrupt.js';
import { HOST_IF, HOST_IP, netnsCommand, TARGET_IP, withTopology, type Topology } from './topology.js';

export { runReportFromHost, type RunReport } from './run-report.js';

const NVME_PORT = 4420;

export interface RunOptions {
  readonly workload: WorkloadOptions;
  readonly queues: number;
  readonly digest: DigestChoice;
  /** NIC offload of the host's NVMe/TCP queues, or devmem receive (default none). */
  readonly offload?: OffloadMode;
  /** Devmem pool, token return path and hold (offload devmem-*). */
  readonly devmem?: DevmemRunOptions;
  /** DDP: the ULP's data-digest fallback and the limits (offload ddp, ddp-crc; default: ddplab host's). */
  readonly ddpSettings?: DdpHostSettings;
  readonly order: 'fifo' | 'random' | 'reverse';
  readonly interleave: boolean;
  /** Largest C2HData payload the target sends (0 = whole transfer). */
  readonly c2hSize: string;
  readonly profile: 'linux' | 'spdk';
  readonly mtu: number;
  /** Leave the kernel's TSO/GSO/GRO on the veth pair: host0 then sees super-frames with partial checksums. */
  readonly vethOffloads: boolean;
  /** The target kernel's congestion control towards the host (default TARGET_CC, cubic). */
  readonly targetCc?: string;
  readonly capture?: string;
  /** The host writes every read's SHA-256 here (see src/replay/live-read-hashes.ts). */
  readonly hashReads?: string;
  /** The software NIC on its own thread (default true; false: --no-nic-thread, in the host's thread). */
  readonly nicThread?: boolean;
  /** Linux's GRO on the NIC thread (default true): false passes --no-gro to the host. */
  readonly gro?: boolean;
  /** Seeded impairment in the host process (its seed is passed as the workload seed). */
  readonly impair?: ImpairConfig;
  /** How long the host waits for the target (default: ddplab host's). */
  readonly timeouts?: HostTimeouts;
  /** Extra `ddplab target` flags (advanced). */
  readonly targetArgs?: readonly string[];
  readonly id?: string;
  readonly onProgress?: (p: WorkloadProgress) => void;
  readonly log?: (line: string) => void;
  /**
   * Stops the run early (SIGINT/SIGTERM, see interrupt.ts): the host is told
   * to stop (SIGINT: no new I/O, a grace for the commands in flight) and to
   * report; the target is stopped; the report says `interrupted`.
   */
  readonly signal?: AbortSignal;
}

/** How long an interrupted host may take to report (its grace, then an orderly shutdown) before it is stopped. */
const HOST_REPORT_WAIT_MS = 20_000;

function targetCommand(o: RunOptions): string[] {
  const args = [
    process.execPath,
    DDPLAB_BIN,
    'target',
    '--listen',
    `${TARGET_IP}:${NVME_PORT}`,
    '--profile',
    o.profile,
    '--seed',
    String(o.workload.seed ?? 1),
    '--order',
    o.order,
    '--c2h-size',
    o.c2hSize,
    '--json',
    '--quiet',
  ];
  if (o.interleave) args.push('--interleave');
  if (o.targetArgs) args.push(...o.targetArgs);
  return args;
}

/**
 * V8 flags for the host process: a young generation that starts at 16 MiB
 * semi-spaces instead of growing from 1 MiB. Every received segment leaves
 * short-lived objects in both threads (V8 flags are process-wide, so the NIC
 * thread's isolate gets it too); with small semi-spaces a 1 GiB read at
 * MTU 1500 ran 530 scavenges (0.5 s), with 16 MiB 176 (0.25 s).
 */
export const HOST_NODE_FLAGS = ['--min-semi-space-size=16'];

function hostCommand(o: RunOptions): string[] {
  const w = o.workload;
  const args = [
    process.execPath,
    ...HOST_NODE_FLAGS,
    DDPLAB_BIN,
    'host',
    '--iface',
    HOST_IF,
    '--host-ip',
    HOST_IP,
    '--target',
    `${TARGET_IP}:${NVME_PORT}`,
    '--digest',
    o.digest,
    '--offload',
    o.offload ?? 'none',
    '--queues',
    String(o.queues),
    ...workloadHostArgs(w),
    '--progress-json',
    '--quiet',
  ];
  args.push(...timeoutArgs(o.timeouts));
  if (o.capture !== undefined) args.push('--capture', resolve(o.capture));
  if (o.hashReads !== undefined) args.push('--hash-reads', resolve(o.hashReads));
  if (o.nicThread === false) args.push('--no-nic-thread');
  if (o.gro === false) args.push('--no-gro');
  // The host seeds the impairment with --seed: the config's seed must be that one.
  if (o.impair !== undefined && o.impair.seed !== (w.seed ?? 1)) {
    throw new UserError('BAD_FLAG', `impairment seed ${o.impair.seed} differs from the run seed ${w.seed ?? 1}`);
  }
  args.push(...impairArgs(o.impair));
  args.push(...devmemArgs(o.devmem));
  args.push(...ddpHostArgs(o.ddpSettings));
  // With TSO/GSO on, veth hands host0 super-frames whose TCP checksum only
  // holds the pseudo-header sum: nothing on a veth ever finishes it.
  if (o.vethOffloads) args.push('--accept-partial-csum');
  return args;
}

/** (A function, so that TypeScript does not keep an earlier check's answer: the signal can come at any await.) */
function aborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

function interruptedError(signal: AbortSignal, when: string): UserError {
  return new UserError('INTERRUPTED', `interrupted by ${String(signal.reason ?? 'a signal')} ${when}: no report`);
}

async function waitListening(target: RunChild, timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (signal !== undefined && aborted(signal)) throw interruptedError(signal, 'before the target listened');
    if (target.stdoutLines.some((l) => l.startsWith('listening on'))) return;
    if (!target.running) {
      const exit = await target.exited;
      throw new UserError('TARGET_FAILED', `target did not start (${RunChild.describeExit(exit)}): ${target.lastError()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new UserError('TARGET_FAILED', `target did not report listening within ${timeoutMs} ms`);
}

function parseJsonObject(lines: readonly string[]): unknown {
  // The target prints a multi-line JSON object at exit, after its "listening" line.
  const start = lines.findIndex((l) => l.startsWith('{'));
  if (start < 0) return undefined;
  try {
    return JSON.parse(lines.slice(start).join('\n'));
  } catch {
    return undefined;
  }
}

/** Runs target and host on an existing topology (benchmarks reuse one topology for several runs). */
export async function runOnTopology(topo: Topology, o: RunOptions): Promise<RunReport> {
  const kernelTcp = (): Promise<KernelTcpCounters | undefined> =>
    readKernelTcpCounters(topo.id, 'tgt').catch((e: unknown) => {
      o.log?.(`target TCP counters not read: ${e instanceof Error ? e.message : String(e)}`);
      return undefined;
    });
  if (o.signal !== undefined && aborted(o.signal)) throw interruptedError(o.signal, 'before the target started');
  const tcp0 = await kernelTcp();
  const tc = netnsCommand(topo.id, 'tgt', targetCommand(o));
  // Both children in process groups of their own: a Ctrl-C reaches only this process, which tells each what to do.
  const target = new RunChild('target', tc.file, tc.args, {}, { ownProcessGroup: true });
  let host: RunChild | undefined;
  let hostDeadline: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    await waitListening(target, 15_000, o.signal);
    // The target's CPU counts from here (its start-up, module loading included, is not the run's).
    const targetCpu0 = nodeProcessCpu(target.proc.pid);
    o.log?.(`target listening on ${TARGET_IP}:${NVME_PORT} in ${topo.tgtNs}`);
    const hc = netnsCommand(topo.id, 'host', hostCommand(o));
    host = new RunChild('host', hc.file, hc.args, {
      onStderrLine: (line) => {
        if (!line.startsWith('{"progress"')) return;
        try {
          o.onProgress?.((JSON.parse(line) as { progress: WorkloadProgress }).progress);
        } catch {
          // a torn line: the next one carries the same information
        }
      },
    }, { ownProcessGroup: true });
    // Interrupted: the host stops issuing, lets the commands in flight
    // complete (its grace) and writes its report; one that does not within
    // HOST_REPORT_WAIT_MS is stopped (and the run has no report).
    const h = host;
    onAbort = (): void => {
      h.signal('SIGINT');
      hostDeadline = setTimeout(() => void h.stop(3000), HOST_REPORT_WAIT_MS);
    };
    if (aborted(o.signal)) onAbort();
    else o.signal?.addEventListener('abort', onAbort, { once: true });
    // Whichever ends first: a target that dies mid-run is reported as such,
    // even though the host will also fail (its connections are gone).
    const first = await Promise.race([host.exited.then(() => 'host' as const), target.exited.then(() => 'target' as const)]);
    let targetDied: string | undefined;
    if (first === 'target') {
      targetDied = `target process ended mid-run (${RunChild.describeExit(await target.exited)})`;
      await host.stop(10_000);
    }
    const hostExit = await host.exited;
    const reportLine = host.stdoutLines.find((l) => l.startsWith('{'));
    if (reportLine === undefined) {
      if (o.signal !== undefined && aborted(o.signal) && targetDied === undefined) throw interruptedError(o.signal, 'and the host did not report in time');
      const why = targetDied ?? `host process ended without a report (${RunChild.describeExit(hostExit)})`;
      const detail = host.lastError();
      throw new UserError('RUN_FAILED', detail !== '' && targetDied === undefined ? `${why}: ${detail}` : why);
    }
    const hr = JSON.parse(reportLine) as HostRunReport;
    // The workload is over: the target's CPU before it is told to stop (null if it died or was never found).
    const targetCpu1 = targetDied === undefined ? nodeProcessCpu(target.proc.pid) : undefined;
    const targetCpu: CpuTime | null =
      targetCpu0 !== undefined && targetCpu1 !== undefined && targetCpu1.pid === targetCpu0.pid ? cpuTimeSince(targetCpu0.cpu, targetCpu1.cpu) : null;
    await target.stop();
    const targetStats = parseJsonObject(target.stdoutLines);
    const tcp1 = await kernelTcp();
    const targetTcp = tcp0 !== undefined && tcp1 !== undefined ? kernelTcpDelta(tcp0, tcp1) : undefined;
    // The host says `interrupted` whenever it was told to stop — also when this run stopped it because
    // the target died: only a signal to this run makes the run interrupted.
    const { interrupted: _hostStopped, ...base } = runReportFromHost(hr, {
      id: topo.id,
      mtu: topo.mtu,
      digest: o.digest,
      offload: o.offload ?? 'none',
      order: o.order,
      interleave: o.interleave,
      c2hSize: o.c2hSize,
      profile: o.profile,
      queues: o.queues,
      targetCc: topo.targetCc,
    });
    const error = targetDied ?? hr.error;
    const interrupted = aborted(o.signal);
    return {
      ...base,
      ok: hr.ok && targetDied === undefined && !interrupted,
      ...(interrupted ? { interrupted: true as const } : {}),
      ...(error !== undefined ? { error } : {}),
      cpu: { ...base.cpu, target: targetCpu },
      ...(targetStats !== undefined ? { target: targetStats } : {}),
      ...(targetTcp !== undefined ? { targetTcp } : {}),
    };
  } finally {
    clearTimeout(hostDeadline);
    if (onAbort !== undefined) o.signal?.removeEventListener('abort', onAbort);
    if (host?.running) await host.stop();
    if (target.running) await target.stop();
  }
}

/**
 * One run on a topology of its own. SIGINT/SIGTERM stop it with a report
 * (interrupt.ts); a second one removes the topology and quits at once.
 */
export function run(o: RunOptions): Promise<RunReport> {
  return withInterrupt((interrupt) =>
    withTopology({ ...(o.id !== undefined ? { id: o.id } : {}), mtu: o.mtu, vethOffloads: o.vethOffloads, ...(o.targetCc !== undefined ? { targetCc: o.targetCc } : {}) }, (topo) =>
      runOnTopology(topo, { ...o, signal: o.signal ?? interrupt.signal }),
    ),
  );
}
