/**
 * The NIC's port in a replay: frames toward the host, as the replay reads
 * them from the capture, handed to the consumer (the NIC, or the impairment
 * stage in front of it) at once, in order, in the batches the replay makes.
 *
 * Why not the pcap-file port (nicemu/port/pcap-file.ts): a replay splits the
 * capture by direction — the host's own frames never enter its NIC, they
 * rebuild the ULP's state — and each host frame must take effect exactly
 * between the target frames around it (a command learned before its data
 * arrives), so the replay reads the file itself and feeds this port
 * synchronously. Nothing is ever transmitted: a replayed host does not talk.
 */
import { PortCounters, PortError, type Port, type PortStats, type RxConsumer, type RxFrame } from '../nicemu/port/port.js';

export class ReplayPort implements Port {
  private consumer: RxConsumer | null = null;
  private readonly counters = new PortCounters();
  private closed = false;

  get stats(): PortStats {
    return this.counters.snapshot();
  }

  /** Hands a batch to the consumer now (the replay's receive path runs inside this call). */
  deliver(batch: readonly RxFrame[]): void {
    if (this.closed || batch.length === 0) return;
    const c = this.counters;
    c.rxFrames += batch.length;
    for (let i = 0; i < batch.length; i++) c.rxBytes += batch[i]!.data.length;
    if (this.consumer === null) throw new PortError('PORT_CLOSED', 'replay port: frames delivered before the NIC registered');
    this.consumer(batch);
  }

  send(frame: Buffer): void {
    if (this.closed) throw new PortError('PORT_CLOSED', 'replay port is closed');
    // A replayed host has no wire: what it would send is counted and dropped.
    this.counters.txFrames++;
    this.counters.txBytes += frame.length;
  }

  onFrames(consumer: RxConsumer): void {
    if (this.consumer !== null) throw new PortError('PORT_CONSUMER_SET', 'replay port already has a consumer');
    this.consumer = consumer;
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}
