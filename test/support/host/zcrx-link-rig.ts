/**
 * Test support for io_uring zero-copy receive: a peer TcpSocket (the
 * sender) and a host TcpSocket behind a NicEmu whose DevmemDevice has a zcrx
 * interface queue registered on rx queue 1, with the flow steered there;
 * frames go both ways through delay lines on a VirtualClock (no loss).
 * Frames toward the host take the whole NIC receive path (parse, checksum,
 * flow, header split into the area, maybe a drop when the pool is empty).
 */
import { VirtualClock } from '../../../src/host/net/clock.js';
import { DelayLine } from '../../../src/lab/delay-line.js';
import { TcpSocket } from '../../../src/host/net/tcp-socket.js';
import { ZcrxCompletionQueue, ZcrxSocket } from '../../../src/host/zcrx/recv-zc.js';
import { DevmemDevice } from '../../../src/nicemu/devmem/device.js';
import { registerZcrxIfq, type ZcrxIfq } from '../../../src/nicemu/devmem/zcrx-ifq.js';
import type { FlowKey } from '../../../src/nicemu/flow-table.js';
import { NicEmu } from '../../../src/nicemu/nic.js';
import { HOST, PEER, skbFromFrame } from './tcp-peer.js';
import { SilentPort } from '../nicemu/silent-port.js';
import { connectThroughNic, runClockUntil } from './nic-flow.js';


export interface ZcrxLinkOptions {
  readonly areaBytes?: number;
  readonly rqEntries?: number;
  readonly cqEntries?: number;
  /** Make the zcrx socket at once (default) or leave it to the test (bytes before it land in host memory). */
  readonly attach?: boolean;
}

export class ZcrxLink {
  readonly clock = new VirtualClock(0);
  readonly dev = new DevmemDevice({ queues: ['off', 'tcp'] });
  readonly ifq: ZcrxIfq;
  readonly nic: NicEmu;
  readonly host: TcpSocket;
  readonly peer: TcpSocket;
  readonly cq: ZcrxCompletionQueue;
  readonly key: FlowKey = { remoteIp: PEER.ip, remotePort: PEER.port, localIp: HOST.ip, localPort: HOST.port };
  zc: ZcrxSocket | undefined;

  constructor(o: ZcrxLinkOptions = {}) {
    this.ifq = registerZcrxIfq(this.dev, { queue: 1, areaBytes: o.areaBytes ?? 1 << 20, rqEntries: o.rqEntries ?? 64 });
    this.cq = new ZcrxCompletionQueue(o.cqEntries ?? 4096);
    this.nic = new NicEmu(new SilentPort(), { mac: Buffer.from(HOST.mac) });
    const toHost = new DelayLine(this.clock, { delayMs: 0.05 }, (f) => this.nic.rxFrame(f, 0));
    const toPeer = new DelayLine(this.clock, { delayMs: 0.05 }, (f) => this.peer.input(skbFromFrame(f)));
    this.host = new TcpSocket({ clock: this.clock, output: toPeer.send, local: HOST, remote: PEER, iss: 1000, tsOffset: 7 });
    this.peer = new TcpSocket({ clock: this.clock, output: toHost.send, local: PEER, remote: HOST, iss: 5000, tsOffset: 99 });
    connectThroughNic({ clock: this.clock, nic: this.nic, dev: this.dev, key: this.key, queue: 1, host: this.host, peer: this.peer });
    if (o.attach ?? true) this.attach();
  }

  attach(): ZcrxSocket {
    this.zc = new ZcrxSocket(this.host, this.dev, this.key, this.ifq, this.cq);
    return this.zc;
  }

  /** The peer writes `data`; runs until the host has it all queued. */
  send(data: Buffer): void {
    const want = this.host.readableLength + data.length;
    this.peer.write([data]);
    this.runUntil(() => this.host.readableLength >= want && this.peer.bufferedBytes === 0, 10_000);
  }

  runUntil(done: () => boolean, limitMs = 600_000): void {
    runClockUntil(this.clock, done, limitMs);
  }
}
