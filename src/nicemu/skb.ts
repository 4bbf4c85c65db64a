/**
 * The skb: what the NIC hands the host for one received TCP segment
 * (docs/design.md, "Contracts"). The TCP payload is described only by `frags`,
 * in stream order; `head` holds the bytes the NIC put in host memory as the
 * linear part (Ethernet/IP/TCP headers, and with header split the NVMe/TCP
 * PDU headers too, which then also appear as `host` frags viewing `head`).
 *
 * A frag is one of:
 *  - `host`:   bytes in a NIC-owned rx buffer; the host must copy them out.
 *  - `placed`: bytes the NIC already wrote into the destination buffer the
 *              ULP registered (DDP); `buf` views that destination, so the
 *              host's copy routine sees source == destination and skips.
 *  - `dmabuf`: bytes in device memory the host CPU never reads; the host
 *              only learns where they are (devmem TCP).
 */
import type { TcpRepr } from '../wire/tcp.js';

export interface HostFrag {
  readonly kind: 'host';
  readonly buf: Buffer;
}

export interface PlacedFrag {
  readonly kind: 'placed';
  readonly buf: Buffer;
}

export interface DmabufFrag {
  readonly kind: 'dmabuf';
  readonly dmabufId: number;
  readonly offset: number;
  readonly size: number;
}

export type SkbFrag = HostFrag | PlacedFrag | DmabufFrag;

export function fragLength(f: SkbFrag): number {
  return f.kind === 'dmabuf' ? f.size : f.buf.length;
}

export interface Skb {
  /** The parsed TCP header of the segment (ports, seq, ack, flags, window, options). */
  readonly tcp: TcpRepr;
  /** Source and destination IPv4 addresses (u32). */
  readonly srcIp: number;
  readonly dstIp: number;
  /** Sequence number of the first payload byte (== tcp.seq). */
  readonly seq: number;
  /** Payload length in bytes: the sum of fragLength over frags. */
  readonly len: number;
  /** Linear part in host memory: L2-L4 headers (and PDU headers with header split). */
  readonly head: Buffer;
  readonly frags: readonly SkbFrag[];
  /** Some payload of this skb was placed by DDP (do not condense / coalesce with unplaced skbs). */
  readonly ddpPlaced: boolean;
  /** The NIC verified the data digest of every PDU byte in this skb (`ulp_crc`). */
  readonly ddpCrcOk: boolean;
  /** Receive timestamp from the port (µs). */
  readonly tsUs: number;
}

/**
 * The skb's payload as one buffer for a receive engine to parse, or
 * undefined when some of it is not in host memory (another engine's frags).
 */
export function skbHostPayload(skb: Skb): Buffer | undefined {
  const frags = skb.frags;
  if (frags.length === 1) {
    const f = frags[0]!;
    return f.kind === 'host' ? f.buf : undefined;
  }
  const bufs: Buffer[] = [];
  for (let i = 0; i < frags.length; i++) {
    const f = frags[i]!;
    if (f.kind !== 'host') return undefined;
    bufs.push(f.buf);
  }
  // Several rx buffers: the NIC parses across them as one (its own memory, not a host copy).
  return Buffer.concat(bufs);
}
