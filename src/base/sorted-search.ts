/**
 * Binary search over an ascending array of numbers, as C++'s lower_bound and
 * upper_bound: the sorted-interval structures (the NIC's RangeSet, the
 * workload's WrittenExtents) keep their range ends in such an array and find
 * the first range a position touches with it.
 */

/** Index of the first element >= x (sorted.length when none). */
export function lowerBound(sorted: readonly number[], x: number): number {
  return firstIndexPast(sorted, x, false);
}

/** Index of the first element > x (sorted.length when none). */
export function upperBound(sorted: readonly number[], x: number): number {
  return firstIndexPast(sorted, x, true);
}

function firstIndexPast(sorted: readonly number[], x: number, skipEqual: boolean): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = sorted[mid]!;
    if (v < x || (skipEqual && v === x)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
