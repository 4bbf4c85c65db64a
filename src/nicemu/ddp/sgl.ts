/**
 * Scatter-gather lists for direct data placement: a read's destination as the
 * device sees it, one entry per memory page (docs/protocol-facts.md, "The DDP offload
 * series": max_ddp_sgl_len counts these entries; mlx5 took 128, i.e. 512 KiB
 * of page-aligned buffer).
 *
 * The host cuts a destination buffer at the 4 KiB page boundaries of its
 * memory, as blk_rq_map_sg would for a bio: a buffer that starts or ends
 * inside a page has a short first or last entry, so 128 KiB at a sub-page
 * offset is 33 entries, and 1 MiB is at least 256. ddplab has no physical
 * addresses; the start of the Buffer's ArrayBuffer stands for a page
 * boundary (large Node buffers are allocated page-aligned).
 */

/** The page size SGL entries are cut at. */
export const DDP_PAGE_BYTES = 4096;

/** Entries in order; each a view of destination memory. */
export type Sgl = readonly Buffer[];

/** Cuts `buf` at page boundaries of its memory. An empty buffer gives no entries. */
export function sglFromBuffer(buf: Buffer, pageBytes = DDP_PAGE_BYTES): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at < buf.length) {
    const inPage = (buf.byteOffset + at) % pageBytes;
    const n = Math.min(pageBytes - inPage, buf.length - at);
    out.push(buf.subarray(at, at + n));
    at += n;
  }
  return out;
}

/** Total bytes of an SGL. */
export function sglLength(sgl: Sgl): number {
  let n = 0;
  for (let i = 0; i < sgl.length; i++) n += sgl[i]!.length;
  return n;
}

/**
 * An SGL with its entries' starting offsets, so a data offset maps to an
 * entry in O(log n): what the device keeps per registered command.
 */
export class SglMap {
  readonly lengthBytes: number;
  private readonly starts: number[];
  /**
   * Per entry: the SGL offset where the run of entries that continue it in
   * memory (the next entry starts at the byte after it, in the same
   * memory) ends. A read's buffer cut into pages is one run.
   */
  private readonly runEnds: number[];
  /** Per entry: all of its memory, as one Buffer (shared by the entries of one memory). */
  private readonly memories: Buffer[];

  constructor(readonly entries: Sgl) {
    const n = entries.length;
    this.starts = new Array<number>(n);
    this.runEnds = new Array<number>(n);
    this.memories = new Array<Buffer>(n);
    let at = 0;
    let lastMemory: ArrayBufferLike | undefined;
    let whole: Buffer | undefined;
    for (let i = 0; i < n; i++) {
      const e = entries[i]!;
      this.starts[i] = at;
      at += e.length;
      if (e.buffer !== lastMemory) {
        lastMemory = e.buffer;
        whole = Buffer.from(e.buffer);
      }
      this.memories[i] = whole!;
    }
    this.lengthBytes = at;
    for (let i = n - 1; i >= 0; i--) {
      const e = entries[i]!;
      const next = i + 1 < n ? entries[i + 1]! : undefined;
      const continues = next !== undefined && next.buffer === e.buffer && next.byteOffset === e.byteOffset + e.length;
      this.runEnds[i] = continues ? this.runEnds[i + 1]! : this.starts[i]! + e.length;
    }
  }

  /** Index of the entry holding byte `off` (0 <= off < lengthBytes). */
  entryAt(off: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.starts[mid]! <= off) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Offset of entry `i` within the SGL. */
  entryStart(i: number): number {
    return this.starts[i]!;
  }

  /** SGL offset where the memory-contiguous run of entries from `i` on ends. */
  runEnd(i: number): number {
    return this.runEnds[i]!;
  }

  /** All of entry `i`'s memory (its bytes are at entries[i].byteOffset there). */
  memoryOf(i: number): Buffer {
    return this.memories[i]!;
  }
}
