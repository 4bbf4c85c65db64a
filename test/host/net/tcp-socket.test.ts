import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/host/net/clock.js';
import { newSkbCopyCounts } from '../../../src/host/net/skb-copy.js';
import { TcpError } from '../../../src/host/net/tcp-error.js';
import { TcpSocket } from '../../../src/host/net/tcp-socket.js';
import type { TcpSocketConfig } from '../../../src/host/net/tcp-socket.js';
import { seqAdd } from '../../../src/wire/seq.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../../../src/wire/tcp.js';
import type { TcpOptions, TcpRepr } from '../../../src/wire/tcp.js';
import { Capture, HOST, PEER, peerSkb, tcpChecksumOk } from '../../support/host/tcp-peer.js';

const ISS = 1000;
const PEER_ISS = 0xffff_f000; // the peer's stream wraps 2^32 after 4 KiB
const MSS_TS = 1448; // 1500 - 40 - 12

interface Conn {
  clock: VirtualClock;
  cap: Capture;
  sock: TcpSocket;
  /** Peer's next sequence number and its timestamp clock. */
  peerSeq: number;
  peerTs: number;
  /** Our last TSval seen by the peer (to echo). */
  ourTs: number;
  syn: TcpRepr;
}

async function established(cfg: Partial<TcpSocketConfig> = {}, synAckOpts: Partial<TcpOptions> = {}, peerWindow = 0xffff): Promise<Conn> {
  const clock = new VirtualClock(10_000);
  const cap = new Capture();
  const sock = new TcpSocket({ clock, output: cap.output, local: HOST, remote: PEER, iss: ISS, ...cfg });
  const p = sock.connect();
  const [syn] = cap.take();
  clock.advance(1);
  sock.input(
    peerSkb({
      seq: PEER_ISS,
      ack: ISS + 1,
      flags: TCP_SYN | TCP_ACK,
      window: peerWindow,
      options: { mss: 1460, wscale: 7, sackPermitted: true, tsVal: 500, tsEcr: syn!.options.tsVal, ...synAckOpts },
    }),
  );
  await p;
  const [ack] = cap.take();
  return { clock, cap, sock, peerSeq: seqAdd(PEER_ISS, 1), peerTs: 501, ourTs: ack!.options.tsVal ?? 0, syn: syn! };
}

/** Peer sends `payload` at its current sequence (or `seq`), ACKing `ack` (default: everything we sent). */
function peerData(c: Conn, payload: Buffer | string, opts: { seq?: number; flags?: number; window?: number; ack?: number; sack?: { left: number; right: number }[]; splitAt?: number[] } = {}): void {
  const len = typeof payload === 'string' ? payload.length : payload.length;
  const seq = opts.seq ?? c.peerSeq;
  c.sock.input(
    peerSkb({
      seq,
      ack: opts.ack ?? c.sock.info().sndNxt,
      flags: opts.flags ?? TCP_ACK,
      window: opts.window ?? 0xffff,
      options: { tsVal: c.peerTs++, tsEcr: c.ourTs, sack: opts.sack },
      payload,
      splitAt: opts.splitAt,
    }),
  );
  if (opts.seq === undefined) c.peerSeq = seqAdd(c.peerSeq, len + ((opts.flags ?? 0) & TCP_FIN ? 1 : 0));
}

function peerAck(c: Conn, ack: number, window = 0xffff, sack?: { left: number; right: number }[]): void {
  c.sock.input(peerSkb({ seq: c.peerSeq, ack, flags: TCP_ACK, window, options: { tsVal: c.peerTs++, tsEcr: c.ourTs, sack } }));
}

function bytes(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return b;
}

function readAllText(sock: TcpSocket): string {
  const b = Buffer.alloc(sock.readableLength);
  sock.read(b, 0, b.length);
  return b.toString('latin1');
}

function sackOf(t: TcpRepr): [number, number][] {
  return (t.options.sack ?? []).map((b) => [b.left, b.right]);
}

describe('TcpSocket handshake', () => {
  it('sends a SYN with MSS from the MTU, window scale, SACK-permitted and timestamps, then adopts the SYN-ACK options', async () => {
    const c = await established({ mtu: 9000 }, { mss: 1000, wscale: 2 });
    expect(c.syn.flags).toBe(TCP_SYN);
    expect(c.syn.seq).toBe(ISS);
    expect(c.syn.options.mss).toBe(8960);
    expect(c.syn.options.wscale).toBe(7); // 4 MiB receive buffer
    expect(c.syn.options.sackPermitted).toBe(true);
    expect(c.syn.options.tsVal).toBeDefined();
    expect(c.syn.options.tsEcr).toBe(0);
    expect(c.syn.window).toBe(0xffff);
    expect(tcpChecksumOk(c.cap.frames[0]!)).toBe(true);
    const info = c.sock.info();
    expect(info.state).toBe('ESTABLISHED');
    expect(info.mss).toBe(1000 - 12);
    expect(info.sndWscale).toBe(2);
    expect(info.rcvWscale).toBe(7);
    expect(info.sackOk).toBe(true);
    expect(info.tsOk).toBe(true);
    // The third ACK: acknowledges the SYN-ACK, echoes its TSval, scaled window.
    const ack = c.cap.frames[1]!;
    expect(tcpChecksumOk(ack)).toBe(true);
  });

  it('acknowledges the SYN-ACK with the peer timestamp echoed and a scaled full window', async () => {
    const clock = new VirtualClock(0);
    const cap = new Capture();
    const sock = new TcpSocket({ clock, output: cap.output, local: HOST, remote: PEER, iss: ISS, rcvBufBytes: 1 << 20 });
    const p = sock.connect();
    const [syn] = cap.take();
    expect(syn!.options.wscale).toBe(5);
    sock.input(peerSkb({ seq: 77, ack: ISS + 1, flags: TCP_SYN | TCP_ACK, window: 1000, options: { mss: 1460, wscale: 0, sackPermitted: true, tsVal: 42, tsEcr: syn!.options.tsVal } }));
    await p;
    const [ack] = cap.take();
    expect(ack!.flags).toBe(TCP_ACK);
    expect(ack!.seq).toBe(ISS + 1);
    expect(ack!.ack).toBe(78);
    expect(ack!.options.tsEcr).toBe(42);
    expect(ack!.window).toBe((1 << 20) >> 5);
    // The SYN-ACK's window is not scaled (RFC 7323 §2.2).
    expect(sock.info().sndWnd).toBe(1000);
  });

  it('does without options the peer did not offer', async () => {
    const c = await established({}, { wscale: undefined, sackPermitted: false, tsVal: undefined, tsEcr: undefined, mss: undefined });
    const info = c.sock.info();
    expect(info.sackOk).toBe(false);
    expect(info.tsOk).toBe(false);
    expect(info.sndWscale).toBe(0);
    expect(info.rcvWscale).toBe(0);
    expect(info.mss).toBe(536);
    c.sock.write(bytes(600));
    const segs = c.cap.take();
    expect(segs.map((s) => s.payload.length)).toEqual([536, 64]);
    expect(segs[0]!.options.tsVal).toBeUndefined();
  });

  it('retransmits the SYN with exponential backoff and fails with ETIMEDOUT', async () => {
    const clock = new VirtualClock(0);
    const cap = new Capture();
    const sock = new TcpSocket({ clock, output: cap.output, local: HOST, remote: PEER, iss: ISS, synRetries: 3 });
    let closed: TcpError | undefined;
    sock.handlers.onClose = (e) => (closed = e);
    const p = sock.connect();
    const times: number[] = [];
    cap.take();
    for (let t = 0; t < 20_000; t += 100) {
      clock.advance(100);
      for (const s of cap.take()) {
        expect(s.flags).toBe(TCP_SYN);
        times.push(clock.nowMs());
      }
    }
    expect(times).toEqual([1000, 3000, 7000]);
    await expect(p).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    expect(closed?.code).toBe('ETIMEDOUT');
    expect(sock.stats.synRetrans).toBe(3);
  });

  it('reports a RST in answer to the SYN as connection refused', async () => {
    const clock = new VirtualClock(0);
    const cap = new Capture();
    const sock = new TcpSocket({ clock, output: cap.output, local: HOST, remote: PEER, iss: ISS });
    const p = sock.connect();
    // A RST whose ACK does not cover our SYN is ignored.
    sock.input(peerSkb({ seq: 0, ack: ISS + 5, flags: TCP_RST | TCP_ACK }));
    expect(sock.state).toBe('SYN_SENT');
    sock.input(peerSkb({ seq: 0, ack: ISS + 1, flags: TCP_RST | TCP_ACK }));
    await expect(p).rejects.toBeInstanceOf(TcpError);
    await expect(p).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(sock.state).toBe('CLOSED');
  });
});

describe('TcpSocket receive', () => {
  it('delivers in-order data across the 2^32 wrap, zero-copy through readFrags', async () => {
    const c = await established();
    const data = bytes(5000);
    peerData(c, data.subarray(0, 2000), { splitAt: [100, 1500] });
    peerData(c, data.subarray(2000, 5000));
    expect(c.sock.readableLength).toBe(5000);
    expect(c.sock.readSeq).toBe(seqAdd(PEER_ISS, 1));
    const chunk = c.sock.readFrags(2500);
    expect(chunk.len).toBe(2500);
    expect(chunk.frags.length).toBe(4);
    expect(Buffer.concat(chunk.frags.map((f) => (f.kind === 'dmabuf' ? Buffer.alloc(0) : f.buf))).equals(data.subarray(0, 2500))).toBe(true);
    const rest = Buffer.alloc(2500);
    const counts = newSkbCopyCounts();
    expect(c.sock.read(rest, 0, 9999, counts)).toBe(2500);
    expect(counts.copiedBytes).toBe(2500);
    expect(rest.equals(data.subarray(2500))).toBe(true);
    expect(c.sock.stats.inBytes).toBe(5000);
  });

  it('ACKs every second segment also when the peer sends segments smaller than our MSS', async () => {
    const c = await established();
    peerData(c, bytes(1000));
    expect(c.cap.take()).toEqual([]);
    peerData(c, bytes(1000));
    expect(c.cap.take().length).toBe(1);
  });

  it('answers an ACK of data never sent with an ACK and ignores the segment', async () => {
    const c = await established();
    peerData(c, 'ignored', { ack: ISS + 1000 });
    const [a] = c.cap.take();
    expect(a!.ack).toBe(seqAdd(PEER_ISS, 1));
    expect(c.sock.readableLength).toBe(0);
  });

  it('calls onReadable for new in-order data only', async () => {
    const c = await established();
    let n = 0;
    c.sock.handlers.onReadable = () => n++;
    peerData(c, 'abc', { seq: seqAdd(c.peerSeq, 10) });
    expect(n).toBe(0);
    peerData(c, 'x'.repeat(10));
    expect(n).toBe(1);
    expect(c.sock.readableLength).toBe(13);
  });

  it('delays the ACK of a single segment by 40 ms and ACKs every second full-sized segment at once', async () => {
    const c = await established();
    peerData(c, bytes(MSS_TS));
    expect(c.cap.take()).toEqual([]);
    c.clock.advance(39);
    expect(c.cap.take()).toEqual([]);
    c.clock.advance(1);
    const [delayed] = c.cap.take();
    expect(delayed!.ack).toBe(c.peerSeq);
    expect(c.sock.stats.delayedAcks).toBe(1);

    peerData(c, bytes(MSS_TS));
    expect(c.cap.take()).toEqual([]);
    peerData(c, bytes(MSS_TS));
    const [now] = c.cap.take();
    expect(now!.ack).toBe(c.peerSeq);
    // The timer was cancelled by that ACK.
    c.clock.advance(100);
    expect(c.cap.take()).toEqual([]);
    // A GSO-sized segment (GRO/TSO left on at the peer) is ACKed at once too.
    peerData(c, bytes(3 * MSS_TS));
    expect(c.cap.take().length).toBe(1);
  });

  it('inside an rx batch sends one ACK at the batch end, and at least one per 64 KiB, like GRO', async () => {
    const c = await established();
    c.sock.beginRxBatch();
    for (let i = 0; i < 10; i++) peerData(c, bytes(MSS_TS));
    expect(c.cap.take()).toEqual([]);
    c.sock.endRxBatch();
    const acks = c.cap.take();
    expect(acks.length).toBe(1);
    expect(acks[0]!.ack).toBe(c.peerSeq);
    // A long batch still ACKs every 64 KiB of in-order data.
    c.sock.beginRxBatch();
    const n = Math.ceil((3 * 65536) / MSS_TS);
    for (let i = 0; i < n; i++) peerData(c, bytes(MSS_TS));
    const during = c.cap.take().length;
    c.sock.endRxBatch();
    const atEnd = c.cap.take();
    expect(during).toBeGreaterThanOrEqual(2);
    expect(during).toBeLessThanOrEqual(3);
    // Whatever remained unacknowledged is ACKed at the batch end.
    expect(atEnd.length).toBe(1);
    expect(atEnd[0]!.ack).toBe(c.peerSeq);
    // Out-of-order data is still ACKed at once inside a batch (the sender needs the dup ACK).
    c.sock.beginRxBatch();
    peerData(c, bytes(100), { seq: seqAdd(c.peerSeq, 5000) });
    expect(c.cap.take().length).toBe(1);
    c.sock.endRxBatch();
  });

  it('ACKs out-of-order data at once with SACK blocks, most recent first, and the hole fill at once', async () => {
    const c = await established();
    const base = c.peerSeq;
    const d = bytes(4 * 1000);
    peerData(c, d.subarray(1000, 2000), { seq: seqAdd(base, 1000) });
    let [a] = c.cap.take();
    expect(a!.ack).toBe(base);
    expect(sackOf(a!)).toEqual([[seqAdd(base, 1000), seqAdd(base, 2000)]]);
    peerData(c, d.subarray(3000, 4000), { seq: seqAdd(base, 3000) });
    [a] = c.cap.take();
    expect(sackOf(a!)).toEqual([
      [seqAdd(base, 3000), seqAdd(base, 4000)],
      [seqAdd(base, 1000), seqAdd(base, 2000)],
    ]);
    expect(c.sock.stats.dupAcksSent).toBe(2);
    expect(c.sock.stats.ofoQueue).toBe(2);
    expect(c.sock.readableLength).toBe(0);
    // Fill the first hole: immediate ACK, one SACK block left.
    peerData(c, d.subarray(0, 1000), { seq: base });
    [a] = c.cap.take();
    expect(a!.ack).toBe(seqAdd(base, 2000));
    expect(sackOf(a!)).toEqual([[seqAdd(base, 3000), seqAdd(base, 4000)]]);
    peerData(c, d.subarray(2000, 3000), { seq: seqAdd(base, 2000) });
    [a] = c.cap.take();
    expect(a!.ack).toBe(seqAdd(base, 4000));
    expect(a!.options.sack).toBeUndefined();
    const got = Buffer.alloc(4000);
    c.sock.read(got, 0, 4000);
    expect(got.equals(d)).toBe(true);
  });

  it('keeps the first accepted bytes when retransmissions overlap them with different bytes', async () => {
    const c = await established();
    const base = c.peerSeq;
    peerData(c, 'AAAA', { seq: base });
    peerData(c, 'CCCC', { seq: seqAdd(base, 8) });
    // Overlaps both queued ranges with other bytes and fills the hole between them.
    peerData(c, 'xxxxBBBByyyyDD', { seq: base });
    expect(readAllText(c.sock)).toBe('AAAABBBBCCCCDD');
    expect(c.sock.stats.partialDupSegs).toBe(1);
    expect(c.sock.stats.dupBytes).toBe(8);
  });

  it('answers a duplicate segment with an immediate ACK carrying a D-SACK block', async () => {
    const c = await established();
    const base = c.peerSeq;
    peerData(c, bytes(100));
    c.clock.advance(50);
    c.cap.take();
    peerData(c, bytes(100), { seq: base });
    const [a] = c.cap.take();
    expect(a!.ack).toBe(seqAdd(base, 100));
    expect(sackOf(a!)).toEqual([[base, seqAdd(base, 100)]]);
    expect(c.sock.stats.dupSegs).toBe(1);
    expect(c.sock.stats.dsackSent).toBe(1);
    expect(c.sock.readableLength).toBe(100);
  });

  it('scales the receive window from free buffer space and never moves its right edge left', async () => {
    const c = await established({ rcvBufBytes: 1 << 20 }); // wscale 5
    peerData(c, bytes(MSS_TS));
    peerData(c, bytes(MSS_TS));
    const [a] = c.cap.take();
    const rcvBuf = 1 << 20;
    // The right edge advertised at the handshake stays; the field rounds up rather than shrink it.
    expect(a!.window).toBe(Math.ceil((rcvBuf - 2 * MSS_TS) / 32));
    const rightEdge = seqAdd(a!.ack, a!.window << 5);
    // Right edge stays at or beyond the one advertised while data queues unread.
    for (let i = 0; i < 6; i++) peerData(c, bytes(MSS_TS));
    for (const s of c.cap.take()) {
      const edge = seqAdd(s.ack, s.window << 5);
      expect(((edge - rightEdge) | 0) >= 0).toBe(true);
    }
  });

  it('advertises a zero window when the reader stalls, answers window probes, and reopens when the app reads', async () => {
    const rcvBuf = 8 * MSS_TS;
    const c = await established({ rcvBufBytes: rcvBuf }); // wscale 0
    let sent = 0;
    while (sent < rcvBuf) {
      peerData(c, bytes(MSS_TS));
      sent += MSS_TS;
    }
    const acks = c.cap.take();
    const last = acks[acks.length - 1]!;
    expect(last.ack).toBe(c.peerSeq);
    expect(last.window).toBe(0);
    expect(c.sock.stats.zeroWindowOurs).toBe(1);
    // Data beyond a zero window is not accepted but is answered.
    peerData(c, 'z', { seq: c.peerSeq });
    let [a] = c.cap.take();
    expect(a!.ack).toBe(c.peerSeq);
    expect(a!.window).toBe(0);
    // Linux's zero-window probe: a bare ACK with seq = rcv_nxt - 1.
    c.sock.input(peerSkb({ seq: seqAdd(c.peerSeq, -1), ack: c.sock.info().sndNxt, flags: TCP_ACK, options: { tsVal: c.peerTs++, tsEcr: c.ourTs } }));
    [a] = c.cap.take();
    expect(a!.ack).toBe(c.peerSeq);
    expect(a!.window).toBe(0);
    expect(c.sock.stats.winProbesAnswered).toBe(2);
    expect(c.sock.readableLength).toBe(rcvBuf);
    // Reading a little does not reopen (silly window avoidance).
    c.sock.consume(100);
    expect(c.cap.take()).toEqual([]);
    // Reading half the buffer sends a window update.
    c.sock.consume(rcvBuf / 2);
    [a] = c.cap.take();
    expect(a!.window).toBe(rcvBuf / 2 + 100);
    expect(c.sock.stats.windowUpdatesSent).toBe(1);
    expect(c.sock.stats.zeroWindowReopened).toBe(1);
  });

  it('consumes the FIN after the data before it, even when the FIN arrives beyond a hole (half close)', async () => {
    const c = await established();
    const base = c.peerSeq;
    let ended = 0;
    c.sock.handlers.onEnd = () => ended++;
    peerData(c, 'world', { seq: seqAdd(base, 6), flags: TCP_ACK | TCP_FIN });
    expect(c.sock.state).toBe('ESTABLISHED');
    let [a] = c.cap.take();
    expect(a!.ack).toBe(base);
    peerData(c, 'hello ', { seq: base });
    c.peerSeq = seqAdd(base, 12);
    [a] = c.cap.take();
    expect(a!.ack).toBe(seqAdd(base, 12));
    expect(c.sock.state).toBe('CLOSE_WAIT');
    expect(ended).toBe(1);
    expect(c.sock.readEnded).toBe(false);
    expect(readAllText(c.sock)).toBe('hello world');
    expect(c.sock.readEnded).toBe(true);
    // We can still send in CLOSE_WAIT, then close.
    c.sock.write(Buffer.from('bye'));
    const [d] = c.cap.take();
    expect(d!.payload.toString()).toBe('bye');
    let closed: TcpError | undefined | null = null;
    c.sock.handlers.onClose = (e) => (closed = e);
    c.sock.close();
    const [fin] = c.cap.take();
    expect(fin!.flags & TCP_FIN).toBe(TCP_FIN);
    expect(c.sock.state).toBe('LAST_ACK');
    peerAck(c, seqAdd(fin!.seq, 1));
    expect(c.sock.state).toBe('CLOSED');
    expect(closed).toBeUndefined();
  });

  it('drops segments that fail PAWS and answers them with an ACK', async () => {
    const c = await established();
    peerData(c, 'new');
    c.sock.input(peerSkb({ seq: c.peerSeq, ack: c.sock.info().sndNxt, flags: TCP_ACK, payload: 'old', options: { tsVal: 1, tsEcr: c.ourTs } }));
    expect(c.sock.stats.pawsDrops).toBe(1);
    expect(c.sock.readableLength).toBe(3);
    expect(c.cap.take().length).toBe(1);
  });

  it('drops a segment whose checksum the caller found wrong', async () => {
    const c = await established();
    c.sock.input(peerSkb({ seq: c.peerSeq, ack: ISS + 1, flags: TCP_ACK, payload: 'bad', options: { tsVal: c.peerTs++, tsEcr: c.ourTs } }), false);
    expect(c.sock.stats.csumErrors).toBe(1);
    expect(c.sock.readableLength).toBe(0);
  });
});

describe('TcpSocket passive open (for tests)', () => {
  it('answers a SYN with a SYN-ACK carrying only the offered options, and sends a FIN queued before the handshake ended', async () => {
    const clock = new VirtualClock(0);
    const cap = new Capture();
    const sock = new TcpSocket({ clock, output: cap.output, local: HOST, remote: PEER, iss: ISS });
    const p = sock.listen();
    sock.input(peerSkb({ seq: 500, flags: TCP_SYN, window: 1000, options: { mss: 1200, sackPermitted: true } }));
    const [synAck] = cap.take();
    expect(synAck!.flags).toBe(TCP_SYN | TCP_ACK);
    expect(synAck!.ack).toBe(501);
    expect(synAck!.options.mss).toBe(1460);
    expect(synAck!.options.sackPermitted).toBe(true);
    expect(synAck!.options.wscale).toBeUndefined();
    expect(synAck!.options.tsVal).toBeUndefined();
    sock.write(Buffer.from('hi'));
    sock.close();
    expect(cap.take()).toEqual([]);
    sock.input(peerSkb({ seq: 501, ack: ISS + 1, flags: TCP_ACK, window: 1000 }));
    await p;
    expect(sock.state).toBe('FIN_WAIT_1');
    // The data and the FIN leave together.
    const segs = cap.take();
    expect(segs.map((t) => t.payload.toString())).toEqual(['hi']);
    expect(segs[0]!.flags).toBe(TCP_ACK | TCP_PSH | TCP_FIN);
    expect(sock.info().mss).toBe(1200);
  });
});

describe('TcpSocket RST and SYN handling', () => {
  it('aborts on a RST at exactly rcv_nxt', async () => {
    const c = await established();
    let closed: TcpError | undefined;
    c.sock.handlers.onClose = (e) => (closed = e);
    c.sock.input(peerSkb({ seq: c.peerSeq, flags: TCP_RST }));
    expect(c.sock.state).toBe('CLOSED');
    expect(closed?.code).toBe('ECONNRESET');
    expect(() => c.sock.write(Buffer.from('x'))).toThrow(TcpError);
  });

  it('answers an in-window RST that is not exact with a challenge ACK and ignores one outside the window', async () => {
    const c = await established();
    c.sock.input(peerSkb({ seq: seqAdd(c.peerSeq, 100), flags: TCP_RST }));
    expect(c.sock.state).toBe('ESTABLISHED');
    const [a] = c.cap.take();
    expect(a!.flags).toBe(TCP_ACK);
    expect(a!.ack).toBe(c.peerSeq);
    expect(c.sock.stats.challengeAcks).toBe(1);
    c.sock.input(peerSkb({ seq: seqAdd(c.peerSeq, -100), flags: TCP_RST }));
    expect(c.sock.state).toBe('ESTABLISHED');
    expect(c.cap.take()).toEqual([]);
  });

  it('answers a SYN on an established connection with a challenge ACK', async () => {
    const c = await established();
    c.sock.input(peerSkb({ seq: c.peerSeq, flags: TCP_SYN, options: { tsVal: c.peerTs++ } }));
    expect(c.sock.state).toBe('ESTABLISHED');
    expect(c.cap.take()[0]!.flags).toBe(TCP_ACK);
    expect(c.sock.stats.challengeAcks).toBe(1);
  });

  it('sends a RST on abort()', async () => {
    const c = await established();
    let closed: TcpError | undefined;
    c.sock.handlers.onClose = (e) => (closed = e);
    c.sock.abort();
    const [r] = c.cap.take();
    expect(r!.flags).toBe(TCP_RST);
    expect(r!.seq).toBe(ISS + 1);
    expect(closed?.code).toBe('ECONNABORTED');
  });
});

describe('TcpSocket send', () => {
  it('segments a fragment list at the MSS without reordering bytes and sets PSH on the last segment', async () => {
    const c = await established();
    const parts = [bytes(24, 1), bytes(4000, 2), bytes(3, 3), bytes(1500, 4), bytes(4, 5)];
    expect(c.sock.write(parts)).toBe(true);
    const segs = c.cap.take();
    expect(segs.map((s) => s.payload.length)).toEqual([MSS_TS, MSS_TS, MSS_TS, 5531 - 3 * MSS_TS]);
    expect(Buffer.concat(segs.map((s) => s.payload)).equals(Buffer.concat(parts))).toBe(true);
    expect(segs[3]!.flags).toBe(TCP_ACK | TCP_PSH);
    expect(segs[0]!.flags).toBe(TCP_ACK);
    expect(segs[0]!.seq).toBe(ISS + 1);
    for (const f of c.cap.frames) expect(tcpChecksumOk(f)).toBe(true);
  });

  it('keeps sending the right bytes after the send buffer emptied and refilled', async () => {
    const c = await established();
    // The gather cursor must not survive the buffer being emptied: the
    // second write has more pieces than the first.
    c.sock.write([bytes(100, 1), bytes(200, 2)]);
    let segs = c.cap.take();
    peerAck(c, seqAdd(ISS + 1, 300));
    expect(c.sock.bufferedBytes).toBe(0);
    const second = [bytes(50, 4), bytes(70, 5), bytes(80, 6), bytes(5000, 7)];
    c.sock.write(second);
    segs = c.cap.take();
    expect(segs[0]!.seq).toBe(ISS + 301);
    expect(Buffer.concat(segs.map((t) => t.payload)).equals(Buffer.concat(second))).toBe(true);
  });

  it('respects the peer window and cwnd (initial window of 10 segments)', async () => {
    const c = await established({}, { wscale: 0 }, 5000);
    c.sock.write(bytes(40_000));
    let segs = c.cap.take();
    // Three full segments; the 656 bytes left in the window wait (sender SWS avoidance).
    expect(segs.map((s) => s.payload.length)).toEqual([MSS_TS, MSS_TS, MSS_TS]);
    peerAck(c, seqAdd(ISS + 1, 3 * MSS_TS), 65535);
    segs = c.cap.take();
    // cwnd after one ACK of three segments in slow start: 10 + 2 segments (RFC 3465, L = 2).
    expect(segs.length).toBe(12);
    expect(segs.every((s) => s.payload.length === MSS_TS)).toBe(true);
  });

  it('retransmits on RTO with exponential backoff, then recovers', async () => {
    const c = await established();
    c.sock.write(bytes(1000));
    expect(c.cap.take().length).toBe(1);
    const rto0 = c.sock.info().rtoMs;
    expect(rto0).toBe(200); // RTT ~1 ms: the 200 ms floor
    const times: number[] = [];
    const t0 = c.clock.nowMs();
    for (let t = 0; t < 2500; t += 10) {
      c.clock.advance(10);
      for (const s of c.cap.take()) {
        expect(s.seq).toBe(ISS + 1);
        expect(s.payload.length).toBe(1000);
        times.push(c.clock.nowMs() - t0);
      }
    }
    expect(times).toEqual([200, 600, 1400]);
    expect(c.sock.stats.rtoTimeouts).toBe(3);
    expect(c.sock.stats.timeoutRetrans).toBe(3);
    expect(c.sock.info().cwnd).toBe(MSS_TS);
    peerAck(c, ISS + 1 + 1000);
    expect(c.sock.info().sndUna).toBe(ISS + 1001);
    expect(c.sock.bufferedBytes).toBe(0);
    c.clock.advance(10_000);
    expect(c.cap.take()).toEqual([]);
  });

  it('gives up with ETIMEDOUT after maxRetries timeouts', async () => {
    const c = await established({ maxRetries: 2 });
    let closed: TcpError | undefined;
    c.sock.handlers.onClose = (e) => (closed = e);
    c.sock.write(bytes(10));
    c.clock.advance(60_000);
    expect(closed?.code).toBe('ETIMEDOUT');
    const frames = c.cap.take();
    expect(frames[frames.length - 1]!.flags).toBe(TCP_RST);
  });

  it('fast-retransmits after three duplicate ACKs and leaves recovery on the full ACK', async () => {
    const c = await established();
    c.sock.write(bytes(10 * MSS_TS));
    const segs = c.cap.take();
    expect(segs.length).toBe(10);
    const una = ISS + 1;
    peerAck(c, seqAdd(una, MSS_TS));
    c.cap.take();
    const hole = seqAdd(una, MSS_TS);
    const sackFrom = seqAdd(una, 2 * MSS_TS);
    for (let k = 1; k <= 3; k++) {
      peerAck(c, hole, 0xffff, [{ left: sackFrom, right: seqAdd(sackFrom, k * MSS_TS) }]);
      const out = c.cap.take();
      if (k < 3) expect(out).toEqual([]);
      else {
        expect(out.length).toBe(1);
        expect(out[0]!.seq).toBe(hole);
        expect(out[0]!.payload.length).toBe(MSS_TS);
      }
    }
    expect(c.sock.stats.fastRetrans).toBe(1);
    expect(c.sock.stats.fastRecoveries).toBe(1);
    expect(c.sock.stats.dupAcksIn).toBe(3);
    expect(c.sock.stats.rtoTimeouts).toBe(0);
    peerAck(c, seqAdd(una, 10 * MSS_TS));
    expect(c.sock.info().sndUna).toBe(seqAdd(una, 10 * MSS_TS));
    expect(c.sock.info().cwnd).toBeLessThan(10 * MSS_TS);
  });

  it('retransmits every SACK hole during recovery, one per duplicate ACK', async () => {
    const c = await established();
    c.sock.write(bytes(10 * MSS_TS));
    c.cap.take();
    const una = ISS + 1;
    const at = (k: number): number => seqAdd(una, k * MSS_TS);
    // Segments 0 and 3 lost; the peer SACKs 1-2 and 4-9 step by step.
    const acks = [
      [{ left: at(1), right: at(2) }],
      [{ left: at(1), right: at(3) }],
      [
        { left: at(4), right: at(5) },
        { left: at(1), right: at(3) },
      ],
      [
        { left: at(4), right: at(6) },
        { left: at(1), right: at(3) },
      ],
    ];
    const rtx: number[] = [];
    for (const sack of acks) {
      peerAck(c, una, 0xffff, sack);
      for (const s of c.cap.take()) rtx.push(s.seq);
    }
    expect(rtx).toEqual([at(0), at(3)]);
  });

  it('sends zero-window probes with backoff while the peer window is closed, then resumes', async () => {
    const c = await established();
    c.sock.write(bytes(3000));
    c.cap.take();
    peerAck(c, seqAdd(ISS + 1, 3000), 0);
    c.sock.write(bytes(500));
    expect(c.cap.take()).toEqual([]);
    expect(c.sock.stats.zeroWindowPeer).toBe(1);
    const t0 = c.clock.nowMs();
    const probes: number[] = [];
    for (let t = 0; t < 1600; t += 10) {
      c.clock.advance(10);
      for (const s of c.cap.take()) {
        expect(s.payload.length).toBe(0);
        expect(s.seq).toBe(seqAdd(ISS + 1, 3000 - 1));
        probes.push(c.clock.nowMs() - t0);
      }
    }
    expect(probes).toEqual([200, 600, 1400]);
    expect(c.sock.stats.winProbesSent).toBe(3);
    peerAck(c, seqAdd(ISS + 1, 3000), 100);
    const segs = c.cap.take();
    expect(segs.length).toBe(1);
    expect(segs[0]!.payload.length).toBe(500);
  });

  it('reports drain after write() refused more data', async () => {
    const c = await established({ sndBufBytes: 4000 });
    let drains = 0;
    c.sock.handlers.onDrain = () => drains++;
    expect(c.sock.write(bytes(3000))).toBe(true);
    expect(c.sock.write(bytes(3000))).toBe(false);
    peerAck(c, seqAdd(ISS + 1, 2 * MSS_TS));
    expect(drains).toBe(0);
    peerAck(c, seqAdd(ISS + 1, 4 * MSS_TS));
    expect(drains).toBe(1);
  });

  it('closes actively: FIN, FIN_WAIT_2, peer FIN, TIME_WAIT, CLOSED', async () => {
    const c = await established({ timeWaitMs: 1000 });
    let closed: TcpError | undefined | null = null;
    c.sock.handlers.onClose = (e) => (closed = e);
    c.sock.write(Buffer.from('last words'));
    c.sock.close();
    expect(() => c.sock.write(Buffer.from('more'))).toThrow(TcpError);
    const segs = c.cap.take();
    // Nagle is off: the data left at write(), the FIN follows alone.
    expect(segs.length).toBe(2);
    expect(segs[0]!.payload.toString()).toBe('last words');
    expect(segs[1]!.flags).toBe(TCP_ACK | TCP_FIN);
    expect(segs[1]!.payload.length).toBe(0);
    const finSeq = seqAdd(ISS + 1, 10);
    expect(c.sock.state).toBe('FIN_WAIT_1');
    peerAck(c, seqAdd(finSeq, 1));
    expect(c.sock.state).toBe('FIN_WAIT_2');
    peerData(c, '', { flags: TCP_ACK | TCP_FIN });
    expect(c.sock.state).toBe('TIME_WAIT');
    const [a] = c.cap.take();
    expect(a!.ack).toBe(c.peerSeq); // the FIN's sequence number included
    c.clock.advance(999);
    expect(c.sock.state).toBe('TIME_WAIT');
    c.clock.advance(1);
    expect(c.sock.state).toBe('CLOSED');
    expect(closed).toBeUndefined();
  });

  it('retransmits a lost FIN', async () => {
    const c = await established();
    c.sock.close();
    const [fin] = c.cap.take();
    expect(fin!.flags).toBe(TCP_ACK | TCP_FIN);
    c.clock.advance(200);
    const [again] = c.cap.take();
    expect(again!.flags).toBe(TCP_ACK | TCP_FIN);
    expect(again!.seq).toBe(fin!.seq);
  });
});
