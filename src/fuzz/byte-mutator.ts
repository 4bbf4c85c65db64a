/**
 * Format-blind mutations of one byte string, in the style of AFL's "havoc"
 * stage: a few stacked edits chosen at random — bit flips, random bytes,
 * "interesting" integers (the boundaries parsers get wrong) in either byte
 * order, small arithmetic on 8/16/32-bit words, block deletion, insertion,
 * duplication and overwrite, dictionary tokens, truncation, extension, and
 * splicing with another corpus entry. Never modifies its input.
 */
import type { Rng } from './rng.js';

/** Values that sit on the edges of 8-, 16- and 32-bit fields. */
const INTERESTING_8 = [0, 1, 2, 3, 4, 7, 8, 16, 24, 31, 32, 64, 100, 127, 128, 129, 254, 255];
const INTERESTING_16 = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x200, 0x3e8, 0x400, 0x5dc, 0x1000, 0x2000, 0x7fff, 0x8000, 0xfffe, 0xffff];
const INTERESTING_32 = [
  0, 1, 0xff, 0x100, 0xffff, 0x1_0000, 0x10_0000, 0x100_0000, 0x7fff_ffff, 0x8000_0000, 0x8000_0001, 0xffff_fffe, 0xffff_ffff, 0x4000_0000,
];

export interface ByteMutateOptions {
  /** Longest output (the mutator truncates to it). */
  readonly maxLen: number;
  /** Another input to splice from. */
  readonly donor?: Buffer | undefined;
  /** Tokens worth inserting whole (valid headers, magic numbers). */
  readonly dictionary?: readonly Buffer[] | undefined;
  /** Upper bound of stacked edits is 2^maxStackLog2 (default 4: up to 16). */
  readonly maxStackLog2?: number;
}

/** A position inside `buf` (0 for an empty buffer). */
function pos(rng: Rng, buf: Buffer, width = 1): number {
  return buf.length <= width ? 0 : rng.below(buf.length - width + 1);
}

/** A block length, biased small, at most `max`. */
function blockLen(rng: Rng, max: number): number {
  if (max <= 1) return max;
  const r = rng.below(10);
  if (r < 6) return 1 + rng.below(Math.min(8, max));
  if (r < 9) return 1 + rng.below(Math.min(128, max));
  return 1 + rng.below(max);
}

function writeInt(buf: Buffer, at: number, width: 1 | 2 | 4, value: number, le: boolean): void {
  if (at + width > buf.length) return;
  const v = value >>> 0;
  if (width === 1) buf[at] = v & 0xff;
  else if (width === 2) {
    if (le) buf.writeUInt16LE(v & 0xffff, at);
    else buf.writeUInt16BE(v & 0xffff, at);
  } else if (le) buf.writeUInt32LE(v, at);
  else buf.writeUInt32BE(v, at);
}

function readInt(buf: Buffer, at: number, width: 1 | 2 | 4, le: boolean): number {
  if (width === 1) return buf[at]!;
  if (width === 2) return le ? buf.readUInt16LE(at) : buf.readUInt16BE(at);
  return le ? buf.readUInt32LE(at) : buf.readUInt32BE(at);
}

/** One edit; returns the (possibly new) buffer. `buf` is the mutator's own copy and may be written. */
function editOnce(buf: Buffer, rng: Rng, opts: ByteMutateOptions): Buffer {
  const op = rng.below(16);
  switch (op) {
    case 0: {
      if (buf.length === 0) return Buffer.from([rng.below(256)]);
      const bit = rng.below(buf.length * 8);
      buf[bit >>> 3]! ^= 0x80 >>> (bit & 7);
      return buf;
    }
    case 1:
      if (buf.length > 0) buf[pos(rng, buf)] = rng.below(256);
      return buf;
    case 2:
      if (buf.length > 0) buf[pos(rng, buf)] = rng.pick(INTERESTING_8);
      return buf;
    case 3:
      if (buf.length >= 2) writeInt(buf, pos(rng, buf, 2), 2, rng.pick(INTERESTING_16), rng.chance(0.5));
      return buf;
    case 4:
      if (buf.length >= 4) writeInt(buf, pos(rng, buf, 4), 4, rng.pick(INTERESTING_32), rng.chance(0.5));
      return buf;
    case 5: {
      // Small arithmetic on a word: off-by-a-few in lengths and offsets.
      const width = rng.pick([1, 2, 4] as const);
      if (buf.length < width) return buf;
      const at = pos(rng, buf, width);
      const le = rng.chance(0.5);
      const delta = (1 + rng.below(35)) * (rng.chance(0.5) ? 1 : -1);
      writeInt(buf, at, width, readInt(buf, at, width, le) + delta, le);
      return buf;
    }
    case 6: {
      if (buf.length === 0) return buf;
      const n = blockLen(rng, buf.length);
      const at = rng.below(buf.length - n + 1);
      return Buffer.concat([buf.subarray(0, at), buf.subarray(at + n)]);
    }
    case 7: {
      // Duplicate a block of itself somewhere (repeated headers, repeated options).
      if (buf.length === 0) return buf;
      const n = blockLen(rng, buf.length);
      const from = rng.below(buf.length - n + 1);
      const at = rng.below(buf.length + 1);
      return Buffer.concat([buf.subarray(0, at), Buffer.from(buf.subarray(from, from + n)), buf.subarray(at)]);
    }
    case 8: {
      const n = blockLen(rng, 64);
      const at = rng.below(buf.length + 1);
      const block = Buffer.alloc(n, rng.chance(0.5) ? rng.below(256) : 0);
      if (rng.chance(0.5)) for (let i = 0; i < n; i++) block[i] = rng.below(256);
      return Buffer.concat([buf.subarray(0, at), block, buf.subarray(at)]);
    }
    case 9: {
      // Overwrite a block with another part of itself.
      if (buf.length < 2) return buf;
      const n = blockLen(rng, buf.length - 1);
      const from = rng.below(buf.length - n + 1);
      const to = rng.below(buf.length - n + 1);
      buf.copy(buf, to, from, from + n);
      return buf;
    }
    case 10: {
      if (buf.length === 0) return buf;
      const n = blockLen(rng, buf.length);
      const at = rng.below(buf.length - n + 1);
      buf.fill(rng.chance(0.5) ? 0 : rng.chance(0.5) ? 0xff : rng.below(256), at, at + n);
      return buf;
    }
    case 11: {
      const dict = opts.dictionary;
      if (dict === undefined || dict.length === 0) return buf;
      const token = rng.pick(dict);
      const at = rng.below(buf.length + 1);
      if (rng.chance(0.5) && at + token.length <= buf.length) {
        token.copy(buf, at);
        return buf;
      }
      return Buffer.concat([buf.subarray(0, at), token, buf.subarray(at)]);
    }
    case 12:
      // Truncate: most parsers' first question is "is there enough?".
      return buf.length === 0 ? buf : buf.subarray(0, rng.below(buf.length));
    case 13: {
      const n = blockLen(rng, 256);
      const tail = Buffer.alloc(n, rng.chance(0.5) ? 0 : rng.below(256));
      return Buffer.concat([buf, tail]);
    }
    case 14: {
      const donor = opts.donor;
      if (donor === undefined || donor.length === 0) return buf;
      // Splice: our head, the donor's tail.
      const cut = rng.below(buf.length + 1);
      const dcut = rng.below(donor.length);
      return Buffer.concat([buf.subarray(0, cut), donor.subarray(dcut)]);
    }
    default: {
      const donor = opts.donor;
      if (donor === undefined || donor.length === 0 || buf.length === 0) return buf;
      // Overwrite a block with bytes from the donor (keeps our length).
      const n = blockLen(rng, Math.min(buf.length, donor.length));
      donor.copy(buf, rng.below(buf.length - n + 1), rng.below(donor.length - n + 1));
      return buf;
    }
  }
}

/** A havoc-mutated copy of `input`: 1..2^k stacked edits, at most `maxLen` bytes. */
export function havoc(input: Buffer, rng: Rng, opts: ByteMutateOptions): Buffer {
  // A copy: every edit either writes this copy or builds a new buffer, so input and donor stay untouched.
  let buf: Buffer = Buffer.from(input);
  const edits = 1 << rng.below((opts.maxStackLog2 ?? 4) + 1);
  for (let i = 0; i < edits; i++) buf = editOnce(buf, rng, opts);
  if (buf.length > opts.maxLen) buf = buf.subarray(0, opts.maxLen);
  return buf;
}
