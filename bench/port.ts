/**
 * Soak benchmark of the live Port (npm run bench:port): floods host0 with
 * 1,000,000 frames of 1500-byte IP packets (1514-byte Ethernet frames) sent
 * by a kernel UDP socket in the target namespace, and reports what the Port
 * received, where the rest was lost, the receiver's peak RSS, and how late
 * its timers ran during the flood. It prints figures and asserts nothing
 * about time; it exits non-zero only if the receiver crashes.
 *
 *   npm run bench:port -- [--frames N] [--ip-bytes 1500] [--buffer-mib 32] [--ring-frames 4096] [--consumer-us 0] [--no-pin]
 *
 * --consumer-us makes the consumer spend that long per frame: a host stack
 * slower than the wire, to see drops counted and memory and timers bounded.
 *
 * One file, three roles: the orchestrator (root namespace) builds the
 * topology with withTopology and runs the other two through netns/exec.sh —
 * the receiver (host namespace: LivePort on host0) and the sender (target
 * namespace: node dgram on a connected socket, in bursts). With two or more
 * CPUs the sender is pinned to CPU 1 and the receiver to CPU 0; the kernel's
 * veth and packet-capture work runs in the sender's softirq context.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { cpus } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { netnsCommand, withTopology, type Topology } from '../src/lab/topology.js';
import { openLivePort } from '../src/nicemu/port/live.js';
import type { PortStats } from '../src/nicemu/port/port.js';

const SELF = fileURLToPath(import.meta.url);
const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
const UDP_PORT = 9999;
// Ethernet 14 + IPv4 20 + UDP 8 before the payload; the payload starts with a u32 sequence number.
const PAYLOAD_OFFSET = 42;
const ETHERTYPE_IPV4 = 0x0800;
/** The live port's default capture ring (LivePortOptions.bufferBytes), MiB. */
const DEFAULT_BUFFER_MIB = 32;
/** The live port's default rx ring (LivePortOptions.rxRingFrames). */
const DEFAULT_RING_FRAMES = 4096;
/** Timer period the receiver asks for while it measures lateness. */
const TIMER_PERIOD_MS = 5;

interface SenderReport {
  sent: number;
  elapsedMs: number;
}

interface ReceiverReport {
  frames: number;
  bytes: number;
  outOfOrder: number;
  firstTsUs: number;
  lastTsUs: number;
  batches: number;
  maxBatch: number;
  stats: PortStats;
  released: boolean;
  peakRssMiB: number;
  timerLateMaxMs: number;
  timerLateP99Ms: number;
  timerTicks: number;
  loopDelayMaxMs: number;
  loopDelayP99Ms: number;
}

type ReceiverMessage = { type: 'ready' } | { type: 'progress'; frames: number } | { type: 'report'; report: ReceiverReport };

// ---------------------------------------------------------------- sender

async function runSender(frames: number, ipBytes: number): Promise<void> {
  const payloadLen = ipBytes - 28;
  const socket = createSocket({ type: 'udp4', sendBufferSize: 4 << 20 });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.connect(UDP_PORT, '192.0.2.2', () => resolve());
  });
  // A ring of buffers: a datagram's bytes must stay untouched until its send completes.
  const BURST = 256;
  const bufs = Array.from({ length: BURST * 2 }, () => Buffer.alloc(payloadLen, 0x5a));
  const t0 = performance.now();
  let seq = 0;
  while (seq < frames) {
    const n = Math.min(BURST, frames - seq);
    let last: Promise<void> = Promise.resolve();
    for (let k = 0; k < n; k++) {
      const buf = bufs[seq % bufs.length]!;
      buf.writeUInt32BE(seq, 0);
      seq++;
      if (k === n - 1) {
        last = new Promise<void>((resolve, reject) => socket.send(buf, (err) => (err ? reject(err) : resolve())));
      } else {
        socket.send(buf);
      }
    }
    await last;
  }
  const elapsedMs = performance.now() - t0;
  socket.close();
  const report: SenderReport = { sent: seq, elapsedMs };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

// ---------------------------------------------------------------- receiver

function runReceiver(bufferBytes: number, consumerUs: number, rxRingFrames: number): void {
  const port = openLivePort({ iface: 'host0', bufferBytes, rxRingFrames });
  let frames = 0;
  let bytes = 0;
  let outOfOrder = 0;
  let nextSeq = 0;
  let firstTsUs = 0;
  let lastTsUs = 0;
  let batches = 0;
  let maxBatch = 0;
  port.onFrames((batch) => {
    if (consumerUs > 0) {
      // A host stack slower than the wire: busy for consumerUs per frame.
      const until = performance.now() + (consumerUs * batch.length) / 1000;
      while (performance.now() < until);
    }
    batches++;
    if (batch.length > maxBatch) maxBatch = batch.length;
    for (let k = 0; k < batch.length; k++) {
      const f = batch[k]!;
      const d = f.data;
      // Only the flood's datagrams: IPv4, UDP to our port.
      if (d.length < PAYLOAD_OFFSET + 4 || d.readUInt16BE(12) !== ETHERTYPE_IPV4 || d[23] !== 17 || d.readUInt16BE(36) !== UDP_PORT) {
        continue;
      }
      const seq = d.readUInt32BE(PAYLOAD_OFFSET);
      if (seq < nextSeq) outOfOrder++;
      nextSeq = seq + 1;
      if (frames === 0) firstTsUs = f.tsUs;
      lastTsUs = f.tsUs;
      frames++;
      bytes += d.length;
    }
  });

  // Timer lateness: a chain of TIMER_PERIOD_MS timeouts, measured only while frames flow.
  const late: number[] = [];
  let expected = performance.now() + TIMER_PERIOD_MS;
  let lastCount = 0;
  let timer: NodeJS.Timeout | null = null;
  const tick = (): void => {
    const now = performance.now();
    if (frames !== lastCount) late.push(now - expected);
    lastCount = frames;
    expected = now + TIMER_PERIOD_MS;
    timer = setTimeout(tick, TIMER_PERIOD_MS);
  };
  timer = setTimeout(tick, TIMER_PERIOD_MS);
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  let loopArmed = false;

  const progress = setInterval(() => {
    if (!loopArmed && frames > 0) {
      loopDelay.enable();
      loopArmed = true;
    }
    process.send!({ type: 'progress', frames } satisfies ReceiverMessage);
  }, 100);

  process.on('message', (msg: unknown) => {
    if ((msg as { type?: string }).type !== 'stop') return;
    clearInterval(progress);
    if (timer !== null) clearTimeout(timer);
    loopDelay.disable();
    const stats = port.stats;
    void port.close().then(() => {
      late.sort((a, b) => a - b);
      const report: ReceiverReport = {
        frames,
        bytes,
        outOfOrder,
        firstTsUs,
        lastTsUs,
        batches,
        maxBatch,
        stats,
        released: port.released,
        peakRssMiB: process.resourceUsage().maxRSS / 1024,
        timerLateMaxMs: late.length ? late[late.length - 1]! : 0,
        timerLateP99Ms: late.length ? late[Math.min(late.length - 1, Math.floor(late.length * 0.99))]! : 0,
        timerTicks: late.length,
        loopDelayMaxMs: loopArmed ? loopDelay.max / 1e6 : 0,
        loopDelayP99Ms: loopArmed ? loopDelay.percentile(99) / 1e6 : 0,
      };
      process.send!({ type: 'report', report } satisfies ReceiverMessage, () => process.disconnect());
    });
  });
  process.send!({ type: 'ready' } satisfies ReceiverMessage);
}

// ---------------------------------------------------------------- orchestrator

interface LinkCounters {
  rxPackets: number;
  rxDropped: number;
  txPackets: number;
  txDropped: number;
}

async function linkCounters(topo: Topology, side: 'tgt' | 'host'): Promise<LinkCounters> {
  const cmd = netnsCommand(topo.id, side, ['ip', '-s', '-j', 'link', 'show', side === 'tgt' ? topo.tgtIf : topo.hostIf]);
  const [link] = JSON.parse((await execa(cmd.file, cmd.args)).stdout) as {
    stats64: { rx: { packets: number; dropped: number }; tx: { packets: number; dropped: number } };
  }[];
  const s = link!.stats64;
  return { rxPackets: s.rx.packets, rxDropped: s.rx.dropped, txPackets: s.tx.packets, txDropped: s.tx.dropped };
}

function delta(a: LinkCounters, b: LinkCounters): LinkCounters {
  return {
    rxPackets: b.rxPackets - a.rxPackets,
    rxDropped: b.rxDropped - a.rxDropped,
    txPackets: b.txPackets - a.txPackets,
    txDropped: b.txDropped - a.txDropped,
  };
}

function pinned(cpu: number, argv: string[], pin: boolean): string[] {
  return pin ? ['taskset', '-c', String(cpu), ...argv] : argv;
}

async function orchestrate(frames: number, ipBytes: number, bufferMiB: number, consumerUs: number, ringFrames: number, pin: boolean): Promise<number> {
  return withTopology({}, async (topo) => {
    // The flood must not wait on ARP: a permanent neighbour entry for 192.0.2.2.
    const neigh = netnsCommand(topo.id, 'tgt', ['ip', 'neigh', 'replace', '192.0.2.2', 'lladdr', topo.hostMac, 'dev', topo.tgtIf, 'nud', 'permanent']);
    await execa(neigh.file, neigh.args);

    const rxCmd = netnsCommand(topo.id, 'host', pinned(0, [process.execPath, '--import', 'tsx', SELF, '--receiver', String(bufferMiB << 20), String(consumerUs), String(ringFrames)], pin));
    const receiver: ChildProcess = spawn(rxCmd.file, rxCmd.args, { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let received = 0;
    let report: ReceiverReport | null = null;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      receiver.once('exit', (code, signal) => resolve({ code, signal })),
    );
    const ready = new Promise<void>((resolve) => {
      receiver.on('message', (raw: unknown) => {
        const msg = raw as ReceiverMessage;
        if (msg.type === 'ready') resolve();
        else if (msg.type === 'progress') received = msg.frames;
        else report = msg.report;
      });
    });
    await Promise.race([ready, exited.then((e) => Promise.reject(new Error(`receiver died before it was ready (${e.code ?? e.signal})`)))]);

    const tgtBefore = await linkCounters(topo, 'tgt');
    const hostBefore = await linkCounters(topo, 'host');
    const txCmd = netnsCommand(topo.id, 'tgt', pinned(cpus().length > 1 ? 1 : 0, [process.execPath, '--import', 'tsx', SELF, '--sender', String(frames), String(ipBytes)], pin));
    process.stdout.write(
      `bench:port  flooding ${frames} frames of ${ipBytes + 14} bytes (IP ${ipBytes}) from ${topo.tgtNs} to host0` +
        `${consumerUs > 0 ? `, consumer busy ${consumerUs} µs/frame` : ''} ...\n`,
    );
    const sender = JSON.parse((await execa(txCmd.file, txCmd.args, { cwd: REPO_ROOT })).stdout) as SenderReport;

    // Let the receiver drain: stop once its count holds still for half a second.
    let last = -1;
    for (let quiet = 0; quiet < 5 && received < sender.sent; ) {
      await new Promise((r) => setTimeout(r, 100));
      quiet = received === last ? quiet + 1 : 0;
      last = received;
    }
    const tgtAfter = await linkCounters(topo, 'tgt');
    const hostAfter = await linkCounters(topo, 'host');
    receiver.send({ type: 'stop' });
    const end = await exited;
    if (report === null) {
      process.stdout.write(`bench:port  RECEIVER CRASHED (${end.code ?? end.signal}) after ${received} frames\n`);
      return 1;
    }
    const r: ReceiverReport = report;
    const tgt = delta(tgtBefore, tgtAfter);
    const host = delta(hostBefore, hostAfter);
    const spanS = (r.lastTsUs - r.firstTsUs) / 1e6;
    const lost = sender.sent - r.frames;
    const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
    const lines = [
      `sender      ${fmt(sender.sent)} datagrams in ${(sender.elapsedMs / 1000).toFixed(2)} s = ${fmt(sender.sent / (sender.elapsedMs / 1000))} frames/s (node dgram, tgt ns${pin ? ', CPU 1' : ''})`,
      `tgt0        tx ${fmt(tgt.txPackets)} frames, tx dropped ${fmt(tgt.txDropped)}`,
      `host0       rx ${fmt(host.rxPackets)} frames, rx dropped ${fmt(host.rxDropped)}`,
      `port        received ${fmt(r.frames)} flood frames (${(r.bytes / 2 ** 20).toFixed(0)} MiB) in ${spanS.toFixed(2)} s = ${fmt(r.frames / Math.max(spanS, 1e-6))} frames/s (capture timestamps)`,
      `loss        ${fmt(lost)} of ${fmt(sender.sent)} (${((100 * lost) / sender.sent).toFixed(2)} %): libpcap ring ${fmt(r.stats.rxKernelDrops)}, port rx queue ${fmt(r.stats.rxQueueDrops)}, rest before capture (veth/backlog) ${fmt(Math.max(0, lost - r.stats.rxKernelDrops - r.stats.rxQueueDrops))}`,
      `order       ${fmt(r.outOfOrder)} frames out of order`,
      `batches     ${fmt(r.batches)} delivered, largest ${r.maxBatch} frames`,
      `peak RSS    ${r.peakRssMiB.toFixed(0)} MiB (receiver; includes the ${bufferMiB} MiB capture ring)`,
      `timers      ${TIMER_PERIOD_MS} ms timer during the flood: late by max ${r.timerLateMaxMs.toFixed(1)} ms, p99 ${r.timerLateP99Ms.toFixed(1)} ms (${r.timerTicks} ticks)`,
      `event loop  delay max ${r.loopDelayMaxMs.toFixed(1)} ms, p99 ${r.loopDelayP99Ms.toFixed(1)} ms`,
      `close       libpcap handle ${r.released ? 'released' : 'NOT released'}; receiver exit ${end.code ?? end.signal}`,
    ];
    process.stdout.write(lines.map((l) => `bench:port  ${l}\n`).join(''));
    return 0;
  });
}

// ---------------------------------------------------------------- entry

function flag(args: string[], name: string, fallback: number): number {
  const k = args.indexOf(name);
  if (k < 0) return fallback;
  const v = Number(args[k + 1]);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} needs a positive integer`);
  return v;
}

const args = process.argv.slice(2);
if (args[0] === '--sender') {
  await runSender(Number(args[1]), Number(args[2]));
} else if (args[0] === '--receiver') {
  runReceiver(Number(args[1]), Number(args[2]), Number(args[3]));
} else {
  const frames = flag(args, '--frames', 1_000_000);
  const ipBytes = flag(args, '--ip-bytes', 1500);
  if (ipBytes < 32 || ipBytes > 1500) throw new Error('--ip-bytes must be 32..1500 (the topology MTU is 1500)');
  const bufferMiB = flag(args, '--buffer-mib', DEFAULT_BUFFER_MIB);
  const consumerUs = args.includes('--consumer-us') ? flag(args, '--consumer-us', 0) : 0;
  const ringFrames = flag(args, '--ring-frames', DEFAULT_RING_FRAMES);
  const pin = !args.includes('--no-pin') && cpus().length > 1;
  process.exitCode = await orchestrate(frames, ipBytes, bufferMiB, consumerUs, ringFrames, pin);
}
