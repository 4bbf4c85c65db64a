/**
 * The refill ring of io_uring zero-copy receive (Linux 6.15 zcrx; docs/protocol-facts.md,
 * "devmem TCP and io_uring zero-copy receive"): a single-producer single-consumer ring in memory shared by
 * the application and the NIC's refill path. The application hands buffers
 * back by writing entries and advancing the tail; the NIC, when its page pool
 * needs pages, reads entries from the head and advances it. No system call
 * per return, which is what the bench compares with SO_DEVMEM_DONTNEED.
 *
 * An entry is {off u64, len u32, pad u32}; `off` carries the area id in bits
 * 63:48 and the byte offset inside the area below. ddplab's area id is the
 * dmabuf binding id. Head and tail are free-running u32 counters; the ring
 * holds tail - head entries (mod 2^32), at most `capacity`.
 */

/** Bits of `off` below the area id. */
const AREA_SHIFT = 48n;
const OFFSET_MASK = (1n << AREA_SHIFT) - 1n;

export interface RefillEntry {
  /** Area id (bits 63:48) and byte offset in the area. */
  readonly off: bigint;
  readonly len: number;
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
}

export class RefillRing {
  readonly capacity: number;
  readonly stats: RefillRingStats = { produced: 0, consumed: 0, full: 0 };
  private readonly offs: BigUint64Array;
  private readonly lens: Uint32Array;
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
    this.tailIdx = (this.tailIdx + 1) >>> 0;
    this.stats.produced++;
    return true;
  }

  /** NIC side: reads the entry at the head and advances it; undefined when empty. */
  consume(): RefillEntry | undefined {
    if (this.pending === 0) return undefined;
    const i = this.headIdx & this.mask;
    const entry = { off: this.offs[i]!, len: this.lens[i]! };
    this.headIdx = (this.headIdx + 1) >>> 0;
    this.stats.consumed++;
    return entry;
  }
}
