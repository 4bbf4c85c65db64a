import { describe, expect, it } from 'vitest';
import { fillPattern, fillPatternJs, findPatternMismatch, findPatternMismatchJs, PATTERN_SIMD, patternWord } from '../../src/wire/block-pattern.js';
import { prng } from '../support/wire/pdu-samples.js';

/** Straight transcription of the definition in the module's comment, byte by byte. */
function referenceByte(seed: number, offset: number): number {
  const fmix = (h: number): number => {
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return h >>> 0;
  };
  const w = Math.floor(offset / 4);
  const wHi = Math.floor(w / 2 ** 32);
  const wLo = w % 2 ** 32;
  const base = fmix((seed >>> 0) ^ fmix((wHi ^ 0x6a09e667) >>> 0));
  const word = fmix(base ^ Math.imul(wLo, 0x9e3779b1));
  return (word >>> (8 * (offset % 4))) & 0xff;
}

describe('block pattern', () => {
  it('matches the documented definition at small, unaligned and huge offsets', () => {
    for (const start of [0, 1, 2, 3, 4095, 512 * 1000 + 3, 2 ** 32 * 4 - 5, 2 ** 53 - 64]) {
      const out = Buffer.alloc(37);
      fillPattern(7, start, out);
      for (let i = 0; i < out.length; i++) expect(out[i]).toBe(referenceByte(7, start + i));
    }
  });

  it('computes any sub-range identically to the same bytes of a larger range', () => {
    const whole = Buffer.alloc(8192);
    fillPattern(42, 1_000_000, whole);
    for (const [a, b] of [[0, 1], [1, 9], [3, 4096], [4097, 8192], [510, 513]] as const) {
      // A view with an odd byteOffset exercises the unaligned write path too.
      const backing = Buffer.alloc(b - a + 1);
      const part = backing.subarray(1);
      fillPattern(42, 1_000_000 + a, part);
      expect(part.equals(whole.subarray(a, b))).toBe(true);
    }
  });

  it('differs between seeds and between blocks', () => {
    const a = Buffer.alloc(512);
    const b = Buffer.alloc(512);
    const c = Buffer.alloc(512);
    fillPattern(1, 0, a);
    fillPattern(2, 0, b);
    fillPattern(1, 512, c);
    expect(a.equals(b)).toBe(false);
    expect(a.equals(c)).toBe(false);
    expect(patternWord(1, 0)).not.toBe(patternWord(1, 2 ** 32));
  });

  it('finds the first mismatching byte or returns -1', () => {
    const buf = Buffer.alloc(4096 + 3);
    fillPattern(9, 123, buf);
    expect(findPatternMismatch(9, 123, buf)).toBe(-1);
    expect(findPatternMismatch(9, 123, buf.subarray(1))).not.toBe(-1); // shifted by a byte
    for (const at of [0, 1, 2, 3, 4, 1000, 4097, 4098]) {
      const bad = Buffer.from(buf);
      bad[at] = (bad[at] ?? 0) ^ 0x10;
      expect(findPatternMismatch(9, 123, bad)).toBe(at);
      // And through an unaligned view.
      const backing = Buffer.alloc(bad.length + 1);
      bad.copy(backing, 1);
      expect(findPatternMismatch(9, 123, backing.subarray(1))).toBe(at);
    }
    expect(findPatternMismatch(9, 0, Buffer.alloc(0))).toBe(-1);
  });

  it('rejects offsets that are not safe non-negative integers', () => {
    expect(() => fillPattern(1, -1, Buffer.alloc(4))).toThrow(RangeError);
    expect(() => fillPattern(1, 2 ** 53, Buffer.alloc(4))).toThrow(RangeError);
    expect(() => findPatternMismatch(1, 0.5, Buffer.alloc(4))).toThrow(RangeError);
  });

  it('generates and verifies 256 MiB', () => {
    const buf = Buffer.allocUnsafe(256 * 1024 * 1024);
    fillPattern(3, 4096, buf);
    expect(findPatternMismatch(3, 4096, buf)).toBe(-1);
    buf[buf.length - 1] ^= 1;
    expect(findPatternMismatch(3, 4096, buf)).toBe(buf.length - 1);
  });

  it('runs on the SIMD module here, and it agrees with the JavaScript path and the definition', () => {
    // Node 20 on x86-64 and arm64 has WebAssembly SIMD: the fast path is what runs.
    expect(PATTERN_SIMD).toBe(true);
    const rand = prng(11);
    const SPAN = 2 ** 34; // bytes in one span of equal wHi
    const starts = [0, 1, 2, 3, 65536 - 1, SPAN - 4, SPAN - 5, SPAN - 70_000, 7 * SPAN - 2, 2 ** 52 + 3];
    for (let k = 0; k < 40; k++) starts.push(Math.floor(rand() * 2 ** 40));
    for (const start of starts) {
      const len = [0, 1, 3, 17, 4096, 65535, 65536, 65537, 200_003][Math.floor(rand() * 9)]!;
      const seed = Math.floor(rand() * 2 ** 32);
      const simd = Buffer.alloc(len + 1).subarray(1); // odd byteOffset too
      const js = Buffer.alloc(len);
      fillPattern(seed, start, simd);
      fillPatternJs(seed, start, js);
      expect(simd.equals(js), `seed ${seed} start ${start} len ${len}`).toBe(true);
      for (let i = 0; i < len; i += 1 + Math.floor(len / 50)) expect(simd[i]).toBe(referenceByte(seed, start + i));
      if (len > 0) expect(simd[len - 1]).toBe(referenceByte(seed, start + len - 1));
      expect(findPatternMismatch(seed, start, js)).toBe(-1);
    }
  });

  it('finds a single flipped byte anywhere: every byte of a block, and random bytes of large unaligned reads', () => {
    // Every byte position of a 4 KiB block at an unaligned offset, each bit value.
    const block = Buffer.alloc(4096);
    fillPattern(21, 512 * 77 + 1, block);
    for (let at = 0; at < block.length; at++) {
      const bit = 1 << (at % 8);
      block[at]! ^= bit;
      expect(findPatternMismatch(21, 512 * 77 + 1, block)).toBe(at);
      expect(findPatternMismatchJs(21, 512 * 77 + 1, block)).toBe(at);
      block[at]! ^= bit;
    }
    // Large reads crossing chunk (64 KiB) and span (16 GiB) boundaries.
    const rand = prng(5);
    for (const start of [0, 3, 2 ** 34 - 100_001, 2 ** 34 - 2]) {
      const buf = Buffer.alloc(300_001);
      fillPattern(4, start, buf);
      const spots = [0, 65535, 65536, 131071, 299_999, 300_000, 100_001, 100_000];
      for (let k = 0; k < 40; k++) spots.push(Math.floor(rand() * buf.length));
      for (const at of spots) {
        buf[at]! ^= 0x80;
        expect(findPatternMismatch(4, start, buf), `start ${start} byte ${at}`).toBe(at);
        expect(findPatternMismatchJs(4, start, buf), `JavaScript path, start ${start} byte ${at}`).toBe(at);
        buf[at]! ^= 0x80;
      }
      expect(findPatternMismatch(4, start, buf)).toBe(-1);
      expect(findPatternMismatchJs(4, start, buf)).toBe(-1);
    }
  });
});
