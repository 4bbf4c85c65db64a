/**
 * The DDP gate hands the engine only the payload bytes the socket's TCP
 * takes, and the host the whole segment: the refused tail as it came.
 */
import { describe, expect, it } from 'vitest';
import { DdpAcceptGate } from '../../../src/nicemu/ddp/accept-gate.js';
import { newUlpDdpStats } from '../../../src/nicemu/ddp/stats.js';
import type { RxOffloadEngine } from '../../../src/nicemu/flow-table.js';
import type { Skb, SkbFrag } from '../../../src/nicemu/skb.js';
import { TCP_ACK } from '../../../src/wire/tcp.js';
import { peerSkb } from '../../support/host/tcp-peer.js';

function bytesOf(frags: readonly SkbFrag[]): Buffer {
  return Buffer.concat(frags.map((f) => (f.kind === 'dmabuf' ? Buffer.alloc(0) : f.buf)));
}

/** An engine that records what it got and marks its output. */
class Recorder implements RxOffloadEngine {
  got: Skb[] = [];
  rx(skb: Skb): Skb {
    this.got.push(skb);
    return { ...skb, ddpPlaced: true };
  }
}

describe('DdpAcceptGate', () => {
  const payload = Buffer.from([...Array(300).keys()].map((i) => i & 0xff));
  // Three rx buffers: 100 + 120 + 80 bytes.
  const skb = peerSkb({ seq: 5000, ack: 1, flags: TCP_ACK, payload, splitAt: [100, 220] });

  it.each([0, 1, 99, 100, 150, 220, 299, 300, 1000])('takes %i bytes: the engine sees exactly those, the host all 300', (take) => {
    const engine = new Recorder();
    const stats = newUlpDdpStats();
    const gate = new DdpAcceptGate(engine, () => take, stats);
    const out = gate.rx(skb)!;
    const n = Math.min(take, 300);
    expect(out.len).toBe(300);
    expect(bytesOf(out.frags).equals(payload)).toBe(true);
    expect(stats['rx-nvme-tcp-tcp-refused-bytes']).toBe(300 - n);
    if (n === 0) {
      expect(engine.got).toEqual([]);
      expect(out).toBe(skb);
    } else {
      expect(engine.got.length).toBe(1);
      expect(engine.got[0]!.len).toBe(n);
      expect(bytesOf(engine.got[0]!.frags).equals(payload.subarray(0, n))).toBe(true);
      expect(out.ddpPlaced).toBe(true);
    }
  });

  it('passes segments without payload to the engine untouched, without asking TCP', () => {
    const engine = new Recorder();
    const gate = new DdpAcceptGate(engine, () => {
      throw new Error('asked');
    }, newUlpDdpStats());
    const ack = peerSkb({ seq: 1, ack: 1, flags: TCP_ACK });
    expect(gate.rx(ack)!.len).toBe(0);
    expect(engine.got.length).toBe(1);
  });
});
