/**
 * A Port the fuzz harness drives by hand: received frames are handed to the
 * NIC's consumer in batches the harness chooses (one poll of a real port),
 * frames the NIC sends are kept for the harness to look at or drop.
 */
import type { Port, PortStats, RxConsumer, RxFrame } from '../nicemu/port/port.js';

export class ScriptPort implements Port {
  readonly stats: PortStats = { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, rxKernelDrops: 0, rxQueueDrops: 0, txErrors: 0 };
  /** Frames the NIC transmitted since the harness last emptied this. */
  readonly sent: Buffer[] = [];
  private consumer: RxConsumer | undefined;

  send(frame: Buffer): void {
    this.sent.push(frame);
  }

  onFrames(c: RxConsumer): void {
    this.consumer = c;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Delivers one batch of frames to the NIC, as one poll of the port would. */
  deliver(frames: readonly Buffer[], tsUs = 0): void {
    if (this.consumer === undefined) throw new Error('ScriptPort: no consumer registered');
    const batch: RxFrame[] = frames.map((data) => ({ data, tsUs }));
    this.consumer(batch);
  }
}
