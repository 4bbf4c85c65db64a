/**
 * The receiving half's window and acknowledgement rules for one TCP
 * connection: RCV.WND as the right edge we advertised (it never moves left),
 * receiver silly-window avoidance, window updates after a read, and when an
 * ACK is due (every second full-sized segment, at once for anything the
 * sender must hear about, one ACK per rx batch, or the delayed-ACK timer).
 *
 * Linux splits the same work between tcp_select_window (tcp_output.c),
 * __tcp_ack_snd_check and tcp_cleanup_rbuf; the socket asks here and sends
 * the ACK itself.
 */
import type { RxInsertResult } from './tcp-rx-queue.js';
import type { TcpStats } from './tcp-stats.js';
import { seqAdd, seqDiff, seqGt } from '../../wire/seq.js';

/** RFC 9293 §3.7.1: the MSS to assume when the peer sends none. */
export const DEFAULT_PEER_MSS = 536;
/** Linux GRO merges at most 64 KiB into one skb, which then gets one ACK. */
const GRO_MAX_BYTES = 65536;

export class TcpReceiveWindow {
  /** Right edge of the window we advertised (RCV.NXT + RCV.WND when it was sent). */
  rcvRight = 0;
  /** Shift applied to windows we send (0 until the peer's SYN offered scaling). */
  rcvWscale = 0;
  /**
   * Payload of a full-sized segment from the peer: the largest seen so far,
   * at most our MSS minus the timestamp option (Linux's rcv_mss estimate, so
   * that "every second full-sized segment" holds for a peer sending smaller
   * segments than we allow).
   */
  rcvMss = DEFAULT_PEER_MSS;
  /** In-order bytes received since we last sent an ACK. */
  ackPendingBytes = 0;
  /** The last segment calls for an ACK now. */
  ackNeeded = false;

  private rcvMssMax = DEFAULT_PEER_MSS;
  private lastAdvertisedWnd = -1;
  /**
   * Inside an rx batch (the NIC is handing over one poll's worth of frames),
   * ACKs due only to the every-second-segment rule wait for the batch end:
   * one ACK per batch, as Linux sends one per GRO-merged skb. ACKs that tell
   * the sender something (out of order, duplicate, hole filled, FIN,
   * window) still go at once.
   */
  private inRxBatch = false;
  private ackDeferred = false;

  constructor(
    /** Receive buffer: the most unread bytes we let the peer send. */
    private readonly rcvBuf: number,
    private readonly stats: TcpStats,
  ) {}

  /** The window in our SYN / SYN-ACK: never scaled (RFC 7323 §2.2). */
  synWindow(): number {
    return Math.min(this.rcvBuf, 0xffff);
  }

  /** The peer's SYN arrived: the window opens at `rcvNxt` with the negotiated scale and MSS ceiling. */
  open(rcvNxt: number, rcvWscale: number, rcvMssMax: number): void {
    this.rcvWscale = rcvWscale;
    this.rcvMssMax = rcvMssMax;
    this.rcvMss = Math.min(DEFAULT_PEER_MSS, rcvMssMax);
    this.rcvRight = seqAdd(rcvNxt, this.synWindow());
  }

  /** RCV.WND: what is left of the advertised window at `rcvNxt`. */
  rcvWnd(rcvNxt: number): number {
    return Math.max(0, seqDiff(this.rcvRight, rcvNxt));
  }

  /**
   * Picks the window field for an outgoing segment and moves the right edge.
   * Free buffer space decides, but the right edge never moves left (RFC 9293
   * §3.8.6, RFC 7323 §2.4: round up rather than shrink) and only moves right
   * by at least min(rcvBuf / 2, MSS) (receiver SWS avoidance, RFC 9293 §3.8.6.2.2).
   */
  selectWindowField(rcvNxt: number, queuedBytes: number): number {
    const free = Math.max(0, this.rcvBuf - queuedBytes);
    const candidate = seqAdd(rcvNxt, (free >>> this.rcvWscale) << this.rcvWscale);
    const grow = seqDiff(candidate, this.rcvRight);
    if (grow >= Math.min(this.rcvBuf >>> 1, this.rcvMss)) this.rcvRight = candidate;
    let wnd = seqDiff(this.rcvRight, rcvNxt);
    if (wnd < 0) wnd = 0;
    let field = Math.ceil(wnd / (1 << this.rcvWscale));
    if (field > 0xffff) field = 0xffff;
    const advertised = field << this.rcvWscale;
    if (seqGt(seqAdd(rcvNxt, advertised), this.rcvRight)) this.rcvRight = seqAdd(rcvNxt, advertised);
    if (advertised === 0 && this.lastAdvertisedWnd !== 0) this.stats.zeroWindowOurs++;
    else if (advertised !== 0 && this.lastAdvertisedWnd === 0) this.stats.zeroWindowReopened++;
    this.lastAdvertisedWnd = advertised;
    return field;
  }

  /**
   * After the application read: a window update is due when the window can
   * open by at least the SWS threshold and at least double (Linux's rule in
   * tcp_cleanup_rbuf), so that a zero or small window reopens without
   * waiting for the peer's persist timer.
   */
  windowUpdateDue(rcvNxt: number, queuedBytes: number): boolean {
    const cur = this.rcvWnd(rcvNxt);
    const free = Math.max(0, this.rcvBuf - queuedBytes);
    const candidateWnd = (free >>> this.rcvWscale) << this.rcvWscale;
    const grow = candidateWnd - cur;
    return grow >= Math.min(this.rcvBuf >>> 1, this.rcvMss) && candidateWnd >= 2 * cur;
  }

  /** A segment with `len` payload bytes is about to be queued: it may raise the rcv_mss estimate. */
  noteSegment(len: number): void {
    if (len > this.rcvMss) this.rcvMss = len < this.rcvMssMax ? len : this.rcvMssMax;
  }

  /** What the receive queue made of a segment decides whether and when it is acknowledged. */
  afterInsert(res: RxInsertResult, newBytes: number, hasDsack: boolean): void {
    const stats = this.stats;
    switch (res) {
      case 'in-order':
        this.ackPendingBytes += newBytes;
        // RFC 5681 §4.2 / RFC 9293 §3.8.6.3: ACK at least every second full-sized segment.
        if (hasDsack) this.ackNeeded = true;
        else if (this.ackPendingBytes >= 2 * this.rcvMss) {
          // In a batch, at most 64 KiB go unacknowledged: GRO's largest merged skb.
          if (this.inRxBatch && this.ackPendingBytes < GRO_MAX_BYTES) this.ackDeferred = true;
          else this.ackNeeded = true;
        }
        break;
      case 'hole-filled':
        this.ackPendingBytes += newBytes;
        this.ackNeeded = true;
        stats.quickAcks++;
        break;
      case 'out-of-order':
      case 'duplicate':
        this.ackNeeded = true;
        stats.quickAcks++;
        stats.dupAcksSent++;
        break;
      case 'beyond-window':
        stats.ofoDrop++;
        this.ackNeeded = true;
        break;
      case 'ofo-no-memory':
        // Dropped without an ACK, as Linux drops a segment it cannot charge:
        // nothing changed that the peer needs to hear about.
        break;
    }
  }

  beginRxBatch(): void {
    this.inRxBatch = true;
  }

  /** The batch is over: true when the ACK the every-second-segment rule deferred is still due. */
  endRxBatch(): boolean {
    this.inRxBatch = false;
    if (!this.ackDeferred) return false;
    this.ackDeferred = false;
    return this.ackPendingBytes >= 2 * this.rcvMss;
  }

  /** An ACK went out: nothing is pending any more. */
  ackSent(): void {
    this.ackPendingBytes = 0;
    this.ackNeeded = false;
  }
}
