/**
 * The byte stream the NVMe/TCP host ULP runs on: one reliable, in-order
 * connection per NVMe queue.
 *
 * Two implementations sit under it: the kernel adapter (kernel-transport.ts,
 * a node:net socket, for loopback tests and as a baseline) and ddplab's own
 * userspace TCP socket, adapted by the integrator. The ULP never learns which:
 * it sees received bytes as skb frags (docs/design.md, "Skb"), so a `placed` frag
 * from a DDP-capable NIC reaches the ULP's copy routine exactly as the kernel's
 * skb frags reach nvme_tcp_recv_data, and the TCP sequence number of every
 * byte, which the DDP resync protocol is stated in.
 */
import type { SkbFrag } from '../../nicemu/skb.js';

/** Bytes received in stream order. */
export interface RxChunk {
  /**
   * TCP sequence number (u32) of frags[0]'s first byte. Consecutive chunks
   * are contiguous: each starts where the previous one ended (mod 2^32).
   * The kernel adapter has no access to the real sequence numbers and uses
   * the stream offset mod 2^32 instead.
   */
  readonly seq: number;
  /** The bytes, in order; a frag may be `host`, `placed` or `dmabuf`. */
  readonly frags: readonly SkbFrag[];
  /**
   * Every byte of these frags was in an skb whose `ddpCrcOk` was set: the NIC
   * verified the data digest of the PDU data they belong to. Always false
   * from the kernel adapter.
   */
  readonly crcOk: boolean;
}

/** A connected stream. Callbacks are registered once, right after connecting. */
export interface StreamTransport {
  /**
   * Queues `bufs` for sending, in order, as one logical write. The transport
   * may keep references to the buffers until they are sent: the caller must
   * not modify them afterwards. Returns false when the send buffer is over
   * its limit: the caller should wait for onDrain before writing more (what
   * it already wrote is not lost).
   */
  write(bufs: readonly Buffer[]): boolean;
  /** Called when a write that returned false has drained. */
  onDrain(cb: () => void): void;
  /** Called for every chunk of received bytes, in stream order. */
  onData(cb: (chunk: RxChunk) => void): void;
  /** Called once when the connection is gone: without an error after an orderly close by either side. */
  onClose(cb: (err?: Error) => void): void;
  /** Orderly close: sends what is queued, then FIN. */
  close(): void;
  /** Abortive close: drops what is queued (RST where the transport can). */
  abort(): void;
}

/** Opens the connection for one NVMe queue (qid 0 is the admin queue). */
export type StreamTransportFactory = (qid: number) => Promise<StreamTransport>;
