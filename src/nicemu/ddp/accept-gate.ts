/**
 * What the DDP engine of a socket gets to see: only the payload bytes the
 * socket's TCP will take (issue 10, "Hostile input").
 *
 * The engine reads PDU framing from the first copy of each stream byte it
 * sees and places payload on that reading (nicemu/ddp/engine.ts). That is TCP's
 * first copy as long as TCP takes every segment the NIC passes — true of a
 * real sender, which retransmits the same bytes, but not of a forger: a
 * segment with the right sequence number and an old timestamp (PAWS), an
 * ACK of data never sent, no ACK flag, RST or SYN, or bytes past the right
 * edge of the window, is thrown away by TCP whatever it holds. Had the
 * engine parsed it, the forged bytes would be the framing it walked and the
 * payload it placed: a C2HData header naming an in-flight CID at an offset
 * whose real bytes the host had already copied (while the NIC was out of
 * sync) overwrote them after the fact, and the read completed with them —
 * the data digest too had been checked before.
 *
 * So the socket registers, at sk_add, TCP's own verdict (TcpSocket
 * .acceptableBytes, side-effect free), and each segment is cut to the bytes
 * TCP takes before the engine sees it; the rest passes to the host
 * untouched, counted in rx-nvme-tcp-tcp-refused-bytes, and TCP drops it.
 * A hardware NIC would keep that state itself (window, timestamps, the
 * last sequence sent), as TOE-lite and TLS offloads track a flow; here the
 * host's TCP is the one authority on it.
 */
import type { UlpDdpStats } from './stats.js';
import type { RxOffloadEngine } from '../flow-table.js';
import { fragLength, type Skb, type SkbFrag } from '../skb.js';

/** The receiver's verdict: how many payload bytes of `skb`, from its first, its TCP takes. */
export type AcceptableBytes = (skb: Skb) => number;

export class DdpAcceptGate implements RxOffloadEngine {
  constructor(
    readonly engine: RxOffloadEngine,
    private readonly acceptable: AcceptableBytes,
    private readonly stats: UlpDdpStats,
  ) {}

  rx(skb: Skb): Skb | undefined {
    const len = skb.len;
    if (len === 0) return this.engine.rx(skb);
    const take = Math.max(0, Math.min(len, this.acceptable(skb)));
    if (take === len) return this.engine.rx(skb);
    this.stats['rx-nvme-tcp-tcp-refused-bytes'] += len - take;
    if (take === 0) return skb;
    const [head, tail] = splitFrags(skb.frags, take);
    const out = this.engine.rx({ ...skb, len: take, frags: head });
    if (out === undefined) return undefined;
    return { ...out, len, frags: [...out.frags, ...tail] };
  }
}

/** The frags of the first `n` payload bytes, and of the rest. */
function splitFrags(frags: readonly SkbFrag[], n: number): [SkbFrag[], SkbFrag[]] {
  const head: SkbFrag[] = [];
  const tail: SkbFrag[] = [];
  let left = n;
  for (const f of frags) {
    const len = fragLength(f);
    if (left >= len) head.push(f);
    else if (left === 0) tail.push(f);
    else if (f.kind === 'dmabuf') {
      head.push({ ...f, size: left });
      tail.push({ ...f, offset: f.offset + left, size: len - left });
    } else {
      head.push({ kind: f.kind, buf: f.buf.subarray(0, left) });
      tail.push({ kind: f.kind, buf: f.buf.subarray(left) });
    }
    left = Math.max(0, left - len);
  }
  return [head, tail];
}
