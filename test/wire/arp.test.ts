import { describe, expect, it } from 'vitest';
import { ARP_LEN, ARP_REPLY, ARP_REQUEST, emitArp, parseArp } from '../../src/wire/arp.js';
import type { ArpHeader } from '../../src/wire/arp.js';
import { WireError } from '../../src/wire/errors.js';
import { MAC_ZERO, parseMac } from '../../src/wire/ethernet.js';

const A = parseMac('02:dd:00:00:00:01');
const B = parseMac('02:dd:00:00:00:02');

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof WireError) return e.code;
    throw e;
  }
  return undefined;
}

function emit(hdr: ArpHeader): Buffer {
  const out = Buffer.alloc(ARP_LEN);
  expect(emitArp(hdr, out, 0)).toBe(ARP_LEN);
  return out;
}

describe('ARP for IPv4 over Ethernet', () => {
  it('emits a request with the RFC 826 layout', () => {
    const req = emit({ operation: ARP_REQUEST, senderMac: A, senderIp: 0xc0000201, targetMac: MAC_ZERO, targetIp: 0xc0000202 });
    expect(req.toString('hex')).toBe('0001' + '0800' + '06' + '04' + '0001' + '02dd00000001' + 'c0000201' + '000000000000' + 'c0000202');
  });

  it('round-trips requests and replies byte for byte', () => {
    for (const hdr of [
      { operation: ARP_REQUEST, senderMac: A, senderIp: 0xc0000201, targetMac: MAC_ZERO, targetIp: 0xc0000202 },
      { operation: ARP_REPLY, senderMac: B, senderIp: 0xc0000202, targetMac: A, targetIp: 0xc0000201 },
    ] as const) {
      const first = emit(hdr);
      const parsed = parseArp(first);
      expect(parsed.operation).toBe(hdr.operation);
      expect(parsed.senderIp).toBe(hdr.senderIp);
      expect(parsed.targetIp).toBe(hdr.targetIp);
      expect(parsed.senderMac.equals(hdr.senderMac)).toBe(true);
      expect(emit(parsed).equals(first)).toBe(true);
    }
  });

  it('ignores Ethernet padding after the 28 bytes', () => {
    const padded = Buffer.alloc(46, 0x5a);
    emitArp({ operation: ARP_REPLY, senderMac: B, senderIp: 1, targetMac: A, targetIp: 2 }, padded, 0);
    expect(parseArp(padded).targetIp).toBe(2);
  });

  it('reports every truncation as TRUNCATED', () => {
    const req = emit({ operation: ARP_REQUEST, senderMac: A, senderIp: 1, targetMac: MAC_ZERO, targetIp: 2 });
    for (let len = 0; len < ARP_LEN; len++) expect(codeOf(() => parseArp(req.subarray(0, len)))).toBe('TRUNCATED');
  });

  it('rejects other hardware/protocol pairings and opcodes as UNSUPPORTED', () => {
    const good = emit({ operation: ARP_REQUEST, senderMac: A, senderIp: 1, targetMac: MAC_ZERO, targetIp: 2 });
    const patches: Array<[number, number[]]> = [
      [0, [0x00, 0x06]], // htype IEEE 802
      [2, [0x86, 0xdd]], // ptype IPv6
      [4, [8]], // hlen
      [5, [16]], // plen
      [6, [0x00, 0x03]], // RARP request
      [6, [0x00, 0x00]],
    ];
    for (const [at, bytes] of patches) {
      const bad = Buffer.from(good);
      bad.set(bytes, at);
      expect(codeOf(() => parseArp(bad)), `patch at ${at}`).toBe('UNSUPPORTED');
    }
  });

  it('refuses to emit bad addresses', () => {
    const out = Buffer.alloc(ARP_LEN);
    expect(codeOf(() => emitArp({ operation: ARP_REQUEST, senderMac: Buffer.alloc(4), senderIp: 1, targetMac: MAC_ZERO, targetIp: 2 }, out))).toBe('BAD_FIELD');
    expect(codeOf(() => emitArp({ operation: ARP_REQUEST, senderMac: A, senderIp: -1, targetMac: MAC_ZERO, targetIp: 2 }, out))).toBe('BAD_FIELD');
    expect(codeOf(() => emitArp({ operation: ARP_REQUEST, senderMac: A, senderIp: 1, targetMac: MAC_ZERO, targetIp: 2 }, Buffer.alloc(27)))).toBe('TRUNCATED');
  });
});
