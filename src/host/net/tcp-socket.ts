/**
 * The socket API of one userspace TCP connection, as the NVMe/TCP host ULP
 * drives it: connect / listen, write, zero-copy reads of frag views (or
 * copies through `copySkbFrags`), close / abort, and a snapshot of the
 * connection variables. The connection underneath (state machine, segment
 * arrival, what goes on the wire) is TcpConnection (tcp-connection.ts).
 *
 * Active open is the product; passive open (`listen`) exists so two of these
 * sockets can talk to each other in tests.
 */
import type { Clock } from './clock.js';
import { copySkbFrags } from './skb-copy.js';
import type { SkbCopyCounts } from './skb-copy.js';
import { TcpConnection } from './tcp-connection.js';
import type { TcpState } from './tcp-connection.js';
import { TcpError } from './tcp-error.js';
import { newRxChunk } from './tcp-rx-queue.js';
import type { RxChunk } from './tcp-rx-queue.js';
import type { TcpStats } from './tcp-stats.js';
import type { SkbFrag } from '../../nicemu/skb.js';

/** One end of the connection: next-hop MAC for the remote end, our MAC for the local one. */
export interface TcpEndpoint {
  readonly mac: Uint8Array;
  /** IPv4 address, u32. */
  readonly ip: number;
  readonly port: number;
}

export interface TcpSocketConfig {
  readonly clock: Clock;
  /** Sends one Ethernet frame (the Port's send). */
  readonly output: (frame: Buffer) => void;
  readonly local: TcpEndpoint;
  readonly remote: TcpEndpoint;
  /** Link MTU: our MSS is mtu - 40 and no frame we send is longer than mtu + 14. Default 1500. */
  readonly mtu?: number;
  /** Receive buffer: the most unread bytes we let the peer send. Default 4 MiB. */
  readonly rcvBufBytes?: number;
  /**
   * Memory the out-of-order queue may hold, charged per piece as payload +
   * OFO_PIECE_OVERHEAD_BYTES (tcp-rx-queue.ts). Default twice rcvBufBytes:
   * a full window of ordinary segments fits, a flood of tiny ones is pruned.
   */
  readonly ofoLimitBytes?: number;
  /** Send buffer: write() returns false at or above it. Default 4 MiB. */
  readonly sndBufBytes?: number;
  /** Initial send sequence number; random by default. */
  readonly iss?: number;
  /** Offer timestamps (RFC 7323). Default true. */
  readonly timestamps?: boolean;
  /** Offer SACK (RFC 2018). Default true. */
  readonly sack?: boolean;
  /** Offer window scaling (RFC 7323). Default true. */
  readonly windowScaling?: boolean;
  /** Delayed-ACK timeout; Linux's minimum is 40 ms. */
  readonly delAckMs?: number;
  readonly minRtoMs?: number;
  readonly maxRtoMs?: number;
  readonly initialRtoMs?: number;
  /** SYN retransmissions before connect() fails (Linux tcp_syn_retries = 6). */
  readonly synRetries?: number;
  /** Data retransmission timeouts before the connection is dropped (Linux tcp_retries2 = 15). */
  readonly maxRetries?: number;
  /** TIME-WAIT duration (Linux TCP_TIMEWAIT_LEN = 60 s). */
  readonly timeWaitMs?: number;
  /** Counters to update; a fresh set by default (several sockets may share one). */
  readonly stats?: TcpStats;
  /** Offset of our timestamp clock (RFC 7323 §5.4); random by default, fixed for reproducible runs. */
  readonly tsOffset?: number;
}

/** Handlers the socket calls; assign the ones you need. */
export interface TcpSocketHandlers {
  /** New in-order bytes are readable. */
  onReadable?: (() => void) | undefined;
  /** The send buffer drained below half after write() returned false. */
  onDrain?: (() => void) | undefined;
  /** The peer sent FIN: no more data will arrive (bytes still queued can be read). */
  onEnd?: (() => void) | undefined;
  /** The connection is gone: orderly (no error) or not. Called once. */
  onClose?: ((err: TcpError | undefined) => void) | undefined;
}

/** A snapshot of connection variables, for reports and tests. */
export interface TcpInfo {
  readonly state: TcpState;
  readonly sndUna: number;
  readonly sndNxt: number;
  readonly sndWnd: number;
  readonly rcvNxt: number;
  readonly rcvWnd: number;
  readonly cwnd: number;
  readonly ssthresh: number;
  readonly srttMs: number | undefined;
  readonly rtoMs: number;
  readonly mss: number;
  readonly sndWscale: number;
  readonly rcvWscale: number;
  readonly sackOk: boolean;
  readonly tsOk: boolean;
  readonly bufferedBytes: number;
  readonly readableBytes: number;
  readonly ofoBytes: number;
  /** Entries in the ofo queue and what they are charged against ofoLimitBytes. */
  readonly ofoEntries: number;
  readonly ofoTruesize: number;
}

export class TcpSocket extends TcpConnection {
  // Reused by read and peek so a copy allocates nothing.
  private readonly scratchChunk: RxChunk = newRxChunk();

  /** Active open: sends SYN; resolves once established, rejects with ECONNREFUSED / ETIMEDOUT / ECONNABORTED. */
  connect(): Promise<void> {
    if (this.state !== 'CLOSED' || this.closeNotified) return Promise.reject(new TcpError('EINVAL', `connect() in state ${this.state}`));
    const p = this.handshakePromise();
    this.state = 'SYN_SENT';
    this.sendSyn();
    return p;
  }

  /** Passive open for tests: waits for one SYN from the configured remote; resolves once established. */
  listen(): Promise<void> {
    if (this.state !== 'CLOSED' || this.closeNotified) return Promise.reject(new TcpError('EINVAL', `listen() in state ${this.state}`));
    const p = this.handshakePromise();
    this.state = 'LISTEN';
    return p;
  }

  /**
   * Queues bytes to send. The Buffers are kept as views until acknowledged:
   * do not modify them. Returns false when the send buffer is at or above
   * its size (keep writing if you must; `onDrain` says when to resume).
   */
  write(bufs: Buffer | readonly Buffer[]): boolean {
    if (this.closeError !== undefined) throw new TcpError('EPIPE', `write on a dead connection (${this.closeError.code})`);
    if (this.tx.finQueued || (this.state === 'CLOSED' && this.closeNotified)) throw new TcpError('EPIPE', 'write after close()');
    switch (this.state) {
      case 'CLOSED':
      case 'LISTEN':
      case 'SYN_SENT':
      case 'SYN_RECEIVED':
      case 'ESTABLISHED':
      case 'CLOSE_WAIT':
        break;
      default:
        throw new TcpError('EPIPE', `write in state ${this.state}`);
    }
    return this.tx.write(bufs);
  }

  /** Bytes written and not yet acknowledged. */
  get bufferedBytes(): number {
    return this.tx.bufferedBytes;
  }

  /** In-order bytes ready to read. */
  get readableLength(): number {
    return this.rxq.queuedBytes;
  }

  /** TCP sequence number of the next byte a read returns (the ULP's resync handshake speaks in these). */
  get readSeq(): number {
    return this.rxq.readSeq;
  }

  /** One past the last stream byte this socket holds, out-of-order data included (DdpSocket.heldEndSeq at sk_add). */
  get heldEndSeq(): number {
    return this.rxq.heldEndSeq;
  }

  /** The peer's FIN arrived and every byte before it has been read. */
  get readEnded(): boolean {
    return this.finReceived && this.rxq.queuedBytes === 0;
  }

  /**
   * Zero-copy read: consumes up to `n` bytes and returns them as frag views
   * (host / placed / dmabuf) with the DDP flags of their skbs and the TCP
   * sequence number of the first byte. `into` is reused when given (its
   * frags array is overwritten). With `uniformCrc`, the chunk ends early
   * where skbs change ddpCrcOk, so `into.ddpCrcOk` holds for every byte.
   */
  readFrags(n: number, into: RxChunk = newRxChunk(), uniformCrc = false): RxChunk {
    this.rxq.read(n, into, uniformCrc);
    this.afterRead();
    return into;
  }

  /** Every frag still queued (readable and out of order), for the devmem page pool's reclaim scan. */
  forEachQueuedFrag(cb: (f: SkbFrag) => void): void {
    this.rxq.forEachFrag(cb);
  }

  /** Copies out what the receive queue still holds in `memory` (receive memory the NIC takes back): the bytes copied. */
  unshare(memory: ArrayBufferLike): number {
    return this.rxq.unshare(memory);
  }

  /** Like readFrags, without consuming; starts `skip` bytes into the readable data. */
  peekFrags(n: number, into: RxChunk = newRxChunk(), skip = 0, uniformCrc = false): RxChunk {
    this.rxq.peek(n, into, skip, uniformCrc);
    return into;
  }

  /** Drops up to `n` readable bytes (the reader took them through peekFrags). Returns the count. */
  consume(n: number): number {
    const k = this.rxq.read(n);
    this.afterRead();
    return k;
  }

  /**
   * Copies up to `n` readable bytes into `dst` at `dstOff` with copySkbFrags
   * and consumes them; adds to `counts` when given. Returns the byte count.
   * A dmabuf frag throws SkbCopyError (read it with readFrags) and consumes nothing.
   */
  read(dst: Uint8Array, dstOff: number, n: number, counts?: SkbCopyCounts): number {
    const chunk = this.scratchChunk;
    const k = this.rxq.peek(n, chunk);
    if (k === 0) return 0;
    copySkbFrags(chunk.frags, dst, dstOff, counts);
    chunk.frags.length = 0;
    this.rxq.read(k);
    this.afterRead();
    return k;
  }

  /** Copies up to `n` readable bytes, `skip` bytes in, without consuming. Returns the byte count. */
  peek(dst: Uint8Array, dstOff: number, n: number, skip = 0, counts?: SkbCopyCounts): number {
    const chunk = this.scratchChunk;
    const k = this.rxq.peek(n, chunk, skip);
    if (k > 0) copySkbFrags(chunk.frags, dst, dstOff, counts);
    chunk.frags.length = 0;
    return k;
  }

  /** Orderly close of our direction: FIN after the data already written. Reading stays possible. */
  close(): void {
    switch (this.state) {
      case 'CLOSED':
        return;
      case 'LISTEN':
      case 'SYN_SENT':
        this.terminate(new TcpError('ECONNABORTED', 'closed before the connection was established'));
        return;
      case 'SYN_RECEIVED':
        // The FIN goes out once the handshake completes (becomeEstablished → FIN_WAIT_1).
        this.tx.queueFin();
        return;
      case 'ESTABLISHED':
        this.state = 'FIN_WAIT_1';
        this.tx.queueFin();
        return;
      case 'CLOSE_WAIT':
        this.state = 'LAST_ACK';
        this.tx.queueFin();
        return;
      default:
        return;
    }
  }

  /** Abortive close: RST to the peer (when synchronized), drop everything, onClose(ECONNABORTED). */
  abort(): void {
    if (this.state === 'CLOSED') return;
    if (this.synchronized()) this.sendRst(this.ackSeq(), 0, false);
    this.terminate(new TcpError('ECONNABORTED', 'connection aborted locally'));
  }

  /**
   * Releases the socket when its owner goes away: a connection that already
   * finished its closing handshake (TIME_WAIT) is simply dropped, as Linux
   * does when the stack goes away — no RST for a peer that has nothing left
   * to say; anything still open is aborted with RST.
   */
  dispose(): void {
    if (this.state === 'TIME_WAIT') {
      this.terminate(undefined);
      return;
    }
    this.abort();
  }

  info(): TcpInfo {
    return {
      state: this.state,
      sndUna: this.tx.sndUna,
      sndNxt: this.tx.sndNxt,
      sndWnd: this.tx.sndWnd,
      rcvNxt: this.rxq.rcvNxt,
      rcvWnd: this.rwnd.rcvWnd(this.rxq.rcvNxt),
      cwnd: this.tx.cwnd,
      ssthresh: this.tx.ssthresh,
      srttMs: this.tx.srttMs,
      rtoMs: this.tx.currentRto(),
      mss: this.tx.mss,
      sndWscale: this.sndWscale,
      rcvWscale: this.rwnd.rcvWscale,
      sackOk: this.sackOk,
      tsOk: this.tsOk,
      bufferedBytes: this.tx.bufferedBytes,
      readableBytes: this.rxq.queuedBytes,
      ofoBytes: this.rxq.ofoBytes,
      ofoEntries: this.rxq.ofoEntries,
      ofoTruesize: this.rxq.ofoTruesize,
    };
  }

  /** After the application read: a window update when the window can open enough (TcpReceiveWindow.windowUpdateDue). */
  private afterRead(): void {
    if (this.state !== 'ESTABLISHED' && this.state !== 'FIN_WAIT_1' && this.state !== 'FIN_WAIT_2') return;
    if (this.rwnd.windowUpdateDue(this.rxq.rcvNxt, this.rxq.queuedBytes)) {
      this.stats.windowUpdatesSent++;
      this.sendAck();
    }
  }
}
