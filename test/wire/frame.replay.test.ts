/**
 * Checks the codecs against frames the Linux kernel made: captures/kernel-tcp.pcap,
 * written by netns/make-kernel-capture.sh (two namespaces, veth with tx checksum
 * offload off, a 6000/3000-byte TCP exchange plus the ARP that precedes it).
 *
 * The classic pcap format is read inline here — 24-byte file header, 16-byte
 * record headers — so this test depends on nothing but the codecs under test.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ARP_REPLY, ARP_REQUEST } from '../../src/wire/arp.js';
import { buildFrame, parseFrame } from '../../src/wire/frame.js';
import type { FrameRepr } from '../../src/wire/frame.js';
import { verifyIpv4Checksum } from '../../src/wire/ipv4.js';
import { TCP_ACK, TCP_FIN, TCP_SYN, tcpChecksum, verifyTcpChecksum } from '../../src/wire/tcp.js';

const PCAP = new URL('../../captures/kernel-tcp.pcap', import.meta.url);
const LINKTYPE_ETHERNET = 1;

function readClassicPcap(file: Buffer): Buffer[] {
  expect(file.length).toBeGreaterThanOrEqual(24);
  const magic = file.readUInt32LE(0);
  // a1b2c3d4 = microseconds, a1b23c4d = nanoseconds; read as LE the file's own byte order shows.
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const be = magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1;
  expect(le || be, `pcap magic ${magic.toString(16)}`).toBe(true);
  const u32 = (at: number): number => (le ? file.readUInt32LE(at) : file.readUInt32BE(at));
  expect(u32(20) & 0x0fffffff).toBe(LINKTYPE_ETHERNET);
  const frames: Buffer[] = [];
  let at = 24;
  while (at < file.length) {
    expect(file.length - at).toBeGreaterThanOrEqual(16);
    const inclLen = u32(at + 8);
    const origLen = u32(at + 12);
    expect(inclLen, `record at ${at} was cut by the snap length`).toBe(origLen);
    expect(at + 16 + inclLen).toBeLessThanOrEqual(file.length);
    frames.push(file.subarray(at + 16, at + 16 + inclLen));
    at += 16 + inclLen;
  }
  return frames;
}

describe('codecs against a kernel TCP capture', () => {
  const frames = readClassicPcap(readFileSync(PCAP));
  const parsed: FrameRepr[] = frames.map((f) => parseFrame(f));
  const tcpFrames = parsed.filter((f) => f.tcp !== undefined);

  it('holds an ARP exchange and a whole TCP connection', () => {
    expect(frames.length).toBeGreaterThanOrEqual(20);
    expect(parsed.some((f) => f.arp?.operation === ARP_REQUEST)).toBe(true);
    expect(parsed.some((f) => f.arp?.operation === ARP_REPLY)).toBe(true);
    expect(tcpFrames.filter((f) => (f.tcp!.flags & TCP_SYN) !== 0)).toHaveLength(2);
    expect(tcpFrames.filter((f) => (f.tcp!.flags & TCP_FIN) !== 0)).toHaveLength(2);
    const bytes = tcpFrames.reduce((n, f) => n + f.payload.length, 0);
    expect(bytes).toBe(6000 + 3000);
  });

  it('verifies every IPv4 header checksum and every TCP checksum', () => {
    for (const [i, f] of tcpFrames.entries()) {
      expect(verifyIpv4Checksum(f.eth.payload), `frame ${i} ip`).toBe(true);
      expect(verifyTcpChecksum(f.ip!.src, f.ip!.dst, f.ip!.payload), `frame ${i} tcp`).toBe(true);
    }
  });

  it('recomputes the kernel TCP checksum from header and payload fragments', () => {
    for (const f of tcpFrames) {
      const segment = f.ip!.payload;
      const header = Buffer.from(segment.subarray(0, f.tcp!.headerLen));
      header.writeUInt16BE(0, 16);
      const p = f.payload;
      const cut1 = Math.min(p.length, 1);
      const cut2 = Math.min(p.length, 700);
      const frags = [header, p.subarray(0, cut1), p.subarray(cut1, cut2), p.subarray(cut2)];
      expect(tcpChecksum(f.ip!.src, f.ip!.dst, frags)).toBe(f.tcp!.checksum);
    }
  });

  it('parses the SYN and SYN-ACK options Linux sends by default', () => {
    const syns = tcpFrames.filter((f) => (f.tcp!.flags & TCP_SYN) !== 0);
    const syn = syns.find((f) => (f.tcp!.flags & TCP_ACK) === 0)!;
    const synAck = syns.find((f) => (f.tcp!.flags & TCP_ACK) !== 0)!;
    expect(syn.tcp!.options).toMatchObject({ mss: 1460, sackPermitted: true, tsEcr: 0 });
    expect(syn.tcp!.options.tsVal).toBeTypeOf('number');
    expect(syn.tcp!.options.wscale).toBeGreaterThan(0);
    expect(synAck.tcp!.options).toMatchObject({ mss: 1460, sackPermitted: true, tsEcr: syn.tcp!.options.tsVal });
    expect(synAck.tcp!.options.wscale).toBeGreaterThan(0);
    // Segments after the handshake carry timestamps only.
    const data = tcpFrames.find((f) => f.payload.length > 0)!;
    expect(data.tcp!.options).toMatchObject({ mss: undefined, wscale: undefined, sackPermitted: false });
    expect(data.tcp!.options.tsVal).toBeTypeOf('number');
  });

  it('re-emits every frame byte for byte', () => {
    for (const [i, f] of parsed.entries()) {
      expect(buildFrame(f).equals(frames[i]!), `frame ${i}`).toBe(true);
    }
  });
});
