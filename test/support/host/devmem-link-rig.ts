/**
 * Test support for devmem receive: a peer TcpSocket (the sender, with
 * Linux-like retransmission) and a host TcpSocket behind a NicEmu whose
 * DevmemDevice steers the flow to a bound queue, joined by two delay lines
 * on a VirtualClock with seeded loss. Frames toward the host go through the
 * whole NIC receive path (parse, checksum, flow, header split, maybe drop).
 */
import { VirtualClock } from '../../../src/host/net/clock.js';
import { DelayLine, type DelayLineImpairment } from '../../../src/lab/delay-line.js';
import { DevmemSocket, newDevmemSocketStats, type DevmemSocketStats } from '../../../src/host/devmem/socket.js';
import { TcpSocket } from '../../../src/host/net/tcp-socket.js';
import { DevmemDevice } from '../../../src/nicemu/devmem/device.js';
import { Dmabuf, type DmabufBinding } from '../../../src/nicemu/devmem/dmabuf.js';
import type { FlowKey } from '../../../src/nicemu/flow-table.js';
import type { HeaderSplitMode } from '../../../src/nicemu/devmem/header-split.js';
import { NicEmu } from '../../../src/nicemu/nic.js';
import { HOST, PEER, prng, skbFromFrame } from './tcp-peer.js';
import { SilentPort } from '../nicemu/silent-port.js';
import { connectThroughNic, runClockUntil } from './nic-flow.js';

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
  readonly toHost: DelayLine;
  readonly toPeer: DelayLine;
  readonly stats: DevmemSocketStats = newDevmemSocketStats();
  devmem: DevmemSocket | undefined;

  constructor(o: DevmemLinkOptions) {
    const rnd = prng(o.seed ?? 1);
    this.dev = new DevmemDevice({ queues: ['off', o.mode] });
    const id = this.dev.bindRx({ queues: [1], dmabuf: new Dmabuf(o.poolBytes ?? 4 << 20) });
    this.binding = this.dev.binding(id)!;
    this.nic = new NicEmu(new SilentPort(), { mac: Buffer.from(HOST.mac) });
    const mtu = o.mtu ?? 1500;
    const toHost: DelayLineImpairment = { loss: o.lossToHost ?? 0, dup: o.dupToHost ?? 0, reorder: o.reorderToHost ?? 0, jitterMs: 0.3 };
    this.toHost = new DelayLine(this.clock, { delayMs: 0.05, rnd, impair: toHost }, (f) => this.nic.rxFrame(f, 0));
    // The generator is drawn as for the other direction (loss, dup, reorder), so a seed replays the same wire.
    this.toPeer = new DelayLine(this.clock, { delayMs: 0.05, rnd, impair: { loss: 0, dup: 0, reorder: 0 } }, (f) => this.peer.input(skbFromFrame(f)));
    this.host = new TcpSocket({ clock: this.clock, output: this.toPeer.send, local: HOST, remote: PEER, mtu, rcvBufBytes: o.rcvBufBytes, iss: 1000, tsOffset: 7 });
    this.peer = new TcpSocket({ clock: this.clock, output: this.toHost.send, local: PEER, remote: HOST, mtu, iss: 0xffff_fff0, tsOffset: 99 });
    connectThroughNic({ clock: this.clock, nic: this.nic, dev: this.dev, key: this.key, queue: 1, host: this.host, peer: this.peer });
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
    runClockUntil(this.clock, done, limitMs);
  }
}
