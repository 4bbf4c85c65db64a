/**
 * The NIC → host stream without a thread in between: the same frames go
 * through one NicEmu that delivers skbs directly and one whose flows write
 * into a NicOutbox, whose messages a NicInbox turns back into skbs. The host
 * must get the same skbs (headers, TCP fields, payload bytes, flags, order)
 * in every way a message can carry bytes: copied, or in the port's arena
 * handed over after a busy turn, or in the arena's bytes copied after a
 * quiet one.
 */
import { describe, expect, it } from 'vitest';
import { NicEmu } from '../../../src/nicemu/nic.js';
import { NicOutbox, ARENA_HANDOFF_BYTES, type RxArena } from '../../../src/nicemu/thread/outbox.js';
import { NicInbox, type InboxSink } from '../../../src/nicemu/thread/inbox.js';
import { buildArpFrame } from '../../../src/wire/frame.js';
import { TCP_ACK, TCP_PSH } from '../../../src/wire/tcp.js';
import type { FlowEntry } from '../../../src/nicemu/flow-table.js';
import type { Skb } from '../../../src/nicemu/skb.js';
import { SilentPort } from '../../support/nicemu/silent-port.js';
import { HOST_IP, HOST_MAC, PEER_IP, PEER_KEY, PEER_MAC, peerFrame } from '../../support/nicemu/peer-frames.js';
import { EV_TEARDOWN } from '../../../src/nicemu/thread/protocol.js';

const KEY = PEER_KEY;

function frame(seq: number, len: number, fill: number): Buffer {
  return peerFrame({ seq, flags: TCP_ACK | TCP_PSH, options: { tsVal: seq, tsEcr: 9 }, payload: Buffer.alloc(len, fill) });
}

/** An arena the test owns: frames are copied into it as the port's DMA would. */
class TestArena implements RxArena {
  mem = new ArrayBuffer(1 << 20);
  used = 0;
  taken = 0;
  rewound = 0;
  current(): ArrayBuffer {
    return this.mem;
  }
  take(): ArrayBuffer {
    const t = this.mem;
    this.mem = new ArrayBuffer(1 << 20);
    this.used = 0;
    this.taken++;
    return t;
  }
  rewind(): void {
    this.used = 0;
    this.rewound++;
  }
  receive(f: Buffer): Buffer {
    const b = Buffer.from(this.mem, this.used, f.length);
    f.copy(b);
    this.used += f.length;
    return b;
  }
}

interface Seen {
  readonly skbs: Skb[];
  readonly marks: string[];
}

function directNic(): { nic: NicEmu; seen: Seen } {
  const seen: Seen = { skbs: [], marks: [] };
  const nic = new NicEmu(new SilentPort(), { mac: HOST_MAC });
  nic.addFlow({ key: KEY, deliver: (s) => seen.skbs.push(s) });
  return { nic, seen };
}

function viaOutbox(arena?: TestArena): { nic: NicEmu; outbox: NicOutbox; inbox: NicInbox; seen: Seen; events: string[] } {
  const seen: Seen = { skbs: [], marks: [] };
  const events: string[] = [];
  const outbox = new NicOutbox(() => undefined, arena);
  const nic = new NicEmu(new SilentPort(), { mac: HOST_MAC });
  nic.addFlow({ key: KEY, deliver: (s) => outbox.skb(7, s) });
  nic.onArp((_a, f) => outbox.arp(f));
  nic.onDrop = (reason, info) => outbox.drop(['rx_errors', 'rx_csum_errors', 'rx_csum_partial_dropped', 'rx_no_flow'].indexOf(reason), info.srcIp, info.srcPort, info.tcpFlags);
  const entry: FlowEntry = {
    key: KEY,
    deliver: (s) => seen.skbs.push(s),
    batchStart: () => seen.marks.push('start'),
    batchEnd: () => seen.marks.push('end'),
  };
  const sink: InboxSink = {
    flow: (id) => (id === 7 ? entry : undefined),
    region: () => {
      throw new Error('no regions in this test');
    },
    arp: (arp) => events.push(`arp ${arp.operation}`),
    drop: (reason, info) => events.push(`drop ${reason} ${info.srcPort ?? '-'}`),
    resyncRequest: (flow, seq) => events.push(`resync ${flow} ${seq}`),
    teardownDone: (flow, cid) => events.push(`teardown ${flow} ${cid}`),
    setupRefused: (flow, cid) => events.push(`refused ${flow} ${cid}`),
  };
  return { nic, outbox, inbox: new NicInbox(sink), seen, events };
}

function payload(s: Skb): Buffer {
  return Buffer.concat(s.frags.map((f) => (f.kind === 'dmabuf' ? Buffer.alloc(0) : f.buf)));
}

function same(a: readonly Skb[], b: readonly Skb[]): void {
  expect(b.length).toBe(a.length);
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    expect(y.head.equals(x.head)).toBe(true);
    expect(payload(y).equals(payload(x))).toBe(true);
    expect([y.seq, y.len, y.srcIp, y.dstIp, y.tsUs, y.ddpPlaced, y.ddpCrcOk]).toEqual([x.seq, x.len, x.srcIp, x.dstIp, x.tsUs, x.ddpPlaced, x.ddpCrcOk]);
    const { payload: _p1, ...tx } = x.tcp;
    const { payload: _p2, ...ty } = y.tcp;
    expect(ty).toEqual(tx);
    expect(y.frags.map((f) => f.kind)).toEqual(x.frags.map((f) => f.kind));
  }
}

describe('NIC thread stream: outbox to inbox', () => {
  const frames = Array.from({ length: 50 }, (_, i) => frame(1000 + i * 1448, i % 7 === 0 ? 0 : 1448, i));

  it('copied bytes (no arena): the host gets the skbs the NIC made, with batchStart/batchEnd around the message', () => {
    const d = directNic();
    const t = viaOutbox();
    frames.forEach((f, i) => {
      d.nic.rxFrame(f, 100 + i);
      t.nic.rxFrame(f, 100 + i);
    });
    t.inbox.deliver(t.outbox.take());
    same(d.seen.skbs, t.seen.skbs);
    expect(t.seen.marks).toEqual(['start', 'end']);
    expect(t.outbox.empty).toBe(true);
  });

  it('a busy turn hands the arena over (no copy), a quiet one copies its bytes and rewinds the arena', () => {
    const d = directNic();
    const arena = new TestArena();
    const t = viaOutbox(arena);
    // Busy: more than the hand-off size of frames in one message.
    const busy = Math.ceil(ARENA_HANDOFF_BYTES / 1000) + 5;
    for (let i = 0; i < busy; i++) {
      const f = frames[i % frames.length]!;
      d.nic.rxFrame(f, i);
      t.nic.rxFrame(arena.receive(f), i);
    }
    const m1 = t.outbox.take();
    expect(m1.arena).not.toBeNull();
    expect(m1.data.byteLength).toBe(0);
    expect(arena.taken).toBe(1);
    t.inbox.deliver(m1);
    // Quiet: three frames; their bytes travel in the message, the arena is reused.
    for (let i = 0; i < 3; i++) {
      d.nic.rxFrame(frames[i]!, 1000 + i);
      t.nic.rxFrame(arena.receive(frames[i]!), 1000 + i);
    }
    const m2 = t.outbox.take();
    expect(m2.arena).toBeNull();
    expect(m2.data.byteLength).toBeGreaterThan(0);
    expect(arena.rewound).toBe(1);
    t.inbox.deliver(m2);
    same(d.seen.skbs, t.seen.skbs);
    // Overwriting the rewound arena must not change what the host already holds.
    new Uint8Array(arena.mem).fill(0xee);
    same(d.seen.skbs, t.seen.skbs);
  });

  it('a turn that refers to little of a widely used arena (headers only, as after DDP placement) copies just those bytes', () => {
    const d = directNic();
    const arena = new TestArena();
    const t = viaOutbox(arena);
    const acks = Array.from({ length: 60 }, (_, i) => frame(5000 + i, 0, 0));
    for (let i = 0; i < acks.length; i++) {
      d.nic.rxFrame(acks[i]!, i);
      t.nic.rxFrame(arena.receive(acks[i]!), i);
      arena.used += 1500; // memory of frames whose bytes the host does not need
    }
    expect(arena.used).toBeGreaterThan(ARENA_HANDOFF_BYTES);
    const m = t.outbox.take();
    expect(m.arena).toBeNull();
    expect(m.data.byteLength).toBe(acks.reduce((n, f) => n + f.length, 0));
    expect(arena.rewound).toBe(1);
    t.inbox.deliver(m);
    new Uint8Array(arena.mem).fill(0xee);
    same(d.seen.skbs, t.seen.skbs);
  });

  it('placed frags that continue one another (same region, next byte) cross as one; anything else keeps its own', () => {
    const regionA = new SharedArrayBuffer(4096);
    const regionB = new SharedArrayBuffer(4096);
    new Uint8Array(regionA).forEach((_, i, a) => (a[i] = i & 0xff));
    new Uint8Array(regionB).fill(0xbb);
    const outbox = new NicOutbox((m) => (m === regionA ? 1 : m === regionB ? 2 : undefined));
    const seen: Skb[] = [];
    const sink: InboxSink = {
      flow: () => ({ key: KEY, deliver: (x) => seen.push(x) }),
      region: (id) => (id === 1 ? regionA : regionB),
      arp: () => undefined,
      drop: () => undefined,
      resyncRequest: () => undefined,
      teardownDone: () => undefined,
      setupRefused: () => undefined,
    };
    const placed = (m: SharedArrayBuffer, off: number, len: number) => ({ kind: 'placed' as const, buf: Buffer.from(m, off, len) });
    const host = (fill: number, len: number) => ({ kind: 'host' as const, buf: Buffer.alloc(len, fill) });
    const f = frame(5000, 0, 0);
    const direct = directNic();
    direct.nic.rxFrame(f, 1);
    const base = direct.seen.skbs[0]!;
    const frags = [
      host(1, 24),
      placed(regionA, 0, 100),
      placed(regionA, 100, 150),
      placed(regionA, 250, 50), // A[0..300) in three: one frag
      host(2, 8),
      placed(regionA, 300, 100), // continues A in memory, but a host frag came between
      placed(regionB, 400, 10), // the next byte of A's last frag would be 400 — in A, not B
      placed(regionB, 500, 10), // not the next byte of the B frag before it
      placed(regionB, 510, 20),
    ];
    const len = frags.reduce((n, x) => n + x.buf.length, 0);
    const skb: Skb = { ...base, len, frags, ddpPlaced: true, ddpCrcOk: true };
    outbox.skb(3, skb);
    new NicInbox(sink).deliver(outbox.take());
    expect(seen).toHaveLength(1);
    const got = seen[0]!;
    const describeFrag = (x: Skb['frags'][number]): string =>
      x.kind === 'placed' ? `placed ${x.buf.buffer === regionA ? 'A' : 'B'} ${x.buf.byteOffset}+${x.buf.length}` : `${x.kind} +${x.kind === 'host' ? x.buf.length : 0}`;
    expect(got.frags.map(describeFrag)).toEqual(['host +24', 'placed A 0+300', 'host +8', 'placed A 300+100', 'placed B 400+10', 'placed B 500+30']);
    expect(got.len).toBe(len);
    expect(payload(got).equals(payload(skb))).toBe(true);
    expect(got.ddpPlaced && got.ddpCrcOk).toBe(true);
  });

  it('ARP, drops and the DDP callbacks arrive in order with the skbs; a removed flow gets nothing', () => {
    const t = viaOutbox();
    const arp = buildArpFrame({ operation: 1, senderMac: PEER_MAC, senderIp: PEER_IP, targetIp: HOST_IP });
    t.nic.rxFrame(frames[1]!, 1);
    t.nic.rxFrame(arp, 2);
    const bad = Buffer.from(frames[2]!);
    bad[bad.length - 1]! ^= 0xff; // TCP checksum fails
    t.nic.rxFrame(bad, 3);
    t.outbox.resyncRequest(7, 123456, 1);
    t.outbox.teardownDone(7, 5);
    t.outbox.setupRefused(7, 6);
    const d = directNic();
    d.nic.rxFrame(frames[4]!, 4);
    t.outbox.skb(8, d.seen.skbs[0]!); // flow 8 is not registered with the sink: dropped there
    expect(() => t.inbox.deliver(t.outbox.take())).not.toThrow();
    expect(t.events).toEqual(['arp 1', 'drop rx_csum_errors 4420', 'resync 7 123456', 'teardown 7 5', 'refused 7 6']);
    expect(t.seen.skbs.length).toBe(1);
    expect(EV_TEARDOWN).toBeGreaterThan(0);
  });
});
