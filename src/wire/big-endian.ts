/**
 * Network byte order (big-endian) reads and writes on a plain Uint8Array, for
 * the Ethernet, ARP, IPv4 and TCP emitters, which write into caller-provided
 * bytes that need not be a Buffer (so Buffer's writeUInt16BE is not there).
 * Small enough for V8 to inline on the per-frame path.
 */

/** Writes `v` (0..0xffff) as two big-endian bytes at `out[at]`. */
export function writeU16BE(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 8;
  out[at + 1] = v & 0xff;
}

/** Writes `v` (0..0xffffffff) as four big-endian bytes at `out[at]`. */
export function writeU32BE(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 24;
  out[at + 1] = (v >>> 16) & 0xff;
  out[at + 2] = (v >>> 8) & 0xff;
  out[at + 3] = v & 0xff;
}

/** The unsigned big-endian 32-bit value at `buf[at]`. */
export function readU32BE(buf: Uint8Array, at: number): number {
  return ((buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!) >>> 0;
}
