/**
 * The deterministic content of namespace blocks that nobody has written.
 *
 * The target's backing store answers reads of unwritten blocks with this
 * pattern, and the host verifies every byte it reads against it, so both
 * sides must compute exactly the same bytes from nothing but a seed and an
 * absolute byte offset into the namespace. The pattern does not depend on
 * the LBA size: byte `lba * lbaSize + i` is the same whether the namespace
 * is formatted with 512 B or 4 KiB blocks.
 *
 * Definition (enough to recompute it in any language):
 *
 *   - The namespace is a sequence of little-endian u32 words; word `w`
 *     covers bytes [4w, 4w + 4). Byte offsets go up to 2^53, so `w` is split
 *     into `wLo = w mod 2^32` and `wHi = floor(w / 2^32)`.
 *   - mix32(h) is MurmurHash3's 32-bit finalizer:
 *       h ^= h >>> 16; h = h * 0x85EBCA6B (mod 2^32);
 *       h ^= h >>> 13; h = h * 0xC2B2AE35 (mod 2^32);
 *       h ^= h >>> 16.
 *   - base(seed, wHi) = mix32((seed mod 2^32) XOR mix32(wHi XOR 0x6A09E667)).
 *   - word(seed, w)   = mix32(base(seed, wHi) XOR (wLo * 0x9E3779B1 mod 2^32)).
 *   - byte at offset o = (word(seed, floor(o / 4)) >>> (8 * (o mod 4))) & 0xFF.
 *
 * Within one 16 GiB span of equal `wHi`, `wLo → word` is a bijection (odd
 * multiplier, XOR, and fmix32 are all invertible), so no two words of a
 * span repeat: a misplaced block can never verify by accident.
 */
import { mix32 } from '../base/seeded-rng.js';
import { i32x4Const, instantiateSimd, Op, simdOp, ValType, type SimdInstance } from './wasm-simd.js';

const GOLDEN = 0x9e3779b1;
const HI_SALT = 0x6a09e667;
const TWO_POW_32 = 0x1_0000_0000;

/** Little-endian hosts (every platform Node ships for) can write words through a Uint32Array. */
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function spanBase(seed: number, wHi: number): number {
  return mix32((seed >>> 0) ^ mix32((wHi ^ HI_SALT) >>> 0));
}

/** The u32 value of word `wordIndex` (0 ≤ wordIndex < 2^51) of the pattern for `seed`. */
export function patternWord(seed: number, wordIndex: number): number {
  const wHi = Math.floor(wordIndex / TWO_POW_32);
  const wLo = wordIndex - wHi * TWO_POW_32;
  return mix32(spanBase(seed, wHi) ^ Math.imul(wLo, GOLDEN));
}

function checkRange(byteOffset: number, length: number): void {
  if (!Number.isSafeInteger(byteOffset) || byteOffset < 0 || !Number.isSafeInteger(byteOffset + length)) {
    throw new RangeError(`pattern offset ${byteOffset} (+${length}) is not an integer in [0, 2^53)`);
  }
}

/**
 * words[k .. k + n) = the pattern words wLo .. wLo + n - 1 of the span whose
 * base is `base` (wLo + n <= 2^32). The hot loop of every fill: wLo * GOLDEN
 * is stepped by adding GOLDEN (the same value mod 2^32, one multiply fewer),
 * everything stays in int32 and mix32 is written out inline with literal
 * constants (a module-level const above 2^31 is a boxed double V8 reloads
 * and converts every iteration), so the loop makes no call and no double. About 1 ns a word on the lab machine, a third
 * less than calling mix32 on a counter that leaves int32 range.
 */
function fillSpanWords(words: Uint32Array, k: number, n: number, base: number, wLo: number): void {
  let h = Math.imul(wLo, GOLDEN);
  const b = base | 0;
  const end = k + n;
  for (; k < end; k++) {
    let x = b ^ h;
    x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
    x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
    words[k] = x ^ (x >>> 16);
    h = (h + -0x61c8864f) | 0; // + GOLDEN, as an int32 with the same bits
  }
}

/**
 * Writes the pattern bytes for [byteOffset, byteOffset + out.length) into `out`.
 * Any range can be produced on its own, without the rest of its block.
 */
export function fillPattern(seed: number, byteOffset: number, out: Uint8Array): void {
  const len = out.length;
  checkRange(byteOffset, len);
  if (SIMD === undefined) {
    fillPatternJs(seed, byteOffset, out);
    return;
  }
  for (let pos = 0; pos < len; pos += CHUNK_BYTES) {
    const n = Math.min(CHUNK_BYTES, len - pos);
    out.set(simdPattern(SIMD, seed, byteOffset + pos, n), pos);
  }
}

/** fillPattern in plain JavaScript: where WebAssembly SIMD is missing (e.g. node --jitless), and the reference the tests hold the SIMD path to. */
export function fillPatternJs(seed: number, byteOffset: number, out: Uint8Array): void {
  const len = out.length;
  checkRange(byteOffset, len);
  if (len === 0) return;
  let pos = 0;
  let off = byteOffset;

  // Leading bytes up to the next word boundary.
  const lead = (4 - (off % 4)) % 4;
  if (lead > 0) {
    const word = patternWord(seed, Math.floor(off / 4));
    let shift = 8 * (off % 4);
    const n = Math.min(lead, len);
    for (let i = 0; i < n; i++, shift += 8) out[pos++] = (word >>> shift) & 0xff;
    off += n;
    if (pos === len) return;
  }

  // Whole words, one 16 GiB span (fixed wHi) at a time.
  let wordsLeft = Math.floor((len - pos) / 4);
  let w = off / 4;
  const aligned = HOST_IS_LITTLE_ENDIAN && (out.byteOffset + pos) % 4 === 0;
  const words = aligned ? new Uint32Array(out.buffer, out.byteOffset + pos, wordsLeft) : null;
  let k = 0;
  while (wordsLeft > 0) {
    const wHi = Math.floor(w / TWO_POW_32);
    let wLo = w - wHi * TWO_POW_32;
    const base = spanBase(seed, wHi);
    const n = Math.min(wordsLeft, TWO_POW_32 - wLo);
    if (words) {
      fillSpanWords(words, k, n, base, wLo);
      k += n;
    } else {
      for (let i = 0; i < n; i++, wLo++) {
        const word = mix32(base ^ Math.imul(wLo, GOLDEN));
        out[pos] = word & 0xff;
        out[pos + 1] = (word >>> 8) & 0xff;
        out[pos + 2] = (word >>> 16) & 0xff;
        out[pos + 3] = word >>> 24;
        pos += 4;
      }
    }
    wordsLeft -= n;
    w += n;
  }
  if (words) pos += k * 4;

  // Trailing bytes of a last partial word.
  if (pos < len) {
    const word = patternWord(seed, w);
    for (let shift = 0; pos < len; shift += 8) out[pos++] = (word >>> shift) & 0xff;
  }
}

/*
 * The fast path: a WebAssembly module of about 220 bytes (wasm-simd.ts) that
 * computes four pattern words per step with 128-bit SIMD (i32x4.mul is
 * the 32-bit multiply mix32 needs, lane by lane) into its own memory, from
 * which the caller copies (fillPattern) or compares (findPatternMismatch)
 * at memcpy/memcmp speed. About 0.3 ns per word against ~1.2 ns for the
 * JavaScript loop on the lab machine; the pattern check of every read was
 * 10% of the host process's CPU.
 *
 * fill(base, h0, start, end) writes, for ptr = start, start + 16, ... < end,
 * the four words mix32(base ^ (h0 + j * GOLDEN)) (j counting from 0 at
 * `start`) at ptr: h0 is wLo * GOLDEN of the first word. A span piece is
 * written rounded up to whole 16-byte steps; the few words past its end are
 * overwritten by the next piece or lie beyond what the caller reads.
 */

/** Bytes of pattern one SIMD call produces at most, and the chunk both entry points work in. */
const CHUNK_BYTES = 64 * 1024;

type FillFn = (base: number, h0: number, start: number, end: number) => void;

/** The module: fill(base, h0, start, end) over two 64 KiB pages (a chunk, plus a word of lead-in and the rounding). */
function simdFiller(): SimdInstance<FillFn> | undefined {
  const { LOCAL_GET: GET, LOCAL_SET: SET, LOCAL_TEE: TEE, I32_CONST } = Op;
  // Locals: params 0 base, 1 h0, 2 ptr (start), 3 end; 4 hv, 5 bv, 6 x (v128).
  const xorShift = (shift: number): number[] => [GET, 6, I32_CONST, shift, ...simdOp(Op.I32X4_SHR_U), ...simdOp(Op.V128_XOR)];
  const code = [
    // hv = h0 + [0, 1, 2, 3] * GOLDEN; bv = base in every lane
    GET, 1, ...simdOp(Op.I32X4_SPLAT), ...i32x4Const(0, GOLDEN, 2 * GOLDEN, 3 * GOLDEN), ...simdOp(Op.I32X4_ADD), SET, 4,
    GET, 0, ...simdOp(Op.I32X4_SPLAT), SET, 5,
    Op.BLOCK, Op.VOID, Op.LOOP, Op.VOID,
    GET, 2, GET, 3, Op.I32_GE_U, Op.BR_IF, 1, // ptr >= end: leave
    GET, 2, // the store's address
    GET, 5, GET, 4, ...simdOp(Op.V128_XOR), TEE, 6, // x = bv ^ hv
    ...xorShift(16), ...i32x4Const(0x85ebca6b), ...simdOp(Op.I32X4_MUL), TEE, 6, // mix32, lane by lane
    ...xorShift(13), ...i32x4Const(0xc2b2ae35), ...simdOp(Op.I32X4_MUL), TEE, 6,
    ...xorShift(16),
    ...simdOp(Op.V128_STORE), 4, 0, // at ptr (align 16, offset 0)
    GET, 4, ...i32x4Const(4 * GOLDEN), ...simdOp(Op.I32X4_ADD), SET, 4, // hv += 4 * GOLDEN
    GET, 2, I32_CONST, 16, Op.I32_ADD, SET, 2, // ptr += 16
    Op.BR, 0,
    Op.END, Op.END,
  ];
  return instantiateSimd<FillFn>({
    name: 'fill',
    params: [ValType.I32, ValType.I32, ValType.I32, ValType.I32],
    results: [],
    locals: [[3, ValType.V128]],
    code,
    memoryPages: 2,
  });
}

const SIMD = simdFiller();

/** True when fillPattern and findPatternMismatch run on the SIMD module (tests check both paths agree). */
export const PATTERN_SIMD = SIMD !== undefined;

/**
 * The pattern bytes [byteOffset, byteOffset + n) (n <= CHUNK_BYTES) as a
 * view of the module's memory, valid until the next call.
 */
function simdPattern(simd: SimdInstance<FillFn>, seed: number, byteOffset: number, n: number): Uint8Array {
  const skip = byteOffset % 4;
  let w = (byteOffset - skip) / 4;
  const words = Math.ceil((skip + n) / 4);
  let k = 0;
  while (k < words) {
    const wHi = Math.floor(w / TWO_POW_32);
    const wLo = w - wHi * TWO_POW_32;
    const m = Math.min(words - k, TWO_POW_32 - wLo);
    simd.fn(spanBase(seed, wHi), Math.imul(wLo, GOLDEN), k * 4, (k + m) * 4);
    k += m;
    w += m;
  }
  return simd.mem.subarray(skip, skip + n);
}

/**
 * Scratch the JavaScript verifier fills with the expected bytes, a chunk at
 * a time: allocated once (and only without SIMD), so verifying a read
 * builds no expected copy of it. Three bytes of room in front, so the
 * chunk's whole words start word-aligned in it (fillPatternJs's fast path).
 */
let expected: Buffer | undefined;

/**
 * Index in `buf` of the first byte that differs from the pattern for
 * [byteOffset, byteOffset + buf.length), or -1 when all match. Produces the
 * expected bytes chunk by chunk (SIMD, or fillPatternJs) and compares each
 * chunk with memcmp; only a chunk that differs is searched byte by byte.
 * Every byte is compared.
 */
export function findPatternMismatch(seed: number, byteOffset: number, buf: Uint8Array): number {
  return findMismatch(SIMD, seed, byteOffset, buf);
}

/** findPatternMismatch on the JavaScript path (where SIMD is missing; tests run it here too). */
export function findPatternMismatchJs(seed: number, byteOffset: number, buf: Uint8Array): number {
  return findMismatch(undefined, seed, byteOffset, buf);
}

function findMismatch(simd: SimdInstance<FillFn> | undefined, seed: number, byteOffset: number, buf: Uint8Array): number {
  const len = buf.length;
  checkRange(byteOffset, len);
  for (let pos = 0; pos < len; pos += CHUNK_BYTES) {
    const n = Math.min(CHUNK_BYTES, len - pos);
    let want: Uint8Array;
    if (simd !== undefined) want = simdPattern(simd, seed, byteOffset + pos, n);
    else {
      const inWord = (byteOffset + pos) % 4;
      expected ??= Buffer.allocUnsafe(CHUNK_BYTES + 3);
      want = expected.subarray(inWord, inWord + n);
      fillPatternJs(seed, byteOffset + pos, want);
    }
    if (Buffer.compare(want, buf.subarray(pos, pos + n)) === 0) continue;
    for (let i = 0; i < n; i++) if (buf[pos + i] !== want[i]) return pos + i;
  }
  return -1;
}
