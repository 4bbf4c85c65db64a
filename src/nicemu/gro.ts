/**
 * Generic receive offload: the Linux host's software GRO (napi_gro_receive →
 * inet_gro_receive → tcp_gro_receive), run on the skbs the NIC built, before
 * they go up to TCP.
 *
 * Linux turns GRO on for every network device by default (`ethtool -k`:
 * generic-receive-offload: on). A driver's NAPI poll hands each received
 * frame to GRO; GRO holds a packet per flow and appends the next in-order
 * segment of the same flow to it while every header field a merge must keep
 * agrees, and passes the merged packet up when one does not, when a segment
 * ends a burst (PSH, FIN, shorter than the first), when the packet would
 * reach 64 KiB, and at the end of the poll. TCP then sees one skb for what
 * was up to ~44 segments at MTU 1500: one InSegs, one ACK decision, one
 * pass of the ULP over a payload in many frags.
 *
 * In ddplab this runs on the NIC thread, at the end of the NIC's receive
 * path, as the driver's NAPI poll does on a CPU of the host (threaded NAPI
 * runs it in a kernel thread of its own); a NIC turn is one poll. `--no-gro`
 * turns it off, as `ethtool -K <dev> gro off` does. The in-thread NIC
 * (replay, the fuzzer, devmem and zcrx runs, --no-nic-thread) hands every
 * segment up on its own, as Linux with GRO off.
 *
 * The rules (tcp_gro_receive and inet_gro_receive), for a segment S and the
 * packet P held for its flow:
 * - S is merged only if its sequence number is P's end, its payload is at
 *   most P's first segment's (the gso_size), the TCP header words match
 *   (data offset, flags other than CWR/FIN/PSH, window, ack, every option
 *   byte, timestamps included), S has no CWR, the IP TTL, TOS and DF match
 *   and the IP ID is P's first ID plus the segments held (or the same ID,
 *   with DF), and P would stay below 64 KiB;
 * - the ULP DDP series adds: S and P must agree on `ulp_crc` (the NIC
 *   verified the data digest of every PDU byte) — a merged packet's flag must
 *   hold for all of it;
 * - S that cannot merge sends P up and is held in its place; S with PSH, FIN,
 *   URG, RST or SYN, or shorter than P's first segment, sends P (with S in
 *   it, or S alone) up at once; a segment without payload is never held.
 *
 * A merged packet keeps the first segment's headers with the IP total length
 * (and header checksum) of the whole and PSH/FIN of the last segment; its
 * payload is every segment's frags in order, placed and host frags alike.
 */
import type { Skb, SkbFrag } from './skb.js';
import { TCP_CWR, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG } from '../wire/tcp.js';
import { checksumUpdate16 } from '../wire/inet-checksum.js';

/** GRO_LEGACY_MAX_SIZE: a merged packet stays below this many bytes from its IP header on. */
export const GRO_MAX_BYTES = 65536;

const ETH_HEADER = 14;
const VLAN_TAG = 4;
const ETHERTYPE_VLAN = 0x8100;
const IP_DF = 0x4000;
/** Flags that end a burst: the packet goes up as soon as a segment carries one. */
const FLUSH_FLAGS = TCP_URG | TCP_PSH | TCP_RST | TCP_SYN | TCP_FIN;

export interface GroStats {
  /** Packets GRO passed up (merged or not). */
  skbs: number;
  /** Segments that went into them. */
  segments: number;
}

/** A packet held for one flow. */
interface Held {
  readonly flow: number;
  readonly first: Skb;
  /** Offset of the IP header and of the TCP header in first.head. */
  readonly l3: number;
  readonly l4: number;
  /** gso_size: the first segment's payload length. */
  readonly mss: number;
  readonly frags: SkbFrag[];
  len: number;
  count: number;
  nextSeq: number;
  /** PSH/FIN of the segments merged after the first. */
  lateFlags: number;
  placed: boolean;
}

export class Gro {
  readonly stats: GroStats = { skbs: 0, segments: 0 };
  /** Held packets, one per flow at most (a run has a handful of flows: a list beats a map). */
  private readonly held: Held[] = [];

  constructor(private readonly up: (flow: number, skb: Skb) => void) {}

  /** One segment from the NIC for `flow`. */
  receive(flow: number, skb: Skb): void {
    const heldAt = this.indexOf(flow);
    const p = heldAt >= 0 ? this.held[heldAt]! : undefined;
    this.stats.segments++;
    if (skb.len === 0) {
      if (p !== undefined) this.release(heldAt);
      this.pass(flow, skb);
      return;
    }
    const flags = skb.tcp.flags;
    if (p !== undefined && this.canMerge(p, skb)) {
      for (let i = 0; i < skb.frags.length; i++) p.frags.push(skb.frags[i]!);
      p.len += skb.len;
      p.count++;
      p.nextSeq = (p.nextSeq + skb.len) >>> 0;
      p.lateFlags |= flags & (TCP_PSH | TCP_FIN);
      p.placed ||= skb.ddpPlaced;
      if ((flags & FLUSH_FLAGS) !== 0 || skb.len < p.mss) this.release(heldAt);
      return;
    }
    if (p !== undefined) this.release(heldAt);
    if ((flags & FLUSH_FLAGS) !== 0) {
      this.pass(flow, skb);
      return;
    }
    const head = skb.head;
    const l3 = head.length >= ETH_HEADER && ((head[12]! << 8) | head[13]!) === ETHERTYPE_VLAN ? ETH_HEADER + VLAN_TAG : ETH_HEADER;
    const l4 = l3 + (head[l3]! & 0x0f) * 4;
    this.held.push({
      flow,
      first: skb,
      l3,
      l4,
      mss: skb.len,
      frags: skb.frags.slice(),
      len: skb.len,
      count: 1,
      nextSeq: (skb.seq + skb.len) >>> 0,
      lateFlags: 0,
      placed: skb.ddpPlaced,
    });
  }

  /** The end of a poll: every held packet goes up. */
  flush(): void {
    while (this.held.length > 0) this.release(this.held.length - 1);
  }

  private indexOf(flow: number): number {
    const h = this.held;
    for (let i = 0; i < h.length; i++) if (h[i]!.flow === flow) return i;
    return -1;
  }

  private canMerge(p: Held, skb: Skb): boolean {
    if (skb.seq !== p.nextSeq || skb.len > p.mss || skb.ddpCrcOk !== p.first.ddpCrcOk) return false;
    const a = p.first.head;
    const b = skb.head;
    const l3 = p.l3;
    const l4 = p.l4;
    // Same header lengths: IHL, and the TCP data offset below.
    if (b.length !== a.length || b[l3] !== a[l3]) return false;
    // IP: TOS, TTL, DF; the ID counts up by one per segment (or stays, with DF).
    if (b[l3 + 1] !== a[l3 + 1] || b[l3 + 8] !== a[l3 + 8]) return false;
    const fragA = (a[l3 + 6]! << 8) | a[l3 + 7]!;
    const fragB = (b[l3 + 6]! << 8) | b[l3 + 7]!;
    if (((fragA ^ fragB) & IP_DF) !== 0) return false;
    const idA = (a[l3 + 4]! << 8) | a[l3 + 5]!;
    const idB = (b[l3 + 4]! << 8) | b[l3 + 5]!;
    if (idB !== ((idA + p.count) & 0xffff) && !(idB === idA && (fragB & IP_DF) !== 0)) return false;
    // TCP: a CWR starts a new packet; data offset, the other flags and the window must match.
    if ((b[l4 + 13]! & TCP_CWR) !== 0) return false;
    if (b[l4 + 12] !== a[l4 + 12] || ((b[l4 + 13]! ^ a[l4 + 13]!) & ~(TCP_CWR | TCP_FIN | TCP_PSH)) !== 0) return false;
    // Ack number and window (bytes 8..11, 14..15), then every option byte.
    for (let i = l4 + 8; i < l4 + 12; i++) if (b[i] !== a[i]) return false;
    if (b[l4 + 14] !== a[l4 + 14] || b[l4 + 15] !== a[l4 + 15]) return false;
    for (let i = l4 + 20; i < a.length; i++) if (b[i] !== a[i]) return false;
    // Below 64 KiB from the IP header on, with this segment in.
    return a.length - l3 + p.len + skb.len < GRO_MAX_BYTES;
  }

  private release(i: number): void {
    const p = this.held[i]!;
    const last = this.held.length - 1;
    if (i !== last) this.held[i] = this.held[last]!;
    this.held.pop();
    if (p.count === 1) {
      this.pass(p.flow, p.first);
      return;
    }
    const first = p.first;
    // The merged packet's headers: the first segment's, in a copy (the frame may be another's to read), with the
    // IP total length and header checksum of the whole and the last segments' PSH/FIN.
    const head = Buffer.from(first.head);
    const l3 = p.l3;
    const oldTotal = (head[l3 + 2]! << 8) | head[l3 + 3]!;
    const total = head.length - l3 + p.len;
    head[l3 + 2] = total >>> 8;
    head[l3 + 3] = total & 0xff;
    const csum = checksumUpdate16((head[l3 + 10]! << 8) | head[l3 + 11]!, oldTotal, total);
    head[l3 + 10] = csum >>> 8;
    head[l3 + 11] = csum & 0xff;
    head[p.l4 + 13] = head[p.l4 + 13]! | p.lateFlags;
    this.pass(p.flow, {
      tcp: p.lateFlags === 0 ? first.tcp : { ...first.tcp, flags: first.tcp.flags | p.lateFlags },
      srcIp: first.srcIp,
      dstIp: first.dstIp,
      seq: first.seq,
      len: p.len,
      head,
      frags: p.frags,
      ddpPlaced: p.placed,
      ddpCrcOk: first.ddpCrcOk,
      tsUs: first.tsUs,
    });
  }

  private pass(flow: number, skb: Skb): void {
    this.stats.skbs++;
    this.up(flow, skb);
  }
}
