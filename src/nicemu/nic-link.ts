/**
 * What the host's network stack needs of its NIC: its MAC, transmit, ARP
 * frames, and flow steering. NicEmu in the host's own thread and the
 * NicThread proxy of a NIC on its own thread (nicemu/thread/) both offer it.
 */
import type { FlowEntry, FlowKey } from './flow-table.js';
import type { ArpHandler } from './nic.js';

export interface NicLink {
  readonly mac: Buffer;
  send(frame: Buffer): void;
  onArp(handler: ArpHandler): void;
  /** Steers received segments of `entry.key` to `entry.deliver` (batchStart/batchEnd around each receive batch). */
  addFlow(entry: FlowEntry): void;
  removeFlow(key: FlowKey): boolean;
}
