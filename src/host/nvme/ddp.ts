/**
 * The NVMe/TCP host ULP's side of direct data placement, after the
 * ULP half of the netdev DDP series (docs/protocol-facts.md, "The DDP offload series"):
 * the NvmeDdpHooks the queue calls, implemented on the NIC's offload ops,
 * and the ULP ops the NIC calls back.
 *
 *  - sk_add once the I/O queue is connected (Linux offloads the socket after
 *    the Fabrics Connect of the queue), with the negotiated digests and
 *    queue size; a refusal leaves the queue on the copy path.
 *  - limits as Linux applies them: while the queue is offloaded a read
 *    larger than max_ddp_sgl_len pages is split into several commands (the
 *    block layer's max segments / max I/O size; maxReadBytes), each small
 *    enough to be offloaded; the application sees one read.
 *  - setup before each read at or above the device's io_threshold: the
 *    read's buffer cut into page-sized SGL entries; too many entries, a CID
 *    outside 0..queueSize-1 (no full CID range) or a NIC refusal leave that
 *    read on the copy path, counted by reason.
 *  - teardown at completion; the request completes only at teardownDone,
 *    which the NIC reports asynchronously (or, if it finishes inside the
 *    call, at once).
 *  - resync: the NIC's resyncRequest(seq, PENDING) is stored; only when the
 *    queue's in-order parser reaches a PDU header starting exactly at seq is
 *    it cleared and confirmed through resync(seq); any other header says
 *    nothing (nvme_tcp_resync_response in the series).
 *  - completion audit (model only, no device op): when a mapped read's
 *    command completes to the application the device is told, so it can
 *    count its own writes into that buffer from then on. The test-only
 *    `completeAtTeardown` mode completes without waiting for teardownDone,
 *    the mistake that audit exists to catch.
 *  The ULP ops, resync and teardown protocol itself is DdpUlpSocket
 *  (ddp-ulp-socket.ts), shared with replay's passive ULP.
 *
 * Nothing else in the host trusts the NIC: placed frags are skipped by the
 * copy routine only when they view exactly the destination, and a data
 * digest is skipped only when every chunk of the PDU carried crcOk.
 */
import { DEFAULT_DDP_LIMITS, type DdpSocket, type DdpDeviceOps, type SetupRefusal, type SkAddRefusal } from '../../nicemu/ddp/offload.js';
import type { UlpDdpStats } from '../../nicemu/ddp/stats.js';
import type { FlowKey } from '../../nicemu/flow-table.js';
import { DDP_PAGE_BYTES, sglFromBuffer } from '../../nicemu/ddp/sgl.js';
import type { Skb } from '../../nicemu/skb.js';
import type { NvmeHostStats } from '../net/host-stats.js';
import type { DdpTeardownResult, NvmeDdpHooks } from './ddp-hooks.js';
import { DdpUlpSocket } from './ddp-ulp-socket.js';
import type { NvmeQueue } from './queue.js';
import type { DdpOffloadMode } from '../offload-mode.js';
import { DEFAULT_ULP_MODE, type UlpMode } from './ulp-mode.js';
import { DEVICE_DEFAULT_NIC_PROFILE, type NicProfile } from '../../nicemu/ddp/nic-profile.js';

/** What the ULP side decided, per queue (summed per controller). */
export interface NvmeDdpUlpStats {
  /** Queues whose socket the NIC offloaded / refused. */
  socketsOffloaded: number;
  socketsRefused: number;
  /** Reads at or above the threshold, offered to setup, and their bytes. */
  readsOffered: number;
  bytesOffered: number;
  /** Reads the NIC mapped, and their bytes. */
  readsOffloaded: number;
  bytesOffloaded: number;
  /** Reads refused by the limits (SGL entries, CID range) before asking the NIC. */
  readsOverLimits: number;
  /** Reads the NIC refused (caps off, in-flight cap, socket not offloaded, fault). */
  readsRefusedByNic: number;
  /** Bytes of reads over the limits or refused by the NIC. */
  bytesRefused: number;
  /** Teardowns whose completion came later through teardownDone. */
  teardownsAsync: number;
  /**
   * Reads whose teardown was still pending when the queue died: they fail
   * with the queue's error although their completion had arrived, as Linux
   * cancels them in error recovery.
   */
  teardownsAbandoned: number;
  /** resyncRequest calls from the NIC; resync answers sent back. */
  resyncRequests: number;
  resyncResponses: number;
  /** Reads larger than the limits allow in one command, and the commands they were split into. */
  readsSplit: number;
  splitCommands: number;
}

export function newNvmeDdpUlpStats(): NvmeDdpUlpStats {
  return {
    socketsOffloaded: 0,
    socketsRefused: 0,
    readsOffered: 0,
    bytesOffered: 0,
    readsOffloaded: 0,
    bytesOffloaded: 0,
    readsOverLimits: 0,
    readsRefusedByNic: 0,
    bytesRefused: 0,
    teardownsAsync: 0,
    teardownsAbandoned: 0,
    resyncRequests: 0,
    resyncResponses: 0,
    readsSplit: 0,
    splitCommands: 0,
  };
}

/** The connection of a queue as the ULP knows it: its NIC flow and its TCP read position. */
export interface NvmeDdpConnection {
  readonly key: FlowKey;
  /** The queue's TCP socket: its read position, and its verdict on segments (TcpSocket.acceptableBytes) for the NIC's gate. */
  readonly socket: { readonly readSeq: number; readonly heldEndSeq?: number; acceptableBytes?(skb: Skb): number };
}

export interface NvmeDdpOptions {
  /** Page size the SGL is cut at (default 4 KiB). */
  readonly pageBytes?: number;
  /**
   * How a data digest the NIC did not fully verify is checked. Default
   * 'reference' here, the check the differential oracle and the rigs hold
   * the host to; the commands (run, host, replay) default to 'linux'
   * (DEFAULT_ULP_MODE) and pass it.
   */
  readonly ulp?: UlpMode;
  readonly log?: (line: string) => void;
  /**
   * Test only, deliberately wrong: complete a mapped read at teardown instead
   * of at teardownDone, while the NIC may still write its buffer (the
   * device's ddp-writes-after-completion must count it).
   */
  readonly completeAtTeardown?: boolean;
}

/** One queue's DDP: the hooks its NvmeQueue calls and the ULP ops its NIC socket calls. */
export class NvmeDdp implements NvmeDdpHooks {
  readonly ioThresholdBytes: number;
  readonly ulpMode: UlpMode;
  readonly stats: NvmeDdpUlpStats = newNvmeDdpUlpStats();
  private queue: NvmeQueue | undefined;
  private readonly ulp: DdpUlpSocket;
  private readonly awaitingDone = new Set<number>();
  private readonly sglCache = new WeakMap<ArrayBufferLike, Map<string, readonly Buffer[]>>();
  private readonly log: (line: string) => void;

  constructor(
    private readonly device: DdpDeviceOps,
    private readonly opts: NvmeDdpOptions = {},
  ) {
    this.ioThresholdBytes = device.limits().ioThresholdBytes;
    this.ulpMode = opts.ulp ?? 'reference';
    this.log = opts.log ?? (() => undefined);
    this.ulp = new DdpUlpSocket(device, this.stats, (cid) => this.onLateTeardownDone(cid));
  }

  /** True once the NIC offloaded this queue's socket. */
  get isOffloaded(): boolean {
    return this.ulp.isOffloaded;
  }

  ddgstRxOffloaded(): boolean {
    return this.ulp.isOffloaded && this.device.getCaps()['nvme-tcp-ddgst-rx'];
  }

  maxReadBytes(): number | undefined {
    if (!this.ulp.isOffloaded) return undefined;
    return this.device.limits().maxDdpSglLen * (this.opts.pageBytes ?? DDP_PAGE_BYTES);
  }

  onReadSplit(commands: number): void {
    this.stats.readsSplit++;
    this.stats.splitCommands += commands;
  }

  /**
   * sk_add for `queue` (connected: ICResp and Connect done, nothing in
   * flight) on `conn`. The NIC starts at the socket's read position, where
   * the next PDU header will be. Returns why it refused, or undefined.
   */
  attach(queue: NvmeQueue, conn: NvmeDdpConnection): SkAddRefusal | undefined {
    this.queue = queue;
    const p = queue.connectionParams;
    const socket = conn.socket;
    const sk: DdpSocket = {
      key: conn.key,
      nextPduSeq: socket.readSeq,
      // Bytes TCP already holds (a segment that arrived ahead of a hole before
      // the offload began) are the host's first copy: the NIC must not place over them.
      ...(socket.heldEndSeq !== undefined ? { heldEndSeq: socket.heldEndSeq } : {}),
      // The NIC parses only what this TCP keeps: a forged segment TCP drops never steers placement.
      ...(socket.acceptableBytes !== undefined ? { acceptableBytes: (skb: Skb) => socket.acceptableBytes!(skb) } : {}),
    };
    const why = this.ulp.skAdd(sk, { pfv: 0, cpda: p.cpda, hdgst: p.hdgst, ddgst: p.ddgst, queueSize: queue.depth });
    if (why !== undefined) {
      this.stats.socketsRefused++;
      this.log(`queue ${queue.qid}: DDP offload refused (${why}); the queue stays on the copy path`);
      return why;
    }
    this.stats.socketsOffloaded++;
    queue.onTerminated(() => this.detach());
    return undefined;
  }

  /** sk_del: the socket goes back to plain receive. */
  detach(): void {
    this.ulp.skDel();
  }

  setup(cid: number, bufs: readonly Buffer[]): boolean {
    let len = 0;
    for (const b of bufs) len += b.length;
    this.stats.readsOffered++;
    this.stats.bytesOffered += len;
    const lim = this.device.limits();
    const sgl = bufs.length === 1 ? this.sglOf(bufs[0]!) : bufs.flatMap((b) => this.sglOf(b));
    let why: SetupRefusal | 'cid-range' | undefined;
    let overLimits = false;
    if (sgl.length > lim.maxDdpSglLen) {
      why = 'sgl-too-long';
      overLimits = true;
    } else if (!lim.fullCcidRange && this.queue !== undefined && cid >= this.queue.depth) {
      // Without the full CID range the NIC's table is queueSize long (Linux then skips CID generation).
      why = 'cid-range';
      overLimits = true;
    } else if (!this.ulp.isOffloaded) {
      why = 'not-offloaded';
    } else {
      why = this.ulp.setup(cid, sgl);
    }
    if (why !== undefined) {
      if (overLimits) this.stats.readsOverLimits++;
      else this.stats.readsRefusedByNic++;
      this.stats.bytesRefused += len;
      return false;
    }
    this.stats.readsOffloaded++;
    this.stats.bytesOffloaded += len;
    return true;
  }

  /**
   * The page SGL of a read buffer, built once per (memory, offset, length):
   * the workload reads into the same buffers again and again, as a block
   * driver's requests reuse their pages (the entries are views, never written
   * through here).
   */
  private sglOf(b: Buffer): readonly Buffer[] {
    let perMemory = this.sglCache.get(b.buffer);
    if (perMemory === undefined) {
      perMemory = new Map();
      this.sglCache.set(b.buffer, perMemory);
    }
    const key = `${b.byteOffset}:${b.length}`;
    let sgl = perMemory.get(key);
    if (sgl === undefined) {
      sgl = sglFromBuffer(b, this.opts.pageBytes);
      perMemory.set(key, sgl);
    }
    return sgl;
  }

  teardown(cid: number): DdpTeardownResult {
    const r = this.ulp.teardown(cid);
    if (r === 'pending' && this.opts.completeAtTeardown === true) return 'done';
    if (r === 'pending') {
      this.awaitingDone.add(cid);
      this.stats.teardownsAsync++;
    }
    return r;
  }

  onPduHeaderAt(seq: number): void {
    this.ulp.headerAt(seq);
  }

  onCompleted(cid: number): void {
    this.ulp.auditCompleted(cid);
  }

  private onLateTeardownDone(cid: number): void {
    if (!this.awaitingDone.delete(cid)) return;
    // A queue that died meanwhile has failed the request already.
    if (this.queue !== undefined && this.queue.live) this.queue.ddpTeardownDone(cid);
    else this.stats.teardownsAbandoned++;
  }
}

/** Sums the ULP stats of several queues. */
export function sumNvmeDdpUlpStats(all: readonly NvmeDdpUlpStats[]): NvmeDdpUlpStats {
  const out = newNvmeDdpUlpStats();
  const keys = Object.keys(out) as (keyof NvmeDdpUlpStats)[];
  for (const s of all) for (const k of keys) out[k] += s[k];
  return out;
}

/**
 * DDP for a whole controller: one NvmeDdp per I/O queue, wired to the
 * queue's connection. Use `hooksFor` as NvmeControllerOptions.ddp, call
 * `bindConnection` from the transport factory, and `offloadQueues` once the
 * controller is connected.
 */
export class NvmeDdpOffload {
  private readonly perQueue = new Map<number, NvmeDdp>();
  private readonly conns = new Map<number, NvmeDdpConnection>();

  constructor(
    readonly device: DdpDeviceOps,
    private readonly opts: NvmeDdpOptions = {},
  ) {}

  readonly hooksFor = (qid: number): NvmeDdp => {
    let d = this.perQueue.get(qid);
    if (d === undefined) {
      d = new NvmeDdp(this.device, this.opts);
      this.perQueue.set(qid, d);
    }
    return d;
  };

  bindConnection(qid: number, conn: NvmeDdpConnection): void {
    this.conns.set(qid, conn);
  }

  /** sk_add for every I/O queue (qid = index + 1). Returns how many the NIC took. */
  offloadQueues(ioQueues: readonly NvmeQueue[]): number {
    let n = 0;
    for (const q of ioQueues) {
      const conn = this.conns.get(q.qid);
      if (conn === undefined) continue;
      if (this.hooksFor(q.qid).attach(q, conn) === undefined) n++;
    }
    return n;
  }

  stats(): NvmeDdpUlpStats {
    return sumNvmeDdpUlpStats([...this.perQueue.values()].map((d) => d.stats));
  }
}

/**
 * The run report's view of DDP: how much C2HData payload the NIC placed, and
 * why the rest was copied. Figures are over the I/O queues, the ones DDP
 * offloads: the admin queue never is (Linux offloads only I/O queues, after
 * their Connect), so its bring-up reads (Identify) are in the host totals
 * but not here.
 */
export interface DdpReport {
  readonly offload: DdpOffloadMode;
  /** The ULP's data-digest fallback (ulp-mode.ts). */
  readonly ulp: UlpMode;
  /** Which NIC the software NIC stood for (nicemu/ddp/nic-profile.ts). */
  readonly nic: NicProfile;
  /** The device's limits the host applied. */
  readonly limits: { readonly maxDdpSglLen: number; readonly ioThresholdBytes: number; readonly fullCcidRange: boolean };
  /** Reads split into several commands by the limits (max_ddp_sgl_len pages each), and how many commands. */
  readonly split: { readonly reads: number; readonly commands: number };
  /** Bytes the NIC placed (rx-nvme-tcp-bytes) over C2HData payload bytes the host received, in %. */
  readonly placementPct: number;
  readonly c2hDataBytes: number;
  readonly placedBytes: number;
  /** C2HData payload bytes the host found already in place (copy skipped). */
  readonly inPlaceBytes: number;
  /** C2HData payload the host had to copy, by cause; the three add up to c2hDataBytes - inPlaceBytes. */
  readonly notPlacedBytes: {
    /** Reads below the device's io_threshold (never offered). */
    readonly belowThreshold: number;
    /** Reads over the limits (SGL entries, CID range) or refused by the NIC. */
    readonly limits: number;
    /** Bytes of mapped reads the NIC did not place: loss, reordering, lost sync until resync, caps switched off. */
    readonly lostSync: number;
  };
  /** C2HData PDUs whose digest the host skipped (the NIC checked it), and the data bytes the host CRC'd itself. */
  readonly ddgstOffloadedPdus: number;
  readonly hostCrcDataBytes: number;
  /**
   * Fallbacks to the copy path, counted: I/O queues whose socket the NIC
   * would not offload (sk_add refused: socket limit, caps, fault), reads
   * over the limits (SGL entries, CID range), and reads the NIC refused
   * (no free context, socket not offloaded, caps off, fault).
   */
  readonly fallback: { readonly socketsRefused: number; readonly readsOverLimits: number; readonly readsRefusedByNic: number };
}

/** The settings a report echoes: the ULP mode and the limits applied. */
export interface DdpReportSettings {
  readonly ulp: UlpMode;
  readonly nic: NicProfile;
  readonly limits: DdpReport['limits'];
}

/** `host`: the I/O queues' counters summed. */
export function ddpReport(
  offload: DdpReport['offload'],
  host: NvmeHostStats,
  nic: UlpDdpStats,
  ulp: NvmeDdpUlpStats,
  settings: DdpReportSettings = { ulp: DEFAULT_ULP_MODE, nic: DEVICE_DEFAULT_NIC_PROFILE, limits: DEFAULT_DDP_LIMITS },
): DdpReport {
  const c2h = host.c2hDataBytes;
  const inPlace = host.copySkippedBytes;
  const notPlaced = Math.max(0, c2h - inPlace);
  const belowThreshold = Math.min(notPlaced, Math.max(0, c2h - ulp.bytesOffered));
  const limits = Math.min(notPlaced - belowThreshold, ulp.bytesRefused);
  const placed = nic['rx-nvme-tcp-bytes'];
  const { maxDdpSglLen, ioThresholdBytes, fullCcidRange } = settings.limits;
  return {
    offload,
    ulp: settings.ulp,
    nic: settings.nic,
    limits: { maxDdpSglLen, ioThresholdBytes, fullCcidRange },
    split: { reads: ulp.readsSplit, commands: ulp.splitCommands },
    placementPct: c2h === 0 ? 0 : Math.round((placed / c2h) * 10000) / 100,
    c2hDataBytes: c2h,
    placedBytes: placed,
    inPlaceBytes: inPlace,
    notPlacedBytes: { belowThreshold, limits, lostSync: notPlaced - belowThreshold - limits },
    ddgstOffloadedPdus: host.ddgstOffloaded,
    hostCrcDataBytes: host.crcDataRxBytes,
    fallback: { socketsRefused: ulp.socketsRefused, readsOverLimits: ulp.readsOverLimits, readsRefusedByNic: ulp.readsRefusedByNic },
  };
}
