/**
 * Raw IPv4 injection from inside a namespace: a SYN crafted byte by byte
 * and sent through raw-inject-cli.ts in the target namespace (source
 * 192.0.2.2, as if from the host) reaches the target kernel's listener,
 * which answers with a SYN-ACK seen on host0 through the live Port.
 */
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { injectInNamespace, openRawIpInjector, RawInjectError } from '../../../src/lab/forge/raw-inject.js';
import { netnsCommand, withTopology } from '../../../src/lab/topology.js';
import { parseMac } from '../../../src/wire/ethernet.js';
import { parseFrame } from '../../../src/wire/frame.js';
import { buildIpv4, IPPROTO_TCP, IPV4_DF, parseIpv4Addr } from '../../../src/wire/ipv4.js';
import { buildTcp, TCP_ACK, TCP_SYN, verifyTcpChecksum } from '../../../src/wire/tcp.js';
import { RemoteLivePort } from '../../support/nicemu/remote-live-port.js';

const isRoot = process.getuid?.() === 0;
const TARGET = parseIpv4Addr('192.0.2.1');
const HOST = parseIpv4Addr('192.0.2.2');

describe.skipIf(!isRoot)('raw IPv4 injection', () => {
  it('injects a crafted SYN in the target namespace; the kernel answers it with a SYN-ACK on the wire', async () => {
    await withTopology({}, async (topo) => {
      const listenerCmd = netnsCommand(topo.id, 'tgt', [
        process.execPath,
        '-e',
        "require('net').createServer(()=>{}).listen(5002,'192.0.2.1',()=>console.log('listening'))",
      ]);
      const listener = execa(listenerCmd.file, listenerCmd.args, { stdin: 'ignore', reject: false });
      const listening = new Promise<void>((resolve) => listener.stdout!.once('data', () => resolve()));
      const port = await RemoteLivePort.open(topo.id);
      try {
        await listening;
        port.answerArp(HOST, parseMac(topo.hostMac));
        const isn = 0x0badf00d;
        const tcp = buildTcp(
          { srcPort: 41000, dstPort: 5002, seq: isn, ack: 0, flags: TCP_SYN, window: 29200, options: { mss: 1400 } },
          HOST,
          TARGET,
        );
        const packet = buildIpv4({ src: HOST, dst: TARGET, protocol: IPPROTO_TCP, ttl: 64, id: 7, flags: IPV4_DF }, tcp);
        await injectInNamespace(topo.id, 'tgt', [packet]);

        const synAck = await port.waitFor((f) => {
          const t = parseFrame(f.data).tcp;
          return t !== undefined && t.dstPort === 41000 && (t.flags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK);
        }, 'SYN-ACK to the injected SYN');
        const fr = parseFrame(synAck.data);
        expect(fr.ip!.src).toBe(TARGET);
        expect(fr.ip!.dst).toBe(HOST);
        expect(fr.tcp!.srcPort).toBe(5002);
        expect(fr.tcp!.ack).toBe(isn + 1);
        // The kernel took the MSS we offered into account (it never sends a larger one back than it can receive).
        expect(fr.tcp!.options.mss).toBeGreaterThan(0);
        expect(verifyTcpChecksum(fr.ip!.src, fr.ip!.dst, fr.ip!.payload)).toBe(true);
      } finally {
        port.kill();
        listener.kill('SIGKILL');
        await listener;
      }
    });
  });

  it('refuses what is not an IPv4 packet, and a send to nowhere fails with a reason', async () => {
    const injector = openRawIpInjector();
    try {
      await expect(injector.send(Buffer.from('6000000000000000', 'hex'))).rejects.toMatchObject({ code: 'BAD_PACKET' });
      await expect(injector.send(Buffer.alloc(10))).rejects.toBeInstanceOf(RawInjectError);
    } finally {
      injector.close();
    }
    await expect(injector.send(buildIpv4({ src: HOST, dst: TARGET, protocol: IPPROTO_TCP, ttl: 64, id: 1 }, Buffer.alloc(20)))).rejects.toMatchObject({
      code: 'CLOSED',
    });
  });

  it('reports the child failure in one line when the namespace does not exist', async () => {
    await expect(injectInNamespace('nosuchns', 'tgt', [Buffer.from('45', 'hex')])).rejects.toMatchObject({
      code: 'SEND_FAILED',
      message: 'injecting in ddplab-nosuchns-tgt failed: ddplab-netns: namespace ddplab-nosuchns-tgt does not exist (run: ddplab up --id nosuchns)',
    });
  });
});
