/**
 * Completion-latency histogram with bounded relative error, for percentiles
 * over runs of any length in constant memory (the idea of HdrHistogram and
 * of fio's log-linear latency buckets).
 *
 * Values are recorded in nanoseconds. Below 128 ns every value has its own
 * bucket; above, each power of two is split into 64 linear sub-buckets, so a
 * reported percentile is within 1/64 (≈1.6 %) of the true sample. Min, max
 * and mean are exact.
 */

const LINEAR_LIMIT = 128; // 2^7: values below get exact buckets
const SUB_BITS = 6; // 64 sub-buckets per power of two
const SUB_COUNT = 1 << SUB_BITS;
const FIRST_EXP = 7;
const MAX_EXP = 52; // up to 2^53 ns, ~104 days
const BUCKETS = LINEAR_LIMIT + (MAX_EXP - FIRST_EXP + 1) * SUB_COUNT;

function bucketOf(ns: number): number {
  if (ns < LINEAR_LIMIT) return ns;
  const exp = Math.min(Math.floor(Math.log2(ns)), MAX_EXP);
  const sub = Math.floor(ns / 2 ** (exp - SUB_BITS)) - SUB_COUNT;
  return LINEAR_LIMIT + (exp - FIRST_EXP) * SUB_COUNT + Math.min(sub, SUB_COUNT - 1);
}

/** [low, high) of the values a bucket holds. */
function bucketRange(b: number): [number, number] {
  if (b < LINEAR_LIMIT) return [b, b + 1];
  const i = b - LINEAR_LIMIT;
  const exp = FIRST_EXP + Math.floor(i / SUB_COUNT);
  const sub = i % SUB_COUNT;
  const width = 2 ** (exp - SUB_BITS);
  const low = 2 ** exp + sub * width;
  return [low, low + width];
}

/** Latency percentiles in microseconds. */
export interface LatencySummary {
  readonly samples: number;
  readonly minUs: number;
  readonly meanUs: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
  readonly maxUs: number;
}

/** fio's default completion-latency percentiles (its percentile_list). */
export const FIO_PERCENTILES: readonly number[] = [1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99, 99.5, 99.9, 99.95, 99.99];

/** A percentile as fio's JSON names it: 99.9 → "99.900000". */
export function fioPercentileKey(p: number): string {
  return p.toFixed(6);
}

/** Latency in nanoseconds as fio's JSON gives it (clat_ns, lat_ns): exact min, max, mean, stddev, and percentiles. */
export interface LatencyNs {
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  /** Sample standard deviation (n − 1), as fio's. */
  readonly stddev: number;
  readonly N: number;
  /** fio's key ("99.000000") → ns, within 1/64 of the sample at that rank; absent when N is 0 (as fio omits them). */
  readonly percentile?: Readonly<Record<string, number>>;
}

export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  private n = 0;
  private sumNs = 0;
  /** Welford's running mean and sum of squared deviations (ns): exact enough for stddev on long runs. */
  private meanNs = 0;
  private m2Ns = 0;
  private minNs = Infinity;
  private maxNs = 0;

  /** Records one latency given in microseconds (fractions allowed; negative values count as 0). */
  recordUs(us: number): void {
    const ns = Math.max(0, Math.round(us * 1000));
    this.counts[bucketOf(ns)]!++;
    this.n++;
    this.sumNs += ns;
    const d = ns - this.meanNs;
    this.meanNs += d / this.n;
    this.m2Ns += d * (ns - this.meanNs);
    if (ns < this.minNs) this.minNs = ns;
    if (ns > this.maxNs) this.maxNs = ns;
  }

  get count(): number {
    return this.n;
  }

  /** Adds every sample of `other`. */
  merge(other: LatencyHistogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i]! += other.counts[i]!;
    if (other.n > 0) {
      // Chan et al.'s pairwise combination of two (mean, M2) pairs.
      const n = this.n + other.n;
      const d = other.meanNs - this.meanNs;
      this.m2Ns += other.m2Ns + (d * d * this.n * other.n) / n;
      this.meanNs += (d * other.n) / n;
    }
    this.n += other.n;
    this.sumNs += other.sumNs;
    this.minNs = Math.min(this.minNs, other.minNs);
    this.maxNs = Math.max(this.maxNs, other.maxNs);
  }

  /**
   * The value (µs) at or below which `p` percent of samples lie (0 < p ≤ 100),
   * within 1/64 of a sample; NaN when empty. Bucket midpoints, clamped to
   * the exact min and max.
   */
  percentileUs(p: number): number {
    if (this.n === 0) return NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.n));
    let seen = 0;
    for (let b = 0; b < BUCKETS; b++) {
      seen += this.counts[b]!;
      if (seen >= rank) {
        const [lo, hi] = bucketRange(b);
        const mid = b < LINEAR_LIMIT ? lo : (lo + hi - 1) / 2;
        return Math.min(Math.max(mid, this.minNs), this.maxNs) / 1000;
      }
    }
    return this.maxNs / 1000;
  }

  /** Sample standard deviation in ns (0 with fewer than two samples). */
  stddevNs(): number {
    if (this.n < 2) return 0;
    return Math.sqrt(this.m2Ns / (this.n - 1));
  }

  /** fio's clat_ns block: ns, whole-number percentiles (fio's buckets give integers too). */
  fioNs(percentiles: readonly number[] = FIO_PERCENTILES): LatencyNs {
    if (this.n === 0) return { min: 0, max: 0, mean: 0, stddev: 0, N: 0 };
    const percentile: Record<string, number> = {};
    for (const p of percentiles) percentile[fioPercentileKey(p)] = Math.round(this.percentileUs(p) * 1000);
    return { min: this.minNs, max: this.maxNs, mean: this.sumNs / this.n, stddev: this.stddevNs(), N: this.n, percentile };
  }

  summary(): LatencySummary {
    const empty = this.n === 0;
    return {
      samples: this.n,
      minUs: empty ? NaN : this.minNs / 1000,
      meanUs: empty ? NaN : this.sumNs / this.n / 1000,
      p50Us: this.percentileUs(50),
      p90Us: this.percentileUs(90),
      p99Us: this.percentileUs(99),
      p999Us: this.percentileUs(99.9),
      maxUs: empty ? NaN : this.maxNs / 1000,
    };
  }
}
