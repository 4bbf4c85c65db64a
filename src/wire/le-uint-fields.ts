/**
 * Little-endian unsigned integer fields of a fixed-layout structure (the
 * numeric part of Identify data, say) described once as a table — name →
 * [byte offset, width] — and read or written by that table, so a field's
 * offset and width are stated in one place instead of again in the parser
 * and the emitter.
 */
import { checkNvmeField } from './nvme-sqe.js';

export type LeUintWidth = 1 | 2 | 4;

/** Field name → [byte offset, width in bytes]. */
export type LeUintFields<K extends string> = { readonly [P in K]: readonly [offset: number, width: LeUintWidth] };

const MAX: Readonly<Record<LeUintWidth, number>> = { 1: 0xff, 2: 0xffff, 4: 0xffff_ffff };

/** Every field of `fields` read from `buf` at `off` + its offset. The caller checked the length. */
export function readLeUints<K extends string>(buf: Buffer, off: number, fields: LeUintFields<K>): Record<K, number> {
  const out = {} as Record<K, number>;
  for (const name of Object.keys(fields) as K[]) {
    const [at, width] = fields[name];
    out[name] = buf.readUIntLE(off + at, width);
  }
  return out;
}

/** Writes every field of `fields` from `values`; throws BAD_FIELD (checkNvmeField) for a value that does not fit. */
export function writeLeUints<K extends string>(out: Buffer, off: number, fields: LeUintFields<K>, values: Readonly<Record<K, number>>): void {
  for (const name of Object.keys(fields) as K[]) {
    const [at, width] = fields[name];
    const v = values[name];
    checkNvmeField(name, v, MAX[width]);
    out.writeUIntLE(v, off + at, width);
  }
}
