/**
 * GRO (src/nicemu/gro.ts): segments of real frames, through NicEmu, merged
 * or passed up by Linux's tcp_gro_receive / inet_gro_receive rules.
 */
import { describe, expect, it } from 'vitest';
import { NicEmu } from '../../src/nicemu/nic.js';
import { Gro, GRO_MAX_BYTES } from '../../src/nicemu/gro.js';
import type { Skb } from '../../src/nicemu/skb.js';
import type { TcpFrameSpec } from '../../src/wire/frame.js';
import { HOST_IP, HOST_MAC, PEER_IP, peerFrame } from '../support/nicemu/peer-frames.js';
import { parseIpv4, verifyIpv4Checksum } from '../../src/wire/ipv4.js';
import { parseTcp, TCP_ACK, TCP_CWR, TCP_PSH } from '../../src/wire/tcp.js';
import { SilentPort } from '../support/nicemu/silent-port.js';

const MSS = 1448;

type Seg = Partial<TcpFrameSpec> & { seq: number; len?: number };

function frame(s: Seg): Buffer {
  const { len = MSS, ...spec } = s;
  return peerFrame({ options: { tsVal: 1000, tsEcr: 9 }, ipId: (s.seq - 1000) / MSS, payload: Buffer.alloc(len, s.seq & 0xff), ...spec });
}

/** A NIC whose one flow feeds a Gro; returns what GRO passes up. */
function rig(): { rx: (s: Seg) => void; gro: Gro; up: Skb[] } {
  const up: Skb[] = [];
  const gro = new Gro((flow, skb) => {
    expect(flow).toBe(3);
    up.push(skb);
  });
  const nic = new NicEmu(new SilentPort(), { mac: HOST_MAC });
  nic.addFlow({ key: { remoteIp: PEER_IP, remotePort: 4420, localIp: HOST_IP, localPort: 40000 }, deliver: (skb) => gro.receive(3, skb) });
  let ts = 0;
  return { rx: (s) => nic.rxFrame(frame(s), ts++), gro, up };
}

const seqOf = (i: number): number => 1000 + i * MSS;
const payload = (s: Skb): Buffer => Buffer.concat(s.frags.map((f) => (f.kind === 'dmabuf' ? Buffer.alloc(0) : f.buf)));

describe('GRO', () => {
  it('merges in-order segments of one burst into one packet whose headers describe the whole', () => {
    const r = rig();
    for (let i = 0; i < 10; i++) r.rx({ seq: seqOf(i), flags: i === 9 ? TCP_ACK | TCP_PSH : TCP_ACK });
    // PSH ends the burst: up at once, not at the end of the poll.
    expect(r.up.length).toBe(1);
    const s = r.up[0]!;
    expect([s.seq, s.len, s.frags.length]).toEqual([1000, 10 * MSS, 10]);
    const want = Buffer.concat(Array.from({ length: 10 }, (_, i) => Buffer.alloc(MSS, seqOf(i) & 0xff)));
    expect(payload(s).equals(want)).toBe(true);
    const l3 = s.head.subarray(14);
    expect(verifyIpv4Checksum(l3)).toBe(true);
    expect(parseIpv4(Buffer.concat([l3, want])).totalLength).toBe(l3.length + 10 * MSS);
    const tcp = parseTcp(s.head.subarray(34));
    expect(tcp.flags).toBe(TCP_ACK | TCP_PSH);
    expect(s.tcp.flags).toBe(TCP_ACK | TCP_PSH);
    expect(r.gro.stats).toEqual({ skbs: 1, segments: 10 });
  });

  it('holds a burst until the end of the poll', () => {
    const r = rig();
    for (let i = 0; i < 4; i++) r.rx({ seq: seqOf(i) });
    expect(r.up.length).toBe(0);
    r.gro.flush();
    expect(r.up.map((s) => [s.seq, s.len])).toEqual([[1000, 4 * MSS]]);
  });

  it('starts a new packet at a hole, a changed window, ack or timestamp, a CWR, a non-incrementing IP ID', () => {
    const cases: [string, Seg][] = [
      ['hole', { seq: seqOf(3) }],
      ['window', { seq: seqOf(2), window: 513 }],
      ['ack', { seq: seqOf(2), ack: 78 }],
      ['timestamp', { seq: seqOf(2), options: { tsVal: 1001, tsEcr: 9 } }],
      ['cwr', { seq: seqOf(2), flags: TCP_ACK | TCP_CWR }],
      ['ip id', { seq: seqOf(2), ipId: 7 }],
      ['ttl', { seq: seqOf(2), ttl: 63 }],
    ];
    for (const [what, third] of cases) {
      const r = rig();
      r.rx({ seq: seqOf(0) });
      r.rx({ seq: seqOf(1) });
      r.rx(third);
      r.gro.flush();
      expect(r.up.map((s) => [s.seq, s.len]), what).toEqual([
        [1000, 2 * MSS],
        [third.seq, MSS],
      ]);
    }
  });

  it('ends a packet with a segment shorter than the first, and never merges a longer one', () => {
    const r = rig();
    r.rx({ seq: seqOf(0), len: 1000, ipId: 0 });
    r.rx({ seq: seqOf(0) + 1000, len: 1448, ipId: 1 }); // longer than gso_size: a new packet
    r.rx({ seq: seqOf(0) + 2448, len: 500, ipId: 2 }); // shorter: merged, and the packet goes up
    expect(r.up.map((s) => [s.seq, s.len])).toEqual([
      [1000, 1000],
      [2000, 1948],
    ]);
  });

  it('sends what it holds up before a segment without payload, which it never holds', () => {
    const r = rig();
    r.rx({ seq: seqOf(0) });
    r.rx({ seq: seqOf(1) });
    r.rx({ seq: seqOf(2), len: 0, ack: 80 });
    expect(r.up.map((s) => [s.seq, s.len])).toEqual([
      [1000, 2 * MSS],
      [seqOf(2), 0],
    ]);
  });

  it(`stays below ${GRO_MAX_BYTES} bytes from the IP header on`, () => {
    const r = rig();
    for (let i = 0; i < 50; i++) r.rx({ seq: seqOf(i) });
    r.gro.flush();
    const lens = r.up.map((s) => s.len);
    expect(lens.reduce((a, b) => a + b, 0)).toBe(50 * MSS);
    // 52 bytes of IP and TCP header with timestamps: 45 segments would be 65212 + 52 — over; 44 fit.
    expect(lens[0]).toBe(Math.floor((GRO_MAX_BYTES - 1 - 52) / MSS) * MSS);
    for (const s of r.up) expect(s.head.length - 14 + s.len).toBeLessThan(GRO_MAX_BYTES);
  });

  it('does not merge a segment whose data digest the NIC verified with one it did not (ulp_crc)', () => {
    const up: Skb[] = [];
    const gro = new Gro((_f, skb) => up.push(skb));
    const nic = new NicEmu(new SilentPort(), { mac: HOST_MAC });
    let crc = true;
    nic.addFlow({ key: { remoteIp: PEER_IP, remotePort: 4420, localIp: HOST_IP, localPort: 40000 }, deliver: (skb) => gro.receive(1, { ...skb, ddpCrcOk: crc }) });
    nic.rxFrame(frame({ seq: seqOf(0) }), 0);
    nic.rxFrame(frame({ seq: seqOf(1) }), 1);
    crc = false;
    nic.rxFrame(frame({ seq: seqOf(2) }), 2);
    gro.flush();
    expect(up.map((s) => [s.len, s.ddpCrcOk])).toEqual([
      [2 * MSS, true],
      [MSS, false],
    ]);
  });
});
