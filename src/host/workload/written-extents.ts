/**
 * What a workload run wrote, for verification: a sparse map from byte
 * ranges of the namespace to the seed of the block pattern the run wrote
 * there.
 *
 * The workload writes fillPattern(writeSeed, byteOffset) with a fresh seed
 * per write, so "what should be here" is one u32 per extent instead of a copy
 * of the data: unwritten bytes are the target's pattern(patternSeed,
 * offset), written ones pattern(writeSeed, offset), and a range whose write
 * failed is UNKNOWN (the target may hold old bytes, new bytes, or a mix).
 *
 * Extents are kept sorted and disjoint in three parallel arrays; a write
 * replaces whatever it overlaps, trimming neighbours.
 */
import { upperBound } from '../../base/sorted-search.js';

/** Content of a range whose write failed: not verifiable. */
export const EXTENT_UNKNOWN = -1;

/** One run of bytes with the same expected content. */
export interface ExtentPiece {
  readonly start: number;
  readonly end: number;
  /** The seed written there, EXTENT_UNKNOWN, or undefined for never written in this run. */
  readonly seed: number | undefined;
}

export class WrittenExtents {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private readonly seeds: number[] = [];

  /** Number of extents held. */
  get size(): number {
    return this.starts.length;
  }

  /** Records that [start, end) now holds pattern(seed) (or EXTENT_UNKNOWN). */
  set(start: number, end: number, seed: number): void {
    if (!(end > start)) return;
    const i = this.firstEndingAfter(start);
    let j = i;
    while (j < this.starts.length && this.starts[j]! < end) j++;
    const newStarts: number[] = [];
    const newEnds: number[] = [];
    const newSeeds: number[] = [];
    if (i < j && this.starts[i]! < start) {
      newStarts.push(this.starts[i]!);
      newEnds.push(start);
      newSeeds.push(this.seeds[i]!);
    }
    newStarts.push(start);
    newEnds.push(end);
    newSeeds.push(seed);
    if (i < j && this.ends[j - 1]! > end) {
      newStarts.push(end);
      newEnds.push(this.ends[j - 1]!);
      newSeeds.push(this.seeds[j - 1]!);
    }
    this.starts.splice(i, j - i, ...newStarts);
    this.ends.splice(i, j - i, ...newEnds);
    this.seeds.splice(i, j - i, ...newSeeds);
  }

  /** Splits [start, end) into pieces of uniform expected content, in order, gaps included. */
  pieces(start: number, end: number): ExtentPiece[] {
    const out: ExtentPiece[] = [];
    let pos = start;
    for (let i = this.firstEndingAfter(start); i < this.starts.length && this.starts[i]! < end; i++) {
      const s = Math.max(this.starts[i]!, start);
      if (s > pos) out.push({ start: pos, end: s, seed: undefined });
      const e = Math.min(this.ends[i]!, end);
      out.push({ start: s, end: e, seed: this.seeds[i]! });
      pos = e;
    }
    if (pos < end) out.push({ start: pos, end, seed: undefined });
    return out;
  }

  /** Index of the first extent whose end is after `pos` (binary search). */
  private firstEndingAfter(pos: number): number {
    return upperBound(this.ends, pos);
  }
}
