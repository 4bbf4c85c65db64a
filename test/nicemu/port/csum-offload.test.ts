/**
 * The batch port's receive checksum offload (native/pcap-port: the verdict
 * read() puts in each frame's meta) against the NIC model's own checks: the
 * addon may say "verified" only for a frame whose IPv4 header and TCP
 * checksums NicEmu would accept by summing them, and must say it for every
 * such untagged IPv4/TCP frame.
 */
import { describe, expect, it } from 'vitest';
import { addonCsumVerified } from '../../../src/nicemu/port/pcap-batch.js';
import { buildTcpFrame } from '../../../src/wire/frame.js';
import { verifyIpv4Checksum } from '../../../src/wire/ipv4.js';
import { verifyTcpChecksum, TCP_ACK, TCP_PSH } from '../../../src/wire/tcp.js';
import { Sfc32 } from '../../../src/base/seeded-rng.js';

/** What NicEmu would conclude by summing: an untagged IPv4/TCP frame whose checksums both verify. */
function jsVerdict(f: Buffer): boolean {
  if (f.length < 34 || f.readUInt16BE(12) !== 0x0800) return false;
  const ihl = (f[14]! & 0x0f) * 4;
  const total = f.readUInt16BE(16);
  if (f[14]! >> 4 !== 4 || ihl < 20 || total < ihl + 20 || 14 + total > f.length) return false;
  if (f[23] !== 6 || (f.readUInt16BE(20) & 0x3fff) !== 0) return false;
  const l3 = f.subarray(14, 14 + total);
  return verifyIpv4Checksum(l3) && verifyTcpChecksum(l3.readUInt32BE(12), l3.readUInt32BE(16), l3.subarray(ihl));
}

describe('receive checksum offload (pcap-port addon)', () => {
  it('agrees with summing in JavaScript on good, corrupted, padded and odd-length frames', () => {
    const r = new Sfc32(11);
    const rng = { u32: () => r.u32(), float: () => r.float(), int: (lo: number, hi: number) => lo + Math.floor(r.float() * (hi - lo + 1)) };
    let good = 0;
    let bad = 0;
    for (let i = 0; i < 3000; i++) {
      const len = rng.int(0, 1500);
      const f = buildTcpFrame({
        srcMac: Buffer.from([2, 0, 0, 0, 0, 1]),
        dstMac: Buffer.from([2, 0, 0, 0, 0, 2]),
        srcIp: rng.u32(),
        dstIp: rng.u32(),
        srcPort: rng.int(1, 65535),
        dstPort: 4420,
        seq: rng.u32(),
        ack: rng.u32(),
        flags: TCP_ACK | (rng.float() < 0.5 ? TCP_PSH : 0),
        window: rng.int(0, 65535),
        options: rng.float() < 0.5 ? { tsVal: rng.u32(), tsEcr: rng.u32() } : {},
        ipId: rng.int(0, 65535),
        payload: Buffer.from(Array.from({ length: len }, () => rng.int(0, 255))),
      });
      let frame = f;
      const kind = rng.int(0, 4);
      if (kind === 1) frame[rng.int(14, f.length - 1)]! ^= 1 << rng.int(0, 7); // a flipped bit anywhere past Ethernet
      else if (kind === 2) frame = Buffer.concat([f, Buffer.alloc(rng.int(1, 20))]); // Ethernet padding past the IP total length
      else if (kind === 3) frame = f.subarray(0, rng.int(0, f.length - 1)); // cut short
      const want = jsVerdict(frame);
      expect(addonCsumVerified(frame), `frame ${i} kind ${kind}`).toBe(want);
      if (want) good++;
      else bad++;
    }
    expect(good).toBeGreaterThan(1000);
    expect(bad).toBeGreaterThan(500);
  });
});
