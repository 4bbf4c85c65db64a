/**
 * A Port over a capture file, pcap or pcapng (replay): the file's frames are the received
 * frames, handed to the consumer in order, in batches, with their capture
 * timestamps, as fast as the consumer takes them — replay is about what
 * happens, not when, and that keeps it deterministic. Reading waits while
 * the rx ring is full instead of dropping: a file never overruns the NIC.
 *
 * What the consumer sends goes nowhere (there is no wire), but is counted,
 * and `onTransmit` lets a replay harness look at it.
 *
 * The frames are views into the reader's buffers (src/wire/capture-reader.ts): nothing
 * else writes there, so the consumer owns them without a copy.
 */
import { openCapture, type CaptureReader, type CaptureTruncation } from '../../wire/capture-reader.js';
import { PortCounters, PortError } from './port.js';
import type { Port, PortStats, RxConsumer } from './port.js';
import { RxRing } from '../rx-ring.js';

export interface PcapFilePortOptions {
  /** The capture to replay (pcap or pcapng, Ethernet). */
  readonly path: string;
  /** Which frames become received frames (e.g. only those to the host's MAC); default all. */
  readonly accept?: (frame: Buffer) => boolean;
  /** Called with every frame the consumer sends. */
  readonly onTransmit?: (frame: Buffer) => void;
  /** Rx ring slots (default 4096). */
  readonly rxRingFrames?: number;
  /** Frames per batch at most (default 256). */
  readonly batchFrames?: number;
  /** Time per event-loop turn spent handing batches over, µs (default 2000). */
  readonly budgetUs?: number;
}

export class PcapFilePort implements Port {
  readonly path: string;
  /**
   * Resolves once every accepted frame of the file has been handed to the
   * consumer (or the port was closed) — for a file cut short, every whole
   * record before the cut, and `truncated` says what was lost; rejects if the
   * file turns out to be corrupt part-way (a typed WireError). Await it.
   */
  readonly done: Promise<void>;
  private readonly counters = new PortCounters();
  private readonly ring: RxRing;
  private closed = false;
  private skippedFrames = 0;

  private constructor(
    private readonly reader: CaptureReader,
    private readonly opts: PcapFilePortOptions,
  ) {
    this.path = opts.path;
    this.ring = new RxRing(this.counters, {
      capacityFrames: opts.rxRingFrames ?? 4096,
      batchFrames: opts.batchFrames ?? 256,
      budgetUs: opts.budgetUs ?? 2000,
    });
    this.done = this.pump();
  }

  /** Opens the file and checks its header and first record (PCAP_FORMAT / PCAP_LINKTYPE / PCAP_TRUNCATED fail here). */
  static async open(opts: PcapFilePortOptions): Promise<PcapFilePort> {
    return new PcapFilePort(await openCapture(opts.path), opts);
  }

  /** Once `done` resolved: set when the file ends inside a record or block (what was cut, and where). */
  get truncated(): CaptureTruncation | undefined {
    return this.reader.truncated;
  }

  /** Records of the file that `accept` turned away. */
  get skipped(): number {
    return this.skippedFrames;
  }

  get stats(): PortStats {
    return this.counters.snapshot();
  }

  send(frame: Buffer): void {
    if (this.closed) throw new PortError('PORT_CLOSED', `replay port on ${this.path} is closed`);
    this.counters.txFrames++;
    this.counters.txBytes += frame.length;
    this.opts.onTransmit?.(frame);
  }

  onFrames(consumer: RxConsumer): void {
    this.ring.setConsumer(consumer);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.ring.close();
    this.reader.close();
    await this.done.catch(() => undefined);
  }

  private async pump(): Promise<void> {
    const accept = this.opts.accept;
    for await (const rec of this.reader) {
      if (this.closed) return;
      if (accept !== undefined && !accept(rec.data)) {
        this.skippedFrames++;
        continue;
      }
      await this.ring.whenNotFull();
      if (this.closed) return;
      this.ring.push({ data: rec.data, tsUs: rec.tsSec * 1_000_000 + Math.floor(rec.tsNsec / 1000) });
    }
    await this.ring.drained();
  }
}

/** Opens a replay Port over a capture file (pcap or pcapng). */
export function openPcapFilePort(opts: PcapFilePortOptions): Promise<PcapFilePort> {
  return PcapFilePort.open(opts);
}
