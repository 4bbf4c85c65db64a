/**
 * The live Port on host0 against the kernel of the target namespace: frames
 * a kernel socket sends arrive through the Port, and frames the Port sends
 * are acted on by that kernel (an ARP reply fills its neighbour table, a
 * SYN is answered with a SYN-ACK). Each test builds its own topology with
 * withTopology, which removes it however the test ends.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { netnsCommand, withTopology, type Topology } from '../../../src/lab/topology.js';
import { ARP_REPLY, ARP_REQUEST } from '../../../src/wire/arp.js';
import { parseMac } from '../../../src/wire/ethernet.js';
import { buildArpFrame, buildTcpFrame, parseFrame } from '../../../src/wire/frame.js';
import { IPPROTO_UDP, parseIpv4Addr, verifyIpv4Checksum } from '../../../src/wire/ipv4.js';
import { readPcapFileSync } from '../../../src/wire/pcap.js';
import { TCP_ACK, TCP_RST, TCP_SYN, verifyTcpChecksum } from '../../../src/wire/tcp.js';
import type { RxFrame } from '../../../src/nicemu/port/port.js';
import { RemoteLivePort } from '../../support/nicemu/remote-live-port.js';
import { runUnprivileged } from '../../support/unprivileged.js';

const isRoot = process.getuid?.() === 0;
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TARGET = parseIpv4Addr('192.0.2.1');
const HOST = parseIpv4Addr('192.0.2.2');

/** Runs a command inside a namespace of the topology and waits for it. */
async function inNs(topo: Topology, side: 'tgt' | 'host', argv: string[]): Promise<string> {
  const cmd = netnsCommand(topo.id, side, argv);
  return (await execa(cmd.file, cmd.args, { stdin: 'ignore' })).stdout;
}

/** A node UDP sender in the target namespace: `count` datagrams "<tag>-<i>" to 192.0.2.2:9999. */
function udpSender(tag: string, count: number): string[] {
  const code =
    `const s=require('dgram').createSocket('udp4');let i=0;` +
    `const next=()=>{if(i===${count}){s.close();return;}s.send('${tag}-'+(i++),9999,'192.0.2.2',next);};next();`;
  return [process.execPath, '-e', code];
}

/** UDP payload of an IPv4/UDP frame, or undefined. */
function udpPayload(f: RxFrame): string | undefined {
  try {
    const fr = parseFrame(f.data);
    if (fr.ip?.protocol !== IPPROTO_UDP) return undefined;
    return fr.payload.subarray(8).toString('latin1');
  } catch {
    return undefined;
  }
}

// Both backends keep the Port contract: the pcap package's binding (LivePort, the NIC in the host's
// thread) and ddplab's batch addon (BatchPcapPort, the NIC thread's).
describe.skipIf(!isRoot).each([{ backend: 'pcap' as const }, { backend: 'batch' as const }])('live Port on host0 ($backend)', ({ backend }) => {
  it('receives, in order and in batches, the frames a kernel UDP socket in the target namespace sends', async () => {
    await withTopology({}, async (topo) => {
      // A permanent neighbour entry, so this test is only about receive.
      await inNs(topo, 'tgt', ['ip', 'neigh', 'replace', '192.0.2.2', 'lladdr', topo.hostMac, 'dev', 'tgt0', 'nud', 'permanent']);
      const port = await RemoteLivePort.open(topo.id, { iface: 'host0', backend });
      try {
        const count = 200;
        const before = Date.now() * 1000;
        await inNs(topo, 'tgt', udpSender('rx', count));
        await port.waitFor((f) => udpPayload(f) === `rx-${count - 1}`, 'last datagram');
        const got = port.received.map(udpPayload).filter((p): p is string => p?.startsWith('rx-') === true);
        expect(got).toEqual(Array.from({ length: count }, (_, i) => `rx-${i}`));

        const frames = port.received.filter((f) => udpPayload(f)?.startsWith('rx-'));
        for (const f of frames) {
          const fr = parseFrame(f.data);
          expect(fr.eth.src.equals(parseMac(topo.tgtMac))).toBe(true);
          expect(fr.eth.dst.equals(parseMac(topo.hostMac))).toBe(true);
          expect(fr.ip!.src).toBe(TARGET);
          expect(fr.ip!.dst).toBe(HOST);
          expect(verifyIpv4Checksum(f.data.subarray(fr.eth.headerLen))).toBe(true);
        }
        // Kernel capture timestamps: not before the send started, never going backwards.
        for (let k = 1; k < frames.length; k++) expect(frames[k]!.tsUs).toBeGreaterThanOrEqual(frames[k - 1]!.tsUs);
        expect(frames[0]!.tsUs).toBeGreaterThanOrEqual(before - 1_000_000);
        expect(frames[frames.length - 1]!.tsUs).toBeLessThanOrEqual(Date.now() * 1000 + 1_000_000);

        expect(port.batchSizes.every((n) => n >= 1 && n <= 256)).toBe(true);
        const stats = await port.stats();
        expect(stats.rxFrames).toBe(port.received.length);
        expect(stats.rxBytes).toBe(port.received.reduce((n, f) => n + f.data.length, 0));
        expect(stats.rxKernelDrops).toBe(0);
        expect(stats.rxQueueDrops).toBe(0);
      } finally {
        port.kill();
      }
    });
  });

  it('sends an ARP reply the target kernel puts in its neighbour table, and then gets the queued datagram', async () => {
    await withTopology({}, async (topo) => {
      const port = await RemoteLivePort.open(topo.id, { iface: 'host0', backend });
      try {
        // No neighbour entry: the kernel asks who has 192.0.2.2 and holds the datagram.
        await inNs(topo, 'tgt', udpSender('arp', 1));
        const request = await port.waitFor((f) => {
          const arp = parseFrame(f.data).arp;
          return arp !== undefined && arp.operation === ARP_REQUEST && arp.targetIp === HOST;
        }, 'ARP request for 192.0.2.2');
        expect(parseFrame(request.data).arp!.senderIp).toBe(TARGET);

        const before = JSON.parse(await inNs(topo, 'tgt', ['ip', '-j', 'neigh', 'show', '192.0.2.2', 'dev', 'tgt0'])) as {
          state: string[];
        }[];
        expect(before.length === 0 || before[0]!.state.includes('INCOMPLETE')).toBe(true);

        port.send(
          buildArpFrame({
            operation: ARP_REPLY,
            senderMac: parseMac(topo.hostMac),
            senderIp: HOST,
            targetMac: parseMac(topo.tgtMac),
            targetIp: TARGET,
          }),
        );

        // The kernel releases the datagram it held, addressed to our MAC.
        const datagram = await port.waitFor((f) => udpPayload(f) === 'arp-0', 'datagram released after the ARP reply');
        expect(parseFrame(datagram.data).eth.dst.equals(parseMac(topo.hostMac))).toBe(true);

        const neigh = JSON.parse(await inNs(topo, 'tgt', ['ip', '-j', 'neigh', 'show', '192.0.2.2', 'dev', 'tgt0'])) as {
          lladdr?: string;
          state: string[];
        }[];
        expect(neigh).toHaveLength(1);
        expect(neigh[0]!.lladdr).toBe(topo.hostMac);
        expect(neigh[0]!.state.some((s) => ['REACHABLE', 'STALE', 'DELAY', 'PROBE'].includes(s))).toBe(true);
      } finally {
        port.kill();
      }
    });
  });

  it('sends a TCP SYN that a kernel listener answers with a SYN-ACK carrying a full checksum; never receives its own frames', async () => {
    await withTopology({}, async (topo) => {
      const listenerCmd = netnsCommand(topo.id, 'tgt', [
        process.execPath,
        '-e',
        "require('net').createServer(()=>{}).listen(5001,'192.0.2.1',()=>console.log('listening'))",
      ]);
      const listener = execa(listenerCmd.file, listenerCmd.args, { stdin: 'ignore', reject: false });
      const listening = new Promise<void>((resolve) => listener.stdout!.once('data', () => resolve()));
      const port = await RemoteLivePort.open(topo.id, { iface: 'host0', backend });
      try {
        await listening;
        const hostMac = parseMac(topo.hostMac);
        const tgtMac = parseMac(topo.tgtMac);
        port.answerArp(HOST, hostMac);
        const isn = 0x12345678;
        const syn = {
          srcMac: hostMac,
          dstMac: tgtMac,
          srcIp: HOST,
          dstIp: TARGET,
          srcPort: 40000,
          dstPort: 5001,
          window: 64240,
        };
        port.send(buildTcpFrame({ ...syn, seq: isn, ack: 0, flags: TCP_SYN, options: { mss: 1460 } }));

        const synAck = await port.waitFor((f) => {
          const tcp = parseFrame(f.data).tcp;
          return tcp !== undefined && tcp.dstPort === 40000 && (tcp.flags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK);
        }, 'SYN-ACK');
        const fr = parseFrame(synAck.data);
        expect(fr.tcp!.srcPort).toBe(5001);
        expect(fr.tcp!.ack).toBe(isn + 1);
        expect(fr.tcp!.options.mss).toBeGreaterThan(0);
        // tgt0 has tx checksum offload off: the checksum is complete on the wire.
        expect(verifyTcpChecksum(fr.ip!.src, fr.ip!.dst, fr.ip!.payload)).toBe(true);
        expect(port.arpRepliesSent).toBeGreaterThanOrEqual(1);

        port.send(buildTcpFrame({ ...syn, seq: isn + 1, ack: 0, flags: TCP_RST }));
        const stats = await port.stats();
        expect(stats.txFrames).toBe(2 + port.arpRepliesSent);
        expect(stats.txErrors).toBe(0);
        // The kernel does not loop a packet socket's transmissions back to it.
        expect(port.received.some((f) => parseFrame(f.data).eth.src.equals(hostMac))).toBe(false);
      } finally {
        port.kill();
        listener.kill('SIGKILL');
        await listener;
      }
    });
  });

  it('with a capture tap, writes what it received and what it sent to a pcap file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ddplab-live-capture-'));
    try {
      await withTopology({}, async (topo) => {
        await inNs(topo, 'tgt', ['ip', 'neigh', 'replace', '192.0.2.2', 'lladdr', topo.hostMac, 'dev', 'tgt0', 'nud', 'permanent']);
        const capturePath = join(dir, 'host0.pcap');
        const port = await RemoteLivePort.open(topo.id, { iface: 'host0', capturePath, backend });
        try {
          await inNs(topo, 'tgt', udpSender('cap', 3));
          await port.waitFor((f) => udpPayload(f) === 'cap-2', 'last datagram');
          // Ask the target kernel for its MAC: its ARP reply comes back through the tap too.
          const request = buildArpFrame({ operation: ARP_REQUEST, senderMac: parseMac(topo.hostMac), senderIp: HOST, targetIp: TARGET });
          port.send(request);
          const reply = await port.waitFor((f) => parseFrame(f.data).arp?.operation === ARP_REPLY, 'ARP reply from the target');
          expect(parseFrame(reply.data).arp!.senderMac.equals(parseMac(topo.tgtMac))).toBe(true);
          const closed = await port.close();
          expect(closed.released).toBe(true);

          const { records } = readPcapFileSync(capturePath);
          const payloads = records.map((r) => udpPayload({ data: r.data, tsUs: 0 })).filter((p) => p !== undefined);
          expect(payloads).toEqual(['cap-0', 'cap-1', 'cap-2']);
          expect(records.some((r) => r.data.equals(request))).toBe(true);
          expect(records.some((r) => r.data.equals(reply.data))).toBe(true);
          // Received frames keep their kernel timestamps.
          const rec = records.find((r) => r.data.equals(reply.data))!;
          expect(rec.tsSec * 1_000_000 + rec.tsNsec / 1000).toBe(reply.tsUs);
        } finally {
          port.kill();
        }
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('counts a frame larger than the MTU as a tx error instead of throwing', async () => {
    await withTopology({}, async (topo) => {
      const port = await RemoteLivePort.open(topo.id, { iface: 'host0', backend });
      try {
        const jumbo = Buffer.alloc(14 + 9000);
        parseMac(topo.tgtMac).copy(jumbo, 0);
        parseMac(topo.hostMac).copy(jumbo, 6);
        jumbo.writeUInt16BE(0x88b6, 12);
        port.send(jumbo);
        const stats = await port.stats();
        expect(stats.txErrors).toBe(1);
        expect(stats.txFrames).toBe(0);
      } finally {
        port.kill();
      }
    });
  });

  it('close() releases the libpcap handle: the port process then exits by itself', async () => {
    await withTopology({}, async (topo) => {
      const port = await RemoteLivePort.open(topo.id, { iface: 'host0', backend });
      try {
        const closed = await port.close();
        expect(closed.released).toBe(true);
        expect(await port.exited).toEqual({ code: 0, signal: null });
      } finally {
        port.kill();
      }
    });
  });

  it('when the interface vanishes under it, close() still lets the process exit (the pcap binding gives up on releasing its handle)', async () => {
    await withTopology({}, async (topo) => {
      const port = await RemoteLivePort.open(topo.id, { iface: 'host0', backend });
      try {
        await inNs(topo, 'tgt', ['ip', 'link', 'del', 'tgt0']); // takes host0 with it
        const closed = await port.close();
        // The batch addon closes its handle itself; the pcap binding waits for a frame that cannot come.
        expect(closed.released).toBe(backend === 'batch');
        expect(await port.exited).toEqual({ code: 0, signal: null });
      } finally {
        port.kill();
      }
    });
  });

  it('names a missing interface', async () => {
    await withTopology({}, async (topo) => {
      await expect(RemoteLivePort.open(topo.id, { iface: 'nosuch0', backend })).rejects.toMatchObject({
        code: 'IFACE_MISSING',
        message: 'no interface nosuch0 in this network namespace',
      });
    });
  });

  it('tells a non-root user to run as root', () => {
    const open = backend === 'batch' ? "import('./src/nicemu/port/pcap-batch.ts').then((m)=>m.openBatchPcapPort" : "import('./src/nicemu/port/live.ts').then((m)=>m.openLivePort";
    const code = `${open}).then((openPort)=>{try{openPort({iface:'lo'});console.log('opened')}catch(e){console.log(e.code+': '+e.message)}})`;
    const r = runUnprivileged({ checkout: REPO_ROOT, argv: () => [process.execPath, '--import', 'tsx', '-e', code] });
    expect(r.stdout.trim()).toBe('PERMISSION: capturing on lo needs root (CAP_NET_RAW): run as root, e.g. with sudo');
  });
});
