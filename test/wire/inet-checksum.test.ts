import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/base/seeded-rng.js';
import {
  checksumFinish,
  checksumUpdate16,
  inetChecksum,
  onesAdd,
  onesFold,
  onesSum,
  onesSumAny,
  onesSumFragments,
  onesSumJs,
  CHECKSUM_SIMD,
  onesSwap,
  pseudoHeaderSum,
} from '../../src/wire/inet-checksum.js';

/** Seeded (mulberry32) so a failing case can be replayed from its seed. */
const prng = mulberry32;

describe('Internet checksum (RFC 1071)', () => {
  it('sums the RFC 1071 §3 example to 0xddf2', () => {
    const data = Buffer.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
    expect(onesSum(data)).toBe(0xddf2);
    expect(inetChecksum(data)).toBe(0x220d);
  });

  it('computes the checksum of a known IPv4 header', () => {
    // 192.168.0.1 → 192.168.0.199, UDP, total length 0x73, DF; checksum field zeroed.
    const hdr = Buffer.from('450000730000400040110000c0a80001c0a800c7', 'hex');
    expect(inetChecksum(hdr)).toBe(0xb861);
    hdr.writeUInt16BE(0xb861, 10);
    expect(onesSum(hdr)).toBe(0xffff);
  });

  it('pads an odd trailing byte with zero as the high half of a word', () => {
    expect(onesSum(Buffer.from([0x12, 0x34, 0x56]))).toBe(0x1234 + 0x5600);
    expect(onesSum(Buffer.from([0xab]))).toBe(0xab00);
    expect(onesSum(Buffer.alloc(0))).toBe(0);
  });

  it('sums a sub-range given by start and end', () => {
    const buf = Buffer.from([0xff, 0xff, 0x01, 0x02, 0x03, 0xff]);
    expect(onesSum(buf, 0, 2, 5)).toBe(0x0102 + 0x0300);
  });

  it('folds carries end-around', () => {
    expect(onesAdd(0xffff, 0x0001)).toBe(0x0001);
    expect(onesAdd(0x8000, 0x8000)).toBe(0x0001);
    expect(onesFold(0x1_fffe)).toBe(0xffff);
    expect(onesFold(2 ** 40 + 5)).toBe(onesFold(onesFold(2 ** 40) + 5));
    expect(onesSum(Buffer.alloc(100_000, 0xff))).toBe(0xffff);
    expect(onesSwap(0x12ab)).toBe(0xab12);
  });

  it('sums scattered fragments (odd lengths included) exactly like the concatenation', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const rnd = prng(seed);
      const whole = Buffer.alloc(1 + Math.floor(rnd() * 3000));
      for (let i = 0; i < whole.length; i++) whole[i] = Math.floor(rnd() * 256);
      const frags: Buffer[] = [];
      let at = 0;
      while (at < whole.length) {
        const n = Math.min(whole.length - at, Math.floor(rnd() * 40)); // zero-length fragments too
        frags.push(whole.subarray(at, at + n));
        at += n;
      }
      expect(onesSumFragments(frags), `seed ${seed}`).toBe(onesSum(whole));
      expect(onesSumAny(frags, 0x1234), `seed ${seed}`).toBe(onesSum(whole, 0x1234));
    }
  });

  it('sums the IPv4 pseudo-header like its 12 explicit bytes', () => {
    const src = 0xc0000201;
    const dst = 0xc0000202;
    const explicit = Buffer.alloc(12);
    explicit.writeUInt32BE(src, 0);
    explicit.writeUInt32BE(dst, 4);
    explicit[9] = 6;
    explicit.writeUInt16BE(1480, 10);
    expect(pseudoHeaderSum(src, dst, 6, 1480)).toBe(onesSum(explicit));
    expect(pseudoHeaderSum(0xffffffff, 0xffffffff, 6, 0xffff)).toBe(onesSum(Buffer.from('ffffffffffffffff0006ffff', 'hex')));
  });

  it('updates a checksum incrementally as a full recomputation would (RFC 1624)', () => {
    const hdr = Buffer.from('450000730000400040110000c0a80001c0a800c7', 'hex');
    for (let ttl = 0x40; ttl > 0; ttl--) {
      hdr.writeUInt16BE(0, 10);
      const before = inetChecksum(hdr);
      const oldWord = hdr.readUInt16BE(8);
      hdr[8] = ttl - 1;
      const newWord = hdr.readUInt16BE(8);
      const recomputed = inetChecksum(hdr);
      expect(checksumUpdate16(before, oldWord, newWord), `ttl ${ttl}`).toBe(recomputed);
    }
  });

  it('finishes a sum into its complement', () => {
    expect(checksumFinish(0xddf2)).toBe(0x220d);
    expect(checksumFinish(0xffff)).toBe(0);
  });
});

describe('onesSum word path', () => {
  /** Reference: one big-endian word at a time, folded at the end. */
  function reference(buf: Uint8Array, start: number, end: number): number {
    let sum = 0;
    for (let i = start; i < end; i += 2) sum += (buf[i]! << 8) | (i + 1 < end ? buf[i + 1]! : 0);
    while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
    return sum;
  }

  it('equals the byte-wise sum for every alignment, start and length (seeded)', () => {
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const backing = Buffer.alloc(9000);
    for (let i = 0; i < backing.length; i++) backing[i] = rand(256);
    for (let k = 0; k < 3000; k++) {
      const off = rand(8);
      const view = backing.subarray(off, off + 8000);
      const start = rand(40);
      const end = start + rand(7900);
      const got = onesSum(view, 0, start, end);
      const want = reference(view, start, end);
      // 0x0000 and 0xffff are the same ones'-complement value.
      expect(got % 0xffff).toBe(want % 0xffff);
    }
  });

  it('continues an accumulator across pieces like the byte path', () => {
    const b = Buffer.alloc(4096, 0xff);
    expect(onesSum(b, 0x1234) % 0xffff).toBe(onesAdd(onesSum(b), 0x1234) % 0xffff);
  });

  it('equals the byte-wise reference on random 1500- and 9000-byte frames, odd offsets and lengths, in many buffers (seeded)', () => {
    const rnd = prng(99);
    for (let k = 0; k < 400; k++) {
      const frameLen = k % 2 === 0 ? 1514 : 9014;
      // Frames in their own ArrayBuffers, pooled Buffers and shared memory, so the cached word view changes often.
      const kind = k % 3;
      const off = Math.floor(rnd() * 8);
      const backing = kind === 0 ? Buffer.alloc(frameLen + 8) : kind === 1 ? Buffer.allocUnsafe(frameLen + 8) : Buffer.from(new SharedArrayBuffer(frameLen + 8));
      for (let i = 0; i < backing.length; i++) backing[i] = Math.floor(rnd() * 256);
      const frame = backing.subarray(off, off + frameLen);
      const start = Math.floor(rnd() * 60);
      const end = frameLen - Math.floor(rnd() * 5);
      const acc = Math.floor(rnd() * 0x10000);
      const got = onesSum(frame, acc, start, end);
      const want = onesAdd(acc, reference(frame, start, end));
      expect(got % 0xffff, `frame ${k}: offset ${off} [${start}, ${end})`).toBe(want % 0xffff);
      expect(got).toBeGreaterThanOrEqual(0);
      expect(got).toBeLessThanOrEqual(0xffff);
    }
  });

  it('keeps the sum exact over more words than one fold block (2^20)', () => {
    const big = Buffer.alloc(5 * 2 ** 20 + 6, 0xff);
    big[12345] = 0x00;
    big[4 * 2 ** 20 + 1] = 0x17;
    expect(onesSum(big, 0, 2, big.length - 1) % 0xffff).toBe(reference(big, 2, big.length - 1) % 0xffff);
  });

  it('runs long pieces on the SIMD module here; it, the Uint32Array path and the reference agree across 64 KiB chunks', () => {
    expect(CHECKSUM_SIMD).toBe(true);
    const rnd = prng(7);
    const backing = Buffer.alloc(200_016);
    for (let i = 0; i < backing.length; i++) backing[i] = Math.floor(rnd() * 256);
    for (const [off, start, end] of [[1, 3, 200_001], [0, 0, 65_536], [5, 1, 65_538], [2, 127, 255], [3, 0, 128], [7, 11, 131_083]] as const) {
      const view = backing.subarray(off, off + 200_008);
      const want = reference(view, start, end);
      expect(onesSum(view, 0, start, end) % 0xffff, `simd [${start}, ${end}) at offset ${off}`).toBe(want % 0xffff);
      expect(onesSumJs(view, 0, start, end) % 0xffff, `js [${start}, ${end}) at offset ${off}`).toBe(want % 0xffff);
    }
  });
});
