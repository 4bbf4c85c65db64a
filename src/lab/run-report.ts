/**
 * The report of `ddplab run` (and `ddplab run --target`): what `--json`
 * prints, built from the host process's report (HostRunReport) plus the
 * orchestrator's own fields (the run's settings, the target's counters).
 */
import type { WorkloadReport } from '../host/workload/workload.js';
import type { OffloadMode } from '../host/offload-mode.js';
import type { KernelTcpCounters } from './kernel-tcp-stats.js';
import type { DigestChoice, HostRunReport } from './host-run.js';
import { REPORT_SCHEMA_VERSION } from '../base/report-version.js';
import type { CpuTime } from '../base/thread-cpu.js';
import { fioLayout, type FioLayout } from '../host/workload/fio-json.js';

/**
 * What `ddplab run --output-format json` (`--json`) prints: ddplab's own
 * sections, and beside them fio's layout of the same run ("fio version",
 * timestamp, time, "global options", jobs[0] with its read and write
 * blocks: src/host/workload/fio-json.ts).
 */
export interface RunReport extends Partial<FioLayout> {
  /**
   * REPORT_SCHEMA_VERSION (src/base/report-version.ts). Every report run
   * prints has it, and the fio keys; optional in the type only so that
   * reports built by hand (tests, bench's fakes) need not carry them.
   */
  readonly schemaVersion?: number;
  readonly ok: boolean;
  readonly error?: string;
  /** Present (true) when SIGINT/SIGTERM stopped the run: what follows is what was done until then, neither a pass nor a fail. */
  readonly interrupted?: true;
  readonly run: {
    readonly id: string;
    readonly mtu: number;
    readonly digest: DigestChoice;
    readonly offload: OffloadMode;
    readonly order: string;
    readonly interleave: boolean;
    readonly c2hSize: string;
    readonly profile: string;
    readonly queues: number;
    /** The target kernel's TCP congestion control towards the host (topology runs; absent against an external target). */
    readonly targetCc?: string;
  };
  readonly verify: { readonly bytes: number; readonly mismatches: number };
  /** The workload's totals, with its elapsed time. */
  readonly io: Pick<WorkloadReport['io'], 'reads' | 'writes' | 'readBytes' | 'writeBytes' | 'iops' | 'MBps'> & { readonly elapsedMs: number };
  readonly latency: { readonly p50Us: number; readonly p99Us: number; readonly p999Us: number };
  readonly host: HostRunReport['host'];
  readonly nic: HostRunReport['nic'];
  readonly ddp: HostRunReport['ddp'];
  readonly devmem?: HostRunReport['devmem'];
  readonly zcrx?: HostRunReport['zcrx'];
  readonly tcp: HostRunReport['tcp'];
  readonly port: HostRunReport['port'];
  readonly impair?: HostRunReport['impair'];
  readonly rxArenas?: HostRunReport['rxArenas'];
  readonly cpu: RunCpu;
  readonly target?: unknown;
  /** The target kernel's TCP counters that moved during the run (nstat names: TcpRetransSegs, TcpExtTCPFastRetrans...). */
  readonly targetTcp?: KernelTcpCounters;
  readonly workload?: HostRunReport['workload'];
}

/**
 * CPU time of the run, in ms (docs/report.md): the host process as a whole
 * (userMs, systemMs: every thread, the NIC's, libuv's and V8's included),
 * its host thread (TCP, NVMe/TCP host, workload) and its NIC thread (null
 * when the NIC ran in the host thread), and the target process from when it
 * listened to the end of the workload (null when ddplab did not start the
 * target, or it was gone before it could be read). Kernel work done in
 * softirq (receive processing on either side of the veth) is charged to
 * whichever thread the CPU was running, not to the side it served.
 */
export interface RunCpu extends CpuTime {
  readonly hostThread: CpuTime;
  readonly nicThread: CpuTime | null;
  readonly target: CpuTime | null;
}

/** The run's cpu section: the host's figures (process, threads) and the target's. */
export function runCpu(host: HostRunReport['cpu'], target: CpuTime | null): RunCpu {
  return { userMs: host.userMs, systemMs: host.systemMs, hostThread: host.hostThread, nicThread: host.nicThread, target };
}

/**
 * The run report from the host process's report: the fields every run has,
 * whoever started the target (the topology run adds the target's own
 * counters and CPU time — cpu.target is null here —, external mode what it
 * was pointed at).
 */
export function runReportFromHost(hr: HostRunReport, run: RunReport['run'], nowMs = Date.now()): RunReport {
  const w = hr.workload;
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    ok: hr.ok,
    ...(hr.error !== undefined ? { error: hr.error } : {}),
    ...(hr.interrupted === true ? { interrupted: true as const } : {}),
    run,
    verify: { bytes: w?.verify.bytes ?? 0, mismatches: w?.verify.mismatches ?? 0 },
    io: {
      reads: w?.io.reads ?? 0,
      writes: w?.io.writes ?? 0,
      readBytes: w?.io.readBytes ?? 0,
      writeBytes: w?.io.writeBytes ?? 0,
      iops: w?.io.iops ?? 0,
      MBps: w?.io.MBps ?? 0,
      elapsedMs: w?.elapsedMs ?? 0,
    },
    latency: { p50Us: w?.latency.p50Us ?? 0, p99Us: w?.latency.p99Us ?? 0, p999Us: w?.latency.p999Us ?? 0 },
    host: hr.host,
    nic: hr.nic,
    ddp: hr.ddp,
    ...(hr.devmem !== undefined ? { devmem: hr.devmem } : {}),
    ...(hr.zcrx !== undefined ? { zcrx: hr.zcrx } : {}),
    tcp: hr.tcp,
    port: hr.port,
    ...(hr.impair !== undefined ? { impair: hr.impair } : {}),
    ...(hr.rxArenas !== undefined ? { rxArenas: hr.rxArenas } : {}),
    cpu: runCpu(hr.cpu, null),
    ...(w !== undefined ? { workload: w } : {}),
    ...fioLayout(w, { ok: hr.ok, cpu: hr.cpu, nowMs }),
  };
}
