import { describe, expect, it } from 'vitest';
import { copyBytes, copyFragRange, copySkbFrags, newAuditedSkbCopyCounts, newSkbCopyCounts, SkbCopyError } from '../../../src/host/net/skb-copy.js';
import type { HostFrag, PlacedFrag } from '../../../src/nicemu/skb.js';

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
    expect(counts).toEqual({ copiedBytes: 5, bytesSkipped: 0, placedMismatches: 0 });
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
    expect(counts).toEqual({ copiedBytes: 4, bytesSkipped: 6, placedMismatches: 0 });
  });

  it('copies (and counts a mismatch) when a placed frag views other memory', () => {
    const dst = Buffer.alloc(6);
    const elsewhere = Buffer.from('xxPLACEDxx');
    const counts = copySkbFrags([{ kind: 'placed', buf: elsewhere.subarray(2, 8) }], dst, 0);
    expect(dst.toString()).toBe('PLACED');
    expect(counts).toEqual({ copiedBytes: 6, bytesSkipped: 0, placedMismatches: 1 });
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

describe('copyFragRange', () => {
  // The reference: copySkbFrags of the frag narrowed to [from, to).
  function viaList(f: HostFrag | PlacedFrag, from: number, to: number, dst: Buffer, dstOff: number) {
    const counts = newAuditedSkbCopyCounts();
    const narrowed = { kind: f.kind, buf: f.buf.subarray(from, to) } as HostFrag | PlacedFrag;
    copySkbFrags([narrowed], dst, dstOff, counts);
    return counts;
  }

  it('gives the bytes and counts copySkbFrags gives the narrowed frag, for host and placed frags', () => {
    const cases: Array<{ name: string; make: (dst: Buffer) => HostFrag | PlacedFrag; from: number; to: number; dstOff: number }> = [
      { name: 'whole host frag', make: () => ({ kind: 'host', buf: Buffer.from('abcdefgh') }), from: 0, to: 8, dstOff: 3 },
      { name: 'middle of a host frag', make: () => ({ kind: 'host', buf: Buffer.from('abcdefgh') }), from: 2, to: 7, dstOff: 0 },
      { name: 'placed in place', make: (dst) => ({ kind: 'placed', buf: dst.subarray(4, 12) }), from: 1, to: 6, dstOff: 5 },
      { name: 'placed one byte off', make: (dst) => ({ kind: 'placed', buf: dst.subarray(4, 12) }), from: 1, to: 6, dstOff: 6 },
      { name: 'placed elsewhere', make: () => ({ kind: 'placed', buf: Buffer.from('PLACEDxx').subarray(0, 6) }), from: 0, to: 6, dstOff: 2 },
      { name: 'empty range', make: () => ({ kind: 'host', buf: Buffer.from('abc') }), from: 1, to: 1, dstOff: 0 },
    ];
    for (const c of cases) {
      const a = Buffer.from('0123456789abcdef');
      const b = Buffer.from(a);
      const want = viaList(c.make(a), c.from, c.to, a, c.dstOff);
      const got = copyFragRange(c.make(b), c.from, c.to, b, c.dstOff, newAuditedSkbCopyCounts());
      expect(got, c.name).toEqual(want);
      expect(b.toString(), c.name).toBe(a.toString());
    }
  });

  it('refuses a range that does not fit, copying nothing', () => {
    const dst = Buffer.alloc(4);
    expect(() => copyFragRange({ kind: 'host', buf: Buffer.from('abcdef') }, 0, 5, dst, 0, newSkbCopyCounts())).toThrow(SkbCopyError);
    expect(dst.equals(Buffer.alloc(4))).toBe(true);
  });
});

describe('copyBytes into shared memory', () => {
  it('copies exactly the bytes dst.set would, at every alignment of source and destination and across the staging size', () => {
    const src = Buffer.alloc(70_016);
    for (let i = 0; i < src.length; i++) src[i] = (i * 131 + (i >>> 8)) & 0xff;
    for (const n of [0, 1, 255, 256, 1448, 8948, 65_536, 70_000]) {
      for (let sa = 0; sa < 8; sa++) {
        for (let da = 0; da < 8; da += n > 9000 ? 3 : 1) {
          const shared = Buffer.from(new SharedArrayBuffer(n + 32)).fill(0x5c);
          const plain = Buffer.alloc(n + 32, 0x5c);
          const piece = src.subarray(sa, sa + n);
          copyBytes(shared, 8 + da, piece);
          plain.set(piece, 8 + da);
          expect(shared.equals(plain), `n ${n} src align ${sa} dst align ${da}`).toBe(true);
        }
      }
    }
  });

  it('goes through copyFragRange and copySkbFrags into a shared destination', () => {
    const frame = Buffer.alloc(1514);
    for (let i = 0; i < frame.length; i++) frame[i] = (i * 7) & 0xff;
    const frag: HostFrag = { kind: 'host', buf: frame.subarray(66) };
    const dst = Buffer.from(new SharedArrayBuffer(4096));
    const counts = newSkbCopyCounts();
    copyFragRange(frag, 3, 1400, dst, 1001, counts);
    expect(dst.subarray(1001, 1001 + 1397).equals(frame.subarray(69, 1466))).toBe(true);
    copySkbFrags([frag, frag], dst, 5, counts);
    expect(dst.subarray(5, 5 + 1448).equals(frame.subarray(66))).toBe(true);
    expect(dst.subarray(5 + 1448, 5 + 2 * 1448).equals(frame.subarray(66))).toBe(true);
    expect(counts.copiedBytes).toBe(1397 + 2 * 1448);
  });
});
