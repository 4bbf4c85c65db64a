/**
 * The fio-like workload flags shared by `ddplab run` and `ddplab host`,
 * declared once and turned into WorkloadOptions once.
 */
import type { Command } from 'commander';
import { parseBlockSizes, parseSizeBytes, WORKLOAD_RW_MODES, WorkloadOptionError, type WorkloadOptions, type WorkloadRw } from '../host/workload/options.js';
import type { HostTimeouts } from '../lab/host-run.js';
import { UserError } from '../base/errors.js';

export interface WorkloadFlags {
  rw: string;
  bs: string;
  iodepth: string;
  size?: string;
  time?: string;
  rwmixread: string;
  seed: string;
  verify: boolean;
  queues: string;
}

export function addWorkloadFlags(cmd: Command, defaults: { rw: string; bs: string; iodepth: string; size?: string }): Command {
  cmd
    .option('--rw <mode>', `I/O pattern: ${WORKLOAD_RW_MODES.join(', ')}`, defaults.rw)
    .option('--bs <sizes>', 'block size or mix: 4k | 4k,128k,1m | 4k:70,128k:30 | 4k-1m', defaults.bs)
    .option('--iodepth <n>', 'commands in flight per queue', defaults.iodepth)
    .option('--queues <n>', 'NVMe I/O queues (one TCP connection each)', '1')
    .option('--size <bytes>', 'total bytes to transfer, e.g. 256m', defaults.size)
    .option('--time <seconds>', 'run time bound (the run stops at whichever of size and time comes first)')
    .option('--rwmixread <pct>', 'percentage of reads in randrw', '50')
    .option('--seed <n>', 'seed of offsets, sizes, written data and the target pattern', '1')
    .option('--no-verify', 'do not compare reads with the expected content');
  return cmd;
}

function intFlag(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new UserError('BAD_FLAG', `--${name}: '${text}' is not an integer in ${min}..${max}`);
  return n;
}

export function workloadFromFlags(f: WorkloadFlags): WorkloadOptions {
  if (!(WORKLOAD_RW_MODES as readonly string[]).includes(f.rw)) {
    throw new UserError('BAD_FLAG', `--rw: '${f.rw}' is not one of ${WORKLOAD_RW_MODES.join(', ')}`);
  }
  const timeSec = f.time === undefined ? undefined : Number(f.time);
  if (timeSec !== undefined && !(timeSec > 0)) throw new UserError('BAD_FLAG', `--time: '${f.time}' is not a positive number of seconds`);
  checkSizes(f);
  return {
    rw: f.rw as WorkloadRw,
    bs: f.bs,
    iodepth: intFlag('iodepth', f.iodepth, 1, 4096),
    queues: intFlag('queues', f.queues, 1, 128),
    ...(f.size !== undefined ? { size: f.size } : {}),
    ...(timeSec !== undefined ? { timeSec } : {}),
    rwmixread: intFlag('rwmixread', f.rwmixread, 0, 100),
    seed: intFlag('seed', f.seed, 0, 0xffff_ffff),
    verify: f.verify,
  };
}

/**
 * --bs and --size read before anything is built: a bad size or weight is one
 * line, and so is a block larger than the whole job (which would otherwise
 * read one block, many times what was asked).
 */
function checkSizes(f: WorkloadFlags): void {
  let largest = 0;
  let size: number | undefined;
  try {
    for (const c of parseBlockSizes(f.bs)) largest = Math.max(largest, c.bytes);
    if (f.size !== undefined) size = parseSizeBytes(f.size, 'size');
  } catch (e) {
    if (e instanceof WorkloadOptionError) throw new UserError('BAD_FLAG', `--${e.message}`);
    throw e;
  }
  if (largest === 0) throw new UserError('BAD_FLAG', `--bs ${f.bs}: a block size must be larger than 0`);
  if (size !== undefined && largest > size) {
    throw new UserError('BAD_FLAG', `--bs ${f.bs} is larger than --size ${f.size}: the job would read a whole block, more than the size asked for`);
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
