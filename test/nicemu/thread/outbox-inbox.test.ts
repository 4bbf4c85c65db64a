/**
 * The NIC → host stream without a thread in between: the same frames go
 * through one NicEmu that delivers skbs directly and one whose flows write
 * into a NicOutbox, whose messages a NicInbox turns back into skbs. The host
 * must get the same skbs (headers, TCP fields, payload bytes, flags, order)
 * in every way a message can carry bytes: copied, or in the port's arena
 * lent after a busy turn (and given back after delivery), or in the arena's
 * bytes copied after a quiet one or when no arena is free.
 */
import { describe, expect, it } from 'vitest';
import { NicEmu } from '../../../src/nicemu/nic.js';
import { NicOutbox, ARENA_HANDOFF_BYTES, type RxArena } from '../../../src/nicemu/thread/outbox.js';
import { ArenaPool } from '../../../src/nicemu/port/arena-pool.js';
import { NicInbox, type InboxSink } from '../../../src/nicemu/thread/inbox.js';
import { buildArpFrame } from '../../../src/wire/frame.js';
import { TCP_ACK, TCP_PSH } from '../../../src/wire/tcp.js';
import type { FlowEntry } from '../../../src/nicemu/flow-table.js';
import type { Skb } from '../../../src/nicemu/skb.js';
import { SilentPort } from '../../support/nicemu/silent-port.js';
import { HOST_IP, HOST_MAC, PEER_IP, PEER_KEY, PEER_MAC, peerFrame } from '../../support/nicemu/peer-frames.js';
import { EV_TEARDOWN } from '../../../src/nicemu/thread/protocol.js';
import { newRxChunk, TcpRxQueue } from '../../../src/host/net/tcp-rx-queue.js';

const KEY = PEER_KEY;

function frame(seq: number, len: number, fill: number): Buffer {
  return peerFrame({ seq, flags: TCP_ACK | TCP_PSH, options: { tsVal: seq, tsEcr: 9 }, payload: Buffer.alloc(len, fill) });
}

/** Arenas the test owns (a pool of `size`): frames are copied into the current one as the port's DMA would. */
class TestArena implements RxArena {
  readonly pool: ArenaPool;
  used = 0;
  taken = 0;
  rewound = 0;
  constructor(size = 4) {
    this.pool = new ArenaPool(1 << 20, size);
  }
  get mem(): ArrayBuffer {
    return this.pool.current.buffer as ArrayBuffer;
  }
  current(): ArrayBuffer {
    return this.mem;
  }
  lend(): { readonly id: number; readonly memory: ArrayBuffer } | undefined {
    const lent = this.pool.lend();
    if (lent !== undefined) {
      this.used = 0;
      this.taken++;
    }
    return lent;
  }
  giveBack(id: number, memory: ArrayBuffer): void {
    this.pool.giveBack(id, memory);
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

/** The skb with its head and frags copied: what a flow that keeps a segment past its message must hold. */
function snapshot(s: Skb): Skb {
  return { ...s, head: Buffer.from(s.head), frags: s.frags.map((f) => (f.kind === 'dmabuf' ? f : { ...f, buf: Buffer.from(f.buf) })) };
}

/**
 * The NIC → outbox → inbox chain. The host's flow keeps copies of its skbs
 * (so the test can look at them after their arena went back) and says it
 * keeps nothing of an arena (`unshare` copies 0 bytes), unless `keeps`: then
 * it has no unshare and keeps the skbs as they came.
 */
function viaOutbox(arena?: TestArena, keeps = false): { nic: NicEmu; outbox: NicOutbox; inbox: NicInbox; seen: Seen; events: string[] } {
  const seen: Seen = { skbs: [], marks: [] };
  const events: string[] = [];
  const outbox = new NicOutbox(() => undefined, arena);
  const nic = new NicEmu(new SilentPort(), { mac: HOST_MAC });
  nic.addFlow({ key: KEY, deliver: (s) => outbox.skb(7, s) });
  nic.onArp((_a, f) => outbox.arp(f));
  nic.onDrop = (reason, info) => outbox.drop(['rx_errors', 'rx_csum_errors', 'rx_csum_partial_dropped', 'rx_no_flow'].indexOf(reason), info.srcIp, info.srcPort, info.tcpFlags);
  const entry: FlowEntry = {
    key: KEY,
    deliver: (s) => seen.skbs.push(keeps ? s : snapshot(s)),
    batchStart: () => seen.marks.push('start'),
    batchEnd: () => seen.marks.push('end'),
    ...(keeps ? {} : { unshare: () => 0 }),
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
    arenaFree: (id, memory) => {
      events.push(`arena ${id} back`);
      arena!.giveBack(id, memory);
    },
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

  it('a busy turn lends the arena (no copy) and gets it back after delivery; the pool reuses it; a quiet turn copies its bytes and rewinds', () => {
    const d = directNic();
    const arena = new TestArena();
    const t = viaOutbox(arena);
    // Busy: more than the hand-off size of frames in one message.
    const busy = Math.ceil(ARENA_HANDOFF_BYTES / 1000) + 5;
    const busyTurn = (base: number) => {
      for (let i = 0; i < busy; i++) {
        const f = frames[i % frames.length]!;
        d.nic.rxFrame(f, base + i);
        t.nic.rxFrame(arena.receive(f), base + i);
      }
      return t.outbox.take();
    };
    const lentIds: number[] = [];
    for (let turn = 0; turn < 3; turn++) {
      const m = busyTurn(turn * 1000);
      expect(m.arenaMemory?.byteLength).toBe(1 << 20);
      expect(m.data.byteLength).toBe(0);
      lentIds.push(m.arena);
      t.inbox.deliver(m);
      expect(t.events.at(-1)).toBe(`arena ${m.arena} back`);
    }
    // Two arenas take turns: the one lent, the one received into meanwhile.
    expect(lentIds).toEqual([0, 1, 0]);
    expect(arena.pool.size).toBe(2);
    expect(arena.pool.lent).toBe(0);
    expect(t.inbox.arenasFreed).toBe(3);
    // Quiet: three frames; their bytes travel in the message, the arena is reused.
    for (let i = 0; i < 3; i++) {
      d.nic.rxFrame(frames[i]!, 9000 + i);
      t.nic.rxFrame(arena.receive(frames[i]!), 9000 + i);
    }
    const m2 = t.outbox.take();
    expect(m2.arena).toBe(-1);
    expect(m2.arenaMemory).toBeNull();
    expect(m2.data.byteLength).toBeGreaterThan(0);
    expect(arena.rewound).toBe(1);
    t.inbox.deliver(m2);
    same(d.seen.skbs, t.seen.skbs);
    // Overwriting every arena (as the NIC does once they are back) must not change what the host holds.
    for (let k = 0; k < 2; k++) {
      new Uint8Array(arena.mem).fill(0xee);
      arena.lend();
    }
    same(d.seen.skbs, t.seen.skbs);
  });

  it('with no arena free to go on in, a busy turn copies its bytes and the arena stays the port\'s', () => {
    const d = directNic();
    const arena = new TestArena(1);
    const t = viaOutbox(arena);
    for (let i = 0; i < 2 * frames.length; i++) {
      d.nic.rxFrame(frames[i % frames.length]!, i);
      t.nic.rxFrame(arena.receive(frames[i % frames.length]!), i);
    }
    const m = t.outbox.take();
    expect(m.arena).toBe(-1);
    expect(m.data.byteLength).toBeGreaterThan(ARENA_HANDOFF_BYTES);
    expect(arena.rewound).toBe(1);
    t.inbox.deliver(m);
    new Uint8Array(arena.mem).fill(0xee);
    same(d.seen.skbs, t.seen.skbs);
  });

  it('a flow that cannot unshare keeps a lent arena from going back', () => {
    const arena = new TestArena();
    const t = viaOutbox(arena, true);
    for (let i = 0; i < 2 * frames.length; i++) t.nic.rxFrame(arena.receive(frames[i % frames.length]!), i);
    const m = t.outbox.take();
    expect(m.arena).toBe(0);
    t.inbox.deliver(m);
    expect(t.events.filter((e) => e.startsWith('arena'))).toEqual([]);
    expect([t.inbox.arenasFreed, t.inbox.arenasKept]).toEqual([0, 1]);
    expect(arena.pool.lent).toBe(1);
  });

  it('TCP keeps what it queued from a lent arena: out-of-order segments are copied out before the arena goes back', () => {
    const arena = new TestArena();
    const outbox = new NicOutbox(() => undefined, arena);
    const nic = new NicEmu(new SilentPort(), { mac: HOST_MAC });
    nic.addFlow({ key: KEY, deliver: (s) => outbox.skb(7, s) });
    const q = new TcpRxQueue(1000);
    let unshared = 0;
    const entry: FlowEntry = {
      key: KEY,
      deliver: (s) => {
        q.insert(s, 1 << 30);
      },
      unshare: (memory) => (unshared += q.unshare(memory)),
    };
    const back: number[] = [];
    const inbox = new NicInbox({
      flow: () => entry,
      region: () => {
        throw new Error('no regions in this test');
      },
      arp: () => undefined,
      drop: () => undefined,
      resyncRequest: () => undefined,
      teardownDone: () => undefined,
      setupRefused: () => undefined,
      arenaFree: (id, memory) => {
        back.push(id);
        arena.giveBack(id, memory);
      },
    });
    const segs = Array.from({ length: 60 }, (_, i) => ({ seq: 1000 + i * 1448, payload: Buffer.alloc(1448, i + 1) }));
    const wire = (x: { seq: number; payload: Buffer }) =>
      peerFrame({ seq: x.seq, flags: TCP_ACK | TCP_PSH, options: { tsVal: x.seq, tsEcr: 9 }, payload: x.payload });
    // Everything but the first segment: a busy turn, all of it out of order for TCP.
    for (let i = 1; i < segs.length; i++) nic.rxFrame(arena.receive(wire(segs[i]!)), i);
    const m = outbox.take();
    expect(m.arena).toBe(0);
    inbox.deliver(m);
    expect(back).toEqual([0]);
    expect(unshared).toBe(59 * 1448);
    expect(q.ofoBytes).toBe(59 * 1448);
    // The NIC receives into the arena again, over every byte TCP queued from it.
    arena.lend();
    new Uint8Array(arena.pool.current.buffer).fill(0xee);
    // The hole fills; TCP reads the whole stream as the wire carried it.
    nic.rxFrame(wire(segs[0]!), 100);
    inbox.deliver(outbox.take());
    expect(q.queuedBytes).toBe(60 * 1448);
    const chunk = newRxChunk();
    q.read(60 * 1448, chunk);
    const got = Buffer.concat(chunk.frags.map((f) => (f.kind === 'dmabuf' ? Buffer.alloc(0) : f.buf)));
    expect(got.equals(Buffer.concat(segs.map((x) => x.payload)))).toBe(true);
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
    expect(m.arena).toBe(-1);
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
      arenaFree: () => undefined,
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
