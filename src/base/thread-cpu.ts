/**
 * CPU time of one thread (the caller's: the main thread or a worker_thread)
 * and of another process, from Linux's /proc. process.cpuUsage() sums every
 * thread of the process; a run whose NIC has a thread of its own needs each
 * thread's share apart.
 *
 * Sources and resolution:
 * - /proc/thread-self/stat fields 14 and 15 (utime, stime) are the calling
 *   thread's user and system time in clock ticks (CLK_TCK, 100 per second on
 *   Linux: 10 ms). The kernel scales both so that they add up to the time
 *   the scheduler counted, then truncates each to whole ticks.
 * - /proc/thread-self/schedstat's first field is the thread's time on a CPU
 *   in nanoseconds, as the scheduler counted it (present whenever the kernel
 *   has CONFIG_SCHED_INFO, which every distribution kernel has).
 *   threadCpuUsage takes its total from there and splits it into user and
 *   system in the ratio of the two tick counts (all of it as user time while
 *   both counts are still 0). The total (userMs + systemMs) is then exact to
 *   the microsecond; each part is good to about one tick, and between two
 *   close readings a part may step back by up to a tick while the total
 *   never does (cpuTimeSince clamps each part at 0). Without schedstat the
 *   tick counts alone are used (each part to one tick).
 * - processCpuOf(pid) reads /proc/<pid>/stat: every thread of that process,
 *   the dead ones included, the same figures getrusage() and
 *   process.cpuUsage() give for their own process, in whole ticks.
 *
 * CLK_TCK is the kernel's AT_CLKTCK entry in /proc/self/auxv (the value
 * sysconf(_SC_CLK_TCK) and `getconf CLK_TCK` return), read once; 100 when it
 * cannot be read.
 *
 * Time the kernel spends in softirq (receive processing, ACKs) is charged to
 * whatever thread the CPU happened to be running, or to ksoftirqd: it is in
 * no particular thread's figure.
 */
import { readFileSync } from 'node:fs';
import { DdplabError } from './errors.js';

export interface CpuTime {
  readonly userMs: number;
  readonly systemMs: number;
}

/** /proc (or the entry asked for) could not be read: not Linux, /proc not mounted, or hidden. */
export class ProcCpuError extends DdplabError<'PROC_CPU_UNREADABLE'> {
  override name = 'ProcCpuError';
  constructor(path: string, cause: unknown) {
    super('PROC_CPU_UNREADABLE', `cannot read CPU time from ${path}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

const AT_CLKTCK = 17n;
/** Linux's USER_HZ on every architecture it runs on today. */
const DEFAULT_CLK_TCK = 100;
let clkTck: number | undefined;

/** Clock ticks per second of /proc's utime and stime (read once from the auxiliary vector; 100 when unreadable). */
export function clockTicksPerSecond(): number {
  if (clkTck !== undefined) return clkTck;
  clkTck = DEFAULT_CLK_TCK;
  try {
    const auxv = readFileSync('/proc/self/auxv');
    // (type, value) pairs of native words; Node runs on 64-bit Linux only.
    for (let off = 0; off + 16 <= auxv.length; off += 16) {
      const type = auxv.readBigUInt64LE(off);
      if (type === 0n) break;
      if (type === AT_CLKTCK) {
        const v = Number(auxv.readBigUInt64LE(off + 8));
        if (v > 0 && v < 1_000_000) clkTck = v;
        break;
      }
    }
  } catch {
    // keep 100
  }
  return clkTck;
}

/**
 * utime and stime (ticks) of a stat line. The command name (field 2) is in
 * parentheses and may itself hold spaces and ')': the fields after it start
 * after the last ')'.
 */
export function parseStatTicks(stat: string): { utime: number; stime: number } | undefined {
  const close = stat.lastIndexOf(')');
  if (close < 0) return undefined;
  // After ')': field 3 (state) is index 0, so utime (14) is 11 and stime (15) is 12.
  const f = stat.slice(close + 1).trim().split(/\s+/);
  const utime = Number(f[11]);
  const stime = Number(f[12]);
  if (!Number.isSafeInteger(utime) || !Number.isSafeInteger(stime) || utime < 0 || stime < 0) return undefined;
  return { utime, stime };
}

/** Nanoseconds on a CPU: schedstat's first field. */
export function parseSchedstatNs(schedstat: string): number | undefined {
  const ns = Number(schedstat.trim().split(/\s+/)[0]);
  return Number.isFinite(ns) && ns >= 0 ? ns : undefined;
}

/** A precise total split in the ratio of the tick counts (README above: each part to a tick). */
export function splitByTicks(totalNs: number, utime: number, stime: number): CpuTime {
  const totalMs = totalNs / 1e6;
  const ticks = utime + stime;
  const userMs = ticks === 0 ? totalMs : (totalMs * utime) / ticks;
  return { userMs, systemMs: totalMs - userMs };
}

function ticksToCpu(t: { utime: number; stime: number }): CpuTime {
  const msPerTick = 1000 / clockTicksPerSecond();
  return { userMs: t.utime * msPerTick, systemMs: t.stime * msPerTick };
}

/** The calling thread's CPU time, or the reason it cannot be read; never throws. */
export function tryThreadCpuUsage(): CpuTime | ProcCpuError {
  const statPath = '/proc/thread-self/stat';
  let ticks;
  try {
    ticks = parseStatTicks(readFileSync(statPath, 'utf8'));
  } catch (e) {
    return new ProcCpuError(statPath, e);
  }
  if (ticks === undefined) return new ProcCpuError(statPath, 'unexpected format');
  let ns: number | undefined;
  try {
    ns = parseSchedstatNs(readFileSync('/proc/thread-self/schedstat', 'utf8'));
  } catch {
    ns = undefined; // a kernel without schedstat: ticks alone
  }
  return ns !== undefined ? splitByTicks(ns, ticks.utime, ticks.stime) : ticksToCpu(ticks);
}

/**
 * The calling thread's CPU time since it started, in ms (a main thread's or
 * a worker_thread's own: not the process's). Throws ProcCpuError only where
 * /proc cannot be read (tryThreadCpuUsage returns it instead).
 */
export function threadCpuUsage(): CpuTime {
  const r = tryThreadCpuUsage();
  if (r instanceof ProcCpuError) throw r;
  return r;
}

/**
 * The CPU time of process `pid` (all its threads), in whole ticks;
 * undefined when that process is gone or /proc cannot be read (never throws).
 */
export function processCpuOf(pid: number): CpuTime | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const t = parseStatTicks(stat);
  return t !== undefined ? ticksToCpu(t) : undefined;
}

/** end − start, each part clamped at 0 (a part may step back by a tick: see above). */
export function cpuTimeSince(start: CpuTime, end: CpuTime): CpuTime {
  return { userMs: Math.max(0, end.userMs - start.userMs), systemMs: Math.max(0, end.systemMs - start.systemMs) };
}
