/**
 * The host thread's side of the NIC → host stream (protocol.ts, outbox.ts
 * for the other side): one message's events turned back into what NicEmu
 * hands its host in one thread — skbs to their flows, with batchStart
 * before a flow's first skb of the message and batchEnd after the message
 * (one ACK per batch), ARP frames, drops, and the DDP device's callbacks —
 * in the order the NIC produced them.
 *
 * The skb's TCP header is parsed here from its linear part, as a host stack
 * parses the headers a NIC wrote; host frags view the message's memory (or
 * the port's receive arena it lent), placed frags view the host's own
 * registered buffer, so the copy routine finds source and destination the
 * same.
 *
 * A lent arena goes back to the NIC after its message, as a page pool
 * recycles rx pages once the stack lets go of them: every flow the message
 * reached copies out what it still keeps there (FlowEntry.unshare: TCP's
 * out-of-order queue, bytes nobody has read yet — nothing in a clean run,
 * since the ULP reads every in-order byte as it arrives), ARP frames are
 * copied as they come, and the sink transfers the arena back. A flow that
 * cannot unshare keeps the arena from going back (the NIC then copies once
 * its pool runs dry). Were anything to keep a view all the same, the
 * transfer detaches it: it reads as empty, never as newer frames.
 */
import { parseArp, type ArpRepr } from '../../wire/arp.js';
import { parseTcp } from '../../wire/tcp.js';
import type { FlowEntry } from '../flow-table.js';
import type { NicDropInfo, NicDropReason } from '../nic.js';
import type { Skb, SkbFrag } from '../skb.js';
import { DROP_REASONS, EV_ARP, EV_DROP, EV_REFUSED, EV_RESYNC, EV_SKB, EV_TEARDOWN, FRAG_HOST, SKB_DDP_CRC_OK, SKB_DDP_PLACED, SRC_DATA, type NicMessage } from './protocol.js';

const NO_FRAGS: readonly SkbFrag[] = [];

/** Where the events go. */
export interface InboxSink {
  /** The flow registered under `id`, or undefined when it was removed since (its segments go nowhere). */
  flow(id: number): FlowEntry | undefined;
  /** The host memory registered as `region` (DDP placement). */
  region(region: number): SharedArrayBuffer;
  arp(arp: ArpRepr, frame: Buffer): void;
  drop(reason: NicDropReason, info: NicDropInfo): void;
  resyncRequest(flow: number, seq: number, flags: number): void;
  teardownDone(flow: number, cid: number): void;
  setupRefused(flow: number, cid: number): void;
  /** Nothing here reads the NIC's receive arena `arena` any more: it goes back to the NIC (transfer `memory`). */
  arenaFree(arena: number, memory: ArrayBuffer): void;
}

export class NicInbox {
  private readonly started: FlowEntry[] = [];
  /** Flows an arena message reached: they unshare it before it goes back. */
  private readonly reached: FlowEntry[] = [];
  /** Arenas given back; bytes flows copied out of arenas before that; arenas kept (a flow could not unshare). */
  arenasFreed = 0;
  arenaBytesCopied = 0;
  arenasKept = 0;

  constructor(private readonly sink: InboxSink) {}

  /** Delivers one message's events in order, then gives its arena back. */
  deliver(m: NicMessage): void {
    const ev = m.events;
    const data = Buffer.from(m.data);
    const lent = m.arenaMemory !== null;
    const arena = lent ? Buffer.from(m.arenaMemory) : data;
    const reached = this.reached;
    const bytes = (i: number): Buffer => {
      const off = ev[i + 1]!;
      return (ev[i] === SRC_DATA ? data : arena).subarray(off, off + ev[i + 2]!);
    };
    const started = this.started;
    let i = 0;
    try {
      while (i < ev.length) {
        const tag = ev[i]!;
        if (tag === EV_SKB) {
          const entry = this.sink.flow(ev[i + 1]!);
          const tsUs = ev[i + 2]!;
          const head = bytes(i + 3);
          const l3 = ev[i + 6]!;
          const l4 = ev[i + 7]!;
          const flags = ev[i + 8]!;
          const n = ev[i + 9]!;
          i += 10;
          let frags = NO_FRAGS;
          let len = 0;
          if (n > 0) {
            const list: SkbFrag[] = [];
            for (let j = 0; j < n; j++, i += 4) {
              if (ev[i] === FRAG_HOST) {
                const buf = bytes(i + 1);
                list.push({ kind: 'host', buf });
                len += buf.length;
              } else {
                const memory = this.sink.region(ev[i + 1]!);
                const buf = Buffer.from(memory, ev[i + 2]!, ev[i + 3]!);
                list.push({ kind: 'placed', buf });
                len += buf.length;
              }
            }
            frags = list;
          }
          // A flow removed since the NIC steered this: the segment has nowhere to go, as with no flow at all.
          if (entry === undefined) continue;
          if (lent && !reached.includes(entry)) reached.push(entry);
          const tcp = parseTcp(head.subarray(l4));
          const skb: Skb = {
            tcp,
            srcIp: head.readUInt32BE(l3 + 12),
            dstIp: head.readUInt32BE(l3 + 16),
            seq: tcp.seq,
            len,
            head,
            frags,
            ddpPlaced: (flags & SKB_DDP_PLACED) !== 0,
            ddpCrcOk: (flags & SKB_DDP_CRC_OK) !== 0,
            tsUs,
          };
          if (entry.batchEnd !== undefined && !started.includes(entry)) {
            started.push(entry);
            entry.batchStart?.();
          }
          entry.deliver(skb);
        } else if (tag === EV_ARP) {
          // The ARP table may keep views of the frame (its MACs): never of an arena that goes back.
          const frame = ev[i + 1] === SRC_DATA ? bytes(i + 1) : Buffer.from(bytes(i + 1));
          i += 4;
          const l3 = frame.readUInt16BE(12) === 0x8100 ? 18 : 14;
          this.sink.arp(parseArp(frame.subarray(l3)), frame);
        } else if (tag === EV_DROP) {
          const reason = DROP_REASONS[ev[i + 1]!]!;
          const info: { srcIp?: number; srcPort?: number; tcpFlags?: number } = {};
          if (ev[i + 2]! >= 0) info.srcIp = ev[i + 2]!;
          if (ev[i + 3]! >= 0) info.srcPort = ev[i + 3]!;
          if (ev[i + 4]! >= 0) info.tcpFlags = ev[i + 4]!;
          i += 5;
          this.sink.drop(reason, info);
        } else if (tag === EV_RESYNC) {
          this.sink.resyncRequest(ev[i + 1]!, ev[i + 2]!, ev[i + 3]!);
          i += 4;
        } else if (tag === EV_TEARDOWN) {
          this.sink.teardownDone(ev[i + 1]!, ev[i + 2]!);
          i += 3;
        } else if (tag === EV_REFUSED) {
          this.sink.setupRefused(ev[i + 1]!, ev[i + 2]!);
          i += 3;
        } else {
          throw new Error(`NIC thread: unknown event ${tag}`);
        }
      }
    } finally {
      for (let k = 0; k < started.length; k++) started[k]!.batchEnd!();
      started.length = 0;
    }
    if (lent) this.giveBack(m.arena, m.arenaMemory);
  }

  /** Every flow the arena's message reached copies out what it keeps there; then the arena is free. */
  private giveBack(id: number, memory: ArrayBuffer): void {
    const reached = this.reached;
    let kept = false;
    for (let k = 0; k < reached.length; k++) {
      const unshare = reached[k]!.unshare;
      if (unshare === undefined) kept = true;
      else this.arenaBytesCopied += unshare(memory);
    }
    reached.length = 0;
    if (kept) {
      this.arenasKept++;
      return;
    }
    this.arenasFreed++;
    this.sink.arenaFree(id, memory);
  }
}
