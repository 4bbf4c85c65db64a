/**
 * An in-memory link for `ddplab devmem-check`: a sender (ddplab's TCP with
 * Linux-like retransmission, standing in for the selftest's remote end) and
 * a receiver whose frames go through the whole software NIC receive path —
 * parse, checksum, flow table, the devmem device's queue steering and header
 * split, a drop when the page pool is empty — joined by two delay lines on a
 * virtual clock with seeded loss and duplication. No namespace, no root.
 *
 * Several flows can share one NIC (the wrong-steering check opens a second
 * one on an unbound queue).
 */
import { mulberry32 } from '../../base/seeded-rng.js';
import { VirtualClock } from '../../host/net/clock.js';
import { DelayLine } from '../delay-line.js';
import { TcpSocket, type TcpEndpoint } from '../../host/net/tcp-socket.js';
import type { DevmemDevice } from '../../nicemu/devmem/device.js';
import type { FlowKey } from '../../nicemu/flow-table.js';
import { NicEmu } from '../../nicemu/nic.js';
import type { Port, PortStats, RxConsumer } from '../../nicemu/port/port.js';
import type { Skb } from '../../nicemu/skb.js';
import { parseFrame } from '../../wire/frame.js';

const HOST_MAC = Buffer.from([2, 0, 0, 0, 0, 2]);
const PEER_MAC = Buffer.from([2, 0, 0, 0, 0, 1]);
const HOST_IP = 0xc000_0202;
const PEER_IP = 0xc000_0201;

/** The NIC's port: the check feeds frames in by hand and nothing it sends goes anywhere. */
class NullPort implements Port {
  readonly stats: PortStats = { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, rxKernelDrops: 0, rxQueueDrops: 0, txErrors: 0 };
  send(): void {}
  onFrames(_c: RxConsumer): void {}
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A frame as the peer's TCP takes it: one host frag of payload. */
function skbOf(frame: Buffer): Skb | undefined {
  const f = parseFrame(frame);
  if (f.ip === undefined || f.tcp === undefined) return undefined;
  const payload = f.tcp.payload;
  return {
    tcp: f.tcp,
    srcIp: f.ip.src,
    dstIp: f.ip.dst,
    seq: f.tcp.seq,
    len: payload.length,
    head: frame.subarray(0, frame.length - payload.length),
    frags: payload.length > 0 ? [{ kind: 'host', buf: payload }] : [],
    ddpPlaced: false,
    ddpCrcOk: false,
    tsUs: 0,
  };
}


export interface LinkFlowOptions {
  /** The receiver's port (the flow's 5-tuple differs by it). */
  readonly port: number;
  /** Rx queue a 5-tuple rule steers the flow to (undefined: no rule, queue 0). */
  readonly queue?: number;
  /** Loss and duplication toward the receiver. */
  readonly loss?: number;
  readonly dup?: number;
  readonly seed?: number;
  /** The receiver's buffer (bounds what its out-of-order queue can pin). Default 4 MiB. */
  readonly rcvBufBytes?: number;
}

/** One TCP connection over the NIC: `host` receives, `peer` sends. */
export interface LinkFlow {
  readonly key: FlowKey;
  readonly host: TcpSocket;
  readonly peer: TcpSocket;
  readonly toHost: DelayLine;
}

export class DevmemCheckLink {
  readonly clock = new VirtualClock(0);
  readonly nic = new NicEmu(new NullPort(), { mac: HOST_MAC });

  constructor(readonly dev: DevmemDevice) {}

  /** Opens a connection whose receive side goes through the NIC; the host stack holds the flow (DevmemDevice.holdFlow). */
  open(o: LinkFlowOptions): LinkFlow {
    const rnd = mulberry32(o.seed ?? o.port);
    const local: TcpEndpoint = { mac: HOST_MAC, ip: HOST_IP, port: o.port };
    const remote: TcpEndpoint = { mac: PEER_MAC, ip: PEER_IP, port: 4420 };
    const key: FlowKey = { remoteIp: PEER_IP, remotePort: 4420, localIp: HOST_IP, localPort: o.port };
    let peer: TcpSocket | undefined;
    const toPeer = new DelayLine(this.clock, { delayMs: 0.05, rnd, impair: { loss: 0, dup: 0, dupGapMs: 0.01 }, fifo: true }, (f) => {
      const skb = skbOf(f);
      if (skb !== undefined) peer!.input(skb);
    });
    const toHost = new DelayLine(this.clock, { delayMs: 0.05, rnd, impair: { loss: o.loss ?? 0, dup: o.dup ?? 0, dupGapMs: 0.01 }, fifo: true }, (f) => this.nic.rxFrame(f, 0));
    const host = new TcpSocket({ clock: this.clock, output: toPeer.send, local, remote, iss: 1000, tsOffset: 7, rcvBufBytes: o.rcvBufBytes });
    peer = new TcpSocket({ clock: this.clock, output: toHost.send, local: remote, remote: local, iss: 0xffff_fff0, tsOffset: 99 });
    if (o.queue !== undefined) this.dev.steering.addRule(key, o.queue);
    this.nic.addFlow({
      key,
      deliver: (skb) => host.input(skb),
      offload: this.dev.engineFor(key),
      batchStart: () => host.beginRxBatch(),
      batchEnd: () => host.endRxBatch(),
    });
    void peer.listen();
    void host.connect();
    this.runUntil(() => host.state === 'ESTABLISHED' && peer!.state === 'ESTABLISHED', 30_000);
    if (host.state !== 'ESTABLISHED') throw new Error(`the in-memory handshake did not finish (${host.state})`);
    // The host stack's socket holds whatever its queues reference: the page pool asks it before recycling.
    this.dev.holdFlow(key, host);
    return { key, host, peer, toHost };
  }

  /** Runs virtual time until `done()` or `limitMs` passed. */
  runUntil(done: () => boolean, limitMs = 600_000): void {
    const end = this.clock.nowMs() + limitMs;
    while (!done() && this.clock.nowMs() < end) {
      if (!this.clock.step(end)) break;
    }
  }
}
