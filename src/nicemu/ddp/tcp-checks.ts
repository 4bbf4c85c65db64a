/**
 * NIC-side TCP checks (`nicTcpChecks`): the part of TCP's verdict on a
 * segment that a NIC can reach from its own port, because it sees both
 * directions of the flow there — a mitigation a real NIC could implement,
 * unlike the model's oracle (nicemu/ddp/accept-gate.ts asks the host's TCP).
 *
 * Without either, the DDP engine parses every segment of the flow, as the
 * series' NIC does, and a segment TCP later throws away (an old timestamp,
 * an ACK of data never sent, no ACK flag) can still steer placement
 * (docs/hostile-input.md, "Segments TCP refuses"). With these checks the
 * NIC keeps such a segment from its engine and passes it up as it came:
 *
 *  - PAWS (RFC 7323 §5): the peer's most recent timestamp the NIC saw on a
 *    segment it let through; a segment whose TSval is older is stale.
 *  - ACK (RFC 9293 §3.10.7.4): a segment without ACK, with RST or SYN, or
 *    acknowledging past the highest sequence number the host has sent.
 *  - Window: bytes past the right edge of the receive window the host last
 *    advertised (its ACK plus its window, scaled by the shift in the host's
 *    SYN). Only when the NIC saw that SYN: without the shift it could not
 *    tell the window, and a guess too small would refuse bytes TCP takes. A
 *    peer that did not agree to scaling makes the scaled edge too far, never
 *    too near.
 *
 * What it cannot know it does not guess: before the host sent anything on
 * the flow there is no ACK or window bound, and the first timestamp it sees
 * sets the PAWS reference. It never refuses a byte the host's TCP would take
 * from a sender that behaves, since every bound it keeps is at least as wide
 * as TCP's own.
 */
import { parseFrame, type FrameRepr } from '../../wire/frame.js';
import { WireError } from '../../wire/errors.js';
import { seqAdd, seqDiff, seqGt, seqLt, seqMax } from '../../wire/seq.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../../wire/tcp.js';
import type { FlowKey } from '../flow-table.js';
import type { Skb } from '../skb.js';
import type { AcceptableBytes } from './accept-gate.js';

/** What the NIC knows of one flow's TCP from the frames it carried. */
interface FlowTcpView {
  /** One past the highest sequence number the host sent (SYN and FIN count one). */
  hostSndNxt: number | undefined;
  /** The right edge of the receive window the host advertised (the highest seen: TCP never shrinks it). */
  hostRcvRight: number | undefined;
  /** The window shift from the host's SYN; undefined when the NIC did not see it (no window check). */
  hostWscale: number | undefined;
  /** The newest TSval of the peer on a segment the checks let through. */
  peerTsRecent: number | undefined;
}

function flowId(remoteIp: number, remotePort: number, localIp: number, localPort: number): string {
  return `${remoteIp}:${remotePort}:${localIp}:${localPort}`;
}

/** A transmitted frame parsed, or undefined when it is not one the NIC can parse (nothing to learn). */
function parseTxFrame(frame: Buffer): FrameRepr | undefined {
  try {
    return parseFrame(frame);
  } catch (e) {
    if (e instanceof WireError) return undefined;
    throw e;
  }
}

export class NicTcpChecks {
  private readonly flows = new Map<string, FlowTcpView>();

  /** A frame the host transmitted on the port: learns the host's sequence, ACK and window. */
  observeTx(frame: Buffer): void {
    const f = parseTxFrame(frame);
    if (f === undefined) return;
    const tcp = f.tcp;
    if (tcp === undefined || f.ip === undefined) return;
    const id = flowId(f.ip.dst, tcp.dstPort, f.ip.src, tcp.srcPort);
    let v = this.flows.get(id);
    if ((tcp.flags & TCP_SYN) !== 0) {
      // A new connection on these ports: what was known of an earlier one is void.
      v = { hostSndNxt: undefined, hostRcvRight: undefined, hostWscale: tcp.options.wscale ?? 0, peerTsRecent: undefined };
      this.flows.set(id, v);
    } else if (v === undefined) {
      v = { hostSndNxt: undefined, hostRcvRight: undefined, hostWscale: undefined, peerTsRecent: undefined };
      this.flows.set(id, v);
    }
    const span = tcp.payload.length + ((tcp.flags & TCP_SYN) !== 0 ? 1 : 0) + ((tcp.flags & TCP_FIN) !== 0 ? 1 : 0);
    const end = seqAdd(tcp.seq, span);
    v.hostSndNxt = v.hostSndNxt === undefined ? end : seqMax(v.hostSndNxt, end);
    if ((tcp.flags & TCP_ACK) !== 0 && (tcp.flags & TCP_SYN) === 0 && v.hostWscale !== undefined) {
      const right = seqAdd(tcp.ack, tcp.window * 2 ** v.hostWscale);
      v.hostRcvRight = v.hostRcvRight === undefined ? right : seqMax(v.hostRcvRight, right);
    }
  }

  /** The checks' verdict for the flow `key`, in the shape the gate takes. */
  verdictFor(key: FlowKey): AcceptableBytes {
    const id = flowId(key.remoteIp, key.remotePort, key.localIp, key.localPort);
    return (skb) => this.acceptableBytes(id, skb);
  }

  /** Payload bytes of `skb`, from its first, that pass every check. */
  private acceptableBytes(id: string, skb: Skb): number {
    const tcp = skb.tcp;
    const f = tcp.flags;
    if ((f & (TCP_RST | TCP_SYN)) !== 0 || (f & TCP_ACK) === 0) return 0;
    let v = this.flows.get(id);
    if (v === undefined) {
      v = { hostSndNxt: undefined, hostRcvRight: undefined, hostWscale: undefined, peerTsRecent: undefined };
      this.flows.set(id, v);
    }
    const tsVal = tcp.options.tsVal;
    if (tsVal !== undefined && v.peerTsRecent !== undefined && seqLt(tsVal, v.peerTsRecent)) return 0;
    if (v.hostSndNxt !== undefined && seqGt(tcp.ack, v.hostSndNxt)) return 0;
    let take = skb.len;
    if (v.hostRcvRight !== undefined) take = Math.max(0, Math.min(take, seqDiff(v.hostRcvRight, skb.seq)));
    if (take > 0 && tsVal !== undefined && (v.peerTsRecent === undefined || seqGt(tsVal, v.peerTsRecent))) v.peerTsRecent = tsVal;
    return take;
  }
}
