/**
 * The NIC thread's side of the NIC → host stream (protocol.ts): events are
 * appended in order, and take() turns them into one message.
 *
 * Bytes the host reads (headers, payload not placed, ARP frames) mostly sit
 * in the port's receive arena, where the port's "DMA" put them. When the
 * host needs much of it (ARENA_HANDOFF_BYTES or more referenced in a turn),
 * the arena is lent to the host — transferred, not copied, with its pool
 * id, as a driver passes rx pages up — and the port goes on in a free one;
 * the host transfers it back once nothing it keeps reads it any more
 * (page_pool recycling: inbox.ts, ../port/arena-pool.ts). When the turn
 * needs little of it (a quiet turn, or one whose payload DDP placed:
 * headers only), or no arena is free, those bytes are copied into the
 * message and the arena is reused at once. Arenas were once transferred
 * and left to the host's garbage collector, which V8 counts as external
 * memory: a 2 GiB read at MTU 9000 with offload none ran 8 major
 * collections in the host isolate then, 1 with the pool. Bytes anywhere
 * else (none in the engines ddplab runs on the thread today) are copied.
 */
import type { Skb } from '../skb.js';
import {
  EV_ARP,
  EV_DROP,
  EV_REFUSED,
  EV_RESYNC,
  EV_SKB,
  EV_TEARDOWN,
  FRAG_HOST,
  FRAG_PLACED,
  SKB_DDP_CRC_OK,
  SKB_DDP_PLACED,
  SRC_ARENA,
  SRC_DATA,
  type NicMessage,
} from './protocol.js';

const ETH_HEADER = 14;
const VLAN_TAG = 4;
const ETHERTYPE_VLAN = 0x8100;
/** A turn that refers to this many bytes of the arena hands it over; below, those bytes are copied. */
export const ARENA_HANDOFF_BYTES = 64 * 1024;
/** Ranges up to this long are copied into the message byte by byte (a view and a set cost more). */
const SMALL_COPY_BYTES = 128;

/** The port's receive memory, as the outbox may lend it to the host. */
export interface RxArena {
  /** The memory frames are being received into now. */
  current(): ArrayBufferLike;
  /**
   * Lends the current memory to the host (its pool id, and the memory to
   * transfer) and moves the port on to a free arena; undefined when none is
   * free (the turn's bytes are then copied and the memory rewound).
   */
  lend(): { readonly id: number; readonly memory: ArrayBuffer } | undefined;
  /** The host is done with arena `id` and transferred it back: it may be received into again. */
  giveBack(id: number, memory: ArrayBuffer): void;
  /** Everything in the current memory is done with: receive into it from the start again. */
  rewind(): void;
}

export class NicOutbox {
  /** The message's events so far: [0, n) of a buffer reused from turn to turn (take copies them out). */
  private ev = new Float64Array(4096);
  private n = 0;
  /** Byte ranges to copy, flat (start, end), with their sources in `sources`. */
  private readonly sources: Uint8Array[] = [];
  private readonly ranges: number[] = [];
  private bytes = 0;
  private lastBuf: ArrayBufferLike | undefined;
  private lastEnd = -1;
  /** The span of the arena this message refers to. */
  private arenaLo = Infinity;
  private arenaHi = 0;
  /** Where in `events` each reference into the arena is, and how many bytes they name together. */
  private readonly arenaRefs: number[] = [];
  private arenaRefBytes = 0;

  constructor(
    /** The region id of shared memory the host registered (placed frags name it), or undefined. */
    private readonly regionOf: (memory: ArrayBufferLike) => number | undefined,
    /** The port's arena, when nothing else keeps frames past a turn (no impairment holding them back). */
    private readonly arena?: RxArena,
  ) {}

  get empty(): boolean {
    return this.n === 0;
  }

  /** Room for `k` more events. */
  private room(k: number): Float64Array {
    if (this.n + k > this.ev.length) {
      const bigger = new Float64Array(Math.max(this.ev.length * 2, this.n + k));
      bigger.set(this.ev.subarray(0, this.n));
      this.ev = bigger;
    }
    return this.ev;
  }

  skb(flow: number, skb: Skb): void {
    const head = skb.head;
    const l3 = head.length >= ETH_HEADER && ((head[12]! << 8) | head[13]!) === ETHERTYPE_VLAN ? ETH_HEADER + VLAN_TAG : ETH_HEADER;
    const l4 = l3 + (head[l3]! & 0x0f) * 4;
    const flags = (skb.ddpPlaced ? SKB_DDP_PLACED : 0) | (skb.ddpCrcOk ? SKB_DDP_CRC_OK : 0);
    let ev = this.room(3);
    ev[this.n++] = EV_SKB;
    ev[this.n++] = flow;
    ev[this.n++] = skb.tsUs;
    this.bytesRef(head);
    ev = this.room(4);
    ev[this.n++] = l3;
    ev[this.n++] = l4;
    ev[this.n++] = flags;
    const countAt = this.n++;
    let count = 0;
    // Placed frags that continue the one before them (same region, the next
    // byte) cross as one, as Linux coalesces page-contiguous frags
    // (skb_can_coalesce): a GRO skb of a placed read is then one or two
    // frags instead of one per segment, and names the same bytes.
    let lastMemory: ArrayBufferLike | undefined;
    let lastRegion = -1;
    let placedEnd = -1;
    const frags = skb.frags;
    for (let i = 0; i < frags.length; i++) {
      const f = frags[i]!;
      if (f.kind === 'host') {
        this.room(1)[this.n++] = FRAG_HOST;
        this.bytesRef(f.buf);
        count++;
        placedEnd = -1;
      } else if (f.kind === 'placed') {
        const memory = f.buf.buffer;
        if (memory !== lastMemory) {
          const region = this.regionOf(memory);
          // The engine places only into buffers built from registered regions; anything else is a bug, said loudly.
          if (region === undefined) throw new Error('NIC thread: a placed frag outside every registered region');
          lastMemory = memory;
          lastRegion = region;
          placedEnd = -1;
        }
        const off = f.buf.byteOffset;
        if (off === placedEnd) {
          this.ev[this.n - 1] += f.buf.length;
        } else {
          const e = this.room(4);
          e[this.n++] = FRAG_PLACED;
          e[this.n++] = lastRegion;
          e[this.n++] = off;
          e[this.n++] = f.buf.length;
          count++;
        }
        placedEnd = off + f.buf.length;
      } else {
        throw new Error('NIC thread: dmabuf frags do not cross threads (devmem runs keep the NIC in the host thread)');
      }
    }
    this.ev[countAt] = count;
  }

  private put(...xs: number[]): void {
    const e = this.room(xs.length);
    for (let i = 0; i < xs.length; i++) e[this.n++] = xs[i]!;
  }

  arp(frame: Buffer): void {
    this.put(EV_ARP);
    this.bytesRef(frame);
  }

  drop(reason: number, srcIp: number | undefined, srcPort: number | undefined, tcpFlags: number | undefined): void {
    this.put(EV_DROP, reason, srcIp ?? -1, srcPort ?? -1, tcpFlags ?? -1);
  }

  resyncRequest(flow: number, seq: number, flags: number): void {
    this.put(EV_RESYNC, flow, seq, flags);
  }

  teardownDone(flow: number, cid: number): void {
    this.put(EV_TEARDOWN, flow, cid);
  }

  setupRefused(flow: number, cid: number): void {
    this.put(EV_REFUSED, flow, cid);
  }

  /** The message for everything appended since the last take (its buffers are to be transferred). */
  take(): NicMessage {
    const spanned = this.arenaHi > this.arenaLo;
    const lent = spanned && this.arenaRefBytes >= ARENA_HANDOFF_BYTES ? this.arena!.lend() : undefined;
    if (lent === undefined && spanned) {
      // A turn that needs little of the arena (a quiet one, or one whose payload was placed: headers only),
      // or no arena free to go on in: the bytes it refers to are copied behind the others, each reference
      // rewritten, and the arena reused.
      const src = new Uint8Array(this.arena!.current());
      const ev = this.ev;
      const refs = this.arenaRefs;
      let lastEnd = -1;
      for (let i = 0; i < refs.length; i++) {
        const k = refs[i]!;
        const off = ev[k + 1]!;
        const len = ev[k + 2]!;
        ev[k] = SRC_DATA;
        ev[k + 1] = this.bytes;
        this.bytes += len;
        // Headers and the payload behind them in the same frame: one range, one copy.
        if (off === lastEnd) this.ranges[this.ranges.length - 1] = off + len;
        else {
          this.sources.push(src);
          this.ranges.push(off, off + len);
        }
        lastEnd = off + len;
      }
    }
    const data = new ArrayBuffer(this.bytes);
    const out = new Uint8Array(data);
    const r = this.ranges;
    let at = 0;
    for (let i = 0, s = 0; i < r.length; i += 2, s++) {
      const start = r[i]!;
      const end = r[i + 1]!;
      const src = this.sources[s]!;
      if (end - start <= SMALL_COPY_BYTES) {
        // Headers (a few dozen bytes): a loop, no view per range.
        for (let j = start; j < end; j++) out[at++] = src[j]!;
      } else {
        out.set(src.subarray(start, end), at);
        at += end - start;
      }
    }
    if (spanned && lent === undefined) this.arena!.rewind();
    const events = this.ev.slice(0, this.n);
    this.n = 0;
    this.sources.length = 0;
    this.ranges.length = 0;
    this.arenaRefs.length = 0;
    this.arenaRefBytes = 0;
    this.bytes = 0;
    this.lastBuf = undefined;
    this.lastEnd = -1;
    this.arenaLo = Infinity;
    this.arenaHi = 0;
    return { kind: 'events', events, data, arena: lent?.id ?? -1, arenaMemory: lent?.memory ?? null };
  }

  /** Appends (source, offset, length) for `b`: in the arena where it lies there, else queued for the copy. */
  private bytesRef(b: Buffer): void {
    const end = b.byteOffset + b.length;
    if (this.arena !== undefined && b.buffer === this.arena.current()) {
      this.arenaRefs.push(this.n);
      this.arenaRefBytes += b.length;
      const e = this.room(3);
      e[this.n++] = SRC_ARENA;
      e[this.n++] = b.byteOffset;
      e[this.n++] = b.length;
      if (b.byteOffset < this.arenaLo) this.arenaLo = b.byteOffset;
      if (end > this.arenaHi) this.arenaHi = end;
      return;
    }
    const e = this.room(3);
    e[this.n++] = SRC_DATA;
    e[this.n++] = this.bytes;
    e[this.n++] = b.length;
    this.bytes += b.length;
    // A payload right behind its headers in the same frame: one range, one copy.
    if (this.lastBuf === b.buffer && this.lastEnd === b.byteOffset) {
      this.ranges[this.ranges.length - 1] = end;
      this.lastEnd = end;
      return;
    }
    this.sources.push(new Uint8Array(b.buffer));
    this.ranges.push(b.byteOffset, end);
    this.lastBuf = b.buffer;
    this.lastEnd = end;
  }
}
