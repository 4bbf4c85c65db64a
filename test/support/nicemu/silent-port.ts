/**
 * A Port for tests that drive the NIC by hand: frames go in through
 * NicEmu.rxFrame, whatever the NIC sends is dropped (the peer is scripted).
 */
import type { Port, PortStats, RxConsumer } from '../../../src/nicemu/port/port.js';

export class SilentPort implements Port {
  readonly stats: PortStats = { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, rxKernelDrops: 0, rxQueueDrops: 0, txErrors: 0 };
  send(): void {}
  onFrames(_c: RxConsumer): void {}
  close(): Promise<void> {
    return Promise.resolve();
  }
}
