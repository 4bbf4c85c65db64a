/**
 * The receiving end of `ddplab stream`, in the host namespace: libpcap on
 * the interface, the NIC model, the userspace stack with its own address,
 * and one StreamReceiver (host/stream/receiver.ts) against the sender.
 */
import { readFileSync } from 'node:fs';
import { RealClock } from '../../host/net/clock.js';
import { HostStack } from '../../host/net/host-stack.js';
import { StreamReceiver, type StreamReceiveOptions, type StreamReceiveReport } from '../../host/stream/receiver.js';
import { NicEmu } from '../../nicemu/nic.js';
import { openLivePort } from '../../nicemu/port/live.js';
import { macToString, parseMac } from '../../wire/ethernet.js';
import { parseIpv4Addr } from '../../wire/ipv4.js';
import { requireInterface, requireLibpcap, requireNetRaw } from '../privileges.js';

export interface StreamReceiverRunOptions extends StreamReceiveOptions {
  readonly iface: string;
  readonly hostIp: string;
  readonly targetIp: string;
  readonly targetPort: number;
}

export type StreamReceiverRunReport = StreamReceiveReport & { readonly cpu: { readonly userMs: number; readonly systemMs: number }; readonly mtu: number };

export async function streamReceiverRun(o: StreamReceiverRunOptions): Promise<StreamReceiverRunReport> {
  requireNetRaw('ddplab stream');
  requireLibpcap();
  requireInterface(o.iface);
  const mac = parseMac(readFileSync(`/sys/class/net/${o.iface}/address`, 'utf8').trim());
  const mtu = Number(readFileSync(`/sys/class/net/${o.iface}/mtu`, 'utf8').trim());
  const cpu0 = process.cpuUsage();
  const port = openLivePort({ iface: o.iface, filter: `not ether src ${macToString(mac)}`, superFrames: false });
  const nic = new NicEmu(port, { mac, acceptPartialChecksums: true, mtu });
  const stack = new HostStack({ nic, clock: new RealClock(), ip: parseIpv4Addr(o.hostIp), mtu });
  try {
    const report = await new StreamReceiver(stack, o).run(parseIpv4Addr(o.targetIp), o.targetPort);
    const d = process.cpuUsage(cpu0);
    return { ...report, cpu: { userMs: d.user / 1000, systemMs: d.system / 1000 }, mtu };
  } finally {
    await stack.close();
    await port.close();
  }
}
