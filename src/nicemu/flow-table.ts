/**
 * The NIC's flow table: received TCP segments are steered by their 4-tuple
 * (as seen on the wire: remote → local) to the handler the host registered
 * for that connection, like an ntuple/aRFS rule steering a flow to a queue.
 * Lookup is per frame, so the key is two numbers, not a string.
 */
import type { Skb } from './skb.js';

export interface FlowKey {
  /** The remote end (source of received segments). */
  readonly remoteIp: number;
  readonly remotePort: number;
  /** Our end. */
  readonly localIp: number;
  readonly localPort: number;
}

/**
 * What the NIC does for one flow. `offload`, when present, is the flow's
 * receive offload engine (DDP, header split): it sees every segment in wire
 * order and returns the skb the host gets (possibly with placed frags).
 */
export interface FlowEntry {
  readonly key: FlowKey;
  deliver(skb: Skb): void;
  offload?: RxOffloadEngine | undefined;
  /**
   * Called before the first and after the last segment of this flow in one
   * rx batch (one poll of the port), like NAPI's GRO flush: the host's TCP
   * sends one ACK per batch instead of one per two segments.
   */
  batchStart?: (() => void) | undefined;
  batchEnd?: (() => void) | undefined;
  /**
   * The NIC takes back receive memory it lent (a page pool recycling rx
   * pages: nicemu/thread/inbox.ts): whatever the flow's owner still keeps
   * in `memory` must be copied out now. Returns the bytes copied. A flow
   * without it keeps the memory from ever going back.
   */
  unshare?: ((memory: ArrayBufferLike) => number) | undefined;
}

export interface RxOffloadEngine {
  /**
   * Processes one received segment (already checksum-verified); returns what
   * the host receives, or undefined when the NIC had no rx buffer for it (a
   * devmem page pool with no free page): the frame is dropped, and counted
   * by the engine.
   */
  rx(skb: Skb): Skb | undefined;
}

function portsKey(remotePort: number, localPort: number): number {
  return ((remotePort << 16) | localPort) >>> 0;
}

export class FlowTable {
  private readonly byPorts = new Map<number, FlowEntry[]>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(entry: FlowEntry): void {
    const k = portsKey(entry.key.remotePort, entry.key.localPort);
    const list = this.byPorts.get(k);
    if (list === undefined) this.byPorts.set(k, [entry]);
    else {
      if (list.some((e) => sameKey(e.key, entry.key))) throw new Error('flow already registered');
      list.push(entry);
    }
    this.count++;
  }

  remove(key: FlowKey): boolean {
    const k = portsKey(key.remotePort, key.localPort);
    const list = this.byPorts.get(k);
    if (list === undefined) return false;
    const i = list.findIndex((e) => sameKey(e.key, key));
    if (i < 0) return false;
    list.splice(i, 1);
    if (list.length === 0) this.byPorts.delete(k);
    this.count--;
    return true;
  }

  lookup(remoteIp: number, remotePort: number, localIp: number, localPort: number): FlowEntry | undefined {
    const list = this.byPorts.get(portsKey(remotePort, localPort));
    if (list === undefined) return undefined;
    for (let i = 0; i < list.length; i++) {
      const e = list[i]!;
      if (e.key.remoteIp === remoteIp && e.key.localIp === localIp) return e;
    }
    return undefined;
  }

  entries(): FlowEntry[] {
    const out: FlowEntry[] = [];
    for (const list of this.byPorts.values()) out.push(...list);
    return out;
  }
}

function sameKey(a: FlowKey, b: FlowKey): boolean {
  return a.remoteIp === b.remoteIp && a.remotePort === b.remotePort && a.localIp === b.localIp && a.localPort === b.localPort;
}
