/**
 * Soak benchmark of the live Port (npm run bench:port): floods host0 with
 * 1,000,000 frames of 1500-byte IP packets (1514-byte Ethernet frames) sent
 * by a kernel UDP socket in the target namespace, and reports what the Port
 * received, where the rest was lost, the receiver's CPU time (user, system,
 * µs per frame), its peak RSS, and how late its timers ran during the flood.
 * It prints figures and asserts nothing about time; it exits non-zero only if
 * a receiver crashes.
 *
 *   npm run bench:port -- [--backend pcap|batch] [--worker] [--frames N] [--ip-bytes 1500] [--buffer-mib 32] [--ring-frames 4096] [--consumer-us 0] [--no-pin]
 *
 * --backend: the receiver's Port — pcap, the `pcap` package's binding
 * (nicemu/port/live.ts, LivePort: one JavaScript callback per frame, an rx
 * ring of --ring-frames), or batch, ddplab's own libpcap addon
 * (nicemu/port/pcap-batch.ts, BatchPcapPort: up to 256 frames per native
 * call, the NIC thread's port). Default: both, one after the other, on one
 * topology.
 * --worker: the batch port runs in a worker_thread of the receiver, as on the
 * NIC thread, and each batch crosses to the main thread in one postMessage
 * (the arena the frames lie in lent — transferred — when the batch spans
 * 64 KiB or more, and transferred back once the main thread consumed it;
 * else, or with no arena free, its bytes copied and the arena reused: the
 * NIC thread's rule); the main thread consumes them. Only the batch backend loads in a worker.
 * --consumer-us makes the consumer spend that long per frame: a host stack
 * slower than the wire, to see drops counted and memory and timers bounded.
 *
 * CPU time is the receiver process's (process.cpuUsage: every thread) from
 * just before the sender starts until the first 100 ms with no new frame;
 * with --worker also each thread's own (/proc/thread-self). Each wakeup
 * has a fixed cost besides its frames', so CPU per frame falls as
 * batches grow: compare backends at similar sender rates and batch sizes.
 *
 * One file, four roles: the orchestrator (root namespace) builds the
 * topology with withTopology and runs the others through netns/exec.sh —
 * the receiver (host namespace: the Port on host0), its worker with
 * --worker, and the sender (target namespace: node dgram on a connected
 * socket, in bursts). With two or more CPUs the sender is pinned to the
 * CPU host0's receive is steered to (RPS, netns/up.sh: CPU 0), so the
 * kernel's veth and packet-capture work runs in the sender's softirq, and
 * the receiver (both its threads with --worker) to another CPU: pinned to
 * the RPS CPU, the receiver would be charged that softirq work as system
 * time and compete with it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { execa } from 'execa';
import { netnsCommand, withTopology, type Topology } from '../src/lab/topology.js';
import { cpuTimeSince, threadCpuUsage, type CpuTime } from '../src/base/thread-cpu.js';
import { openLivePort } from '../src/nicemu/port/live.js';
import { openBatchPcapPort } from '../src/nicemu/port/pcap-batch.js';
import type { PortStats, RxFrame } from '../src/nicemu/port/port.js';
import { ARENA_HANDOFF_BYTES } from '../src/nicemu/thread/outbox.js';

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
/** Per frame in a batch message from the worker: offset in the message's buffer, length, capture time (µs). */
const META_FIELDS = 3;

type Backend = 'pcap' | 'batch';

interface ReceiverConfig {
  backend: Backend;
  worker: boolean;
  bufferBytes: number;
  consumerUs: number;
  rxRingFrames: number;
}

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
  /** The process's CPU time (all threads) over the flood. */
  cpu: CpuTime;
  /** With --worker: the main thread's and the worker's own CPU time over the flood. */
  mainThreadCpu: CpuTime | null;
  workerCpu: CpuTime | null;
  /** With --worker: batches whose arena was lent (and given back), and bytes copied for the others. */
  arenasMoved: number;
  bytesCopied: number;
}

type ReceiverMessage = { type: 'ready' } | { type: 'progress'; frames: number } | { type: 'report'; report: ReceiverReport };

/** Worker → receiver's main thread. */
type WorkerMessage =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  /** buf: the lent arena the frames lie in (pool id `arena`), or (arena -1) their bytes copied. */
  | { type: 'batch'; buf: ArrayBuffer; arena: number; meta: Float64Array }
  | { type: 'closed'; stats: PortStats; released: boolean; cpu: CpuTime };
/** Receiver's main thread → worker. */
type MainMessage = { type: 'go' } | { type: 'stop' } | { type: 'free'; arena: number; memory: ArrayBuffer };

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

// ---------------------------------------------------------------- port worker (--worker)

/** The worker's entry: the batch port on host0, each batch posted to the receiver's main thread. */
function runPortWorker(cfg: ReceiverConfig): void {
  const parent = parentPort!;
  let port: ReturnType<typeof openBatchPcapPort>;
  try {
    port = openBatchPcapPort({ iface: 'host0', bufferBytes: cfg.bufferBytes, arenaPool: true });
  } catch (e) {
    parent.postMessage({ type: 'failed', message: e instanceof Error ? e.message : String(e) } satisfies WorkerMessage);
    return;
  }
  let cpu0 = threadCpuUsage();
  port.onFrames((batch) => {
    // A batch is one read: its frames lie one after another in the port's current arena.
    const first = batch[0]!.data;
    const last = batch[batch.length - 1]!.data;
    const lo = first.byteOffset;
    const hi = last.byteOffset + last.length;
    // The arena itself is lent (transferred, and back after use) when the batch spans enough of it and one is free.
    const lent = hi - lo >= ARENA_HANDOFF_BYTES ? port.lend() : undefined;
    const base = lent !== undefined ? 0 : lo;
    const meta = new Float64Array(batch.length * META_FIELDS);
    for (let k = 0; k < batch.length; k++) {
      const f = batch[k]!;
      meta[k * META_FIELDS] = f.data.byteOffset - base;
      meta[k * META_FIELDS + 1] = f.data.length;
      meta[k * META_FIELDS + 2] = f.tsUs;
    }
    let buf: ArrayBuffer;
    if (lent !== undefined) buf = lent.memory;
    else {
      // A small batch (or no arena free): its bytes copied, the arena received into again from the start.
      buf = new ArrayBuffer(hi - lo);
      new Uint8Array(buf).set(new Uint8Array(port.current(), lo, hi - lo));
      port.rewind();
    }
    parent.postMessage({ type: 'batch', buf, arena: lent?.id ?? -1, meta } satisfies WorkerMessage, [buf, meta.buffer]);
  });
  parent.on('message', (m: MainMessage) => {
    if (m.type === 'free') {
      port.giveBack(m.arena, m.memory);
      return;
    }
    if (m.type === 'go') {
      cpu0 = threadCpuUsage();
      return;
    }
    const cpu = cpuTimeSince(cpu0, threadCpuUsage());
    const stats = port.stats;
    void port.close().then(() => {
      parent.postMessage({ type: 'closed', stats, released: port.released, cpu } satisfies WorkerMessage);
      parent.close();
    });
  });
  parent.postMessage({ type: 'ready' } satisfies WorkerMessage);
}

/** Starts this file as the port worker; from the TypeScript source, tsx's loader is registered in the worker first (as nicemu/thread/nic-thread.ts does). */
function startPortWorker(cfg: ReceiverConfig): Worker {
  const cjs = createRequire(import.meta.url).resolve('tsx/esm/api');
  const mjs = cjs.replace(/\.cjs$/, '.mjs');
  const api = pathToFileURL(existsSync(mjs) ? mjs : cjs).href;
  const self = pathToFileURL(SELF).href;
  const boot = `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(self)}); });`;
  return new Worker(boot, { eval: true, workerData: cfg, execArgv: [] });
}

// ---------------------------------------------------------------- receiver

async function runReceiver(cfg: ReceiverConfig): Promise<void> {
  let frames = 0;
  let bytes = 0;
  let outOfOrder = 0;
  let nextSeq = 0;
  let firstTsUs = 0;
  let lastTsUs = 0;
  let batches = 0;
  let maxBatch = 0;
  const consumerUs = cfg.consumerUs;
  const consume = (batch: readonly RxFrame[]): void => {
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
  };

  let port: ReturnType<typeof openLivePort> | ReturnType<typeof openBatchPcapPort> | null = null;
  let worker: Worker | null = null;
  let arenasMoved = 0;

  let bytesCopied = 0;
  let workerClosed: (m: Extract<WorkerMessage, { type: 'closed' }>) => void = () => {};
  if (cfg.worker) {
    const w = startPortWorker(cfg);
    worker = w;
    await new Promise<void>((resolve, reject) => {
      w.once('error', reject);
      w.on('message', (m: WorkerMessage) => {
        if (m.type === 'batch') {
          const meta = m.meta;
          const mem = m.buf;
          const batch: RxFrame[] = new Array(meta.length / META_FIELDS);
          for (let k = 0; k < batch.length; k++) {
            batch[k] = { data: Buffer.from(mem, meta[k * META_FIELDS]!, meta[k * META_FIELDS + 1]!), tsUs: meta[k * META_FIELDS + 2]! };
          }
          if (m.arena >= 0) arenasMoved++;
          else bytesCopied += m.buf.byteLength;
          consume(batch);
          // consume() keeps no frame: the arena goes back.
          if (m.arena >= 0) w.postMessage({ type: 'free', arena: m.arena, memory: m.buf } satisfies MainMessage, [m.buf]);
        } else if (m.type === 'ready') resolve();
        else if (m.type === 'failed') reject(new Error(m.message));
        else workerClosed(m);
      });
    });
  } else {
    port = cfg.backend === 'pcap' ? openLivePort({ iface: 'host0', bufferBytes: cfg.bufferBytes, rxRingFrames: cfg.rxRingFrames }) : openBatchPcapPort({ iface: 'host0', bufferBytes: cfg.bufferBytes });
    port.onFrames(consume);
  }

  // CPU over the flood: from 'go' (the sender is about to start) to the first 100 ms tick with no new frame.
  let cpu0 = process.cpuUsage();
  let main0: CpuTime = worker ? threadCpuUsage() : { userMs: 0, systemMs: 0 };
  let cpuEnd: NodeJS.CpuUsage | null = null;
  let mainEnd: CpuTime | null = null;
  let flowing = false;
  const markEnd = (): void => {
    cpuEnd = process.cpuUsage(cpu0);
    if (worker) mainEnd = cpuTimeSince(main0, threadCpuUsage());
  };

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

  let progressFrames = 0;
  const progress = setInterval(() => {
    if (!loopArmed && frames > 0) {
      loopDelay.enable();
      loopArmed = true;
    }
    if (frames !== progressFrames) flowing = true;
    else if (flowing) {
      flowing = false;
      markEnd();
    }
    progressFrames = frames;
    process.send!({ type: 'progress', frames } satisfies ReceiverMessage);
  }, 100);

  process.on('message', (msg: unknown) => {
    const type = (msg as { type?: string }).type;
    if (type === 'go') {
      cpu0 = process.cpuUsage();
      if (worker) {
        main0 = threadCpuUsage();
        worker.postMessage({ type: 'go' } satisfies MainMessage);
      }
      return;
    }
    if (type !== 'stop') return;
    clearInterval(progress);
    if (timer !== null) clearTimeout(timer);
    loopDelay.disable();
    if (flowing || cpuEnd === null) markEnd();
    const closed: Promise<{ stats: PortStats; released: boolean; workerCpu: CpuTime | null }> =
      worker !== null
        ? new Promise((resolve) => {
            workerClosed = (m) => resolve({ stats: m.stats, released: m.released, workerCpu: m.cpu });
            worker!.postMessage({ type: 'stop' } satisfies MainMessage);
          })
        : (() => {
            const stats = port!.stats;
            return port!.close().then(() => ({ stats, released: port!.released, workerCpu: null }));
          })();
    void closed.then(({ stats, released, workerCpu }) => {
      late.sort((a, b) => a - b);
      const c = cpuEnd!;
      const report: ReceiverReport = {
        frames,
        bytes,
        outOfOrder,
        firstTsUs,
        lastTsUs,
        batches,
        maxBatch,
        stats,
        released,
        peakRssMiB: process.resourceUsage().maxRSS / 1024,
        timerLateMaxMs: late.length ? late[late.length - 1]! : 0,
        timerLateP99Ms: late.length ? late[Math.min(late.length - 1, Math.floor(late.length * 0.99))]! : 0,
        timerTicks: late.length,
        loopDelayMaxMs: loopArmed ? loopDelay.max / 1e6 : 0,
        loopDelayP99Ms: loopArmed ? loopDelay.percentile(99) / 1e6 : 0,
        cpu: { userMs: c.user / 1000, systemMs: c.system / 1000 },
        mainThreadCpu: mainEnd,
        workerCpu,
        arenasMoved,
        bytesCopied,
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

function pinned(cpu: number | null, argv: string[]): string[] {
  return cpu !== null ? ['taskset', '-c', String(cpu), ...argv] : argv;
}

/** CPUs for the sender and the receiver: the sender on the CPU host0's receive is steered to (its lowest RPS CPU; 0 if none is set). */
async function cpuPlan(topo: Topology, pin: boolean): Promise<{ sender: number | null; receiver: number | null }> {
  if (!pin) return { sender: null, receiver: null };
  const cmd = netnsCommand(topo.id, 'host', ['cat', `/sys/class/net/${topo.hostIf}/queues/rx-0/rps_cpus`]);
  const r = await execa(cmd.file, cmd.args, { reject: false });
  const mask = r.exitCode === 0 ? BigInt(`0x${r.stdout.trim().replace(/,/g, '') || '0'}`) : 0n;
  let sender = 0;
  if (mask !== 0n) while (((mask >> BigInt(sender)) & 1n) === 0n) sender++;
  if (sender >= cpus().length) sender = 0;
  return { sender, receiver: sender === 0 ? 1 : 0 };
}

function label(cfg: ReceiverConfig): string {
  return cfg.backend === 'pcap' ? 'pcap (LivePort)' : cfg.worker ? 'batch (BatchPcapPort) in a worker' : 'batch (BatchPcapPort)';
}

/** One flood into one receiver on `topo`; prints its figures, returns the exit code. */
async function floodOnce(topo: Topology, cfg: ReceiverConfig, frames: number, ipBytes: number, pin: boolean): Promise<number> {
  const cpu = await cpuPlan(topo, pin);
  const rxCmd = netnsCommand(topo.id, 'host', pinned(cpu.receiver, [process.execPath, '--import', 'tsx', SELF, '--receiver', JSON.stringify(cfg)]));
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
  const txCmd = netnsCommand(topo.id, 'tgt', pinned(cpu.sender, [process.execPath, '--import', 'tsx', SELF, '--sender', String(frames), String(ipBytes)]));
  const bufferMiB = cfg.bufferBytes >> 20;
  process.stdout.write(
    `bench:port  [${label(cfg)}] flooding ${frames} frames of ${ipBytes + 14} bytes (IP ${ipBytes}) from ${topo.tgtNs} to host0` +
      `${cfg.consumerUs > 0 ? `, consumer busy ${cfg.consumerUs} µs/frame` : ''} ...\n`,
  );
  receiver.send({ type: 'go' });
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
  const secs = (c: CpuTime): string => `${((c.userMs + c.systemMs) / 1000).toFixed(2)} s (user ${(c.userMs / 1000).toFixed(2)}, system ${(c.systemMs / 1000).toFixed(2)})`;
  const perFrame = (c: CpuTime): string => `${((1000 * (c.userMs + c.systemMs)) / Math.max(r.frames, 1)).toFixed(2)} µs`;
  const lines = [
    `receiver    ${label(cfg)}${cfg.backend === 'pcap' ? `, rx ring ${cfg.rxRingFrames} frames` : ''}${cpu.receiver !== null ? `, CPU ${cpu.receiver}` : ''}`,
    `sender      ${fmt(sender.sent)} datagrams in ${(sender.elapsedMs / 1000).toFixed(2)} s = ${fmt(sender.sent / (sender.elapsedMs / 1000))} frames/s (node dgram, tgt ns${cpu.sender !== null ? `, CPU ${cpu.sender} with host0's receive softirq` : ''})`,
    `tgt0        tx ${fmt(tgt.txPackets)} frames, tx dropped ${fmt(tgt.txDropped)}`,
    `host0       rx ${fmt(host.rxPackets)} frames, rx dropped ${fmt(host.rxDropped)}`,
    `port        received ${fmt(r.frames)} flood frames (${(r.bytes / 2 ** 20).toFixed(0)} MiB) in ${spanS.toFixed(2)} s = ${fmt(r.frames / Math.max(spanS, 1e-6))} frames/s (capture timestamps)`,
    `loss        ${fmt(lost)} of ${fmt(sender.sent)} (${((100 * lost) / sender.sent).toFixed(2)} %): libpcap ring ${fmt(r.stats.rxKernelDrops)}, port rx queue ${fmt(r.stats.rxQueueDrops)}, rest before capture (veth/backlog) ${fmt(Math.max(0, lost - r.stats.rxKernelDrops - r.stats.rxQueueDrops))}`,
    `order       ${fmt(r.outOfOrder)} frames out of order`,
    `batches     ${fmt(r.batches)} delivered, ${(r.frames / Math.max(r.batches, 1)).toFixed(1)} flood frames each on average, largest ${r.maxBatch} frames` +
      (cfg.worker ? ` (one message each: ${fmt(r.arenasMoved)} arenas lent and given back, ${(r.bytesCopied / 2 ** 20).toFixed(0)} MiB copied)` : ''),
    `cpu         receiver process ${secs(r.cpu)} = ${perFrame(r.cpu)} per frame, ${((1000 * (r.cpu.userMs + r.cpu.systemMs)) / Math.max(r.batches, 1)).toFixed(1)} µs per batch`,
    ...(r.workerCpu !== null && r.mainThreadCpu !== null
      ? [`threads     port worker ${secs(r.workerCpu)} = ${perFrame(r.workerCpu)} per frame; main thread ${secs(r.mainThreadCpu)} = ${perFrame(r.mainThreadCpu)} per frame`]
      : []),
    `peak RSS    ${r.peakRssMiB.toFixed(0)} MiB (receiver; includes the ${bufferMiB} MiB capture ring)`,
    `timers      ${TIMER_PERIOD_MS} ms timer during the flood: late by max ${r.timerLateMaxMs.toFixed(1)} ms, p99 ${r.timerLateP99Ms.toFixed(1)} ms (${r.timerTicks} ticks)`,
    `event loop  delay max ${r.loopDelayMaxMs.toFixed(1)} ms, p99 ${r.loopDelayP99Ms.toFixed(1)} ms`,
    `close       libpcap handle ${r.released ? 'released' : 'NOT released'}; receiver exit ${end.code ?? end.signal}`,
  ];
  process.stdout.write(lines.map((l) => `bench:port  ${l}\n`).join(''));
  return 0;
}

async function orchestrate(runs: ReceiverConfig[], frames: number, ipBytes: number, pin: boolean): Promise<number> {
  return withTopology({}, async (topo) => {
    // The flood must not wait on ARP: a permanent neighbour entry for 192.0.2.2.
    const neigh = netnsCommand(topo.id, 'tgt', ['ip', 'neigh', 'replace', '192.0.2.2', 'lladdr', topo.hostMac, 'dev', topo.tgtIf, 'nud', 'permanent']);
    await execa(neigh.file, neigh.args);
    let code = 0;
    for (const [k, cfg] of runs.entries()) {
      if (k > 0) process.stdout.write('\n');
      code = Math.max(code, await floodOnce(topo, cfg, frames, ipBytes, pin));
    }
    return code;
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

function backends(args: string[], worker: boolean): Backend[] {
  const k = args.indexOf('--backend');
  if (k < 0) return worker ? ['batch'] : ['pcap', 'batch'];
  const v = args[k + 1];
  if (v !== 'pcap' && v !== 'batch') throw new Error('--backend must be pcap or batch');
  if (worker && v === 'pcap') throw new Error('--worker runs the batch backend only (the pcap package\'s binding cannot load in a worker_thread)');
  return [v];
}

const args = process.argv.slice(2);
if (!isMainThread) {
  runPortWorker(workerData as ReceiverConfig);
} else if (args[0] === '--sender') {
  await runSender(Number(args[1]), Number(args[2]));
} else if (args[0] === '--receiver') {
  await runReceiver(JSON.parse(args[1]!) as ReceiverConfig);
} else {
  let runs: ReceiverConfig[];
  let frames: number;
  let ipBytes: number;
  let pin: boolean;
  try {
    frames = flag(args, '--frames', 1_000_000);
    ipBytes = flag(args, '--ip-bytes', 1500);
    if (ipBytes < 32 || ipBytes > 1500) throw new Error('--ip-bytes must be 32..1500 (the topology MTU is 1500)');
    const bufferMiB = flag(args, '--buffer-mib', DEFAULT_BUFFER_MIB);
    const consumerUs = args.includes('--consumer-us') ? flag(args, '--consumer-us', 0) : 0;
    const ringFrames = flag(args, '--ring-frames', DEFAULT_RING_FRAMES);
    pin = !args.includes('--no-pin') && cpus().length > 1;
    const worker = args.includes('--worker');
    runs = backends(args, worker).map((backend): ReceiverConfig => ({ backend, worker, bufferBytes: bufferMiB << 20, consumerUs, rxRingFrames: ringFrames }));
  } catch (e) {
    // Bad options: one line, before any topology is built.
    process.stderr.write(`bench:port: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(2);
  }
  process.exitCode = await orchestrate(runs, frames, ipBytes, pin);
}
