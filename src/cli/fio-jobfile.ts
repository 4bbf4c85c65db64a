/**
 * `ddplab run JOBFILE`: a fio job file (INI: a `[global]` section and one job
 * section; `key=value` or a bare `key`; lines starting with `;` or `#` are
 * comments) with the options ddplab's workload has. Every other fio option
 * is refused by name in one line before anything is built, except those
 * that only choose how fio reaches a disk (ioengine, direct, filename...),
 * which have no meaning here: they are accepted and each named in a notice.
 * The file's options become workload flags; flags on the command line
 * override them.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { UserError } from '../base/errors.js';

/** The workload flags a job file sets (WorkloadFlags' names and text values; booleans for switches). */
export type JobFileFlags = Partial<Record<JobFlag, string | boolean>>;

type JobFlag =
  | 'name'
  | 'rw'
  | 'bs'
  | 'bssplit'
  | 'bsrange'
  | 'iodepth'
  | 'size'
  | 'io_size'
  | 'offset'
  | 'runtime'
  | 'time_based'
  | 'ramp_time'
  | 'rwmixread'
  | 'seed'
  | 'verify';

/** fio option → the ddplab flag it sets. */
const SUPPORTED: Readonly<Record<string, JobFlag>> = {
  name: 'name',
  rw: 'rw',
  readwrite: 'rw',
  bs: 'bs',
  blocksize: 'bs',
  bssplit: 'bssplit',
  bsrange: 'bsrange',
  blocksize_range: 'bsrange',
  iodepth: 'iodepth',
  size: 'size',
  io_size: 'io_size',
  io_limit: 'io_size',
  offset: 'offset',
  runtime: 'runtime',
  time_based: 'time_based',
  ramp_time: 'ramp_time',
  rwmixread: 'rwmixread',
  rwmixwrite: 'rwmixread',
  randseed: 'seed',
  verify: 'verify',
};

/** fio options about how fio reaches its disk: no meaning for ddplab's NVMe/TCP host, accepted with a notice. */
const IGNORED: Readonly<Record<string, string>> = {
  ioengine: "ddplab's engine is its own NVMe/TCP host",
  direct: 'there is no page cache between the workload and the NVMe/TCP host',
  buffered: 'there is no page cache between the workload and the NVMe/TCP host',
  filename: 'the I/O goes to the namespace of the target the run connects to',
  group_reporting: 'ddplab runs one job',
  thread: 'ddplab runs one job',
  description: 'a comment',
  invalidate: 'there is no page cache to invalidate',
};

export interface JobFile {
  /** The job section's name (fio's job name), or its name= option. */
  readonly name: string;
  readonly flags: JobFileFlags;
  /** One line per ignored option, for stderr. */
  readonly notices: readonly string[];
}

function fail(where: string, message: string): never {
  throw new UserError('BAD_JOB_FILE', `${where}: ${message}`);
}

/** fio's booleans: 1/0, true/false, yes/no, on/off; a bare key is true. */
function boolOf(where: string, key: string, value: string | undefined): boolean {
  if (value === undefined) return true;
  const v = value.toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  return fail(where, `${key}=${value} is not a boolean (1 or 0)`);
}

/** fio's time values: seconds by default, or with a unit (ms, s, m, h) → seconds as text. */
function secondsOf(where: string, key: string, value: string): string {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/i.exec(value);
  if (m === null) return fail(where, `${key}=${value} is not a time (e.g. 30, 30s, 2m)`);
  const scale: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };
  return String(Number(m[1]) * scale[(m[2] ?? 's').toLowerCase()]!);
}

function setOption(file: string, line: number, key: string, value: string | undefined, flags: JobFileFlags, notices: string[]): void {
  const where = `${file}:${line}`;
  const k = key.toLowerCase();
  if (k in IGNORED) {
    notices.push(`${where}: ${value === undefined ? k : `${k}=${value}`} ignored (${IGNORED[k]})`);
    return;
  }
  if (k === 'numjobs') {
    if (value !== '1') fail(where, `numjobs=${value ?? ''}: ddplab runs one job (for more connections to the target use --queues N)`);
    return;
  }
  const flag = SUPPORTED[k];
  if (flag === undefined) fail(where, `fio option '${k}' is not supported by ddplab run (supported: ${Object.keys(SUPPORTED).join(', ')}, numjobs=1)`);
  if (flag === 'time_based') {
    flags.time_based = boolOf(where, k, value);
    return;
  }
  if (flag === 'verify') {
    // ddplab verifies with its own pattern whatever fio's method: verify=0 (or =null) turns it off.
    flags.verify = value !== undefined && ['0', 'null', 'false', 'no', 'off'].includes(value.toLowerCase()) ? false : true;
    return;
  }
  if (value === undefined || value === '') fail(where, `${k} needs a value (${k}=...)`);
  if (flag === 'runtime' || flag === 'ramp_time') {
    flags[flag] = secondsOf(where, k, value);
    return;
  }
  if (k === 'rwmixwrite') {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0 || n > 100) fail(where, `rwmixwrite=${value} is not a percentage 0..100`);
    flags.rwmixread = String(100 - n);
    return;
  }
  if (flag === 'rw' && /:/.test(value)) fail(where, `${k}=${value}: fio's ':N' offset modifier is not supported`);
  flags[flag] = value;
}

/** Parses a job file's text (`file` names it in messages). Throws UserError BAD_JOB_FILE in one line. */
export function parseFioJobFile(text: string, file: string): JobFile {
  const global: JobFileFlags = {};
  const job: JobFileFlags = {};
  const notices: string[] = [];
  let section: 'none' | 'global' | 'job' = 'none';
  let jobName: string | undefined;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    const at = i + 1;
    if (line === '' || line.startsWith(';') || line.startsWith('#')) continue;
    const header = /^\[([^\]]*)\]$/.exec(line);
    if (header !== null) {
      const name = header[1]!.trim();
      if (name === '') fail(`${file}:${at}`, 'a section needs a name ([global] or [jobname])');
      if (name === 'global') {
        if (jobName !== undefined) fail(`${file}:${at}`, '[global] after the job section: ddplab reads [global] first, then one job');
        section = 'global';
      } else {
        if (jobName !== undefined) fail(`${file}:${at}`, `a second job [${name}] (after [${jobName}]): ddplab runs one job`);
        jobName = name;
        section = 'job';
      }
      continue;
    }
    if (section === 'none') fail(`${file}:${at}`, `'${line}' is outside any section (start with [global] or [jobname])`);
    const eq = line.indexOf('=');
    const key = (eq < 0 ? line : line.slice(0, eq)).trim();
    const value = eq < 0 ? undefined : line.slice(eq + 1).trim();
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) fail(`${file}:${at}`, `'${line}' is not key=value or a bare key`);
    setOption(file, at, key, value, section === 'global' ? global : job, notices);
  }
  if (jobName === undefined) fail(file, 'no job section ([jobname] after [global])');
  const flags: JobFileFlags = { ...global, ...job };
  return { name: typeof flags.name === 'string' ? flags.name : jobName, flags: { ...flags, name: typeof flags.name === 'string' ? flags.name : jobName }, notices };
}

/** Reads and parses a job file; a missing or unreadable one is one line too. */
export function readFioJobFile(path: string): JobFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError('BAD_JOB_FILE', `${path}: ${code === 'ENOENT' ? 'no such job file' : code === 'EISDIR' ? 'is a folder, not a job file' : `cannot be read (${code ?? String(e)})`}`);
  }
  return parseFioJobFile(text, path);
}

/** Groups of flags where one given on the command line replaces the file's whole group. */
const GROUPS: readonly (readonly string[])[] = [
  ['bs', 'bssplit', 'bsrange'],
  ['runtime', 'time_based', 'time'],
  ['io_size', 'io_limit'],
];

/**
 * Sets the job file's options on `cmd` as if given, except where the command
 * line gave the flag (or another of its group: --bs replaces the file's
 * bssplit too, --time its runtime): the command line wins.
 */
export function applyJobFile(cmd: Command, job: JobFile): void {
  const fromCli = (flag: string): boolean => cmd.getOptionValueSource(flag) === 'cli';
  for (const [flag, value] of Object.entries(job.flags)) {
    if (value === undefined) continue;
    const group = GROUPS.find((g) => g.includes(flag)) ?? [flag];
    if (group.some(fromCli)) continue;
    cmd.setOptionValueWithSource(flag, value, 'config');
  }
}
