/**
 * A simulated link for the host TCP: two of our sockets (one active, one
 * passive) joined by delay lines with seeded loss, duplication, reordering
 * and corruption, driven by the virtual clock, with an application on each
 * end that writes a known stream with backpressure and verifies what it reads.
 */
import { VirtualClock } from '../../../src/host/net/clock.js';
import type { ClockTimer } from '../../../src/host/net/clock.js';
import { newRxChunk } from '../../../src/host/net/tcp-rx-queue.js';
import { TcpSocket } from '../../../src/host/net/tcp-socket.js';
import type { TcpError } from '../../../src/host/net/tcp-error.js';
import type { Skb, SkbFrag } from '../../../src/nicemu/skb.js';
import { WireError } from '../../../src/wire/errors.js';
import { parseFrame } from '../../../src/wire/frame.js';
import { verifyTcpChecksum } from '../../../src/wire/tcp.js';
import { HOST, PEER, prng } from './tcp-peer.js';

export interface LinkParams {
  lossRate: number;
  dupRate: number;
  corruptRate: number;
  delayMs: number;
  /** Extra random delay: packets overtake each other when it exceeds their spacing. */
  jitterMs: number;
}

/** One direction of the wire: a delay line with seeded impairments, delivered by one timer. */
export class Link {
  private readonly queue: { due: number; n: number; frame: Buffer }[] = [];
  private readonly timer: ClockTimer;
  private n = 0;
  dropped = 0;
  corrupted = 0;
  unparsable = 0;

  constructor(
    private readonly clock: VirtualClock,
    private readonly rnd: () => number,
    private readonly p: LinkParams,
    private readonly deliver: (skb: Skb, checksumOk: boolean) => void,
  ) {
    this.timer = clock.createTimer(() => this.flush());
  }

  readonly send = (frame: Buffer): void => {
    if (this.rnd() < this.p.lossRate) {
      this.dropped++;
      return;
    }
    const copies = this.rnd() < this.p.dupRate ? 2 : 1;
    for (let k = 0; k < copies; k++) {
      let f = frame;
      if (this.rnd() < this.p.corruptRate && f.length > 34) {
        // Flip a byte above the IPv4 header: the TCP checksum must catch it.
        f = Buffer.from(frame);
        f[34 + Math.floor(this.rnd() * (f.length - 34))]! ^= 1 << Math.floor(this.rnd() * 8);
        this.corrupted++;
      }
      const due = this.clock.nowMs() + this.p.delayMs + this.rnd() * this.p.jitterMs;
      let i = this.queue.length;
      while (i > 0 && this.queue[i - 1]!.due > due) i--;
      this.queue.splice(i, 0, { due, n: this.n++, frame: f });
    }
    this.arm();
  };

  private arm(): void {
    if (this.queue.length > 0) this.timer.arm(this.queue[0]!.due - this.clock.nowMs());
  }

  private flush(): void {
    const now = this.clock.nowMs();
    while (this.queue.length > 0 && this.queue[0]!.due <= now) {
      const { frame } = this.queue.shift()!;
      let skb: Skb;
      let ok: boolean;
      try {
        const fr = parseFrame(frame);
        if (fr.ip === undefined || fr.tcp === undefined) throw new Error('link carried a non-TCP frame');
        ok = verifyTcpChecksum(fr.ip.src, fr.ip.dst, fr.ip.payload);
        skb = toSkb(fr.tcp.payload, fr, this.rnd);
      } catch (e) {
        // A corrupted data offset or option length: the NIC would drop the frame.
        if (!(e instanceof WireError)) throw e;
        this.unparsable++;
        continue;
      }
      this.deliver(skb, ok);
    }
    this.arm();
  }
}

/** An skb with the payload cut into 1..4 host frags at random places. */
function toSkb(payload: Buffer, fr: ReturnType<typeof parseFrame>, rnd: () => number): Skb {
  const frags: SkbFrag[] = [];
  let at = 0;
  const pieces = 1 + Math.floor(rnd() * 4);
  for (let k = 1; k < pieces; k++) {
    const cut = Math.floor(rnd() * payload.length);
    if (cut > at) {
      frags.push({ kind: 'host', buf: payload.subarray(at, cut) });
      at = cut;
    }
  }
  if (at < payload.length) frags.push({ kind: 'host', buf: payload.subarray(at) });
  return {
    tcp: fr.tcp!,
    srcIp: fr.ip!.src,
    dstIp: fr.ip!.dst,
    seq: fr.tcp!.seq,
    len: payload.length,
    head: Buffer.alloc(0),
    frags,
    ddpPlaced: false,
    ddpCrcOk: false,
    tsUs: 0,
  };
}

function streamByte(dir: number, seed: number, i: number): number {
  return (Math.imul(i + 1, 2654435761) ^ (seed * 97 + dir * 13) ^ (i >>> 11)) & 0xff;
}

/** An application on one end: writes its stream with backpressure, reads and verifies the other. */
export class App {
  written = 0;
  received = 0;
  mismatchAt = -1;
  closedWith: TcpError | undefined | null = null;
  ended = false;
  private readonly chunk = newRxChunk();
  private readonly readTimer: ClockTimer | undefined;

  constructor(
    readonly sock: TcpSocket,
    clock: VirtualClock,
    private readonly rnd: () => number,
    private readonly txDir: number,
    private readonly seed: number,
    private readonly total: number,
    slowReader: boolean,
  ) {
    sock.handlers.onDrain = () => this.pump();
    sock.handlers.onClose = (e) => (this.closedWith = e);
    sock.handlers.onEnd = () => (this.ended = true);
    if (slowReader) {
      // Reads at most 4 KiB every 5 ms, and now and then stops reading for
      // up to 1.5 s: the window closes and the peer must probe it.
      const t = clock.createTimer(() => {
        this.drain(4 * 1024);
        t.arm(rnd() < 0.01 ? 300 + rnd() * 1200 : 5);
      });
      t.arm(5);
      this.readTimer = t;
    } else {
      sock.handlers.onReadable = () => this.drain(Infinity);
    }
  }

  /** Writes random-sized fragment lists until the send buffer pushes back. */
  pump(): void {
    while (this.written < this.total) {
      const n = Math.min(this.total - this.written, 1 + Math.floor(this.rnd() * 70_000));
      const parts: Buffer[] = [];
      let at = 0;
      while (at < n) {
        const m = Math.min(n - at, 1 + Math.floor(this.rnd() * 9000));
        const b = Buffer.alloc(m);
        for (let i = 0; i < m; i++) b[i] = streamByte(this.txDir, this.seed, this.written + at + i);
        parts.push(b);
        at += m;
      }
      this.written += n;
      if (!this.sock.write(parts)) return;
    }
  }

  drain(limit: number): void {
    let budget = limit;
    while (this.sock.readableLength > 0 && budget > 0) {
      const want = Math.min(budget, 1 + Math.floor(this.rnd() * 20_000));
      let got: number;
      if (this.rnd() < 0.5) {
        // Zero-copy path.
        this.sock.readFrags(want, this.chunk);
        got = this.chunk.len;
        for (const f of this.chunk.frags) {
          if (f.kind === 'dmabuf') throw new Error('unexpected dmabuf frag');
          this.check(f.buf);
        }
      } else {
        const b = Buffer.alloc(want);
        got = this.sock.read(b, 0, want);
        this.check(b.subarray(0, got));
      }
      budget -= got;
    }
  }

  stopReading(): void {
    this.readTimer?.cancel();
  }

  private check(b: Buffer): void {
    for (let i = 0; i < b.length; i++) {
      if (this.mismatchAt < 0 && b[i] !== streamByte(1 - this.txDir, this.seed, this.received + i)) this.mismatchAt = this.received + i;
    }
    this.received += b.length;
  }
}

export interface Scenario {
  seed: number;
  total: number;
  mtu: number;
  rcvBufBytes: number;
  slowReaderB: boolean;
  link: LinkParams;
}

export function scenario(seed: number): Scenario {
  const r = prng(seed * 7919);
  return {
    seed,
    total: 200_000 + Math.floor(r() * 200_000),
    mtu: r() < 0.5 ? 1500 : 9000,
    rcvBufBytes: r() < 0.5 ? 64 * 1024 : 1024 * 1024,
    slowReaderB: r() < 0.4,
    link: {
      lossRate: r() * 0.05,
      dupRate: r() * 0.03,
      corruptRate: r() * 0.01,
      delayMs: 0.05 + r() * 2,
      jitterMs: r() < 0.5 ? 0 : r() * 3,
    },
  };
}

export function run(sc: Scenario): { a: App; b: App; linkAB: Link; linkBA: Link; clock: VirtualClock } {
  const clock = new VirtualClock(0);
  const rnd = prng(sc.seed);
  let sockB: TcpSocket | undefined;
  let sockA: TcpSocket | undefined;
  const linkAB = new Link(clock, rnd, sc.link, (skb, ok) => sockB!.input(skb, ok));
  const linkBA = new Link(clock, rnd, sc.link, (skb, ok) => sockA!.input(skb, ok));
  const common = { clock, mtu: sc.mtu, rcvBufBytes: sc.rcvBufBytes, sndBufBytes: 256 * 1024, timeWaitMs: 60_000 };
  // ISS and timestamp offsets from the seed (near the 2^32 wrap for some) so a failing seed replays exactly.
  sockA = new TcpSocket({ ...common, output: linkAB.send, local: HOST, remote: PEER, iss: (sc.seed * 0x9e3779b1) >>> 0, tsOffset: (0xffff_ff00 + sc.seed * 77) >>> 0 });
  sockB = new TcpSocket({ ...common, output: linkBA.send, local: PEER, remote: HOST, iss: (0xffff_0000 + sc.seed * 1013) >>> 0, tsOffset: sc.seed * 0x01000193 });
  const a = new App(sockA, clock, rnd, 0, sc.seed, sc.total, false);
  const b = new App(sockB, clock, rnd, 1, sc.seed, sc.total, sc.slowReaderB);
  let established = 0;
  void sockB.listen().then(() => established++);
  void sockA.connect().then(() => established++);
  let closing = false;
  const limitMs = 600_000;
  while (clock.nowMs() < limitMs) {
    // Promise callbacks are not needed for progress: writes start right away (queued before the handshake).
    if (a.written === 0) a.pump();
    if (b.written === 0 && sockB.state !== 'LISTEN') b.pump();
    if (!closing && a.received === sc.total && b.received === sc.total) {
      closing = true;
      sockA.close();
      sockB.close();
    }
    if (closing && a.closedWith !== null && b.closedWith !== null) break;
    if (!clock.step(limitMs)) break;
  }
  b.stopReading();
  void established;
  return { a, b, linkAB, linkBA, clock };
}

