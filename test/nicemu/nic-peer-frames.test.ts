/**
 * What a local peer's offloads put on the wire: TSO/GSO
 * super-frames above the MTU are accepted and counted in rx_super_frames;
 * partial TCP checksums are counted in rx_csum_partial and, when the NIC is
 * told to refuse them, also in rx_csum_partial_dropped; the drop listener
 * learns the source and TCP flags of every dropped segment (what the SYN
 * timeout error reports).
 */
import { describe, expect, it } from 'vitest';
import { NicEmu, type NicDropInfo, type NicDropReason } from '../../src/nicemu/nic.js';
import type { Skb } from '../../src/nicemu/skb.js';
import { parseMac } from '../../src/wire/ethernet.js';
import { buildTcpFrame } from '../../src/wire/frame.js';
import { parseIpv4Addr } from '../../src/wire/ipv4.js';
import { TCP_ACK, TCP_PSH, TCP_SYN } from '../../src/wire/tcp.js';
import { SilentPort } from '../support/nicemu/silent-port.js';

const HOST_MAC = parseMac('02:00:00:00:00:02');
const TGT_MAC = parseMac('02:00:00:00:00:01');
const HOST_IP = parseIpv4Addr('198.51.100.2');
const TGT_IP = parseIpv4Addr('198.51.100.10');

function seg(payloadLen: number, flags = TCP_ACK | TCP_PSH): Buffer {
  return buildTcpFrame({
    srcMac: TGT_MAC,
    dstMac: HOST_MAC,
    srcIp: TGT_IP,
    dstIp: HOST_IP,
    srcPort: 4420,
    dstPort: 40000,
    seq: 1000,
    ack: 1,
    flags,
    window: 512,
    payload: Buffer.alloc(payloadLen, 0x5a),
  });
}

/** The TCP checksum replaced by the folded pseudo-header sum, as a sender with tx checksum offload leaves it. */
function partial(frame: Buffer): Buffer {
  const tcpOff = 14 + 20;
  const len = frame.length - tcpOff;
  let sum = (TGT_IP >>> 16) + (TGT_IP & 0xffff) + (HOST_IP >>> 16) + (HOST_IP & 0xffff) + 6 + len;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  frame.writeUInt16BE(sum, tcpOff + 16);
  return frame;
}

function rig(opts: { acceptPartialChecksums?: boolean; mtu?: number }): { nic: NicEmu; got: Skb[]; drops: [NicDropReason, NicDropInfo][] } {
  const port = new SilentPort();
  const nic = new NicEmu(port, { mac: HOST_MAC, ...opts });
  const got: Skb[] = [];
  const drops: [NicDropReason, NicDropInfo][] = [];
  nic.onDrop = (r, i) => drops.push([r, i]);
  nic.addFlow({ key: { remoteIp: TGT_IP, remotePort: 4420, localIp: HOST_IP, localPort: 40000 }, deliver: (s) => got.push(s) });
  return { nic, got, drops };
}

describe('NIC: frames a local peer with offloads on sends', () => {
  it('accepts a 64 KiB TSO super-frame whole and counts it in rx_super_frames', () => {
    const { nic, got } = rig({ mtu: 1500, acceptPartialChecksums: true });
    nic.rxFrame(seg(1448), 1);
    nic.rxFrame(partial(seg(65_535 - 40)), 2);
    expect(got.map((s) => s.len)).toEqual([1448, 65_495]);
    expect(nic.stats.rx_super_frames).toBe(1);
    expect(nic.stats.rx_csum_partial).toBe(1);
    expect(nic.stats.rx_csum_errors).toBe(0);
  });

  it('with partial checksums refused: counts them dropped and tells the listener which were SYN-ACKs', () => {
    const { nic, got, drops } = rig({ acceptPartialChecksums: false });
    nic.rxFrame(partial(seg(0, TCP_SYN | TCP_ACK)), 1);
    nic.rxFrame(partial(seg(0, TCP_SYN | TCP_ACK)), 2);
    const bad = seg(10);
    bad[bad.length - 1] ^= 0xff;
    nic.rxFrame(bad, 3);
    expect(got).toEqual([]);
    expect(nic.stats.rx_csum_partial).toBe(2);
    expect(nic.stats.rx_csum_partial_dropped).toBe(2);
    expect(nic.stats.rx_csum_errors).toBe(3);
    expect(drops.map(([r, i]) => [r, i.srcIp, i.srcPort, i.tcpFlags])).toEqual([
      ['rx_csum_partial_dropped', TGT_IP, 4420, TCP_SYN | TCP_ACK],
      ['rx_csum_partial_dropped', TGT_IP, 4420, TCP_SYN | TCP_ACK],
      ['rx_csum_errors', TGT_IP, 4420, TCP_ACK | TCP_PSH],
    ]);
  });

  it('tells the listener of a segment for no flow and of a frame that does not parse', () => {
    const { nic, drops } = rig({});
    const stray = buildTcpFrame({ srcMac: TGT_MAC, dstMac: HOST_MAC, srcIp: TGT_IP, dstIp: HOST_IP, srcPort: 4421, dstPort: 40000, seq: 1, ack: 1, flags: TCP_ACK, window: 1, payload: Buffer.alloc(0) });
    nic.rxFrame(stray, 1);
    nic.rxFrame(seg(100).subarray(0, 40), 2); // IPv4 total length runs past the bytes there
    expect(drops.map(([r]) => r)).toEqual(['rx_no_flow', 'rx_errors']);
    expect(nic.stats.rx_no_flow).toBe(1);
    expect(nic.stats.rx_errors).toBe(1);
  });
});
