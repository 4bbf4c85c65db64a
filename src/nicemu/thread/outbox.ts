/**
 * The NIC thread's side of the NIC → host stream (protocol.ts): events are
 * appended in order, bytes destined for host rx memory are gathered, and
 * flush() turns them into one message — a Float64Array of event records and
 * one ArrayBuffer the bytes are copied into (the NIC's DMA into host rx
 * buffers), both transferred, not cloned.
 */
import type { Skb } from '../skb.js';
import { EV_ARP, EV_DROP, EV_REFUSED, EV_RESYNC, EV_SKB, EV_TEARDOWN, FRAG_HOST, FRAG_PLACED, SKB_DDP_CRC_OK, SKB_DDP_PLACED, type NicMessage } from './protocol.js';

const ETH_HEADER = 14;
const VLAN_TAG = 4;
const ETHERTYPE_VLAN = 0x8100;

export class NicOutbox {
  private events: number[] = [];
  /** Byte ranges to copy, flat: (source, start, end) with sources in `sources`. */
  private readonly sources: Uint8Array[] = [];
  private readonly ranges: number[] = [];
  private bytes = 0;
  private lastBuf: ArrayBufferLike | undefined;
  private lastEnd = -1;

  constructor(
    /** The region id of shared memory the host registered (placed frags name it), or undefined. */
    private readonly regionOf: (memory: ArrayBufferLike) => number | undefined,
  ) {}

  get empty(): boolean {
    return this.events.length === 0;
  }

  skb(flow: number, skb: Skb): void {
    const ev = this.events;
    const head = skb.head;
    const l3 = head.length >= ETH_HEADER && ((head[12]! << 8) | head[13]!) === ETHERTYPE_VLAN ? ETH_HEADER + VLAN_TAG : ETH_HEADER;
    const l4 = l3 + (head[l3]! & 0x0f) * 4;
    const flags = (skb.ddpPlaced ? SKB_DDP_PLACED : 0) | (skb.ddpCrcOk ? SKB_DDP_CRC_OK : 0);
    ev.push(EV_SKB, flow, skb.tsUs, this.add(head), head.length, l3, l4, flags, skb.frags.length);
    const frags = skb.frags;
    for (let i = 0; i < frags.length; i++) {
      const f = frags[i]!;
      if (f.kind === 'host') {
        ev.push(FRAG_HOST, this.add(f.buf), f.buf.length, 0);
      } else if (f.kind === 'placed') {
        const region = this.regionOf(f.buf.buffer);
        // The engine places only into buffers built from registered regions; anything else is a bug, said loudly.
        if (region === undefined) throw new Error('NIC thread: a placed frag outside every registered region');
        ev.push(FRAG_PLACED, region, f.buf.byteOffset, f.buf.length);
      } else {
        throw new Error('NIC thread: dmabuf frags do not cross threads (devmem runs keep the NIC in the host thread)');
      }
    }
  }

  arp(frame: Buffer): void {
    this.events.push(EV_ARP, this.add(frame), frame.length);
  }

  drop(reason: number, srcIp: number | undefined, srcPort: number | undefined, tcpFlags: number | undefined): void {
    this.events.push(EV_DROP, reason, srcIp ?? -1, srcPort ?? -1, tcpFlags ?? -1);
  }

  resyncRequest(flow: number, seq: number, flags: number): void {
    this.events.push(EV_RESYNC, flow, seq, flags);
  }

  teardownDone(flow: number, cid: number): void {
    this.events.push(EV_TEARDOWN, flow, cid);
  }

  setupRefused(flow: number, cid: number): void {
    this.events.push(EV_REFUSED, flow, cid);
  }

  /** The message for everything appended since the last flush (its buffers are to be transferred). */
  take(): NicMessage {
    const data = new ArrayBuffer(this.bytes);
    const out = new Uint8Array(data);
    const r = this.ranges;
    let at = 0;
    for (let i = 0, s = 0; i < r.length; i += 2, s++) {
      const src = this.sources[s]!;
      const start = r[i]!;
      const end = r[i + 1]!;
      out.set(src.subarray(start, end), at);
      at += end - start;
    }
    const events = new Float64Array(this.events);
    this.events = [];
    this.sources.length = 0;
    this.ranges.length = 0;
    this.bytes = 0;
    this.lastBuf = undefined;
    this.lastEnd = -1;
    return { kind: 'events', events, data };
  }

  /** Queues `b` for the copy; returns where it will sit in the message's data. */
  private add(b: Buffer): number {
    const at = this.bytes;
    this.bytes += b.length;
    // A payload right behind its headers in the same frame: one range, one copy.
    const end = b.byteOffset + b.length;
    if (this.lastBuf === b.buffer && this.lastEnd === b.byteOffset) {
      this.ranges[this.ranges.length - 1] = end;
      this.lastEnd = end;
      return at;
    }
    this.sources.push(new Uint8Array(b.buffer));
    this.ranges.push(b.byteOffset, end);
    this.lastBuf = b.buffer;
    this.lastEnd = end;
    return at;
  }
}
