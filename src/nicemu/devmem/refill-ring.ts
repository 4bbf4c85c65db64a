/**
 * The refill ring of io_uring zero-copy receive (Linux 6.15 zcrx; docs/protocol-facts.md,
 * "devmem TCP and io_uring zero-copy receive"): a single-producer single-consumer ring in memory shared by
 * the application and the NIC's refill path. The application hands buffers
 * back by writing entries and advancing the tail; the NIC, when its page pool
 * needs pages, reads entries from the head and advances it. No system call
 * per return, which is what the bench compares with SO_DEVMEM_DONTNEED.
 *
 * An entry is {off u64, len u32, pad u32}; `off` carries the area id in bits
 * 63:48 (IORING_ZCRX_AREA_SHIFT) and the byte offset inside the area below.
 * For a dmabuf binding ddplab's area id is the binding id; an io_uring zcrx
 * area (zcrx-ifq.ts) has id 0, as Linux's one area per interface queue has.
 * Head and tail are free-running u32 counters; the ring holds tail - head
 * entries (mod 2^32), at most `capacity`.
 *
 * An entry whose pad is not zero is consumed and skipped, as the kernel's
 * refill skips it (`skippedPad`); the NIC never sees it.
 */

/** IORING_ZCRX_AREA_SHIFT: bits of `off` below the area id. */
export const ZCRX_AREA_SHIFT = 48;
const AREA_SHIFT = BigInt(ZCRX_AREA_SHIFT);
const OFFSET_MASK = (1n << AREA_SHIFT) - 1n;

export interface RefillEntry {
  /** Area id (bits 63:48) and byte offset in the area. */
  readonly off: bigint;
  readonly len: number;
  /** `__pad`: must be zero (default 0). */
  readonly pad?: number;
}

/** The `off` field for byte `offset` of area `areaId`. */
export function refillOff(areaId: number, offset: number): bigint {
  return (BigInt(areaId) << AREA_SHIFT) | BigInt(offset);
}

/** Area id and byte offset of an entry's `off`. */
export function splitRefillOff(off: bigint): { readonly areaId: number; readonly offset: number } {
  return { areaId: Number(off >> AREA_SHIFT), offset: Number(off & OFFSET_MASK) };
}

export interface RefillRingStats {
  /** Entries the application wrote. */
  produced: number;
  /** Entries the NIC read. */
  consumed: number;
  /** Writes refused because the ring was full (the application must retry later). */
  full: number;
  /** Entries the NIC consumed and skipped because their pad was not zero. */
  skippedPad: number;
}

export class RefillRing {
  readonly capacity: number;
  readonly stats: RefillRingStats = { produced: 0, consumed: 0, full: 0, skippedPad: 0 };
  private readonly offs: BigUint64Array;
  private readonly lens: Uint32Array;
  private readonly pads: Uint32Array;
  private readonly mask: number;
  /** Advanced by the NIC (consumer). */
  private headIdx = 0;
  /** Advanced by the application (producer). */
  private tailIdx = 0;

  /** `capacity` entries, a power of two (zcrx rounds the ring size the same way). */
  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1 << 20 || (capacity & (capacity - 1)) !== 0) {
      throw new RangeError(`refill ring capacity ${capacity} is not a power of two in 1..2^20`);
    }
    this.capacity = capacity;
    this.mask = capacity - 1;
    this.offs = new BigUint64Array(capacity);
    this.lens = new Uint32Array(capacity);
    this.pads = new Uint32Array(capacity);
  }

  get head(): number {
    return this.headIdx;
  }

  get tail(): number {
    return this.tailIdx;
  }

  /** Entries written and not yet consumed. */
  get pending(): number {
    return (this.tailIdx - this.headIdx) >>> 0;
  }

  /** Application side: writes one entry at the tail and advances it. False (nothing written) when full. */
  produce(entry: RefillEntry): boolean {
    if (this.pending >= this.capacity) {
      this.stats.full++;
      return false;
    }
    const i = this.tailIdx & this.mask;
    this.offs[i] = entry.off;
    this.lens[i] = entry.len >>> 0;
    this.pads[i] = (entry.pad ?? 0) >>> 0;
    this.tailIdx = (this.tailIdx + 1) >>> 0;
    this.stats.produced++;
    return true;
  }

  /** NIC side: reads the entry at the head and advances it (skipping entries with a pad); undefined when empty. */
  consume(): RefillEntry | undefined {
    while (this.pending > 0) {
      const i = this.headIdx & this.mask;
      this.headIdx = (this.headIdx + 1) >>> 0;
      this.stats.consumed++;
      if (this.pads[i] !== 0) {
        this.stats.skippedPad++;
        continue;
      }
      return { off: this.offs[i]!, len: this.lens[i]! };
    }
    return undefined;
  }
}
