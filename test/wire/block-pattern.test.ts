import { describe, expect, it } from 'vitest';
import { fillPattern, findPatternMismatch, patternWord } from '../../src/wire/block-pattern.js';

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
});
