/**
 * The host thread's handle on a NIC running in its own worker_thread
 * (README.md here): a NicLink for the host stack, the DDP device proxy, and
 * the NIC's counters as of its last report.
 *
 * Transmit and offload ops are queued and posted once per turn of the host's
 * event loop (setImmediate: right after the turn's I/O, which is where the
 * NIC's messages are taken in), in order.
 * Received skbs arrive in batches; each batch is delivered as NicEmu
 * delivers one in its own thread: batchStart before a flow's first skb,
 * batchEnd after the batch (so TCP sends one ACK per batch).
 */
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { FlowEntry, FlowKey } from '../flow-table.js';
import type { NicLink } from '../nic-link.js';
import type { ArpHandler, NicDropInfo, NicDropReason } from '../nic.js';
import { newNicRxStats, type NicRxStats } from '../nic-stats.js';
import { PortError, type PortErrorCode, type PortStats } from '../port/port.js';
import type { ImpairStats } from '../port/impair.js';
import type { UlpDdpStats } from '../ddp/stats.js';
import { NicThreadDdpDevice } from './ddp-client.js';
import { NicInbox } from './inbox.js';
import type { HostMessage, HostOp, NicMessage, NicThreadConfig, NicThreadStats, NicToHost, RxArenaStats } from './protocol.js';
import { encodeHostOp } from './host-ops.js';

const EMPTY_PORT_STATS: PortStats = { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, rxKernelDrops: 0, rxQueueDrops: 0, txErrors: 0 };
/** How long close() waits for the NIC thread to end after its port closed. */
const CLOSE_WAIT_MS = 5000;

/** node's own flags a worker may take and the NIC thread should inherit: profiling (V8 heap flags are refused in a worker). */
function workerExecArgv(): string[] {
  return process.execArgv.filter((a) => /^--(cpu-prof|heap-prof|prof)/.test(a));
}

/**
 * The NIC thread's young generation: every received frame leaves a few
 * short-lived objects (parsed headers, skb, views), and a larger nursery
 * means fewer scavenges, each finding almost all of them dead.
 */
const NIC_THREAD_HEAP = { maxYoungGenerationSizeMb: 48 };

/**
 * The worker's script: the bundled one beside this chunk (dist/cli/), else
 * the TypeScript source, started by a two-line script that registers tsx's
 * loader in the worker first (a loader registered in this thread does not
 * reach workers).
 */
function startWorker(workerData: NicThreadConfig): Worker {
  const here = import.meta.url;
  if (here.endsWith('.js')) {
    const bundled = new URL('./nic-worker.js', here);
    // The worker inherits node's own flags (--cpu-prof and the like).
    if (existsSync(fileURLToPath(bundled))) return new Worker(bundled, { workerData, execArgv: workerExecArgv(), resourceLimits: NIC_THREAD_HEAP });
  }
  const source = new URL('./nic-worker.ts', here).href;
  // tsx's ESM build of its API (require.resolve finds the CommonJS one, which cannot start the ESM loader from here).
  const cjs = createRequire(here).resolve('tsx/esm/api');
  const mjs = cjs.replace(/\.cjs$/, '.mjs');
  const api = pathToFileURL(existsSync(mjs) ? mjs : cjs).href;
  const boot = `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(source)}); });`;
  return new Worker(boot, { eval: true, workerData, execArgv: workerExecArgv(), resourceLimits: NIC_THREAD_HEAP });
}

export class NicThread implements NicLink {
  readonly mac: Buffer;
  /** The DDP device proxy, when the config asked for one. */
  readonly ddp: NicThreadDdpDevice | undefined;
  /** Told of every frame the NIC dropped (in the NIC thread's order). */
  onDrop: ((reason: NicDropReason, info: NicDropInfo) => void) | undefined;
  /** The NIC thread's CPU time, once closed. */
  cpu: { readonly userMs: number; readonly systemMs: number } | null = null;
  private last: NicThreadStats;
  private readonly flows = new Map<number, FlowEntry>();
  private readonly flowIds = new Map<string, number>();
  private readonly idByKeyObject = new WeakMap<FlowKey, number>();
  private nextFlow = 1;
  private arpHandler: ArpHandler | undefined;
  /** This turn's ops, encoded (host-ops.ts), and the memories `register` ops hand over. */
  private ops: number[] = [];
  private memories: SharedArrayBuffer[] = [];
  /** The NIC's receive arenas this turn's `arenaFree` ops transfer back. */
  private arenas: ArrayBuffer[] = [];
  private tx: Buffer[] = [];
  private txBytes = 0;
  private posting = false;
  private failure: Error | undefined;
  private closed: Promise<void> | undefined;
  private resolveClosed: (() => void) | undefined;
  private readonly inbox: NicInbox;

  private constructor(
    private readonly worker: Worker,
    cfg: NicThreadConfig,
    /** Called once if the NIC thread fails after start (a bug in the NIC): the run must stop. */
    private readonly onFailed: (e: Error) => void,
  ) {
    this.mac = Buffer.from(cfg.mac);
    this.inbox = new NicInbox({
      flow: (id) => this.flows.get(id),
      region: (r) => this.ddp!.regionMemory.get(r)!,
      arp: (arp, frame) => this.arpHandler?.(arp, frame),
      drop: (reason, info) => this.onDrop?.(reason, info),
      resyncRequest: (flow, seq, flags) => this.ddp?.onResyncRequest(flow, seq, flags),
      teardownDone: (flow, cid) => this.ddp?.onTeardownDone(flow, cid),
      setupRefused: () => this.ddp?.onSetupRefused(),
      arenaFree: (arena, memory) => this.enqueue({ op: 'arenaFree', arena, memory }),
    });
    this.last = { nic: newNicRxStats(), ddp: null, port: EMPTY_PORT_STATS, impair: null };
    const self = this;
    this.ddp =
      cfg.ddp !== undefined
        ? new NicThreadDdpDevice(
            { flowIdOf: (k) => this.flowIdOf(k), enqueue: (op) => this.enqueue(op), get ddpStats() { return self.last.ddp; } },
            cfg.ddp.profile,
            cfg.ddp.limits,
            cfg.ddp.caps,
          )
        : undefined;
  }

  /**
   * Starts the NIC thread and waits until its port is open. A port that
   * cannot open (no libpcap, no interface, no permission) rejects with the
   * same PortError, code and line, as opening it in this thread would.
   */
  static start(cfg: NicThreadConfig, onFailed: (e: Error) => void): Promise<NicThread> {
    const worker = startWorker(cfg);
    const thread = new NicThread(worker, cfg, onFailed);
    return new Promise((resolve, reject) => {
      let up = false;
      worker.on('message', (m: NicToHost) => {
        if (m.kind === 'events') thread.receive(m);
        else if (m.kind === 'ready') {
          up = true;
          resolve(thread);
        } else if (m.kind === 'start-failed') {
          const e = m.name === 'PortError' ? new PortError(m.code as PortErrorCode, m.message) : new Error(m.message);
          void worker.terminate();
          reject(e);
        } else if (m.kind === 'closed') {
          thread.last = m.stats;
          thread.cpu = m.cpu;
          thread.resolveClosed?.();
        } else if (m.kind === 'failed') thread.fail(new Error(`NIC thread: ${m.message}`));
      });
      worker.on('error', (e) => {
        if (!up) reject(e);
        else thread.fail(e);
      });
      worker.on('exit', (code) => {
        if (!up) reject(new Error(`the NIC thread exited (code ${code}) before its port opened`));
        // An exit before 'closed' arrived: whatever close() waits for is not coming.
        thread.resolveClosed?.();
      });
    });
  }

  get stats(): NicRxStats {
    return this.last.nic;
  }

  get portStats(): PortStats {
    return this.last.port;
  }

  get impairStats(): { rx: ImpairStats; tx: ImpairStats } | null {
    return this.last.impair;
  }

  get ddpStats(): UlpDdpStats | null {
    return this.last.ddp;
  }

  /** The receive arenas the NIC lent this thread: given back, bytes copied out to give them back, kept. */
  get rxArenas(): RxArenaStats {
    const i = this.inbox;
    return { givenBack: i.arenasFreed, copiedBytes: i.arenaBytesCopied, kept: i.arenasKept };
  }

  send(frame: Buffer): void {
    if (this.closed !== undefined) throw new PortError('PORT_CLOSED', 'the NIC thread is closed');
    this.enqueue({ op: 'send', off: this.txBytes, len: frame.length });
    this.tx.push(frame);
    this.txBytes += frame.length;
  }

  onArp(handler: ArpHandler): void {
    this.arpHandler = handler;
  }

  addFlow(entry: FlowEntry): void {
    // An engine given with the flow would run in this thread, outside the NIC: the runs that need one
    // (devmem, zcrx header split) keep the NIC in the host's thread.
    if (entry.offload !== undefined) throw new Error('a receive engine cannot be put on a flow of the NIC thread');
    const k = keyString(entry.key);
    if (this.flowIds.has(k)) throw new Error('flow already registered');
    const id = this.nextFlow++;
    this.flows.set(id, entry);
    this.flowIds.set(k, id);
    this.enqueue({ op: 'addFlow', flow: id, key: { ...entry.key } });
  }

  removeFlow(key: FlowKey): boolean {
    const k = keyString(key);
    const id = this.flowIds.get(k);
    if (id === undefined) return false;
    this.flowIds.delete(k);
    this.flows.delete(id);
    this.enqueue({ op: 'removeFlow', flow: id });
    return true;
  }

  flowIdOf(key: FlowKey): number | undefined {
    // The ULP passes the same key object with every op: remember its id by identity (no string per op).
    const known = this.idByKeyObject.get(key);
    if (known !== undefined && this.flows.has(known)) return known;
    const id = this.flowIds.get(keyString(key));
    if (id !== undefined) this.idByKeyObject.set(key, id);
    return id;
  }

  /** Closes the port in the NIC thread and waits for its final counters and CPU time. */
  close(): Promise<void> {
    if (this.closed !== undefined) return this.closed;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.closed = new Promise<void>((resolve) => {
      this.resolveClosed = resolve;
    }).then(async () => {
      // The thread ends by itself once its port released libpcap (terminating it while libpcap's
      // poll handle is live aborts the process). If it does not within the limit, it is let go
      // (unref): it can no longer hold the process open.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)))]);
      clearTimeout(timer);
      this.worker.unref();
    });
    this.enqueue({ op: 'close' });
    return this.closed;
  }

  private enqueue(op: HostOp): void {
    encodeHostOp(op, this.ops, this.memories, this.arenas);
    if (this.posting) return;
    this.posting = true;
    // At the end of this turn's I/O phase: the ACKs of every batch read in it go in one message.
    setImmediate(this.post);
  }

  private readonly post = (): void => {
    this.posting = false;
    if (this.ops.length === 0) return;
    const ops = new Float64Array(this.ops);
    const memories = this.memories;
    const arenas = this.arenas;
    this.ops = [];
    this.memories = [];
    this.arenas = [];
    let frames: ArrayBuffer | null = null;
    if (this.txBytes > 0) {
      frames = new ArrayBuffer(this.txBytes);
      const out = new Uint8Array(frames);
      let at = 0;
      for (const f of this.tx) {
        out.set(f, at);
        at += f.length;
      }
      this.tx = [];
      this.txBytes = 0;
    }
    const transfer: ArrayBuffer[] = [ops.buffer as ArrayBuffer, ...arenas];
    if (frames !== null) transfer.push(frames);
    const msg: HostMessage = { ops, memories, frames, arenas };
    this.worker.postMessage(msg, transfer);
  };

  private fail(e: Error): void {
    if (this.failure !== undefined) return;
    this.failure = e;
    this.onFailed(e);
  }

  /** One message of events from the NIC thread, delivered in order. */
  private receive(m: NicMessage): void {
    if (m.stats !== undefined) this.last = m.stats;
    this.inbox.deliver(m);
  }
}

function keyString(k: FlowKey): string {
  return `${k.remoteIp}:${k.remotePort}:${k.localIp}:${k.localPort}`;
}
