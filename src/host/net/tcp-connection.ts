/**
 * One userspace TCP connection (RFC 9293) of the host stack: the state
 * machine, segment arrival processing, the handshake and what the
 * connection sends; the socket API the NVMe/TCP host ULP drives is
 * TcpSocket (tcp-socket.ts), built on this class.
 *
 * Frames in: the NIC demultiplexes by 4-tuple and calls `input(skb)` with
 * the parsed TCP header and the payload as frags (src/nicemu/skb.ts); the
 * connection keeps views of those frags in its TcpRxQueue (tcp-rx-queue.ts,
 * which also holds the ofo queue). Frames out: built by TcpSegmentOut
 * (tcp-segment-out.ts) and handed to `output(frame)` (the Port's send). The
 * sending half lives in TcpTx (tcp-tx.ts), the advertised window and the ACK
 * rules in TcpReceiveWindow (tcp-receive-window.ts); this file is the state
 * machine that ties them together.
 *
 * It copes with what a Linux sender does: retransmissions that overlap
 * received data (trimmed; the bytes accepted first stay), reordering (ofo
 * queue, SACK, D-SACK), window probes (seq = rcv_nxt - 1, answered with an
 * ACK carrying the window), segments larger than the MSS (GRO/TSO left on),
 * timestamps and PAWS (RFC 7323), RSTs checked per RFC 5961.
 */
import type { Clock, ClockTimer } from './clock.js';
import { TcpError } from './tcp-error.js';
import { DEFAULT_PEER_MSS, TcpReceiveWindow } from './tcp-receive-window.js';
import { TcpRxQueue } from './tcp-rx-queue.js';
import type { RxInsertResult } from './tcp-rx-queue.js';
import { IPV4_TCP_HEADERS, TcpSegmentOut, TS_OPTION_LEN } from './tcp-segment-out.js';
import type { TcpSocketConfig, TcpSocketHandlers } from './tcp-socket.js';
import { newTcpStats } from './tcp-stats.js';
import type { TcpStats } from './tcp-stats.js';
import { TcpTx } from './tcp-tx.js';
import type { TcpTxOutput } from './tcp-tx.js';
import { fragLength, type Skb } from '../../nicemu/skb.js';
import { seqAdd, seqDiff, seqGe, seqInWindow, seqLe, seqLt } from '../../wire/seq.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../../wire/tcp.js';
import type { TcpSackBlock } from '../../wire/tcp.js';

export type TcpState =
  | 'CLOSED'
  | 'LISTEN'
  | 'SYN_SENT'
  | 'SYN_RECEIVED'
  | 'ESTABLISHED'
  | 'FIN_WAIT_1'
  | 'FIN_WAIT_2'
  | 'CLOSE_WAIT'
  | 'CLOSING'
  | 'LAST_ACK'
  | 'TIME_WAIT';

/** RFC 7323 §2.3. */
const MAX_WSCALE = 14;

/**
 * The connection itself (RFC 9293 §3.10): its variables, segment arrival in
 * every state, the handshake, the timers (SYN retransmission, delayed ACK,
 * TIME-WAIT) and the segments it sends. TcpSocket adds the API on top.
 */
export class TcpConnection implements TcpTxOutput {
  readonly stats: TcpStats;
  readonly handlers: TcpSocketHandlers = {};
  state: TcpState = 'CLOSED';

  private readonly clock: Clock;
  private readonly output: (frame: Buffer) => void;
  private readonly mtu: number;
  private readonly ofoLimit: number;
  private readonly iss: number;
  protected readonly tx: TcpTx;
  protected rxq: TcpRxQueue;
  protected readonly rwnd: TcpReceiveWindow;
  private readonly out: TcpSegmentOut;

  private readonly wantTs: boolean;
  private readonly wantSack: boolean;
  private readonly wantWscale: boolean;
  private readonly delAckMs: number;
  private readonly synRetries: number;
  private readonly timeWaitMs: number;

  // Negotiated at the handshake.
  protected tsOk = false;
  protected sackOk = false;
  private wscaleOk = false;
  /** Shift applied to windows the peer sends (ours is rwnd.rcvWscale). */
  protected sndWscale = 0;
  private readonly ourWscale: number;
  private peerMss = DEFAULT_PEER_MSS;
  private irs = 0;

  /** Sequence number of a FIN that arrived beyond a hole. */
  private pendingFinSeq: number | undefined;
  protected finReceived = false;

  // Timestamps (RFC 7323).
  private readonly tsOffset: number;
  private tsRecent = 0;
  /** RCV.NXT carried by the last ACK we sent (Last.ACK.sent, RFC 7323 §4.3). */
  private lastAckSent = 0;

  // Handshake.
  private synSentAtMs = 0;
  private lastSynSentAtMs = 0;
  private synTries = 0;
  private readonly synTimer: ClockTimer;
  private readonly delackTimer: ClockTimer;
  private readonly timeWaitTimer: ClockTimer;
  private connectResolve: (() => void) | undefined;
  private connectReject: ((e: TcpError) => void) | undefined;
  protected closeError: TcpError | undefined;
  protected closeNotified = false;

  // Reused so the hot path allocates only the frame.
  private readonly sackIn: number[] = [];

  constructor(cfg: TcpSocketConfig) {
    this.clock = cfg.clock;
    this.output = cfg.output;
    this.mtu = cfg.mtu ?? 1500;
    const rcvBuf = cfg.rcvBufBytes ?? 4 * 1024 * 1024;
    this.ofoLimit = cfg.ofoLimitBytes ?? 2 * rcvBuf;
    this.iss = (cfg.iss ?? Math.floor(Math.random() * 0x1_0000_0000)) >>> 0;
    this.stats = cfg.stats ?? newTcpStats();
    this.wantTs = cfg.timestamps ?? true;
    this.wantSack = cfg.sack ?? true;
    this.wantWscale = cfg.windowScaling ?? true;
    this.delAckMs = cfg.delAckMs ?? 40;
    this.synRetries = cfg.synRetries ?? 6;
    this.timeWaitMs = cfg.timeWaitMs ?? 60_000;
    let ws = 0;
    while (ws < MAX_WSCALE && rcvBuf >>> ws > 0xffff) ws++;
    this.ourWscale = ws;
    this.tsOffset = (cfg.tsOffset ?? Math.floor(Math.random() * 0x1_0000_0000)) >>> 0;
    this.rxq = new TcpRxQueue(0, this.ofoLimit);
    this.rwnd = new TcpReceiveWindow(rcvBuf, this.stats);
    this.out = new TcpSegmentOut(cfg.local, cfg.remote, this.mtu, this.stats);
    this.tx = new TcpTx(
      {
        clock: cfg.clock,
        stats: this.stats,
        sndBufBytes: cfg.sndBufBytes ?? 4 * 1024 * 1024,
        minRtoMs: cfg.minRtoMs ?? 200,
        maxRtoMs: cfg.maxRtoMs ?? 120_000,
        initialRtoMs: cfg.initialRtoMs ?? 1000,
        maxRetries: cfg.maxRetries ?? 15,
      },
      this,
    );
    this.synTimer = cfg.clock.createTimer(() => this.onSynTimeout());
    this.delackTimer = cfg.clock.createTimer(() => this.onDelackTimeout());
    this.timeWaitTimer = cfg.clock.createTimer(() => this.onTimeWaitTimeout());
  }

  // ---------------------------------------------------------------- input

  /**
   * How many payload bytes of `skb`, from its first, input() would take in
   * now (queue them, or know them for bytes it already has); the rest it
   * drops whatever they hold. 0 when input() would throw all of its data
   * away: not receiving (only ESTABLISHED and FIN_WAIT_1/2 take data),
   * PAWS, outside the window, RST, SYN or no ACK, an ACK of data never sent
   * or too old. Bytes past the right edge of the window are cut
   * (TcpRxQueue.insert), and so are bytes from the first out-of-order piece
   * that does not fit under the ofo memory limit. No side effect: a NIC offload that parses the
   * stream asks first, so that it reads only bytes this TCP keeps
   * (docs/design.md, "The invariant"). The same decisions, in the same order,
   * as inputSynchronized makes them.
   */
  acceptableBytes(skb: Skb): number {
    if (skb.len === 0) return 0;
    if (this.state !== 'ESTABLISHED' && this.state !== 'FIN_WAIT_1' && this.state !== 'FIN_WAIT_2') return 0;
    const tcp = skb.tcp;
    const f = tcp.flags;
    const tsVal = tcp.options.tsVal;
    if (this.tsOk && tsVal !== undefined && (f & TCP_RST) === 0 && seqLt(tsVal, this.tsRecent)) return 0;
    const rcvNxt = this.rxq.rcvNxt;
    const rcvWnd = this.rwnd.rcvWnd(rcvNxt);
    if (rcvWnd === 0) return 0;
    const segLen = segmentLength(skb);
    if (!seqInWindow(tcp.seq, rcvNxt, rcvWnd) && !seqInWindow(seqAdd(tcp.seq, segLen - 1), rcvNxt, rcvWnd)) return 0;
    if ((f & (TCP_RST | TCP_SYN)) !== 0 || (f & TCP_ACK) === 0) return 0;
    if (this.tx.ackVerdict(tcp.ack) !== 'ok') return 0;
    const room = seqDiff(this.rwnd.rcvRight, tcp.seq);
    return room <= 0 ? 0 : this.rxq.acceptablePrefix(tcp.seq, Math.min(skb.len, room));
  }


  /**
   * One received segment of this connection (the caller demultiplexed it).
   * `checksumOk` false counts it as a checksum error and drops it.
   */
  input(skb: Skb, checksumOk = true): void {
    this.stats.inSegs++;
    if (!checksumOk) {
      this.stats.csumErrors++;
      return;
    }
    if (skb.ddpPlaced) this.stats.ddpPlacedRefusedBytes += placedPastPrefix(skb, this.acceptableBytes(skb));
    switch (this.state) {
      case 'CLOSED':
        this.replyToStray(skb);
        return;
      case 'LISTEN':
        this.inputListen(skb);
        return;
      case 'SYN_SENT':
        this.inputSynSent(skb);
        return;
      default:
        this.inputSynchronized(skb);
    }
  }

  /** RFC 9293 §3.10.7.1: a segment for a connection that does not exist gets a RST. */
  private replyToStray(skb: Skb): void {
    const tcp = skb.tcp;
    if ((tcp.flags & TCP_RST) !== 0) return;
    if ((tcp.flags & TCP_ACK) !== 0) this.sendRst(tcp.ack, 0, false);
    else this.sendRst(0, seqAdd(tcp.seq, segmentLength(skb)), true);
  }

  private inputListen(skb: Skb): void {
    const tcp = skb.tcp;
    if ((tcp.flags & TCP_RST) !== 0) return;
    if ((tcp.flags & TCP_ACK) !== 0) {
      this.sendRst(tcp.ack, 0, false);
      return;
    }
    if ((tcp.flags & TCP_SYN) === 0) return;
    this.acceptPeerSyn(skb);
    this.state = 'SYN_RECEIVED';
    this.sendSyn();
  }

  private inputSynSent(skb: Skb): void {
    const tcp = skb.tcp;
    const f = tcp.flags;
    const ackOk = (f & TCP_ACK) !== 0 && tcp.ack === seqAdd(this.iss, 1);
    if ((f & TCP_ACK) !== 0 && !ackOk) {
      if ((f & TCP_RST) === 0) this.sendRst(tcp.ack, 0, false);
      return;
    }
    if ((f & TCP_RST) !== 0) {
      if (ackOk) {
        this.stats.rstsIn++;
        this.terminate(new TcpError('ECONNREFUSED', 'connection refused (RST in answer to SYN)'));
      }
      return;
    }
    if ((f & TCP_SYN) === 0) return;
    this.acceptPeerSyn(skb);
    if (!ackOk) {
      // Simultaneous open (RFC 9293 §3.5): answer with SYN-ACK.
      this.state = 'SYN_RECEIVED';
      this.sendSyn();
      return;
    }
    this.synTimer.cancel();
    // RFC 7323 §2.2: the window in a SYN-ACK is never scaled.
    this.becomeEstablished(tcp.window, tcp.seq, tcp.options.tsEcr);
    this.sendAck();
    this.tx.push();
  }

  /** Records what the peer's SYN tells: ISN, MSS, window scale, SACK-permitted, timestamps. */
  private acceptPeerSyn(skb: Skb): void {
    const tcp = skb.tcp;
    const o = tcp.options;
    this.irs = tcp.seq;
    this.rxq = new TcpRxQueue(seqAdd(tcp.seq, 1), this.ofoLimit);
    this.peerMss = o.mss ?? DEFAULT_PEER_MSS;
    this.wscaleOk = this.wantWscale && o.wscale !== undefined;
    this.sndWscale = this.wscaleOk ? Math.min(o.wscale ?? 0, MAX_WSCALE) : 0;
    this.sackOk = this.wantSack && o.sackPermitted === true;
    this.tsOk = this.wantTs && o.tsVal !== undefined;
    if (this.tsOk) this.tsRecent = o.tsVal ?? 0;
    const tsLen = this.tsOk ? TS_OPTION_LEN : 0;
    this.rwnd.open(this.rxq.rcvNxt, this.wscaleOk ? this.ourWscale : 0, this.mtu - IPV4_TCP_HEADERS - tsLen);
    this.lastAckSent = this.rxq.rcvNxt;
  }

  private becomeEstablished(peerWindow: number, wl1: number, tsEcr: number | undefined): void {
    const tsLen = this.tsOk ? TS_OPTION_LEN : 0;
    const mss = Math.min(this.peerMss, this.mtu - IPV4_TCP_HEADERS) - tsLen;
    this.tx.establish(seqAdd(this.iss, 1), peerWindow, wl1, Math.max(mss, 64), this.tsOk);
    let rtt: number | undefined;
    if (this.tsOk && tsEcr !== undefined && tsEcr !== 0) {
      // Karn for the handshake: an echo of an earlier SYN than the last one sent is ambiguous.
      const echoRtt = seqDiff(this.tsNow(), tsEcr);
      if (this.clock.nowMs() - echoRtt + 1 >= this.lastSynSentAtMs) rtt = echoRtt;
    } else if (this.synTries === 0) {
      rtt = this.clock.nowMs() - this.synSentAtMs;
    }
    this.tx.handshakeRtt(rtt, this.synTries > 0);
    // close() during SYN_RECEIVED already queued the FIN.
    this.state = this.tx.finQueued ? 'FIN_WAIT_1' : 'ESTABLISHED';
    const resolve = this.connectResolve;
    this.connectResolve = undefined;
    this.connectReject = undefined;
    resolve?.();
  }

  /** Segment arrival in SYN_RECEIVED and every later state (RFC 9293 §3.10.7.4). */
  private inputSynchronized(skb: Skb): void {
    const tcp = skb.tcp;
    const f = tcp.flags;
    const tsVal = tcp.options.tsVal;

    if (this.state === 'SYN_RECEIVED' && (f & TCP_SYN) !== 0 && (f & TCP_ACK) === 0 && tcp.seq === this.irs) {
      // Our SYN-ACK was lost and the peer retransmitted its SYN: echo the
      // newest SYN's timestamp so the peer's handshake RTT is not inflated.
      if (this.tsOk && tsVal !== undefined && seqGe(tsVal, this.tsRecent)) this.tsRecent = tsVal;
      this.sendSyn();
      return;
    }

    // PAWS (RFC 7323 §5.3): a timestamp older than TS.Recent marks an old duplicate.
    if (this.tsOk && tsVal !== undefined && (f & TCP_RST) === 0 && seqLt(tsVal, this.tsRecent)) {
      this.stats.pawsDrops++;
      this.sendAck();
      return;
    }

    // First: sequence number acceptability.
    const segLen = segmentLength(skb);
    if (!this.sequenceAcceptable(skb, segLen)) return;

    // Second: RST (RFC 5961 §3.2): only an exact match resets; in-window gets a challenge ACK.
    if ((f & TCP_RST) !== 0) {
      if (tcp.seq === this.rxq.rcvNxt) {
        this.stats.rstsIn++;
        this.terminate(new TcpError('ECONNRESET', 'connection reset by peer'));
      } else {
        this.sendChallengeAck();
      }
      return;
    }

    // Fourth: SYN in a synchronized state (RFC 5961 §4).
    if ((f & TCP_SYN) !== 0) {
      this.sendChallengeAck();
      return;
    }

    // Fifth: ACK.
    if ((f & TCP_ACK) === 0) return;
    if (!this.processAck(skb, segLen)) return;

    // RFC 7323 §4.3: TS.Recent follows the segment that the last ACK covered.
    if (this.tsOk && tsVal !== undefined && seqGe(tsVal, this.tsRecent) && seqLe(tcp.seq, this.lastAckSent)) this.tsRecent = tsVal;

    this.receiveTextAndFin(skb);
  }

  /**
   * RFC 9293 §3.10.7.4, first: is any of the segment inside the receive
   * window? An unacceptable segment is answered with an ACK (an old
   * duplicate is kept for D-SACK) unless it is a RST; returns false then.
   */
  private sequenceAcceptable(skb: Skb, segLen: number): boolean {
    const tcp = skb.tcp;
    const stats = this.stats;
    const rcvNxt = this.rxq.rcvNxt;
    const rcvWnd = this.rwnd.rcvWnd(rcvNxt);
    let acceptable: boolean;
    if (segLen === 0) acceptable = rcvWnd === 0 ? tcp.seq === rcvNxt : seqInWindow(tcp.seq, rcvNxt, rcvWnd);
    else if (rcvWnd === 0) acceptable = skb.len === 0 && tcp.seq === rcvNxt; // a bare FIN at a closed window, as Linux takes it
    else acceptable = seqInWindow(tcp.seq, rcvNxt, rcvWnd) || seqInWindow(seqAdd(tcp.seq, segLen - 1), rcvNxt, rcvWnd);
    if (acceptable) return true;
    if ((tcp.flags & TCP_RST) !== 0) return false;
    stats.outOfWindowSegs++;
    if (skb.len > 0 && seqLe(seqAdd(tcp.seq, skb.len), rcvNxt)) {
      // An old duplicate: record it for D-SACK.
      this.rxq.insert(skb, this.rwnd.rcvRight);
      stats.dupSegs++;
      stats.dupBytes += skb.len;
      stats.dupAcksSent++;
    } else if (rcvWnd === 0 && (skb.len > 0 || tcp.seq === seqAdd(rcvNxt, -1))) {
      stats.winProbesAnswered++;
    }
    this.sendAck();
    return false;
  }

  /**
   * RFC 9293 §3.10.7.4, fifth: the ACK field — completes a passive open,
   * goes to the sender (TcpTx.onAck), and moves the closing states on once
   * our FIN is acknowledged. Returns false when the segment's processing ends here.
   */
  private processAck(skb: Skb, segLen: number): boolean {
    const tcp = skb.tcp;
    if (this.state === 'SYN_RECEIVED') {
      if (tcp.ack !== seqAdd(this.iss, 1)) {
        this.sendRst(tcp.ack, 0, false);
        return false;
      }
      this.synTimer.cancel();
      this.becomeEstablished(tcp.window << this.sndWscale, tcp.seq, tcp.options.tsEcr);
    }
    const tsEcr = tcp.options.tsEcr;
    const tsRtt = this.tsOk && tsEcr !== undefined && tsEcr !== 0 ? seqDiff(this.tsNow(), tsEcr) : undefined;
    const sack = this.sackOk ? this.sackBlocksIn(tcp.options.sack) : undefined;
    const res = this.tx.onAck(tcp.seq, tcp.ack, tcp.window << this.sndWscale, tsRtt, sack, segLen);
    if (res === 'future') {
      this.sendAck();
      return false;
    }
    if (res === 'too-old') {
      this.sendChallengeAck();
      return false;
    }
    if (this.tx.finAcked) {
      switch (this.state) {
        case 'FIN_WAIT_1':
          this.state = 'FIN_WAIT_2';
          break;
        case 'CLOSING':
          this.enterTimeWait();
          break;
        case 'LAST_ACK':
          this.terminate(undefined);
          return false;
        default:
          break;
      }
    }
    return true;
  }

  /** RFC 9293 §3.10.7.4, seventh and eighth: the segment's data and FIN, then what we send in answer. */
  private receiveTextAndFin(skb: Skb): void {
    const tcp = skb.tcp;
    const readableBefore = this.rxq.queuedBytes;
    if (skb.len > 0) {
      if (this.state === 'ESTABLISHED' || this.state === 'FIN_WAIT_1' || this.state === 'FIN_WAIT_2') {
        this.receiveData(skb);
      } else {
        // Data after the peer's FIN: nothing to do but acknowledge what we have.
        this.rwnd.ackNeeded = true;
      }
    }

    let ended = false;
    if ((tcp.flags & TCP_FIN) !== 0) {
      const finSeq = seqAdd(tcp.seq, skb.len);
      if (this.finReceived) {
        // A retransmitted FIN: our ACK of it was lost (TIME_WAIT restarts, RFC 9293 §3.10.7.4).
        this.rwnd.ackNeeded = true;
        if (this.state === 'TIME_WAIT') this.timeWaitTimer.arm(this.timeWaitMs);
      } else if (seqLe(finSeq, this.rwnd.rcvRight) && this.rxq.lastBeyondWindowBytes === 0) {
        this.pendingFinSeq = finSeq;
        this.rwnd.ackNeeded = true;
      }
    }
    if (this.pendingFinSeq !== undefined && this.pendingFinSeq === this.rxq.rcvNxt) ended = this.receiveFin();

    // Data we can send now carries the freshest ACK; otherwise ACK per the delayed-ACK rules.
    this.tx.push();
    this.flushAck();

    if (this.rxq.queuedBytes > readableBefore) this.handlers.onReadable?.();
    if (ended) this.handlers.onEnd?.();
  }

  private receiveData(skb: Skb): void {
    const stats = this.stats;
    this.rwnd.noteSegment(skb.len);
    const res: RxInsertResult = this.rxq.insert(skb, this.rwnd.rcvRight);
    const q = this.rxq;
    stats.inBytes += q.lastNewBytes;
    stats.beyondWindowBytes += q.lastBeyondWindowBytes;
    if (q.lastDupBytes > 0) {
      stats.dupBytes += q.lastDupBytes;
      if (res === 'duplicate') stats.dupSegs++;
      else stats.partialDupSegs++;
    }
    if (res === 'out-of-order') stats.ofoQueue++;
    stats.ofoMerge += q.lastOfoMerges;
    if (q.lastOfoMemDrops > 0) {
      stats.ofoMemDrops += q.lastOfoMemDrops;
      stats.ofoMemDropBytes += q.lastOfoMemDropBytes;
    }
    if (q.ofoTruesize > stats.ofoPeakTruesize) stats.ofoPeakTruesize = q.ofoTruesize;
    if (q.ofoEntries > stats.ofoPeakEntries) stats.ofoPeakEntries = q.ofoEntries;
    this.rwnd.afterInsert(res, q.lastNewBytes, q.hasDsack);
  }

  /** The FIN at rcv_nxt is consumed (RFC 9293 §3.10.7.4, eighth). Returns true: the stream ended. */
  private receiveFin(): boolean {
    this.pendingFinSeq = undefined;
    this.finReceived = true;
    this.rxq.consumeFin();
    this.rwnd.ackNeeded = true;
    switch (this.state) {
      case 'SYN_RECEIVED':
      case 'ESTABLISHED':
        this.state = 'CLOSE_WAIT';
        break;
      case 'FIN_WAIT_1':
        if (this.tx.finAcked) this.enterTimeWait();
        else this.state = 'CLOSING';
        break;
      case 'FIN_WAIT_2':
        this.enterTimeWait();
        break;
      default:
        break;
    }
    return true;
  }

  /** Flattens the peer's SACK blocks into the reused scratch array. */
  private sackBlocksIn(blocks: readonly TcpSackBlock[] | undefined): readonly number[] | undefined {
    if (blocks === undefined) return undefined;
    const s = this.sackIn;
    s.length = 0;
    for (let i = 0; i < blocks.length; i++) s.push(blocks[i]!.left, blocks[i]!.right);
    return s;
  }

  // ---------------------------------------------------------------- receive window and ACKs

  /** The NIC starts handing over a batch of frames (one poll). */
  beginRxBatch(): void {
    this.rwnd.beginRxBatch();
  }

  /** The batch is over: send the ACK the every-second-segment rule deferred. */
  endRxBatch(): void {
    if (this.rwnd.endRxBatch() && this.synchronized()) this.sendAck();
  }

  /** Sends the ACK the last segment called for, or arms the delayed-ACK timer. */
  private flushAck(): void {
    if (this.rwnd.ackNeeded) {
      this.sendAck();
      return;
    }
    if (this.rwnd.ackPendingBytes > 0 && !this.delackTimer.armed) this.delackTimer.arm(this.delAckMs);
  }

  private onDelackTimeout(): void {
    if (this.rwnd.ackPendingBytes === 0 || !this.synchronized()) return;
    this.stats.delayedAcks++;
    this.sendAck();
  }

  protected sendAck(): void {
    this.emit(TCP_ACK, this.ackSeq(), 0, false);
  }

  /**
   * Sequence number for a segment without data: the highest we sent, never
   * snd_nxt after an RTO pulled it back — the peer already has those bytes,
   * would find the ACK below its window and drop it (RFC 9293 §3.10.7.4),
   * and two such ends would ignore each other's ACKs forever.
   */
  protected ackSeq(): number {
    return this.state === 'SYN_RECEIVED' ? seqAdd(this.iss, 1) : this.tx.sndMax;
  }

  private sendChallengeAck(): void {
    this.stats.challengeAcks++;
    this.sendAck();
  }

  // ---------------------------------------------------------------- output

  /** TcpTxOutput: a data segment (and/or FIN) the sender decided on. */
  transmit(seq: number, len: number, fin: boolean): void {
    let flags = TCP_ACK;
    if (len > 0 && seqAdd(seq, len) === this.tx.writeSeq) flags |= TCP_PSH;
    if (fin) flags |= TCP_FIN;
    this.emit(flags, seq, len, false);
  }

  /** TcpTxOutput: zero-window probe, an ACK with an old sequence number that the peer must answer. */
  sendWindowProbe(): void {
    this.emit(TCP_ACK, seqAdd(this.tx.sndUna, -1), 0, false);
  }

  /** TcpTxOutput: retransmissions exhausted. */
  giveUp(): void {
    this.sendRst(this.ackSeq(), 0, false);
    this.terminate(new TcpError('ETIMEDOUT', 'connection timed out (retransmissions exhausted)'));
  }

  /** TcpTxOutput. */
  drained(): void {
    this.handlers.onDrain?.();
  }

  protected sendSyn(): void {
    const synAck = this.state === 'SYN_RECEIVED';
    if (this.synTries === 0) this.synSentAtMs = this.clock.nowMs();
    this.lastSynSentAtMs = this.clock.nowMs();
    this.emit(synAck ? TCP_SYN | TCP_ACK : TCP_SYN, this.iss, 0, true);
    this.synTimer.arm(Math.min(this.tx.rtoMs * 2 ** this.synTries, 120_000));
  }

  private onSynTimeout(): void {
    if (this.state !== 'SYN_SENT' && this.state !== 'SYN_RECEIVED') return;
    this.stats.rtoTimeouts++;
    if (this.synTries >= this.synRetries) {
      this.terminate(new TcpError('ETIMEDOUT', `no answer to ${this.synTries + 1} SYNs`));
      return;
    }
    this.synTries++;
    this.stats.synRetrans++;
    this.stats.retransSegs++;
    this.sendSyn();
  }

  protected sendRst(seq: number, ack: number, withAck: boolean): void {
    this.output(this.out.rst(seq, ack, withAck));
  }

  /**
   * Builds and sends one segment. Every non-RST segment after the handshake
   * carries ACK = rcv_nxt, our window, timestamps if negotiated, and SACK
   * blocks when we hold out-of-order data (as many as fit next to the payload).
   */
  private emit(flags: number, seq: number, dataLen: number, syn: boolean): void {
    const ackSet = (flags & TCP_ACK) !== 0;
    const ack = ackSet ? this.rxq.rcvNxt : 0;
    let frame: Buffer;
    if (syn) {
      const passive = this.state === 'SYN_RECEIVED';
      // A SYN-ACK carries only options the SYN offered (RFC 7323 §1.3, RFC 2018 §2).
      const ts = passive ? this.tsOk : this.wantTs;
      frame = this.out.syn(flags, seq, ack, this.rwnd.synWindow(), {
        mss: this.mtu - IPV4_TCP_HEADERS,
        wscale: (passive ? this.wscaleOk : this.wantWscale) ? this.ourWscale : undefined,
        sackPermitted: (passive ? this.sackOk : this.wantSack) ? true : undefined,
        tsVal: ts ? this.tsNow() : undefined,
        tsEcr: ts ? (passive ? this.tsRecent : 0) : undefined,
      });
    } else {
      const window = this.rwnd.selectWindowField(this.rxq.rcvNxt, this.rxq.queuedBytes);
      const tsVal = this.tsOk ? this.tsNow() : undefined;
      const sackFrom = this.sackOk && ackSet ? this.rxq : undefined;
      frame = this.out.segment(flags, seq, ack, window, tsVal, this.tsRecent, sackFrom, this.peerMss, dataLen, this.tx);
    }
    if (ackSet) {
      this.lastAckSent = this.rxq.rcvNxt;
      this.rwnd.ackSent();
      this.delackTimer.cancel();
    }
    this.output(frame);
  }

  /** Our TSval: a millisecond clock with a random offset (RFC 7323 §5.4). */
  private tsNow(): number {
    return (Math.floor(this.clock.nowMs()) + this.tsOffset) >>> 0;
  }

  // ---------------------------------------------------------------- state helpers

  protected synchronized(): boolean {
    return this.state !== 'CLOSED' && this.state !== 'LISTEN' && this.state !== 'SYN_SENT';
  }

  protected handshakePromise(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.connectResolve = resolve;
      this.connectReject = reject;
    });
  }

  private enterTimeWait(): void {
    this.state = 'TIME_WAIT';
    this.tx.shutdown();
    this.timeWaitTimer.arm(this.timeWaitMs);
  }

  private onTimeWaitTimeout(): void {
    if (this.state === 'TIME_WAIT') this.terminate(undefined);
  }

  /** Goes to CLOSED, stops timers, fails a pending connect, calls onClose once. */
  protected terminate(err: TcpError | undefined): void {
    this.state = 'CLOSED';
    this.tx.shutdown();
    this.synTimer.cancel();
    this.delackTimer.cancel();
    this.timeWaitTimer.cancel();
    if (err !== undefined) {
      this.closeError = err;
      this.rxq.purge();
    }
    const reject = this.connectReject;
    this.connectResolve = undefined;
    this.connectReject = undefined;
    if (reject !== undefined) reject(err ?? new TcpError('ECONNABORTED', 'connection closed during the handshake'));
    if (!this.closeNotified) {
      this.closeNotified = true;
      this.handlers.onClose?.(err);
    }
  }
}

/** SEG.LEN: payload plus one for SYN and one for FIN. */
/** Bytes of `placed` frags past the first `n` payload bytes of `skb`: what the NIC placed that TCP does not take. */
function placedPastPrefix(skb: Skb, n: number): number {
  let at = 0;
  let out = 0;
  for (const f of skb.frags) {
    const len = fragLength(f);
    if (f.kind === 'placed' && at + len > n) out += at + len - Math.max(at, n);
    at += len;
  }
  return out;
}

function segmentLength(skb: Skb): number {
  const f = skb.tcp.flags;
  return skb.len + ((f & TCP_SYN) !== 0 ? 1 : 0) + ((f & TCP_FIN) !== 0 ? 1 : 0);
}
