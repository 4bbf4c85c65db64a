/**
 * A fixed-length NVMe structure (SQE, CQE, Identify data, Connect data)
 * built into a fresh zero-filled buffer by its codec's `emitX(repr, out, off)`:
 * reserved bytes stay zero, as the spec wants them on the wire.
 */
export function buildFixed<R>(lenBytes: number, emit: (repr: R, out: Buffer, off: number) => void, repr: R): Buffer {
  const out = Buffer.alloc(lenBytes);
  emit(repr, out, 0);
  return out;
}
