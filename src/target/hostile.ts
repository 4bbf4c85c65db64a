/**
 * A hostile target (malformed PDUs from the target): on one I/O
 * queue, the read response after the first `after` ones goes out broken in
 * one chosen way, and everything else on that queue and on every other
 * queue stays correct. What a host must do with each (NVMe/TCP transport
 * binding; docs/protocol-facts.md, "NVMe/TCP wire format"):
 *
 *   case                   what goes on the wire                           host
 *   plen-lt-hlen           C2HData with PLEN 16, below its HLEN 24          H2CTermReq FES 1, FEI 4 (PLEN)
 *   bad-hlen               C2HData with HLEN 28 (24 is the only right one)  H2CTermReq FES 1, FEI 2 (HLEN)
 *   pdo-in-header          C2HData with PDO 16, inside its own header       H2CTermReq FES 1, FEI 3 (PDO)
 *   data-past-length       the read's last C2HData carries 512 bytes more   H2CTermReq FES 4 (data out of range)
 *                          than the command asked for (DATAL, PLEN and
 *                          both digests consistent with it)
 *   c2h-after-completion   after the read's completion (CapsuleResp or      H2CTermReq FES 1, FEI 8 (CCCID)
 *                          SUCCESS), its first C2HData again
 *   bad-hdgst              C2HData whose header digest is off by one bit    H2CTermReq FES 3
 *   bad-ddgst              C2HData whose data digest is off by one bit      the read fails with a data transfer
 *                                                                          error; the connection goes on
 *
 * Every other field of a corrupted header is right, and a header digest,
 * when negotiated, is recomputed over the corrupted header (bad-hdgst
 * aside): the one fault is the one the case names. The digest cases need
 * the digest negotiated on that connection; without it nothing is touched
 * and the queue says so once.
 *
 * The connection hands every PDU it is about to write to `outgoing()` and
 * writes what comes back, so the corruption is data (this file), not
 * branches in the transmit path.
 */
import { crc32c, crc32cFrags } from '../wire/crc32c.js';
import { parseCqe } from '../wire/nvme-cqe.js';
import { NVME_TCP_DIGEST_LEN, PduFlags, PduType, type EmittedPdu, type Pdu } from '../wire/nvme-tcp-pdu.js';
import { PduHeaderView } from '../wire/nvme-tcp-pdu-header.js';
import { HostileSpecError, type HostileCase, type HostileSpec } from './hostile-spec.js';

// The spec (cases, parser) lives in hostile-spec.ts, which the CLI loads without the crc32c addon.
export { HOSTILE_CASES, HostileSpecError, formatHostileSpec, parseHostileSpec, type HostileCase, type HostileSpec } from './hostile-spec.js';

/** Bytes a data-past-length C2HData carries beyond its command's length: one 512-byte LBA. */
export const OVERRUN_BYTES = 512;

/** A PLEN below every header (24) yet not absurd: what a sender that forgot the data would write. */
const BAD_PLEN = 16;
/** HLEN counting the header digest: the classic off-by-a-digest. */
const BAD_HLEN_DELTA = NVME_TCP_DIGEST_LEN;
/** A PDO pointing into the PDU's own header. */
const BAD_PDO = 16;
const OVERRUN_FILL = 0x5a;

function flagsOf(e: EmittedPdu): number {
  return new PduHeaderView(e.head).flags;
}

function hlenOf(e: EmittedPdu): number {
  return new PduHeaderView(e.head).hlen;
}

/**
 * A header digest over the first `hlen` bytes of `head`, when the PDU carries
 * one. `hlen` is the emitted one: bad-hlen reseals over the true header.
 */
function resealHeader(head: Buffer, hlen: number): void {
  if ((new PduHeaderView(head).flags & PduFlags.HDGSTF) !== 0) head.writeUInt32LE(crc32c(head.subarray(0, hlen)), hlen);
}

/** Why a case cannot be applied to a PDU of this connection (a digest it did not negotiate). */
export function hostileUnsupported(kind: HostileCase, e: EmittedPdu): string | undefined {
  if (kind === 'bad-hdgst' && (flagsOf(e) & PduFlags.HDGSTF) === 0) return 'no header digest negotiated';
  if (kind === 'bad-ddgst' && (flagsOf(e) & PduFlags.DDGSTF) === 0) return 'no data digest negotiated';
  return undefined;
}

/** A copy of the PDU with its header changed by `edit` and its header digest made valid again. */
function withEditedHeader(e: EmittedPdu, hlen: number, edit: (v: PduHeaderView) => void): EmittedPdu {
  const head = Buffer.from(e.head);
  edit(new PduHeaderView(head));
  resealHeader(head, hlen);
  return { ...e, head };
}

/**
 * One C2HData as emitted (header, data views, digest), broken the way `kind`
 * says; the data views are shared, never copied. For the two cases that are
 * about a sequence of PDUs rather than one: data-past-length gives the
 * overrunning PDU, c2h-after-completion the PDU unchanged (the repeat is the
 * fault). Pure: unit tests parse what it returns.
 */
export function corruptC2HData(kind: HostileCase, e: EmittedPdu): EmittedPdu {
  const hlen = hlenOf(e);
  switch (kind) {
    case 'plen-lt-hlen':
      return withEditedHeader(e, hlen, (v) => (v.plen = BAD_PLEN));
    case 'bad-hlen':
      return withEditedHeader(e, hlen, (v) => (v.hlen = hlen + BAD_HLEN_DELTA));
    case 'pdo-in-header':
      return withEditedHeader(e, hlen, (v) => (v.pdo = BAD_PDO));
    case 'bad-hdgst': {
      const head = Buffer.from(e.head);
      if ((new PduHeaderView(head).flags & PduFlags.HDGSTF) !== 0) head[hlen]! ^= 0x01;
      return { ...e, head };
    }
    case 'bad-ddgst': {
      if (e.tail.length !== NVME_TCP_DIGEST_LEN) return e;
      const tail = Buffer.from(e.tail);
      tail[0]! ^= 0x01;
      return { ...e, tail };
    }
    case 'data-past-length': {
      // A consistent PDU that just says more: DATAL, PLEN, HDGST and DDGST all cover the extra bytes.
      const head = Buffer.from(e.head);
      const extra = Buffer.alloc(OVERRUN_BYTES, OVERRUN_FILL);
      const v = new PduHeaderView(head);
      v.datal += OVERRUN_BYTES;
      v.plen += OVERRUN_BYTES;
      resealHeader(head, hlen);
      const data = [...e.data, extra];
      let tail = e.tail;
      if (tail.length === NVME_TCP_DIGEST_LEN) {
        tail = Buffer.allocUnsafe(NVME_TCP_DIGEST_LEN);
        tail.writeUInt32LE(crc32cFrags(data), 0);
      }
      return { head, data, tail, plen: e.plen + OVERRUN_BYTES };
    }
    case 'c2h-after-completion':
      return e;
    default: {
      const unreachable: never = kind;
      throw new HostileSpecError(`unknown hostile case ${String(unreachable)}`);
    }
  }
}

/** Where a hostile queue is with its one read response. */
type HostileState =
  /** Letting `after` read responses go by. */
  | 'counting'
  /** data-past-length: the victim's data has started; its last C2HData gets the overrun. */
  | 'await-last'
  /** c2h-after-completion: waiting for the victim's completion to send its data again. */
  | 'await-completion'
  | 'done';

/**
 * The hostile mode of one connection (the queue named in the spec). The
 * connection calls outgoing() for every PDU it writes, in wire order, and
 * writes the PDUs it gets back instead.
 */
export class HostileQueue {
  private state: HostileState = 'counting';
  private responses = 0;
  private victimCid = -1;
  private victimFirst: EmittedPdu | undefined;
  /** PDUs written broken or added. */
  forgedPdus = 0;

  constructor(
    readonly spec: HostileSpec,
    private readonly log: (line: string) => void = () => undefined,
  ) {}

  /** The PDUs to write for `pdu`, emitted as `e`: [e] unless this is where the hostile case strikes. */
  outgoing(pdu: Pdu, e: EmittedPdu): readonly EmittedPdu[] {
    if (this.state === 'done') return [e];
    if (pdu.type === PduType.C2HData) return this.onC2HData(pdu.cccid, pdu.datao, pdu.lastPdu, pdu.success, e);
    if (pdu.type === PduType.CapsuleResp && this.state === 'await-completion' && parseCqe(pdu.cqe).cid === this.victimCid) {
      return this.repeatAfter(e);
    }
    return [e];
  }

  private onC2HData(cid: number, datao: number, last: boolean, success: boolean, e: EmittedPdu): readonly EmittedPdu[] {
    const kind = this.spec.kind;
    if (this.state === 'counting') {
      // Each read's data starts at DATAO 0 (a controller sends a command's data in order).
      if (datao !== 0 || this.responses++ < this.spec.after) return [e];
      this.victimCid = cid;
      const why = hostileUnsupported(kind, e);
      if (why !== undefined) {
        this.log(`${kind}: ${why} on this connection; read response ${this.responses} (CID ${cid}) left intact`);
        this.state = 'done';
        return [e];
      }
      if (kind === 'c2h-after-completion') {
        this.victimFirst = { ...e, head: Buffer.from(e.head), tail: Buffer.from(e.tail) };
        this.state = 'await-completion';
        return success ? this.repeatAfter(e) : [e];
      }
      if (kind === 'data-past-length') {
        this.state = 'await-last';
        return last ? this.strike(e) : [e];
      }
      return this.strike(e);
    }
    if (cid !== this.victimCid) return [e];
    if (this.state === 'await-last' && last) return this.strike(e);
    if (this.state === 'await-completion' && success) return this.repeatAfter(e);
    return [e];
  }

  private strike(e: EmittedPdu): readonly EmittedPdu[] {
    this.state = 'done';
    this.forgedPdus++;
    this.log(`${this.spec.kind}: read response ${this.responses} (CID ${this.victimCid}) sent broken`);
    return [corruptC2HData(this.spec.kind, e)];
  }

  /** The victim's completion, then its first C2HData once more. */
  private repeatAfter(completion: EmittedPdu): readonly EmittedPdu[] {
    this.state = 'done';
    this.forgedPdus++;
    this.log(`c2h-after-completion: C2HData for CID ${this.victimCid} sent again after its completion`);
    const again = this.victimFirst!;
    this.victimFirst = undefined;
    return [completion, again];
  }
}
