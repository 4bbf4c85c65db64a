import { describe, expect, it } from 'vitest';
import { WireError } from '../../src/wire/errors.js';
import {
  buildIpv4,
  emitIpv4,
  IPPROTO_TCP,
  IPPROTO_UDP,
  ipToString,
  IPV4_DF,
  IPV4_HEADER_LEN,
  IPV4_MF,
  ipv4HeaderFields,
  ipv4HeaderLen,
  parseIpv4,
  readIpv4Header,
  parseIpv4Addr,
  verifyIpv4Checksum,
} from '../../src/wire/ipv4.js';
import type { Ipv4Header } from '../../src/wire/ipv4.js';

const SRC = 0xc0000201; // 192.0.2.1
const DST = 0xc0000202;

function codeAndField(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof WireError) return `${e.code}:${e.detail.field ?? ''}`;
    throw e;
  }
  return undefined;
}

function reemit(packet: Buffer): Buffer {
  const ip = parseIpv4(packet);
  return buildIpv4(ip, ip.payload);
}

describe('IPv4', () => {
  it('emits the header of a known packet with its checksum', () => {
    const pkt = buildIpv4(
      { src: 0xc0a80001, dst: 0xc0a800c7, protocol: IPPROTO_UDP, ttl: 64, id: 0, flags: IPV4_DF },
      Buffer.alloc(0x73 - 20),
    );
    expect(pkt.subarray(0, 20).toString('hex')).toBe('450000730000400040' + '11b861c0a80001c0a800c7');
    expect(verifyIpv4Checksum(pkt)).toBe(true);
  });

  it('parses every field', () => {
    const pkt = buildIpv4(
      { src: SRC, dst: DST, protocol: IPPROTO_TCP, ttl: 3, id: 0xbeef, tos: 0xb8, flags: IPV4_MF, fragOffsetBytes: 1480 },
      Buffer.from('payload'),
    );
    const ip = parseIpv4(pkt);
    expect(ip).toMatchObject({
      src: SRC,
      dst: DST,
      protocol: IPPROTO_TCP,
      ttl: 3,
      id: 0xbeef,
      tos: 0xb8,
      flags: IPV4_MF,
      fragOffsetBytes: 1480,
      headerLen: 20,
      totalLength: 27,
      payloadLen: 7,
    });
    expect(ip.payload.toString()).toBe('payload');
    expect(ip.checksum).toBe(pkt.readUInt16BE(10));
    expect(ip.options.length).toBe(0);
  });

  it('round-trips headers with and without options byte for byte', () => {
    const base = { src: SRC, dst: DST, protocol: IPPROTO_TCP, ttl: 64, id: 7, flags: IPV4_DF };
    const options = [undefined, Buffer.from([1, 1, 1, 0]), Buffer.from('94040000', 'hex'), Buffer.alloc(40, 1)];
    for (const opt of options) {
      const first = buildIpv4({ ...base, options: opt }, Buffer.from('abc'));
      const ip = parseIpv4(first);
      expect(ip.headerLen).toBe(IPV4_HEADER_LEN + (opt?.length ?? 0));
      expect(ip.options.equals(opt ?? Buffer.alloc(0))).toBe(true);
      expect(ip.payload.toString()).toBe('abc');
      expect(verifyIpv4Checksum(first)).toBe(true);
      expect(reemit(first).equals(first)).toBe(true);
    }
  });

  it('ignores Ethernet padding after the total length', () => {
    const pkt = buildIpv4({ src: SRC, dst: DST, protocol: IPPROTO_TCP, ttl: 64, id: 1 }, Buffer.from('xy'));
    const padded = Buffer.concat([pkt, Buffer.alloc(24, 0xaa)]);
    const ip = parseIpv4(padded);
    expect(ip.totalLength).toBe(22);
    expect(ip.payload.toString()).toBe('xy');
    expect(reemit(padded).equals(pkt)).toBe(true);
  });

  it('rejects IHL below 5 as BAD_FIELD ihl', () => {
    const pkt = buildIpv4({ src: SRC, dst: DST, protocol: IPPROTO_TCP, ttl: 64, id: 1 }, Buffer.alloc(40));
    for (let ihl = 0; ihl < 5; ihl++) {
      const bad = Buffer.from(pkt);
      bad[0] = 0x40 | ihl;
      expect(codeAndField(() => parseIpv4(bad))).toBe('BAD_FIELD:ihl');
    }
  });

  it('rejects a version other than 4', () => {
    const pkt = buildIpv4({ src: SRC, dst: DST, protocol: IPPROTO_TCP, ttl: 64, id: 1 }, Buffer.alloc(4));
    pkt[0] = 0x65;
    expect(codeAndField(() => parseIpv4(pkt))).toBe('BAD_FIELD:version');
  });

  it('rejects a total length below the header length', () => {
    const pkt = buildIpv4({ src: SRC, dst: DST, protocol: IPPROTO_TCP, ttl: 64, id: 1, options: Buffer.alloc(4) }, Buffer.alloc(4));
    pkt.writeUInt16BE(23, 2);
    expect(codeAndField(() => parseIpv4(pkt))).toBe('BAD_FIELD:totalLength');
  });

  it('reports a total length past the buffer as TRUNCATED', () => {
    const pkt = buildIpv4({ src: SRC, dst: DST, protocol: IPPROTO_TCP, ttl: 64, id: 1 }, Buffer.alloc(10));
    expect(codeAndField(() => parseIpv4(pkt.subarray(0, 29)))).toBe('TRUNCATED:totalLength');
  });

  it('reports options running past the buffer as TRUNCATED', () => {
    const pkt = Buffer.alloc(40);
    pkt[0] = 0x4f; // IHL 15: 60-byte header
    pkt.writeUInt16BE(60, 2);
    expect(codeAndField(() => parseIpv4(pkt))?.startsWith('TRUNCATED')).toBe(true);
  });

  it('reports a header cut at every length as TRUNCATED', () => {
    const pkt = buildIpv4({ src: SRC, dst: DST, protocol: IPPROTO_TCP, ttl: 64, id: 1, options: Buffer.alloc(8, 1) }, Buffer.alloc(5));
    for (let len = 0; len < pkt.length; len++) {
      expect(codeAndField(() => parseIpv4(pkt.subarray(0, len)))?.startsWith('TRUNCATED'), `len ${len}`).toBe(true);
    }
  });

  it('detects a corrupted header checksum', () => {
    const pkt = buildIpv4({ src: SRC, dst: DST, protocol: IPPROTO_TCP, ttl: 64, id: 1 }, Buffer.alloc(5));
    for (let bit = 0; bit < 160; bit++) {
      const bad = Buffer.from(pkt);
      bad[bit >> 3]! ^= 0x80 >> (bit & 7);
      expect(verifyIpv4Checksum(bad), `bit ${bit}`).toBe(false);
    }
    expect(verifyIpv4Checksum(pkt.subarray(0, 19))).toBe(false);
  });

  it('refuses to emit malformed headers', () => {
    const base: Ipv4Header = { src: SRC, dst: DST, protocol: IPPROTO_TCP, ttl: 64, id: 1, payloadLen: 0 };
    const out = Buffer.alloc(80);
    expect(codeAndField(() => emitIpv4({ ...base, options: Buffer.alloc(3) }, out))).toBe('BAD_FIELD:options');
    expect(codeAndField(() => emitIpv4({ ...base, options: Buffer.alloc(44) }, out))).toBe('BAD_FIELD:options');
    expect(codeAndField(() => emitIpv4({ ...base, fragOffsetBytes: 12 }, out))).toBe('BAD_FIELD:fragOffsetBytes');
    expect(codeAndField(() => emitIpv4({ ...base, payloadLen: 65516 }, out))).toBe('BAD_FIELD:totalLength');
    expect(codeAndField(() => emitIpv4({ ...base, ttl: 256 }, out))).toBe('BAD_FIELD:ttl');
    expect(codeAndField(() => emitIpv4({ ...base, src: 2 ** 32 }, out))).toBe('BAD_FIELD:src');
    expect(codeAndField(() => emitIpv4(base, Buffer.alloc(19)))?.startsWith('TRUNCATED')).toBe(true);
    expect(ipv4HeaderLen({ ...base, options: Buffer.alloc(8) })).toBe(28);
  });

  it('parses and formats dotted-quad addresses', () => {
    expect(parseIpv4Addr('192.0.2.1')).toBe(0xc0000201);
    expect(parseIpv4Addr('255.255.255.255')).toBe(0xffffffff);
    expect(ipToString(0xc0000202)).toBe('192.0.2.2');
    expect(ipToString(0xffffffff)).toBe('255.255.255.255');
    expect(ipToString(0)).toBe('0.0.0.0');
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.0.0.1', 'a.b.c.d', '1.2.3.-4', '1..2.3']) {
      expect(codeAndField(() => parseIpv4Addr(bad)), bad).toBe('BAD_FIELD:ipv4Addr');
    }
  });

  it('readIpv4Header reads a header in place, at an offset in a frame, with the fields and errors of parseIpv4', () => {
    const pkt = buildIpv4({ src: SRC, dst: DST, protocol: IPPROTO_TCP, ttl: 64, id: 7, flags: IPV4_DF, options: Buffer.from([1, 1, 1, 0]) }, Buffer.alloc(40, 9));
    // 14 bytes in front (an Ethernet header), 6 of padding behind.
    const frame = Buffer.concat([Buffer.alloc(14, 0xee), pkt, Buffer.alloc(6)]);
    const h = ipv4HeaderFields();
    readIpv4Header(frame, 14, frame.length, h);
    const ip = parseIpv4(frame.subarray(14));
    expect(h).toEqual({
      src: ip.src,
      dst: ip.dst,
      protocol: ip.protocol,
      flags: ip.flags,
      fragOffsetBytes: ip.fragOffsetBytes,
      headerLen: 24,
      totalLength: pkt.length,
    });
    // The end of the captured bytes, not of the buffer, bounds the packet.
    for (const end of [14 + 19, 14 + 23, 14 + pkt.length - 1]) {
      expect(codeAndField(() => readIpv4Header(frame, 14, end, h)), `end ${end}`).toBe(codeAndField(() => parseIpv4(frame.subarray(14, end))));
      expect(codeAndField(() => readIpv4Header(frame, 14, end, h))).toMatch(/^TRUNCATED:/);
    }
    const badVersion = Buffer.from(frame);
    badVersion[14] = 0x65;
    expect(codeAndField(() => readIpv4Header(badVersion, 14, badVersion.length, h))).toBe('BAD_FIELD:version');
  });
});
