/**
 * Builds the frames of one TCP connection: the header fields the socket
 * decided on, the options (MSS, window scale, SACK-permitted and timestamps
 * on a SYN; timestamps and SACK blocks afterwards), the payload gathered as
 * views from the send buffer. One frame and its payload copy are the only
 * allocations per segment: the header and option objects are reused.
 *
 * The socket sends the returned frame after updating its own state, so a
 * peer that answers synchronously (two sockets wired together in tests)
 * sees a consistent socket.
 */
import type { TcpEndpoint } from './tcp-socket.js';
import type { TcpRxQueue, SackBlockOut } from './tcp-rx-queue.js';
import type { TcpStats } from './tcp-stats.js';
import type { TcpTx } from './tcp-tx.js';
import { buildTcpFrame } from '../../wire/frame.js';
import { TCP_ACK, TCP_RST } from '../../wire/tcp.js';
import type { TcpSackBlock } from '../../wire/tcp.js';

/** IPv4 + TCP headers without options. */
export const IPV4_TCP_HEADERS = 40;
/** NOP NOP TS(10) in every segment once timestamps are on. */
export const TS_OPTION_LEN = 12;
const TCP_OPTION_SPACE = 40;

/** The options a SYN or SYN-ACK carries; undefined leaves one out. */
export interface TcpSynOptions {
  readonly mss: number;
  readonly wscale: number | undefined;
  readonly sackPermitted: boolean | undefined;
  readonly tsVal: number | undefined;
  readonly tsEcr: number | undefined;
}

/** Mutable options object reused for every segment (the wire type is read-only, which a mutable object satisfies). */
interface OptionsScratch {
  mss: number | undefined;
  wscale: number | undefined;
  sackPermitted: boolean | undefined;
  sack: readonly TcpSackBlock[] | undefined;
  tsVal: number | undefined;
  tsEcr: number | undefined;
}

interface FrameScratch {
  srcMac: Uint8Array;
  dstMac: Uint8Array;
  srcIp: number;
  dstIp: number;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  options: OptionsScratch | undefined;
  payload: readonly Uint8Array[] | undefined;
}

export class TcpSegmentOut {
  private readonly frame: FrameScratch;
  private readonly opts: OptionsScratch = { mss: undefined, wscale: undefined, sackPermitted: undefined, sack: undefined, tsVal: undefined, tsEcr: undefined };
  private readonly payloadViews: Buffer[] = [];
  private readonly sackPool: SackBlockOut[] = [
    { left: 0, right: 0 },
    { left: 0, right: 0 },
    { left: 0, right: 0 },
    { left: 0, right: 0 },
  ];
  private readonly sackViews: SackBlockOut[][];

  constructor(
    local: TcpEndpoint,
    remote: TcpEndpoint,
    /** Link MTU: no frame is longer than mtu + 14. */
    private readonly mtu: number,
    private readonly stats: TcpStats,
  ) {
    this.frame = {
      srcMac: local.mac,
      dstMac: remote.mac,
      srcIp: local.ip,
      dstIp: remote.ip,
      srcPort: local.port,
      dstPort: remote.port,
      seq: 0,
      ack: 0,
      flags: 0,
      window: 0,
      options: undefined,
      payload: undefined,
    };
    this.sackViews = [[], [this.sackPool[0]!], this.sackPool.slice(0, 2), this.sackPool.slice(0, 3), this.sackPool.slice(0, 4)];
  }

  /** A SYN or SYN-ACK: no payload, an unscaled window, the handshake options. */
  syn(flags: number, seq: number, ack: number, window: number, so: TcpSynOptions): Buffer {
    const o = this.resetOptions();
    o.mss = so.mss;
    o.wscale = so.wscale;
    o.sackPermitted = so.sackPermitted;
    o.tsVal = so.tsVal;
    o.tsEcr = so.tsEcr;
    return this.build(flags, seq, ack, window, 0, undefined);
  }

  /**
   * Any other non-RST segment. `tsVal` undefined: no timestamps. `sackFrom`
   * given: SACK blocks from that queue when it holds out-of-order data or a
   * D-SACK (as many as fit next to the payload within `peerMss`).
   * Payload [seq, seq + dataLen) is gathered from `tx`.
   */
  segment(
    flags: number,
    seq: number,
    ack: number,
    window: number,
    tsVal: number | undefined,
    tsEcr: number,
    sackFrom: TcpRxQueue | undefined,
    peerMss: number,
    dataLen: number,
    tx: TcpTx,
  ): Buffer {
    const o = this.resetOptions();
    let optLen = 0;
    if (tsVal !== undefined) {
      o.tsVal = tsVal;
      o.tsEcr = tsEcr;
      optLen += TS_OPTION_LEN;
    }
    if (sackFrom !== undefined && (!sackFrom.ofoEmpty || sackFrom.hasDsack)) {
      const room = Math.min(peerMss, this.mtu - IPV4_TCP_HEADERS) - optLen - dataLen;
      const space = Math.min(room, TCP_OPTION_SPACE - optLen) - 4;
      const max = space >= 8 ? Math.min(4, Math.floor(space / 8)) : 0;
      if (max > 0) {
        const hadDsack = sackFrom.hasDsack;
        const n = sackFrom.fillSackBlocks(this.sackPool, max);
        if (n > 0) {
          o.sack = this.sackViews[n];
          this.stats.sackBlocksSent += n;
          if (hadDsack) this.stats.dsackSent++;
        }
      }
    }
    let payload: Buffer[] | undefined;
    if (dataLen > 0) {
      tx.gather(seq, dataLen, this.payloadViews);
      payload = this.payloadViews;
    }
    return this.build(flags, seq, ack, window, dataLen, payload);
  }

  /** A RST, with ACK when `withAck`: no window, no options. */
  rst(seq: number, ack: number, withAck: boolean): Buffer {
    this.stats.rstsOut++;
    const fr = this.frame;
    fr.seq = seq >>> 0;
    fr.ack = withAck ? ack >>> 0 : 0;
    fr.flags = withAck ? TCP_RST | TCP_ACK : TCP_RST;
    fr.window = 0;
    fr.options = undefined;
    fr.payload = undefined;
    this.stats.outSegs++;
    return buildTcpFrame(fr);
  }

  private resetOptions(): OptionsScratch {
    const o = this.opts;
    o.mss = undefined;
    o.wscale = undefined;
    o.sackPermitted = undefined;
    o.sack = undefined;
    o.tsVal = undefined;
    o.tsEcr = undefined;
    return o;
  }

  private build(flags: number, seq: number, ack: number, window: number, dataLen: number, payload: Buffer[] | undefined): Buffer {
    const fr = this.frame;
    fr.seq = seq >>> 0;
    fr.flags = flags;
    fr.ack = ack;
    fr.window = window;
    fr.options = this.opts;
    fr.payload = payload;
    const frame = buildTcpFrame(fr);
    this.payloadViews.length = 0;
    this.stats.outSegs++;
    this.stats.outBytes += dataLen;
    return frame;
  }
}
