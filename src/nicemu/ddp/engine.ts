/**
 * The per-socket NVMe/TCP DDP engine: what the netdev DDP series asks of a
 * NIC for one offloaded TCP connection (docs/protocol-facts.md, "The DDP offload series";
 * docs/design.md, "Offload ops"). It sees every checksum-valid segment of the flow
 * in wire order, before TCP, and never buffers, reorders, drops or changes a
 * segment: it only decides which payload bytes it writes straight into a
 * read's destination (`placed` frags) and which skbs it vouches for the data
 * digest of (`ddpCrcOk`).
 *
 * State kept per socket, as the series lists it: the stream position of the
 * next PDU header (a PDU walker that gathers headers split across segments
 * and walks any number of PDUs per segment), the CID → SGL table, and per
 * C2HData PDU its placement and running CRC32C.
 *
 * Sync. From sk_add the walker knows where the next header starts (the
 * ULP's read position, as mlx5 programs tcp copied_seq). A segment that
 * starts past the walker is fine while the gap lies inside the body of the
 * PDU being walked (the walker knows where the next header is); a gap that
 * hides a header, or a header that does not validate, loses sync: the engine
 * stops placing, scans later segments that extend the stream for a plausible
 * header whose successors line up, asks the ULP `resyncRequest(seq)`, walks
 * on from there speculatively, and resumes placing once the ULP confirms
 * with `resync(seq)` for exactly that header.
 *
 * The placement rule that makes DDP a pure optimisation (docs/design.md, "The
 * invariant"): a frag is `placed` only when the NIC wrote exactly those bytes
 * of this skb at the place the host will want them, and every destination
 * byte is written at most once. So:
 *  - a stream position the NIC has seen before (a retransmission, a
 *    duplicate, the overlap of a re-segmented retransmission) is never
 *    placed: the host may hold that position's first copy already;
 *  - a destination offset of a read that any PDU data seen by the NIC was
 *    mapped to (placed or not) is never written again (`claimed`);
 *  - a PDU header is mapped to a read only if the read was set up before
 *    the header reached the wire (its position is past everything the NIC
 *    had seen at setup), no completion for the CID went by since (headers
 *    are walked in stream order, so the NIC sees it first), and DATAO+DATAL
 *    fit the registered SGL;
 *  - torn-down reads are never mapped to a new header; their buffers are
 *    never written after teardownDone ('ideal' invalidates at teardown;
 *    'hardware' keeps the mapping live until its teardownDone, so the PDU
 *    being walked may still land, as on a NIC whose invalidation completes
 *    later: the ULP completes the command only at teardownDone).
 *    That is also why a loss of sync need not retire mappings: a
 *    completion the NIC missed while lost was processed by the host before
 *    its parser reached the resync point, and the host tore that read down
 *    then; whatever is still mapped at confirmation had no completion
 *    before it, and everything after it is walked. A speculative walk maps
 *    PDUs but places nothing until the ULP confirms its first header.
 * Everything else stays a `host` frag, which the host copies; PDU headers,
 * padding and digests always do. What else a NIC may do is its profile's
 * (nic-profile.ts), read as data: 'ideal' fills holes later from
 * retransmissions into the C2HData PDUs it remembers; 'hardware' places only
 * at the expected next byte and remembers only the PDU it is in.
 *
 * Resync follows the series: the ULP keeps the latest request and confirms
 * only an exact match; silence is the normal answer to a wrong guess. While
 * speculative the engine walks on; once the host's ACK (on the NIC's
 * transmit path) is past the requested header, after resyncRetryPdus more
 * headers without an answer it asks again at the header it is at (the ULP's
 * parser went past the guess: it was wrong, or asked too late), and a header that does not validate sends it
 * back to searching. A confirmation of any request made on the current walk
 * confirms the walk from there; an answer to a request abandoned since (the
 * host lags the NIC) is ignored, never taken against the current walk; 'hardware' acts on it only after
 * resyncLatencyPackets further packets, as a NIC reprogramming its context.
 * The framing itself is read from first copies only: a header whose bytes
 * went by before (the walker can trail the highest byte seen after a
 * resync) is not trusted, since a later copy need not match the one TCP
 * kept; the engine loses sync there instead.
 * One assumption remains: TCP keeps the first copy of a byte it accepts, and
 * the engine takes the first copy it sees to be that one. A segment TCP
 * refuses (outside its window) is retransmitted by a sender with the same
 * bytes; only a forger could make the two copies differ.
 *
 * Data digest (`nvme-tcp-ddgst-rx`): the CRC32C of a C2HData PDU's data is
 * run as its segments pass in order; an skb gets ddpCrcOk only when every
 * PDU data byte in it was covered in order from this skb's own copy and
 * every digest it completes matched (an skb in sync with no C2HData bytes
 * gets it too, so the host's chunks are not cut where nothing changes).
 * Anything out of order breaks the PDU's CRC for good, and the host then
 * computes it over the destination.
 */
import { copyRange } from '../../base/shared-copy.js';
import { crc32c } from '../../wire/crc32c.js';
import {
  NVME_TCP_COMMON_HEADER_LEN,
  NVME_TCP_DIGEST_LEN,
  PduFlags,
  PduType,
  isPlausiblePduHeader,
  type PduLayout,
} from '../../wire/nvme-tcp-pdu.js';
import { PduField, PduHeaderView } from '../../wire/nvme-tcp-pdu-header.js';
import { PduStreamWalker } from '../pdu-stream-walker.js';
import { gatherDdgst, newDataDigestRun, runDataCrc, type DataDigestRun } from '../pdu-data-digest.js';
import { seqDiff } from '../../wire/seq.js';
import type { UlpDdpStats } from './stats.js';
import type { FlowKey, RxOffloadEngine } from '../flow-table.js';
import { RangeSet } from '../range-set.js';
import { SglMap, type Sgl } from './sgl.js';
import { skbHostPayload, type Skb, type SkbFrag } from '../skb.js';
import type { NicProfileRules, NicTiming } from './nic-profile.js';

/** Per-socket configuration from sk_add (the ICReq/ICResp outcome). */
export interface NvmeTcpSkConfig {
  /** PDU format version (0 = 1.0). */
  readonly pfv: number;
  /** The controller's PDA (Linux passes 0). C2H data offsets are read from each header's PDO. */
  readonly cpda: number;
  readonly hdgst: boolean;
  readonly ddgst: boolean;
  /** Queue size: CIDs are below it (no full CID range). */
  readonly queueSize: number;
  /** The CPU the ULP reads on (recorded, not used: ddplab has one receive queue). */
  readonly affinityHint?: number;
}

/**
 * resyncRequest's flag (the series' ULP_DDP_RESYNC_PENDING): the request
 * waits for an answer. The ULP keeps only the latest request; it answers
 * with the device's resync(seq) when its parser reaches a PDU header at
 * exactly `seq`, and says nothing otherwise.
 */
export const ULP_DDP_RESYNC_PENDING = 1;

/** The ULP's callbacks, registered at sk_add (ulp_ddp_ulp_ops). */
export interface UlpDdpOps {
  /**
   * "Is `seq` the first byte of a PDU header?" (`flags`: ULP_DDP_RESYNC_PENDING.)
   * False refuses the request; true stores it, replacing any earlier one, and
   * the ULP answers through the device's resync() only on an exact match.
   */
  resyncRequest(key: FlowKey, seq: number, flags: number): boolean;
  /** The teardown of `cid` finished: the device will not touch its buffer again. */
  teardownDone(key: FlowKey, cid: number): void;
}

/** Runs a completion later (default: setImmediate, a CQE processed in a later turn). */
export type DdpDefer = (fn: () => void) => void;

/** Runs `fn` after `us` microseconds of wall time; may return a cancel (called when the work was done another way). */
export type DdpSchedule = (fn: () => void, us: number) => (() => void) | void;

/** What an engine reads from its device: capabilities as switched now, the counters to add to, the profile and its timing. */
export interface DdpDeviceContext {
  readonly stats: UlpDdpStats;
  readonly caps: { readonly nvmeTcp: boolean; readonly ddgstRx: boolean };
  readonly rules: NicProfileRules;
  readonly timing: NicTiming;
  readonly defer: DdpDefer;
  readonly schedule: DdpSchedule;
  /** CIDs may carry generation bits (the whole 16-bit range); else they are below the queue size. */
  readonly fullCcidRange: boolean;
  /** Time each segment's work into rx-nvme-tcp-engine-us (NvmeTcpDdpDeviceOptions.timeEngine). */
  readonly timeEngine: boolean;
  /** One placed frag per SGL entry, else one per memory-contiguous run (NvmeTcpDdpDeviceOptions.pagedFrags). */
  readonly pagedFrags: boolean;
}

/** Why the engine refused a setup. */
export type DdpSetupRefusal = 'cid-range' | 'cid-busy' | 'inflight-limit' | 'empty-sgl';

/** Where the engine is with the PDU framing of its stream. */
export type DdpSyncState =
  /** Walking PDUs from a known header: placing. */
  | 'sync'
  /** Walking from a guessed header the ULP has not confirmed yet: not placing. */
  | 'speculative'
  /** Lost: scanning new segments for a plausible header. */
  | 'searching'
  /** The `nvme-tcp` capability is off: the socket passes through untouched. */
  | 'off';

/** One registered read: its destination and what the NIC already did to it. */
interface DdpIo {
  readonly cid: number;
  readonly sgl: SglMap;
  /** Destination offsets some PDU data was mapped to (written or not): never written again. */
  readonly claimed: RangeSet;
  /** Stream position past everything the NIC had seen at setup. */
  readonly setupPos: number;
  live: boolean;
  /** A completion for this CID (CapsuleResp, C2HData SUCCESS) went by after setup. */
  completedOnWire: boolean;
  /** teardown was asked; the mapping is live until teardownDone (profiles with teardown latency). */
  tearing: boolean;
  /** The ULP told the audit it completed the command to the application. */
  appCompleted: boolean;
}

/** A teardown the NIC has not finished ('hardware'): the mapping stays live until then. */
interface PendingTeardown {
  readonly io: DdpIo;
  packetsLeft: number;
  readonly done: () => void;
  finished: boolean;
  /** Cancels the microsecond timer, when the packet rule finishes first. */
  cancelTimer: (() => void) | void;
}

/** A C2HData PDU whose header the engine walked. Positions are stream positions. */
interface C2HRecord extends DataDigestRun {
  readonly start: number;
  readonly datao: number;
  /** The read its data goes to, when mapped. */
  readonly io: DdpIo | undefined;
  /** The chain of walked headers it belongs to: placeable once that chain is confirmed. */
  readonly chain: number;
  placeable: boolean;
  readonly hasDdgst: boolean;
}

/** Largest header the walker gathers: the C2H PDU types all have hlen 24, plus HDGST. */
const HDR_MAX = 32;
/** Segments farther than this from the highest byte seen belong to no window of this connection (RFC 7323: windows < 2^30). */
const WINDOW_LIMIT = 2 ** 30;
const EMPTY = Buffer.alloc(0);

export class DdpEngine implements RxOffloadEngine {
  private state: DdpSyncState = 'sync';
  /** Numbers the chains of walked headers: a new one starts at each resync candidate. */
  private chain = 0;
  /**
   * Stream positions of the resync requests made on the current speculative
   * walk (a retry adds one; all lie on the same walked chain, so the host
   * confirming any of them confirms the chain from there).
   */
  private candidates: number[] = [];
  /** Headers walked since the last resync request, counted once the host's ACK is past it. */
  private walkedSinceRequest = 0;
  /** The host's latest acknowledgement on this connection, as the NIC transmitted it (undefined: none seen yet). */
  private hostAck: number | undefined;
  /** Packets left before a confirmation takes effect (-1: none pending). */
  private confirmIn = -1;
  /** The confirmed header a pending confirmation starts placing from. */
  private confirmedPos = -1;
  private readonly pendingTeardowns: PendingTeardown[] = [];
  private deleted = false;

  /** The PDU walker; it also maps seq to stream positions. */
  private readonly w: PduStreamWalker<C2HRecord>;
  /** Stream positions any segment covered (before sk_add: all of them). */
  private readonly seen = new RangeSet(128);

  /** Moved along a segment by headerLooksRight. */
  private readonly scanView = new PduHeaderView();
  private readonly recent: C2HRecord[] = [];

  // The CID → SGL table.
  private readonly ios = new Map<number, DdpIo>();
  /** CIDs the table takes: the queue size, or the whole 16-bit range with generation bits. */
  private readonly cidLimit: number;
  private readonly maxInflight: number;
  private inflight = 0;
  /** Do not place from the current segment (it starts before the expected byte and the profile places in order only). */
  private noPlace = false;

  // Per-segment scratch.
  private payload: Buffer = EMPTY;
  private segStart = 0;
  private prevMaxSeen = 0;
  private outFrags: SkbFrag[] = [];
  private outAt = 0;
  private placedBytes = 0;
  private crcOk = false;
  private readonly gaps: number[] = [];
  private readonly gaps2: number[] = [];

  constructor(
    readonly key: FlowKey,
    readonly config: NvmeTcpSkConfig,
    private readonly ulp: UlpDdpOps,
    private readonly ctx: DdpDeviceContext,
    /** TCP sequence number of the next PDU header (the ULP's read position at sk_add). */
    nextPduSeq: number,
    maxInflight: number,
    /** One past the last byte the socket's TCP already held at sk_add (DdpSocket.heldEndSeq). */
    heldEndSeq: number = nextPduSeq,
  ) {
    this.w = new PduStreamWalker<C2HRecord>(HDR_MAX, {
      gatherHeader: (p, q, to) => this.gatherHeader(p, q, to),
      headerLooksRight: (buf, off, deep) => this.headerLooksRight(buf, off, deep),
      header: (layout, h, start) => this.header(layout, h, start),
      body: (rec, p, q) => {
        if (rec !== undefined) this.body(rec, p, q);
      },
      badHeader: (_p, to) => this.badHeader(to),
    });
    this.w.refSeq = nextPduSeq >>> 0;
    this.cidLimit = ctx.fullCcidRange ? 0x10000 : config.queueSize;
    this.maxInflight = ctx.rules.setupsWithinQueueSize ? Math.min(maxInflight, config.queueSize) : maxInflight;
    // Everything before sk_add went by unwatched, and so did what TCP already held beyond the read
    // position: never place it, never trust a header in it (a copy seen later may not be the one TCP kept).
    const held = Math.max(0, Math.min(seqDiff(heldEndSeq >>> 0, this.w.refSeq), WINDOW_LIMIT));
    this.seen.add(Number.NEGATIVE_INFINITY, held);
    this.w.maxSeen = held;
  }

  /** For tests and reports. */
  get syncState(): DdpSyncState {
    return this.state;
  }

  get inflightSetups(): number {
    return this.inflight;
  }

  // ------------------------------------------------------------ control ops

  /** Registers read `cid` with destination `sgl`. */
  setup(cid: number, sgl: Sgl): DdpSetupRefusal | undefined {
    if (!Number.isInteger(cid) || cid < 0 || cid >= this.cidLimit) return 'cid-range';
    if (this.ios.has(cid)) return 'cid-busy';
    if (this.inflight >= this.maxInflight) return 'inflight-limit';
    const map = new SglMap(sgl);
    if (map.lengthBytes === 0) return 'empty-sgl';
    this.ios.set(cid, {
      cid,
      sgl: map,
      claimed: new RangeSet(64),
      setupPos: this.w.maxSeen,
      live: true,
      completedOnWire: false,
      tearing: false,
      appCompleted: false,
    });
    this.inflight++;
    return undefined;
  }

  /**
   * Unmaps `cid`; `done` runs (deferred) once the NIC will not touch its
   * buffer again: at once ('ideal'), or after the teardown latency in
   * packets of the flow or microseconds, whichever first ('hardware'; the
   * mapping stays live until then, as a hardware invalidation completes
   * with a CQE). False when there was no mapping (`done` is not called).
   */
  teardown(cid: number, done: () => void): boolean {
    const io = this.ios.get(cid);
    if (io === undefined || io.tearing) return false;
    io.tearing = true;
    const t = this.ctx.timing;
    if (!this.ctx.rules.teardownLatency || t.teardownLatencyPackets <= 0 || t.teardownLatencyUs <= 0) {
      this.unmap(io);
      this.ctx.defer(done);
      return true;
    }
    const p: PendingTeardown = { io, packetsLeft: t.teardownLatencyPackets, done, finished: false, cancelTimer: undefined };
    this.pendingTeardowns.push(p);
    if (Number.isFinite(t.teardownLatencyUs)) p.cancelTimer = this.ctx.schedule(() => this.finishTeardown(p), t.teardownLatencyUs);
    return true;
  }

  /** Model-only audit: the ULP completed `cid`'s command; a write into a mapping it tore down counts from now on. */
  auditCompleted(cid: number): void {
    const io = this.ios.get(cid);
    if (io !== undefined && io.tearing) io.appCompleted = true;
  }

  private unmap(io: DdpIo): void {
    io.live = false;
    if (this.ios.get(io.cid) === io) {
      this.ios.delete(io.cid);
      this.inflight--;
    }
  }

  private finishTeardown(p: PendingTeardown): void {
    if (p.finished) return;
    p.finished = true;
    if (p.cancelTimer) p.cancelTimer();
    const i = this.pendingTeardowns.indexOf(p);
    if (i >= 0) this.pendingTeardowns.splice(i, 1);
    this.unmap(p.io);
    this.ctx.defer(p.done);
  }

  /** A packet of the flow went by: pending teardowns come closer to done. */
  private tickTeardowns(): void {
    const pending = this.pendingTeardowns;
    for (let i = pending.length - 1; i >= 0; i--) {
      const p = pending[i]!;
      if (--p.packetsLeft <= 0) this.finishTeardown(p);
    }
  }

  /**
   * The host acknowledged up to `ack` (seen on the NIC's transmit path, as
   * hardware sees every frame it sends). Lets the engine tell a request the
   * host has not reached yet (its answer may still come) from one it went
   * past in silence (the guess was wrong, or asked too late).
   */
  hostAcked(ack: number): void {
    if (this.hostAck === undefined || ((ack - this.hostAck) | 0) > 0) this.hostAck = ack >>> 0;
  }

  /**
   * The host got past the latest requested header: its ACK is beyond it.
   * Until then the engine waits, however many headers it walks (a host that
   * lags the NIC — a NIC thread, a busy CPU — answers late, and asking again
   * at a newer header would replace the request it is about to answer).
   * Without any ACK seen (a one-way capture) it cannot tell, and counts headers only.
   */
  private hostReachedRequest(): boolean {
    if (this.hostAck === undefined) return true;
    const asked = this.w.seqOf(this.candidates[this.candidates.length - 1]!);
    return ((this.hostAck - asked) | 0) > 0;
  }

  /** The ULP's answer to a resync request: `seq` is the header its parser reached. True when it confirms the guess. */
  resync(seq: number): boolean {
    const s = this.ctx.stats;
    // A confirmation already taking effect: a second answer changes nothing.
    if (this.confirmIn >= 0) return false;
    const pos = this.w.posOf(seq);
    if (this.state === 'speculative' && this.candidates.includes(pos)) {
      this.candidates = [];
      s['rx-nvme-tcp-resync']++;
      const latency = this.ctx.rules.resyncLatency ? this.ctx.timing.resyncLatencyPackets : 0;
      this.confirmedPos = pos;
      if (latency > 0) this.confirmIn = latency;
      else this.applyConfirmation();
      return true;
    }
    // An answer for a header this engine no longer asks about: the host answers only the request it holds,
    // exactly at that header, so this is a late answer to a request since abandoned or replaced (the host
    // lags the NIC by the packets between them: a NIC thread, a busy host). It says a header is there; it
    // says nothing against the chain being walked now, which goes on (no negative answer exists).
    s['rx-nvme-tcp-resync-fail']++;
    return false;
  }

  /** The confirmed chain is read right: the PDUs walked on it from the confirmed header may be placed from now on. */
  private applyConfirmation(): void {
    this.state = 'sync';
    this.confirmIn = -1;
    for (let i = this.recent.length - 1; i >= 0; i--) {
      const rec = this.recent[i]!;
      if (rec.chain !== this.chain || rec.start < this.confirmedPos) break;
      rec.placeable = rec.io !== undefined;
    }
  }

  /** A packet of the flow went by: a confirmation waiting for the resync latency comes closer to taking effect. */
  private tickConfirmation(): void {
    if (this.confirmIn < 0) return;
    if (this.confirmIn === 0) this.applyConfirmation();
    else this.confirmIn--;
  }

  /** sk_del: every mapping goes, the engine passes segments through from now on. */
  delete(): void {
    this.deleted = true;
    for (const p of [...this.pendingTeardowns]) this.finishTeardown(p);
    for (const io of this.ios.values()) io.live = false;
    this.ios.clear();
    this.inflight = 0;
    this.recent.length = 0;
    this.w.cur = undefined;
  }

  // ---------------------------------------------------------------- receive

  rx(skb: Skb): Skb {
    // What a NIC would do in hardware costs CPU here: count it, so a run can tell it from the host's work
    // (not on the NIC thread, whose CPU is all the NIC's: two clock reads per segment were 3% of it).
    if (!this.ctx.timeEngine) return this.rxUntimed(skb);
    const t0 = performance.now();
    const out = this.rxUntimed(skb);
    this.ctx.stats['rx-nvme-tcp-engine-us'] += (performance.now() - t0) * 1000;
    return out;
  }

  private rxUntimed(skb: Skb): Skb {
    if (!this.deleted) this.tickConfirmation();
    const out = this.rxSegment(skb);
    if (this.pendingTeardowns.length > 0) this.tickTeardowns();
    return out;
  }

  private rxSegment(skb: Skb): Skb {
    const len = skb.len;
    if (len === 0 || this.deleted) return skb;
    const st = this.ctx.stats;
    const segStart = this.w.posOf(skb.seq);
    const segEnd = segStart + len;
    // Nothing a window of this connection could hold: leave it and the state alone.
    if (segStart < this.w.maxSeen - WINDOW_LIMIT || segStart > this.w.maxSeen + WINDOW_LIMIT) return skb;

    if (!this.ctx.caps.nvmeTcp) {
      if (this.state !== 'off') this.switchOff();
      st['rx-nvme-tcp-unsynced-bytes'] += len;
      this.noteSeen(skb.seq, segStart, segEnd);
      return skb;
    }
    if (this.state === 'off') this.state = 'searching';

    const payload = skbHostPayload(skb);
    if (payload === undefined) {
      // Not plain payload (another engine's frags): nothing to place; the stream position is gone.
      this.noteSeen(skb.seq, segStart, segEnd);
      this.loseSync();
      return skb;
    }
    const syncedAtStart = this.state === 'sync';
    if (!syncedAtStart) st['rx-nvme-tcp-unsynced-bytes'] += len;
    this.payload = payload;
    this.segStart = segStart;
    this.prevMaxSeen = this.w.maxSeen;
    this.outFrags = [];
    this.outAt = 0;
    this.placedBytes = 0;
    this.noPlace = false;
    this.crcOk = syncedAtStart && this.config.ddgst && this.ctx.caps.ddgstRx;

    if (this.state === 'searching') {
      this.search(segStart, segEnd);
    } else {
      if (segStart < this.w.frontier) {
        if (this.ctx.rules.fillHoles) this.placeBehind(segStart, Math.min(segEnd, this.w.frontier));
        this.noPlace = !this.ctx.rules.placeOverlapping;
        this.crcOk = false;
      }
      if (segEnd > this.w.frontier) {
        if (segStart > this.w.frontier && !this.skipHole(segStart)) {
          this.loseSync();
          this.search(segStart, segEnd);
        } else {
          this.w.walk(this.payload, this.segStart, Math.max(segStart, this.w.frontier), segEnd);
        }
      }
    }

    this.noteSeen(skb.seq, segStart, segEnd);
    const out = this.finishOut(skb);
    this.payload = EMPTY;
    return out;
  }

  // ------------------------------------------------------------- the walker

  /** Header bytes [p, q) are next: only a first copy can be trusted (TCP kept the first, which this one may not match). */
  private gatherHeader(p: number, q: number, to: number): boolean {
    if (this.fresh(p, q)) return true;
    this.loseSync();
    this.search(Math.max(p, this.segStart), to);
    return false;
  }

  /** A whole header: a C2HData maps its data (its record), a CapsuleResp or SUCCESS completes the command. */
  private header(layout: PduLayout, h: PduHeaderView, start: number): C2HRecord | undefined | false {
    if (this.state === 'speculative' && this.candidates.length > 0 && start !== this.candidates[this.candidates.length - 1]) {
      if (this.hostReachedRequest() && ++this.walkedSinceRequest > this.ctx.timing.resyncRetryPdus) this.requestAgain(start);
    }
    switch (layout.type) {
      case PduType.C2HData: {
        const datal = h.datal;
        if (datal !== layout.dataLength) return false;
        const rec = this.newRecord(start, layout, h.cccid, h.datao, datal);
        if ((layout.flags & PduFlags.SUCCESS) !== 0) this.markCompleted(h.cccid, start);
        return rec;
      }
      case PduType.CapsuleResp:
        this.markCompleted(h.capsuleRespCid, start);
        return undefined;
      default:
        // R2T, C2HTermReq: nothing to place; walk past them.
        return undefined;
    }
  }

  private newRecord(start: number, layout: PduLayout, cid: number, datao: number, datal: number): C2HRecord {
    const st = this.ctx.stats;
    let io: DdpIo | undefined;
    if (cid >= this.cidLimit) {
      // Outside the table the ULP promised (no full CID range): fails offload validation.
      st['rx-nvme-tcp-drop']++;
    } else {
      const cand = this.ios.get(cid);
      if (cand !== undefined && this.usable(cand, start)) {
        if (datao + datal <= cand.sgl.lengthBytes) io = cand;
        else st['rx-nvme-tcp-drop']++;
      }
    }
    const hasDdgst = layout.ddgstLen !== 0;
    const dataStart = start + layout.dataOffset;
    const track = hasDdgst && this.config.ddgst && this.ctx.caps.ddgstRx;
    // Spelled out, not spread from newDataDigestRun: V8 builds a spread-plus-fields
    // literal of this size through a slow runtime path (microseconds per header).
    const run = newDataDigestRun(dataStart, dataStart + datal, start + layout.plen, track, hasDdgst);
    const rec: C2HRecord = {
      dataStart: run.dataStart,
      dataEnd: run.dataEnd,
      end: run.end,
      crcState: run.crcState,
      crc: run.crc,
      crcPos: run.crcPos,
      ddgst: run.ddgst,
      ddgstFill: run.ddgstFill,
      start,
      datao,
      io,
      chain: this.chain,
      placeable: this.state === 'sync' && io !== undefined,
      hasDdgst,
    };
    if (this.recent.length >= this.ctx.rules.recentPdus) this.recent.shift();
    this.recent.push(rec);
    return rec;
  }

  /** May a PDU header at `pos` be mapped to `io`? (The rule in the file comment.) */
  private usable(io: DdpIo, pos: number): boolean {
    return io.live && !io.tearing && !io.completedOnWire && pos >= io.setupPos;
  }

  private markCompleted(cid: number, pos: number): void {
    const io = this.ios.get(cid);
    if (io !== undefined && pos >= io.setupPos) io.completedOnWire = true;
  }

  /** Bytes [a, b) of the current PDU's body, at the frontier. */
  private body(rec: C2HRecord, a: number, b: number): void {
    const da = Math.max(a, rec.dataStart);
    const db = Math.min(b, rec.dataEnd);
    if (da < db) {
      const fresh = this.fresh(da, db);
      if (rec.crcState === 'tracking' && !this.ctx.caps.ddgstRx) rec.crcState = 'off';
      runDataCrc(rec, this.payload, this.segStart, da, db, fresh);
      if (rec.crcState !== 'tracking') this.crcOk = false;
      this.placeData(rec, da, db, fresh);
    }
    if (!rec.hasDdgst) return;
    const ga = Math.max(a, rec.dataEnd);
    const gb = Math.min(b, rec.end);
    if (ga >= gb) return;
    if (rec.crcState === 'tracking' && !this.ctx.caps.ddgstRx) rec.crcState = 'off';
    const ok = gatherDdgst(rec, this.payload, this.segStart, ga, gb, rec.crcState === 'tracking' && this.fresh(ga, gb));
    if (ok !== undefined) this.ctx.stats[ok ? 'rx-nvme-tcp-crc-ok' : 'rx-nvme-tcp-crc-fail']++;
    if (rec.crcState !== 'tracking' && rec.crcState !== 'ok') this.crcOk = false;
  }

  /**
   * A segment starts past the frontier. Fine when the gap lies inside the body
   * of the PDU being walked (the walker knows where the next header is); the
   * PDU's CRC cannot be run over a gap in its data or digest.
   */
  private skipHole(segStart: number): boolean {
    if (this.w.part !== 'body' || segStart > this.w.curEnd) return false;
    const rec = this.w.cur;
    if (rec !== undefined && rec.crcState === 'tracking' && segStart > rec.dataStart) rec.crcState = 'broken';
    this.w.frontier = segStart;
    return true;
  }

  /** A header at the walker did not validate: offload validation failed, sync is lost. */
  private badHeader(to: number): void {
    this.ctx.stats['rx-nvme-tcp-drop']++;
    const from = Math.max(this.segStart, this.w.hdrStart + 1);
    this.loseSync();
    this.search(from, to);
  }

  private loseSync(): void {
    this.crcOk = false;
    if (this.state === 'searching' || this.state === 'off') return;
    this.ctx.stats['rx-nvme-tcp-lost-sync']++;
    this.state = 'searching';
    this.abandonRequest();
    this.confirmIn = -1;
    const rec = this.w.cur;
    if (rec !== undefined && rec.crcState === 'tracking') rec.crcState = 'broken';
    this.w.cur = undefined;
  }

  /** The pending resync request will not be confirmed on this walk. */
  private abandonRequest(): void {
    if (this.candidates.length > 0) this.ctx.stats['rx-nvme-tcp-resync-unanswered']++;
    this.candidates = [];
  }

  /**
   * No answer after resyncRetryPdus walked headers: the host's parser may
   * have gone past the guess while the request was on its way, or the guess
   * is wrong. Ask again at the header just walked, replacing the request.
   */
  private requestAgain(start: number): void {
    const st = this.ctx.stats;
    st['rx-nvme-tcp-resync-req']++;
    st['rx-nvme-tcp-resync-unanswered']++;
    this.walkedSinceRequest = 0;
    if (this.ulp.resyncRequest(this.key, this.w.seqOf(start), ULP_DDP_RESYNC_PENDING)) this.candidates.push(start);
  }

  private switchOff(): void {
    this.loseSync();
    this.state = 'off';
  }

  // ------------------------------------------------------------ resync search

  /**
   * Scans [from, to) of the current segment for a plausible header whose
   * successors (those inside the segment) line up; on one, asks the ULP and
   * walks on from it speculatively. Only segments that extend the stream are
   * scanned: an old one holds bytes the host has most likely parsed already.
   */
  private search(from: number, to: number): void {
    if (to <= this.prevMaxSeen) return;
    const base = this.segStart;
    const buf = this.payload;
    for (let p = from; p + NVME_TCP_COMMON_HEADER_LEN <= to; p++) {
      // Only a first copy can be trusted to be what TCP keeps (and what the host will parse).
      if (p < this.prevMaxSeen && !this.fresh(p, p + HDR_MAX)) continue;
      if (!this.w.candidateAt(buf, p - base)) continue;
      const st = this.ctx.stats;
      st['rx-nvme-tcp-resync-req']++;
      if (!this.ulp.resyncRequest(this.key, this.w.seqOf(p), ULP_DDP_RESYNC_PENDING)) return;
      this.state = 'speculative';
      this.candidates = [p];
      this.walkedSinceRequest = 0;
      this.chain++;
      // Records that overlap the new chain were read under another framing.
      while (this.recent.length > 0 && this.recent[this.recent.length - 1]!.end > p) this.recent.pop();
      this.w.nextPdu(p);
      this.w.walk(this.payload, this.segStart, p, to);
      return;
    }
  }

  /**
   * Could a PDU the controller sends on this connection start at buf[off]?
   * Type one a host receives after ICResp, the common header consistent
   * (isPlausiblePduHeader), digest flags as configured at sk_add; with
   * `deep`, also DATAL and HDGST when they are inside `buf`.
   */
  private headerLooksRight(buf: Buffer, off: number, deep: boolean): boolean {
    const type = buf[off];
    if (type !== PduType.C2HData && type !== PduType.CapsuleResp && type !== PduType.R2T && type !== PduType.C2HTermReq) return false;
    if (!isPlausiblePduHeader(buf, off)) return false;
    const v = this.scanView.at(buf, off);
    const flags = v.flags;
    const hlen = v.hlen;
    if (type !== PduType.C2HTermReq && ((flags & PduFlags.HDGSTF) !== 0) !== this.config.hdgst) return false;
    if (type === PduType.C2HData && ((flags & PduFlags.DDGSTF) !== 0) !== this.config.ddgst) return false;
    if (!deep) return true;
    if (type === PduType.C2HData && v.hasBytes(PduField.XFER_DATAL + 4)) {
      if (v.datal !== v.plen - v.pdo - (this.config.ddgst ? NVME_TCP_DIGEST_LEN : 0)) return false;
    }
    if (this.config.hdgst && type !== PduType.C2HTermReq && v.hasBytes(hlen + NVME_TCP_DIGEST_LEN)) {
      if (crc32c(v.headerBytes()) !== v.hdgst) return false;
    }
    return true;
  }

  // -------------------------------------------------------------- placement

  /** Data [da, db) of `rec`'s PDU in the current segment (at the frontier or behind it). */
  private placeData(rec: C2HRecord, da: number, db: number, fresh: boolean): void {
    const io = rec.io;
    const st = this.ctx.stats;
    if (io === undefined) {
      if (this.state === 'sync') st['rx-nvme-tcp-no-sgl-bytes'] += db - da;
      return;
    }
    if (!io.live) return;
    const offA = rec.datao + (da - rec.dataStart);
    const offB = offA + (db - da);
    let placed = 0;
    const placing = rec.placeable && this.state === 'sync' && !this.noPlace;
    if (placing) {
      const unseen = fresh ? undefined : this.seen.uncovered(da, db, this.gaps);
      const nUnseen = unseen === undefined ? 2 : unseen.length;
      for (let i = 0; i < nUnseen; i += 2) {
        const x = unseen === undefined ? da : unseen[i]!;
        const y = unseen === undefined ? db : unseen[i + 1]!;
        const o = rec.datao + (x - rec.dataStart);
        const free = io.claimed.uncovered(o, o + (y - x), this.gaps2);
        for (let j = 0; j < free.length; j += 2) {
          const u = free[j]!;
          const v = free[j + 1]!;
          this.place(io, u, x - this.segStart + (u - o), v - u);
          placed += v - u;
        }
      }
    }
    // Mapped once, never again: whatever the host gets for these offsets now stays.
    io.claimed.add(offA, offB);
    if (placing) st['rx-nvme-tcp-dup-bytes'] += db - da - placed;
  }

  /** Retransmitted or late bytes [a, b) behind the frontier: placeable only into remembered PDUs. */
  private placeBehind(a: number, b: number): void {
    const recent = this.recent;
    for (let i = 0; i < recent.length; i++) {
      const rec = recent[i]!;
      if (rec.dataEnd <= a) continue;
      if (rec.dataStart >= b) break;
      this.placeData(rec, Math.max(a, rec.dataStart), Math.min(b, rec.dataEnd), false);
    }
  }

  /**
   * The NIC's DMA: `n` payload bytes at `payloadOff` to destination offset
   * `off`, one copy per run of SGL entries that continue one another in
   * memory (a read's buffer cut into pages is one run), never a byte past
   * that run; one placed frag per entry, or per run without pagedFrags.
   */
  private place(io: DdpIo, off: number, payloadOff: number, n: number): void {
    const sgl = io.sgl;
    const paged = this.ctx.pagedFrags;
    let i = sgl.entryAt(off);
    let o = off;
    let src = payloadOff;
    let left = n;
    while (left > 0) {
      const entry = sgl.entries[i]!;
      const eo = o - sgl.entryStart(i);
      const k = Math.min(left, sgl.runEnd(i) - o);
      const memory = sgl.memoryOf(i);
      const at = entry.byteOffset + eo;
      // The DMA, from an offset of the payload (no view of it), at memcpy speed also into the shared
      // memory of a host on another thread (copyRange).
      copyRange(memory, at, this.payload, src, k);
      const last = k <= entry.length - eo ? i : sgl.entryAt(o + k - 1);
      if (io.appCompleted) this.ctx.stats['ddp-writes-after-completion'] += last - i + 1;
      if (!paged || last === i) {
        // A whole SGL entry is its own view (no new one per piece).
        this.emitPlaced(src, eo === 0 && k === entry.length ? entry : memory.subarray(at, at + k));
      } else {
        // One frag per entry the copy covered.
        let p = src;
        let q = eo;
        for (let j = i; j <= last; j++) {
          const e = sgl.entries[j]!;
          const m = Math.min(e.length - q, src + k - p);
          this.emitPlaced(p, q === 0 && m === e.length ? e : e.subarray(q, q + m));
          p += m;
          q = 0;
        }
      }
      o += k;
      src += k;
      left -= k;
      i = last + 1;
    }
  }

  private emitPlaced(payloadOff: number, view: Buffer): void {
    if (payloadOff > this.outAt) this.outFrags.push({ kind: 'host', buf: this.payload.subarray(this.outAt, payloadOff) });
    this.outFrags.push({ kind: 'placed', buf: view });
    this.outAt = payloadOff + view.length;
    this.placedBytes += view.length;
  }

  private finishOut(skb: Skb): Skb {
    const placed = this.placedBytes;
    if (placed === 0) return this.crcOk ? skbWith(skb, skb.frags, skb.ddpPlaced, true) : skb;
    if (this.outAt < this.payload.length) this.outFrags.push({ kind: 'host', buf: this.payload.subarray(this.outAt) });
    const st = this.ctx.stats;
    st['rx-nvme-tcp-packets']++;
    st['rx-nvme-tcp-bytes'] += placed;
    return skbWith(skb, this.outFrags, true, this.crcOk);
  }

  // ------------------------------------------------------------- positions

  /** No byte of [a, b) went by before the current segment. */
  private fresh(a: number, b: number): boolean {
    return this.seen.maxEnd <= a || !this.seen.intersects(a, b);
  }

  private noteSeen(seq: number, segStart: number, segEnd: number): void {
    this.seen.add(segStart, segEnd);
    this.w.noteSeen(seq, segStart, segEnd);
  }
}

/**
 * `skb` with new frags and DDP flags, built field by field in the order the
 * NIC builds every skb (nic.ts): one object shape for every skb the host's
 * TCP sees, where a spread gives the engine's skbs shapes of their own.
 */
function skbWith(skb: Skb, frags: readonly SkbFrag[], ddpPlaced: boolean, ddpCrcOk: boolean): Skb {
  return {
    tcp: skb.tcp,
    srcIp: skb.srcIp,
    dstIp: skb.dstIp,
    seq: skb.seq,
    len: skb.len,
    head: skb.head,
    frags,
    ddpPlaced,
    ddpCrcOk,
    tsUs: skb.tsUs,
  };
}
