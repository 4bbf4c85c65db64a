import { describe, expect, it } from 'vitest';
import { NicEmu } from '../../src/nicemu/nic.js';
import type { Port, PortStats, RxConsumer } from '../../src/nicemu/port/port.js';
import type { Skb } from '../../src/nicemu/skb.js';
import { parseMac } from '../../src/wire/ethernet.js';
import { buildArpFrame, buildTcpFrame } from '../../src/wire/frame.js';
import { parseIpv4Addr } from '../../src/wire/ipv4.js';
import { ARP_REQUEST } from '../../src/wire/arp.js';
import { TCP_ACK, TCP_PSH } from '../../src/wire/tcp.js';

/** A Port over an array: frames are pushed by the test, sends are recorded. */
class ArrayPort implements Port {
  consumer: RxConsumer | undefined;
  readonly sent: Buffer[] = [];
  readonly stats: PortStats = { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, rxKernelDrops: 0, rxQueueDrops: 0, txErrors: 0 };
  send(frame: Buffer): void {
    this.sent.push(frame);
  }
  onFrames(consumer: RxConsumer): void {
    this.consumer = consumer;
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  push(...frames: Buffer[]): void {
    this.consumer!(frames.map((data) => ({ data, tsUs: 1 })));
  }
}

const HOST_MAC = parseMac('02:00:00:00:00:02');
const TGT_MAC = parseMac('02:00:00:00:00:01');
const HOST_IP = parseIpv4Addr('192.0.2.2');
const TGT_IP = parseIpv4Addr('192.0.2.1');

function seg(payload: Buffer, opts: { dstMac?: Buffer; srcPort?: number } = {}): Buffer {
  return buildTcpFrame({
    srcMac: TGT_MAC,
    dstMac: opts.dstMac ?? HOST_MAC,
    srcIp: TGT_IP,
    dstIp: HOST_IP,
    srcPort: opts.srcPort ?? 4420,
    dstPort: 40000,
    seq: 1000,
    ack: 1,
    flags: TCP_ACK | TCP_PSH,
    window: 512,
    payload,
  });
}

function setup(): { port: ArrayPort; nic: NicEmu; got: Skb[] } {
  const port = new ArrayPort();
  const nic = new NicEmu(port, { mac: HOST_MAC });
  const got: Skb[] = [];
  nic.addFlow({ key: { remoteIp: TGT_IP, remotePort: 4420, localIp: HOST_IP, localPort: 40000 }, deliver: (s) => got.push(s) });
  return { port, nic, got };
}

describe('NicEmu pass-through receive path', () => {
  it('hands a segment to its flow with headers linear and the payload as one host frag', () => {
    const { port, nic, got } = setup();
    const payload = Buffer.from('hello nvme');
    const frame = seg(payload);
    port.push(frame);
    expect(got.length).toBe(1);
    const skb = got[0]!;
    expect(skb.seq).toBe(1000);
    expect(skb.len).toBe(payload.length);
    expect(skb.head.length).toBe(14 + 20 + 20);
    expect(skb.frags.length).toBe(1);
    expect(skb.frags[0]!.kind).toBe('host');
    const f = skb.frags[0]!;
    if (f.kind !== 'host') throw new Error('unreachable');
    expect(f.buf.equals(payload)).toBe(true);
    // Zero-copy: the frag views the received frame.
    expect(f.buf.buffer).toBe(frame.buffer);
    expect(nic.stats.rx_tcp_segments).toBe(1);
  });

  it('drops a frame whose TCP checksum is wrong and counts it', () => {
    const { port, nic, got } = setup();
    const frame = seg(Buffer.from('corrupt me'));
    frame[frame.length - 1] ^= 0x40;
    port.push(frame);
    expect(got.length).toBe(0);
    expect(nic.stats.rx_csum_errors).toBe(1);
  });

  it('ignores unicast frames for another MAC, unknown flows and malformed frames, counting each', () => {
    const { port, nic, got } = setup();
    port.push(seg(Buffer.from('x'), { dstMac: parseMac('02:00:00:00:00:99') }));
    port.push(seg(Buffer.from('x'), { srcPort: 4421 }));
    port.push(seg(Buffer.from('x')).subarray(0, 30));
    expect(got.length).toBe(0);
    expect(nic.stats.rx_other_host).toBe(1);
    expect(nic.stats.rx_no_flow).toBe(1);
    expect(nic.stats.rx_errors).toBe(1);
  });

  it('reads untagged and 802.1Q-tagged frames alike (the in-place fast path and parseEthernet agree)', () => {
    const { port, nic, got } = setup();
    const payload = Buffer.from('tagged or not');
    const spec = {
      srcMac: TGT_MAC,
      dstMac: HOST_MAC,
      srcIp: TGT_IP,
      dstIp: HOST_IP,
      srcPort: 4420,
      dstPort: 40000,
      seq: 1000,
      ack: 1,
      flags: TCP_ACK | TCP_PSH,
      window: 512,
      payload,
    };
    port.push(buildTcpFrame(spec), buildTcpFrame({ ...spec, vlan: 7 }));
    expect(got.map((x) => x.head.length)).toEqual([14 + 20 + 20, 18 + 20 + 20]);
    for (const skb of got) {
      const f = skb.frags[0]!;
      if (f.kind !== 'host') throw new Error('unreachable');
      expect(f.buf.equals(payload)).toBe(true);
    }
    // Another host's MAC, tagged or not; a frame too short for an Ethernet header; a bad IPv4 header checksum.
    port.push(buildTcpFrame({ ...spec, dstMac: parseMac('02:00:00:00:00:98') }), buildTcpFrame({ ...spec, vlan: 7, dstMac: parseMac('02:00:00:00:00:98') }));
    port.push(Buffer.from(HOST_MAC));
    const badIp = buildTcpFrame(spec);
    badIp[14 + 8] ^= 0x01; // TTL: the IPv4 header checksum no longer holds
    port.push(badIp);
    expect(got.length).toBe(2);
    expect(nic.stats.rx_other_host).toBe(2);
    expect(nic.stats.rx_errors).toBe(1);
    expect(nic.stats.rx_csum_errors).toBe(1);
  });

  it('hands broadcast ARP to the ARP handler', () => {
    const { port, nic } = setup();
    const seen: number[] = [];
    nic.onArp((arp) => seen.push(arp.targetIp));
    port.push(buildArpFrame({ operation: ARP_REQUEST, senderMac: TGT_MAC, senderIp: TGT_IP, targetIp: HOST_IP }));
    expect(seen).toEqual([HOST_IP]);
    expect(nic.stats.rx_arp).toBe(1);
  });
});

describe('NicEmu checksum modes', () => {
  function partialFrame(): Buffer {
    const frame = seg(Buffer.from('partial checksum from a TSO sender'));
    // Replace the TCP checksum with the folded pseudo-header sum, as a sender
    // with tx checksum offload leaves it (CHECKSUM_PARTIAL).
    const tcpOff = 14 + 20;
    const len = frame.length - tcpOff;
    let sum = (TGT_IP >>> 16) + (TGT_IP & 0xffff) + (HOST_IP >>> 16) + (HOST_IP & 0xffff) + 6 + len;
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    frame.writeUInt16BE(sum, tcpOff + 16);
    return frame;
  }

  it('drops a partial checksum by default, as corrupt', () => {
    const { port, nic, got } = setup();
    port.push(partialFrame());
    expect(got.length).toBe(0);
    expect(nic.stats.rx_csum_errors).toBe(1);
  });

  it('accepts a partial checksum when told the sender offloads checksums, and counts it', () => {
    const port = new ArrayPort();
    const nic = new NicEmu(port, { mac: HOST_MAC, acceptPartialChecksums: true });
    const got: Skb[] = [];
    nic.addFlow({ key: { remoteIp: TGT_IP, remotePort: 4420, localIp: HOST_IP, localPort: 40000 }, deliver: (s) => got.push(s) });
    port.push(partialFrame());
    const bad = seg(Buffer.from('really corrupt'));
    bad[bad.length - 2] ^= 1;
    port.push(bad);
    expect(got.length).toBe(1);
    expect(nic.stats.rx_csum_partial).toBe(1);
    expect(nic.stats.rx_csum_errors).toBe(1);
  });
});
