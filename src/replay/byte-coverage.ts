/**
 * Which bytes of a command's data arrived: disjoint, sorted [start, end)
 * ranges. A read is whole only when they cover [0, length) — how a replay
 * tells a command whose data is all in the capture from one that lost some.
 * Data normally arrives in order, so the common case appends to or extends
 * the last range.
 */
export class ByteCoverage {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private total = 0;

  /** Bytes covered. */
  get bytes(): number {
    return this.total;
  }

  /** True when [0, length) is covered. */
  covers(length: number): boolean {
    if (length === 0) return true;
    return this.starts.length === 1 && this.starts[0] === 0 && this.ends[0]! >= length;
  }

  add(off: number, len: number): void {
    if (len <= 0) return;
    const end = off + len;
    const n = this.starts.length;
    if (n === 0 || off > this.ends[n - 1]!) {
      this.starts.push(off);
      this.ends.push(end);
      this.total += len;
      return;
    }
    // Merge with every range it touches.
    let i = 0;
    while (i < n && this.ends[i]! < off) i++;
    let j = i;
    let lo = off;
    let hi = end;
    let removed = 0;
    while (j < n && this.starts[j]! <= end) {
      lo = Math.min(lo, this.starts[j]!);
      hi = Math.max(hi, this.ends[j]!);
      removed += this.ends[j]! - this.starts[j]!;
      j++;
    }
    this.starts.splice(i, j - i, lo);
    this.ends.splice(i, j - i, hi);
    this.total += hi - lo - removed;
  }
}
