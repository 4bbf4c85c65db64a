/**
 * A gate in front of a socket's DDP engine: the engine gets to see only the
 * payload bytes a verdict says the socket's TCP will take; the rest passes
 * to the host untouched, counted in rx-nvme-tcp-tcp-refused-bytes.
 *
 * Why: the engine reads PDU framing from the first copy of each stream byte
 * it sees and places payload on that reading (nicemu/ddp/engine.ts). A
 * segment TCP throws away whatever it holds — an old timestamp (PAWS), an
 * ACK of data never sent, no ACK flag, RST or SYN, bytes past the window —
 * is still parsed by a NIC that sees only the frame, so a forged one can
 * steer placement: after a loss of sync, a C2HData header in it naming an
 * in-flight CID overwrites bytes the host had already copied and
 * digest-checked (docs/hostile-input.md, "Segments TCP refuses").
 *
 * Two verdicts feed it (nicemu/ddp/offload.ts):
 *  - `nicTcpOracle`: the host's TCP itself (TcpSocket.acceptableBytes, side-
 *    effect free). NOT HARDWARE — a NIC cannot ask the host's TCP; the model
 *    keeps it, off by default, to compare against;
 *  - `nicTcpChecks`: what the NIC can tell from both directions on its own
 *    port (nicemu/ddp/tcp-checks.ts), a mitigation hardware could have.
 * With neither, as in the DDP series, there is no gate.
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
