/**
 * The workload's job description, in fio's terms, its parsing and its
 * validation against the namespace.
 *
 * Sizes use fio's binary suffixes: k = 1024, m = 1024², g = 1024³, t =
 * 1024⁴ (a trailing "b" or "ib" is accepted: "4KiB"). Block sizes, as fio:
 *   bs      "4k"                 every direction
 *           "4k,128k"            reads 4k, writes 128k (a third, trim, value is refused)
 *   bssplit "4k/70:128k/30"      a mix, weights in percent (blank weights share what is left)
 *           "4k/50:64k/50,128k"  reads from the first list, writes from the second
 *   bsrange "4k-1m"              any multiple of the smaller size in [4k, 1m], uniformly
 *           "4k-16k,64k-1m"      reads, writes
 * The mix spellings ddplab used to give `bs` ("4k,128k,1m", "4k:70,128k:30",
 * "4k-1m") are refused with the fio option to use instead.
 */
import { DdplabError } from '../../base/errors.js';

export type WorkloadRw = 'read' | 'write' | 'randread' | 'randwrite' | 'randrw';

export const WORKLOAD_RW_MODES: readonly WorkloadRw[] = ['read', 'write', 'randread', 'randwrite', 'randrw'];

export interface BlockSizeChoice {
  readonly bytes: number;
  readonly weight: number;
}

/** Block sizes of each direction. */
export interface BlockSizesByDir {
  readonly read: readonly BlockSizeChoice[];
  readonly write: readonly BlockSizeChoice[];
}

export class WorkloadOptionError extends DdplabError<'WORKLOAD_OPTION'> {
  constructor(
    readonly option: string,
    message: string,
  ) {
    super('WORKLOAD_OPTION', message);
    this.name = 'WorkloadOptionError';
  }
}

const SUFFIX: Readonly<Record<string, number>> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** "4k" → 4096, "1m" → 1048576, "512" → 512, 4096 → 4096. Throws WorkloadOptionError. */
export function parseSizeBytes(value: string | number, option = 'size'): number {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new WorkloadOptionError(option, `${option} ${value} is not a byte count`);
    return value;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(value);
  if (m === null) throw new WorkloadOptionError(option, `${option} '${value}' is not a size like 4k, 128k, 1m, 256m`);
  const bytes = Number(m[1]) * SUFFIX[m[2]!.toLowerCase()]!;
  if (!Number.isSafeInteger(bytes)) throw new WorkloadOptionError(option, `${option} '${value}' is not a whole number of bytes`);
  return bytes;
}

function positiveSize(text: string, option: string, spec: string): number {
  const b = parseSizeBytes(text, option);
  if (b === 0) throw new WorkloadOptionError(option, `${option} '${spec}': a block size must be larger than 0`);
  return b;
}

/** Read and write parts of a "R,W" value; a third (trim) part is refused. */
function perDirection(spec: string, option: string): [string, string] {
  const parts = spec.split(',');
  if (parts.length > 2) {
    throw new WorkloadOptionError(option, `${option} '${spec}' has ${parts.length} comma-separated parts: ddplab takes read[,write] (fio's third, trim, part has no meaning here)`);
  }
  const read = parts[0]!.trim();
  const write = parts.length === 2 && parts[1]!.trim() !== '' ? parts[1]!.trim() : read;
  return [read, write];
}

/**
 * fio's bs: one size, or "read,write". The mixes ddplab's --bs used to take
 * are refused here, naming the fio option that says them.
 */
export function parseBs(spec: string | number): BlockSizesByDir {
  if (typeof spec === 'number') {
    const one = [{ bytes: positiveSize(String(spec), 'bs', String(spec)), weight: 1 }];
    return { read: one, write: one };
  }
  if (spec.includes(':') || spec.includes('/')) {
    throw new WorkloadOptionError('bs', `bs '${spec}' is a weighted mix: use bssplit (fio's syntax, e.g. --bssplit 4k/70:128k/30)`);
  }
  if (spec.includes('-')) throw new WorkloadOptionError('bs', `bs '${spec}' is a range: use bsrange (e.g. --bsrange ${spec})`);
  if (spec.split(',').length > 2) {
    throw new WorkloadOptionError('bs', `bs '${spec}' has more than two sizes: bs is read[,write] as in fio (its third, trim, has no meaning here); for a mix use bssplit (e.g. --bssplit ${spec.split(',').map((s) => s.trim()).join('/:')}/)`);
  }
  const [r, w] = perDirection(spec, 'bs');
  return { read: [{ bytes: positiveSize(r, 'bs', spec), weight: 1 }], write: [{ bytes: positiveSize(w, 'bs', spec), weight: 1 }] };
}

/** One direction's bssplit list: "4k/70:128k/30", "4k/:64k/" (blanks share the rest of 100 %). */
function parseSplitList(list: string, spec: string): BlockSizeChoice[] {
  const entries = list.split(':').map((e) => e.trim());
  if (entries.some((e) => e === '')) throw new WorkloadOptionError('bssplit', `bssplit '${spec}' has an empty entry`);
  const parsed: { bytes: number; pct: number | undefined }[] = [];
  for (const e of entries) {
    const [size, pct, extra] = e.split('/');
    if (extra !== undefined) throw new WorkloadOptionError('bssplit', `bssplit entry '${e}' is not SIZE/PERCENT`);
    const bytes = positiveSize(size!, 'bssplit', spec);
    if (pct === undefined || pct.trim() === '') {
      parsed.push({ bytes, pct: undefined });
      continue;
    }
    const p = Number(pct);
    if (!Number.isFinite(p) || p < 0 || p > 100) throw new WorkloadOptionError('bssplit', `bssplit weight '${pct}' in '${spec}' is not a percentage 0..100`);
    parsed.push({ bytes, pct: p });
  }
  const given = parsed.reduce((a, b) => a + (b.pct ?? 0), 0);
  const blanks = parsed.filter((b) => b.pct === undefined).length;
  if (given > 100 + 1e-9) throw new WorkloadOptionError('bssplit', `bssplit '${spec}': the percentages add up to ${given}, more than 100`);
  if (blanks === 0 && Math.abs(given - 100) > 1e-9) throw new WorkloadOptionError('bssplit', `bssplit '${spec}': the percentages add up to ${given}, not 100`);
  const share = blanks > 0 ? (100 - given) / blanks : 0;
  const out = parsed.map((b) => ({ bytes: b.bytes, weight: b.pct ?? share })).filter((b) => b.weight > 0);
  if (out.length === 0) throw new WorkloadOptionError('bssplit', `bssplit '${spec}' gives no size a weight`);
  return out;
}

/** fio's bssplit: "4k/70:128k/30" for every direction, or "READS,WRITES". */
export function parseBsSplit(spec: string): BlockSizesByDir {
  const [r, w] = perDirection(spec, 'bssplit');
  return { read: parseSplitList(r, spec), write: parseSplitList(w, spec) };
}

/** One direction's bsrange "4k-1m": every multiple of 4k from 4k to 1m, equal weights (fio picks uniformly). */
function parseRangeOne(text: string, spec: string): BlockSizeChoice[] {
  const m = /^([^-]+)-([^-]+)$/.exec(text);
  if (m === null) throw new WorkloadOptionError('bsrange', `bsrange '${spec}' is not LOW-HIGH (e.g. 4k-1m)`);
  const lo = positiveSize(m[1]!, 'bsrange', spec);
  const hi = positiveSize(m[2]!, 'bsrange', spec);
  if (hi < lo) throw new WorkloadOptionError('bsrange', `bsrange '${spec}' must go from a smaller to a larger size`);
  const out: BlockSizeChoice[] = [];
  for (let b = lo; b <= hi; b += lo) out.push({ bytes: b, weight: 1 });
  return out;
}

/** fio's bsrange: "4k-1m", or "READLOW-READHIGH,WRITELOW-WRITEHIGH". */
export function parseBsRange(spec: string): BlockSizesByDir {
  const [r, w] = perDirection(spec, 'bsrange');
  return { read: parseRangeOne(r, spec), write: parseRangeOne(w, spec) };
}

/**
 * The block sizes a job uses: bssplit, else bsrange, else bs (fio's order of
 * precedence: a split overrides the others), default 4k.
 */
export function blockSizesOf(o: Pick<WorkloadOptions, 'bs' | 'bssplit' | 'bsrange'>): BlockSizesByDir {
  if (o.bssplit !== undefined) return parseBsSplit(o.bssplit);
  if (o.bsrange !== undefined) return parseBsRange(o.bsrange);
  if (Array.isArray(o.bs)) {
    const list = o.bs as readonly BlockSizeChoice[];
    return { read: list, write: list };
  }
  return parseBs((o.bs as string | number | undefined) ?? '4k');
}

/** A choice list as fio's bssplit text ("4096/25:65536/75"). */
function splitText(list: readonly BlockSizeChoice[]): string {
  const total = list.reduce((a, b) => a + b.weight, 0);
  return list.map((b) => `${b.bytes}/${Number(((b.weight / total) * 100).toFixed(6))}`).join(':');
}

/**
 * The workload as `ddplab host` flags (how `ddplab run` hands it to the host
 * process): workloadFromFlags of these gives the same job back.
 */
export function workloadHostArgs(w: WorkloadOptions): string[] {
  const args = ['--rw', w.rw];
  if (w.name !== undefined) args.push('--name', w.name);
  if (Array.isArray(w.bs)) args.push('--bssplit', splitText(w.bs as readonly BlockSizeChoice[]));
  else args.push('--bs', String((w.bs as string | number | undefined) ?? '4k'));
  if (w.bssplit !== undefined) args.push('--bssplit', w.bssplit);
  if (w.bsrange !== undefined) args.push('--bsrange', w.bsrange);
  args.push('--iodepth', String(w.iodepth ?? 1), '--rwmixread', String(w.rwmixread ?? 50), '--seed', String(w.seed ?? 1));
  if (w.size !== undefined) args.push('--size', String(w.size));
  if (w.ioSize !== undefined) args.push('--io_size', String(w.ioSize));
  if (w.offset !== undefined) args.push('--offset', String(w.offset));
  if (w.timeSec !== undefined) args.push(w.timeBased === true ? '--time' : '--runtime', String(w.timeSec));
  if (w.rampTimeSec !== undefined) args.push('--ramp_time', String(w.rampTimeSec));
  if (w.verify === false) args.push('--no-verify');
  return args;
}

/**
 * A known image of the namespace (e.g. the file a foreign target serves):
 * `read` fills `out` with the image's bytes at `byteOffset`.
 */
export interface BlockImage {
  /** How the user named it (for messages). */
  readonly name: string;
  readonly sizeBytes: number;
  read(byteOffset: number, out: Buffer): void;
}

/**
 * What the blocks a run has not written hold: the target's pattern for
 * patternSeed (a ddplab target), a known image, or nothing known — then
 * only bytes this run wrote are verified (reads elsewhere count as
 * unverifiable), which is how a target of unknown content is checked.
 */
export type WorkloadBaseline =
  | { readonly kind: 'pattern' }
  | { readonly kind: 'image'; readonly image: BlockImage }
  | { readonly kind: 'unknown' };

/** A workload as the user gives it. */
export interface WorkloadOptions {
  /** fio's name: the job's name in the report (default "ddplab"). */
  readonly name?: string;
  readonly rw: WorkloadRw;
  /** Percentage of reads in randrw (default 50). */
  readonly rwmixread?: number;
  /** fio's bs: one size or "read,write" (default "4k"); a list of choices is a mix for both directions. */
  readonly bs?: string | number | readonly BlockSizeChoice[];
  /** fio's bssplit ("4k/70:128k/30[,writes]"); overrides bs and bsrange. */
  readonly bssplit?: string;
  /** fio's bsrange ("4k-1m[,writes]"); overrides bs. */
  readonly bsrange?: string;
  /** Commands in flight per queue (default 1). */
  readonly iodepth?: number;
  /** I/O queues to use (default: all the device has). */
  readonly queues?: number;
  /**
   * fio's size: the region [offset, offset + size) the I/O falls in (cut at
   * the end of the namespace) and the bytes one pass transfers (default:
   * from offset to the end of the namespace).
   */
  readonly size?: string | number;
  /** fio's io_size: bytes to transfer when it is not size (more: several passes over the region). */
  readonly ioSize?: string | number;
  /** fio's runtime, seconds: stop at whichever of the amount and the time comes first. */
  readonly timeSec?: number;
  /** fio's time_based: run for timeSec whatever the amount, passing over the region again and again. */
  readonly timeBased?: boolean;
  /**
   * fio's ramp_time, seconds: run this long before counting. The ramp's I/O
   * is issued and verified like any other, but it is not in the job's
   * counts, rates or latencies, and the amount and the runtime start when
   * it ends (a lead-in, as in fio).
   */
  readonly rampTimeSec?: number;
  /** fio's offset: start of the region, bytes (default 0). */
  readonly offset?: string | number;
  /** Length of the region when it differs from size (ddplab's; default: size). */
  readonly range?: string | number;
  /** Random offsets are multiples of this (default: the smallest block size, as fio's blockalign). */
  readonly blockAlign?: string | number;
  /** Seed of offsets, sizes, directions and written data (default 1). */
  readonly seed?: number;
  /** Seed of the target's pattern for unwritten blocks (default: seed). */
  readonly patternSeed?: number;
  /** Compare every read with the expected content (default true). */
  readonly verify?: boolean;
  /** Content of blocks this run has not written (default: the pattern for patternSeed). */
  readonly baseline?: WorkloadBaseline;
  /**
   * Write every block of the range once before the job starts (sequential,
   * its own counters), so the job's reads check bytes this run wrote:
   * with baseline 'unknown' this is "write, then read back".
   */
  readonly prefill?: boolean;
  /** Stop issuing at the first error (default true, as fio without continue_on_error). */
  readonly stopOnError?: boolean;
  /** How many mismatches and errors to describe in the report (default 8). */
  readonly reportFirst?: number;
}

/** The device a workload runs on (NvmeController through controllerDevice(), or a test double). */
export interface WorkloadDeviceGeometry {
  readonly queues: number;
  readonly queueDepth: number;
  readonly lbaSizeBytes: number;
  readonly nsSizeBytes: number;
  readonly maxTransferBytes: number;
}

/** A validated workload. */
export interface ResolvedWorkload {
  readonly name: string;
  readonly rw: WorkloadRw;
  readonly random: boolean;
  readonly readPct: number;
  /** Every block size the job uses (both directions). */
  readonly blockSizes: readonly BlockSizeChoice[];
  /** Block sizes of reads and of writes. */
  readonly bsByDir: BlockSizesByDir;
  readonly maxBlockBytes: number;
  readonly iodepth: number;
  readonly queues: number;
  /** Bytes to transfer (io_size, else size); Infinity when only time bounds the run. */
  readonly sizeBytes: number;
  /** Run time bound; Infinity when only the amount bounds the run. */
  readonly timeMs: number;
  /** fio's time_based: the run lasts timeMs. */
  readonly timeBased: boolean;
  /** fio's ramp_time: lead-in before counting, ms (0: none). */
  readonly rampMs: number;
  readonly offsetBytes: number;
  readonly rangeBytes: number;
  readonly alignBytes: number;
  readonly seed: number;
  readonly patternSeed: number;
  readonly verify: boolean;
  readonly baseline: WorkloadBaseline;
  readonly prefill: boolean;
  readonly stopOnError: boolean;
  readonly reportFirst: number;
}

function must(cond: boolean, option: string, message: string): void {
  if (!cond) throw new WorkloadOptionError(option, message);
}

/** Fills defaults and checks the job against the device. Throws WorkloadOptionError. */
export function resolveWorkload(o: WorkloadOptions, dev: WorkloadDeviceGeometry): ResolvedWorkload {
  must(WORKLOAD_RW_MODES.includes(o.rw), 'rw', `rw '${String(o.rw)}' is not one of ${WORKLOAD_RW_MODES.join(', ')}`);
  const lba = dev.lbaSizeBytes;
  const bsByDir = blockSizesOf(o);
  const readPct0 = o.rw === 'randrw' ? (o.rwmixread ?? 50) : o.rw === 'read' || o.rw === 'randread' ? 100 : 0;
  // The sizes of a direction the job never issues do not bound it (fio: bs=4k,1m on a read job).
  const used = [...(readPct0 > 0 ? bsByDir.read : []), ...(readPct0 < 100 ? bsByDir.write : [])];
  const blockSizes: BlockSizeChoice[] = [];
  for (const b of used) if (!blockSizes.some((x) => x.bytes === b.bytes)) blockSizes.push(b);
  must(blockSizes.length > 0, 'bs', 'bs is empty');
  let maxBlockBytes = 0;
  let minBlockBytes = Infinity;
  for (const b of blockSizes) {
    must(b.bytes > 0 && b.bytes % lba === 0, 'bs', `block size ${b.bytes} is not a positive multiple of the ${lba}-byte LBA`);
    must(
      b.bytes <= dev.maxTransferBytes,
      'bs',
      `block size ${b.bytes} exceeds the controller's largest transfer (${dev.maxTransferBytes} bytes)`,
    );
    maxBlockBytes = Math.max(maxBlockBytes, b.bytes);
    minBlockBytes = Math.min(minBlockBytes, b.bytes);
  }
  const readPct = readPct0;
  must(Number.isFinite(readPct) && readPct >= 0 && readPct <= 100, 'rwmixread', `rwmixread ${readPct} is not in 0..100`);
  const iodepth = o.iodepth ?? 1;
  must(
    Number.isInteger(iodepth) && iodepth >= 1 && iodepth <= dev.queueDepth,
    'iodepth',
    `iodepth ${iodepth} is not in 1..${dev.queueDepth} (the queue depth)`,
  );
  const queues = o.queues ?? dev.queues;
  must(Number.isInteger(queues) && queues >= 1 && queues <= dev.queues, 'queues', `queues ${queues} is not in 1..${dev.queues}`);
  const offsetBytes = parseSizeBytes(o.offset ?? 0, 'offset');
  must(offsetBytes % lba === 0 && offsetBytes < dev.nsSizeBytes, 'offset', `offset ${offsetBytes} is not an LBA inside the namespace`);
  const sizeGiven = o.size === undefined ? undefined : parseSizeBytes(o.size, 'size');
  must(sizeGiven === undefined || sizeGiven > 0, 'size', 'size must be positive');
  // fio on a block device: a size past the end of the device stops at its end.
  const rangeBytes =
    o.range !== undefined ? parseSizeBytes(o.range, 'range') : Math.min(sizeGiven ?? Infinity, dev.nsSizeBytes - offsetBytes);
  must(
    rangeBytes % lba === 0 && rangeBytes > 0 && offsetBytes + rangeBytes <= dev.nsSizeBytes,
    o.range !== undefined ? 'range' : 'size',
    `region [${offsetBytes}, ${offsetBytes + rangeBytes}) is not whole ${lba}-byte LBAs inside the ${dev.nsSizeBytes}-byte namespace`,
  );
  must(maxBlockBytes <= rangeBytes, 'bs', `block size ${maxBlockBytes} is larger than the region (${rangeBytes} bytes)`);
  const alignBytes = parseSizeBytes(o.blockAlign ?? minBlockBytes, 'blockalign');
  must(alignBytes > 0 && alignBytes % lba === 0, 'blockalign', `blockalign ${alignBytes} is not a positive multiple of the LBA`);
  const timeMs = o.timeSec === undefined ? Infinity : o.timeSec * 1000;
  must(o.timeSec === undefined || (Number.isFinite(o.timeSec) && o.timeSec > 0), 'time', `time ${String(o.timeSec)} s is not positive`);
  const timeBased = o.timeBased === true;
  must(!timeBased || o.timeSec !== undefined, 'time_based', 'time_based needs a runtime');
  const rampMs = o.rampTimeSec === undefined ? 0 : o.rampTimeSec * 1000;
  must(Number.isFinite(rampMs) && rampMs >= 0, 'ramp_time', `ramp_time ${String(o.rampTimeSec)} s is not a number >= 0`);
  const ioSize = o.ioSize === undefined ? undefined : parseSizeBytes(o.ioSize, 'io_size');
  must(ioSize === undefined || ioSize > 0, 'io_size', 'io_size must be positive');
  // The amount: io_size, else size as given (more than the region: several passes), else one pass.
  const sizeBytes = timeBased ? Infinity : (ioSize ?? (o.range !== undefined ? sizeGiven : undefined) ?? sizeGiven ?? rangeBytes);
  const seed = o.seed ?? 1;
  must(Number.isInteger(seed) && seed >= 0 && seed <= 0xffff_ffff, 'seed', `seed ${seed} is not a u32`);
  const patternSeed = o.patternSeed ?? seed;
  must(Number.isInteger(patternSeed) && patternSeed >= 0 && patternSeed <= 0xffff_ffff, 'pattern-seed', `pattern seed ${patternSeed} is not a u32`);
  const baseline = o.baseline ?? { kind: 'pattern' };
  if (baseline.kind === 'image') {
    const img = baseline.image;
    must(
      img.sizeBytes >= dev.nsSizeBytes,
      'verify',
      `${img.name} is ${img.sizeBytes} bytes, shorter than the namespace (${dev.nsSizeBytes} bytes)`,
    );
  }
  const name = o.name ?? 'ddplab';
  must(/^[\x21-\x7e]{1,64}$/.test(name), 'name', `name '${name}' is not 1..64 printable characters without spaces`);
  return {
    name,
    rw: o.rw,
    random: o.rw.startsWith('rand'),
    readPct,
    blockSizes,
    bsByDir,
    maxBlockBytes,
    iodepth,
    queues,
    sizeBytes,
    timeMs,
    timeBased,
    rampMs,
    offsetBytes,
    rangeBytes,
    alignBytes,
    seed,
    patternSeed,
    verify: o.verify ?? true,
    baseline,
    prefill: o.prefill ?? false,
    stopOnError: o.stopOnError ?? true,
    reportFirst: o.reportFirst ?? 8,
  };
}
