/**
 * Copies into shared memory (base/shared-copy.ts): the native addon and the
 * JavaScript path put the same bytes in the same places, at every alignment,
 * into shared and ordinary memory; a range outside either array is refused
 * before a byte moves.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { COPY_ADDON, CopyRangeError, NATIVE_COPY, copyBytes, copyRange, copyRangeJs } from '../../src/base/shared-copy.js';

/** A small deterministic generator (xorshift32). */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

describe('shared-copy', () => {
  it('uses the native addon exactly when the bootstrap built it', () => {
    expect(NATIVE_COPY).toBe(existsSync(COPY_ADDON));
  });

  it('copyRange and the JavaScript path give the same bytes at every alignment, into shared and ordinary memory', () => {
    const next = rng(7);
    const src = Buffer.alloc(70_000);
    for (let i = 0; i < src.length; i++) src[i] = (i * 131 + 17) & 0xff;
    for (const shared of [true, false]) {
      const mk = (): Uint8Array => (shared ? new Uint8Array(new SharedArrayBuffer(80_000)) : new Uint8Array(80_000));
      const a = mk();
      const b = mk();
      for (let t = 0; t < 400; t++) {
        // Lengths around the thresholds (128, 256) and up to more than one 64 KiB stage.
        const len = t % 4 === 0 ? Math.floor(next() * 300) : Math.floor(next() * 66_000);
        const srcOff = Math.floor(next() * (src.length - len));
        const dstOff = Math.floor(next() * (a.length - len));
        copyRange(a, dstOff, src, srcOff, len);
        copyRangeJs(b, dstOff, src, srcOff, len);
        expect(Buffer.from(a.buffer, dstOff, len).equals(src.subarray(srcOff, srcOff + len))).toBe(true);
      }
      expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    }
  });

  it('copies between overlapping ranges of one memory as memmove does', () => {
    const m = new Uint8Array(new SharedArrayBuffer(4096));
    for (let i = 0; i < m.length; i++) m[i] = i & 0xff;
    const want = Buffer.from(m);
    want.copy(want, 100, 0, 3000);
    copyRange(m, 100, m, 0, 3000);
    expect(Buffer.from(m.buffer).equals(want)).toBe(true);
  });

  it('copyBytes copies a whole source, also from a view at an odd offset', () => {
    const frame = Buffer.alloc(9014, 0x5a);
    const payload = frame.subarray(66);
    const dst = new Uint8Array(new SharedArrayBuffer(16384));
    copyBytes(dst, 4096, payload);
    expect(Buffer.from(dst.buffer, 4096, payload.length).equals(payload)).toBe(true);
    expect(dst[4095]).toBe(0);
    expect(dst[4096 + payload.length]).toBe(0);
  });

  it('refuses a range outside either array, or an offset that is not whole, and copies nothing', () => {
    const src = Buffer.alloc(1000, 1);
    const dst = new Uint8Array(new SharedArrayBuffer(1000));
    const bad: [number, number, number][] = [
      [900, 0, 200], // past dst
      [0, 900, 200], // past src
      [-1, 0, 10],
      [0, -4, 10],
      [0, 0, -1],
      [0.5, 0, 300],
      [0, 0, 300.25],
    ];
    for (const [d, s, n] of bad) {
      for (const f of [copyRange, copyRangeJs]) {
        expect(() => f(dst, d, src, s, n)).toThrow(CopyRangeError);
      }
    }
    expect(dst.every((x) => x === 0)).toBe(true);
    try {
      copyRange(dst, 900, src, 0, 200);
    } catch (e) {
      expect((e as CopyRangeError).code).toBe('COPY_RANGE');
      expect((e as Error).message).toBe('copy of 200 bytes from 0 to 900: outside the source (1000) or the destination (1000)');
    }
  });

  it.skipIf(!existsSync(COPY_ADDON))('the addon itself checks every argument before a byte moves', () => {
    const addon = createRequire(import.meta.url)(COPY_ADDON) as { copy: (...a: unknown[]) => void };
    const dst = new Uint8Array(new SharedArrayBuffer(64));
    const src = new Uint8Array(64).fill(9);
    const code = (f: () => void): string | undefined => {
      try {
        f();
      } catch (e) {
        return (e as { code?: string }).code;
      }
      return undefined;
    };
    expect(code(() => addon.copy(dst, 60, src, 0, 8))).toBe('DDPLAB_COPY_RANGE');
    expect(code(() => addon.copy(dst, 0, src, 60, 8))).toBe('DDPLAB_COPY_RANGE');
    expect(code(() => addon.copy(dst, -1, src, 0, 8))).toBe('DDPLAB_COPY_ARG');
    expect(code(() => addon.copy(dst, 0.5, src, 0, 8))).toBe('DDPLAB_COPY_ARG');
    expect(code(() => addon.copy(dst, 0, new Uint16Array(8), 0, 8))).toBe('DDPLAB_COPY_ARG');
    expect(code(() => addon.copy(dst, 0, src, 0))).toBe('DDPLAB_COPY_ARG');
    expect(code(() => addon.copy(dst, '0', src, 0, 8))).toBe('DDPLAB_COPY_ARG');
    expect(dst.every((x) => x === 0)).toBe(true);
    addon.copy(dst, 8, src, 0, 8);
    expect([dst[7], dst[8], dst[15], dst[16]]).toEqual([0, 9, 9, 0]);
  });
});
