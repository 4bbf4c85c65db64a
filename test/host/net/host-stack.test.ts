/**
 * The host stack's choice of next hop (src/host/net/host-stack.ts): ARP goes
 * out for the peer on our subnet, for the gateway otherwise, and an
 * off-subnet peer without a gateway fails before anything is sent.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/host/net/clock.js';
import { HostStack, HostStackError, prefixMask, sameSubnet } from '../../../src/host/net/host-stack.js';
import { NicEmu } from '../../../src/nicemu/nic.js';
import type { Port, PortStats, RxConsumer } from '../../../src/nicemu/port/port.js';
import { ARP_REQUEST } from '../../../src/wire/arp.js';
import { parseMac } from '../../../src/wire/ethernet.js';
import { parseFrame } from '../../../src/wire/frame.js';
import { ipToString, parseIpv4Addr } from '../../../src/wire/ipv4.js';

/** Records what the NIC sends; nothing ever arrives. */
class SinkPort implements Port {
  readonly sent: Buffer[] = [];
  readonly stats: PortStats = { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, rxKernelDrops: 0, rxQueueDrops: 0, txErrors: 0 };
  send(frame: Buffer): void {
    this.sent.push(frame);
  }
  onFrames(_consumer: RxConsumer): void {}
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const ip = parseIpv4Addr;

function stack(cfg: { prefixLen?: number; gateway?: string }): { stack: HostStack; port: SinkPort } {
  const port = new SinkPort();
  const nic = new NicEmu(port, { mac: parseMac('02:00:00:00:00:02') });
  return {
    stack: new HostStack({
      nic,
      clock: new VirtualClock(),
      ip: ip('192.0.2.2'),
      ...(cfg.prefixLen !== undefined ? { prefixLen: cfg.prefixLen } : {}),
      ...(cfg.gateway !== undefined ? { gateway: ip(cfg.gateway) } : {}),
    }),
    port,
  };
}

/** The address the first ARP request the stack sent asks for. */
async function arpTargetOfConnect(s: HostStack, port: SinkPort, to: string): Promise<string> {
  const pending = s.connect(ip(to), 4420);
  pending.catch(() => undefined);
  await Promise.resolve();
  await s.close(0);
  const arp = parseFrame(port.sent[0]!).arp;
  expect(arp?.operation).toBe(ARP_REQUEST);
  return ipToString(arp!.targetIp);
}

describe('host stack next hop', () => {
  it('computes masks and subnets for every prefix length', () => {
    expect(prefixMask(0)).toBe(0);
    expect(prefixMask(24)).toBe(0xffffff00);
    expect(prefixMask(32)).toBe(0xffffffff);
    expect(sameSubnet(ip('192.0.2.1'), ip('192.0.2.254'), 24)).toBe(true);
    expect(sameSubnet(ip('192.0.2.1'), ip('192.0.3.1'), 24)).toBe(false);
    expect(sameSubnet(ip('192.0.2.1'), ip('192.0.3.1'), 22)).toBe(true);
    expect(sameSubnet(ip('10.0.0.1'), ip('198.51.100.1'), 0)).toBe(true);
  });

  it('ARPs for a peer on the subnet', async () => {
    const { stack: s, port } = stack({ prefixLen: 24, gateway: '192.0.2.254' });
    expect(await arpTargetOfConnect(s, port, '192.0.2.1')).toBe('192.0.2.1');
  });

  it('ARPs for the gateway when the peer is off the subnet', async () => {
    const { stack: s, port } = stack({ prefixLen: 24, gateway: '192.0.2.254' });
    expect(s.nextHop(ip('198.51.100.7'))).toBe(ip('192.0.2.254'));
    expect(await arpTargetOfConnect(s, port, '198.51.100.7')).toBe('192.0.2.254');
  });

  it('takes every peer to be on the link when no prefix is given (ddplab host, the topology)', () => {
    const { stack: s } = stack({});
    expect(s.nextHop(ip('198.51.100.7'))).toBe(ip('198.51.100.7'));
  });

  it('refuses an off-subnet peer without a gateway, sending nothing', async () => {
    const { stack: s, port } = stack({ prefixLen: 24 });
    expect(() => s.nextHop(ip('198.51.100.7'))).toThrow(HostStackError);
    await expect(s.connect(ip('198.51.100.7'), 4420)).rejects.toThrow('no route to 198.51.100.7: not in 192.0.2.0/24 and no gateway');
    expect(port.sent).toEqual([]);
  });
});
