/**
 * Header split into device memory, per flow: the receive engine of an rx
 * queue bound to a dmabuf (docs/design.md, "devmem socket API"; docs/protocol-facts.md,
 * "devmem TCP and io_uring zero-copy receive"). It sees every checksum-valid segment of its flow in wire
 * order, before TCP, and decides which payload bytes go to host memory and
 * which to dmabuf pages. It never reorders or changes a segment; it drops one
 * only when the page pool has no room for its device part, as a NIC whose
 * rx ring cannot be refilled drops.
 *
 * Two modes:
 *  - `tcp` (plain devmem TCP, Linux 6.12): Ethernet/IP/TCP headers stay in
 *    the skb's head, every TCP payload byte goes to dmabuf pages.
 *  - `nvme`: a PDU-aware split. NVMe/TCP PDU headers, padding and digests —
 *    everything that is not C2HData payload — go to a host header buffer so
 *    the ULP can parse them; C2HData payload goes to dmabuf pages. The
 *    engine walks the PDU stream like a DDP engine (nicemu/ddp/engine.ts): from the
 *    first byte after the SYN-ACK it gathers headers across segments, steps
 *    over PDU bodies, skips holes that lie inside a body, and remembers
 *    recent C2HData payload ranges so a retransmission behind its walker is
 *    split the same way. A hole that hides a header loses sync: the engine
 *    puts everything in host memory, scans new segments for a plausible
 *    header chain, asks the ULP `resyncRequest(seq)`, walks on from there
 *    speculatively (still host memory) and splits again once the ULP
 *    confirms with `resync(seq)`. A byte the engine cannot classify goes to
 *    host memory, never to the dmabuf: the ULP copies it like any other.
 *    With data digests on, the engine also runs each C2HData PDU's CRC32C as
 *    it walks it and vouches (`ddpCrcOk`) for skbs whose PDU data it covered
 *    in order, exactly as the DDP engine's rule states — the host cannot
 *    check data it cannot read without pulling it out of the device.
 *
 * An skb that ends up with no dmabuf frag is handed over unchanged (its
 * payload in the NIC's host buffer): in Linux such an skb is readable and is
 * received as ordinary data. An skb with dmabuf frags gets its host bytes in
 * a header buffer (`HeaderSplitTarget.headerBuffer`): those are the "linear"
 * bytes SO_DEVMEM_LINEAR reports.
 *
 * The engine splits once the host stack holds the flow (`attach`, from
 * DevmemDevice.holdFlow: the flow's TCP socket, whoever reads it): the page
 * pool finds the chunks an skb still references through that socket
 * (page-pool.ts), so payload put in dmabuf pages with nobody to vouch for it
 * could be recycled under TCP's feet. Before that — a flow whose socket does
 * not exist yet, which in the kernel would have no socket to land in either
 * — it walks (keeping sync) and hands everything over in host memory.
 */
import { crc32c } from '../../wire/crc32c.js';
import { NVME_TCP_COMMON_HEADER_LEN, NVME_TCP_DIGEST_LEN, PduFlags, PduType, isPlausiblePduHeader, type PduLayout } from '../../wire/nvme-tcp-pdu.js';
import { IcDigest, PduField, PduHeaderView } from '../../wire/nvme-tcp-pdu-header.js';
import { PduStreamWalker } from '../pdu-stream-walker.js';
import { gatherDdgst, newDataDigestRun, runDataCrc, type DataDigestRun } from '../pdu-data-digest.js';
import { seqAdd } from '../../wire/seq.js';
import { TCP_SYN } from '../../wire/tcp.js';
import type { DmabufBinding } from './dmabuf.js';
import type { DevmemNicStats } from './stats.js';
import type { FlowKey, RxOffloadEngine } from '../flow-table.js';
import type { CarvedFrag } from './page-pool.js';
import { skbHostPayload, type Skb, type SkbFrag } from '../skb.js';

export type HeaderSplitMode = 'tcp' | 'nvme';

/** Where the engine puts bytes: the binding of its queue, the device's counters and header buffers. */
export interface HeaderSplitTarget {
  readonly binding: DmabufBinding;
  readonly stats: DevmemNicStats;
  /** `len` bytes of the NIC's host header buffers (their memory is what recvmsg reports as linear). */
  headerBuffer(len: number): Buffer;
}

/** The ULP's callback for resync (the DDP series' resync_request). */
export interface HeaderSplitUlpOps {
  /** "Is `seq` the first byte of a PDU header?" True: the ULP will answer through resync(). */
  resyncRequest(seq: number): boolean;
}

/** Where the `nvme` walker is with the PDU framing of its stream. */
export type HeaderSplitSync =
  /** Waiting for the SYN-ACK that tells where the byte stream starts. */
  | 'await-syn'
  /** Walking from a known header: C2HData payload goes to the dmabuf. */
  | 'sync'
  /** Walking from a guessed header the ULP has not confirmed: host memory only. */
  | 'speculative'
  /** Lost: scanning new segments for a plausible header. Host memory only. */
  | 'searching';

/** A C2HData PDU the walker went through; positions are stream positions. */
interface C2HRecord extends DataDigestRun {
  readonly start: number;
  readonly chain: number;
  /** Walked in sync (or confirmed by resync): its payload range may go to the dmabuf. */
  confirmed: boolean;
}

/** Largest header gathered: ICResp (128 bytes; no HDGST). */
const HDR_MAX = 128 + NVME_TCP_DIGEST_LEN;
/** C2HData PDUs remembered for splitting retransmissions behind the walker. */
const RECENT_PDUS = 4096;
/** Farther than this from the highest byte seen: no window of this connection (RFC 7323: windows < 2^30). */
const WINDOW_LIMIT = 2 ** 30;
const NO_BYTES = Buffer.alloc(0);

/** Range kinds in the per-segment classification. */
const HOST = 0;
const DEVICE = 1;

export class HeaderSplitEngine implements RxOffloadEngine {
  private sync: HeaderSplitSync = 'await-syn';
  private active = false;
  private deleted = false;
  private ulp: HeaderSplitUlpOps | undefined;
  private chain = 0;
  private candidate = -1;

  private prevMaxSeen = 0;

  /** The PDU walker (`nvme` mode); it also maps seq to stream positions. */
  private readonly w = new PduStreamWalker<C2HRecord>(HDR_MAX, {
    gatherHeader: (p, q) => {
      this.emit(p, q, HOST);
      return true;
    },
    headerLooksRight: (buf, off, deep) => this.headerLooksRight(buf, off, deep),
    header: (layout, h, start) => this.header(layout, h, start),
    body: (_rec, p, q) => this.body(p, q),
    badHeader: (p, to) => this.badHeader(p, to),
  });
  /** Moved along a segment by headerLooksRight. */
  private readonly scanView = new PduHeaderView();
  private icDone = false;
  private hdgst: boolean | undefined;
  private ddgst: boolean | undefined;
  private readonly recent: C2HRecord[] = [];

  // Per-segment scratch: [from, to, kind] triples relative to the payload.
  private readonly ranges: number[] = [];
  private payload: Buffer = NO_BYTES;
  private segStart = 0;
  private crcOk = false;
  private readonly carved: CarvedFrag[] = [];

  constructor(
    readonly key: FlowKey,
    readonly mode: HeaderSplitMode,
    private readonly target: HeaderSplitTarget,
  ) {}

  get syncState(): HeaderSplitSync {
    return this.sync;
  }

  /** The binding this flow's queue is bound to. */
  get bindingId(): number {
    return this.target.binding.id;
  }

  get attached(): boolean {
    return this.active;
  }

  /** The host stack holds the flow (DevmemDevice.holdFlow): payload may go to dmabuf pages from now on. */
  attach(): void {
    this.active = true;
  }

  /** The socket went away: host memory only again. */
  detach(): void {
    this.active = false;
  }

  /** The flow is gone (or its binding): pass segments through untouched from now on. */
  delete(): void {
    this.deleted = true;
    this.active = false;
    this.recent.length = 0;
    this.w.cur = undefined;
  }

  /** Registers the ULP's resync callback (`nvme` mode). */
  setUlp(ops: HeaderSplitUlpOps | undefined): void {
    this.ulp = ops;
  }

  /** The ULP's answer to a resync request: `seq` is the header its parser reached. True when it confirms the guess. */
  resync(seq: number): boolean {
    const s = this.target.stats;
    if (this.sync === 'speculative' && this.w.posOf(seq) === this.candidate) {
      this.sync = 'sync';
      this.candidate = -1;
      s['rx-hds-resync']++;
      for (let i = this.recent.length - 1; i >= 0; i--) {
        const rec = this.recent[i]!;
        if (rec.chain !== this.chain) break;
        rec.confirmed = true;
      }
      return true;
    }
    s['rx-hds-resync-fail']++;
    if (this.sync === 'speculative') this.loseSync();
    return false;
  }

  // ---------------------------------------------------------------- receive

  rx(skb: Skb): Skb | undefined {
    const st = this.target.stats;
    const len = skb.len;
    if (this.deleted) return skb;
    this.crcOk = false;
    if (len === 0) {
      if ((skb.tcp.flags & TCP_SYN) !== 0 && this.sync === 'await-syn') {
        // The SYN-ACK: the stream's first byte follows the SYN's sequence number.
        this.w.refSeq = seqAdd(skb.seq, 1);
        this.w.refPos = 0;
        this.sync = 'sync';
      }
      return skb;
    }
    if (this.sync === 'await-syn') {
      // Attached after the handshake: where PDUs start is unknown.
      this.w.refSeq = skb.seq;
      this.w.refPos = 0;
      this.sync = 'searching';
    }
    const segStart = this.w.posOf(skb.seq);
    const segEnd = segStart + len;
    if (segStart < this.w.maxSeen - WINDOW_LIMIT || segStart > this.w.maxSeen + WINDOW_LIMIT) return this.passHost(skb);
    const payload = skbHostPayload(skb);
    if (payload === undefined) {
      // Not plain payload (another engine's frags): nothing to split, the stream position is gone.
      this.w.noteSeen(skb.seq, segStart, segEnd);
      if (this.mode === 'nvme') this.loseSync();
      return this.passHost(skb);
    }

    this.ranges.length = 0;
    this.payload = payload;
    this.segStart = segStart;
    this.prevMaxSeen = this.w.maxSeen;
    if (this.mode === 'tcp') {
      this.crcOk = false;
      this.emit(segStart, segEnd, DEVICE);
    } else {
      this.crcOk = this.sync === 'sync' && this.ddgst === true;
      if (this.sync !== 'sync') st['rx-hds-unsynced-bytes'] += len;
      this.classify(segStart, segEnd);
    }
    this.w.noteSeen(skb.seq, segStart, segEnd);

    const out = this.active && this.target.binding.live ? this.split(skb) : this.passHost(skb);
    this.payload = NO_BYTES;
    return out;
  }

  /** Builds the skb from the classified ranges; undefined when the page pool had no room (dropped). */
  private split(skb: Skb): Skb | undefined {
    const st = this.target.stats;
    const r = this.ranges;
    let devBytes = 0;
    let hostBytes = 0;
    for (let i = 0; i < r.length; i += 3) {
      if (r[i + 2] === DEVICE) devBytes += r[i + 1]! - r[i]!;
      else hostBytes += r[i + 1]! - r[i]!;
    }
    if (devBytes === 0) return this.passHost(skb);
    const carved = this.carved;
    carved.length = 0;
    const binding = this.target.binding;
    if (!binding.pool.carve(devBytes, carved)) {
      st['rx-devmem-drops']++;
      st['rx-devmem-drop-bytes'] += skb.len;
      // The walker saw these bytes; the host will get another copy, which no CRC of ours covered.
      this.breakCrcOver(this.segStart, this.segStart + skb.len);
      return undefined;
    }
    const payload = this.payload;
    const hdrBuf = hostBytes > 0 ? this.target.headerBuffer(hostBytes) : NO_BYTES;
    const frags: SkbFrag[] = [];
    let hostAt = 0;
    let piece = 0;
    let pieceUsed = 0;
    for (let i = 0; i < r.length; i += 3) {
      const from = r[i]!;
      const to = r[i + 1]!;
      if (r[i + 2] === HOST) {
        const n = to - from;
        payload.copy(hdrBuf, hostAt, from, to);
        frags.push({ kind: 'host', buf: hdrBuf.subarray(hostAt, hostAt + n) });
        hostAt += n;
        continue;
      }
      let at = from;
      while (at < to) {
        const c = carved[piece]!;
        const n = Math.min(to - at, c.size - pieceUsed);
        const offset = c.offset + pieceUsed;
        binding.dmabuf.dmaWrite(offset, payload.subarray(at, at + n));
        frags.push({ kind: 'dmabuf', dmabufId: binding.id, offset, size: n });
        st['rx-devmem-frags']++;
        at += n;
        pieceUsed += n;
        if (pieceUsed === c.size) {
          piece++;
          pieceUsed = 0;
        }
      }
    }
    st['rx-devmem-packets']++;
    st['rx-devmem-bytes'] += devBytes;
    st['rx-hds-header-bytes'] += hostBytes;
    return { ...skb, frags, ddpCrcOk: this.crcOk };
  }

  /** The skb as the NIC built it: payload in its host rx buffer. */
  private passHost(skb: Skb): Skb {
    const st = this.target.stats;
    st['rx-hds-host-packets']++;
    st['rx-hds-host-bytes'] += skb.len;
    return this.crcOk && this.mode === 'nvme' && !skb.ddpCrcOk ? { ...skb, ddpCrcOk: true } : skb;
  }

  /** Appends [from, to) (stream positions) of the current segment as `kind`, merging with the previous range. */
  private emit(from: number, to: number, kind: number): void {
    if (to <= from) return;
    const a = from - this.segStart;
    const b = to - this.segStart;
    const r = this.ranges;
    const n = r.length;
    if (n > 0 && r[n - 1] === kind && r[n - 2] === a) {
      r[n - 2] = b;
      return;
    }
    r.push(a, b, kind);
  }

  // ------------------------------------------------------------- `nvme` mode

  private classify(segStart: number, segEnd: number): void {
    if (this.sync === 'searching') {
      this.crcOk = false;
      this.search(segStart, segEnd, segStart);
      return;
    }
    if (segStart < this.w.frontier) {
      this.behind(segStart, Math.min(segEnd, this.w.frontier));
      this.crcOk = false;
    }
    if (segEnd <= this.w.frontier) return;
    if (segStart > this.w.frontier) {
      if (this.w.part === 'body' && segStart <= this.w.curEnd) {
        this.skipHole(segStart);
      } else {
        this.loseSync();
        this.search(segStart, segEnd, segStart);
        return;
      }
    }
    this.w.walk(this.payload, this.segStart, Math.max(segStart, this.w.frontier), segEnd);
  }

  /** Bytes [a, b) behind the walker (retransmitted or late): dmabuf only inside a remembered, confirmed C2HData payload. */
  private behind(a: number, b: number): void {
    const recent = this.recent;
    let at = a;
    for (let i = this.firstRecordEndingAfter(a); i < recent.length && at < b; i++) {
      const rec = recent[i]!;
      if (rec.dataStart >= b) break;
      const da = Math.max(at, rec.dataStart);
      const db = Math.min(b, rec.dataEnd);
      if (da >= db) continue;
      this.emit(at, da, HOST);
      this.emit(da, db, rec.confirmed ? DEVICE : HOST);
      at = db;
    }
    this.emit(at, b, HOST);
  }

  private firstRecordEndingAfter(pos: number): number {
    let lo = 0;
    let hi = this.recent.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.recent[mid]!.dataEnd <= pos) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** A whole header: ICResp gives the digests, a C2HData is remembered (its record). */
  private header(layout: PduLayout, h: PduHeaderView, start: number): C2HRecord | undefined | false {
    if (layout.type === PduType.ICResp) {
      const d = h.icDigest;
      this.hdgst = (d & IcDigest.HDGST) !== 0;
      this.ddgst = (d & IcDigest.DDGST) !== 0;
      this.icDone = true;
    } else if (layout.type === PduType.C2HData) {
      if (h.datal !== layout.dataLength) return false;
      return this.newRecord(start, layout);
    }
    return undefined;
  }

  private newRecord(start: number, layout: PduLayout): C2HRecord {
    const dataStart = start + layout.dataOffset;
    const hasDdgst = layout.ddgstLen !== 0;
    const rec: C2HRecord = {
      ...newDataDigestRun(dataStart, dataStart + layout.dataLength, start + layout.plen, hasDdgst, hasDdgst),
      start,
      chain: this.chain,
      confirmed: this.sync === 'sync',
    };
    if (this.recent.length >= RECENT_PDUS) this.recent.shift();
    this.recent.push(rec);
    return rec;
  }

  /** Bytes [a, b) of the current PDU's body, at the frontier. */
  private body(a: number, b: number): void {
    const rec = this.w.cur;
    if (rec === undefined) {
      this.emit(a, b, HOST);
      return;
    }
    const da = Math.max(a, rec.dataStart);
    const db = Math.min(b, rec.dataEnd);
    this.emit(a, Math.min(b, rec.dataStart), HOST);
    if (da < db) {
      runDataCrc(rec, this.payload, this.segStart, da, db, true);
      if (rec.crcState !== 'tracking') this.crcOk = false;
      // Payload of an unconfirmed (speculative) PDU stays in host memory: a wrong guess must not hide a header.
      this.emit(da, db, rec.confirmed && this.sync === 'sync' ? DEVICE : HOST);
    }
    const ga = Math.max(a, rec.dataEnd);
    const gb = Math.min(b, rec.end);
    if (ga >= gb) return;
    this.emit(ga, gb, HOST);
    const ok = gatherDdgst(rec, this.payload, this.segStart, ga, gb, true);
    if (ok !== undefined) this.target.stats[ok ? 'rx-hds-crc-ok' : 'rx-hds-crc-fail']++;
    if (rec.crcState !== 'tracking' && rec.crcState !== 'ok') this.crcOk = false;
  }

  /** A segment starts past the walker inside the current PDU's body: the walker knows where the next header is. */
  private skipHole(segStart: number): void {
    const rec = this.w.cur;
    if (rec !== undefined && rec.crcState === 'tracking') rec.crcState = 'broken';
    this.crcOk = false;
    this.w.frontier = segStart;
  }

  /** A header at the walker did not validate: sync is lost; look for a header in the rest of the segment. */
  private badHeader(p: number, to: number): void {
    const from = Math.max(this.segStart, this.w.hdrStart + 1);
    this.loseSync();
    // Bytes already classified stay as they are (host); the scan starts after the bad header's first byte.
    this.search(from, to, p);
  }

  private loseSync(): void {
    this.crcOk = false;
    if (this.sync === 'searching' || this.sync === 'await-syn') return;
    this.target.stats['rx-hds-lost-sync']++;
    this.sync = 'searching';
    this.candidate = -1;
    const rec = this.w.cur;
    if (rec !== undefined && rec.crcState === 'tracking') rec.crcState = 'broken';
    this.w.cur = undefined;
    this.dropUnconfirmed();
  }

  private dropUnconfirmed(): void {
    while (this.recent.length > 0 && !this.recent[this.recent.length - 1]!.confirmed) this.recent.pop();
  }

  /**
   * Scans [from, to) of the current segment for a plausible header whose
   * successors inside the segment line up; on one, asks the ULP and walks
   * on from it speculatively. Bytes from `emitFrom` on are classified here
   * (host memory: nothing unconfirmed goes to the dmabuf). Only segments
   * that extend the stream are scanned: older ones hold bytes the host has
   * most likely parsed already.
   */
  private search(from: number, to: number, emitFrom: number): void {
    if (to > this.prevMaxSeen && this.ulp !== undefined && this.icDone) {
      const base = this.segStart;
      const buf = this.payload;
      for (let p = Math.max(from, emitFrom); p + NVME_TCP_COMMON_HEADER_LEN <= to; p++) {
        if (!this.w.candidateAt(buf, p - base)) continue;
        this.target.stats['rx-hds-resync-req']++;
        if (!this.ulp.resyncRequest(this.w.seqOf(p))) break;
        this.emit(emitFrom, p, HOST);
        this.sync = 'speculative';
        this.candidate = p;
        this.chain++;
        this.dropUnconfirmed();
        this.w.nextPdu(p);
        this.w.frontier = p;
        this.w.walk(this.payload, this.segStart, p, to);
        return;
      }
    }
    this.emit(emitFrom, to, HOST);
  }

  /**
   * Could a PDU the controller sends start at buf[off]? Before ICResp only
   * ICResp (or a TermReq); after it the controller-to-host types with the
   * digest flags ICResp negotiated; with `deep`, DATAL and HDGST when they
   * are inside `buf`.
   */
  private headerLooksRight(buf: Buffer, off: number, deep: boolean): boolean {
    const type = buf[off];
    if (!this.icDone) {
      if (type !== PduType.ICResp && type !== PduType.C2HTermReq) return false;
    } else if (type !== PduType.C2HData && type !== PduType.CapsuleResp && type !== PduType.R2T && type !== PduType.C2HTermReq) {
      return false;
    }
    if (!isPlausiblePduHeader(buf, off)) return false;
    const v = this.scanView.at(buf, off);
    const flags = v.flags;
    const hlen = v.hlen;
    const digested = type !== PduType.C2HTermReq && type !== PduType.ICResp;
    if (digested && this.hdgst !== undefined && ((flags & PduFlags.HDGSTF) !== 0) !== this.hdgst) return false;
    if (type === PduType.C2HData && this.ddgst !== undefined && ((flags & PduFlags.DDGSTF) !== 0) !== this.ddgst) return false;
    if (!deep) return true;
    if (type === PduType.C2HData && v.hasBytes(PduField.XFER_DATAL + 4)) {
      if (v.datal !== v.plen - v.pdo - ((flags & PduFlags.DDGSTF) !== 0 ? NVME_TCP_DIGEST_LEN : 0)) return false;
    }
    if (digested && (flags & PduFlags.HDGSTF) !== 0 && v.hasBytes(hlen + NVME_TCP_DIGEST_LEN)) {
      if (crc32c(v.headerBytes()) !== v.hdgst) return false;
    }
    return true;
  }

  /** A dropped frame's payload will come again as a retransmission no running CRC can cover. */
  private breakCrcOver(a: number, b: number): void {
    for (let i = this.firstRecordEndingAfter(a); i < this.recent.length; i++) {
      const rec = this.recent[i]!;
      if (rec.start >= b) break;
      if (rec.crcState === 'tracking') rec.crcState = 'broken';
    }
  }
}
