/**
 * Copies into shared memory at memcpy speed. The workload's read buffers are
 * SharedArrayBuffers (a NIC on its own thread places into them), and both
 * the host's copy routine (host/net/skb-copy.ts) and the NIC's DDP
 * placement (nicemu/ddp/) copy received payload into them.
 */
/**
 * Staging area for copies into shared memory, 8-byte aligned like every
 * ArrayBuffer's storage.
 */
const STAGE_BYTES = 64 * 1024;
const stage = new Uint8Array(STAGE_BYTES + 8);
/** Below this a staged copy saves nothing. */
const STAGE_MIN_BYTES = 256;

/**
 * dst.set(src, dstOff), fast also when dst is in a SharedArrayBuffer (the
 * workload's read buffers, so that a NIC on another thread can place into
 * them). V8 copies into shared memory with relaxed atomic stores: 8 bytes at
 * a time when source and destination addresses agree mod 8, byte by byte
 * otherwise, ~15 times slower than memcpy. Received payload sits at an odd
 * place in its frame (after 66 bytes of headers, say), so nearly every copy
 * was the slow kind. Such a copy goes first into `stage` at the
 * destination's alignment (ordinary memory: a memcpy), then from there in
 * 8-byte words: ~4 times faster for 1448- and 8948-byte segments.
 */
export function copyBytes(dst: Uint8Array, dstOff: number, src: Uint8Array): void {
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
