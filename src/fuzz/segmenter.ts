/**
 * Cuts a controller's byte stream into the TCP frames that carry it to the
 * host — the valid frame sequences the NIC and receive-path targets start
 * from: segment sizes from a seeded generator (so PDU headers straddle
 * segments), optionally with the kind of disorder a real path adds (a few
 * segments late, a few duplicated, a lost one retransmitted later).
 */
import { buildTcpFrame } from '../wire/frame.js';
import { seqAdd } from '../wire/seq.js';
import { TCP_ACK, TCP_PSH } from '../wire/tcp.js';
import type { Rng } from './rng.js';

/** The two ends as the frames carry them (the controller sends, the host receives). */
export interface FrameEnds {
  readonly srcMac: Uint8Array;
  readonly dstMac: Uint8Array;
  readonly srcIp: number;
  readonly dstIp: number;
  readonly srcPort: number;
  readonly dstPort: number;
}

export interface SegmentOptions {
  /** Sequence number of stream byte 0. */
  readonly startSeq: number;
  /** ACK field of every frame. */
  readonly ack: number;
  /** Largest segment payload. */
  readonly maxSeg: number;
  /** Per segment: chance to arrive late (after a few later ones), to come twice, to be lost and retransmitted at the end. */
  readonly late?: number;
  readonly dup?: number;
  readonly lost?: number;
}

/** Frames carrying `stream` from `ends.src` to `ends.dst`. */
export function segmentStream(stream: Buffer, ends: FrameEnds, o: SegmentOptions, rng: Rng): Buffer[] {
  const frame = (off: number, len: number): Buffer =>
    buildTcpFrame({
      ...ends,
      seq: seqAdd(o.startSeq, off),
      ack: o.ack,
      flags: TCP_ACK | TCP_PSH,
      window: 0xffff,
      payload: stream.subarray(off, off + len),
    });
  const out: Buffer[] = [];
  const late: { due: number; f: Buffer }[] = [];
  const lost: Buffer[] = [];
  let k = 0;
  for (let off = 0; off < stream.length; k++) {
    const len = Math.min(stream.length - off, 1 + rng.below(o.maxSeg));
    const f = frame(off, len);
    const x = rng.float();
    if (x < (o.lost ?? 0)) lost.push(f);
    else if (x < (o.lost ?? 0) + (o.late ?? 0)) late.push({ due: k + 1 + rng.below(4), f });
    else {
      out.push(f);
      if (rng.chance(o.dup ?? 0)) late.push({ due: k + rng.below(3), f });
    }
    for (let j = late.length - 1; j >= 0; j--) {
      if (late[j]!.due <= k) {
        out.push(late[j]!.f);
        late.splice(j, 1);
      }
    }
    off += len;
  }
  for (const l of late) out.push(l.f);
  out.push(...lost);
  return out;
}
