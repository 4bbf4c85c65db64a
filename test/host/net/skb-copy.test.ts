import { describe, expect, it } from 'vitest';
import { copySkbFrags, newSkbCopyCounts, SkbCopyError } from '../../../src/host/net/skb-copy.js';

describe('copySkbFrags', () => {
  it('copies host frags in order and counts the bytes', () => {
    const dst = Buffer.alloc(8, 0x2e);
    const counts = copySkbFrags(
      [
        { kind: 'host', buf: Buffer.from('abc') },
        { kind: 'host', buf: Buffer.from('de') },
      ],
      dst,
      2,
    );
    expect(dst.toString()).toBe('..abcde.');
    expect(counts).toEqual({ bytesCopied: 5, bytesSkipped: 0, placedMismatches: 0 });
  });

  it('skips a placed frag that views exactly the destination range', () => {
    const dst = Buffer.alloc(16);
    dst.write('PLACED', 4);
    const counts = newSkbCopyCounts();
    copySkbFrags(
      [
        { kind: 'host', buf: Buffer.from('hdr!') },
        { kind: 'placed', buf: dst.subarray(4, 10) },
      ],
      dst,
      0,
      counts,
    );
    expect(dst.subarray(0, 10).toString()).toBe('hdr!PLACED');
    expect(counts).toEqual({ bytesCopied: 4, bytesSkipped: 6, placedMismatches: 0 });
  });

  it('copies (and counts a mismatch) when a placed frag views other memory', () => {
    const dst = Buffer.alloc(6);
    const elsewhere = Buffer.from('xxPLACEDxx');
    const counts = copySkbFrags([{ kind: 'placed', buf: elsewhere.subarray(2, 8) }], dst, 0);
    expect(dst.toString()).toBe('PLACED');
    expect(counts).toEqual({ bytesCopied: 6, bytesSkipped: 0, placedMismatches: 1 });
  });

  it('copies a placed frag that sits in the destination buffer but at another offset', () => {
    const dst = Buffer.from('..AB....');
    const counts = copySkbFrags([{ kind: 'placed', buf: dst.subarray(2, 4) }], dst, 5);
    expect(dst.toString()).toBe('..AB.AB.');
    expect(counts.placedMismatches).toBe(1);
  });

  it('refuses dmabuf frags and frags that do not fit, copying nothing', () => {
    const dst = Buffer.alloc(4);
    const tryCopy = (f: () => unknown): SkbCopyError => {
      try {
        f();
      } catch (e) {
        if (e instanceof SkbCopyError) return e;
      }
      throw new Error('no SkbCopyError');
    };
    expect(
      tryCopy(() =>
        copySkbFrags(
          [
            { kind: 'host', buf: Buffer.from('ab') },
            { kind: 'dmabuf', dmabufId: 1, offset: 0, size: 2 },
          ],
          dst,
          0,
        ),
      ).code,
    ).toBe('DEVMEM_FRAG');
    expect(tryCopy(() => copySkbFrags([{ kind: 'host', buf: Buffer.from('abcde') }], dst, 0)).code).toBe('DST_TOO_SMALL');
    expect(dst.equals(Buffer.alloc(4))).toBe(true);
  });
});
