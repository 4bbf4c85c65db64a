/**
 * Synthetic NVMe/TCP sessions as captured frames, built from the wire codecs
 * alone: what `ddplab run --capture` would record on host0, but with every
 * knob a test or a benchmark needs and the ground truth of every read.
 *
 * One session is one TCP connection (one I/O queue): optional handshake
 * (SYN, SYN-ACK, ACK, ICReq/ICResp, Fabrics Connect), then reads and writes
 * kept `queueDepth` deep; the target answers in FIFO or seeded random
 * order, C2HData split at `c2hPduBytes`, optionally interleaved between
 * reads, completions by CapsuleResp or the C2H SUCCESS flag. Each side's
 * bytes are a TCP stream cut into segments of `segmentBytes` wherever the
 * cut falls, as a sender's TCP does (so PDU headers straddle frames), and
 * every frame acknowledges everything the other side sent before it, as a
 * receiver on a lossless link would. Read data is the block pattern of
 * `patternSeed` at the read's LBA (512-byte blocks).
 *
 * Nothing here is random beyond the seed: the same options give the same
 * frames, byte for byte.
 */
import { createHash } from 'node:crypto';
import { fillPattern } from '../wire/block-pattern.js';
import { parseMac } from '../wire/ethernet.js';
import { buildTcpFrame } from '../wire/frame.js';
import { onesFold, pseudoHeaderSum } from '../wire/inet-checksum.js';
import { IPPROTO_TCP } from '../wire/ipv4.js';
import { buildCqe, cqeWith } from '../wire/nvme-cqe.js';
import { buildConnect, buildConnectData } from '../wire/nvme-fabrics.js';
import { buildReadWrite } from '../wire/nvme-io.js';
import { sglInCapsule, sglTransportData } from '../wire/nvme-sqe.js';
import { emitPdu, PduType, type Pdu } from '../wire/nvme-tcp-pdu.js';
import type { PcapFrame } from '../wire/pcap.js';
import { seqAdd } from '../wire/seq.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN } from '../wire/tcp.js';
import { mulberry32 } from '../base/seeded-rng.js';

/** Block size of the synthetic namespace. */
export const SYNTHETIC_LBA_BYTES = 512;

export interface SyntheticSessionOptions {
  /** Seeds completion order, interleaving and the ISNs (default 1). */
  readonly seed?: number;
  readonly hostMac?: string;
  readonly targetMac?: string;
  /** Default 192.0.2.2 / 192.0.2.1. */
  readonly hostIp?: number;
  readonly targetIp?: number;
  /** Default 40000 / 4420. */
  readonly hostPort?: number;
  readonly targetPort?: number;
  /** 802.1Q VLAN id on every frame; untagged by default. */
  readonly vlan?: number;
  readonly hdgst?: boolean;
  readonly ddgst?: boolean;
  /** Queue id the Connect asks for (default 1). */
  readonly qid?: number;
  /** Commands outstanding at once; CIDs are 0..queueDepth-1 (default 8). */
  readonly queueDepth?: number;
  /** Read commands (default 16). */
  readonly reads?: number;
  /** Read sizes in bytes (multiples of 512), picked in turn (default [4096]). */
  readonly readBytes?: readonly number[];
  /** Write commands with in-capsule data (default 0). */
  readonly writes?: number;
  /** Bytes per write (default 4096). */
  readonly writeBytes?: number;
  /** Largest C2HData payload; 0 sends each read in one PDU (default 0). */
  readonly c2hPduBytes?: number;
  /** Target completion order (default 'random'). */
  readonly order?: 'fifo' | 'random';
  /** Interleave the C2HData PDUs of different reads. */
  readonly interleave?: boolean;
  /** Complete reads with the C2H SUCCESS flag instead of a CapsuleResp. */
  readonly success?: boolean;
  /** TCP payload per frame: an MSS, or up to 65495 for TSO/GRO-sized frames (default 1448). */
  readonly segmentBytes?: number;
  /** Target→host frames carry a partial TCP checksum (the pseudo-header sum), as with checksum offload. */
  readonly partialChecksums?: boolean;
  /** SYN, SYN-ACK, ACK, ICReq/ICResp and Connect first (default true). */
  readonly handshake?: boolean;
  /** Both sides send FIN at the end (default true). */
  readonly fin?: boolean;
  /** Seed of the block pattern read data is made of (default 1). */
  readonly patternSeed?: number;
  /** First read's LBA (default 0); reads follow each other. */
  readonly firstLba?: number;
}

/** A frame with what the generator knows about it. */
export interface SyntheticFrame extends PcapFrame {
  readonly data: Buffer;
  readonly dir: 'h2c' | 'c2h';
  /** Sequence number of the first payload byte (or of the SYN). */
  readonly seq: number;
  readonly payloadLen: number;
}

/** Ground truth of one read, in the order its CapsuleCmd went out. */
export interface SyntheticRead {
  readonly cid: number;
  readonly slba: number;
  readonly lenBytes: number;
  readonly sha256: string;
  /** Host stream sequence number of its CapsuleCmd's first byte. */
  readonly cmdSeq: number;
  /** C2H stream ranges [seq, len) of its C2HData PDUs, whole PDUs (headers, digests). */
  readonly pdus: readonly (readonly [number, number])[];
}

export interface SyntheticSession {
  readonly frames: SyntheticFrame[];
  readonly reads: SyntheticRead[];
  readonly writes: number;
  /** C2HData payload bytes the target sent. */
  readonly c2hDataBytes: number;
  /** Sequence number of the first C2H stream byte after the SYN (the ICResp's first byte with a handshake). */
  readonly c2hStartSeq: number;
}

interface Endpoint {
  readonly mac: Buffer;
  readonly ip: number;
  readonly port: number;
}

/** One direction's byte stream: appended PDUs wait here until cut into segments. */
class SenderStream {
  /** Sequence number of the next byte to go into a frame. */
  sentSeq: number;
  private pending: Buffer[] = [];
  private pendingLen = 0;

  constructor(isn: number) {
    this.sentSeq = isn;
  }

  /** Sequence number the next appended byte will have. */
  get nextSeq(): number {
    return seqAdd(this.sentSeq, this.pendingLen);
  }

  append(bufs: readonly Buffer[]): void {
    for (const b of bufs) {
      if (b.length === 0) continue;
      this.pending.push(b);
      this.pendingLen += b.length;
    }
  }

  get buffered(): number {
    return this.pendingLen;
  }

  /** Takes the next `n` bytes as a list of views. */
  take(n: number): Buffer[] {
    const out: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const b = this.pending[0]!;
      if (b.length <= left) {
        out.push(b);
        this.pending.shift();
        left -= b.length;
      } else {
        out.push(b.subarray(0, left));
        this.pending[0] = b.subarray(left);
        left = 0;
      }
    }
    this.pendingLen -= n;
    return out;
  }
}

interface PlannedIo {
  readonly kind: 'read' | 'write';
  readonly slba: number;
  readonly lenBytes: number;
}

interface OutstandingRead {
  readonly cid: number;
  readonly readIndex: number;
  readonly data: Buffer;
  sent: number;
  readonly pdus: [number, number][];
}

interface OutstandingWrite {
  readonly cid: number;
}

/** Both directions of one synthetic connection, cut into frames as the two TCP senders would. */
class SessionWire {
  readonly frames: SyntheticFrame[] = [];
  readonly h2c: SenderStream;
  readonly c2h: SenderStream;
  private tsMs = 1_700_000_000_000;

  constructor(
    private readonly opts: SyntheticSessionOptions,
    private readonly host: Endpoint,
    private readonly target: Endpoint,
    h2cIsn: number,
    c2hIsn: number,
    private readonly segBytes: number,
    /** Digests of every PDU but ICReq/ICResp. */
    readonly pduOpts: { readonly hdgst: boolean; readonly ddgst: boolean },
  ) {
    this.h2c = new SenderStream(h2cIsn);
    this.c2h = new SenderStream(c2hIsn);
  }

  /** One frame; it acknowledges everything the other side sent. */
  frame(dir: 'h2c' | 'c2h', seq: number, flags: number, payload: Buffer[]): void {
    const opts = this.opts;
    const from = dir === 'h2c' ? this.host : this.target;
    const to = dir === 'h2c' ? this.target : this.host;
    const ack = dir === 'h2c' ? this.c2h.sentSeq : this.h2c.sentSeq;
    const data = buildTcpFrame({
      srcMac: from.mac,
      dstMac: to.mac,
      srcIp: from.ip,
      dstIp: to.ip,
      srcPort: from.port,
      dstPort: to.port,
      seq,
      ack,
      flags,
      window: 0xffff,
      payload,
      vlan: opts.vlan,
    });
    let payloadLen = 0;
    for (const p of payload) payloadLen += p.length;
    if (dir === 'c2h' && opts.partialChecksums === true) {
      // What a sender's CHECKSUM_PARTIAL leaves: the folded pseudo-header sum only.
      const tcpOff = (opts.vlan === undefined ? 14 : 18) + 20;
      data.writeUInt16BE(onesFold(pseudoHeaderSum(from.ip, to.ip, IPPROTO_TCP, data.length - tcpOff)), tcpOff + 16);
    }
    this.tsMs += 0.01;
    this.frames.push({ data, tsMs: this.tsMs, dir, seq, payloadLen });
  }

  /** Cuts the stream into frames; with `all`, the tail too (the sender has nothing more to send now). */
  flush(dir: 'h2c' | 'c2h', all: boolean): void {
    const s = dir === 'h2c' ? this.h2c : this.c2h;
    while (s.buffered >= this.segBytes || (all && s.buffered > 0)) {
      const n = Math.min(this.segBytes, s.buffered);
      const seq = s.sentSeq;
      const payload = s.take(n);
      s.sentSeq = seqAdd(s.sentSeq, n);
      this.frame(dir, seq, TCP_ACK | TCP_PSH, payload);
    }
  }

  /** Appends a PDU to a direction's stream; returns the sequence number of its first byte. */
  send(dir: 'h2c' | 'c2h', pdu: Pdu): number {
    const s = dir === 'h2c' ? this.h2c : this.c2h;
    const at = s.nextSeq;
    const e = emitPdu(pdu, pdu.type === PduType.ICReq || pdu.type === PduType.ICResp ? {} : this.pduOpts);
    s.append([e.head, ...e.data, e.tail]);
    this.flush(dir, false);
    return at;
  }

  hostAck(): void {
    this.frame('h2c', this.h2c.sentSeq, TCP_ACK, []);
  }

  /** SYN, SYN-ACK, ACK, ICReq/ICResp and the Fabrics Connect of queue `qid`. */
  handshake(qid: number, depth: number): void {
    const { hdgst, ddgst } = this.pduOpts;
    this.frame('h2c', this.h2c.sentSeq, TCP_SYN, []);
    this.h2c.sentSeq = seqAdd(this.h2c.sentSeq, 1);
    const synAckSeq = this.c2h.sentSeq;
    // The SYN-ACK acknowledges the SYN: its ack is the host's ISN + 1 (already advanced).
    this.frame('c2h', synAckSeq, TCP_SYN | TCP_ACK, []);
    this.c2h.sentSeq = seqAdd(this.c2h.sentSeq, 1);
    this.hostAck();
    this.send('h2c', { type: PduType.ICReq, pfv: 0, hpda: 0, hdgstEnable: hdgst, ddgstEnable: ddgst, maxr2t: 0 });
    this.flush('h2c', true);
    this.send('c2h', { type: PduType.ICResp, pfv: 0, cpda: 0, hdgstEnable: hdgst, ddgstEnable: ddgst, maxh2cdata: 0x40000 });
    this.flush('c2h', true);
    const connectData = buildConnectData({ hostid: Buffer.alloc(16, 7), cntlid: 1, subnqn: 'nqn.2026-11.io.ddplab:target', hostnqn: 'nqn.2026-11.io.ddplab:synthetic-host' });
    const sqe = buildConnect({ kind: 'connect', cid: 0, recfmt: 0, qid, sqsize: depth - 1, cattr: 0, kato: 0, dptr: sglInCapsule(connectData.length) });
    this.send('h2c', { type: PduType.CapsuleCmd, sqe, data: [connectData] });
    this.flush('h2c', true);
    this.send('c2h', { type: PduType.CapsuleResp, cqe: buildCqe(cqeWith({ cid: 0, sqId: qid, dw0: 1 })) });
    this.flush('c2h', true);
    this.hostAck();
  }

  /** Both sides close: FIN, FIN, last ACK. */
  fin(): void {
    this.frame('h2c', this.h2c.sentSeq, TCP_FIN | TCP_ACK, []);
    this.h2c.sentSeq = seqAdd(this.h2c.sentSeq, 1);
    this.frame('c2h', this.c2h.sentSeq, TCP_FIN | TCP_ACK, []);
    this.c2h.sentSeq = seqAdd(this.c2h.sentSeq, 1);
    this.hostAck();
  }
}

/** The session's reads and writes in a seeded mix, LBAs consecutive. */
function planIos(opts: SyntheticSessionOptions, rand: () => number): PlannedIo[] {
  const sizes = opts.readBytes ?? [4096];
  const writeBytes = opts.writeBytes ?? 4096;
  const plan: PlannedIo[] = [];
  let lba = opts.firstLba ?? 0;
  const nReads = opts.reads ?? 16;
  const nWrites = opts.writes ?? 0;
  let r = 0;
  let w = 0;
  while (r < nReads || w < nWrites) {
    const pickWrite = w < nWrites && (r >= nReads || rand() < nWrites / (nReads + nWrites));
    if (pickWrite) {
      plan.push({ kind: 'write', slba: lba, lenBytes: writeBytes });
      lba += Math.ceil(writeBytes / SYNTHETIC_LBA_BYTES);
      w++;
    } else {
      const len = sizes[r % sizes.length]!;
      plan.push({ kind: 'read', slba: lba, lenBytes: len });
      lba += Math.ceil(len / SYNTHETIC_LBA_BYTES);
      r++;
    }
  }
  return plan;
}

/** Builds one synthetic session (see the file comment). */
export function synthesizeSession(opts: SyntheticSessionOptions = {}): SyntheticSession {
  const rand = mulberry32(opts.seed ?? 1);
  const host: Endpoint = { mac: parseMac(opts.hostMac ?? '02:00:00:00:00:02'), ip: opts.hostIp ?? 0xc0000202, port: opts.hostPort ?? 40000 };
  const target: Endpoint = { mac: parseMac(opts.targetMac ?? '02:00:00:00:00:01'), ip: opts.targetIp ?? 0xc0000201, port: opts.targetPort ?? 4420 };
  const qid = opts.qid ?? 1;
  const depth = opts.queueDepth ?? 8;
  const c2hPdu = opts.c2hPduBytes ?? 0;
  const order = opts.order ?? 'random';
  const patternSeed = opts.patternSeed ?? 1;
  const handshake = opts.handshake ?? true;
  const pduOpts = { hdgst: opts.hdgst === true, ddgst: opts.ddgst === true };

  const h2cIsn = Math.floor(rand() * 0x1_0000_0000) >>> 0;
  const c2hIsn = Math.floor(rand() * 0x1_0000_0000) >>> 0;
  const wire = new SessionWire(opts, host, target, h2cIsn, c2hIsn, opts.segmentBytes ?? 1448, pduOpts);
  const c2h = wire.c2h;
  const reads: SyntheticRead[] = [];
  let c2hDataBytes = 0;

  const c2hStartSeq = seqAdd(c2h.sentSeq, handshake ? 1 : 0);
  if (handshake) wire.handshake(qid, depth);

  const plan = planIos(opts, rand);
  const nWrites = opts.writes ?? 0;
  const freeCids: number[] = [];
  for (let cid = depth - 1; cid >= 0; cid--) freeCids.push(cid);
  const outstanding: (OutstandingRead | OutstandingWrite)[] = [];
  let next = 0;

  const issue = (): boolean => {
    let issued = false;
    while (freeCids.length > 0 && next < plan.length) {
      const io = plan[next++]!;
      const cid = freeCids.pop()!;
      const nlb = Math.ceil(io.lenBytes / SYNTHETIC_LBA_BYTES) - 1;
      if (io.kind === 'read') {
        const sqe = buildReadWrite({ kind: 'read', cid, nsid: 1, slba: io.slba, nlb, dptr: sglTransportData(io.lenBytes) });
        const cmdSeq = wire.send('h2c', { type: PduType.CapsuleCmd, sqe, data: [] });
        const data = Buffer.allocUnsafe(io.lenBytes);
        fillPattern(patternSeed, io.slba * SYNTHETIC_LBA_BYTES, data);
        const pdus: [number, number][] = [];
        reads.push({ cid, slba: io.slba, lenBytes: io.lenBytes, sha256: createHash('sha256').update(data).digest('hex'), cmdSeq, pdus });
        outstanding.push({ cid, readIndex: reads.length - 1, data, sent: 0, pdus });
      } else {
        const data = Buffer.allocUnsafe(io.lenBytes);
        fillPattern(patternSeed ^ 0x5a5a5a5a, io.slba * SYNTHETIC_LBA_BYTES, data);
        const sqe = buildReadWrite({ kind: 'write', cid, nsid: 1, slba: io.slba, nlb, dptr: sglInCapsule(io.lenBytes) });
        wire.send('h2c', { type: PduType.CapsuleCmd, sqe, data: [data] });
        outstanding.push({ cid });
      }
      issued = true;
    }
    if (issued) wire.flush('h2c', true);
    return issued;
  };

  const complete = (cid: number): void => {
    wire.send('c2h', { type: PduType.CapsuleResp, cqe: buildCqe(cqeWith({ cid, sqId: qid, sqHead: 0 })) });
  };

  issue();
  while (outstanding.length > 0) {
    const i = order === 'fifo' ? 0 : Math.floor(rand() * outstanding.length);
    const io = outstanding[i]!;
    let done = true;
    if ('data' in io) {
      const len = io.data.length;
      const pduMax = c2hPdu > 0 ? c2hPdu : len;
      do {
        const n = Math.min(pduMax, len - io.sent);
        const last = io.sent + n === len;
        const success = last && opts.success === true;
        const at = c2h.nextSeq;
        const e = emitPdu(
          { type: PduType.C2HData, cccid: io.cid, datao: io.sent, datal: n, lastPdu: last, success, data: [io.data.subarray(io.sent, io.sent + n)] },
          pduOpts,
        );
        c2h.append([e.head, ...e.data, e.tail]);
        wire.flush('c2h', false);
        io.pdus.push([at, e.plen]);
        io.sent += n;
        c2hDataBytes += n;
      } while (io.sent < len && opts.interleave !== true);
      done = io.sent === len;
      if (done && opts.success !== true) complete(io.cid);
    } else {
      complete(io.cid);
    }
    if (!done) continue;
    outstanding.splice(i, 1);
    freeCids.push(io.cid);
    wire.flush('c2h', true);
    if (!issue()) wire.hostAck();
  }
  wire.flush('c2h', true);
  if (opts.fin ?? true) wire.fin();
  return { frames: wire.frames, reads, writes: nWrites, c2hDataBytes, c2hStartSeq };
}

/**
 * Interleaves the frames of several sessions (several connections in one
 * capture), keeping each session's own order; seeded. Timestamps are
 * re-stamped in the merged order.
 */
export function mergeSessions(sessions: readonly SyntheticSession[], seed = 1): SyntheticFrame[] {
  const rand = mulberry32(seed);
  const at = sessions.map(() => 0);
  let left = 0;
  for (const s of sessions) left += s.frames.length;
  const out: SyntheticFrame[] = [];
  let tsMs = 1_700_000_000_000;
  while (left > 0) {
    let pick = Math.floor(rand() * left);
    let k = 0;
    while (pick >= sessions[k]!.frames.length - at[k]!) {
      pick -= sessions[k]!.frames.length - at[k]!;
      k++;
    }
    const f = sessions[k]!.frames[at[k]!++]!;
    tsMs += 0.01;
    out.push({ ...f, tsMs });
    left--;
  }
  return out;
}
