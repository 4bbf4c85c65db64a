/**
 * The host's one copy routine for received payload: it walks skb frags and
 * copies them into the reader's destination. It is where DDP pays off
 * (docs/design.md, "Contracts"; docs/protocol-facts.md, "Copy skip"): a `placed` frag views the
 * very bytes of the destination, so source == destination and nothing moves,
 * as the kernel's copy routine finds when a NIC placed the payload.
 *
 * Every receive-side copy of TCP payload in src/host goes through here so
 * the counts it returns are the whole story of what the host CPU copied.
 */
import { copyBytes, copyRange } from '../../base/shared-copy.js';
import { fragLength } from '../../nicemu/skb.js';
import type { HostFrag, PlacedFrag, SkbFrag } from '../../nicemu/skb.js';
import { DdplabError } from '../../base/errors.js';

export type SkbCopyErrorCode =
  /** A dmabuf frag reached the copy path: device memory must be read with the devmem API. */
  | 'DEVMEM_FRAG'
  /** The frags hold more bytes than the destination has room for. */
  | 'DST_TOO_SMALL';

export class SkbCopyError extends DdplabError<SkbCopyErrorCode> {
  constructor(code: SkbCopyErrorCode, message: string) {
    super(code, message);
    this.name = 'SkbCopyError';
  }
}

/** Byte counts of a copy; accumulate across calls by passing the same object. */
export interface SkbCopyCounts {
  /** Bytes the CPU moved (host frags, and placed frags that were not where the destination is). */
  copiedBytes: number;
  /** Bytes already in place (placed frags viewing exactly the destination range). */
  bytesSkipped: number;
  /** Placed frags whose buffer was not the destination: a DDP bug if it ever happens, still copied correctly. */
  placedMismatches: number;
  /**
   * Model-only audit (`ddp-misplaced-bytes`): bytes of those frags. The
   * destination is where the accepted stream assigns them (its CID and
   * offset); the NIC placed them elsewhere, e.g. into another read's buffer.
   * Kept only in counts made by newAuditedSkbCopyCounts.
   */
  misplacedBytes?: number;
}

export function newSkbCopyCounts(): SkbCopyCounts {
  return { copiedBytes: 0, bytesSkipped: 0, placedMismatches: 0 };
}

/** Counts that also keep the model-only `misplacedBytes` audit. */
export function newAuditedSkbCopyCounts(): SkbCopyCounts {
  return { ...newSkbCopyCounts(), misplacedBytes: 0 };
}

/**
 * Copies `frags` in order into `dst` starting at `dstOff` and adds what it
 * did to `counts` (a fresh object when omitted), which it returns. Throws
 * SkbCopyError DEVMEM_FRAG for a dmabuf frag and DST_TOO_SMALL when the
 * frags do not fit; nothing is copied in either case.
 */
export function copySkbFrags(frags: readonly SkbFrag[], dst: Uint8Array, dstOff: number, counts: SkbCopyCounts = newSkbCopyCounts()): SkbCopyCounts {
  let total = 0;
  for (let i = 0; i < frags.length; i++) {
    const f = frags[i]!;
    if (f.kind === 'dmabuf') {
      throw new SkbCopyError(
        'DEVMEM_FRAG',
        `frag ${i} is in dmabuf ${f.dmabufId} (offset ${f.offset}, ${f.size} bytes): read this socket with the devmem API`,
      );
    }
    total += fragLength(f);
  }
  if (dstOff < 0 || dstOff + total > dst.length) {
    throw new SkbCopyError('DST_TOO_SMALL', `${total} bytes do not fit at offset ${dstOff} of a ${dst.length}-byte destination`);
  }
  let at = dstOff;
  for (let i = 0; i < frags.length; i++) {
    const f = frags[i]!;
    if (f.kind === 'dmabuf') continue; // excluded above
    const src = f.buf;
    if (f.kind === 'placed') {
      if (src.buffer === dst.buffer && src.byteOffset === dst.byteOffset + at) {
        counts.bytesSkipped += src.length;
        at += src.length;
        continue;
      }
      counts.placedMismatches++;
      if (counts.misplacedBytes !== undefined) counts.misplacedBytes += src.length;
    }
    copyBytes(dst, at, src);
    counts.copiedBytes += src.length;
    at += src.length;
  }
  return counts;
}

/**
 * copySkbFrags of bytes [from, to) of one CPU-readable frag, without building
 * the one-element list or the narrowed frag (the ULP's per-segment path):
 * the same bytes, counts and errors as copySkbFrags([frag narrowed], ...).
 */
export function copyFragRange(f: HostFrag | PlacedFrag, from: number, to: number, dst: Uint8Array, dstOff: number, counts: SkbCopyCounts): SkbCopyCounts {
  const buf = f.buf;
  const n = to - from;
  if (from < 0 || n < 0 || to > buf.length) throw new RangeError(`frag range [${from}, ${to}) outside a ${buf.length}-byte frag`);
  if (dstOff < 0 || dstOff + n > dst.length) {
    throw new SkbCopyError('DST_TOO_SMALL', `${n} bytes do not fit at offset ${dstOff} of a ${dst.length}-byte destination`);
  }
  if (f.kind === 'placed') {
    if (buf.buffer === dst.buffer && buf.byteOffset + from === dst.byteOffset + dstOff) {
      counts.bytesSkipped += n;
      return counts;
    }
    counts.placedMismatches++;
    if (counts.misplacedBytes !== undefined) counts.misplacedBytes += n;
  }
  copyRange(dst, dstOff, buf, from, n);
  counts.copiedBytes += n;
  return counts;
}

// The copy routine itself lives in base/ (the NIC's DDP placement uses it too).
export { copyBytes };
