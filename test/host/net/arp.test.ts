import { describe, expect, it } from 'vitest';
import { Arp, ArpError } from '../../../src/host/net/arp.js';
import { VirtualClock } from '../../../src/host/net/clock.js';
import { ARP_REPLY, ARP_REQUEST } from '../../../src/wire/arp.js';
import { parseMac } from '../../../src/wire/ethernet.js';
import { parseFrame } from '../../../src/wire/frame.js';
import { parseIpv4Addr } from '../../../src/wire/ipv4.js';

const MAC = parseMac('02:00:00:00:00:02');
const PEER_MAC = parseMac('02:00:00:00:00:01');
const IP = parseIpv4Addr('192.0.2.2');
const PEER = parseIpv4Addr('192.0.2.1');

function make(): { arp: Arp; sent: Buffer[]; clock: VirtualClock } {
  const clock = new VirtualClock();
  const sent: Buffer[] = [];
  const arp = new Arp({ clock, mac: MAC, ip: IP, output: (f) => sent.push(f) });
  return { arp, sent, clock };
}

describe('host ARP', () => {
  it('answers a request for its address with its MAC, unicast to the asker', () => {
    const { arp, sent } = make();
    arp.input({ operation: ARP_REQUEST, senderMac: PEER_MAC, senderIp: PEER, targetMac: Buffer.alloc(6), targetIp: IP });
    expect(sent.length).toBe(1);
    const f = parseFrame(sent[0]!);
    expect(f.arp?.operation).toBe(ARP_REPLY);
    expect(f.arp?.senderMac.equals(MAC)).toBe(true);
    expect(f.arp?.targetIp).toBe(PEER);
    expect(f.eth.dst.equals(PEER_MAC)).toBe(true);
    // The asker is learned, as Linux learns the sender of a request for it.
    expect(arp.lookup(PEER)?.equals(PEER_MAC)).toBe(true);
  });

  it('ignores requests for other addresses', () => {
    const { arp, sent } = make();
    arp.input({ operation: ARP_REQUEST, senderMac: PEER_MAC, senderIp: PEER, targetMac: Buffer.alloc(6), targetIp: IP + 1 });
    expect(sent.length).toBe(0);
    expect(arp.lookup(PEER)).toBeUndefined();
  });

  it('resolves by broadcasting a request and resolving on the reply', async () => {
    const { arp, sent } = make();
    const p = arp.resolve(PEER);
    expect(sent.length).toBe(1);
    const req = parseFrame(sent[0]!);
    expect(req.eth.dst.equals(Buffer.alloc(6, 0xff))).toBe(true);
    expect(req.arp?.targetIp).toBe(PEER);
    arp.input({ operation: ARP_REPLY, senderMac: PEER_MAC, senderIp: PEER, targetMac: MAC, targetIp: IP });
    expect((await p).equals(PEER_MAC)).toBe(true);
  });

  it('retries, then fails with a clear error when nobody answers', async () => {
    const { arp, sent, clock } = make();
    const p = arp.resolve(PEER);
    const caught = p.catch((e: unknown) => e);
    clock.advance(1000);
    clock.advance(1000);
    clock.advance(1000);
    expect(sent.length).toBe(3);
    const e = await caught;
    expect(e).toBeInstanceOf(ArpError);
    expect((e as ArpError).message).toContain('192.0.2.1');
  });
});
