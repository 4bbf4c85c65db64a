/**
 * A Port for this process (root namespace) whose frames come from and go to
 * host0 of a topology: test/support/nicemu/live-port-child.ts opens the real live
 * port inside ddplab-<id>-host and relays frames over Node IPC. With it a
 * live test runs the software NIC and the host stack in its own process and
 * reads their state directly (sequence numbers, counters).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { netnsCommand } from '../../../src/lab/topology.js';
import type { LivePortOptions } from '../../../src/nicemu/port/live.js';
import type { Port, PortStats, RxConsumer, RxFrame } from '../../../src/nicemu/port/port.js';
import type { ChildMessage, ParentMessage } from '../nicemu/remote-live-port.js';

const CHILD = fileURLToPath(new URL('../nicemu/live-port-child.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export class RelayPort implements Port {
  stats: PortStats = { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, rxKernelDrops: 0, rxQueueDrops: 0, txErrors: 0 };
  private consumer: RxConsumer | undefined;
  private readonly early: RxFrame[][] = [];
  private closed = false;
  private readonly exited: Promise<void>;

  private constructor(private readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  /** Starts the child in the host namespace of run `id`; resolves when its port is open. */
  static async open(id: string, opts: LivePortOptions): Promise<RelayPort> {
    const cmd = netnsCommand(id, 'host', [process.execPath, '--import', 'tsx', CHILD, JSON.stringify(opts)]);
    const child = spawn(cmd.file, cmd.args, { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'pipe', 'ipc'], serialization: 'advanced' });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const port = new RelayPort(child);
    await new Promise<void>((resolve, reject) => {
      child.on('message', (raw: unknown) => {
        const m = raw as ChildMessage;
        if (m.type === 'ready') resolve();
        else if (m.type === 'error') reject(new Error(`live port in ddplab-${id}-host: ${m.message}`));
        else port.onMessage(m);
      });
      child.once('exit', (code) => reject(new Error(`live port child exited (${code}) before it was ready: ${stderr.trim()}`)));
    });
    return port;
  }

  send(frame: Buffer): void {
    if (this.closed) return;
    this.child.send({ type: 'send', frame } satisfies ParentMessage);
  }

  onFrames(consumer: RxConsumer): void {
    this.consumer = consumer;
    for (const batch of this.early.splice(0)) consumer(batch);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.child.exitCode === null && this.child.connected) this.child.send({ type: 'close' } satisfies ParentMessage);
    await this.exited;
  }

  /** For finally blocks. */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  private onMessage(m: ChildMessage): void {
    switch (m.type) {
      case 'frames': {
        const batch: RxFrame[] = m.frames.map((f) => ({ data: Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength), tsUs: f.tsUs }));
        if (this.consumer !== undefined) this.consumer(batch);
        else this.early.push(batch);
        break;
      }
      case 'sent':
      case 'stats':
      case 'closed':
        this.stats = m.stats;
        break;
      default:
        break;
    }
  }
}
