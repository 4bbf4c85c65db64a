/**
 * Cuts a controller's byte stream into the TCP frames that carry it to the
 * host — the valid frame sequences the NIC and receive-path targets start
 * from: segment sizes from a seeded generator (so PDU headers straddle
 * segments), optionally with the kind of disorder a real path adds (a few
 * segments late, a few duplicated, a lost one retransmitted later).
 */
import { buildTcpFrame, type TcpFrameEnds } from '../wire/frame.js';
import { seqAdd } from '../wire/seq.js';
import { TCP_ACK, TCP_PSH } from '../wire/tcp.js';
import type { Rng } from './rng.js';

/** The two ends as the frames carry them (the controller sends, the host receives). */
export type FrameEnds = TcpFrameEnds;

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
  /** Timestamps option (RFC 7323): tsVal of the first frame sent, one more per frame. */
  readonly tsVal?: number;
}

/** Frames carrying `stream` from `ends.src` to `ends.dst`. */
export function segmentStream(stream: Buffer, ends: FrameEnds, o: SegmentOptions, rng: Rng): Buffer[] {
  // First the order segments go out in, then the frames: a timestamp, when used, grows in sending order
  // (a retransmission carries a newer one, or PAWS would throw it away).
  const order: [number, number][] = [];
  const late: { due: number; seg: [number, number] }[] = [];
  const lost: [number, number][] = [];
  let k = 0;
  for (let off = 0; off < stream.length; k++) {
    const seg: [number, number] = [off, Math.min(stream.length - off, 1 + rng.below(o.maxSeg))];
    const x = rng.float();
    if (x < (o.lost ?? 0)) lost.push(seg);
    else if (x < (o.lost ?? 0) + (o.late ?? 0)) late.push({ due: k + 1 + rng.below(4), seg });
    else {
      order.push(seg);
      if (rng.chance(o.dup ?? 0)) late.push({ due: k + rng.below(3), seg });
    }
    for (let j = late.length - 1; j >= 0; j--) {
      if (late[j]!.due <= k) {
        order.push(late[j]!.seg);
        late.splice(j, 1);
      }
    }
    off += seg[1];
  }
  for (const l of late) order.push(l.seg);
  order.push(...lost);
  return order.map(([off, len], i) =>
    buildTcpFrame({
      ...ends,
      seq: seqAdd(o.startSeq, off),
      ack: o.ack,
      flags: TCP_ACK | TCP_PSH,
      window: 0xffff,
      options: o.tsVal === undefined ? undefined : { tsVal: (o.tsVal + i) >>> 0, tsEcr: 0 },
      payload: stream.subarray(off, off + len),
    }),
  );
}
