/**
 * The live Port of the NIC thread: libpcap through ddplab's own addon
 * (native/pcap-port), which moves frames in batches — one call copies up to
 * BATCH_FRAMES received frames into a buffer and describes them, where the
 * `pcap` package's binding (live.ts) calls into JavaScript once per frame —
 * and which, being a Node-API addon, loads in a worker_thread and closes its
 * poll handle when it closes (the `pcap` binding can load in one thread of a
 * process only, and leaves its handle open, which aborts a worker that ends).
 *
 * Same contract as live.ts: immediate mode (no buffer timeout holding frames
 * back), promiscuous, the BPF filter the caller gives, frames copied once
 * (into arenas the received frames then own slices of: nothing is reused
 * while a frame may still be referenced — on the NIC thread, a pool of
 * arenas the outbox lends to the host and the host gives back, as a
 * driver's page pool recycles rx pages: arena-pool.ts), capture-ring drops as
 * rxKernelDrops, frames cut short by the capture counted in rxTruncated and
 * dropped, 64 KiB slots for a peer's TSO/GSO super-frames on request.
 * Delivery is in batches, always from libuv's poll callback (never from
 * inside send()); a turn of the loop hands the consumer at most
 * TURN_FRAMES frames and stops after TURN_BUDGET_US, the rest waits for the
 * next turn (the poll is level triggered), so timers keep running under a
 * flood.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../base/paths.js';
import { PortCounters, PortError } from './port.js';
import type { Port, PortStats, RxConsumer, RxFrame } from './port.js';
import { SUPER_FRAME_SNAPLEN, withSuperFrameSlots } from './live.js';
import type { RxArena } from '../thread/outbox.js';
import { ArenaPool } from './arena-pool.js';

/** The addon's exports (native/pcap-port/pcap_port.c). */
interface PcapPortAddon {
  libVersion(): string;
  open(iface: string, filter: string, snapLen: number, bufferBytes: number, promiscuous: boolean, onReadable: () => void): object;
  read(handle: object, out: Uint8Array, meta: Float64Array, maxFrames: number): number;
  send(handle: object, frames: Uint8Array, lens: Uint32Array, count: number): number;
  stats(handle: object): [number, number, number];
  close(handle: object): void;
  csumVerified(frame: Uint8Array): number;
}

export const PCAP_PORT_ADDON = join(PROJECT_ROOT, 'native', 'pcap-port', 'build', 'Release', 'ddplab_pcap_port.node');

const BATCH_FRAMES = 256;
const TURN_FRAMES = 4096;
/** ... and at most this long (µs) per turn, as live.ts's rx ring: timers keep running under a flood. */
const TURN_BUDGET_US = 2000;
const META_FIELDS = 5;
/**
 * Frames are copied into arenas of this size. A turn sends the host one
 * message per arena at least (the outbox flushes when the port needs a new
 * one), and each message costs a wake-up of the host thread: 1 MiB holds
 * ~700 frames of 1514 bytes (120 KiB arenas held ~80: 10,000 messages per
 * GiB). Arenas that large would be fresh pages from mmap each time (page
 * faults cost more per frame than the copy: ~0.6 µs per 1514-byte frame at
 * 512 KiB, measured), so the addon sets glibc's mmap threshold above them
 * when it loads (pcap_port.c): a new arena is recycled heap memory.
 */
const ARENA_BYTES = 1024 * 1024;
/**
 * Most arenas a pooled port keeps (arenaPool): lent to the host, or free.
 * The host gives each back at the end of the message that lent it, so a
 * few are out at once; with none free the outbox copies the turn's bytes
 * instead (the pool never grows past this, whatever the host does).
 */
export const ARENA_POOL_MAX = 32;

let addon: PcapPortAddon | undefined;

/** True when the addon is built (the bootstrap builds it with node-gyp). */
export function pcapPortAddonBuilt(): boolean {
  return existsSync(PCAP_PORT_ADDON);
}

/** Loads the addon once per thread; returns libpcap's version string. */
export function loadPcapPortAddon(): string {
  return pcapPort().libVersion();
}

/** The addon's receive checksum verdict for one frame, as read() gives it (RxFrame.csumVerified): for tests. */
export function addonCsumVerified(frame: Uint8Array): boolean {
  return pcapPort().csumVerified(frame) === 1;
}

function pcapPort(): PcapPortAddon {
  if (addon !== undefined) return addon;
  if (!pcapPortAddonBuilt()) {
    throw new PortError('LIBPCAP_MISSING', `ddplab's libpcap addon is not built (${PCAP_PORT_ADDON}): run node scripts/bootstrap.mjs (it needs libpcap-dev and a C compiler)`);
  }
  try {
    addon = createRequire(import.meta.url)(PCAP_PORT_ADDON) as PcapPortAddon;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new PortError('LIBPCAP_MISSING', /libpcap\.so/.test(msg) ? `libpcap is not installed: apt-get install libpcap0.8` : `cannot load ddplab's libpcap addon: ${msg}`);
  }
  return addon;
}

export interface BatchPcapPortOptions {
  readonly iface: string;
  readonly filter?: string;
  /** Kernel capture ring in bytes (default 32 MiB; 128 MiB with superFrames). */
  readonly bufferBytes?: number;
  /** Frames larger than the MTU may arrive: 64 KiB capture slots (live.ts, LivePortOptions.superFrames). */
  readonly superFrames?: boolean;
  /**
   * Called when the arena has no room left for a read, before a new one is
   * started: whoever holds the arena (nicemu/thread/outbox.ts) may take it
   * or rewind it now.
   */
  readonly onArenaFull?: () => void;
  /**
   * Receive into a pool of arenas the owner lends to the host thread and
   * the host gives back (RxArena, arena-pool.ts), instead of a new arena
   * each time one fills. At onArenaFull the owner must lend or copy what it
   * keeps of the arena: the port then receives into it from the start.
   */
  readonly arenaPool?: boolean;
  readonly promiscuous?: boolean;
}

function openError(iface: string, e: unknown): PortError {
  const err = e as { code?: string; message?: string };
  const msg = err.message ?? String(e);
  if (err.code === 'DDPLAB_PCAP_NODEV' || /No such device|doesn't exist/.test(msg)) return new PortError('IFACE_MISSING', `no interface ${iface} in this network namespace`);
  if (err.code === 'DDPLAB_PCAP_PERM' || /permission|not permitted/i.test(msg)) {
    return new PortError('PERMISSION', `capturing on ${iface} needs root (CAP_NET_RAW): run as root, e.g. with sudo`);
  }
  if (err.code === 'DDPLAB_PCAP_LINKTYPE') return new PortError('LINKTYPE', `${iface} is not an Ethernet interface`);
  return new PortError('CAPTURE_FAILED', `libpcap cannot capture on ${iface}: ${msg}`);
}

export class BatchPcapPort implements Port, RxArena {
  readonly iface: string;
  private readonly counters = new PortCounters();
  private readonly lib: PcapPortAddon;
  private readonly handle: object;
  private readonly snapLen: number;
  private readonly meta = new Float64Array(BATCH_FRAMES * META_FIELDS);
  private arena: Buffer;
  private arenaUsed = 0;
  private consumer: RxConsumer | null = null;
  private closed = false;
  /** The capture failed (the interface went down or away): its handle is closed, the port counts what it can no longer do. */
  private failed = false;
  /** Reads that failed (the interface went down or away). */
  rxErrors = 0;
  private readonly txLens = new Uint32Array(1);
  private readonly onArenaFull: (() => void) | undefined;
  /** arenaPool: the arenas the outbox lends to the host. */
  private readonly pool: ArenaPool | undefined;

  constructor(opts: BatchPcapPortOptions) {
    this.iface = opts.iface;
    this.lib = pcapPort();
    if (!existsSync(`/sys/class/net/${opts.iface}`)) throw new PortError('IFACE_MISSING', `no interface ${opts.iface} in this network namespace`);
    const superFrames = opts.superFrames ?? false;
    // No frame is larger (IPv4's largest datagram and a VLAN tag); superFrames only sizes the capture's slots.
    this.snapLen = SUPER_FRAME_SNAPLEN;
    this.onArenaFull = opts.onArenaFull;
    if (opts.arenaPool === true) {
      this.pool = new ArenaPool(ARENA_BYTES, ARENA_POOL_MAX);
      this.arena = this.pool.current;
    } else {
      this.pool = undefined;
      this.arena = Buffer.allocUnsafeSlow(ARENA_BYTES);
    }
    const bufferBytes = opts.bufferBytes ?? (superFrames ? 128 : 32) << 20;
    const open = (): object => {
      try {
        return this.lib.open(opts.iface, opts.filter ?? '', this.snapLen, bufferBytes, opts.promiscuous ?? true, this.onReadable);
      } catch (e) {
        throw openError(opts.iface, e);
      }
    };
    this.handle = superFrames ? withSuperFrameSlots(opts.iface, open) : open();
  }

  /** True once close() released the capture (it always can: the addon closes its own poll handle). */
  get released(): boolean {
    return this.closed;
  }

  get stats(): PortStats {
    if (!this.closed && !this.failed) this.counters.rxKernelDrops = this.lib.stats(this.handle)[1];
    return this.counters.snapshot();
  }

  send(frame: Buffer): void {
    if (this.closed) throw new PortError('PORT_CLOSED', `port on ${this.iface} is closed`);
    this.txLens[0] = frame.length;
    if (!this.failed && this.lib.send(this.handle, frame, this.txLens, 1) === 1) {
      this.counters.txFrames++;
      this.counters.txBytes += frame.length;
    } else {
      // The kernel refused it (EMSGSIZE above the MTU, ENOBUFS, ENETDOWN): counted, as a NIC counts a frame it could not send.
      this.counters.txErrors++;
    }
  }

  onFrames(consumer: RxConsumer): void {
    if (this.consumer !== null) throw new PortError('PORT_CONSUMER_SET', 'this port already has a consumer');
    this.consumer = consumer;
  }

  close(): Promise<void> {
    if (!this.closed) {
      if (!this.failed) this.counters.rxKernelDrops = this.lib.stats(this.handle)[1];
      this.closed = true;
      this.lib.close(this.handle);
    }
    return Promise.resolve();
  }

  current(): ArrayBufferLike {
    return this.arena.buffer;
  }

  lend(): { readonly id: number; readonly memory: ArrayBuffer } | undefined {
    if (this.pool === undefined) return undefined;
    const lent = this.pool.lend();
    if (lent !== undefined) {
      this.arena = this.pool.current;
      this.arenaUsed = 0;
    }
    return lent;
  }

  giveBack(id: number, memory: ArrayBuffer): void {
    if (this.pool === undefined) throw new PortError('PORT_ARENA', `arena ${id} was not lent: this port lends no arenas`);
    this.pool.giveBack(id, memory);
  }

  rewind(): void {
    this.arenaUsed = 0;
  }

  /** The arena is full and nobody took it: frames keep their slices of it, receiving goes on in new memory. */
  private replaceArena(): void {
    this.arena = Buffer.allocUnsafeSlow(ARENA_BYTES);
    this.arenaUsed = 0;
  }

  /** The capture descriptor is readable: read batches until it is empty or this turn's share is taken. */
  private readonly onReadable = (): void => {
    let taken = 0;
    const until = performance.now() + TURN_BUDGET_US / 1000;
    while (!this.closed && !this.failed && taken < TURN_FRAMES && (taken === 0 || performance.now() < until)) {
      // Frames wait in the capture ring until a consumer is there (a NIC's ring fills the same way).
      if (this.consumer === null) return;
      const base = this.arenaUsed;
      const out = this.arena.subarray(base);
      let n: number;
      try {
        n = this.lib.read(this.handle, out, this.meta, BATCH_FRAMES);
      } catch {
        // The interface went down or away: libpcap cannot read any more. Stop polling a
        // descriptor that stays in error (closing the capture; close() is then a formality).
        this.rxErrors++;
        this.failed = true;
        this.lib.close(this.handle);
        return;
      }
      if (n < 0) {
        // The next frame needs more room than this arena has left: whoever holds the arena may take
        // or rewind it now, else a new one starts (-n <= ARENA_BYTES: no frame is larger).
        this.onArenaFull?.();
        if (this.pool !== undefined) {
          // The outbox lent it or copied what it referred to: receive from the start of what is current.
          // (A pooled arena is larger than any frame the capture gives: snapLen < ARENA_BYTES.)
          this.arenaUsed = 0;
        } else if (this.arenaUsed > 0) this.replaceArena();
        // (Never with these sizes; a frame larger than a whole arena gets one of its own rather than a hang.)
        else if (-n > this.arena.length) this.arena = Buffer.allocUnsafeSlow(-n);
        continue;
      }
      if (n === 0) return;
      taken += n;
      const batch: RxFrame[] = [];
      const m = this.meta;
      let end = base;
      for (let i = 0; i < n; i++) {
        const off = base + m[i * META_FIELDS]!;
        const caplen = m[i * META_FIELDS + 1]!;
        end = off + caplen;
        if (caplen < m[i * META_FIELDS + 2]!) {
          this.counters.rxTruncated++;
          continue;
        }
        this.counters.rxFrames++;
        this.counters.rxBytes += caplen;
        batch.push({ data: this.arena.subarray(off, end), tsUs: m[i * META_FIELDS + 3]!, csumVerified: m[i * META_FIELDS + 4] === 1 });
      }
      this.arenaUsed = end;
      if (batch.length > 0) this.consumer(batch);
    }
  };
}

export function openBatchPcapPort(opts: BatchPcapPortOptions): BatchPcapPort {
  return new BatchPcapPort(opts);
}
