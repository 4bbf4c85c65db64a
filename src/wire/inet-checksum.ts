/**
 * The Internet checksum (RFC 1071): the 16-bit ones'-complement of the
 * ones'-complement sum of 16-bit big-endian words.
 *
 * Sums are kept as folded 16-bit values (0..0xffff) so that partial sums of
 * separate pieces compose with `onesAdd` — a header, a pseudo-header and a
 * payload held as a list of fragments are summed without concatenating them.
 * A piece that starts at an odd byte position of the whole is summed as if it
 * were even and then byte-swapped (RFC 1071 §2(B), byte-order independence).
 */

import { instantiateSimd, Op, simdOp, ValType, type SimdInstance } from './wasm-simd.js';

/** Ones'-complement sum of `buf[start..end)` as big-endian 16-bit words, added to `acc`; folded to 16 bits. */
export function onesSum(buf: Uint8Array, acc = 0, start = 0, end = buf.length): number {
  if (SIMD !== undefined && end - start >= SIMD_MIN_BYTES) return onesSumSimd(SIMD, buf, acc, start, end);
  return onesSumJs(buf, acc, start, end);
}

/** onesSum without the SIMD module: for short pieces, where WebAssembly SIMD is missing, and as the tests' second opinion. */
export function onesSumJs(buf: Uint8Array, acc = 0, start = 0, end = buf.length): number {
  if (!LITTLE_ENDIAN || end - start < WORD_PATH_MIN_BYTES) return onesSumBytes(buf, acc, start, end);
  // The per-frame hot path (every received segment is checksummed): sum the
  // 4-byte-aligned middle through a Uint32Array. On a little-endian CPU each
  // u32 holds two byte-swapped big-endian words; summing them swapped and
  // swapping the folded result is the same sum (RFC 1071 §2(B)).
  const lead = (4 - ((buf.byteOffset + start) & 3)) & 3;
  const midStart = start + lead;
  const words = (end - midStart) >>> 2;
  const midEnd = midStart + 4 * words;
  let sum = onesSumBytes(buf, acc, start, midStart);
  // Each u32 is summed whole: hi * 2^16 + lo is lo + hi mod 0xffff, the
  // modulus of ones'-complement addition, so the folded sum of the u32s is
  // that of their 16-bit halves, with one add per 4 bytes. Blocks of at most
  // 2^20 words keep the double exact (< 2^52) between folds.
  const u32 = wordView(buf.buffer);
  let i = (buf.byteOffset + midStart) >>> 2;
  const last = i + words;
  let m = 0;
  while (i < last) {
    const blockEnd = Math.min(last, i + WORDS_PER_FOLD);
    let m0 = 0;
    let m1 = 0;
    for (; i + 4 <= blockEnd; i += 4) {
      m0 += u32[i]! + u32[i + 1]!;
      m1 += u32[i + 2]! + u32[i + 3]!;
    }
    for (; i < blockEnd; i++) m0 += u32[i]!;
    m = onesFold(m + m0 + m1);
  }
  let mid = onesSwap(onesFold(m));
  // A piece that starts an odd number of bytes into the whole is swapped once more.
  if ((lead & 1) === 1) mid = onesSwap(mid);
  sum = onesAdd(sum, mid);
  let tail = onesSumBytes(buf, 0, midEnd, end);
  if (((midEnd - start) & 1) === 1) tail = onesSwap(tail);
  return onesAdd(sum, tail);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** 2^20 words of < 2^32 sum to < 2^52: exact in a double. */
const WORDS_PER_FOLD = 1 << 20;

/**
 * A Uint32Array over the whole of the last ArrayBuffer summed: frames come
 * one after another from the same pool slab, so most calls reuse it instead
 * of building a view per frame (an allocation per received segment).
 */
let viewedBuffer: ArrayBufferLike | undefined;
let viewedWords: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

function wordView(ab: ArrayBufferLike): Uint32Array<ArrayBufferLike> {
  // A buffer that shrank (resizable) since its view was made gets a new one too.
  if (ab !== viewedBuffer || viewedWords.length !== ab.byteLength >>> 2) {
    viewedBuffer = ab;
    viewedWords = new Uint32Array(ab, 0, ab.byteLength >>> 2);
  }
  return viewedWords;
}
/** Below this the byte loop is as fast and needs no view object. */
const WORD_PATH_MIN_BYTES = 64;

/*
 * The SIMD path (wasm-simd.ts): sum(end) adds up mem[0..end) (end a
 * multiple of 16) as little-endian u16s, eight per step, pairwise into four
 * u32 lanes (i32x4.extadd_pairwise_i16x8_u), and returns the four lanes'
 * total. The piece is copied into the module's memory first (a memcpy), its
 * last step padded with zeros. Little-endian u16s are the big-endian words
 * byte-swapped, so the folded total is swapped once (RFC 1071 §2(B)), as
 * the Uint32Array path does. A 64 KiB chunk adds at most 4096 × 131070 per
 * lane and < 2^31 in all: no overflow. About twice the Uint32Array path's
 * speed on 1514- and 9014-byte frames, copy included.
 */
const SIMD_CHUNK_BYTES = 64 * 1024;
/** Below this the JavaScript paths are as fast as a copy and a call. */
const SIMD_MIN_BYTES = 128;

type SumFn = (end: number) => number;

function simdSummer(): SimdInstance<SumFn> | undefined {
  const { LOCAL_GET: GET, LOCAL_SET: SET } = Op;
  const lane = (i: number): number[] => [GET, 2, ...simdOp(Op.I32X4_EXTRACT_LANE), i];
  // Locals: param 0 end; 1 ptr (i32); 2 acc (v128, zero).
  const code = [
    Op.BLOCK, Op.VOID, Op.LOOP, Op.VOID,
    GET, 1, GET, 0, Op.I32_GE_U, Op.BR_IF, 1, // ptr >= end: leave
    GET, 2, GET, 1, ...simdOp(Op.V128_LOAD), 4, 0, ...simdOp(Op.I32X4_EXTADD_PAIRWISE_I16X8_U), ...simdOp(Op.I32X4_ADD), SET, 2,
    GET, 1, Op.I32_CONST, 16, Op.I32_ADD, SET, 1,
    Op.BR, 0,
    Op.END, Op.END,
    ...lane(0), ...lane(1), Op.I32_ADD, ...lane(2), Op.I32_ADD, ...lane(3), Op.I32_ADD,
  ];
  return instantiateSimd<SumFn>({
    name: 'sum',
    params: [ValType.I32],
    results: [ValType.I32],
    locals: [
      [1, ValType.I32],
      [1, ValType.V128],
    ],
    code,
    memoryPages: 2,
  });
}

const SIMD = simdSummer();

/** True when onesSum runs long pieces on the SIMD module (tests compare it with onesSumJs). */
export const CHECKSUM_SIMD = SIMD !== undefined;

function onesSumSimd(simd: SimdInstance<SumFn>, buf: Uint8Array, acc: number, start: number, end: number): number {
  const mem = simd.mem;
  let total = 0;
  // Chunks are an even number of bytes, so each starts on a word of the whole.
  for (let pos = start; pos < end; pos += SIMD_CHUNK_BYTES) {
    const n = Math.min(SIMD_CHUNK_BYTES, end - pos);
    mem.set(pos === 0 && n === buf.length ? buf : buf.subarray(pos, pos + n), 0);
    const padded = (n + 15) & ~15;
    for (let i = n; i < padded; i++) mem[i] = 0;
    total += simd.fn(padded) >>> 0;
  }
  return onesFold(acc + onesSwap(onesFold(total)));
}

/** onesSum one byte pair at a time (short pieces, unaligned ends, big-endian CPUs). */
function onesSumBytes(buf: Uint8Array, acc: number, start: number, end: number): number {
  // A double holds integers exactly up to 2^53, so the sum of any Buffer's
  // words (< 2^32 words of < 2^16) needs no folding inside the loop.
  let sum = acc;
  let i = start;
  const even = end - ((end - start) & 1);
  for (; i + 8 <= even; i += 8) {
    sum +=
      ((buf[i]! << 8) | buf[i + 1]!) +
      ((buf[i + 2]! << 8) | buf[i + 3]!) +
      ((buf[i + 4]! << 8) | buf[i + 5]!) +
      ((buf[i + 6]! << 8) | buf[i + 7]!);
  }
  for (; i < even; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  // An odd trailing byte is the high half of a word padded with zero.
  if (even !== end) sum += buf[even]! << 8;
  return onesFold(sum);
}

/** Folds a non-negative integer sum (< 2^53) into a 16-bit ones'-complement value. */
export function onesFold(sum: number): number {
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return sum;
}

/** Ones'-complement addition of two 16-bit partial sums. */
export function onesAdd(a: number, b: number): number {
  const s = a + b;
  return s > 0xffff ? s - 0xffff : s;
}

/** Byte-swaps a 16-bit partial sum: the contribution of a piece that starts at an odd offset of the whole. */
export function onesSwap(sum: number): number {
  return ((sum & 0xff) << 8) | (sum >>> 8);
}

/** Ones'-complement sum of a list of fragments taken as one contiguous byte string, added to `acc`. */
export function onesSumFragments(frags: readonly Uint8Array[], acc = 0): number {
  let sum = acc;
  let odd = false;
  for (let k = 0; k < frags.length; k++) {
    const frag = frags[k]!;
    const part = onesSum(frag);
    sum = onesAdd(sum, odd ? onesSwap(part) : part);
    if (frag.length & 1) odd = !odd;
  }
  return sum;
}

/** Ones'-complement sum of one buffer or a fragment list, added to `acc`. */
export function onesSumAny(data: Uint8Array | readonly Uint8Array[], acc = 0): number {
  return data instanceof Uint8Array ? onesSum(data, acc) : onesSumFragments(data, acc);
}

/** Turns a folded sum into the checksum field value (its complement). */
export function checksumFinish(sum: number): number {
  return ~sum & 0xffff;
}

/** The Internet checksum of `buf[start..end)` (the checksum field inside it must be zero). */
export function inetChecksum(buf: Uint8Array, start = 0, end = buf.length): number {
  return checksumFinish(onesSum(buf, 0, start, end));
}

/**
 * Ones'-complement sum of the IPv4 pseudo-header (RFC 9293 §3.1: source,
 * destination, zero, protocol, upper-layer length) that TCP and UDP checksums cover.
 */
export function pseudoHeaderSum(srcIp: number, dstIp: number, protocol: number, l4LenBytes: number): number {
  return onesFold(
    (srcIp >>> 16) + (srcIp & 0xffff) + (dstIp >>> 16) + (dstIp & 0xffff) + protocol + l4LenBytes,
  );
}

/**
 * Updates a checksum field after one 16-bit word of the covered data changed
 * from `oldWord` to `newWord`, without resumming (RFC 1624 eqn. 3:
 * HC' = ~(~HC + ~m + m')). Used when a NAT-like rewrite or a TTL decrement
 * touches one field.
 */
export function checksumUpdate16(oldChecksum: number, oldWord: number, newWord: number): number {
  const sum = onesAdd(onesAdd(~oldChecksum & 0xffff, ~oldWord & 0xffff), newWord & 0xffff);
  return checksumFinish(sum);
}
