/**
 * Buffers for read data on their way to the socket, reused once the kernel
 * has them.
 *
 * A read's C2HData chunk used to be a fresh Buffer each time. A fresh
 * 128 KiB buffer is at glibc's mmap threshold: every one was new pages, and
 * their page faults were about a quarter of the target's busy time in a
 * read run. nvmet reads into pages it keeps; this pool does the same: the
 * connection gives a chunk back when the socket's write callback says the
 * kernel has copied it (the data is then no longer referenced by libuv),
 * and the next read of that size fills the same memory.
 *
 * Bounded: at most `maxBytes` of free buffers are kept; beyond that a
 * returned buffer is left to the garbage collector.
 */
export class C2hBufferPool {
  private readonly free = new Map<number, Buffer[]>();
  private freeBytes = 0;
  /** Buffers handed out that came from the free lists (for tests and stats). */
  reused = 0;

  constructor(private readonly maxBytes = 8 * 1024 * 1024) {}

  /** A buffer of exactly `n` bytes, contents undefined. */
  take(n: number): Buffer {
    const list = this.free.get(n);
    const b = list?.pop();
    if (b !== undefined) {
      this.freeBytes -= n;
      this.reused++;
      return b;
    }
    return Buffer.allocUnsafeSlow(n);
  }

  /** `b` (from take) is no longer referenced by anyone. */
  give(b: Buffer): void {
    if (this.freeBytes + b.length > this.maxBytes) return;
    let list = this.free.get(b.length);
    if (list === undefined) this.free.set(b.length, (list = []));
    list.push(b);
    this.freeBytes += b.length;
  }

  /** Bytes held in the free lists. */
  get heldBytes(): number {
    return this.freeBytes;
  }
}
