/**
 * Test support for the host TCP: frames ↔ skbs the way the NIC emulator
 * hands them over, a capture of what a socket sends, and a scripted peer
 * that writes TCP segments by hand.
 */
import type { Skb, SkbFrag } from '../../../src/nicemu/skb.js';
import { buildTcpFrame, parseFrame } from '../../../src/wire/frame.js';
import type { FrameRepr } from '../../../src/wire/frame.js';
import { verifyTcpChecksum } from '../../../src/wire/tcp.js';
import type { TcpOptions, TcpRepr } from '../../../src/wire/tcp.js';
import type { TcpEndpoint } from '../../../src/host/net/tcp-socket.js';
import { mulberry32 } from '../../../src/base/seeded-rng.js';

export const HOST: TcpEndpoint = { mac: Buffer.from([2, 0, 0, 0, 0, 2]), ip: 0xc000_0202, port: 40_000 };
export const PEER: TcpEndpoint = { mac: Buffer.from([2, 0, 0, 0, 0, 1]), ip: 0xc000_0201, port: 4420 };

/**
 * The skb the NIC would build for `frame`: TCP payload as host frags, split
 * at the given payload offsets (a NIC with small rx buffers, or header split).
 */
export function skbFromFrame(frame: Buffer, splitAt: readonly number[] = [], tsUs = 0): Skb {
  const f = parseFrame(frame);
  const tcp = f.tcp;
  if (f.ip === undefined || tcp === undefined) throw new Error('not a TCP frame');
  const payload = tcp.payload;
  const frags: SkbFrag[] = [];
  let at = 0;
  for (const cut of splitAt) {
    if (cut <= at || cut >= payload.length) continue;
    frags.push({ kind: 'host', buf: payload.subarray(at, cut) });
    at = cut;
  }
  if (at < payload.length) frags.push({ kind: 'host', buf: payload.subarray(at) });
  return {
    tcp,
    srcIp: f.ip.src,
    dstIp: f.ip.dst,
    seq: tcp.seq,
    len: payload.length,
    head: frame.subarray(0, frame.length - payload.length),
    frags,
    ddpPlaced: false,
    ddpCrcOk: false,
    tsUs,
  };
}

/** True when the TCP checksum of `frame` verifies. */
export function tcpChecksumOk(frame: Buffer): boolean {
  const f = parseFrame(frame);
  return f.ip !== undefined && verifyTcpChecksum(f.ip.src, f.ip.dst, f.ip.payload);
}

/** Collects what a socket sends, parsed. */
export class Capture {
  readonly frames: Buffer[] = [];
  private taken = 0;
  readonly output = (frame: Buffer): void => {
    this.frames.push(frame);
  };

  /** TCP headers of the frames sent since the last take(). */
  take(): TcpRepr[] {
    const out: TcpRepr[] = [];
    for (; this.taken < this.frames.length; this.taken++) {
      const fr: FrameRepr = parseFrame(this.frames[this.taken]!);
      if (fr.tcp === undefined) throw new Error('socket sent a non-TCP frame');
      out.push(fr.tcp);
    }
    return out;
  }
}

export interface SegSpec {
  seq: number;
  ack?: number;
  flags: number;
  window?: number;
  options?: TcpOptions;
  payload?: Buffer | string;
  splitAt?: number[];
}

/** The TCP fields of a segment from PEER to HOST (the addresses and ports are theirs). */
export interface PeerSegment {
  seq: number;
  ack: number;
  flags: number;
  window?: number;
  options?: TcpOptions;
  payload?: Buffer;
}

/** The frame of a segment from PEER to HOST. */
export function peerFrame(s: PeerSegment): Buffer {
  return buildTcpFrame({
    srcMac: PEER.mac,
    dstMac: HOST.mac,
    srcIp: PEER.ip,
    dstIp: HOST.ip,
    srcPort: PEER.port,
    dstPort: HOST.port,
    seq: s.seq >>> 0,
    ack: s.ack >>> 0,
    flags: s.flags,
    window: s.window ?? 0xffff,
    options: s.options,
    payload: s.payload,
  });
}

/** Builds the skb of a segment from PEER to HOST. */
export function peerSkb(s: SegSpec): Skb {
  const payload = typeof s.payload === 'string' ? Buffer.from(s.payload, 'latin1') : s.payload;
  const frame = peerFrame({ seq: s.seq, ack: s.ack ?? 0, flags: s.flags, window: s.window, options: s.options, payload });
  return skbFromFrame(frame, s.splitAt ?? []);
}

/** mulberry32: a small seeded PRNG for reproducible impairment. */
export const prng = mulberry32;
