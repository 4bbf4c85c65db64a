/**
 * The capture tap: a Port decorator that writes every frame in both
 * directions to a pcap file (what tcpdump on the interface would show),
 * and passes everything through unchanged.
 *
 * Received frames keep the timestamp their backend gave them (the kernel's
 * capture time, or the replayed file's); sent frames are stamped when send()
 * is called, from the same wall clock at µs resolution. Records are written
 * when the frames pass the tap, so a received frame may follow a sent frame
 * with a later timestamp (it waited in the rx ring); Wireshark sorts by
 * time if asked.
 */
import type { Writable } from 'node:stream';
import { PcapWriter, type PcapWriteOptions } from '../../wire/pcap.js';
import type { Port, PortStats, RxConsumer } from './port.js';

export class CapturePort implements Port {
  private readonly writer: PcapWriter;
  private writeError: Error | null = null;
  private closing: Promise<void> | null = null;

  constructor(
    private readonly inner: Port,
    target: string | Writable,
    opts: PcapWriteOptions = {},
  ) {
    this.writer = new PcapWriter(target, opts);
  }

  /** Frames written to the capture so far. */
  get framesCaptured(): number {
    return this.writer.framesWritten;
  }

  get stats(): PortStats {
    return this.inner.stats;
  }

  send(frame: Buffer): void {
    this.inner.send(frame);
    this.capture(frame, performance.timeOrigin + performance.now());
  }

  onFrames(consumer: RxConsumer): void {
    this.inner.onFrames((batch) => {
      for (let k = 0; k < batch.length; k++) this.capture(batch[k]!.data, batch[k]!.tsUs / 1000);
      consumer(batch);
    });
  }

  /** Closes the inner port, then flushes and closes the capture; a failed write surfaces here. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.inner.close();
      await this.writer.close();
      if (this.writeError) throw this.writeError;
    })();
    return this.closing;
  }

  private capture(frame: Buffer, tsMs: number): void {
    if (this.closing !== null) return;
    // The writer queues in call order; a failure (disk full) is kept for close().
    this.writer.write(frame, tsMs).catch((e: unknown) => {
      this.writeError ??= e instanceof Error ? e : new Error(String(e));
    });
  }
}

/** Wraps `inner` so that every frame it sends or receives is also written to `target` (a path or a stream). */
export function withCapture(inner: Port, target: string | Writable, opts: PcapWriteOptions = {}): CapturePort {
  return new CapturePort(inner, target, opts);
}
