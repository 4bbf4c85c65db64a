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
 * Writes the pattern bytes for [byteOffset, byteOffset + out.length) into `out`.
 * Any range can be produced on its own, without the rest of its block.
 */
export function fillPattern(seed: number, byteOffset: number, out: Uint8Array): void {
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
      for (let i = 0; i < n; i++, wLo++) words[k++] = mix32(base ^ Math.imul(wLo, GOLDEN));
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

/**
 * Scratch the verifier fills with the expected bytes, a chunk at a time:
 * allocated once, so verifying a read builds no expected copy of it.
 */
const VERIFY_CHUNK_BYTES = 64 * 1024;
/** Three bytes of room in front, so the chunk's whole words start word-aligned in it (fillPattern's fast path). */
const expected = Buffer.allocUnsafe(VERIFY_CHUNK_BYTES + 3);

/**
 * Index in `buf` of the first byte that differs from the pattern for
 * [byteOffset, byteOffset + buf.length), or -1 when all match. Fills the
 * expected bytes chunk by chunk (fillPattern) and compares each chunk with
 * memcmp; only a chunk that differs is searched byte by byte.
 */
export function findPatternMismatch(seed: number, byteOffset: number, buf: Uint8Array): number {
  const len = buf.length;
  checkRange(byteOffset, len);
  for (let pos = 0; pos < len; pos += VERIFY_CHUNK_BYTES) {
    const n = Math.min(VERIFY_CHUNK_BYTES, len - pos);
    const inWord = (byteOffset + pos) % 4;
    const want = expected.subarray(inWord, inWord + n);
    fillPattern(seed, byteOffset + pos, want);
    if (want.compare(buf, pos, pos + n) === 0) continue;
    for (let i = 0; i < n; i++) if (buf[pos + i] !== want[i]) return pos + i;
  }
  return -1;
}
