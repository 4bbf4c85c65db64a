/**
 * Test support for devmem receive: a peer TcpSocket (the sender, with
 * Linux-like retransmission) and a host TcpSocket behind a NicEmu whose
 * DevmemDevice steers the flow to a bound queue, joined by two delay lines
 * on a VirtualClock with seeded loss. Frames toward the host go through the
 * whole NIC receive path (parse, checksum, flow, header split, maybe drop).
 */
import { VirtualClock, type ClockTimer } from '../../../src/host/net/clock.js';
import { DevmemSocket, newDevmemSocketStats, type DevmemSocketStats } from '../../../src/host/devmem/socket.js';
import { TcpSocket } from '../../../src/host/net/tcp-socket.js';
import { DevmemDevice } from '../../../src/nicemu/devmem/device.js';
import { Dmabuf, type DmabufBinding } from '../../../src/nicemu/devmem/dmabuf.js';
import type { FlowKey } from '../../../src/nicemu/flow-table.js';
import type { HeaderSplitMode } from '../../../src/nicemu/devmem/header-split.js';
import { NicEmu } from '../../../src/nicemu/nic.js';
import { HOST, PEER, prng, skbFromFrame } from './tcp-peer.js';
import { SilentPort } from '../nicemu/silent-port.js';

/** Seeded impairments of one direction. */
export interface LineImpairment {
  readonly loss: number;
  /** Chance a frame is delivered twice. */
  readonly dup?: number;
  /** Chance a frame is held back `jitterMs` (later frames overtake it). */
  readonly reorder?: number;
  readonly jitterMs?: number;
}

/** One direction of the wire: a delay line with seeded loss, duplication and reordering, delivered by one timer. */
class FrameLine {
  private readonly queue: { due: number; frame: Buffer }[] = [];
  private readonly timer: ClockTimer;
  dropped = 0;
  duplicated = 0;
  reordered = 0;

  constructor(
    private readonly clock: VirtualClock,
    private readonly rnd: () => number,
    private readonly imp: LineImpairment,
    private readonly delayMs: number,
    private readonly deliver: (frame: Buffer) => void,
  ) {
    this.timer = clock.createTimer(() => this.flush());
  }

  readonly send = (frame: Buffer): void => {
    if (this.rnd() < this.imp.loss) {
      this.dropped++;
      return;
    }
    const copies = this.rnd() < (this.imp.dup ?? 0) ? 2 : 1;
    if (copies === 2) this.duplicated++;
    for (let k = 0; k < copies; k++) {
      let due = this.clock.nowMs() + this.delayMs;
      if (this.rnd() < (this.imp.reorder ?? 0)) {
        due += this.imp.jitterMs ?? 1;
        this.reordered++;
      }
      let i = this.queue.length;
      while (i > 0 && this.queue[i - 1]!.due > due) i--;
      this.queue.splice(i, 0, { due, frame });
    }
    this.arm();
  };

  private arm(): void {
    if (this.queue.length > 0) this.timer.arm(this.queue[0]!.due - this.clock.nowMs());
  }

  private flush(): void {
    const now = this.clock.nowMs();
    while (this.queue.length > 0 && this.queue[0]!.due <= now) this.deliver(this.queue.shift()!.frame);
    this.arm();
  }
}

export interface DevmemLinkOptions {
  readonly mode: HeaderSplitMode;
  readonly poolBytes?: number;
  readonly seed?: number;
  /** Loss toward the host (the NIC never sees those frames). */
  readonly lossToHost?: number;
  /** Duplication and reordering toward the host. */
  readonly dupToHost?: number;
  readonly reorderToHost?: number;
  readonly mtu?: number;
  /** Host receive buffer (bounds what the out-of-order queue can pin). */
  readonly rcvBufBytes?: number;
  /** Make the devmem socket at once (default) or leave it to the test. */
  readonly attach?: boolean;
}

export class DevmemLink {
  readonly clock = new VirtualClock(0);
  readonly dev: DevmemDevice;
  readonly binding: DmabufBinding;
  readonly nic: NicEmu;
  readonly host: TcpSocket;
  readonly peer: TcpSocket;
  readonly key: FlowKey = { remoteIp: PEER.ip, remotePort: PEER.port, localIp: HOST.ip, localPort: HOST.port };
  readonly toHost: FrameLine;
  readonly toPeer: FrameLine;
  readonly stats: DevmemSocketStats = newDevmemSocketStats();
  devmem: DevmemSocket | undefined;

  constructor(o: DevmemLinkOptions) {
    const rnd = prng(o.seed ?? 1);
    this.dev = new DevmemDevice({ queues: ['off', o.mode] });
    const id = this.dev.bindRx({ queues: [1], dmabuf: new Dmabuf(o.poolBytes ?? 4 << 20) });
    this.binding = this.dev.binding(id)!;
    this.nic = new NicEmu(new SilentPort(), { mac: Buffer.from(HOST.mac) });
    const mtu = o.mtu ?? 1500;
    const toHost: LineImpairment = { loss: o.lossToHost ?? 0, dup: o.dupToHost ?? 0, reorder: o.reorderToHost ?? 0, jitterMs: 0.3 };
    this.toHost = new FrameLine(this.clock, rnd, toHost, 0.05, (f) => this.nic.rxFrame(f, 0));
    this.toPeer = new FrameLine(this.clock, rnd, { loss: 0 }, 0.05, (f) => this.peer.input(skbFromFrame(f)));
    this.host = new TcpSocket({ clock: this.clock, output: this.toPeer.send, local: HOST, remote: PEER, mtu, rcvBufBytes: o.rcvBufBytes, iss: 1000, tsOffset: 7 });
    this.peer = new TcpSocket({ clock: this.clock, output: this.toHost.send, local: PEER, remote: HOST, mtu, iss: 0xffff_fff0, tsOffset: 99 });
    this.dev.steering.addRule(this.key, 1);
    this.nic.addFlow({
      key: this.key,
      deliver: (skb) => this.host.input(skb),
      offload: this.dev.engineFor(this.key),
      batchStart: () => this.host.beginRxBatch(),
      batchEnd: () => this.host.endRxBatch(),
    });
    void this.peer.listen();
    void this.host.connect();
    this.runUntil(() => this.host.state === 'ESTABLISHED' && this.peer.state === 'ESTABLISHED', 30_000);
    if (this.host.state !== 'ESTABLISHED') throw new Error(`handshake did not finish: ${this.host.state}`);
    if (o.attach ?? true) this.attach();
  }

  attach(): DevmemSocket {
    this.devmem = new DevmemSocket(this.host, this.dev, this.key, this.stats);
    return this.devmem;
  }

  /** Runs the clock for `ms` virtual milliseconds. */
  run(ms: number): void {
    this.clock.advance(ms);
  }

  /** Runs until `done()` or `limitMs` of virtual time. */
  runUntil(done: () => boolean, limitMs = 600_000): void {
    const end = this.clock.nowMs() + limitMs;
    while (!done() && this.clock.nowMs() < end) {
      if (!this.clock.step(end)) break;
    }
  }
}
