import { describe, expect, it } from 'vitest';
import { ARP_REPLY, ARP_REQUEST } from '../../src/wire/arp.js';
import { WireError } from '../../src/wire/errors.js';
import { buildEthernet, ETHERTYPE_IPV4, MAC_BROADCAST, MAC_ZERO, parseMac } from '../../src/wire/ethernet.js';
import { buildIpv4, IPPROTO_UDP, IPV4_DF, IPV4_MF, verifyIpv4Checksum } from '../../src/wire/ipv4.js';
import { buildArpFrame, buildFrame, buildTcpFrame, parseFrame } from '../../src/wire/frame.js';
import type { TcpFrameSpec } from '../../src/wire/frame.js';
import { TCP_ACK, TCP_PSH, TCP_SYN, verifyTcpChecksum } from '../../src/wire/tcp.js';
import { mulberry32 } from '../../src/base/seeded-rng.js';

const HOST_MAC = parseMac('02:dd:00:00:00:02');
const TGT_MAC = parseMac('02:dd:00:00:00:01');
const TGT_IP = 0xc0000201;
const HOST_IP = 0xc0000202;

const dataSpec: TcpFrameSpec = {
  srcMac: TGT_MAC,
  dstMac: HOST_MAC,
  srcIp: TGT_IP,
  dstIp: HOST_IP,
  srcPort: 4420,
  dstPort: 40001,
  seq: 0xfffffff0,
  ack: 12345,
  flags: TCP_ACK | TCP_PSH,
  window: 501,
  options: { tsVal: 100, tsEcr: 200 },
  payload: Buffer.from('0123456789abcdefghijklmnopq'),
  ipId: 0x4242,
};

/** Seeded (mulberry32) so a failing case can be replayed from its seed. */
const prng = mulberry32;

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof WireError) return e.code;
    throw e;
  }
  return undefined;
}

describe('frames', () => {
  it('builds a TCP frame whose every layer parses back with valid checksums', () => {
    const frame = buildTcpFrame(dataSpec);
    expect(frame.length).toBe(14 + 20 + 32 + 27);
    const f = parseFrame(frame);
    expect(f.arp).toBeUndefined();
    expect(f.eth.ethertype).toBe(ETHERTYPE_IPV4);
    expect(f.eth.dst.equals(HOST_MAC)).toBe(true);
    expect(f.ip).toMatchObject({ src: TGT_IP, dst: HOST_IP, ttl: 64, id: 0x4242, flags: IPV4_DF, totalLength: 20 + 32 + 27 });
    expect(f.tcp).toMatchObject({ srcPort: 4420, dstPort: 40001, seq: 0xfffffff0, ack: 12345, flags: TCP_ACK | TCP_PSH, window: 501 });
    expect(f.tcp!.options.tsVal).toBe(100);
    expect(f.payload.toString()).toBe('0123456789abcdefghijklmnopq');
    expect(verifyIpv4Checksum(f.eth.payload)).toBe(true);
    expect(verifyTcpChecksum(f.ip!.src, f.ip!.dst, f.ip!.payload)).toBe(true);
  });

  it('builds the same frame from a fragment list as from one payload buffer', () => {
    const whole = buildTcpFrame(dataSpec);
    const p = dataSpec.payload as Buffer;
    const frags = [p.subarray(0, 3), p.subarray(3, 4), p.subarray(4, 20), p.subarray(20)];
    expect(buildTcpFrame({ ...dataSpec, payload: frags }).equals(whole)).toBe(true);
  });

  it('builds VLAN-tagged TCP frames', () => {
    const f = parseFrame(buildTcpFrame({ ...dataSpec, vlan: 42 }));
    expect(f.eth.vlan).toBe(42);
    expect(f.eth.headerLen).toBe(18);
    expect(f.payload.toString()).toBe('0123456789abcdefghijklmnopq');
  });

  it('builds ARP requests to broadcast and replies to the asker', () => {
    const req = buildArpFrame({ operation: ARP_REQUEST, senderMac: HOST_MAC, senderIp: HOST_IP, targetIp: TGT_IP });
    expect(req.length).toBe(42);
    const r = parseFrame(req);
    expect(r.eth.dst.equals(MAC_BROADCAST)).toBe(true);
    expect(r.arp).toMatchObject({ operation: ARP_REQUEST, senderIp: HOST_IP, targetIp: TGT_IP });
    expect(r.arp!.targetMac.equals(MAC_ZERO)).toBe(true);
    expect(r.ip).toBeUndefined();
    expect(r.payload.length).toBe(0);

    const rep = parseFrame(
      buildArpFrame({ operation: ARP_REPLY, senderMac: TGT_MAC, senderIp: TGT_IP, targetMac: HOST_MAC, targetIp: HOST_IP, vlan: 7 }),
    );
    expect(rep.eth.dst.equals(HOST_MAC)).toBe(true);
    expect(rep.eth.src.equals(TGT_MAC)).toBe(true);
    expect(rep.eth.vlan).toBe(7);
    expect(rep.arp!.operation).toBe(ARP_REPLY);
    expect(codeOf(() => buildArpFrame({ operation: ARP_REPLY, senderMac: TGT_MAC, senderIp: TGT_IP, targetIp: HOST_IP }))).toBe('BAD_FIELD');
  });

  it('re-emits parsed frames byte for byte: TCP, SYN, VLAN, ARP, UDP, fragments, other EtherTypes', () => {
    const udp = buildEthernet(
      { dst: HOST_MAC, src: TGT_MAC, ethertype: ETHERTYPE_IPV4 },
      buildIpv4({ src: TGT_IP, dst: HOST_IP, protocol: IPPROTO_UDP, ttl: 1, id: 9 }, Buffer.from('udp bytes')),
    );
    const fragment = buildEthernet(
      { dst: HOST_MAC, src: TGT_MAC, ethertype: ETHERTYPE_IPV4, vlan: 3 },
      buildIpv4({ src: TGT_IP, dst: HOST_IP, protocol: 6, ttl: 9, id: 1, flags: IPV4_MF }, Buffer.alloc(24, 1)),
    );
    const frames = [
      buildTcpFrame(dataSpec),
      buildTcpFrame({ ...dataSpec, flags: TCP_SYN, payload: undefined, options: { mss: 1460, sackPermitted: true, tsVal: 1, tsEcr: 0, wscale: 7 } }),
      buildTcpFrame({ ...dataSpec, vlan: 4000, options: undefined, ttl: 1, tos: 2, ipFlags: 0 }),
      buildTcpFrame({ ...dataSpec, options: { sack: [{ left: 1, right: 2 }] }, payload: Buffer.alloc(1448, 0x33) }),
      buildArpFrame({ operation: ARP_REQUEST, senderMac: HOST_MAC, senderIp: HOST_IP, targetIp: TGT_IP }),
      udp,
      fragment,
      buildEthernet({ dst: MAC_BROADCAST, src: TGT_MAC, ethertype: 0x88cc }, Buffer.from('lldp-ish')),
    ];
    for (const frame of frames) {
      const parsed = parseFrame(frame);
      expect(buildFrame(parsed).equals(frame)).toBe(true);
    }
    expect(parseFrame(udp).payload.toString()).toBe('udp bytes');
    expect(parseFrame(fragment).tcp).toBeUndefined();
    expect(parseFrame(fragment).payload.length).toBe(24);
  });

  it('leaves Ethernet padding out of the payload', () => {
    const ack = buildTcpFrame({ ...dataSpec, payload: undefined, options: undefined });
    expect(ack.length).toBe(54);
    const padded = Buffer.concat([ack, Buffer.alloc(6)]); // a NIC pads to 60 bytes
    const f = parseFrame(padded);
    expect(f.payload.length).toBe(0);
    expect(f.ip!.payload.length).toBe(20);
    expect(verifyTcpChecksum(f.ip!.src, f.ip!.dst, f.ip!.payload)).toBe(true);
    expect(buildFrame(f).equals(ack)).toBe(true);
    const arp = Buffer.concat([buildArpFrame({ operation: ARP_REQUEST, senderMac: HOST_MAC, senderIp: HOST_IP, targetIp: TGT_IP }), Buffer.alloc(18)]);
    expect(parseFrame(arp).payload.length).toBe(0);
  });

  it('passes malformed inner headers up as WireError', () => {
    const frame = buildTcpFrame(dataSpec);
    const badIhl = Buffer.from(frame);
    badIhl[14] = 0x44;
    expect(codeOf(() => parseFrame(badIhl))).toBe('BAD_FIELD');
    const badDoff = Buffer.from(frame);
    badDoff[14 + 20 + 12] = 0x40;
    expect(codeOf(() => parseFrame(badDoff))).toBe('BAD_FIELD');
    const badArp = buildArpFrame({ operation: ARP_REQUEST, senderMac: HOST_MAC, senderIp: HOST_IP, targetIp: TGT_IP });
    badArp[14 + 7] = 9;
    expect(codeOf(() => parseFrame(badArp))).toBe('UNSUPPORTED');
  });

  it('reports every truncation of valid frames as TRUNCATED', () => {
    const frames = [
      buildTcpFrame(dataSpec),
      buildTcpFrame({ ...dataSpec, vlan: 1, flags: TCP_SYN, payload: undefined, options: { mss: 1460, sackPermitted: true, tsVal: 1, tsEcr: 0, wscale: 7 } }),
      buildArpFrame({ operation: ARP_REQUEST, senderMac: HOST_MAC, senderIp: HOST_IP, targetIp: TGT_IP, vlan: 2 }),
    ];
    for (const frame of frames) {
      for (let len = 0; len < frame.length; len++) {
        expect(codeOf(() => parseFrame(frame.subarray(0, len))), `len ${len} of ${frame.length}`).toBe('TRUNCATED');
      }
      expect(codeOf(() => parseFrame(frame))).toBeUndefined();
    }
  });

  it('never throws anything but WireError on random bytes or mutated frames', () => {
    const seed = 20240611;
    const rnd = prng(seed);
    const templates = [
      buildTcpFrame(dataSpec),
      buildTcpFrame({ ...dataSpec, vlan: 5, flags: TCP_SYN, options: { mss: 1460, sackPermitted: true, tsVal: 1, tsEcr: 0, wscale: 7 } }),
      buildArpFrame({ operation: ARP_REQUEST, senderMac: HOST_MAC, senderIp: HOST_IP, targetIp: TGT_IP }),
    ];
    const outcomes = new Map<string, number>();
    for (let n = 0; n < 30_000; n++) {
      let buf: Buffer;
      if (n % 3 === 0) {
        // Random bytes behind a plausible EtherType, so IPv4/ARP/VLAN parsing is reached.
        buf = Buffer.alloc(Math.floor(rnd() * 120));
        for (let i = 0; i < buf.length; i++) buf[i] = Math.floor(rnd() * 256);
        const types = [0x0800, 0x0806, 0x8100];
        if (buf.length >= 14) buf.writeUInt16BE(types[n % types.length]!, 12);
        if (buf.length >= 15 && rnd() < 0.5) buf[14] = 0x40 | (buf[14]! & 0x0f);
      } else {
        // A valid frame with a few bytes overwritten and maybe cut short.
        const t = templates[n % templates.length]!;
        buf = Buffer.from(t.subarray(0, rnd() < 0.3 ? Math.floor(rnd() * t.length) : t.length));
        const edits = 1 + Math.floor(rnd() * 4);
        for (let e = 0; e < edits && buf.length > 0; e++) buf[Math.floor(rnd() * buf.length)] = Math.floor(rnd() * 256);
      }
      let outcome = 'ok';
      try {
        const f = parseFrame(buf);
        if (f.ip !== undefined) verifyIpv4Checksum(f.eth.payload);
        if (f.tcp !== undefined) verifyTcpChecksum(f.ip!.src, f.ip!.dst, f.ip!.payload);
      } catch (e) {
        expect(e, `seed ${seed} case ${n}: ${buf.toString('hex')}`).toBeInstanceOf(WireError);
        outcome = (e as WireError).code;
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    // The generator must reach both successful parses and each kind of rejection.
    for (const kind of ['ok', 'TRUNCATED', 'BAD_FIELD', 'UNSUPPORTED']) expect(outcomes.get(kind) ?? 0, kind).toBeGreaterThan(100);
  });
});
