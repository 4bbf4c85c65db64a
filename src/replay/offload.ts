/**
 * The seam between a replayed connection and a receive offload on its NIC:
 * what the passive host ULP calls where a live ULP would call the DDP ops
 * (src/host/nvme/ddp-hooks.ts), so a replay with `--offload none` runs the
 * very same code with no offload behind it.
 */
import type { ReplayCommand } from './commands.js';

/** The connection parameters the offload is added with (ICReq/ICResp, Connect). */
export interface ReplayOffloadConfig {
  readonly hdgst: boolean;
  readonly ddgst: boolean;
  readonly cpda: number;
  /** I/O queue size (CIDs are below it). */
  readonly queueSize: number;
  /** One past the last target→host byte the host's stream already holds (in order or not): the NIC never saw them. */
  readonly heldEndSeq?: number;
}

export interface ReplayOffload {
  /** sk_add: the connection's next PDU header is at `nextPduSeq`. */
  attach(nextPduSeq: number, config: ReplayOffloadConfig): void;
  /** Maps a read's CID to its buffer (before its data can reach the NIC); true when the NIC took it. */
  setup(cmd: ReplayCommand): boolean;
  /** Unmaps at completion: 'pending' when the NIC reports the end later (the table's teardownDone). */
  teardown(cmd: ReplayCommand): 'done' | 'pending';
  /** A mapped read completed to the application (after its teardown finished): the device's model-only audit. */
  completed(cmd: ReplayCommand): void;
  /** The NIC verifies this connection's data digests (offloaded with nvme-tcp-ddgst-rx). */
  ddgstRxOffloaded(): boolean;
  /** The host's parser reached a PDU header at `seq` (answers the NIC's resync requests). */
  headerAt(seq: number): void;
  /** sk_del at the end of the replay. */
  detach(): void;
}
