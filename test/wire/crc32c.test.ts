import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Crc32c, crc32c, crc32cFrags } from '../../src/wire/crc32c.js';

/**
 * Independent reference: bitwise-reflected CRC32C (polynomial 0x82F63B78),
 * table-driven, written from the algorithm's definition. Test-only.
 */
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function referenceCrc32c(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

describe('CRC32C', () => {
  it('matches the check value CRC32C("123456789") = 0xE3069283', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(referenceCrc32c(Buffer.from('123456789'))).toBe(0xe3069283);
  });

  it('is 0 for no bytes and returns prev unchanged for an empty continuation', () => {
    expect(crc32c(Buffer.alloc(0))).toBe(0);
    expect(crc32c(Buffer.alloc(0), 0x1234_5678)).toBe(0x1234_5678);
  });

  it('agrees with the pure-JS reference on random data of many lengths', () => {
    for (const len of [1, 3, 4, 7, 8, 15, 16, 63, 64, 255, 4096, 65_537]) {
      const buf = randomBytes(len);
      expect(crc32c(buf), `length ${len}`).toBe(referenceCrc32c(buf));
    }
  });

  it('computes on subarray views, not on the whole backing buffer', () => {
    const big = Buffer.concat([Buffer.from('xx'), Buffer.from('123456789'), Buffer.from('yy')]);
    expect(crc32c(big.subarray(2, 11))).toBe(0xe3069283);
  });

  it('gives the same digest over fragments as over the whole, at every split', () => {
    const whole = randomBytes(3000);
    const want = crc32c(whole);
    expect(want).toBe(referenceCrc32c(whole));
    for (let cut = 0; cut <= whole.length; cut += 37) {
      expect(crc32cFrags([whole.subarray(0, cut), whole.subarray(cut)])).toBe(want);
    }
    const frags: Buffer[] = [];
    for (let off = 0, n = 1; off < whole.length; off += n, n = (n * 7) % 501 + 1) {
      frags.push(whole.subarray(off, Math.min(whole.length, off + n)));
    }
    expect(frags.length).toBeGreaterThan(5);
    expect(crc32cFrags(frags)).toBe(want);
    expect(crc32cFrags([])).toBe(0);
  });

  it('continues a running digest with prev', () => {
    const a = randomBytes(100);
    const b = randomBytes(200);
    expect(crc32c(b, crc32c(a))).toBe(referenceCrc32c(Buffer.concat([a, b])));
    expect(crc32cFrags([b], crc32c(a))).toBe(referenceCrc32c(Buffer.concat([a, b])));
  });

  it('Crc32c accumulates across segments and counts bytes', () => {
    const segs = [randomBytes(10), randomBytes(1), randomBytes(1460), Buffer.alloc(0), randomBytes(33)];
    const d = new Crc32c();
    for (const s of segs) d.update(s);
    expect(d.value).toBe(referenceCrc32c(Buffer.concat(segs)));
    expect(d.lengthBytes).toBe(1504);
    d.reset();
    expect(d.value).toBe(0);
    expect(d.lengthBytes).toBe(0);
    expect(d.update(Buffer.from('123456789')).value).toBe(0xe3069283);
  });
});
