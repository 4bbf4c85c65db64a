import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  checkImpairSpec,
  ImpairError,
  ImpairStage,
  withImpairment,
  type ImpairSpec,
  type ImpairStats,
} from '../../../src/nicemu/port/impair.js';
import { NicEmu } from '../../../src/nicemu/nic.js';
import { PortCounters, type Port, type PortStats, type RxConsumer, type RxFrame } from '../../../src/nicemu/port/port.js';
import { ARP_REQUEST } from '../../../src/wire/arp.js';
import { parseMac } from '../../../src/wire/ethernet.js';
import { buildArpFrame, buildTcpFrame, parseFrame } from '../../../src/wire/frame.js';
import { parseIpv4Addr, verifyIpv4Checksum } from '../../../src/wire/ipv4.js';
import { TCP_ACK, TCP_PSH, verifyTcpChecksum } from '../../../src/wire/tcp.js';

const HOST_MAC = parseMac('02:00:00:00:00:02');
const TGT_MAC = parseMac('02:00:00:00:00:01');
const HOST_IP = parseIpv4Addr('192.0.2.2');
const TGT_IP = parseIpv4Addr('192.0.2.1');

/** Frame `id`: a TCP segment whose sequence number is the id, with `len` payload bytes. */
function seg(id: number, len = 64): Buffer {
  return buildTcpFrame({
    srcMac: TGT_MAC,
    dstMac: HOST_MAC,
    srcIp: TGT_IP,
    dstIp: HOST_IP,
    srcPort: 4420,
    dstPort: 40000,
    seq: id,
    ack: 1,
    flags: TCP_ACK | TCP_PSH,
    window: 512,
    payload: Buffer.alloc(len, id & 0xff),
  });
}

function idOf(frame: Buffer): number {
  return parseFrame(frame).tcp!.seq;
}

function checksumOk(frame: Buffer): boolean {
  const f = parseFrame(frame);
  return verifyTcpChecksum(f.ip!.src, f.ip!.dst, f.ip!.payload);
}

interface Out {
  readonly id: number;
  readonly intact: boolean;
}

/** Runs `frames` through a stage with the clock advancing `stepUs` per frame; returns what came out, in order. */
function runStage(spec: ImpairSpec, seed: number, frames: readonly Buffer[], stepUs = 0): { out: Out[]; stats: ImpairStats } {
  const out: Out[] = [];
  const sink = (f: Buffer): void => {
    out.push({ id: idOf(f), intact: checksumOk(f) });
  };
  const stage = new ImpairStage(spec, seed, 'rx', sink, true);
  let now = 1_000_000;
  for (const f of frames) {
    if (stage.push(f, now, now)) out.push({ id: idOf(f), intact: true });
    stage.releaseDue(now);
    now += stepUs;
  }
  stage.flush(now);
  return { out, stats: { ...stage.stats } };
}

const frames5k = Array.from({ length: 5000 }, (_, i) => seg(i, 16 + (i % 7) * 100));
const everything: ImpairSpec = {
  drop: 0.02,
  burst: { pGoodToBad: 0.005, pBadToGood: 0.3 },
  reorder: 0.03,
  reorderDepth: 3,
  dup: 0.02,
  corrupt: 0.02,
};

describe('impairment stage: seeded decisions', () => {
  it('makes the same decisions for the same seed on a fixed frame list', () => {
    const a = runStage(everything, 42, frames5k);
    const b = runStage(everything, 42, frames5k);
    expect(b.out).toEqual(a.out);
    expect(b.stats).toEqual(a.stats);
    // Every kind actually fired, so the equality above covers each of them.
    expect(a.stats.dropped).toBeGreaterThan(0);
    expect(a.stats.burstDropped).toBeGreaterThan(0);
    expect(a.stats.reordered).toBeGreaterThan(0);
    expect(a.stats.duplicated).toBeGreaterThan(0);
    expect(a.stats.corrupted).toBeGreaterThan(0);
  });

  it('makes different decisions for a different seed', () => {
    const a = runStage(everything, 42, frames5k);
    const b = runStage(everything, 43, frames5k);
    expect(b.out).not.toEqual(a.out);
  });

  it('derives unrelated streams for rx and tx from one seed', () => {
    const dropped = (dir: 'rx' | 'tx'): number[] => {
      const seen = new Set<number>();
      const st = new ImpairStage({ drop: 0.1 }, 7, dir, () => undefined, true);
      for (const f of frames5k) if (st.push(f, 0, 0)) seen.add(idOf(f));
      return frames5k.map((f) => idOf(f)).filter((id) => !seen.has(id));
    };
    expect(dropped('rx')).not.toEqual(dropped('tx'));
  });

  it('drops the same frames whether or not the other impairments are on', () => {
    const lost = (spec: ImpairSpec): number[] => {
      const { out } = runStage(spec, 9, frames5k);
      const got = new Set(out.map((o) => o.id));
      return frames5k.map((_, i) => i).filter((i) => !got.has(i));
    };
    const alone = lost({ drop: 0.01 });
    expect(alone.length).toBeGreaterThan(0);
    expect(lost({ drop: 0.01, reorder: 0.05, dup: 0.05 })).toEqual(alone);
  });

  it('applies each probability at close to its rate over many frames', () => {
    const n = 200_000;
    const frame = seg(1, 0);
    const st = new ImpairStage({ drop: 0.01, dup: 0.005, corrupt: 0.005, reorder: 0.01 }, 1, 'tx', () => undefined, true);
    for (let i = 0; i < n; i++) {
      st.push(frame, 0, 0);
      st.releaseDue(0);
    }
    const s = st.stats;
    // Each count is binomial; ±15% is more than 4 standard deviations at these n·p.
    expect(s.dropped / n).toBeGreaterThan(0.01 * 0.85);
    expect(s.dropped / n).toBeLessThan(0.01 * 1.15);
    // The later kinds only see frames that were not dropped.
    const kept = n - s.dropped;
    expect(s.duplicated / kept).toBeGreaterThan(0.005 * 0.85);
    expect(s.duplicated / kept).toBeLessThan(0.005 * 1.15);
    expect(s.corrupted / kept).toBeGreaterThan(0.005 * 0.85);
    expect(s.corrupted / kept).toBeLessThan(0.005 * 1.15);
    expect(s.reordered / kept).toBeGreaterThan(0.01 * 0.85);
    expect(s.reordered / kept).toBeLessThan(0.01 * 1.15);
  });

  it('loses frames in bursts under Gilbert-Elliott, singly under independent drop', () => {
    const n = 200_000;
    const meanRun = (spec: ImpairSpec): { rate: number; meanRun: number } => {
      const st = new ImpairStage(spec, 5, 'rx', () => undefined, true);
      let lost = 0;
      let runs = 0;
      let prevLost = false;
      for (let i = 0; i < n; i++) {
        const passed = st.push(frames5k[0]!, 0, 0);
        if (!passed) {
          lost++;
          if (!prevLost) runs++;
        }
        prevLost = !passed;
      }
      return { rate: lost / n, meanRun: lost / runs };
    };
    // Stationary bad-state share p/(p+r) ≈ 0.8%, mean burst 1/r = 4 frames.
    const ge = meanRun({ burst: { pGoodToBad: 0.002, pBadToGood: 0.25 } });
    const bern = meanRun({ drop: ge.rate });
    expect(ge.rate).toBeGreaterThan(0.004);
    expect(ge.rate).toBeLessThan(0.016);
    expect(ge.meanRun).toBeGreaterThan(3);
    expect(bern.meanRun).toBeLessThan(1.1);
  });

  it('corrupts one bit of the IPv4 payload so that the TCP checksum fails and the IP header still verifies', () => {
    const st = new ImpairStage({ corrupt: 1 }, 3, 'tx', () => undefined, true);
    const outs: Buffer[] = [];
    const sink = (f: Buffer): void => {
      outs.push(f);
    };
    const stage = new ImpairStage({ corrupt: 1 }, 3, 'tx', sink, true);
    const originals = Array.from({ length: 500 }, (_, i) => seg(i, i % 50 === 0 ? 0 : 1 + (i % 1400)));
    const copies = originals.map((f) => Buffer.from(f));
    for (const f of originals) stage.push(f, 0, 0);
    expect(outs.length).toBe(500);
    expect(stage.stats.corrupted).toBe(500);
    for (let i = 0; i < outs.length; i++) {
      const o = outs[i]!;
      expect(verifyIpv4Checksum(o.subarray(14, 34))).toBe(true);
      expect(checksumOk(o)).toBe(false);
      // Exactly one bit differs, and the sender's buffer is untouched (tx copies).
      let bits = 0;
      for (let k = 0; k < o.length; k++) bits += popcount(o[k]! ^ copies[i]![k]!);
      expect(bits).toBe(1);
      expect(originals[i]!.equals(copies[i]!)).toBe(true);
    }
    // Not IPv4: passed unchanged and counted.
    const arp = buildArpFrame({ operation: ARP_REQUEST, senderMac: TGT_MAC, senderIp: TGT_IP, targetIp: HOST_IP });
    expect(st.push(arp, 0, 0)).toBe(false);
    expect(st.stats.corruptSkipped).toBe(1);
  });

  it('never loses a reordered frame: each leaves after exactly k later frames, or at flush', () => {
    const frames = frames5k.slice(0, 2000);
    const { out, stats } = runStage({ reorder: 0.2, reorderDepth: 4 }, 11, frames);
    expect(out.map((o) => o.id).sort((x, y) => x - y)).toEqual(frames.map((_, i) => i));
    expect(stats.reordered).toBeGreaterThan(300);
    expect(stats.held).toBe(0);
    // A held frame comes out no earlier than 4 later arrivals, so it appears at least 4 places later than in order.
    const pos = new Map(out.map((o, k) => [o.id, k]));
    let displaced = 0;
    for (let i = 0; i + 8 < frames.length; i++) if (pos.get(i)! > i) displaced++;
    expect(displaced).toBeGreaterThan(0);
  });

  it('holds a frame k frames back when depth is given', () => {
    // reorder 1 holds every frame: each one leaves just after the k-th frame that followed it.
    const frames = frames5k.slice(0, 10);
    const { out } = runStage({ reorder: 1, reorderDepth: 2 }, 1, frames);
    // Frame 0 leaves when frame 2 has arrived; frame 2 is itself held, so the order stays 0,1,2,... but shifted by 2 arrivals.
    expect(out.map((o) => o.id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const mixed = runStage({ reorder: 0.5, reorderDepth: 2 }, 4, frames5k.slice(0, 200)).out.map((o) => o.id);
    expect(mixed).not.toEqual(mixed.slice().sort((x, y) => x - y));
    // A frame that passed can only be overtaken by frames held at most 2 arrivals before it.
    for (let k = 0; k < mixed.length; k++) {
      for (let j = k + 1; j < mixed.length; j++) if (mixed[j]! < mixed[k]!) expect(mixed[k]! - mixed[j]!).toBeLessThanOrEqual(2);
    }
  });

  it('holds a frame for t µs when a time is given and releases it on the first frame after that', () => {
    // Clock steps 10 µs per frame; reorderUs 45 → a held frame leaves before the 5th frame after it.
    const frames = frames5k.slice(0, 40);
    const order: number[] = [];
    const st = new ImpairStage({ reorder: 0.3, reorderUs: 45 }, 21, 'rx', (f) => order.push(idOf(f)), true);
    let now = 0;
    for (const f of frames) {
      if (st.push(f, now, now)) order.push(idOf(f));
      now += 10;
    }
    st.flush(now);
    expect(order.slice().sort((x, y) => x - y)).toEqual(frames.map((_, i) => i));
    expect(st.stats.reordered).toBeGreaterThan(0);
    expect(st.stats.releasedByTime + st.stats.flushedAtClose).toBe(st.stats.reordered);
    for (let k = 0; k < order.length; k++) {
      for (let j = k + 1; j < order.length; j++) if (order[j]! < order[k]!) expect(order[k]! - order[j]!).toBeLessThanOrEqual(5);
    }
  });

  it('rejects probabilities outside 0..1 and a depth below 1', () => {
    expect(() => checkImpairSpec({ drop: 1.5 }, 'rx')).toThrow(ImpairError);
    expect(() => checkImpairSpec({ burst: { pGoodToBad: -0.1, pBadToGood: 0.5 } }, 'rx')).toThrow(/burst/);
    expect(() => checkImpairSpec({ reorder: 0.1, reorderDepth: 0 }, 'tx')).toThrow(/depth/);
    expect(() => checkImpairSpec({ drop: 0.5, reorderUs: 10 }, 'tx')).not.toThrow();
  });
});

function popcount(x: number): number {
  let n = 0;
  for (let v = x; v !== 0; v &= v - 1) n++;
  return n;
}

/** An in-memory Port: the test plays the wire. */
class WirePort implements Port {
  readonly sent: Buffer[] = [];
  closed = false;
  private consumer: RxConsumer | null = null;
  private readonly counters = new PortCounters();
  get stats(): PortStats {
    return this.counters.snapshot();
  }
  send(frame: Buffer): void {
    this.sent.push(frame);
  }
  onFrames(consumer: RxConsumer): void {
    this.consumer = consumer;
  }
  deliver(batch: RxFrame[]): void {
    this.consumer!(batch);
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

describe('impairment Port decorator', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('hands an unharmed batch on as the same array', () => {
    const wire = new WirePort();
    const port = withImpairment(wire, { seed: 1, rx: { drop: 1e-9 } });
    const got: (readonly RxFrame[])[] = [];
    port.onFrames((b) => got.push(b));
    const batch = [0, 1, 2].map((i) => ({ data: seg(i), tsUs: i }));
    wire.deliver(batch);
    expect(got[0]).toBe(batch);
  });

  it('impairs each direction on its own, and a received batch keeps order around what it drops', () => {
    const wire = new WirePort();
    const port = withImpairment(wire, { seed: 8, rx: { drop: 0.3 }, tx: { dup: 1 } });
    const got: number[] = [];
    port.onFrames((b) => {
      for (const f of b) got.push(idOf(f.data));
    });
    wire.deliver(frames5k.slice(0, 100).map((data, i) => ({ data, tsUs: i })));
    port.send(seg(7));
    const st = port.impairStats();
    expect(got.length).toBe(100 - st.rx.dropped);
    expect(got).toEqual(got.slice().sort((x, y) => x - y));
    expect(st.rx.dropped).toBeGreaterThan(0);
    expect(st.rx.duplicated).toBe(0);
    expect(wire.sent.map(idOf)).toEqual([7, 7]);
    expect(st.tx.duplicated).toBe(1);
    expect(st.tx.dropped).toBe(0);
  });

  it('makes the NIC drop corrupted frames on the TCP checksum (rx_csum_errors)', () => {
    const wire = new WirePort();
    const port = withImpairment(wire, { seed: 2, rx: { corrupt: 0.2 } });
    const nic = new NicEmu(port, { mac: HOST_MAC });
    let delivered = 0;
    nic.addFlow({ key: { remoteIp: TGT_IP, remotePort: 4420, localIp: HOST_IP, localPort: 40000 }, deliver: () => delivered++ });
    wire.deliver(frames5k.slice(0, 1000).map((data) => ({ data: Buffer.from(data), tsUs: 1 })));
    const st = port.impairStats().rx;
    expect(st.corrupted).toBeGreaterThan(100);
    expect(nic.stats.rx_csum_errors).toBe(st.corrupted);
    expect(delivered).toBe(1000 - st.corrupted);
  });

  it('releases a frame held for time from its timer when no later frame comes', () => {
    vi.useFakeTimers();
    let now = 5_000_000;
    const wire = new WirePort();
    const port = withImpairment(wire, { seed: 1, rx: { reorder: 1, reorderUs: 3000 } }, { nowUs: () => now });
    const got: RxFrame[][] = [];
    port.onFrames((b) => got.push([...b]));
    wire.deliver([{ data: seg(1), tsUs: now }]);
    expect(got.length).toBe(0);
    now += 3000;
    vi.advanceTimersByTime(3);
    expect(got.length).toBe(1);
    expect(idOf(got[0]![0]!.data)).toBe(1);
    expect(got[0]![0]!.tsUs).toBe(now);
    expect(port.impairStats().rx.releasedByTime).toBe(1);
    expect(port.impairStats().rx.held).toBe(0);
  });

  it('flushes frames still held at close in both directions', async () => {
    // A stopped clock and fake timers: held frames may leave only at close, not
    // after REORDER_DEPTH_MAX_HOLD_US of a loaded machine's real time.
    vi.useFakeTimers();
    const wire = new WirePort();
    const port = withImpairment(
      wire,
      { seed: 1, rx: { reorder: 1, reorderDepth: 50 }, tx: { reorder: 1, reorderDepth: 50 } },
      { nowUs: () => 0 },
    );
    const got: number[] = [];
    port.onFrames((b) => {
      for (const f of b) got.push(idOf(f.data));
    });
    wire.deliver([0, 1, 2].map((i) => ({ data: seg(i), tsUs: 0 })));
    port.send(seg(10));
    port.send(seg(11));
    expect(got).toEqual([]);
    expect(wire.sent).toEqual([]);
    await port.close();
    expect(got).toEqual([0, 1, 2]);
    expect(wire.sent.map(idOf)).toEqual([10, 11]);
    expect(wire.closed).toBe(true);
    const st = port.impairStats();
    expect(st.rx.flushedAtClose).toBe(3);
    expect(st.tx.flushedAtClose).toBe(2);
    expect(st.rx.held + st.tx.held).toBe(0);
  });
});
