/**
 * The page pool of a dmabuf binding: the dmabuf carved into 4 KiB chunks
 * (Linux's net_iov, one per PAGE_SIZE of the dmabuf) that the NIC fills with
 * received payload, like the page_pool a devmem rx queue allocates from
 * (docs/protocol-facts.md, "devmem TCP and io_uring zero-copy receive"; docs/design.md, "devmem socket API").
 *
 * Allocation packs payloads the way page_pool_alloc_frag does: the NIC keeps
 * a current chunk and cuts frags from it; a payload that does not fit
 * continues in fresh chunks, and no frag ever crosses a chunk boundary. A
 * payload gets all its room or none: when the free list cannot cover it, the
 * allocation fails, is counted (`alloc-empty`, page_pool's name) and the
 * NIC drops the frame — the application holding every page shows up as
 * drops and TCP backoff, never as lost data.
 *
 * When is a chunk free again? In Linux a net_iov counts its references: the
 * skbs whose frags point into it and, once recvmsg handed a frag out, one
 * user reference per token until SO_DEVMEM_DONTNEED (or a refill-ring entry)
 * gives it back. User references are exact here too (`getUserRef` /
 * `putUserRef`). Skb references are not: JavaScript has no skb destructor,
 * and a TCP socket drops duplicate or out-of-window segments without
 * telling anyone. So the pool finds them the way a tracing collector does:
 * when its free list runs short it asks every
 * holder (the devmem socket of each flow on the binding) to mark the chunks
 * its receive and out-of-order queues still reference, and recycles every
 * handed-out chunk that nobody marked, has no user reference and is not the
 * NIC's current chunk. A scan runs only when something could have been
 * released since the last one, so a pool the application keeps empty costs
 * one scan, not one per dropped frame.
 */
import { splitRefillOff, type RefillRing } from './refill-ring.js';

/** Linux's PAGE_SIZE: one net_iov of the dmabuf. */
export const DMABUF_CHUNK_BYTES = 4096;

/** Whoever may still reference chunks through skb frags (a devmem socket's queues). */
export interface DmabufHolder {
  /** Calls `mark` with every chunk index this holder's queued frags point into. */
  markHeld(mark: (chunk: number) => void): void;
}

/** A piece of dmabuf the NIC may write one frag into. */
export interface CarvedFrag {
  /** Byte offset in the dmabuf. */
  offset: number;
  size: number;
}

/** page_pool-like counters of one pool (netlink page-pool-stats names where they exist). */
export interface PagePoolStats {
  /** Chunks in the pool. */
  pages: number;
  /** Chunks on the free list now. */
  free: number;
  /** Chunks taken off the free list. */
  alloc: number;
  /** Allocations that found too few free chunks (the frame was dropped). */
  'alloc-empty': number;
  /** Chunks put back on the free list. */
  recycled: number;
  /** Scans of holders and user references. */
  'reclaim-scans': number;
  /** User references (tokens and ring entries not yet consumed) outstanding now. */
  'user-refs': number;
  /** User references taken (frags handed to the application) and given back. */
  'user-refs-taken': number;
  'user-refs-put': number;
  /** Refill-ring entries consumed, and those that named no outstanding frag (ignored). */
  'ring-consumed': number;
  'ring-invalid': number;
}

export class DmabufPagePool {
  readonly chunks: number;
  readonly stats: PagePoolStats;
  private readonly freeList: Int32Array;
  private freeCount: number;
  private readonly onFreeList: Uint8Array;
  private readonly userRefs: Uint32Array;
  private readonly mark: Uint8Array;
  private readonly holders = new Set<DmabufHolder>();
  private readonly emptyListeners: (() => void)[] = [];
  private ring: RefillRing | undefined;
  private ringAreaId = -1;
  /** The chunk the NIC cuts frags from, and how far it is used; -1 when none. */
  private fillChunk = -1;
  private fillOff = 0;
  /** Something may have been released since the last scan. */
  private dirty = false;
  private destroyed = false;
  /** Unbound: allocates nothing, but frags still out come back (see `retire`). */
  private retired = false;
  private readonly releasedListeners: (() => void)[] = [];

  constructor(sizeBytes: number) {
    if (!Number.isInteger(sizeBytes) || sizeBytes < DMABUF_CHUNK_BYTES || sizeBytes % DMABUF_CHUNK_BYTES !== 0) {
      throw new RangeError(`a page pool needs a positive multiple of ${DMABUF_CHUNK_BYTES} bytes, got ${sizeBytes}`);
    }
    const n = sizeBytes / DMABUF_CHUNK_BYTES;
    this.chunks = n;
    this.freeList = new Int32Array(n);
    // Pop order hands out chunk 0 first.
    for (let i = 0; i < n; i++) this.freeList[i] = n - 1 - i;
    this.freeCount = n;
    this.onFreeList = new Uint8Array(n).fill(1);
    this.userRefs = new Uint32Array(n);
    this.mark = new Uint8Array(n);
    this.stats = {
      pages: n,
      free: n,
      alloc: 0,
      'alloc-empty': 0,
      recycled: 0,
      'reclaim-scans': 0,
      'user-refs': 0,
      'user-refs-taken': 0,
      'user-refs-put': 0,
      'ring-consumed': 0,
      'ring-invalid': 0,
    };
  }

  get freeChunks(): number {
    return this.freeCount;
  }

  /** The NIC may allocate from it (neither retired nor destroyed). */
  get live(): boolean {
    return !this.destroyed && !this.retired;
  }

  /** Every chunk is back on the free list and no user reference is out (a retired pool is then released). */
  get drained(): boolean {
    return this.destroyed || (this.freeCount === this.chunks && this.stats['user-refs'] === 0);
  }

  /**
   * Unbind, as mainline does it: the queue gets an ordinary page pool, this
   * one allocates nothing more, and the frags sockets still hold (queued
   * skbs, tokens) keep it alive; each comes back as it is consumed, dropped
   * or returned, and `onReleased` fires when the last one did.
   */
  retire(): void {
    if (this.retired || this.destroyed) return;
    this.retired = true;
    this.fillChunk = -1;
    this.dirty = true;
    this.reclaim();
  }

  /** Called once a retired pool has every chunk back. */
  onReleased(cb: () => void): void {
    this.releasedListeners.push(cb);
  }

  /** The refill ring whose entries (area `areaId`) give user references back. */
  attachRing(ring: RefillRing, areaId: number): void {
    this.ring = ring;
    this.ringAreaId = areaId;
  }

  addHolder(h: DmabufHolder): void {
    this.holders.add(h);
  }

  removeHolder(h: DmabufHolder): void {
    if (this.holders.delete(h)) {
      this.dirty = true;
      if (this.retired) this.reclaim();
    }
  }

  /** Called after each allocation that failed for want of chunks. */
  onEmpty(cb: () => void): void {
    this.emptyListeners.push(cb);
  }

  /** A holder consumed queued frags (they became tokens or were read): worth a scan. */
  noteReleased(): void {
    this.dirty = true;
    if (this.retired) this.reclaim();
  }

  /**
   * Room for `len` payload bytes, as frags that never cross a chunk: the
   * rest of the current chunk first, then fresh chunks. Appends them to
   * `out` and returns true, or returns false (nothing taken) when the pool
   * cannot cover all of `len`.
   */
  carve(len: number, out: CarvedFrag[]): boolean {
    if (this.destroyed || this.retired || len <= 0) return false;
    const room = this.fillChunk >= 0 ? DMABUF_CHUNK_BYTES - this.fillOff : 0;
    const need = len <= room ? 0 : Math.ceil((len - room) / DMABUF_CHUNK_BYTES);
    // Reaching for fresh chunks, the NIC also takes refill-ring entries back
    // (zcrx refills its page_pool cache from the ring), so the ring drains
    // at the rate pages are used, not only when the pool runs dry.
    if (need > 0) this.refill();
    if (need > this.freeCount) {
      if (this.dirty) this.reclaim();
      if (need > this.freeCount) {
        this.stats['alloc-empty']++;
        for (let i = 0; i < this.emptyListeners.length; i++) this.emptyListeners[i]!();
        return false;
      }
    }
    let left = len;
    if (room > 0) {
      const n = Math.min(room, left);
      out.push({ offset: this.fillChunk * DMABUF_CHUNK_BYTES + this.fillOff, size: n });
      this.fillOff += n;
      left -= n;
    }
    while (left > 0) {
      const c = this.take();
      const n = Math.min(DMABUF_CHUNK_BYTES, left);
      out.push({ offset: c * DMABUF_CHUNK_BYTES, size: n });
      this.fillChunk = c;
      this.fillOff = n;
      left -= n;
    }
    if (this.fillOff >= DMABUF_CHUNK_BYTES) this.fillChunk = -1;
    // The frags go to TCP, which may drop them (duplicates): a later scan can find them unreferenced.
    this.dirty = true;
    return true;
  }

  /**
   * One whole chunk off the free list for io_uring zcrx's copy fallback (a
   * fresh niov per copy, written from offset 0), with one user reference
   * taken; -1 when the free list is empty. It neither reads the refill ring
   * nor touches the NIC's current chunk (the kernel's fallback takes only
   * from the area's free list); chunks nothing references any more are
   * swept first, as they would already be free.
   */
  takeFreeChunk(): number {
    if (this.destroyed) return -1;
    if (this.freeCount === 0 && this.dirty) this.reclaim();
    if (this.freeCount === 0) return -1;
    const c = this.take();
    this.getUserRef(c * DMABUF_CHUNK_BYTES);
    return c;
  }

  /** A frag at `offset` was handed to the application (a token, or a zcrx completion). */
  getUserRef(offset: number): void {
    const c = Math.floor(offset / DMABUF_CHUNK_BYTES);
    if (this.destroyed || c < 0 || c >= this.chunks) return;
    this.userRefs[c]!++;
    this.stats['user-refs']++;
    this.stats['user-refs-taken']++;
  }

  /** The application gave back a frag at `offset`. False when the chunk had no user reference (ignored). */
  putUserRef(offset: number): boolean {
    const c = Math.floor(offset / DMABUF_CHUNK_BYTES);
    if (this.destroyed || c < 0 || c >= this.chunks || this.userRefs[c] === 0) return false;
    this.userRefs[c]!--;
    this.stats['user-refs']--;
    this.stats['user-refs-put']++;
    this.dirty = true;
    // A retired pool has no allocations to trigger scans: look now.
    if (this.retired && this.userRefs[c] === 0) this.reclaim();
    return true;
  }

  /** NIC refill path: consumes every refill-ring entry, each giving one user reference back. */
  refill(): void {
    const ring = this.ring;
    if (ring === undefined) return;
    for (let e = ring.consume(); e !== undefined; e = ring.consume()) {
      this.stats['ring-consumed']++;
      const { areaId, offset } = splitRefillOff(e.off);
      const inside = areaId === this.ringAreaId && e.len > 0 && offset + e.len <= this.chunks * DMABUF_CHUNK_BYTES;
      // An entry for a frag that is not the application's to return is ignored, as zcrx ignores it.
      if (!inside || Math.floor(offset / DMABUF_CHUNK_BYTES) !== Math.floor((offset + e.len - 1) / DMABUF_CHUNK_BYTES) || !this.putUserRef(offset)) {
        this.stats['ring-invalid']++;
      }
    }
  }

  /** Recycles every handed-out chunk that nothing references any more (see the file comment). Returns how many. */
  reclaim(): number {
    if (this.destroyed) return 0;
    this.dirty = false;
    this.stats['reclaim-scans']++;
    const mark = this.mark;
    mark.fill(0);
    const setMark = (c: number): void => {
      if (c >= 0 && c < this.chunks) mark[c] = 1;
    };
    for (const h of this.holders) h.markHeld(setMark);
    let n = 0;
    for (let c = 0; c < this.chunks; c++) {
      if (this.onFreeList[c] === 1 || this.userRefs[c] !== 0 || mark[c] === 1 || c === this.fillChunk) continue;
      this.give(c);
      n++;
    }
    this.stats.recycled += n;
    if (this.retired && this.drained) {
      const ls = this.releasedListeners.splice(0);
      for (const cb of ls) cb();
    }
    return n;
  }

  /** Tear-down without waiting for holders: every chunk back, every user reference dropped; the pool allocates nothing any more. */
  destroy(): void {
    if (this.destroyed) return;
    for (let c = 0; c < this.chunks; c++) {
      if (this.onFreeList[c] === 0) this.give(c);
      this.userRefs[c] = 0;
    }
    this.stats['user-refs'] = 0;
    this.fillChunk = -1;
    this.holders.clear();
    this.destroyed = true;
  }

  private take(): number {
    const c = this.freeList[--this.freeCount]!;
    this.onFreeList[c] = 0;
    this.stats.alloc++;
    this.stats.free = this.freeCount;
    return c;
  }

  private give(c: number): void {
    this.onFreeList[c] = 1;
    this.freeList[this.freeCount++] = c;
    this.stats.free = this.freeCount;
  }
}
