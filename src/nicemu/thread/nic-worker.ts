/**
 * The NIC thread (a worker_thread; README.md here): the live port through
 * libpcap (receive and transmit, in batches: nicemu/port/pcap-batch.ts),
 * the impairment stage and the
 * capture tap, frame parsing, checksum checks, flow steering, and the DDP
 * engine placing into the host's registered shared memory. Everything it
 * hands the host goes through the NicOutbox: one message at the end of each
 * turn that received frames or in which a NIC timer produced an event, and
 * one at once when the port's arena is full. The host gives lent arenas
 * back (arenaFree) once it no longer reads them.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { NicEmu } from '../nic.js';
import { loadPcapPortAddon, openBatchPcapPort } from '../port/pcap-batch.js';
import { withImpairment, type ImpairPort } from '../port/impair.js';
import { withCapture } from '../port/capture.js';
import type { Port, RxConsumer } from '../port/port.js';
import { NvmeTcpDdpDevice, type UlpDdpOps } from '../ddp/offload.js';
import type { FlowKey } from '../flow-table.js';
import { threadCpuUsage } from '../../base/thread-cpu.js';
import { NicOutbox, type RxArena } from './outbox.js';
import { Gro } from '../gro.js';
import { decodeHostOps } from './host-ops.js';
import { DROP_REASONS, STATS_INTERVAL_MS, type HostMessage, type HostOp, type NicThreadConfig, type NicThreadStats, type NicToHost } from './protocol.js';

const port0 = parentPort;
if (port0 === null) throw new Error('nic-worker.ts runs as a worker_thread');
const parent = port0;
const cfg = workerData as NicThreadConfig;

function post(msg: NicToHost, transfer: ArrayBuffer[] = []): void {
  parent.postMessage(msg, transfer);
}

/** Runs the consumer, then asks for the turn's flush (what the batch produced goes to the host with the turn's other batches). */
class FlushAfterBatch implements Port {
  constructor(
    private readonly inner: Port,
    private readonly after: () => void,
  ) {}
  send(frame: Buffer): void {
    this.inner.send(frame);
  }
  onFrames(consumer: RxConsumer): void {
    this.inner.onFrames((batch) => {
      consumer(batch);
      this.after();
    });
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  get stats() {
    return this.inner.stats;
  }
}

let started = false;
/** The port's arena, when the outbox may take it (set once the port is open). */
let arenaOwner: RxArena | undefined;
/** Flushes the outbox now (the port needs a new arena): set once the NIC runs. */
let arenaFull: () => void = () => undefined;
try {
  const libpcap = loadPcapPortAddon();
  // Without impairment nothing keeps a frame past its turn: the outbox may lend the port's arenas to the host.
  const pooled = cfg.impair === undefined;
  const live = openBatchPcapPort({ iface: cfg.iface, filter: cfg.filter, superFrames: cfg.superFrames, onArenaFull: () => arenaFull(), arenaPool: pooled });
  arenaOwner = pooled ? live : undefined;
  const impaired: ImpairPort | undefined = cfg.impair !== undefined ? withImpairment(live, cfg.impair) : undefined;
  const tapped: Port = cfg.capturePath !== undefined ? withCapture(impaired ?? live, cfg.capturePath) : (impaired ?? live);
  started = true;
  run(libpcap, tapped, impaired);
} catch (e) {
  if (started) throw e;
  const err = e as { code?: unknown; message?: unknown; name?: unknown };
  post({
    kind: 'start-failed',
    code: typeof err.code === 'string' ? err.code : 'CAPTURE_FAILED',
    message: typeof err.message === 'string' ? err.message : String(e),
    name: typeof err.name === 'string' ? err.name : 'Error',
  });
}

function run(libpcap: string, port: Port, impaired: ImpairPort | undefined): void {
  const regions = new Map<number, SharedArrayBuffer>();
  const regionIds = new Map<ArrayBufferLike, number>();
  const outbox = new NicOutbox((m) => regionIds.get(m), arenaOwner);
  let flushScheduled = false;
  let lastStatsMs = 0;

  const stats = (): NicThreadStats => ({
    nic: { ...nic.stats },
    ddp: ddp?.getStats() ?? null,
    port: port.stats,
    impair: impaired !== undefined ? impaired.impairStats() : null,
  });

  // GRO ends with the NAPI poll: what it holds goes up before the turn's message leaves.
  const gro = cfg.gro ? new Gro((flow, skb) => outbox.skb(flow, skb)) : undefined;
  const flush = (): void => {
    flushScheduled = false;
    gro?.flush();
    if (outbox.empty) return;
    const msg = outbox.take();
    const now = Date.now();
    const transfer = [msg.events.buffer as ArrayBuffer, msg.data];
    if (msg.arenaMemory !== null) transfer.push(msg.arenaMemory);
    if (now - lastStatsMs >= STATS_INTERVAL_MS) {
      lastStatsMs = now;
      post({ ...msg, stats: stats() }, transfer);
    } else {
      post(msg, transfer);
    }
  };
  /** An event outside a receive batch (a NIC timer, a deferred completion): flushed at the end of this turn. */
  const soon = (): void => {
    if (flushScheduled) return;
    flushScheduled = true;
    setImmediate(flush);
  };

  // Everything the port's batches of one turn produced goes in one message, right after the turn's I/O.
  if (arenaOwner !== undefined) arenaFull = flush;
  const nic = new NicEmu(new FlushAfterBatch(port, soon), {
    mac: Buffer.from(cfg.mac),
    acceptPartialChecksums: cfg.acceptPartialChecksums,
    mtu: cfg.mtu,
  });
  nic.onArp((_arp, frame) => outbox.arp(frame));
  nic.onDrop = (reason, info) => outbox.drop(DROP_REASONS.indexOf(reason), info.srcIp, info.srcPort, info.tcpFlags);
  const ddp = cfg.ddp !== undefined
    ? new NvmeTcpDdpDevice(nic, {
        ...(cfg.ddp.limits !== undefined ? { limits: cfg.ddp.limits } : {}),
        caps: cfg.ddp.caps,
        nicTcpChecks: cfg.ddp.nicTcpChecks,
        profile: cfg.ddp.profile,
        // A teardown's completion goes up in the message of the turn that finished it, as a driver
        // reports the device's CQE in the same NAPI poll as the turn's packets. (Deferred to a later
        // turn, each one was a message of its own and a wake-up of the host thread.) The callback only
        // appends an event to the outbox: nothing re-enters the engine.
        defer: (fn) => fn(),
        // All of this thread's CPU is the NIC's (cpu.nicThread): no per-segment clock reads.
        timeEngine: false,
        // The outbox merges placed frags that continue one another: one per memory-contiguous run from the start.
        pagedFrags: false,
      })
    : undefined;

  const flows = new Map<number, FlowKey>();
  const ulpOf = (flow: number): UlpDdpOps => ({
    // The host's ULP keeps the request whenever the socket is offloaded, which it is while this engine exists.
    resyncRequest: (_key, seq, flags) => {
      outbox.resyncRequest(flow, seq, flags);
      soon();
      return true;
    },
    teardownDone: (_key, cid) => {
      outbox.teardownDone(flow, cid);
      soon();
    },
  });

  const apply = (op: HostOp, frames: Uint8Array | null): void => {
    switch (op.op) {
      case 'send':
        nic.send(Buffer.from(frames!.buffer, frames!.byteOffset + op.off, op.len));
        return;
      case 'addFlow':
        flows.set(op.flow, op.key);
        nic.addFlow({ key: op.key, deliver: gro !== undefined ? (skb) => gro.receive(op.flow, skb) : (skb) => outbox.skb(op.flow, skb) });
        return;
      case 'removeFlow': {
        const key = flows.get(op.flow);
        if (key !== undefined) nic.removeFlow(key);
        return;
      }
      case 'register':
        regions.set(op.region, op.memory);
        regionIds.set(op.memory, op.region);
        return;
      case 'skAdd': {
        const key = flows.get(op.flow)!;
        const why = ddp?.skAdd({ key, nextPduSeq: op.nextPduSeq, ...(op.heldEndSeq !== undefined ? { heldEndSeq: op.heldEndSeq } : {}) }, op.config, ulpOf(op.flow));
        if (why !== undefined) throw new Error(`NIC thread: sk_add refused (${why}) where the host's mirror accepted it`);
        return;
      }
      case 'skDel':
        ddp?.skDel(flows.get(op.flow)!);
        return;
      case 'setup': {
        const sgl: Buffer[] = [];
        const s = op.sgl;
        for (let i = 0; i < s.length; i += 3) {
          const mem = regions.get(s[i]!);
          const off = s[i + 1]!;
          const len = s[i + 2]!;
          // Never a view past the region: the engine writes only inside the SGL it is given.
          if (mem === undefined || off < 0 || len <= 0 || off + len > mem.byteLength) throw new Error(`NIC thread: setup SGL entry outside region ${s[i]}`);
          sgl.push(Buffer.from(mem, off, len));
        }
        const why = ddp?.setup(flows.get(op.flow)!, op.cid, sgl);
        if (why !== undefined) {
          outbox.setupRefused(op.flow, op.cid);
          soon();
        }
        return;
      }
      case 'teardown':
        ddp?.teardown(flows.get(op.flow)!, op.cid);
        return;
      case 'resync':
        ddp?.resync(flows.get(op.flow)!, op.seq);
        return;
      case 'audit':
        ddp?.auditCompleted(flows.get(op.flow)!, op.cid);
        return;
      case 'setCaps':
        ddp?.setCaps(op.caps);
        return;
      case 'arenaFree':
        // Only a pooled port lends arenas; an id it did not lend is a bug in the host thread, said loudly.
        if (arenaOwner === undefined) throw new Error(`NIC thread: arena ${op.arena} given back, none was lent`);
        arenaOwner.giveBack(op.arena, op.memory);
        return;
      case 'close':
        void close();
        return;
    }
  };

  let closing = false;
  const close = async (): Promise<void> => {
    if (closing) return;
    closing = true;
    flush();
    await nic.close();
    flush();
    post({ kind: 'closed', stats: stats(), cpu: threadCpuUsage() });
    parent.close();
  };

  parent.on('message', (m: HostMessage) => {
    try {
      const frames = m.frames !== null ? new Uint8Array(m.frames) : null;
      for (const op of decodeHostOps(m.ops, m.memories, m.arenas)) {
        if (closing) break;
        apply(op, frames);
      }
      if (!outbox.empty) soon();
    } catch (e) {
      post({ kind: 'failed', message: e instanceof Error ? e.message : String(e) });
    }
  });
  post({ kind: 'ready', libpcap });
}
