/**
 * The validation pattern of the kernel's devmem selftest tool (ncdevmem
 * `-v N`): the stream is the bytes 1, 2, ..., N-1 followed by a newline
 * (10), over and over — what `yes` prints for a line of the bytes 1..N-1,
 * which is how the selftest feeds its sender. ncdevmem checks each received
 * byte against a counter that runs 1..N-1 and then stands for the newline;
 * ddplab checks every byte where it lies (host buffer, device memory, zcrx
 * area) at its stream position, and makes the sender's bytes the same way.
 *
 * N is 2..256: the counter is a byte, so a larger N never comes round and
 * behaves as 256 (1..255, newline); ddplab refuses it rather than pretend.
 */
import { UserError } from '../../base/errors.js';

export const PATTERN_MIN = 2;
export const PATTERN_MAX = 256;
/** What the counter stands for when it comes round to 0. */
const NEWLINE = 10;

/** `--validate N` checked: one line naming the flag when N is not 2..256. */
export function parsePatternPeriod(text: string, flag = '--validate'): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < PATTERN_MIN || n > PATTERN_MAX) {
    throw new UserError('BAD_FLAG', `${flag}: '${text}' is not a period in ${PATTERN_MIN}..${PATTERN_MAX} (the bytes 1..N-1 and a newline)`);
  }
  return n;
}

/** The byte at stream position `pos` of the pattern with period `n`. */
export function patternByte(pos: number, n: number): number {
  const k = pos % n;
  return k === n - 1 ? NEWLINE : k + 1;
}

/** One period of the pattern. */
export function patternPeriod(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let k = 0; k < n; k++) b[k] = patternByte(k, n);
  return b;
}

/** `len` bytes of the pattern starting at stream position `pos`. */
export function patternBytes(pos: number, len: number, n: number): Buffer {
  const period = patternPeriod(n);
  const out = Buffer.allocUnsafe(len);
  let at = 0;
  let k = pos % n;
  while (at < len) {
    const m = Math.min(n - k, len - at);
    period.copy(out, at, k, k + m);
    at += m;
    k = 0;
  }
  return out;
}

/** Checks received bytes against the pattern, in stream order. */
export class PatternChecker {
  /** Stream bytes checked so far (the next expected position). */
  checked = 0;
  mismatches = 0;
  /** The first mismatching stream position (-1: none). */
  firstMismatch = -1;
  private readonly period: Buffer;

  constructor(readonly n: number) {
    this.period = patternPeriod(n);
  }

  /** Checks `bytes` as the next stream bytes; returns the mismatches among them. */
  check(bytes: Uint8Array): number {
    const n = this.n;
    let k = this.checked % n;
    let bad = 0;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] !== this.period[k]) {
        if (this.firstMismatch < 0 && bad === 0) this.firstMismatch = this.checked + i;
        bad++;
      }
      if (++k === n) k = 0;
    }
    this.checked += bytes.length;
    this.mismatches += bad;
    return bad;
  }
}
