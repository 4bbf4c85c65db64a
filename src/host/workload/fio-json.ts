/**
 * fio's JSON layout (`fio --output-format=json`) of a workload report, for
 * the tools that read fio's output: `jobs[0].read.iops`, `.bw` (KiB/s),
 * `.clat_ns.percentile["99.000000"]`... ddplab runs one job; its reads and
 * writes are the job's `read` and `write` blocks, `trim` and `sync` are
 * zero. What ddplab does not measure is left out rather than made up:
 * submission latency (slat_ns is zero: a command's clock starts when the
 * workload issues it), the sampled bandwidth/IOPS (bw_min, bw_mean,
 * iops_mean...), the I/O depth and latency distributions.
 */
import type { LatencyNs } from './latency-histogram.js';
import type { BlockSizeChoice, ResolvedWorkload } from './options.js';
import type { WorkloadDirStats, WorkloadReport } from './workload.js';

/** ddplab's version, as `"fio version"` names it ("ddplab-<version>"). */
import { DDPLAB_VERSION } from '../../base/version.js';

export { DDPLAB_VERSION };

/** fio's errno for a job whose reads did not verify (EILSEQ), and for failed I/O (EIO). */
const EILSEQ = 84;
const EIO = 5;

const ZERO_LAT: LatencyNs = { min: 0, max: 0, mean: 0, stddev: 0, N: 0 };

/** One direction as fio's JSON gives it. */
export interface FioDirJson {
  readonly io_bytes: number;
  /** KiB. */
  readonly io_kbytes: number;
  /** Bytes per second. */
  readonly bw_bytes: number;
  /** KiB per second. */
  readonly bw: number;
  readonly iops: number;
  /** ms. */
  readonly runtime: number;
  readonly total_ios: number;
  readonly short_ios: number;
  readonly drop_ios: number;
  readonly slat_ns: LatencyNs;
  readonly clat_ns: LatencyNs;
  readonly lat_ns: LatencyNs;
}

export interface FioJobJson {
  readonly jobname: string;
  readonly groupid: number;
  /** 0, or an errno: 84 (EILSEQ) reads did not verify, 5 (EIO) I/O failed or the run failed. */
  readonly error: number;
  readonly eta: number;
  /** s. */
  readonly elapsed: number;
  readonly 'job options': Readonly<Record<string, string>>;
  readonly read: FioDirJson;
  readonly write: FioDirJson;
  readonly trim: FioDirJson;
  readonly sync: { readonly total_ios: number; readonly lat_ns: LatencyNs };
  /** ms. */
  readonly job_runtime: number;
  /** % of job_runtime. */
  readonly usr_cpu: number;
  readonly sys_cpu: number;
  readonly ctx: number;
  readonly majf: number;
  readonly minf: number;
}

/** The fio keys a run report carries beside ddplab's own. */
export interface FioLayout {
  readonly 'fio version': string;
  /** s since the epoch. */
  readonly timestamp: number;
  readonly timestamp_ms: number;
  readonly time: string;
  readonly 'global options': Readonly<Record<string, string>>;
  readonly jobs: readonly FioJobJson[];
  readonly disk_util: readonly never[];
}

export function fioDirJson(d: WorkloadDirStats | undefined): FioDirJson {
  const clat = d?.clatNs ?? ZERO_LAT;
  const { percentile: _p, ...lat } = clat;
  void _p;
  return {
    io_bytes: d?.bytes ?? 0,
    io_kbytes: Math.floor((d?.bytes ?? 0) / 1024),
    bw_bytes: Math.round(d?.bwBytes ?? 0),
    bw: Math.round((d?.bwBytes ?? 0) / 1024),
    iops: d?.iops ?? 0,
    runtime: Math.round(d?.runtimeMs ?? 0),
    total_ios: d?.ios ?? 0,
    short_ios: 0,
    drop_ios: 0,
    slat_ns: ZERO_LAT,
    clat_ns: clat,
    lat_ns: lat,
  };
}

function sizesText(list: readonly BlockSizeChoice[]): string {
  if (list.length === 1) return String(list[0]!.bytes);
  const total = list.reduce((a, b) => a + b.weight, 0);
  return list.map((b) => `${b.bytes}/${Number(((b.weight / total) * 100).toFixed(2))}`).join(':');
}

/** The resolved job in fio's option names (values in bytes, seconds). */
export function fioJobOptions(job: ResolvedWorkload, name: string): Record<string, string> {
  const r = job.bsByDir.read;
  const w = job.bsByDir.write;
  const single = r.length === 1 && w.length === 1;
  const out: Record<string, string> = { name, rw: job.rw };
  if (single) out['bs'] = r[0]!.bytes === w[0]!.bytes ? String(r[0]!.bytes) : `${r[0]!.bytes},${w[0]!.bytes}`;
  else out['bssplit'] = sizesText(r) === sizesText(w) ? sizesText(r) : `${sizesText(r)},${sizesText(w)}`;
  out['iodepth'] = String(job.iodepth);
  out['offset'] = String(job.offsetBytes);
  out['size'] = String(job.rangeBytes);
  if (Number.isFinite(job.sizeBytes) && job.sizeBytes !== job.rangeBytes) out['io_size'] = String(job.sizeBytes);
  if (job.rw === 'randrw') out['rwmixread'] = String(job.readPct);
  if (Number.isFinite(job.timeMs)) out['runtime'] = String(job.timeMs / 1000);
  if (job.timeBased) out['time_based'] = '1';
  if (job.rampMs > 0) out['ramp_time'] = String(job.rampMs / 1000);
  out['randseed'] = String(job.seed);
  out['numjobs'] = '1';
  if (job.verify) out['verify'] = 'pattern';
  return out;
}

/** C's ctime() layout, as fio's "time" ("Mon Dec  7 13:59:26 2026"), in UTC. */
export function ctimeUtc(ms: number): string {
  const d = new Date(ms);
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][d.getUTCDay()]!;
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getUTCMonth()]!;
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${day} ${mon} ${String(d.getUTCDate()).padStart(2, ' ')} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
}

/**
 * The fio layout of a run: one job, named as the workload's, from its report
 * (absent: the run never reached I/O — zeros, and error EIO).
 */
export function fioLayout(
  w: WorkloadReport | undefined,
  o: { readonly ok: boolean; readonly cpu: { readonly userMs: number; readonly systemMs: number }; readonly nowMs: number },
): FioLayout {
  const name = w?.job.name ?? 'ddplab';
  const runtimeMs = Math.round(w?.elapsedMs ?? 0);
  const error = w === undefined ? EIO : w.verify.mismatches > 0 ? EILSEQ : w.errors.count > 0 || !o.ok ? EIO : 0;
  const pct = (ms: number): number => (runtimeMs > 0 ? (ms / runtimeMs) * 100 : 0);
  const job: FioJobJson = {
    jobname: name,
    groupid: 0,
    error,
    eta: 0,
    elapsed: Math.round(runtimeMs / 1000),
    'job options': w !== undefined ? fioJobOptions(w.job, name) : { name },
    read: fioDirJson(w?.read),
    write: fioDirJson(w?.write),
    trim: fioDirJson(undefined),
    sync: { total_ios: 0, lat_ns: ZERO_LAT },
    job_runtime: runtimeMs,
    usr_cpu: pct(o.cpu.userMs),
    sys_cpu: pct(o.cpu.systemMs),
    ctx: 0,
    majf: 0,
    minf: 0,
  };
  return {
    'fio version': `ddplab-${DDPLAB_VERSION}`,
    timestamp: Math.floor(o.nowMs / 1000),
    timestamp_ms: o.nowMs,
    time: ctimeUtc(o.nowMs),
    'global options': {},
    jobs: [job],
    disk_util: [],
  };
}
