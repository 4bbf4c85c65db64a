/**
 * A set of half-open number ranges [start, end), kept sorted and merged: the
 * DDP engine's memory of which stream positions it has seen on the wire and
 * which destination offsets of a read it has already claimed.
 *
 * Bounded: past `maxRanges` disjoint ranges the lowest gap is closed, so the
 * set may claim to cover bytes it never saw. For the engine that errs on the
 * safe side (a covered byte is never placed; the host copies it instead), and
 * the lowest gap is the oldest hole, the least likely one to still be filled.
 */
import { lowerBound, upperBound } from '../base/sorted-search.js';

export class RangeSet {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];

  constructor(private readonly maxRanges = 64) {}

  /** Number of disjoint ranges held. */
  get size(): number {
    return this.starts.length;
  }

  /** End of the highest range (-Infinity when empty). */
  get maxEnd(): number {
    const n = this.ends.length;
    return n === 0 ? Number.NEGATIVE_INFINITY : this.ends[n - 1]!;
  }

  add(start: number, end: number): void {
    if (!(end > start)) return;
    const starts = this.starts;
    const ends = this.ends;
    const n = starts.length;
    // Fast path: appending at or after the top (in-order arrival).
    if (n === 0 || start > ends[n - 1]!) {
      starts.push(start);
      ends.push(end);
      this.bound();
      return;
    }
    if (start >= starts[n - 1]!) {
      if (end > ends[n - 1]!) ends[n - 1] = end;
      return;
    }
    // First range whose end reaches start, last range whose start reaches end.
    const i = this.firstEndingAtOrAfter(start);
    let j = i;
    while (j < n && starts[j]! <= end) j++;
    if (i === j) {
      starts.splice(i, 0, start);
      ends.splice(i, 0, end);
      this.bound();
      return;
    }
    const s = Math.min(start, starts[i]!);
    const e = Math.max(end, ends[j - 1]!);
    starts.splice(i, j - i, s);
    ends.splice(i, j - i, e);
  }

  /** True when every number of [start, end) is covered. */
  covers(start: number, end: number): boolean {
    if (!(end > start)) return true;
    const i = this.firstEndingAfter(start);
    return i < this.starts.length && this.starts[i]! <= start && this.ends[i]! >= end;
  }

  /** True when some number of [start, end) is covered. */
  intersects(start: number, end: number): boolean {
    if (!(end > start)) return false;
    const i = this.firstEndingAfter(start);
    return i < this.starts.length && this.starts[i]! < end;
  }

  /**
   * The parts of [start, end) not covered, as consecutive pairs pushed on
   * `out` (cleared first): [s0, e0, s1, e1, ...]. Returns `out`.
   */
  uncovered(start: number, end: number, out: number[]): number[] {
    out.length = 0;
    if (!(end > start)) return out;
    const starts = this.starts;
    const ends = this.ends;
    let at = start;
    for (let i = this.firstEndingAfter(start); i < starts.length && at < end; i++) {
      const s = starts[i]!;
      if (s >= end) break;
      if (s > at) out.push(at, s);
      if (ends[i]! > at) at = ends[i]!;
    }
    if (at < end) out.push(at, end);
    return out;
  }

  clear(): void {
    this.starts.length = 0;
    this.ends.length = 0;
  }

  /** Index of the first range with end >= x. */
  private firstEndingAtOrAfter(x: number): number {
    return lowerBound(this.ends, x);
  }

  /** Index of the first range with end > x. */
  private firstEndingAfter(x: number): number {
    return upperBound(this.ends, x);
  }

  private bound(): void {
    while (this.starts.length > this.maxRanges) {
      // Close the lowest gap: ranges 0 and 1 become one.
      this.ends[0] = this.ends[1]!;
      this.starts.splice(1, 1);
      this.ends.splice(1, 1);
    }
  }
}
