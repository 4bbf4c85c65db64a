/**
 * Device memory for devmem TCP (docs/protocol-facts.md, "devmem TCP and io_uring zero-copy receive"): a dmabuf — in Linux
 * a buffer exported by a GPU or accelerator driver — and its binding to rx
 * queues of the NIC, which the netlink `bind-rx` op creates.
 *
 * The host CPU never reads a dmabuf. Two parties touch it here: the NIC,
 * which writes received payload into it (`dmaWrite`, its DMA), and the
 * device that owns it, through a `DmabufDeviceView` — what a GPU kernel
 * reading the data would be. Every byte read through a view is counted, so a
 * run shows what left device memory and why (verification, a software CRC,
 * NVMe/TCP headers the host had to fetch).
 *
 * A binding owns the dmabuf's page pool (page-pool.ts) and the refill ring
 * (refill-ring.ts, the io_uring zcrx return path). Its id is what every
 * dmabuf descriptor carries (dmabuf_cmsg.dmabuf_id), so a consumer can tell
 * data that reached the wrong memory.
 */
import { crc32c } from '../../wire/crc32c.js';
import { DMABUF_CHUNK_BYTES, DmabufPagePool } from './page-pool.js';
import { RefillRing } from './refill-ring.js';
import { DdplabError } from '../../base/errors.js';

/**
 * bind-rx's answers, as errno names (mainline net/core/netdev-genl.c and
 * netdev_rx_queue.c): EINVAL for no queues, header split off or a
 * header-split threshold above 0; ERANGE for a queue index the device does
 * not have; EEXIST for a queue that already has a memory provider; ENOENT
 * for an unbind of nothing. `reason` says which rule.
 */
export type DevmemBindErrorCode = 'EINVAL' | 'ERANGE' | 'EEXIST' | 'ENOENT';

export type DevmemBindReason =
  /** bind-rx without queues. */
  | 'NO_QUEUES'
  /** A queue id the NIC does not have. */
  | 'NO_SUCH_QUEUE'
  /** A queue without header split: payload would land next to headers in one buffer ("tcp-data-split is disabled"). */
  | 'NO_HEADER_SPLIT'
  /** The device splits only packets above a threshold ("hds-thresh is not zero"): small payloads would stay in host memory. */
  | 'HDS_THRESH'
  /** A queue already bound to a memory provider. */
  | 'QUEUE_BOUND'
  /** unbind of an id that is not bound. */
  | 'NO_SUCH_BINDING'
  /** A dmabuf too small for one page. */
  | 'BAD_DMABUF'
  /** A header-split setting change refused while a memory provider is bound. */
  | 'BOUND';

export class DevmemBindError extends DdplabError<DevmemBindErrorCode> {
  constructor(
    code: DevmemBindErrorCode,
    readonly reason: DevmemBindReason,
    message: string,
  ) {
    super(code, message);
    this.name = 'DevmemBindError';
  }
}

/** Byte counts of what left device memory through views (not the NIC's writes). */
export interface DmabufReadStats {
  bytesRead: number;
}

export class Dmabuf {
  readonly sizeBytes: number;
  readonly readStats: DmabufReadStats = { bytesRead: 0 };
  private readonly mem: Buffer;

  /** `sizeBytes`: a positive multiple of 4 KiB (the dmabuf's pages). */
  constructor(sizeBytes: number) {
    if (!Number.isInteger(sizeBytes) || sizeBytes < DMABUF_CHUNK_BYTES || sizeBytes % DMABUF_CHUNK_BYTES !== 0) {
      throw new DevmemBindError('EINVAL', 'BAD_DMABUF', `a dmabuf is a positive multiple of ${DMABUF_CHUNK_BYTES} bytes, not ${sizeBytes}`);
    }
    this.sizeBytes = sizeBytes;
    this.mem = Buffer.alloc(sizeBytes);
  }

  /** The NIC's DMA: `src` to byte `offset`. */
  dmaWrite(offset: number, src: Uint8Array): void {
    if (offset < 0 || offset + src.length > this.sizeBytes) throw new RangeError(`DMA of ${src.length} bytes at ${offset} outside a ${this.sizeBytes}-byte dmabuf`);
    this.mem.set(src, offset);
  }

  /** A reader on the device's side; its reads add to `readStats` and to the view's own count. */
  deviceView(): DmabufDeviceView {
    return new DmabufDeviceView(this.mem, this.readStats);
  }
}

/**
 * What the device that owns the dmabuf sees: its memory. ddplab uses it for
 * what a GPU kernel would do with received data (verify it), and for the
 * bytes the host is forced to pull out of device memory.
 */
export class DmabufDeviceView {
  bytesRead = 0;

  constructor(
    private readonly mem: Buffer,
    private readonly total: DmabufReadStats,
  ) {}

  /** Copies `size` bytes at `offset` into `dst` at `dstOff`. */
  copyTo(offset: number, size: number, dst: Uint8Array, dstOff: number): void {
    this.check(offset, size);
    dst.set(this.mem.subarray(offset, offset + size), dstOff);
    this.count(size);
  }

  /** A copy of `size` bytes at `offset`, in host memory. */
  read(offset: number, size: number): Buffer {
    this.check(offset, size);
    this.count(size);
    return Buffer.from(this.mem.subarray(offset, offset + size));
  }

  /** CRC32C over `size` bytes at `offset`, continuing `prev`: the device computes it where the data is. */
  crc32c(offset: number, size: number, prev: number): number {
    this.check(offset, size);
    this.count(size);
    return crc32c(this.mem.subarray(offset, offset + size), prev);
  }

  private check(offset: number, size: number): void {
    if (offset < 0 || size < 0 || offset + size > this.mem.length) {
      throw new RangeError(`device read of ${size} bytes at ${offset} outside a ${this.mem.length}-byte dmabuf`);
    }
  }

  private count(n: number): void {
    this.bytesRead += n;
    this.total.bytesRead += n;
  }
}

/** The memory a binding gives the queue's page pool: a dmabuf (devmem TCP). Other providers (io_uring zcrx areas) extend this. */
export type MemoryProviderKind = 'dmabuf';

/** What bind-rx is asked for. */
export interface BindRxRequest {
  /** Rx queue ids to bind. */
  readonly queues: readonly number[];
  readonly dmabuf: Dmabuf;
  /** The provider kind (default 'dmabuf'). */
  readonly provider?: MemoryProviderKind;
  /** Refill ring entries (default 4096). */
  readonly refillRingEntries?: number;
}

/**
 * One dmabuf bound to rx queues: its page pool and refill ring. Unbinding
 * (the netlink handle that made it closed) retires it: the NIC takes no more
 * pages from it, but frags sockets still hold stay valid — readable through
 * recvmsg, returnable by SO_DEVMEM_DONTNEED — and the binding is released
 * once the last of them came back (`released`).
 */
export class DmabufBinding {
  readonly pool: DmabufPagePool;
  readonly refillRing: RefillRing;
  readonly provider: MemoryProviderKind;
  private bound = true;

  constructor(
    /** bind-rx's answer; every dmabuf descriptor carries it. */
    readonly id: number,
    readonly dmabuf: Dmabuf,
    readonly queues: readonly number[],
    refillRingEntries: number,
    provider: MemoryProviderKind = 'dmabuf',
  ) {
    this.provider = provider;
    this.pool = new DmabufPagePool(dmabuf.sizeBytes);
    this.refillRing = new RefillRing(refillRingEntries);
    this.pool.attachRing(this.refillRing, id);
  }

  /** Bound to its queues: the NIC may put payload in it. */
  get live(): boolean {
    return this.bound && this.pool.live;
  }

  /** Unbound, and every page is back: nothing references the dmabuf any more. */
  get released(): boolean {
    return !this.bound && this.pool.drained;
  }

  /** Unbind: no more allocations; held frags drain back (see the class comment). */
  retire(): void {
    this.bound = false;
    this.pool.retire();
  }
}
