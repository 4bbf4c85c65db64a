/**
 * IORING_OP_RECV_ZC on one of ddplab's TCP sockets whose flow the NIC
 * steers to a queue with a zcrx interface queue (nicemu/devmem/zcrx-ifq.ts;
 * docs/devmem.md, "io_uring zero-copy receive").
 *
 * The request is armed once (`arm`: multishot with no length, or a length
 * limit) and runs whenever the socket has data (`issue`, what the kernel
 * does when the socket wakes it). It walks the in-order receive queue:
 *  - a frag in a niov of this ifq's area becomes one completion, res = its
 *    length, `flags` with IORING_CQE_F_MORE, and the 32-byte CQE's
 *    `io_uring_zcrx_cqe.off` = area id << 48 | byte offset in the area; the
 *    niov gains a user reference;
 *  - anything else — bytes in host memory (the skb's linear part, or frags
 *    from an ordinary page) — goes through the copy fallback: one fresh niov
 *    from the area's free list per 4 KiB piece, the bytes copied into it
 *    from offset 0, one completion each (counted: `copyFallback*`);
 *  - a niov of another memory provider is EFAULT.
 * When the fallback finds the free list empty (ENOMEM), or the completion
 * queue is full (ENOSPC), or EFAULT: if the call consumed nothing, the
 * request completes with res = -errno and no F_MORE (a multishot request
 * ends; the bytes stay queued; the application returns buffers and arms
 * again), else it keeps what it consumed and the error comes at the next
 * run. A length-limited request completes with res 0 once it has its
 * length; the peer's FIN with nothing left completes it with res 0 too.
 *
 * The application gives buffers back with `refill(cqe)`: an entry {off,
 * len} on the refill ring, the tail advanced; the NIC takes it when its page
 * pool next needs pages.
 *
 * Like a devmem socket this socket is its flow's holder for the page pool
 * (the chunks its TCP queues still point into are not recycled).
 */
import type { DevmemDevice } from '../../nicemu/devmem/device.js';
import type { FlowKey } from '../../nicemu/flow-table.js';
import type { HeaderSplitEngine } from '../../nicemu/devmem/header-split.js';
import { DMABUF_CHUNK_BYTES, type DmabufHolder } from '../../nicemu/devmem/page-pool.js';
import { ZCRX_NIOV_BYTES, type ZcrxIfq } from '../../nicemu/devmem/zcrx-ifq.js';
import { newRxChunk, type RxChunk } from '../net/tcp-rx-queue.js';
import type { TcpSocket } from '../net/tcp-socket.js';
import { DdplabError } from '../../base/errors.js';

/** IORING_CQE_F_MORE: the multishot request goes on after this completion. */
export const IORING_CQE_F_MORE = 1 << 1;

export const ZCRX_ERRNO = { EFAULT: 14, ENOMEM: 12, ENOSPC: 28, EINVAL: 22 } as const;
export type ZcrxErrno = keyof typeof ZCRX_ERRNO;

export class ZcrxError extends DdplabError<'EINVAL' | 'EBADF'> {
  override name = 'ZcrxError';
}

/** A 32-byte CQE of a RECV_ZC request: res, flags, and io_uring_zcrx_cqe.off (0 on a final CQE). */
export interface ZcrxCqe {
  readonly res: number;
  readonly flags: number;
  readonly off: bigint;
}

/** The ring's completion queue, as far as RECV_ZC goes: `capacity` CQEs until the application reaps them. */
export class ZcrxCompletionQueue {
  private entries: ZcrxCqe[] = [];
  /** Final CQEs posted while full (the kernel's overflow list). */
  overflowed = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`CQ capacity ${capacity} is not a positive integer`);
  }

  get length(): number {
    return this.entries.length;
  }

  /** Posts a data CQE; false when the queue is full. */
  post(cqe: ZcrxCqe): boolean {
    if (this.entries.length >= this.capacity) return false;
    this.entries.push(cqe);
    return true;
  }

  /** Posts a final CQE: it is never lost (over capacity it is an overflow entry). */
  postFinal(cqe: ZcrxCqe): void {
    if (this.entries.length >= this.capacity) this.overflowed++;
    this.entries.push(cqe);
  }

  /** The application reaps every CQE. */
  reap(): ZcrxCqe[] {
    const out = this.entries;
    this.entries = [];
    return out;
  }
}

export interface RecvZcStats {
  /** Runs of the request (issue calls that found it armed). */
  runs: number;
  /** Data CQEs, and the bytes they carried: zero-copy (the NIC's niovs) and copy fallback. */
  cqes: number;
  zcBytes: number;
  zcCqes: number;
  copyFallbackBytes: number;
  copyFallbackCqes: number;
  /** Of the fallback bytes: from the NIC's header buffers (the skb's linear part), and from ordinary host frags. */
  copyFallbackLinearBytes: number;
  copyFallbackFragBytes: number;
  /** Final CQEs, by res: 0 (length reached or EOF) and each errno. */
  finalZero: number;
  ENOMEM: number;
  ENOSPC: number;
  EFAULT: number;
  /** Runs that hit an error after consuming something (the error waits for the next run). */
  deferredErrors: number;
  /** Refill entries written, and writes refused because the ring was full. */
  refillEntries: number;
  refillFull: number;
}

export function newRecvZcStats(): RecvZcStats {
  return {
    runs: 0,
    cqes: 0,
    zcBytes: 0,
    zcCqes: 0,
    copyFallbackBytes: 0,
    copyFallbackCqes: 0,
    copyFallbackLinearBytes: 0,
    copyFallbackFragBytes: 0,
    finalZero: 0,
    ENOMEM: 0,
    ENOSPC: 0,
    EFAULT: 0,
    deferredErrors: 0,
    refillEntries: 0,
    refillFull: 0,
  };
}

/** sqe->len 0: no limit (the kernel stores UINT_MAX). */
const UNLIMITED = -1;

export class ZcrxSocket implements DmabufHolder {
  readonly stats: RecvZcStats;
  private readonly engine: HeaderSplitEngine | undefined;
  private readonly scratch: RxChunk = newRxChunk();
  private remaining = 0;
  private armedReq = false;
  private closed = false;

  constructor(
    readonly socket: TcpSocket,
    private readonly dev: DevmemDevice,
    private readonly key: FlowKey,
    readonly ifq: ZcrxIfq,
    readonly cq: ZcrxCompletionQueue,
    stats?: RecvZcStats,
  ) {
    this.stats = stats ?? newRecvZcStats();
    this.engine = dev.engine(key);
    ifq.pool.addHolder(this);
    this.engine?.attach();
  }

  get armed(): boolean {
    return this.armedReq;
  }

  /** Submits RECV_ZC: `len` 0 is multishot without limit, else a limit in bytes. EINVAL while one is armed. */
  arm(len = 0): void {
    if (this.closed) throw new ZcrxError('EBADF', 'RECV_ZC on a closed socket');
    if (!Number.isInteger(len) || len < 0 || len >= 0xffff_ffff) throw new ZcrxError('EINVAL', `RECV_ZC: len ${len} is not in 0..2^32-2`);
    if (this.armedReq) throw new ZcrxError('EINVAL', 'RECV_ZC: a request is already armed on this socket');
    this.remaining = len === 0 ? UNLIMITED : len;
    this.armedReq = true;
  }

  /** Runs the armed request over what is queued (see the file comment). Returns the bytes it consumed. */
  issue(): number {
    if (!this.armedReq || this.closed) return 0;
    const st = this.stats;
    st.runs++;
    const avail = this.socket.readableLength;
    const want = this.remaining === UNLIMITED ? avail : Math.min(avail, this.remaining);
    let consumed = 0;
    let err: ZcrxErrno | undefined;
    if (want > 0) {
      const chunk = this.socket.peekFrags(want, this.scratch, 0, false);
      const frags = chunk.frags;
      const pool = this.ifq.pool;
      for (let i = 0; i < frags.length && err === undefined; i++) {
        const f = frags[i]!;
        if (f.kind === 'dmabuf') {
          if (f.dmabufId !== this.ifq.binding.id) {
            err = 'EFAULT';
            break;
          }
          if (!this.cq.post({ res: f.size, flags: IORING_CQE_F_MORE, off: this.ifq.cqeOff(f.offset) })) {
            err = 'ENOSPC';
            break;
          }
          pool.getUserRef(f.offset);
          consumed += f.size;
          st.cqes++;
          st.zcCqes++;
          st.zcBytes += f.size;
          continue;
        }
        const linear = this.dev.isLinear(f.buf);
        for (let at = 0; at < f.buf.length; ) {
          const n = Math.min(ZCRX_NIOV_BYTES, f.buf.length - at);
          const c = pool.takeFreeChunk();
          if (c < 0) {
            err = 'ENOMEM';
            break;
          }
          const off = c * DMABUF_CHUNK_BYTES;
          this.ifq.fallbackWrite(off, f.buf.subarray(at, at + n));
          if (!this.cq.post({ res: n, flags: IORING_CQE_F_MORE, off: this.ifq.cqeOff(off) })) {
            pool.putUserRef(off);
            err = 'ENOSPC';
            break;
          }
          at += n;
          consumed += n;
          st.cqes++;
          st.copyFallbackCqes++;
          st.copyFallbackBytes += n;
          if (linear) st.copyFallbackLinearBytes += n;
          else st.copyFallbackFragBytes += n;
        }
      }
    }
    if (consumed > 0) {
      this.socket.consume(consumed);
      // The frags left the queue: their chunks now count through user references.
      this.ifq.pool.noteReleased();
      if (this.remaining !== UNLIMITED) this.remaining -= consumed;
      if (err !== undefined) st.deferredErrors++;
      if (this.remaining === 0) this.finish(0);
      return consumed;
    }
    if (err !== undefined) {
      if (err !== 'EINVAL') st[err]++;
      this.finish(-ZCRX_ERRNO[err]);
    } else if (this.socket.readEnded && this.socket.readableLength === 0) {
      this.finish(0);
    }
    return 0;
  }

  /** Gives a completion's buffer back: one refill entry {off, len}. False when the ring is full (retry later). */
  refill(cqe: ZcrxCqe): boolean {
    if (!this.ifq.refillRing.produce({ off: cqe.off, len: cqe.res })) {
      this.stats.refillFull++;
      return false;
    }
    this.stats.refillEntries++;
    return true;
  }

  /** DmabufHolder: the chunks this socket's receive and out-of-order queues point into. */
  markHeld(mark: (chunk: number) => void): void {
    const id = this.ifq.binding.id;
    this.socket.forEachQueuedFrag((f) => {
      if (f.kind !== 'dmabuf' || f.dmabufId !== id || f.size === 0) return;
      const last = Math.floor((f.offset + f.size - 1) / DMABUF_CHUNK_BYTES);
      for (let c = Math.floor(f.offset / DMABUF_CHUNK_BYTES); c <= last; c++) mark(c);
    });
  }

  /** Closes the socket (orderly); the flow is no longer split into the area. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.armedReq = false;
    this.ifq.pool.removeHolder(this);
    this.engine?.detach();
    this.dev.releaseFlow(this.key);
    this.socket.close();
  }

  private finish(res: number): void {
    this.armedReq = false;
    if (res === 0) this.stats.finalZero++;
    this.cq.postFinal({ res, flags: 0, off: 0n });
  }
}
