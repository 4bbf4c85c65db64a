/**
 * Copies into shared memory at memcpy speed. The workload's read buffers are
 * SharedArrayBuffers (a NIC on its own thread places into them), and both
 * the host's copy routine (host/net/skb-copy.ts) and the NIC's DDP
 * placement (nicemu/ddp/) copy received payload into them.
 *
 * V8 copies into shared memory (TypedArray#set, and Buffer#copy, which uses
 * it) with relaxed atomic stores: 8 bytes at a time when source and
 * destination addresses agree mod 8, byte by byte otherwise, ~15 times
 * slower than memcpy. Received payload sits at an odd place in its frame
 * (after 66 bytes of headers, say), so nearly every copy is the slow kind.
 *
 * ddplab's `native/copy` addon (built by the bootstrap) does it with one
 * memmove, from an offset of the source (no view of it per copy). Without
 * the addon, a copy goes first into `stage` at the destination's alignment
 * (ordinary memory: a memcpy), then from there in 8-byte words: ~4 times
 * faster than the plain copy for 1448- and 8948-byte segments, and still
 * 3-5 times slower than the addon (native/copy/README.md).
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from './paths.js';

/** The built addon (scripts/bootstrap.mjs). */
export const COPY_ADDON = join(PROJECT_ROOT, 'native', 'copy', 'build', 'Release', 'ddplab_copy.node');

interface CopyAddon {
  copy(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number, len: number): void;
}

function loadAddon(): CopyAddon | undefined {
  if (!existsSync(COPY_ADDON)) return undefined;
  try {
    return createRequire(import.meta.url)(COPY_ADDON) as CopyAddon;
  } catch {
    // A build for another Node: the JavaScript path copies the same bytes.
    return undefined;
  }
}

const addon = loadAddon();

/** True when copies run in the native addon (else in JavaScript). */
export const NATIVE_COPY = addon !== undefined;

/**
 * Staging area for copies into shared memory, 8-byte aligned like every
 * ArrayBuffer's storage.
 */
const STAGE_BYTES = 64 * 1024;
const stage = new Uint8Array(STAGE_BYTES + 8);
/** Below this a staged copy saves nothing. */
const STAGE_MIN_BYTES = 256;
/** Below this the call into the addon costs more than TypedArray#set. */
const NATIVE_MIN_BYTES = 128;

/** Thrown for a range outside either array: nothing was copied. */
export class CopyRangeError extends RangeError {
  readonly code = 'COPY_RANGE';
}

function checkRange(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number, len: number): void {
  if (Number.isInteger(dstOff) && Number.isInteger(srcOff) && Number.isInteger(len) && dstOff >= 0 && srcOff >= 0 && len >= 0 && dstOff + len <= dst.length && srcOff + len <= src.length) return;
  throw new CopyRangeError(`copy of ${len} bytes from ${srcOff} to ${dstOff}: outside the source (${src.length}) or the destination (${dst.length})`);
}

/**
 * Copies src[srcOff, srcOff + len) to dst at dstOff, fast also when dst is
 * in a SharedArrayBuffer. Offsets and length are whole numbers and both
 * ranges lie inside their arrays (CopyRangeError otherwise, before a byte
 * moves).
 */
export function copyRange(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number, len: number): void {
  checkRange(dst, dstOff, src, srcOff, len);
  if (addon !== undefined && len >= NATIVE_MIN_BYTES) {
    addon.copy(dst, dstOff, src, srcOff, len);
    return;
  }
  copyJs(dst, dstOff, srcOff === 0 && len === src.length ? src : src.subarray(srcOff, srcOff + len));
}

/** dst.set(src, dstOff), fast also when dst is in a SharedArrayBuffer (copyRange over all of src). */
export function copyBytes(dst: Uint8Array, dstOff: number, src: Uint8Array): void {
  copyRange(dst, dstOff, src, 0, src.length);
}

/** The JavaScript path (where the addon is not built; tests hold both paths to the same bytes). */
export function copyRangeJs(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number, len: number): void {
  checkRange(dst, dstOff, src, srcOff, len);
  copyJs(dst, dstOff, src.subarray(srcOff, srcOff + len));
}

function copyJs(dst: Uint8Array, dstOff: number, src: Uint8Array): void {
  const n = src.length;
  const k = (dst.byteOffset + dstOff) & 7;
  if (n < STAGE_MIN_BYTES || k === (src.byteOffset & 7) || !(dst.buffer instanceof SharedArrayBuffer) || src.buffer instanceof SharedArrayBuffer) {
    dst.set(src, dstOff);
    return;
  }
  for (let pos = 0; pos < n; pos += STAGE_BYTES) {
    const m = Math.min(STAGE_BYTES, n - pos);
    stage.set(pos === 0 && m === n ? src : src.subarray(pos, pos + m), k);
    dst.set(stage.subarray(k, k + m), dstOff + pos);
  }
}
