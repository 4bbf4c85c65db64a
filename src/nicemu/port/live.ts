/**
 * The live Port: frames to and from a network interface through libpcap, via
 * the native binding of the `pcap` package (3.1.0).
 *
 * Why `pcap` and not `cap`: under Node 20, `cap` 0.2.1 died with glibc heap
 * corruption on every burst of 100k 1 KB frames, while `pcap` held 300k at
 * about 130k frames/s without loss. bench/port.ts keeps measuring it: 1M
 * frames of 1514 bytes at 187k frames/s (the sender's limit), none lost.
 *
 * How the binding reads (node_modules/pcap/pcap_session.cc): libuv polls the
 * capture socket; when it is readable the binding calls pcap_dispatch(1) in a
 * loop until the ring is empty, copying each frame into ONE reused buffer and
 * calling back into JS per frame. So per frame we copy once out of that
 * buffer — that copy is the NIC's DMA, and the RxFrame owns the result — and
 * queue it in the rx ring, which hands the consumer batches on later turns
 * of the event loop within a time budget (rx-ring.ts). The drain loop itself
 * cannot be stopped from JS: it runs until the capture ring is empty. What
 * bounds it is the rx ring — once full, the remaining frames of the drain
 * are dropped without a copy (counted in rxQueueDrops, as a NIC out of rx
 * descriptors drops) — so one drain copies at most rxRingFrames frames.
 *
 * Capture is opened in immediate mode: libpcap then uses a TPACKET_V2 ring
 * and wakes us per frame, where TPACKET_V3's block timeout would hold frames
 * back for up to the buffer timeout — fatal to a TCP stack's RTT.
 *
 * Frames above the MTU: a TPACKET_V2 ring has fixed slots, and libpcap 1.10
 * sizes them at MTU + 18 bytes when the interface has none of TSO, GSO, GRO
 * or LRO on — yet a local peer's TSO/GSO super-frames (a VM's tap on a
 * bridge, a veth whose sender left TSO on) still arrive whole, whatever the
 * receiving interface's own offloads say, and the ring cuts them to the MTU.
 * With `superFrames` the port turns GSO on for the moment libpcap sizes the
 * ring (GSO only shapes what the kernel transmits on the interface, and the
 * port's own frames are injected whole, so nothing else changes), then puts
 * it back: slots hold 64 KiB frames. Frames cut anyway (caplen below the
 * wire length) are counted in rxTruncated and dropped.
 *
 * No direction filter: the kernel never loops a packet socket's own
 * transmissions back to that socket, so the port does not see what it sends.
 * (libpcap's `inbound` filter is not used: it loses the first frame after
 * the capture opens, because libpcap 1.10 filters the first ring slot in
 * userland, where that filter's packet-type load always fails.) Frames other
 * sockets send on the interface — tcpdump injecting, another Port in this
 * process — are seen, as on a shared wire.
 *
 * Closing: the binding releases the pcap handle (and stops its libuv poll
 * handle, which otherwise keeps the process alive) only when pcap_dispatch
 * returns "break", and libpcap checks the break flag only after reading a
 * frame. So close() breaks the loop and then makes a frame arrive: a second,
 * never-polled pcap handle per interface (the "waker") transmits one frame of
 * the IEEE local experimental EtherType 0x88b5 from the locally administered
 * MAC 02:dd:91:ab:00:00, which the closing handle sees as outgoing and which
 * every open Port on that interface discards. The peer receives it too and
 * drops it (not addressed to it, no protocol handler).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { PortCounters, PortError } from './port.js';
import type { Port, PortStats, RxConsumer } from './port.js';
import { RxRing } from '../rx-ring.js';

export interface LivePortOptions {
  /** Interface to capture on and transmit from, in this process's network namespace. */
  readonly iface: string;
  /** BPF filter (pcap-filter(7)); default: every frame. */
  readonly filter?: string;
  /** Kernel capture ring in bytes (default 32 MiB: about 16k wire-sized frames at MTU 1500). */
  readonly bufferBytes?: number;
  /** Bytes captured per frame at most (default 262144: never cuts a frame, even a 64 KiB GRO one). */
  readonly snapLen?: number;
  /** Promiscuous mode (default true): see frames for any MAC the host stack may use. */
  readonly promiscuous?: boolean;
  /**
   * Rx ring slots between capture and consumer (default 4096). Also the most
   * frames one drain of the capture ring copies while the consumer lags (the
   * rest of that drain is dropped without a copy), so it bounds the drain's
   * event-loop stall: bench/port.ts measured 16384 slots stalling timers for
   * up to 140 ms under overload, 1024 slots dropping 0.2% of a flood the
   * consumer could take, 4096 neither.
   */
  readonly rxRingFrames?: number;
  /**
   * Frames larger than the MTU may arrive (an external peer on the same host:
   * its TSO/GSO super-frames reach the interface unsegmented). Sizes the
   * capture slots for them whatever the interface's offloads (see the file
   * comment); snapLen then defaults to 65553 (the largest IPv4 datagram, an
   * Ethernet header and a VLAN tag) and bufferBytes to 128 MiB: libpcap puts
   * each such slot in a 128 KiB block, so that is about 1000 slots, which
   * held a wire-sized 20 MB/s stream from a peer with segmentation off where
   * 64 MiB dropped ~1% (a slot holds any frame; a large ring costs only the
   * pages frames touch). Default false: the topology's own veth carries
   * wire-sized frames.
   */
  readonly superFrames?: boolean;
  /** Frames per batch handed to the consumer at most (default 256). */
  readonly batchFrames?: number;
  /** Time per event-loop turn spent handing batches to the consumer, µs (default 2000; see rx-ring.ts). */
  readonly budgetUs?: number;
}

/** What the pcap binding's PcapSession offers (pcap_session.cc), typed once here. */
interface PcapBindingSession {
  open_live(
    device: string,
    filter: string,
    bufferBytes: number,
    snapLen: number,
    dumpFile: string,
    onPacket: () => void,
    monitor: boolean,
    bufferTimeoutMs: number,
    onWarning: (message: string) => void,
    promiscuous: boolean,
  ): string;
  dispatch(frame: Buffer, header: Buffer): number;
  start_polling(): void;
  close(): void;
  stats(): { ps_recv: number; ps_drop: number; ps_ifdrop: number };
  inject(frame: Buffer): void;
  read_callback?: () => void;
}

interface PcapBinding {
  PcapSession: new () => PcapBindingSession;
  lib_version(): string;
}

// struct pcap_pkthdr as the binding lays it out in its 16-byte header buffer.
const HDR_TS_SEC = 0;
const HDR_TS_USEC = 4;
const HDR_CAPLEN = 8;
const HDR_LEN = 12;
const PKTHDR_BYTES = 16;

/** pcap_dispatch's PCAP_ERROR_BREAK: the binding has released the handle. */
const DISPATCH_BREAK = -2;
const DISPATCH_ERROR = -1;

const ETHERTYPE_LOCAL_EXPERIMENTAL = 0x88b5;
const WAKE_MAC = Buffer.from([0x02, 0xdd, 0x91, 0xab, 0x00, 0x00]);
const WAKE_FRAME: Buffer = (() => {
  const frame = Buffer.alloc(60);
  WAKE_MAC.copy(frame, 0);
  WAKE_MAC.copy(frame, 6);
  frame.writeUInt16BE(ETHERTYPE_LOCAL_EXPERIMENTAL, 12);
  frame.write('ddplab port close', 14, 'latin1');
  return frame;
})();
/** Wake attempts before close() gives up on releasing the handle (the interface is gone, say). */
const WAKE_TRIES = 10;
const WAKE_RETRY_MS = 50;

let binding: PcapBinding | null = null;
const wakers = new Map<string, PcapBindingSession>();

/**
 * Loads the pcap binding once, turning "cannot load" into one line naming
 * the Debian package. Returns libpcap's version string.
 */
export function loadLibpcap(): string {
  return pcapBinding().lib_version();
}

function pcapBinding(): PcapBinding {
  if (binding !== null) return binding;
  const require = createRequire(import.meta.url);
  try {
    binding = require('pcap/build/Release/pcap_binding.node') as PcapBinding;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (/libpcap\.so/.test(msg)) {
      throw new PortError(
        'LIBPCAP_MISSING',
        `libpcap is not installed (${msg.split(':')[0]} not found): apt-get install libpcap0.8 libpcap-dev`,
      );
    }
    if (/Cannot find module/.test(msg)) {
      throw new PortError(
        'LIBPCAP_MISSING',
        'the pcap module is not built (it needs libpcap-dev): apt-get install libpcap-dev, then npm ci',
      );
    }
    throw new PortError('LIBPCAP_MISSING', `cannot load the pcap module: ${msg}`);
  }
  return binding;
}

/** One line for a failed pcap open, naming the interface and what to do. */
function openError(iface: string, e: unknown): PortError {
  const msg = e instanceof Error ? e.message : String(e);
  if (/No such device|doesn't exist|SIOCGIFINDEX|SIOCGIFHWADDR/.test(msg)) {
    return new PortError('IFACE_MISSING', `no interface ${iface} in this network namespace`);
  }
  if (/permission|not permitted|EPERM/i.test(msg)) {
    return new PortError('PERMISSION', `capturing on ${iface} needs root (CAP_NET_RAW): run as root, e.g. with sudo`);
  }
  return new PortError('CAPTURE_FAILED', `libpcap cannot capture on ${iface}: ${msg}`);
}

function openSession(
  iface: string,
  filter: string,
  bufferBytes: number,
  snapLen: number,
  promiscuous: boolean,
  onPacket: () => void,
): PcapBindingSession {
  const pcap = pcapBinding();
  // Checked first because libpcap's own message for it varies by version.
  if (!existsSync(`/sys/class/net/${iface}`)) {
    throw new PortError('IFACE_MISSING', `no interface ${iface} in this network namespace`);
  }
  const session = new pcap.PcapSession();
  let linkType: string;
  try {
    // Buffer timeout 0 selects immediate mode; host0 has no IPv4 address by
    // design, so libpcap's "no IPv4 address assigned" warning is expected.
    linkType = session.open_live(iface, filter, bufferBytes, snapLen, '', onPacket, false, 0, () => {}, promiscuous);
  } catch (e) {
    throw openError(iface, e);
  }
  if (linkType !== 'LINKTYPE_ETHERNET') {
    session.close();
    throw new PortError('LINKTYPE', `${iface} is not an Ethernet interface (libpcap says ${linkType})`);
  }
  return session;
}

/** The per-interface handle that transmits wake frames; never polled, so it holds no event-loop reference. */
function wakerFor(iface: string): PcapBindingSession {
  let waker = wakers.get(iface);
  if (waker === undefined) {
    // "less 1" matches no frame: this handle only transmits.
    waker = openSession(iface, 'less 1', 1 << 16, 64, false, () => {});
    wakers.set(iface, waker);
  }
  return waker;
}

function isWakeFrame(frame: Buffer, caplen: number): boolean {
  return (
    caplen >= 14 &&
    frame.readUInt16BE(12) === ETHERTYPE_LOCAL_EXPERIMENTAL &&
    frame.compare(WAKE_MAC, 0, 6, 6, 12) === 0
  );
}

type LivePortState = 'open' | 'closing' | 'released' | 'abandoned';

export class LivePort implements Port {
  readonly iface: string;
  private readonly counters = new PortCounters();
  private readonly ring: RxRing;
  private readonly session: PcapBindingSession;
  private readonly frameBuf: Buffer;
  private readonly hdrBuf = Buffer.alloc(PKTHDR_BYTES);
  private state: LivePortState = 'open';
  private closing: Promise<void> | null = null;
  private onReleased: (() => void) | null = null;
  /** pcap_dispatch errors (e.g. the interface went away). */
  private dispatchErrors = 0;

  constructor(opts: LivePortOptions) {
    this.iface = opts.iface;
    const superFrames = opts.superFrames ?? false;
    const snapLen = opts.snapLen ?? (superFrames ? SUPER_FRAME_SNAPLEN : 262144);
    this.frameBuf = Buffer.alloc(snapLen);
    this.ring = new RxRing(this.counters, {
      capacityFrames: opts.rxRingFrames ?? 4096,
      batchFrames: opts.batchFrames ?? 256,
      budgetUs: opts.budgetUs ?? 2000,
    });
    // The user's filter must still pass wake frames, or close() could not
    // release the handle.
    const filter = opts.filter ? `(${opts.filter}) or (ether proto ${ETHERTYPE_LOCAL_EXPERIMENTAL})` : '';
    const open = (): PcapBindingSession =>
      openSession(opts.iface, filter, opts.bufferBytes ?? (superFrames ? 128 : 32) << 20, snapLen, opts.promiscuous ?? true, this.onPacket);
    this.session = superFrames ? withSuperFrameSlots(opts.iface, open) : open();
    this.session.read_callback = this.onReadable;
    this.session.start_polling();
  }

  /** True once close() released the libpcap handle; false if it had to give up (see close()). */
  get released(): boolean {
    return this.state === 'released';
  }

  /** pcap_dispatch calls that failed (the interface went down or away). */
  get rxErrors(): number {
    return this.dispatchErrors;
  }

  get stats(): PortStats {
    if (this.state === 'open') this.readKernelDrops();
    return this.counters.snapshot();
  }

  send(frame: Buffer): void {
    if (this.state !== 'open') throw new PortError('PORT_CLOSED', `port on ${this.iface} is closed`);
    try {
      this.session.inject(frame);
    } catch {
      // The binding says only "Pcap inject failed." (EMSGSIZE above the MTU,
      // ENOBUFS, ENETDOWN): a NIC counts a frame it could not send.
      this.counters.txErrors++;
      return;
    }
    this.counters.txFrames++;
    this.counters.txBytes += frame.length;
  }

  onFrames(consumer: RxConsumer): void {
    this.ring.setConsumer(consumer);
  }

  /**
   * Stops delivery at once, then releases the libpcap handle by waking it
   * with one frame (see the file comment); resolves once it is released.
   * If the interface has vanished no frame can arrive: after WAKE_TRIES
   * tries close() resolves anyway and `released` stays false. The handle
   * then does not hold the event loop (libuv stopped polling the socket when
   * it reported the device gone; test/nicemu/port/live.live.test.ts checks that such a
   * process still exits by itself), but its socket stays open until exit.
   */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.readKernelDrops();
    this.state = 'closing';
    this.ring.close();
    this.session.close(); // pcap_breakloop
    this.closing = new Promise<void>((resolve) => {
      let tries = 0;
      let timer: NodeJS.Timeout | null = null;
      this.onReleased = () => {
        if (timer !== null) clearTimeout(timer);
        resolve();
      };
      const wake = (): void => {
        if (this.state !== 'closing') return;
        if (tries++ === WAKE_TRIES) {
          this.state = 'abandoned';
          resolve();
          return;
        }
        try {
          wakerFor(this.iface).inject(WAKE_FRAME);
        } catch {
          // interface gone or down: retry, then give up
        }
        timer = setTimeout(wake, WAKE_RETRY_MS);
      };
      wake();
    });
    return this.closing;
  }

  private readKernelDrops(): void {
    try {
      this.counters.rxKernelDrops = this.session.stats().ps_drop;
    } catch {
      // handle already released: keep the last figure
    }
  }

  /** libuv found the capture socket readable: drain the ring (pcap_session.cc loops until empty). */
  private readonly onReadable = (): void => {
    const r = this.session.dispatch(this.frameBuf, this.hdrBuf);
    if (r === DISPATCH_BREAK) {
      // The binding has closed the handle and stopped its poll handle.
      this.state = 'released';
      this.onReleased?.();
    } else if (r === DISPATCH_ERROR) {
      this.dispatchErrors++;
    }
  };

  /** One frame in the binding's reused buffer. */
  private readonly onPacket = (): void => {
    if (this.state !== 'open') return;
    const caplen = this.hdrBuf.readUInt32LE(HDR_CAPLEN);
    const frame = this.frameBuf;
    if (isWakeFrame(frame, caplen)) return;
    if (caplen < this.hdrBuf.readUInt32LE(HDR_LEN)) {
      this.counters.rxTruncated++;
      return;
    }
    if (this.ring.full) {
      this.counters.rxQueueDrops++;
      return;
    }
    const data = Buffer.allocUnsafe(caplen);
    frame.copy(data, 0, 0, caplen);
    const tsUs = this.hdrBuf.readUInt32LE(HDR_TS_SEC) * 1_000_000 + this.hdrBuf.readUInt32LE(HDR_TS_USEC);
    this.ring.push({ data, tsUs });
  };
}

/** IPv4's largest datagram, an Ethernet header and one VLAN tag. */
export const SUPER_FRAME_SNAPLEN = 65535 + 14 + 4;

/** The offloads whose state libpcap reads to size its ring slots (ethtool -k names). */
const SLOT_OFFLOADS = ['tcp-segmentation-offload', 'generic-segmentation-offload', 'generic-receive-offload', 'large-receive-offload'];

/**
 * Opens the capture with GSO on the interface for that moment when none of
 * the offloads libpcap checks is on, so that its ring slots fit 64 KiB
 * frames; the previous state is restored before returning.
 */
export function withSuperFrameSlots<T>(iface: string, open: () => T): T {
  let features: string;
  try {
    features = execFileSync('ethtool', ['-k', iface], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return open(); // no ethtool or not an ethtool device: libpcap sizes as it will
  }
  const on = SLOT_OFFLOADS.some((f) => new RegExp(`^${f}: on`, 'm').test(features));
  if (on) return open();
  try {
    execFileSync('ethtool', ['-K', iface, 'gso', 'on'], { stdio: 'ignore' });
  } catch {
    return open(); // fixed off (some drivers): frames above the MTU get counted as rxTruncated
  }
  try {
    return open();
  } finally {
    try {
      execFileSync('ethtool', ['-K', iface, 'gso', 'off'], { stdio: 'ignore' });
    } catch {
      // the interface went away meanwhile; nothing to restore
    }
  }
}

/** Opens a live Port on `opts.iface` (in this process's network namespace). */
export function openLivePort(opts: LivePortOptions): LivePort {
  return new LivePort(opts);
}
