import { describe, expect, it } from 'vitest';
import { WireError } from '../../src/wire/errors.js';
import {
  buildTcp,
  emitTcp,
  NO_TCP_OPTIONS,
  parseTcp,
  parseTcpAt,
  TCP_ACK,
  TCP_CWR,
  TCP_ECE,
  TCP_FIN,
  TCP_HEADER_LEN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  TCP_URG,
  tcpChecksum,
  tcpHeaderLen,
  tcpOptionsLen,
  verifyTcpChecksum,
} from '../../src/wire/tcp.js';
import type { TcpHeader, TcpOptions } from '../../src/wire/tcp.js';

const SRC = 0xc0000201;
const DST = 0xc0000202;

const base: TcpHeader = { srcPort: 40000, dstPort: 4420, seq: 0xfffffff0, ack: 0x01020304, flags: TCP_ACK, window: 512 };

function codeAndField(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof WireError) return `${e.code}:${e.detail.field ?? ''}`;
    throw e;
  }
  return undefined;
}

/** A 20-byte header followed by `opts` (padded to 4 with EOL) and `payload`. */
function withRawOptions(opts: number[], payload = Buffer.alloc(0)): Buffer {
  return buildTcp({ ...base, rawOptions: Buffer.from(opts) }, SRC, DST, payload);
}

describe('TCP header', () => {
  it('parses every fixed field', () => {
    const seg = buildTcp({ ...base, urgentPtr: 0x1234, flags: TCP_ACK | TCP_PSH | TCP_URG }, SRC, DST, Buffer.from('data'));
    const tcp = parseTcp(seg);
    expect(tcp).toMatchObject({
      srcPort: 40000,
      dstPort: 4420,
      seq: 0xfffffff0,
      ack: 0x01020304,
      flags: TCP_ACK | TCP_PSH | TCP_URG,
      window: 512,
      urgentPtr: 0x1234,
      headerLen: TCP_HEADER_LEN,
    });
    expect(tcp.payload.toString()).toBe('data');
    expect(tcp.options).toBe(NO_TCP_OPTIONS);
    expect(tcp.checksum).toBe(seg.readUInt16BE(16));
    expect(verifyTcpChecksum(SRC, DST, seg)).toBe(true);
  });

  it('keeps all eight flags and the four reserved bits', () => {
    const flags = [TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK, TCP_URG, TCP_ECE, TCP_CWR];
    expect(flags.reduce((a, b) => a | b, 0)).toBe(0xff);
    for (const f of [...flags, 0xff, 0x100, 0xf00 | TCP_SYN]) {
      const seg = buildTcp({ ...base, flags: f }, SRC, DST);
      expect(parseTcp(seg).flags).toBe(f);
      expect(seg[13]).toBe(f & 0xff);
      expect(seg[12]! & 0x0f).toBe(f >>> 8);
    }
  });

  it('emits a Linux SYN option block byte for byte', () => {
    const seg = buildTcp(
      { ...base, flags: TCP_SYN, options: { mss: 1460, sackPermitted: true, tsVal: 0x11223344, tsEcr: 0, wscale: 7 } },
      SRC,
      DST,
    );
    expect(seg.subarray(20).toString('hex')).toBe('020405b4' + '0402080a' + '11223344' + '00000000' + '01030307');
    expect(seg[12]! >>> 4).toBe(10);
  });

  it('round-trips every option combination byte for byte', () => {
    const blocks = [
      { left: 1000, right: 2000 },
      { left: 3000, right: 4000 },
      { left: 0xfffffff0, right: 0x10 },
      { left: 5, right: 6 },
    ];
    const cases: TcpOptions[] = [
      { mss: 1460 },
      { wscale: 14 },
      { sackPermitted: true },
      { tsVal: 1, tsEcr: 2 },
      { mss: 536, sackPermitted: true, wscale: 0 },
      { mss: 1460, sackPermitted: true, tsVal: 0xffffffff, tsEcr: 0, wscale: 10 },
      { tsVal: 9, tsEcr: 8, sack: blocks.slice(0, 1) },
      { tsVal: 9, tsEcr: 8, sack: blocks.slice(0, 3) },
      { sack: blocks.slice(0, 2) },
      { sack: blocks },
    ];
    for (const options of cases) {
      const first = buildTcp({ ...base, options }, SRC, DST, Buffer.from('xyz'));
      expect(first.length).toBe(TCP_HEADER_LEN + tcpOptionsLen(options) + 3);
      expect(tcpOptionsLen(options) % 4).toBe(0);
      const tcp = parseTcp(first);
      expect(tcp.options.mss).toBe(options.mss);
      expect(tcp.options.wscale).toBe(options.wscale);
      expect(tcp.options.sackPermitted).toBe(options.sackPermitted === true);
      expect(tcp.options.tsVal).toBe(options.tsVal);
      expect(tcp.options.tsEcr).toBe(options.tsEcr);
      expect(tcp.options.sack).toEqual(options.sack);
      expect(tcp.payload.toString()).toBe('xyz');
      const second = buildTcp(tcp, SRC, DST, tcp.payload);
      expect(second.equals(first), JSON.stringify(options)).toBe(true);
      expect(verifyTcpChecksum(SRC, DST, first)).toBe(true);
    }
  });

  it('pads raw options to 4 bytes with EOL', () => {
    const seg = withRawOptions([1, 1, 4, 2, 1]);
    expect(seg.length).toBe(28);
    expect(seg.subarray(20).toString('hex')).toBe('0101040201000000');
    expect(tcpHeaderLen({ ...base, rawOptions: Buffer.alloc(5) })).toBe(28);
    expect(parseTcp(seg).options.sackPermitted).toBe(true);
  });

  it('skips unknown options by their length and stops at EOL', () => {
    // TFO cookie (34, len 10), MPTCP-ish (30, len 4), then timestamps.
    const seg = withRawOptions([34, 10, 1, 2, 3, 4, 5, 6, 7, 8, 30, 4, 0, 0, 1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9]);
    expect(parseTcp(seg).options).toMatchObject({ tsVal: 7, tsEcr: 9, mss: undefined });
    // Bytes after EOL are padding, however they look.
    const afterEol = withRawOptions([2, 4, 5, 0xb4, 0, 2, 1]);
    expect(parseTcp(afterEol).options).toMatchObject({ mss: 1460, wscale: undefined });
  });

  it('rejects a data offset below 5 as BAD_FIELD dataOffset', () => {
    const seg = buildTcp(base, SRC, DST, Buffer.alloc(40));
    for (let off = 0; off < 5; off++) {
      const bad = Buffer.from(seg);
      bad[12] = off << 4;
      expect(codeAndField(() => parseTcp(bad))).toBe('BAD_FIELD:dataOffset');
    }
  });

  it('reports a data offset past the buffer as TRUNCATED', () => {
    const seg = buildTcp({ ...base, options: { mss: 1460 } }, SRC, DST);
    seg[12] = 15 << 4; // claims 60 bytes of header in 24
    expect(codeAndField(() => parseTcp(seg))?.startsWith('TRUNCATED')).toBe(true);
  });

  it('reports a header cut at every length as TRUNCATED', () => {
    const seg = buildTcp({ ...base, options: { mss: 1460, sackPermitted: true, tsVal: 1, tsEcr: 0, wscale: 7 } }, SRC, DST);
    for (let len = 0; len < seg.length; len++) {
      expect(codeAndField(() => parseTcp(seg.subarray(0, len)))?.startsWith('TRUNCATED'), `len ${len}`).toBe(true);
    }
  });

  it('rejects malformed option lengths as BAD_FIELD optionLength', () => {
    const bad: Array<[string, number[]]> = [
      ['MSS length 3', [2, 3, 5, 1]],
      ['MSS length 5', [2, 5, 5, 0xb4, 0, 1, 1, 1]],
      ['window scale length 4', [3, 4, 7, 0]],
      ['SACK-permitted length 3', [4, 3, 0, 1]],
      ['timestamps length 9', [8, 9, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1]],
      ['SACK with no block', [1, 1, 5, 2]],
      ['SACK with a partial block', [5, 11, 0, 0, 0, 1, 0, 0, 0, 2, 0, 1]],
      ['unknown kind length 0', [30, 0, 1, 1]],
      ['unknown kind length 1', [30, 1, 1, 1]],
      ['length past the header', [1, 1, 30, 7]],
      ['kind without a length byte', [1, 1, 1, 30]],
      ['MSS cut by the header end', [1, 1, 1, 2]],
    ];
    for (const [what, opts] of bad) {
      expect(codeAndField(() => parseTcp(withRawOptions(opts))), what).toBe('BAD_FIELD:optionLength');
    }
  });

  it('refuses to emit options that do not fit in 40 bytes, or bad SACK counts', () => {
    const blocks = Array.from({ length: 4 }, (_, i) => ({ left: i * 10, right: i * 10 + 5 }));
    const out = Buffer.alloc(100);
    expect(codeAndField(() => emitTcp({ ...base, options: { tsVal: 1, sack: blocks } }, out, 0, SRC, DST))).toBe('BAD_FIELD:options');
    expect(codeAndField(() => emitTcp({ ...base, options: { sack: [] } }, out, 0, SRC, DST))).toBe('BAD_FIELD:sack');
    expect(codeAndField(() => emitTcp({ ...base, options: { mss: 70000 } }, out, 0, SRC, DST))).toBe('BAD_FIELD:mss');
    expect(codeAndField(() => emitTcp({ ...base, window: 65536 }, out, 0, SRC, DST))).toBe('BAD_FIELD:window');
    expect(codeAndField(() => emitTcp({ ...base, seq: -1 }, out, 0, SRC, DST))).toBe('BAD_FIELD:seq');
    expect(codeAndField(() => emitTcp(base, Buffer.alloc(19), 0, SRC, DST))?.startsWith('TRUNCATED')).toBe(true);
  });
});

describe('TCP checksum', () => {
  it('covers the pseudo-header: other addresses do not verify', () => {
    const seg = buildTcp(base, SRC, DST, Buffer.from('hello'));
    expect(verifyTcpChecksum(SRC, DST, seg)).toBe(true);
    expect(verifyTcpChecksum(SRC, DST + 1, seg)).toBe(false);
    expect(verifyTcpChecksum(DST, SRC, seg)).toBe(true); // the sum is symmetric in the addresses
  });

  it('detects a flipped payload bit', () => {
    const seg = buildTcp(base, SRC, DST, Buffer.from('hello, world'));
    for (let bit = 0; bit < seg.length * 8; bit++) {
      const bad = Buffer.from(seg);
      bad[bit >> 3]! ^= 0x80 >> (bit & 7);
      expect(verifyTcpChecksum(SRC, DST, bad), `bit ${bit}`).toBe(false);
    }
  });

  it('sums a payload given as odd-sized fragments without concatenating it', () => {
    const payload = Buffer.alloc(1001);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + 7) & 0xff;
    const frags = [payload.subarray(0, 1), payload.subarray(1, 4), payload.subarray(4, 4), payload.subarray(4, 777), payload.subarray(777)];
    const contiguous = buildTcp(base, SRC, DST, payload);
    const hdr = Buffer.alloc(TCP_HEADER_LEN);
    expect(emitTcp(base, hdr, 0, SRC, DST, frags)).toBe(TCP_HEADER_LEN);
    expect(hdr.equals(contiguous.subarray(0, TCP_HEADER_LEN))).toBe(true);
    expect(verifyTcpChecksum(SRC, DST, [hdr, ...frags])).toBe(true);
    const zeroed = Buffer.from(contiguous);
    zeroed.writeUInt16BE(0, 16);
    expect(tcpChecksum(SRC, DST, zeroed)).toBe(contiguous.readUInt16BE(16));
    expect(tcpChecksum(SRC, DST, [zeroed.subarray(0, 33), zeroed.subarray(33)])).toBe(contiguous.readUInt16BE(16));
  });

  it('parseTcpAt parses a segment in place, at an offset, bounded by its end rather than the buffer', () => {
    const seg = withRawOptions([2, 4, 0x05, 0xb4, 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2], Buffer.from('payload!'));
    const frame = Buffer.concat([Buffer.alloc(34, 0xee), seg, Buffer.alloc(6, 0xaa)]);
    const at = parseTcpAt(frame, 34, 34 + seg.length);
    const { payload, ...fields } = parseTcp(seg);
    expect(at).toMatchObject(fields);
    expect(at.payload.toString()).toBe('payload!');
    expect(at.payload.buffer).toBe(frame.buffer);
    expect(parseTcpAt(frame, 34, 34 + at.headerLen).payload.length).toBe(0);
    for (const end of [34 + 19, 34 + at.headerLen - 1]) {
      expect(codeAndField(() => parseTcpAt(frame, 34, end)), `end ${end}`).toBe(codeAndField(() => parseTcp(frame.subarray(34, end))));
      expect(codeAndField(() => parseTcpAt(frame, 34, end))).toMatch(/^TRUNCATED:/);
    }
    expect(payload.toString()).toBe('payload!');
  });
});
