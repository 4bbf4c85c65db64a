/**
 * TCP sequence arithmetic modulo 2^32 (RFC 793 §3.3, RFC 1982 serial numbers).
 * Every comparison of sequence numbers in ddplab goes through these: a plain
 * `<` is wrong as soon as the stream wraps.
 */
export function seqAdd(seq: number, n: number): number {
  return (seq + n) >>> 0;
}

/** a - b as a signed 32-bit distance. */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

export function seqLt(a: number, b: number): boolean {
  return seqDiff(a, b) < 0;
}

export function seqLe(a: number, b: number): boolean {
  return seqDiff(a, b) <= 0;
}

export function seqGt(a: number, b: number): boolean {
  return seqDiff(a, b) > 0;
}

export function seqGe(a: number, b: number): boolean {
  return seqDiff(a, b) >= 0;
}

/** The later of two sequence numbers. */
export function seqMax(a: number, b: number): number {
  return seqGe(a, b) ? a : b;
}

export function seqMin(a: number, b: number): number {
  return seqLe(a, b) ? a : b;
}

/** True when `seq` lies in [start, start+len). */
export function seqInWindow(seq: number, start: number, len: number): boolean {
  const d = seqDiff(seq, start);
  return d >= 0 && d < len;
}
