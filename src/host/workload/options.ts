/**
 * The fio-like job description of a workload run, its parsing (sizes as
 * "4k", "1m"; block size mixes) and its validation against the namespace.
 *
 * Sizes use fio's binary suffixes: k = 1024, m = 1024², g = 1024³, t =
 * 1024⁴ (a trailing "b" or "ib" is accepted: "4KiB"). Block sizes:
 *   "4k"               one size
 *   "4k,128k,1m"       a mix, equal weights
 *   "4k:50,128k:50"    a mix with weights (any positive numbers)
 *   "4k-1m"            every power of two from 4k to 1m, equal weights
 */
import { DdplabError } from '../../base/errors.js';

export type WorkloadRw = 'read' | 'write' | 'randread' | 'randwrite' | 'randrw';

export const WORKLOAD_RW_MODES: readonly WorkloadRw[] = ['read', 'write', 'randread', 'randwrite', 'randrw'];

export interface BlockSizeChoice {
  readonly bytes: number;
  readonly weight: number;
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

/** Parses a block size spec (see the file comment). */
export function parseBlockSizes(spec: string | number): BlockSizeChoice[] {
  if (typeof spec === 'number') return [{ bytes: parseSizeBytes(spec, 'bs'), weight: 1 }];
  const range = /^\s*([^,:-]+)-([^,:-]+)\s*$/.exec(spec);
  if (range !== null) {
    const lo = parseSizeBytes(range[1]!, 'bs');
    const hi = parseSizeBytes(range[2]!, 'bs');
    if (lo === 0 || hi < lo) throw new WorkloadOptionError('bs', `bs range '${spec}' must go from a smaller to a larger size`);
    const out: BlockSizeChoice[] = [];
    for (let b = lo; b <= hi; b *= 2) out.push({ bytes: b, weight: 1 });
    return out;
  }
  const out: BlockSizeChoice[] = [];
  for (const part of spec.split(',')) {
    const [size, weight] = part.split(':');
    const bytes = parseSizeBytes(size!, 'bs');
    const w = weight === undefined ? 1 : Number(weight);
    if (!(w > 0) || !Number.isFinite(w)) throw new WorkloadOptionError('bs', `bs weight '${weight}' in '${spec}' is not a positive number`);
    out.push({ bytes, weight: w });
  }
  if (out.length === 0) throw new WorkloadOptionError('bs', 'bs is empty');
  return out;
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
  readonly rw: WorkloadRw;
  /** Percentage of reads in randrw (default 50). */
  readonly rwmixread?: number;
  /** Block size or mix (default "4k"). */
  readonly bs?: string | number | readonly BlockSizeChoice[];
  /** Commands in flight per queue (default 1). */
  readonly iodepth?: number;
  /** I/O queues to use (default: all the device has). */
  readonly queues?: number;
  /** Total bytes to transfer; with neither size nor timeSec, the whole range once. */
  readonly size?: string | number;
  /** Run for this many seconds (stops at whichever of size and time comes first). */
  readonly timeSec?: number;
  /** Start of the range the I/O falls in, bytes (default 0). */
  readonly offset?: string | number;
  /** Length of the range, bytes (default: to the end of the namespace). */
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
  readonly rw: WorkloadRw;
  readonly random: boolean;
  readonly readPct: number;
  readonly blockSizes: readonly BlockSizeChoice[];
  readonly maxBlockBytes: number;
  readonly iodepth: number;
  readonly queues: number;
  /** Bytes to transfer; Infinity when only time bounds the run. */
  readonly sizeBytes: number;
  /** Run time bound; Infinity when only size bounds the run. */
  readonly timeMs: number;
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
  const blockSizes = Array.isArray(o.bs) ? [...(o.bs as readonly BlockSizeChoice[])] : parseBlockSizes((o.bs as string | number | undefined) ?? '4k');
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
  const readPct = o.rw === 'randrw' ? (o.rwmixread ?? 50) : o.rw === 'read' || o.rw === 'randread' ? 100 : 0;
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
  const rangeBytes = o.range === undefined ? dev.nsSizeBytes - offsetBytes : parseSizeBytes(o.range, 'range');
  must(
    rangeBytes % lba === 0 && rangeBytes > 0 && offsetBytes + rangeBytes <= dev.nsSizeBytes,
    'range',
    `range [${offsetBytes}, ${offsetBytes + rangeBytes}) is not whole LBAs inside the ${dev.nsSizeBytes}-byte namespace`,
  );
  must(maxBlockBytes <= rangeBytes, 'bs', `block size ${maxBlockBytes} is larger than the range (${rangeBytes} bytes)`);
  const alignBytes = parseSizeBytes(o.blockAlign ?? minBlockBytes, 'blockalign');
  must(alignBytes > 0 && alignBytes % lba === 0, 'blockalign', `blockalign ${alignBytes} is not a positive multiple of the LBA`);
  const timeMs = o.timeSec === undefined ? Infinity : o.timeSec * 1000;
  must(o.timeSec === undefined || (Number.isFinite(o.timeSec) && o.timeSec > 0), 'time', `time ${String(o.timeSec)} s is not positive`);
  let sizeBytes = o.size === undefined ? (o.timeSec === undefined ? rangeBytes : Infinity) : parseSizeBytes(o.size, 'size');
  must(sizeBytes > 0, 'size', 'size must be positive');
  if (!Number.isFinite(sizeBytes) && !Number.isFinite(timeMs)) sizeBytes = rangeBytes;
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
  return {
    rw: o.rw,
    random: o.rw.startsWith('rand'),
    readPct,
    blockSizes,
    maxBlockBytes,
    iodepth,
    queues,
    sizeBytes,
    timeMs,
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
