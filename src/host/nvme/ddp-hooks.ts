/**
 * Where direct data placement plugs into the host ULP, after the
 * ULP side of the netdev DDP series (docs/protocol-facts.md, "The DDP offload series"):
 *
 *  - setup: before a read's CapsuleCmd is sent, the ULP offers the NIC the
 *    command's CID and destination buffer (the SGL). Best effort: a refusal
 *    leaves the read on the copy path.
 *  - teardown: at completion the ULP releases the mapping; the NIC may answer
 *    later (ddp_teardown_done), and only then may the request complete and
 *    its CID and buffer be reused.
 *  - resync: the receive state machine reports the TCP sequence number of
 *    every PDU header it reaches, which is what a pending resync request from
 *    the NIC is compared with.
 *
 * The queue implements none of the offload itself; with no hooks installed
 * it behaves exactly as without a DDP-capable NIC.
 */

import type { UlpMode } from './ulp-mode.js';

/** What teardown did: finished now, or the NIC will call the queue's ddpTeardownDone(cid) later. */
export type DdpTeardownResult = 'done' | 'pending';

export interface NvmeDdpHooks {
  /** Reads shorter than this are not offered to setup (the driver's io_threshold). */
  readonly ioThresholdBytes: number;
  /**
   * Offers the read with command id `cid`, whose data goes to `sgl` (in
   * order; today one Buffer, the request's destination). Returns true when
   * the NIC will place the read's C2HData payload directly into `sgl`.
   */
  setup(cid: number, sgl: readonly Buffer[]): boolean;
  /** Releases `cid`'s mapping; for 'pending' the NIC calls the queue's ddpTeardownDone(cid). */
  teardown(cid: number): DdpTeardownResult;
  /**
   * The receive state machine reached a PDU header whose first byte has TCP
   * sequence number `seq` (u32). Called for every PDU, in stream order.
   */
  onPduHeaderAt?(seq: number): void;
  /** How a data digest the NIC did not fully verify is checked (ulp-mode.ts); default 'reference'. */
  readonly ulpMode?: UlpMode;
  /** True while the NIC verifies this queue's data digests (the series' NVME_TCP_Q_OFF_DDGST_RX). */
  ddgstRxOffloaded?(): boolean;
  /**
   * Largest read the queue sends as one command while it is offloaded
   * (max_ddp_sgl_len pages, which Linux makes the block queue's max segments
   * and max I/O size), or undefined: no limit.
   */
  maxReadBytes?(): number | undefined;
  /** A read was split into `commands` commands by maxReadBytes. */
  onReadSplit?(commands: number): void;
  /** A read the NIC had mapped completed to the application (`cid` still names it): the model's audit. */
  onCompleted?(cid: number): void;
}
