/**
 * The parameter block at the head of a frame-sequence input: a few bytes
 * that configure the harness (digests, offload mode, buffer sizes, a seed
 * for the control schedule). The mutator treats it as bytes like any other,
 * so every read is tolerant: a field past the end reads as its default.
 */
export class ParamBlock {
  constructor(private readonly buf: Buffer) {}

  u8(at: number, dflt = 0): number {
    return at < this.buf.length ? this.buf[at]! : dflt;
  }

  u16(at: number, dflt = 0): number {
    return at + 2 <= this.buf.length ? this.buf.readUInt16LE(at) : dflt;
  }

  u32(at: number, dflt = 0): number {
    return at + 4 <= this.buf.length ? this.buf.readUInt32LE(at) : dflt;
  }

  bit(at: number, bit: number, dflt = false): boolean {
    return at < this.buf.length ? (this.buf[at]! & (1 << bit)) !== 0 : dflt;
  }
}

/** Writes a parameter block from (offset, width, value) fields; width 1, 2 or 4 (little-endian). */
export function buildParams(len: number, fields: readonly (readonly [number, 1 | 2 | 4, number])[]): Buffer {
  const b = Buffer.alloc(len);
  for (const [at, width, v] of fields) {
    if (width === 1) b[at] = v & 0xff;
    else if (width === 2) b.writeUInt16LE(v & 0xffff, at);
    else b.writeUInt32LE(v >>> 0, at);
  }
  return b;
}
