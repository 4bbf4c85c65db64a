/**
 * A live Port on host0 of a topology, seen from the test process (root
 * namespace): live-port-child.ts opens the real LivePort inside
 * ddplab-<id>-host and forwards frames both ways over Node IPC. Received
 * batches keep their boundaries, so the consumer sees what the child's
 * consumer saw.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LivePortOptions } from '../../../src/nicemu/port/live.js';
import type { PortStats, RxFrame } from '../../../src/nicemu/port/port.js';
import { netnsCommand } from '../../../src/lab/topology.js';
import { ARP_REPLY, ARP_REQUEST } from '../../../src/wire/arp.js';
import { buildArpFrame, parseFrame } from '../../../src/wire/frame.js';

export type ParentMessage = { type: 'send'; frame: Uint8Array } | { type: 'stats' } | { type: 'close' };

export type ChildMessage =
  | { type: 'ready' }
  | { type: 'error'; code: string; message: string }
  | { type: 'frames'; frames: { data: Uint8Array; tsUs: number }[]; batchLen: number }
  | { type: 'sent'; stats: PortStats }
  | { type: 'stats'; stats: PortStats }
  | { type: 'closed'; released: boolean; stats: PortStats };

/** LivePortOptions, plus a pcap file for a capture tap around the port, and which backend (default the pcap package's LivePort). */
export type RemotePortOptions = LivePortOptions & { capturePath?: string; backend?: 'pcap' | 'batch' };

const CHILD = fileURLToPath(new URL('./live-port-child.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export class RemoteLivePort {
  /** Every frame received so far, in order. */
  readonly received: RxFrame[] = [];
  /** Sizes of the batches the child's consumer got. */
  readonly batchSizes: number[] = [];
  private readonly child: ChildProcess;
  private readonly waiters: { match: (m: ChildMessage) => boolean; resolve: (m: ChildMessage) => void }[] = [];
  private readonly frameWaiters: { pred: (f: RxFrame) => boolean; resolve: (f: RxFrame) => void; from: number }[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private stderr = '';
  private arpAnswer: { ip: number; mac: Buffer } | null = null;
  /** ARP replies sent by answerArp. */
  arpRepliesSent = 0;

  private constructor(id: string, opts: RemotePortOptions) {
    const cmd = netnsCommand(id, 'host', [process.execPath, '--import', 'tsx', CHILD, JSON.stringify(opts)]);
    this.child = spawn(cmd.file, cmd.args, {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    this.child.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    this.child.on('message', (raw: unknown) => this.onMessage(raw as ChildMessage));
  }

  /** Spawns the child and waits until its port is open (or rejects with the child's PortError code and message). */
  static async open(id: string, opts: RemotePortOptions = { iface: 'host0' }): Promise<RemoteLivePort> {
    const port = new RemoteLivePort(id, opts);
    const first = await Promise.race([
      port.next((m) => m.type === 'ready' || m.type === 'error'),
      port.exited.then((e) => {
        throw new Error(`live port child exited (${e.code ?? e.signal}) before it was ready: ${port.stderr.trim()}`);
      }),
    ]);
    if (first.type === 'error') {
      const err = new Error(first.message) as Error & { code: string };
      err.code = first.code;
      throw err;
    }
    return port;
  }

  send(frame: Buffer): void {
    const msg: ParentMessage = { type: 'send', frame };
    this.child.send(msg);
  }

  async stats(): Promise<PortStats> {
    const reply = this.next((m) => m.type === 'stats');
    this.child.send({ type: 'stats' } satisfies ParentMessage);
    const m = await reply;
    if (m.type !== 'stats') throw new Error('unreachable');
    return m.stats;
  }

  /**
   * Resolves with the first received frame (from index `from` on) that
   * satisfies `pred`; rejects after `timeoutMs` (a bound on a failing test,
   * not a timing assertion) saying what was awaited and what came instead.
   */
  waitFor(pred: (f: RxFrame) => boolean, what = 'the awaited frame', timeoutMs = 15_000, from = 0): Promise<RxFrame> {
    for (let k = from; k < this.received.length; k++) {
      if (pred(this.received[k]!)) return Promise.resolve(this.received[k]!);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const k = this.frameWaiters.indexOf(waiter);
        if (k >= 0) this.frameWaiters.splice(k, 1);
        reject(new Error(`no ${what} within ${timeoutMs} ms (${this.received.length} frames received)`));
      }, timeoutMs);
      const waiter = {
        pred,
        from,
        resolve: (f: RxFrame) => {
          clearTimeout(timer);
          resolve(f);
        },
      };
      this.frameWaiters.push(waiter);
    });
  }

  /** Closes the port in the child; resolves with whether libpcap released its handle, and the final stats. */
  async close(): Promise<{ released: boolean; stats: PortStats }> {
    const reply = this.next((m) => m.type === 'closed');
    this.child.send({ type: 'close' } satisfies ParentMessage);
    const m = await reply;
    if (m.type !== 'closed') throw new Error('unreachable');
    return { released: m.released, stats: m.stats };
  }

  /**
   * Plays the host stack's ARP part: every ARP request for `ip` received
   * from now on is answered with `mac`, as the userspace stack will.
   */
  answerArp(ip: number, mac: Buffer): void {
    this.arpAnswer = { ip, mac };
  }

  /** For finally blocks: make sure the child is gone. */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  private maybeAnswerArp(data: Buffer): void {
    if (this.arpAnswer === null) return;
    let arp;
    try {
      arp = parseFrame(data).arp;
    } catch {
      return;
    }
    if (arp === undefined || arp.operation !== ARP_REQUEST || arp.targetIp !== this.arpAnswer.ip) return;
    this.send(
      buildArpFrame({
        operation: ARP_REPLY,
        senderMac: this.arpAnswer.mac,
        senderIp: this.arpAnswer.ip,
        targetMac: arp.senderMac,
        targetIp: arp.senderIp,
      }),
    );
    this.arpRepliesSent++;
  }

  private next(match: (m: ChildMessage) => boolean): Promise<ChildMessage> {
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  private onMessage(msg: ChildMessage): void {
    if (msg.type === 'frames') {
      this.batchSizes.push(msg.batchLen);
      for (const f of msg.frames) {
        const frame: RxFrame = { data: Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength), tsUs: f.tsUs };
        this.received.push(frame);
        this.maybeAnswerArp(frame.data);
        const index = this.received.length - 1;
        for (let k = this.frameWaiters.length - 1; k >= 0; k--) {
          const w = this.frameWaiters[k]!;
          if (index >= w.from && w.pred(frame)) {
            this.frameWaiters.splice(k, 1);
            w.resolve(frame);
          }
        }
      }
    }
    for (let k = 0; k < this.waiters.length; k++) {
      if (this.waiters[k]!.match(msg)) {
        const [w] = this.waiters.splice(k, 1);
        w!.resolve(msg);
        break;
      }
    }
  }
}
