/**
 * The workload flags shared by `ddplab run` and `ddplab host`, in fio's
 * spelling and meaning (docs/run-and-host.md has the table), declared once
 * and turned into WorkloadOptions once.
 */
import type { Command } from 'commander';
import { blockSizesOf, parseSizeBytes, WORKLOAD_RW_MODES, WorkloadOptionError, type WorkloadOptions, type WorkloadRw } from '../host/workload/options.js';
import type { HostTimeouts } from '../lab/host-run.js';
import { UserError } from '../base/errors.js';

export interface WorkloadFlags {
  name?: string;
  rw: string;
  bs: string;
  bssplit?: string;
  bsrange?: string;
  iodepth: string;
  size?: string;
  io_size?: string;
  io_limit?: string;
  offset?: string;
  time?: string;
  runtime?: string;
  time_based?: boolean;
  ramp_time?: string;
  rwmixread: string;
  seed: string;
  verify: boolean;
  queues: string;
}

export function addWorkloadFlags(cmd: Command, defaults: { rw: string; bs: string; iodepth: string; size?: string }): Command {
  cmd
    .option('--name <job>', "the job's name in the report (fio's name; default ddplab)")
    .option('--rw <mode>', `I/O pattern: ${WORKLOAD_RW_MODES.join(', ')}`, defaults.rw)
    .option('--bs <size[,size]>', "block size (fio's bs): one for every direction, or READ,WRITE (4k,128k)", defaults.bs)
    .option('--bssplit <split>', "block size mix (fio's bssplit): 4k/70:128k/30, or READS,WRITES")
    .option('--bsrange <low-high>', "block sizes from low to high, multiples of low (fio's bsrange): 4k-1m, or READS,WRITES")
    .option('--iodepth <n>', 'commands in flight per queue', defaults.iodepth)
    .option('--queues <n>', 'NVMe I/O queues (one TCP connection each)', '1')
    .option('--size <bytes>', "fio's size: the region [offset, offset+size) of the namespace (cut at its end), and the bytes one pass transfers", defaults.size)
    .option('--io_size <bytes>', "fio's io_size: bytes to transfer when not size (more: several passes over the region)")
    .option('--io_limit <bytes>', 'the same as --io_size (fio\'s alias)')
    .option('--offset <bytes>', "fio's offset: where the region starts in the namespace", undefined)
    .option('--runtime <seconds>', "fio's runtime: stop at whichever of the amount and this time comes first")
    .option('--time_based', "fio's time_based: run for --runtime whatever the amount")
    .option('--time <seconds>', 'run for this long: --runtime SECONDS --time_based')
    .option('--ramp_time <seconds>', "fio's ramp_time: run this long first, verified but not counted (rates, latencies, amount and runtime start after it)")
    .option('--rwmixread <pct>', 'percentage of reads in randrw', '50')
    .option('--seed <n>', "seed of offsets, sizes, written data and the target pattern (fio's randseed)", '1')
    .option('--no-verify', 'do not compare reads with the expected content');
  return cmd;
}

function intFlag(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new UserError('BAD_FLAG', `--${name}: '${text}' is not an integer in ${min}..${max}`);
  return n;
}

function seconds(name: string, text: string): number {
  const s = Number(text);
  if (!(s > 0) || !Number.isFinite(s)) throw new UserError('BAD_FLAG', `--${name}: '${text}' is not a positive number of seconds`);
  return s;
}

export function workloadFromFlags(f: WorkloadFlags): WorkloadOptions {
  if (!(WORKLOAD_RW_MODES as readonly string[]).includes(f.rw)) {
    throw new UserError('BAD_FLAG', `--rw: '${f.rw}' is not one of ${WORKLOAD_RW_MODES.join(', ')}`);
  }
  if (f.time !== undefined && f.runtime !== undefined) throw new UserError('BAD_FLAG', '--time is --runtime with --time_based: give one of them');
  if (f.io_size !== undefined && f.io_limit !== undefined) throw new UserError('BAD_FLAG', '--io_limit is --io_size: give one of them');
  const timeSec = f.time !== undefined ? seconds('time', f.time) : f.runtime !== undefined ? seconds('runtime', f.runtime) : undefined;
  const timeBased = f.time !== undefined || f.time_based === true;
  if (timeBased && timeSec === undefined) throw new UserError('BAD_FLAG', '--time_based needs --runtime SECONDS (or give --time SECONDS)');
  const ioSize = f.io_size ?? f.io_limit;
  let rampTimeSec: number | undefined;
  if (f.ramp_time !== undefined) {
    rampTimeSec = Number(f.ramp_time);
    if (f.ramp_time.trim() === '' || !Number.isFinite(rampTimeSec) || rampTimeSec < 0) {
      throw new UserError('BAD_FLAG', `--ramp_time: '${f.ramp_time}' is not a number of seconds >= 0`);
    }
  }
  const w: WorkloadOptions = {
    ...(f.name !== undefined ? { name: f.name } : {}),
    rw: f.rw as WorkloadRw,
    bs: f.bs,
    ...(f.bssplit !== undefined ? { bssplit: f.bssplit } : {}),
    ...(f.bsrange !== undefined ? { bsrange: f.bsrange } : {}),
    iodepth: intFlag('iodepth', f.iodepth, 1, 4096),
    queues: intFlag('queues', f.queues, 1, 128),
    ...(f.size !== undefined ? { size: f.size } : {}),
    ...(ioSize !== undefined ? { ioSize } : {}),
    ...(f.offset !== undefined ? { offset: f.offset } : {}),
    ...(timeSec !== undefined ? { timeSec } : {}),
    ...(timeBased ? { timeBased } : {}),
    ...(rampTimeSec !== undefined ? { rampTimeSec } : {}),
    rwmixread: intFlag('rwmixread', f.rwmixread, 0, 100),
    seed: intFlag('seed', f.seed, 0, 0xffff_ffff),
    verify: f.verify,
  };
  checkSizes(w, f);
  return w;
}

/**
 * The block sizes, --size, --io_size and --offset read before anything is
 * built: a bad size, an old-style mix in --bs, or a block larger than the
 * region or the amount is one line (the last would otherwise transfer a
 * whole block, more than was asked for).
 */
function checkSizes(w: WorkloadOptions, f: WorkloadFlags): void {
  let largest = 0;
  let size: number | undefined;
  let ioSize: number | undefined;
  try {
    const dirs = blockSizesOf(w);
    const readPct = w.rw === 'randrw' ? (w.rwmixread ?? 50) : w.rw === 'read' || w.rw === 'randread' ? 100 : 0;
    for (const c of [...(readPct > 0 ? dirs.read : []), ...(readPct < 100 ? dirs.write : [])]) largest = Math.max(largest, c.bytes);
    if (w.size !== undefined) size = parseSizeBytes(w.size, 'size');
    if (w.ioSize !== undefined) ioSize = parseSizeBytes(w.ioSize, 'io_size');
    if (w.offset !== undefined) parseSizeBytes(w.offset, 'offset');
  } catch (e) {
    if (e instanceof WorkloadOptionError) throw new UserError('BAD_FLAG', `--${e.message}`);
    throw e;
  }
  const bsText = f.bssplit !== undefined ? `--bssplit ${f.bssplit}` : f.bsrange !== undefined ? `--bsrange ${f.bsrange}` : `--bs ${f.bs}`;
  if (size === 0) throw new UserError('BAD_FLAG', `--size ${f.size}: the region must be larger than 0`);
  if (ioSize === 0) throw new UserError('BAD_FLAG', `--io_size ${String(w.ioSize)}: the amount must be larger than 0`);
  if (size !== undefined && largest > size) {
    throw new UserError('BAD_FLAG', `${bsText} is larger than --size ${f.size}: the job would read a whole block, more than the size asked for`);
  }
  if (ioSize !== undefined && largest > ioSize) {
    throw new UserError('BAD_FLAG', `${bsText} is larger than --io_size ${String(w.ioSize)}: the job would transfer a whole block, more than asked for`);
  }
}

export interface TimeoutFlags {
  connectTimeout: string;
  ioTimeout: string;
}

/** --connect-timeout and --io-timeout, for every command that runs the host. */
export function addTimeoutFlags(cmd: Command): Command {
  return cmd
    .option('--connect-timeout <seconds>', 'give up on a target that leaves a bring-up step (TCP SYN, ICReq, Fabrics Connect, admin command) unanswered this long', '10')
    .option('--io-timeout <seconds>', 'NVMe I/O timeout: a command without completion this long fails, with its queue', '30');
}

export function timeoutsFromFlags(f: TimeoutFlags): HostTimeouts {
  return { connectTimeoutMs: parseTimeoutSeconds('connect-timeout', f.connectTimeout), ioTimeoutMs: parseTimeoutSeconds('io-timeout', f.ioTimeout) };
}

/** A --*-timeout flag: seconds (fractions allowed) → milliseconds. */
export function parseTimeoutSeconds(name: string, text: string): number {
  const s = Number(text);
  if (!Number.isFinite(s) || s <= 0 || s > 3600) throw new UserError('BAD_FLAG', `--${name}: '${text}' is not a number of seconds in (0, 3600]`);
  return Math.round(s * 1000);
}

export function parseDigest(text: string): 'none' | 'header' | 'data' | 'both' {
  if (text === 'none' || text === 'header' || text === 'data' || text === 'both') return text;
  throw new UserError('BAD_FLAG', `--digest: '${text}' is not one of none, header, data, both`);
}

export { intFlag };
