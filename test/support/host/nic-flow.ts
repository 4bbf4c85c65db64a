/**
 * What the in-memory devmem and zcrx links share: a host TcpSocket whose
 * flow is steered to a rx queue of a DevmemDevice and delivered through the
 * NIC, the handshake with its peer, and running a VirtualClock until
 * something holds.
 */
import type { VirtualClock } from '../../../src/host/net/clock.js';
import type { TcpSocket } from '../../../src/host/net/tcp-socket.js';
import type { DevmemDevice } from '../../../src/nicemu/devmem/device.js';
import type { FlowKey } from '../../../src/nicemu/flow-table.js';
import type { NicEmu } from '../../../src/nicemu/nic.js';

/** Runs the clock until `done()` or `limitMs` of virtual time. */
export function runClockUntil(clock: VirtualClock, done: () => boolean, limitMs = 600_000): void {
  const end = clock.nowMs() + limitMs;
  while (!done() && clock.nowMs() < end) {
    if (!clock.step(end)) break;
  }
}

/** Steers `key` to `queue`, hands its frames through the NIC (and the queue's engine) to `host`, and connects `host` to `peer`. */
export function connectThroughNic(o: {
  clock: VirtualClock;
  nic: NicEmu;
  dev: DevmemDevice;
  key: FlowKey;
  queue: number;
  host: TcpSocket;
  peer: TcpSocket;
}): void {
  const { host, peer } = o;
  o.dev.steering.addRule(o.key, o.queue);
  o.nic.addFlow({
    key: o.key,
    deliver: (skb) => host.input(skb),
    offload: o.dev.engineFor(o.key),
    batchStart: () => host.beginRxBatch(),
    batchEnd: () => host.endRxBatch(),
  });
  void peer.listen();
  void host.connect();
  runClockUntil(o.clock, () => host.state === 'ESTABLISHED' && peer.state === 'ESTABLISHED', 30_000);
  if (host.state !== 'ESTABLISHED') throw new Error(`handshake did not finish: ${host.state}`);
}
