/**
 * io_uring zero-copy receive (Linux 6.15+ zcrx) as a memory provider of its
 * own: an interface queue (ifq) registered on one rx queue of the NIC, with
 * an area of user memory the NIC's page pool allocates from and a refill
 * ring the application returns buffers on (docs/devmem.md, "io_uring
 * zero-copy receive").
 *
 *   const ifq = registerZcrxIfq(dev, { queue: 1, areaBytes: 64 << 20, rqEntries: 4096 });
 *   ifq.areaToken           // rq_area_token: area id << IORING_ZCRX_AREA_SHIFT
 *   ifq.read(off, len)      // the application reads its own memory
 *   ifq.refillRing.produce({ off, len })  // and gives the buffer back
 *
 * What the kernel does, and ddplab with it:
 *  - Registration needs the queue to split headers (the same refusals as
 *    bind-rx: the queue must exist, have header split on, and have no other
 *    memory provider); the area is a whole number of 4 KiB pages (EINVAL
 *    otherwise); rq_entries is 1..32768 and rounded up to a power of two
 *    (without IORING_SETUP_CLAMP a larger count is EINVAL). The ring must
 *    have 32-byte CQEs (IORING_SETUP_CQE32): a zcrx completion carries
 *    `struct io_uring_zcrx_cqe` in the second half.
 *  - One area per ifq, area id 0: `rq_area_token` is 0 << 48, and so is the
 *    top of every CQE's `off`. A refill entry naming another area, or with a
 *    non-zero pad, or a page index past the area, is consumed and ignored.
 *  - The area is split into 4 KiB niovs; the NIC's page pool takes them
 *    from the free list and from refill-ring entries (the pool's `carve`
 *    refills from the ring before it takes fresh pages). A frame whose
 *    payload finds no niov is dropped (page_pool allocation failure), and
 *    TCP retransmits it.
 *  - Each completion takes one user reference on its niov; each refill
 *    entry gives one back.
 *
 * The area is ordinary user memory: unlike a dmabuf, the CPU may read it.
 * `read` counts what the application read (the consumer's verification).
 * The kernel's copy fallback writes into it (`fallbackWrite`), also counted.
 */
import { Dmabuf, type DmabufBinding, type DmabufDeviceView } from './dmabuf.js';
import type { DevmemDevice } from './device.js';
import { DMABUF_CHUNK_BYTES } from './page-pool.js';
import { RefillRing, ZCRX_AREA_SHIFT, refillOff } from './refill-ring.js';
import { DdplabError } from '../../base/errors.js';

/** IO_RQ_MAX_ENTRIES: most refill-ring entries. */
export const ZCRX_RQ_MAX_ENTRIES = 32768;
/** The one area of an ifq has id 0 ("one area per ifq for now"). */
export const ZCRX_AREA_ID = 0;
/** Linux's PAGE_SIZE: one niov of the area. */
export const ZCRX_NIOV_BYTES = DMABUF_CHUNK_BYTES;

export class ZcrxRegisterError extends DdplabError<'EINVAL'> {
  override name = 'ZcrxRegisterError';
}

export interface ZcrxIfqRequest {
  /** The rx queue (if_rxq) the ifq takes over. */
  readonly queue: number;
  /** Area length in bytes: a positive multiple of 4 KiB. */
  readonly areaBytes: number;
  /** Refill ring entries, 1..32768, rounded up to a power of two. */
  readonly rqEntries: number;
  /** IORING_SETUP_CQE32 on the ring (default true; false is EINVAL). */
  readonly cqe32?: boolean;
}

export interface ZcrxIfqStats {
  /** Bytes the application read out of the area. */
  areaReadBytes: number;
  /** Bytes the copy fallback wrote into fresh niovs. */
  fallbackWriteBytes: number;
}

export class ZcrxIfq {
  readonly areaId = ZCRX_AREA_ID;
  /** rq_area_token: what the application ORs into a refill entry's `off`. */
  readonly areaToken: bigint;
  readonly refillRing: RefillRing;
  readonly stats: ZcrxIfqStats = { areaReadBytes: 0, fallbackWriteBytes: 0 };
  private readonly view: DmabufDeviceView;

  constructor(
    private readonly dev: DevmemDevice,
    /** The binding whose page pool the NIC allocates from: the area is its memory. */
    readonly binding: DmabufBinding,
    readonly queue: number,
    rqEntries: number,
  ) {
    this.areaToken = BigInt(this.areaId) << BigInt(ZCRX_AREA_SHIFT);
    this.refillRing = new RefillRing(rqEntries);
    // The NIC refills from this ring, in area 0, instead of the binding's own.
    binding.pool.attachRing(this.refillRing, this.areaId);
    this.view = binding.dmabuf.deviceView();
  }

  get areaBytes(): number {
    return this.binding.dmabuf.sizeBytes;
  }

  /** The NIC's page pool over the area. */
  get pool(): DmabufBinding['pool'] {
    return this.binding.pool;
  }

  /** The `off` of a completion for byte `offset` of the area. */
  cqeOff(offset: number): bigint {
    return refillOff(this.areaId, offset);
  }

  /** The application reads `len` bytes of its area at `offset` (counted). */
  read(offset: number, len: number): Buffer {
    const b = this.view.read(offset, len);
    this.stats.areaReadBytes += len;
    return b;
  }

  /** The kernel's copy fallback writes `src` at byte `offset` of the area. */
  fallbackWrite(offset: number, src: Uint8Array): void {
    this.binding.dmabuf.dmaWrite(offset, src);
    this.stats.fallbackWriteBytes += src.length;
  }

  /** Unregisters: the queue gets an ordinary page pool back. */
  close(): void {
    if (this.dev.binding(this.binding.id) !== undefined) this.dev.unbind(this.binding.id);
  }
}

/** IORING_REGISTER_ZCRX_IFQ on `dev` (see the file comment for what is refused). */
export function registerZcrxIfq(dev: DevmemDevice, req: ZcrxIfqRequest): ZcrxIfq {
  if (req.cqe32 === false) throw new ZcrxRegisterError('EINVAL', 'zcrx: the ring needs 32-byte CQEs (IORING_SETUP_CQE32)');
  if (!Number.isInteger(req.rqEntries) || req.rqEntries < 1 || req.rqEntries > ZCRX_RQ_MAX_ENTRIES) {
    throw new ZcrxRegisterError('EINVAL', `zcrx: rq_entries ${req.rqEntries} is not in 1..${ZCRX_RQ_MAX_ENTRIES}`);
  }
  if (!Number.isInteger(req.areaBytes) || req.areaBytes < ZCRX_NIOV_BYTES || req.areaBytes % ZCRX_NIOV_BYTES !== 0) {
    throw new ZcrxRegisterError('EINVAL', `zcrx: area length ${req.areaBytes} is not a positive multiple of ${ZCRX_NIOV_BYTES}`);
  }
  let entries = 1;
  while (entries < req.rqEntries) entries *= 2;
  // The queue's checks (exists, header split on, no provider yet) are bind-rx's.
  const id = dev.bindRx({ queues: [req.queue], dmabuf: new Dmabuf(req.areaBytes) });
  return new ZcrxIfq(dev, dev.binding(id)!, req.queue, entries);
}
