/**
 * The sending half of one TCP connection: the send buffer and everything
 * that decides which bytes go out when.
 *
 *  - Send buffer: the application's Buffers kept as they were written (a
 *    1 MiB H2CData PDU may be a header, many data views and a digest); a
 *    segment is gathered as views and copied once, into its frame.
 *  - Segmentation at the effective MSS, limited by the peer's (scaled)
 *    window and by cwnd. Nagle is off: NVMe/TCP sets TCP_NODELAY.
 *  - RFC 6298 retransmission timer: SRTT/RTTVAR from timestamp echoes
 *    (RFC 7323 §4) or from one Karn-safe timed segment at a time, minimum
 *    RTO 200 ms (Linux's TCP_RTO_MIN), exponential backoff, go-back-N from
 *    snd_una after a timeout (the SACK scoreboard is forgotten, RFC 2018 §8).
 *  - RFC 5681 slow start / congestion avoidance with byte counting
 *    (RFC 3465, L = 2 SMSS), fast retransmit on the third duplicate ACK and
 *    NewReno fast recovery (RFC 6582). SACK blocks from the peer are kept in
 *    a scoreboard: during recovery each further duplicate ACK retransmits the
 *    next un-SACKed hole below the highest SACKed byte (one segment out for
 *    one that left) instead of inflating cwnd, and segments the peer already
 *    SACKed are not sent again while going back after a timeout.
 *  - Persist timer (RFC 9293 §3.8.6.1): with a zero window and nothing in
 *    flight, probes are sent with backoff until the window opens. Like
 *    Linux, a probe is a bare ACK with seq = snd_una - 1: the peer must
 *    answer it with its current window and no data is spent on it.
 *
 * The socket owns the header fields (ACK, window, options) and builds
 * frames; this class tells it what to send through `TcpTxOutput`.
 */
import type { Clock, ClockTimer } from './clock.js';
import type { TcpStats } from './tcp-stats.js';
import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt } from '../../wire/seq.js';

/** What the sender asks the socket to put on the wire. */
export interface TcpTxOutput {
  /** Send stream bytes [seq, seq+len) (views from `gather`), with FIN after them when `fin`. */
  transmit(seq: number, len: number, fin: boolean): void;
  /** Send a zero-window probe (a bare ACK with seq snd_una - 1). */
  sendWindowProbe(): void;
  /** Too many consecutive retransmission timeouts: the connection is dead (ETIMEDOUT). */
  giveUp(): void;
  /** The send buffer fell below its low-water mark after a write was refused. */
  drained(): void;
}

export interface TcpTxConfig {
  readonly clock: Clock;
  readonly stats: TcpStats;
  /** Send-buffer size: `write` returns false at or above it. */
  readonly sndBufBytes: number;
  readonly minRtoMs: number;
  readonly maxRtoMs: number;
  readonly initialRtoMs: number;
  /** Consecutive RTOs before giving up (Linux tcp_retries2 = 15). */
  readonly maxRetries: number;
}

/** Result of ACK processing, for the socket's RFC 9293 / RFC 5961 handling. */
export type TcpAckResult =
  /** Acceptable; state updated. */
  | 'ok'
  /** Acknowledges something not yet sent: answer with an ACK and drop the segment (RFC 9293 §3.10.7.4). */
  | 'future'
  /** Older than snd_una - max window: send a challenge ACK and drop (RFC 5961 §5.2). */
  | 'too-old';

/** Clock granularity G of RFC 6298 §2 (timestamps tick in milliseconds). */
const CLOCK_GRANULARITY_MS = 1;
/** RFC 6298 §5.7: the RTO after SYN retransmissions when no RTT was measured. */
const RTO_AFTER_SYN_LOSS_MS = 3000;
/** RFC 6928 / Linux TCP_INIT_CWND: initial window of 10 segments. */
const INITIAL_CWND_SEGMENTS = 10;
/** Dup-ACK threshold of RFC 5681 §3.2. */
const DUPACK_THRESHOLD = 3;

/**
 * The application's unacknowledged and unsent bytes as the Buffers it wrote.
 * Offsets are stream offsets (bytes since the first write), which never wrap.
 */
class SendBuffer {
  private readonly bufs: Buffer[] = [];
  private head = 0;
  /** Stream offset of bufs[head][0]. */
  private headOff = 0;
  /** Stream offset of the first unacknowledged byte (inside bufs[head]). */
  unaOff = 0;
  /** Stream offset just past the last byte written. */
  endOff = 0;
  /** Gather cursor: index and stream offset of its start, where the last gather ended. */
  private curIdx = 0;
  private curOff = 0;

  get bytes(): number {
    return this.endOff - this.unaOff;
  }

  append(b: Buffer): void {
    if (b.length === 0) return;
    this.bufs.push(b);
    this.endOff += b.length;
  }

  /** Releases the first `n` unacknowledged bytes. */
  ack(n: number): void {
    this.unaOff += n;
    while (this.head < this.bufs.length && this.headOff + this.bufs[this.head]!.length <= this.unaOff) {
      this.headOff += this.bufs[this.head]!.length;
      this.bufs[this.head] = EMPTY;
      this.head++;
    }
    if (this.head === this.bufs.length) {
      this.bufs.length = 0;
      this.head = 0;
      this.curIdx = 0;
      this.curOff = this.headOff;
    } else if (this.head >= 256 && this.head * 2 >= this.bufs.length) {
      this.bufs.splice(0, this.head);
      this.curIdx -= this.head;
      this.head = 0;
    }
    if (this.curIdx < this.head) {
      this.curIdx = this.head;
      this.curOff = this.headOff;
    }
  }

  /** Views of stream bytes [off, off+len) into `out` (cleared first). */
  gather(off: number, len: number, out: Buffer[]): void {
    out.length = 0;
    if (this.curIdx < this.head || this.curOff > off || this.curIdx >= this.bufs.length) {
      this.curIdx = this.head;
      this.curOff = this.headOff;
    }
    let i = this.curIdx;
    let bOff = this.curOff;
    while (bOff + this.bufs[i]!.length <= off) {
      bOff += this.bufs[i]!.length;
      i++;
    }
    const end = off + len;
    let pos = off;
    while (pos < end) {
      const b = this.bufs[i]!;
      const from = pos - bOff;
      const to = Math.min(b.length, end - bOff);
      out.push(from === 0 && to === b.length ? b : b.subarray(from, to));
      pos = bOff + to;
      if (to === b.length) {
        bOff += b.length;
        i++;
      }
    }
    this.curIdx = i;
    this.curOff = bOff;
  }

  clear(): void {
    this.bufs.length = 0;
    this.head = 0;
    this.curIdx = 0;
    this.headOff = this.curOff = this.unaOff = this.endOff;
  }
}

const EMPTY: Buffer = Buffer.alloc(0);

export class TcpTx {
  /** SND.UNA, SND.NXT, and the highest sequence number sent so far (snd_nxt can fall back to snd_una after an RTO). */
  sndUna = 0;
  sndNxt = 0;
  sndMax = 0;
  /** SND.WND in bytes (already scaled), and the segment that last updated it (SND.WL1/WL2). */
  sndWnd = 0;
  sndWl1 = 0;
  sndWl2 = 0;
  /** Largest window the peer offered: RFC 5961's MAX.SND.WND, and the sender SWS reference. */
  maxSndWnd = 0;
  /** Stream payload per segment (peer MSS and our MTU, minus the timestamp option). */
  mss = 536;

  cwnd = 0;
  ssthresh = 0x7fff_ffff;
  dupAcks = 0;
  inRecovery = false;
  /** RFC 6582 `recover`: snd_max when recovery (or the last RTO) began. */
  recover = 0;

  /** Smoothed RTT and variance (ms); undefined before the first sample. */
  srttMs: number | undefined;
  rttvarMs = 0;
  rtoMs: number;
  /** Consecutive retransmission timeouts without progress. */
  timeouts = 0;
  /** Consecutive unanswered zero-window probes (persist backoff). */
  probes = 0;

  /** FIN requested by close(); its sequence number once known (the end of the data). */
  finQueued = false;
  /** The FIN has been sent at least once. */
  finSent = false;
  /** The peer acknowledged our FIN. */
  finAcked = false;

  private readonly buf = new SendBuffer();
  /** Sequence number just past the last byte written (the FIN's seq when one is queued). */
  private dataEnd = 0;
  private established = false;
  private needDrain = false;

  /** SACK scoreboard: sorted, disjoint [left, right) pairs, flat. */
  private readonly sacked: number[] = [];
  /** Recovery retransmission cursor: holes below it were retransmitted in this recovery. */
  private highRxt = 0;
  /** Byte counter for congestion avoidance (RFC 3465). */
  private caAcked = 0;
  /** Karn-timed segment (without timestamps): ack that ends it, and when it was sent. */
  private rttSeq = 0;
  private rttTiming = false;
  private rttStartMs = 0;
  /** When the last RTO fired (and its retransmission left). */
  private lastRtoRetransmitMs = 0;
  /** Timestamps are on: RTT comes from TSecr, not from timing segments. */
  private useTimestamps = false;

  private readonly rtxTimer: ClockTimer;
  private readonly persistTimer: ClockTimer;

  constructor(
    private readonly cfg: TcpTxConfig,
    private readonly out: TcpTxOutput,
  ) {
    this.rtoMs = cfg.initialRtoMs;
    this.rtxTimer = cfg.clock.createTimer(() => this.onRetransmitTimeout());
    this.persistTimer = cfg.clock.createTimer(() => this.onPersistTimeout());
  }

  /** Bytes written and not yet acknowledged (sent or not). */
  get bufferedBytes(): number {
    return this.buf.bytes;
  }

  /** Bytes sent and not yet acknowledged (snd_max - snd_una, without SYN/FIN accounting subtleties). */
  get inFlight(): number {
    return seqDiff(this.sndMax, this.sndUna);
  }

  /** Sequence number the first data byte had (ISS + 1) is fixed at establish; the next byte written gets this one. */
  get writeSeq(): number {
    return this.dataEnd;
  }

  /** Everything sent (including a FIN) is acknowledged and nothing waits to be sent. */
  get idle(): boolean {
    return this.sndUna === this.sndMax && this.buf.bytes === 0 && (!this.finQueued || this.finAcked);
  }

  /**
   * Starts sending after the handshake: snd_una = snd_nxt = `sndUna` (ISS + 1),
   * the peer's first window (never scaled in a SYN, RFC 7323 §2.2), its MSS.
   */
  establish(sndUna: number, peerWindow: number, wl1: number, mss: number, useTimestamps: boolean): void {
    const dataStart = sndUna >>> 0;
    // Bytes written before the handshake completed are already in the buffer.
    this.dataEnd = seqAdd(dataStart, this.buf.bytes);
    this.sndUna = this.sndNxt = this.sndMax = this.recover = this.highRxt = dataStart;
    this.sndWnd = this.maxSndWnd = peerWindow;
    this.sndWl1 = wl1;
    this.sndWl2 = dataStart;
    this.mss = mss;
    this.useTimestamps = useTimestamps;
    this.cwnd = INITIAL_CWND_SEGMENTS * mss;
    this.established = true;
  }

  /** RTT measured on the handshake (SYN → SYN-ACK). */
  handshakeRtt(rttMs: number | undefined, synRetransmitted: boolean): void {
    if (rttMs !== undefined) this.rttSample(rttMs);
    else if (synRetransmitted) this.rtoMs = Math.max(this.rtoMs, RTO_AFTER_SYN_LOSS_MS);
    this.timeouts = 0;
  }

  /** Queues `bufs` (kept as views: do not modify them until acknowledged). Returns false at or above the send-buffer size. */
  write(bufs: Buffer | readonly Buffer[]): boolean {
    if (bufs instanceof Uint8Array) {
      this.buf.append(bufs);
      this.dataEnd = seqAdd(this.dataEnd, bufs.length);
    } else {
      for (let i = 0; i < bufs.length; i++) {
        const b = bufs[i]!;
        this.buf.append(b);
        this.dataEnd = seqAdd(this.dataEnd, b.length);
      }
    }
    const ok = this.buf.bytes < this.cfg.sndBufBytes;
    if (!ok) this.needDrain = true;
    this.push();
    return ok;
  }

  /** Views of stream bytes [seq, seq+len) for the segment being built (into `out`, cleared first). */
  gather(seq: number, len: number, out: Buffer[]): void {
    this.buf.gather(this.buf.unaOff + seqDiff(seq, this.sndUna), len, out);
  }

  /** Queues a FIN after the data written so far (close). */
  queueFin(): void {
    if (this.finQueued) return;
    this.finQueued = true;
    this.push();
  }

  /** Stops all timers and drops the buffer (abort, or the connection is gone). */
  shutdown(): void {
    this.established = false;
    this.rtxTimer.cancel();
    this.persistTimer.cancel();
    this.buf.clear();
    this.sacked.length = 0;
  }

  /**
   * Whether an incoming ACK field is one onAck takes (RFC 9293 §3.10.7.4 /
   * RFC 5961 §5.2): not beyond anything sent, not older than the largest
   * window allows. No side effect: the NIC's DDP gate asks it too.
   */
  ackVerdict(ack: number): 'ok' | 'future' | 'too-old' {
    if (seqGt(ack, this.sndMax)) return 'future';
    if (seqLt(ack, seqAdd(this.sndUna, -Math.max(this.maxSndWnd, 1)))) return 'too-old';
    return 'ok';
  }

  /**
   * Processes the ACK fields of an incoming segment (RFC 9293 §3.10.7.4,
   * "fifth, check the ACK field"): window update, newly acknowledged data,
   * RTT sample, congestion control, duplicate ACKs and SACK blocks.
   *
   * `window` is already scaled; `tsRttMs` is now - TSecr when the segment
   * echoed one of our timestamps; `sack` holds [left, right) pairs, flat;
   * `segLen` counts payload plus SYN/FIN (a duplicate ACK has none).
   * Does not send new data: the socket calls `push` once the whole segment
   * is processed, so that data carries the freshest ACK.
   */
  onAck(seq: number, ack: number, window: number, tsRttMs: number | undefined, sack: readonly number[] | undefined, segLen: number): TcpAckResult {
    const verdict = this.ackVerdict(ack);
    if (verdict !== 'ok') return verdict;
    if (!this.established) return 'ok';

    const oldWnd = this.sndWnd;
    let windowChanged = false;
    if (seqGe(ack, this.sndUna) && (seqLt(this.sndWl1, seq) || (this.sndWl1 === seq && seqLe(this.sndWl2, ack)))) {
      windowChanged = window !== this.sndWnd;
      this.sndWnd = window;
      this.sndWl1 = seq;
      this.sndWl2 = ack;
      if (window > this.maxSndWnd) this.maxSndWnd = window;
      if (window === 0 && oldWnd !== 0) this.cfg.stats.zeroWindowPeer++;
    }

    const sackAdvanced = sack !== undefined && this.updateScoreboard(ack, sack);

    if (seqGt(ack, this.sndUna)) {
      this.onNewAck(ack, tsRttMs);
    } else if (ack === this.sndUna && this.sndMax !== this.sndUna) {
      // RFC 5681 §2 duplicate ACK; an ACK riding on data or a window change is
      // not one, but new SACK information still is evidence of loss (RFC 6675).
      const dup = segLen === 0 && !windowChanged;
      if (dup) this.cfg.stats.dupAcksIn++;
      if (dup || sackAdvanced) this.onDupAck(sackAdvanced);
    }

    if (this.sndWnd > 0 && this.persistTimer.armed) {
      this.persistTimer.cancel();
      this.probes = 0;
    }
    return 'ok';
  }

  /** Sends whatever window, cwnd and the buffer allow; arms the retransmission or persist timer. */
  push(): void {
    if (!this.established) return;
    for (;;) {
      this.skipSacked();
      const wndEnd = seqAdd(this.sndUna, this.sndWnd);
      const wndRoom = seqDiff(wndEnd, this.sndNxt);
      const dataLeft = seqDiff(this.dataEnd, this.sndNxt);
      // The FIN sits at dataEnd; after going back (RTO) it is sent again.
      const finPending = this.finQueued && seqLe(this.sndNxt, this.dataEnd);
      if (dataLeft <= 0 && !finPending) break;
      const flight = seqDiff(this.sndNxt, this.sndUna);
      const cwndRoom = this.cwnd - flight;
      let len = dataLeft > this.mss ? this.mss : dataLeft;
      const nextSacked = this.nextSackedAfter(this.sndNxt);
      if (nextSacked !== undefined && seqDiff(nextSacked, this.sndNxt) < len) len = seqDiff(nextSacked, this.sndNxt);
      if (len > 0) {
        if (wndRoom < len) {
          // Sender SWS avoidance (RFC 9293 §3.8.6.2.1): a short segment only
          // when nothing is in flight or it is at least half the largest window.
          if (wndRoom <= 0 || (flight > 0 && wndRoom < this.maxSndWnd / 2)) break;
          len = wndRoom;
        }
        if (cwndRoom < len) {
          if (cwndRoom < this.mss && flight > 0) break;
          if (cwndRoom <= 0) break;
          len = cwndRoom;
        }
      } else if (wndRoom < 1 && dataLeft <= 0) {
        // A FIN alone needs one sequence number of window.
        break;
      }
      const end = seqAdd(this.sndNxt, len);
      const fin = finPending && end === this.dataEnd && seqDiff(wndEnd, end) >= 1;
      this.sendSegment(this.sndNxt, len, fin, false);
      if (len === 0 && !fin) break;
    }
    if (this.sndMax !== this.sndUna) {
      if (!this.rtxTimer.armed) this.rtxTimer.arm(this.currentRto());
      this.persistTimer.cancel();
    } else {
      this.rtxTimer.cancel();
      const waiting = this.buf.bytes > 0 || (this.finQueued && !this.finSent);
      if (waiting && this.sndWnd === 0 && !this.persistTimer.armed) this.persistTimer.arm(this.persistDelay());
    }
  }

  /** The RTO currently in force (with backoff), ms. */
  currentRto(): number {
    return Math.min(this.rtoMs * 2 ** this.timeouts, this.cfg.maxRtoMs);
  }

  private persistDelay(): number {
    return Math.min(this.rtoMs * 2 ** this.probes, this.cfg.maxRtoMs);
  }

  /** Emits one segment and does the bookkeeping shared by new data and retransmissions. */
  private sendSegment(seq: number, len: number, fin: boolean, fast: boolean): void {
    const stats = this.cfg.stats;
    const retransmit = seqLt(seq, this.sndMax);
    if (retransmit) {
      stats.retransSegs++;
      stats.retransBytes += len;
      if (fast) stats.fastRetrans++;
      else stats.timeoutRetrans++;
      // Karn: a retransmitted range must not time the RTT.
      if (this.rttTiming && seqLt(seq, this.rttSeq)) this.rttTiming = false;
    } else if (!this.useTimestamps && !this.rttTiming && len > 0) {
      this.rttTiming = true;
      this.rttSeq = seqAdd(seq, len);
      this.rttStartMs = this.cfg.clock.nowMs();
    }
    this.out.transmit(seq, len, fin);
    let end = seqAdd(seq, len);
    if (fin) {
      this.finSent = true;
      end = seqAdd(end, 1);
    }
    if (!fast) this.sndNxt = end;
    if (seqGt(end, this.sndMax)) this.sndMax = end;
    if (!this.rtxTimer.armed) this.rtxTimer.arm(this.currentRto());
  }

  private onNewAck(ack: number, tsRttMs: number | undefined): void {
    const stats = this.cfg.stats;
    const acked = seqDiff(ack, this.sndUna);
    let dataAcked = acked;
    if (this.finSent && seqGt(ack, this.dataEnd)) {
      // The FIN's sequence number is acknowledged.
      dataAcked--;
      this.finAcked = true;
    }
    if (dataAcked > this.buf.bytes) dataAcked = this.buf.bytes;
    this.buf.ack(dataAcked);
    stats.ackedBytes += dataAcked;
    this.sndUna = ack;
    if (seqLt(this.sndNxt, ack)) this.sndNxt = ack;
    if (seqLt(this.highRxt, ack)) this.highRxt = ack;
    this.trimScoreboard();

    // RFC 7323 §4.1: only ACKs of new data give timestamp RTT samples. Karn's
    // rule (RFC 6298 §3) applied to timestamps: after an RTO, an echo older
    // than the retransmission came from an earlier copy of the data (the
    // peer echoes TS.Recent, which a duplicate does not update) and would
    // inflate SRTT by the whole backoff.
    if (tsRttMs !== undefined && this.useTimestamps) {
      const echoedAtMs = this.cfg.clock.nowMs() - tsRttMs;
      if (this.timeouts === 0 || echoedAtMs + 1 >= this.lastRtoRetransmitMs) this.rttSample(tsRttMs);
    } else if (this.rttTiming && seqGe(ack, this.rttSeq)) {
      this.rttTiming = false;
      this.rttSample(this.cfg.clock.nowMs() - this.rttStartMs);
    }
    this.timeouts = 0;

    if (this.inRecovery) {
      if (seqGe(ack, this.recover)) {
        // Full acknowledgment (RFC 6582 §3.2 step 3, option 1).
        this.inRecovery = false;
        this.dupAcks = 0;
        this.cwnd = Math.min(this.ssthresh, Math.max(this.inFlight, this.mss) + this.mss);
      } else {
        // Partial acknowledgment: the segment at snd_una was lost too.
        if (this.highRxt === this.sndUna) this.retransmitHole(true);
        this.cwnd = Math.max(this.cwnd - acked, 0) + (acked >= this.mss ? this.mss : 0);
        if (this.cwnd < this.mss) this.cwnd = this.mss;
        this.rtxTimer.arm(this.currentRto());
      }
    } else {
      this.dupAcks = 0;
      if (this.cwnd < this.ssthresh) {
        this.cwnd += Math.min(acked, 2 * this.mss);
      } else {
        this.caAcked += acked;
        if (this.caAcked >= this.cwnd) {
          this.caAcked -= this.cwnd;
          this.cwnd += this.mss;
        }
      }
    }

    if (this.sndMax === this.sndUna) this.rtxTimer.cancel();
    else this.rtxTimer.arm(this.currentRto());

    if (this.needDrain && this.buf.bytes <= this.cfg.sndBufBytes / 2) {
      this.needDrain = false;
      this.out.drained();
    }
  }

  private onDupAck(sackAdvanced: boolean): void {
    this.dupAcks++;
    if (this.inRecovery) {
      // One segment left the network: send the next un-SACKed hole if the
      // scoreboard shows one, else let NewReno's inflated cwnd send new data.
      if (!this.retransmitHole(false)) this.cwnd += this.mss;
      return;
    }
    // SACK lets the third duplicate be recognised even when the peer
    // coalesced ACKs: three segments' worth SACKed above a hole (RFC 6675 §5).
    const sackedEnough = sackAdvanced && this.sackedBytes() >= DUPACK_THRESHOLD * this.mss;
    if (this.dupAcks < DUPACK_THRESHOLD && !sackedEnough) return;
    // RFC 6582 §3.2 step 2: duplicates of data sent before the last recovery
    // or RTO began do not start a new one (`recover` is the next seq after
    // the highest sent then, so "covers more than recover" is >=).
    if (seqLt(this.sndUna, this.recover)) return;
    this.cfg.stats.fastRecoveries++;
    this.ssthresh = Math.max(Math.floor(this.inFlight / 2), 2 * this.mss);
    this.recover = this.sndMax;
    this.inRecovery = true;
    this.highRxt = this.sndUna;
    this.retransmitHole(true);
    this.cwnd = this.ssthresh + DUPACK_THRESHOLD * this.mss;
  }

  /**
   * Retransmits one segment from the first hole at or after the recovery
   * cursor. Without `force`, only a hole below the highest SACKed byte
   * qualifies (evidence that it was lost). Returns whether it sent.
   */
  private retransmitHole(force: boolean): boolean {
    let start = seqGt(this.highRxt, this.sndUna) ? this.highRxt : this.sndUna;
    // Step over SACKed ranges.
    for (let i = 0; i < this.sacked.length; i += 2) {
      const l = this.sacked[i]!;
      const r = this.sacked[i + 1]!;
      if (seqLe(l, start) && seqLt(start, r)) start = r;
    }
    if (!seqLt(start, this.sndMax)) return false;
    const highSacked = this.sacked.length > 0 ? this.sacked[this.sacked.length - 1]! : this.sndUna;
    if (!force && !seqLt(start, highSacked)) return false;
    let len = Math.min(this.mss, Math.max(0, seqDiff(this.dataEnd, start)));
    const nextSacked = this.nextSackedAfter(start);
    if (nextSacked !== undefined && seqDiff(nextSacked, start) < len) len = seqDiff(nextSacked, start);
    const end = seqAdd(start, len);
    const fin = this.finSent && end === this.dataEnd;
    if (len === 0 && !fin) return false;
    this.sendSegment(start, len, fin, true);
    this.highRxt = fin ? seqAdd(end, 1) : end;
    return true;
  }

  private onRetransmitTimeout(): void {
    if (!this.established || this.sndMax === this.sndUna) return;
    const stats = this.cfg.stats;
    stats.rtoTimeouts++;
    this.timeouts++;
    if (this.timeouts > this.cfg.maxRetries) {
      this.out.giveUp();
      return;
    }
    // RFC 5681 §3.1 eq. 4, once per loss episode; RFC 5681 §3.1: LW = 1 segment.
    if (this.timeouts === 1) this.ssthresh = Math.max(Math.floor(this.inFlight / 2), 2 * this.mss);
    this.cwnd = this.mss;
    this.caAcked = 0;
    this.inRecovery = false;
    this.dupAcks = 0;
    // RFC 6582 §4: no fast retransmit for the data outstanding now.
    this.recover = this.sndMax;
    // RFC 2018 §8: the receiver may have reneged; forget what it SACKed.
    this.sacked.length = 0;
    this.rttTiming = false;
    this.lastRtoRetransmitMs = this.cfg.clock.nowMs();
    this.sndNxt = this.sndUna;
    this.highRxt = this.sndUna;
    this.rtxTimer.cancel();
    if (this.sndWnd === 0) {
      // The peer's window is closed: retransmitting data it cannot take is
      // pointless; a probe gets its window (Linux probes here too).
      this.cfg.stats.winProbesSent++;
      this.out.sendWindowProbe();
    } else {
      this.push();
    }
    // push() arms with the backed-off RTO (RFC 6298 §5.5–5.6).
    if (!this.rtxTimer.armed && this.sndMax !== this.sndUna) this.rtxTimer.arm(this.currentRto());
  }

  private onPersistTimeout(): void {
    if (!this.established) return;
    if (this.sndWnd > 0 || this.sndMax !== this.sndUna) {
      this.push();
      return;
    }
    this.cfg.stats.winProbesSent++;
    this.out.sendWindowProbe();
    this.probes++;
    this.persistTimer.arm(this.persistDelay());
  }

  /** RFC 6298 §2 with the Linux-like RTO floor. */
  private rttSample(rttMs: number): void {
    const r = rttMs < 0 ? 0 : rttMs;
    if (this.srttMs === undefined) {
      this.srttMs = r;
      this.rttvarMs = r / 2;
    } else {
      this.rttvarMs = 0.75 * this.rttvarMs + 0.25 * Math.abs(this.srttMs - r);
      this.srttMs = 0.875 * this.srttMs + 0.125 * r;
    }
    const rto = this.srttMs + Math.max(CLOCK_GRANULARITY_MS, 4 * this.rttvarMs);
    this.rtoMs = Math.min(Math.max(rto, this.cfg.minRtoMs), this.cfg.maxRtoMs);
  }

  /**
   * Adds the peer's SACK blocks to the scoreboard. D-SACK blocks (below the
   * cumulative ACK, or the first block inside the second, RFC 2883 §4) and
   * blocks outside (snd_una, snd_max] are ignored. Returns whether anything new was learnt.
   */
  private updateScoreboard(ack: number, sack: readonly number[]): boolean {
    let advanced = false;
    for (let i = 0; i + 1 < sack.length; i += 2) {
      let l = sack[i]!;
      let r = sack[i + 1]!;
      if (!seqLt(l, r)) continue;
      if (seqLe(r, ack)) continue;
      if (i === 0 && sack.length >= 4 && seqGe(l, sack[2]!) && seqLe(r, sack[3]!)) continue;
      if (seqLt(l, ack)) l = ack;
      if (seqGt(r, this.sndMax)) r = this.sndMax;
      if (!seqLt(l, r)) continue;
      if (this.addSacked(l, r)) {
        advanced = true;
        this.cfg.stats.sackBlocksIn++;
      }
    }
    return advanced;
  }

  /** Merges [l, r) into the scoreboard; returns whether it covered anything new. */
  private addSacked(l: number, r: number): boolean {
    const s = this.sacked;
    let i = 0;
    while (i < s.length && seqLt(s[i + 1]!, l)) i += 2;
    if (i < s.length && seqLe(s[i]!, l) && seqLe(r, s[i + 1]!)) return false;
    let nl = l;
    let nr = r;
    let j = i;
    while (j < s.length && seqLe(s[j]!, nr)) {
      if (seqLt(s[j]!, nl)) nl = s[j]!;
      if (seqGt(s[j + 1]!, nr)) nr = s[j + 1]!;
      j += 2;
    }
    s.splice(i, j - i, nl, nr);
    return true;
  }

  private trimScoreboard(): void {
    const s = this.sacked;
    let k = 0;
    while (k < s.length && seqLe(s[k + 1]!, this.sndUna)) k += 2;
    if (k > 0) s.splice(0, k);
    if (s.length > 0 && seqLt(s[0]!, this.sndUna)) s[0] = this.sndUna;
  }

  private sackedBytes(): number {
    let n = 0;
    for (let i = 0; i < this.sacked.length; i += 2) n += seqDiff(this.sacked[i + 1]!, this.sacked[i]!);
    return n;
  }

  /** Left edge of the first SACKed range that starts after `seq`, if any. */
  private nextSackedAfter(seq: number): number | undefined {
    for (let i = 0; i < this.sacked.length; i += 2) {
      if (seqGt(this.sacked[i]!, seq)) return this.sacked[i];
    }
    return undefined;
  }

  /** While going back after an RTO, jumps snd_nxt over data the peer SACKed since. */
  private skipSacked(): void {
    if (this.sndNxt === this.sndMax) return;
    for (let i = 0; i < this.sacked.length; i += 2) {
      const l = this.sacked[i]!;
      const r = this.sacked[i + 1]!;
      if (seqLe(l, this.sndNxt) && seqLt(this.sndNxt, r)) this.sndNxt = r;
    }
  }
}
