/**
 * Exhaustion on the live topology: a target that never answers,
 * at each step — nothing listening, SYNs dropped (the listener's accept
 * queue is full, so its kernel drops them as it does under a SYN flood),
 * TCP accepted but no ICResp, ICResp but no Connect response, a target
 * frozen (SIGSTOP) in the middle of I/O — and a flood of 1-byte in-window
 * out-of-order segments injected from the target namespace into a live
 * NVMe/TCP connection while reads run on it.
 *
 * `ddplab host` runs as a user runs it (inside the host namespace, one
 * error line on stderr, the JSON report on stdout); the flood runs the host
 * in this process over the live port, so the test can read the connection's
 * sequence numbers and counters directly. Nothing here asserts a duration:
 * the timeouts are what end the runs, and the checks are on what was said
 * and counted.
 */
import { execFileSync } from 'node:child_process';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealClock } from '../../src/host/net/clock.js';
import { injectInNamespace } from '../../src/lab/forge/raw-inject.js';
import { HostStack, type HostConnection } from '../../src/host/net/host-stack.js';
import type { TcpSocket } from '../../src/host/net/tcp-socket.js';
import type { TcpStats } from '../../src/host/net/tcp-stats.js';
import { NvmeController } from '../../src/host/nvme/controller.js';
import { NvmeDdpOffload } from '../../src/host/nvme/ddp.js';
import { OFO_PIECE_OVERHEAD_BYTES } from '../../src/host/net/tcp-rx-queue.js';
import type { HostRunReport } from '../../src/lab/host-run.js';
import { HOST_IP, TARGET_IP, netnsCommand, topologyDown, topologyUp, withTopology } from '../../src/lab/topology.js';
import { NvmeTcpDdpDevice } from '../../src/nicemu/ddp/offload.js';
import { NicEmu } from '../../src/nicemu/nic.js';
import { findPatternMismatch } from '../../src/wire/block-pattern.js';
import { macToString, parseMac } from '../../src/wire/ethernet.js';
import { IPPROTO_TCP, IPV4_DF, buildIpv4, parseIpv4Addr } from '../../src/wire/ipv4.js';
import { PduType, emitPduBuffer } from '../../src/wire/nvme-tcp-pdu.js';
import { seqAdd } from '../../src/wire/seq.js';
import { TCP_ACK, buildTcp } from '../../src/wire/tcp.js';
import { BIN, liveRunIds } from '../support/lab/live-run-rig.js';
import { RelayPort } from '../support/lab/relay-port.js';


const isRoot = process.getuid?.() === 0;
const TARGET = `${TARGET_IP}:4420`;

interface HostResult {
  readonly exitCode: number | undefined;
  /** Lines the CLI wrote for the user (prefixed "ddplab:"). */
  readonly errorLines: readonly string[];
  readonly report: HostRunReport | undefined;
}

/** Processes started in a namespace, killed after each test. */
const started: ResultPromise[] = [];

function inNamespace(id: string, side: 'tgt' | 'host', command: readonly string[]): ResultPromise {
  const cmd = netnsCommand(id, side, command);
  const p = execa(cmd.file, cmd.args, { stdin: 'ignore', reject: false, buffer: { stdout: true, stderr: true } });
  started.push(p);
  return p;
}

/** Resolves once the process prints a line starting with `prefix` on stdout. */
function printed(p: ResultPromise, prefix: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = '';
    p.stdout!.on('data', (d: Buffer) => {
      text += d.toString();
      if (text.split('\n').some((l) => l.startsWith(prefix))) resolve();
    });
    void p.then((r) => reject(new Error(`exited (${r.exitCode ?? r.signal}) before printing "${prefix}": ${String(r.stderr).slice(-300)}`)));
  });
}

async function killStarted(): Promise<void> {
  for (const p of started.splice(0)) {
    p.kill('SIGKILL');
    await p;
  }
}

async function ddplabHost(id: string, args: readonly string[]): Promise<HostResult> {
  const cmd = netnsCommand(id, 'host', [process.execPath, BIN, 'host', '--iface', 'host0', '--host-ip', HOST_IP, '--target', TARGET, '--quiet', ...args]);
  const r = await execa(cmd.file, cmd.args, { stdin: 'ignore', reject: false, timeout: 90_000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  return {
    exitCode: r.exitCode,
    errorLines: r.stderr.split('\n').filter((l) => l.startsWith('ddplab:')),
    report: line === undefined ? undefined : (JSON.parse(line) as HostRunReport),
  };
}

/** A listener in the target namespace running `script` (node -e); resolves once it listens. */
async function listener(id: string, script: string, ...args: string[]): Promise<void> {
  const p = inNamespace(id, 'tgt', [process.execPath, '-e', script, ...args]);
  await printed(p, 'listening');
}

/** What TCP dropped on one connection. */
interface ConnectionDrops {
  dupBytes: number;
  ofoMemDropBytes: number;
}

/**
 * The drops one connection adds to its stack's counters (HostStack.tcpStats
 * sums every connection, the admin queue's too): the deltas around each
 * segment its socket takes in, from the moment this is called.
 */
function connectionDrops(socket: TcpSocket, sum: TcpStats): ConnectionDrops {
  const own: ConnectionDrops = { dupBytes: 0, ofoMemDropBytes: 0 };
  const input = socket.input.bind(socket);
  socket.input = (skb, checksumOk) => {
    const dupBytes = sum.dupBytes;
    const ofoMemDropBytes = sum.ofoMemDropBytes;
    input(skb, checksumOk);
    own.dupBytes += sum.dupBytes - dupBytes;
    own.ofoMemDropBytes += sum.ofoMemDropBytes - ofoMemDropBytes;
  };
  return own;
}

const newId = liveRunIds('xh');

describe.skipIf(!isRoot)('a target that never answers', () => {
  const id = newId('n');
  beforeAll(async () => {
    await topologyUp({ id });
  }, 60_000);
  afterAll(async () => {
    await killStarted();
    await topologyDown(id);
  });

  it('nothing listens: the kernel refuses the SYN and the host says so in one line naming the address', async () => {
    const r = await ddplabHost(id, ['--connect-timeout', '2']);
    expect(r.exitCode).toBe(1);
    expect(r.errorLines).toEqual([`ddplab: queue 0: cannot open the connection: ${TARGET}: connection refused (RST in answer to SYN)`]);
    expect(r.report?.ok).toBe(false);
    expect(r.report?.tcp.rstsIn).toBe(1);
  });

  it('SYNs dropped (accept queue full): the host gives up after --connect-timeout, having retransmitted the SYN', async () => {
    // backlog 1: two connections fill the accept queue; then the event loop blocks, so nothing is
    // ever accepted and the kernel drops every further SYN (ListenOverflows).
    const script = [
      "const net = require('net'), fs = require('fs');",
      "const s = net.createServer();",
      "s.listen({ port: 4420, host: '192.0.2.1', backlog: 1 }, () => {",
      "  for (let i = 0; i < 3; i++) net.connect(4420, '192.0.2.1').on('error', () => {});",
      // Block before the event loop can accept: the kernel completes the handshakes meanwhile.
      "  process.nextTick(() => process.nextTick(() => {",
      "    const block = new Int32Array(new SharedArrayBuffer(4));",
      "    Atomics.wait(block, 0, 0, 300);",
      "    fs.writeSync(1, 'listening\\n');",
      "    Atomics.wait(block, 0, 0);",
      "  }));",
      '});',
    ].join('\n');
    await listener(id, script);
    const r = await ddplabHost(id, ['--connect-timeout', '2.5']);
    await killStarted();
    expect(r.exitCode).toBe(1);
    expect(r.errorLines).toEqual([`ddplab: target ${TARGET} did not answer the TCP SYN within 2500 ms (admin queue): no TCP segment from ${TARGET_IP} reached the NIC`]);
    expect(r.report!.tcp.synRetrans).toBeGreaterThanOrEqual(1);
    expect(r.report!.tcp.inSegs).toBe(0);
  });

  it('TCP accepted, no ICResp: the host gives up on the ICReq', async () => {
    await listener(id, "require('net').createServer(() => {}).listen(4420, '192.0.2.1', () => console.log('listening'))");
    const r = await ddplabHost(id, ['--connect-timeout', '2']);
    await killStarted();
    expect(r.exitCode).toBe(1);
    expect(r.errorLines).toEqual([`ddplab: target ${TARGET} did not answer the ICReq within 2 s (admin queue)`]);
    // The target's kernel took the ICReq (128 bytes); nothing came back.
    expect(r.report!.tcp.ackedBytes).toBe(128);
    expect(r.report!.tcp.inBytes).toBe(0);
  });

  it('ICResp, then silence: the host gives up on the Fabrics Connect', async () => {
    const icresp = emitPduBuffer({ type: PduType.ICResp, pfv: 0, cpda: 0, hdgstEnable: false, ddgstEnable: false, maxh2cdata: 0x40_0000 });
    await listener(
      id,
      "require('net').createServer((c) => c.once('data', () => c.write(Buffer.from(process.argv[1], 'hex')))).listen(4420, '192.0.2.1', () => console.log('listening'))",
      icresp.toString('hex'),
    );
    const r = await ddplabHost(id, ['--connect-timeout', '2']);
    await killStarted();
    expect(r.exitCode).toBe(1);
    expect(r.errorLines).toEqual([`ddplab: target ${TARGET} did not answer the Fabrics Connect within 2 s (admin queue)`]);
    // ICReq, then the Connect capsule (72 bytes + 1024 of in-capsule data) taken; only the ICResp came back.
    expect(r.report!.tcp.ackedBytes).toBe(128 + 72 + 1024);
    expect(r.report!.tcp.inBytes).toBe(128);
  });

  it('a target frozen mid-run: the I/O timeout fails the stuck reads in one line, the reads that completed verified, and the host exits', async () => {
    const target = inNamespace(id, 'tgt', [process.execPath, BIN, 'target', '--listen', TARGET, '--seed', '5', '--quiet']);
    await printed(target, 'listening on');
    const cmd = netnsCommand(id, 'host', [
      process.execPath, BIN, 'host', '--iface', 'host0', '--host-ip', HOST_IP, '--target', TARGET, '--quiet', '--progress-json',
      '--rw', 'read', '--bs', '64k', '--iodepth', '4', '--size', '64g', '--time', '80', '--seed', '5',
      '--io-timeout', '2', '--connect-timeout', '3',
    ]);
    const host = execa(cmd.file, cmd.args, { stdin: 'ignore', reject: false, timeout: 90_000 });
    started.push(host);
    // Reads are flowing once progress is reported; then the target's process stops (its kernel still ACKs).
    await new Promise<void>((resolve) => host.stderr!.on('data', (d: Buffer) => d.toString().includes('{"progress"') && resolve()));
    const pids = execFileSync('ip', ['netns', 'pids', `ddplab-${id}-tgt`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
    for (const pid of pids) process.kill(Number(pid), 'SIGSTOP');
    const r = await host;
    for (const pid of pids) process.kill(Number(pid), 'SIGCONT');
    await killStarted();

    expect(r.exitCode).toBe(1);
    const errorLines = r.stderr.split('\n').filter((l) => l.startsWith('ddplab:'));
    expect(errorLines).toHaveLength(1);
    expect(errorLines[0]).toMatch(/^ddplab: target 192\.0\.2\.1:4420 did not answer: queue 1 cid \d+: command timed out after 2000 ms \(I\/O timeout\)$/);
    const report = JSON.parse(r.stdout.split('\n').find((l) => l.startsWith('{'))!) as HostRunReport;
    expect(report.host.commandTimeouts).toBeGreaterThanOrEqual(1);
    const w = report.workload!;
    expect(w.stoppedBy).toBe('error');
    expect(w.io.readBytes).toBeGreaterThan(0);
    expect(w.verify.bytes).toBe(w.io.readBytes);
    expect(w.verify.mismatches).toBe(0);
  });
});

describe.skipIf(!isRoot)('a flood of 1-byte out-of-order segments into a live NVMe/TCP connection', () => {
  afterAll(killStarted);

  it('holds the host\'s out-of-order queue at its memory limit, counts the drops, keeps the DDP NIC off them, and reads on the connection verify', async () => {
    const id = newId('f');
    const FLOOD = 30_000;
    /** Where the flood starts past rcv_nxt: beyond the 1 MiB the reads bring, inside the 4 MiB window. */
    const AHEAD = 2 << 20;
    const RCVBUF = 4 << 20;
    const MAX_ENTRIES = Math.floor((2 * RCVBUF) / (1 + OFO_PIECE_OVERHEAD_BYTES));
    await withTopology({ id }, async (topo) => {
      const target = inNamespace(id, 'tgt', [process.execPath, BIN, 'target', '--listen', TARGET, '--seed', '9', '--quiet']);
      await printed(target, 'listening on');
      const mac = parseMac(topo.hostMac);
      // Our own transmissions come back through libpcap: the filter keeps them out, as hostRun's does.
      const port = await RelayPort.open(id, { iface: 'host0', filter: `not ether src ${macToString(mac)}` });
      const clock = new RealClock();
      const nic = new NicEmu(port, { mac });
      const stack = new HostStack({ nic, clock, ip: parseIpv4Addr(HOST_IP), rcvBufBytes: RCVBUF });
      // The gate's count is checked below: the NIC asks the host's TCP (nicTcpOracle, not hardware).
      const ddp = new NvmeDdpOffload(new NvmeTcpDdpDevice(nic, { caps: { 'nvme-tcp': true, 'nvme-tcp-ddgst-rx': true }, nicTcpOracle: true }));
      const conns = new Map<number, HostConnection>();
      let ioDrops: ConnectionDrops | undefined;
      let ctrl: NvmeController | undefined;
      try {
        ctrl = await NvmeController.connect({
          transports: async (qid) => {
            const c = await stack.connect(parseIpv4Addr(TARGET_IP), 4420);
            // Established, no data yet: every drop of the offloaded queue is tallied.
            if (qid === 1) ioDrops = connectionDrops(c.socket, stack.tcpStats);
            conns.set(qid, c);
            ddp.bindConnection(qid, c);
            return c.transport;
          },
          ddp: ddp.hooksFor,
          subnqn: 'nqn.2026-11.io.ddplab:target',
          ioQueues: 1,
          ddgst: true,
          // No keep-alive: this process runs the host stack, and a batch of the flood can hold its event loop
          // past KATO on a busy machine; the target then ends the association (seen: "connection closed by
          // the controller", the NIC counting the rest of the flood as rx_no_flow), which is not what this tests.
          katoMs: 0,
          clock,
        });
        expect(ddp.offloadQueues(ctrl.ioQueues)).toBe(1);
        const io = conns.get(1)!;
        const at = io.socket.info();
        expect(at.rcvWnd).toBeGreaterThan(AHEAD + 2 * FLOOD);

        // From the target's namespace, with the target's address: 1 byte every other sequence number.
        const packets: Buffer[] = [];
        for (let k = 0; k < FLOOD; k++) {
          const tcp = buildTcp(
            { srcPort: 4420, dstPort: io.key.localPort, seq: seqAdd(at.rcvNxt, AHEAD + 2 * k), ack: at.sndNxt, flags: TCP_ACK, window: 0xffff },
            parseIpv4Addr(TARGET_IP),
            parseIpv4Addr(HOST_IP),
            Buffer.from([0x46]),
          );
          packets.push(buildIpv4({ src: parseIpv4Addr(TARGET_IP), dst: parseIpv4Addr(HOST_IP), protocol: IPPROTO_TCP, ttl: 64, id: k & 0xffff, flags: IPV4_DF }, tcp));
        }
        // In batches that fit a command line; the host's capture keeps up between them.
        for (let k = 0; k < FLOOD; k += 5000) await injectInNamespace(id, 'tgt', packets.slice(k, k + 5000));

        // Wait until the host has seen the flood (or stopped seeing more of it: a capture drop is not ours to judge).
        const t = stack.tcpStats;
        const seen = (): number => t.ofoQueue + t.ofoMemDrops;
        for (let last = -1, still = 0; seen() < FLOOD && still < 20; ) {
          await new Promise((r) => setTimeout(r, 100));
          still = seen() === last ? still + 1 : 0;
          last = seen();
        }
        // The live port may drop some of a burst (rxQueueDrops, as a NIC out of descriptors): what matters is that the limit was reached.
        expect(seen(), `port ${JSON.stringify(port.stats)}`).toBeGreaterThan(MAX_ENTRIES);
        expect(io.socket.info().ofoEntries).toBe(MAX_ENTRIES);
        expect(t.ofoMemDrops).toBe(seen() - MAX_ENTRIES);
        expect(t.ofoMemDropBytes).toBe(t.ofoMemDrops);
        expect(t.ofoPeakTruesize).toBeLessThanOrEqual(2 * RCVBUF);
        const nicStats = ddp.device.getStats();
        // The gate kept the NIC off every byte TCP dropped on the offloaded connection: the flood's, and any
        // old duplicate (a tail-loss probe). Only that connection's: the admin queue is not offloaded, and
        // the target's kernel retransmits its responses when the host, busy with the flood, ACKs late.
        expect(nicStats['rx-nvme-tcp-tcp-refused-bytes']).toBe(ioDrops!.ofoMemDropBytes + ioDrops!.dupBytes);
        expect(ioDrops!.ofoMemDropBytes).toBe(t.ofoMemDropBytes);

        // Reads on the flooded connection: every byte the target's pattern.
        const reads = Array.from({ length: 16 }, async (_, k) => {
          const buf = Buffer.alloc(64 << 10);
          const slba = 1000 + 300 * k;
          const cqe = await ctrl!.read(0, slba, buf);
          return { status: cqe.status, mismatch: findPatternMismatch(9, slba * 512, buf) };
        });
        expect(await Promise.all(reads)).toEqual(Array.from({ length: 16 }, () => ({ status: 0, mismatch: -1 })));
        // Placement is the NIC's to lose, not correctness: every payload byte it did not place went by
        // counted as unsynced (today the flood costs the rest of this window: the NIC's bounded memory of
        // seen positions closes its lowest gap, the real data under the flood, and a header is only
        // searched for in bytes it has not seen).
        const after = ddp.device.getStats();
        if (after['rx-nvme-tcp-bytes'] < 16 * (64 << 10)) {
          expect(after['rx-nvme-tcp-lost-sync']).toBeGreaterThanOrEqual(1);
          expect(after['rx-nvme-tcp-unsynced-bytes']).toBeGreaterThanOrEqual(16 * (64 << 10) - after['rx-nvme-tcp-bytes']);
        }
        expect(io.socket.info().ofoEntries).toBe(MAX_ENTRIES);
        expect(t.ofoPeakEntries).toBe(MAX_ENTRIES);
        await ctrl.shutdown();
      } finally {
        ctrl?.abort();
        await stack.close();
        await port.close();
        await killStarted();
      }
    });
    // Counts are the checks, not time: on a busy 2-core machine the flood and the reads through this
    // process's host stack took over the default minute.
  }, 240_000);
});
