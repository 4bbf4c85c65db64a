/**
 * TcpSocket.acceptableBytes is the verdict the NIC's DDP gate asks before
 * the engine parses a segment (src/nicemu/ddp/accept-gate.ts): it must say
 * exactly what input() then does. For thousands of seeded segments around
 * the window — old and future timestamps, ACKs of unsent or ancient data,
 * RST, SYN, no ACK, bytes before rcv_nxt, across the right edge, far
 * outside — the verdict, taken first, matches the bytes input() queued.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/host/net/clock.js';
import { TcpSocket } from '../../../src/host/net/tcp-socket.js';
import { seqAdd, seqDiff } from '../../../src/wire/seq.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../../../src/wire/tcp.js';
import { Capture, HOST, PEER, peerSkb, prng } from '../../support/host/tcp-peer.js';

const ISS = 1000;
const PEER_ISS = 0xffff_0000;

async function established(rcvBufBytes: number): Promise<{ sock: TcpSocket; peerSeq: number; peerTs: number }> {
  const clock = new VirtualClock(10_000);
  const cap = new Capture();
  const sock = new TcpSocket({ clock, output: cap.output, local: HOST, remote: PEER, iss: ISS, rcvBufBytes, tsOffset: 0 });
  const p = sock.connect();
  const [syn] = cap.take();
  sock.input(
    peerSkb({ seq: PEER_ISS, ack: ISS + 1, flags: TCP_SYN | TCP_ACK, options: { mss: 1460, wscale: 7, sackPermitted: true, tsVal: 500, tsEcr: syn!.options.tsVal } }),
  );
  await p;
  return { sock, peerSeq: seqAdd(PEER_ISS, 1), peerTs: 501 };
}

describe('TcpSocket.acceptableBytes', () => {
  it('says how many payload bytes input() takes, for 3000 seeded segments around the window', async () => {
    const r = prng(42);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const seen = { refused: 0, whole: 0, cut: 0 };
    for (let trial = 0; trial < 3000; trial++) {
      const { sock, peerSeq, peerTs } = await established(pick([16_384, 65_536]));
      // Some in-order data first, so rcv_nxt has moved and TS.Recent is set.
      const first = Math.floor(r() * 5000);
      if (first > 0) sock.input(peerSkb({ seq: peerSeq, ack: ISS + 1, flags: TCP_ACK, options: { tsVal: peerTs, tsEcr: 1 }, payload: Buffer.alloc(first, 1) }));
      const rcvNxt = seqAdd(peerSeq, first);
      const wnd = sock.info().rcvWnd;
      const len = 1 + Math.floor(r() * 3000);
      const seq = seqAdd(rcvNxt, pick([-len - 10, -Math.floor(len / 2), 0, Math.floor(r() * wnd), wnd - Math.floor(len / 2), wnd + 5, 0x4000_0000]));
      let flags = TCP_ACK | TCP_PSH;
      const oddity = r();
      if (oddity < 0.05) flags |= TCP_RST;
      else if (oddity < 0.1) flags |= TCP_SYN;
      else if (oddity < 0.15) flags &= ~TCP_ACK;
      else if (oddity < 0.2) flags |= TCP_FIN;
      const ack = pick([ISS + 1, ISS + 1, ISS + 1, ISS + 50_000, seqAdd(ISS, -0x2000_0000)]);
      const tsVal = pick([peerTs, peerTs + 7, peerTs - 1, undefined]);
      const skb = peerSkb({ seq, ack, flags, options: tsVal === undefined ? {} : { tsVal, tsEcr: 1 }, payload: Buffer.alloc(len, 2) });

      const verdict = sock.acceptableBytes(skb);
      const before = sock.stats.inBytes;
      const ofoBefore = sock.info().ofoBytes;
      sock.input(skb);
      const queued = sock.stats.inBytes - before;
      // What input() took: bytes from max(seq, rcv_nxt) to seq + verdict (nothing was queued out of order before).
      const skip = Math.max(0, seqDiff(rcvNxt, seq));
      const want = verdict === 0 ? 0 : Math.max(0, verdict - skip);
      expect(ofoBefore).toBe(0);
      expect(queued, `trial ${trial}: seq ${seqDiff(seq, rcvNxt)} from rcv_nxt, len ${len}, flags ${flags}, ack ${ack}, ts ${tsVal}`).toBe(want);
      if (verdict === 0) seen.refused++;
      else if (verdict === len) seen.whole++;
      else seen.cut++;
    }
    // Every kind of verdict was exercised.
    expect(seen.refused).toBeGreaterThan(300);
    expect(seen.whole).toBeGreaterThan(300);
    expect(seen.cut).toBeGreaterThan(30);
  });

  it('takes nothing before the connection is established or after it stopped receiving', async () => {
    const clock = new VirtualClock(0);
    const sock = new TcpSocket({ clock, output: () => undefined, local: HOST, remote: PEER, iss: ISS });
    expect(sock.acceptableBytes(peerSkb({ seq: 1, ack: ISS + 1, flags: TCP_ACK, payload: 'abc' }))).toBe(0);
    const { sock: s2, peerSeq, peerTs } = await established(65_536);
    // The peer's FIN: CLOSE_WAIT takes no more data.
    s2.input(peerSkb({ seq: peerSeq, ack: ISS + 1, flags: TCP_ACK | TCP_FIN, options: { tsVal: peerTs, tsEcr: 1 } }));
    expect(s2.info().state).toBe('CLOSE_WAIT');
    expect(s2.acceptableBytes(peerSkb({ seq: seqAdd(peerSeq, 1), ack: ISS + 1, flags: TCP_ACK, options: { tsVal: peerTs, tsEcr: 1 }, payload: 'x' }))).toBe(0);
  });
});
