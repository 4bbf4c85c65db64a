/**
 * How a devmem application gives frags back: one owner per socket that
 * counts who still uses each token (the transport while it parses a chunk,
 * the command whose data sits in the frag until it was consumed — in plain
 * devmem TCP one frag can carry the tail of one read and the head of the
 * next) and returns a token once nobody does, in batches:
 *
 *  - 'dontneed': SO_DEVMEM_DONTNEED with the pending tokens coalesced into
 *    {tokenStart, tokenCount} ranges, at most 128 ranges and 1024 tokens per
 *    call (a system call each, counted);
 *  - 'ring': one refill-ring entry per frag (io_uring zcrx), no system call;
 *    the NIC consumes them when it next needs pages.
 *
 * `holdUntilEmpty` is the pool-exhaustion experiment: the
 * application withholds every token until the NIC reports its page pool
 * empty (a frame dropped for want of pages), then gives everything back; it
 * does that `holdUntilEmpty` times and returns promptly afterwards. TCP
 * must carry the stream across the drops.
 */
import type { DmabufPagePool } from '../../nicemu/devmem/page-pool.js';
import { DEVMEM_DONTNEED_MAX_FRAGS, DEVMEM_DONTNEED_MAX_RANGES, type DevmemSocket, type DmabufDescriptor, type DmabufTokenRange } from './socket.js';

export type DevmemReturnPath = 'dontneed' | 'ring';

export interface TokenReturnOptions {
  readonly path: DevmemReturnPath;
  /** Pool-empty episodes to hold every token through (default 0: return promptly). */
  readonly holdUntilEmpty?: number;
  /** Runs the release after a pool-empty report (default setImmediate: the application reacts after the NIC's poll). */
  readonly defer?: (fn: () => void) => void;
}

export interface TokenReturnStats {
  /** Tokens whose last user let go, and those given back (by either path). */
  released: number;
  returned: number;
  /** Tokens waiting to be given back now, and the most there ever were. */
  pending: number;
  peakPending: number;
  /** Hold episodes that ended with the pool empty. */
  holdEpisodes: number;
}

interface TokenUse {
  readonly desc: DmabufDescriptor;
  refs: number;
}

export class DevmemTokenReturn {
  readonly stats: TokenReturnStats = { released: 0, returned: 0, pending: 0, peakPending: 0, holdEpisodes: 0 };
  private readonly uses = new Map<number, TokenUse>();
  private pending: DmabufDescriptor[] = [];
  private holding: boolean;
  private episodesLeft: number;
  private readonly defer: (fn: () => void) => void;

  constructor(
    private readonly sock: DevmemSocket,
    private readonly opts: TokenReturnOptions,
    pool?: DmabufPagePool,
  ) {
    this.episodesLeft = opts.holdUntilEmpty ?? 0;
    this.holding = this.episodesLeft > 0;
    this.defer = opts.defer ?? ((fn) => setImmediate(fn));
    pool?.onEmpty(() => this.onPoolEmpty());
  }

  get path(): DevmemReturnPath {
    return this.opts.path;
  }

  /** True while the application withholds tokens (an episode in progress). */
  get withholding(): boolean {
    return this.holding;
  }

  /** One more user of `desc`'s token. */
  hold(desc: DmabufDescriptor): void {
    const u = this.uses.get(desc.token);
    if (u !== undefined) u.refs++;
    else this.uses.set(desc.token, { desc, refs: 1 });
  }

  /** A user of `token` is done; the last one queues it for return. Unknown tokens are ignored. */
  release(token: number): void {
    const u = this.uses.get(token);
    if (u === undefined) return;
    if (--u.refs > 0) return;
    this.uses.delete(token);
    this.pending.push(u.desc);
    this.stats.released++;
    this.stats.pending = this.pending.length;
    if (this.pending.length > this.stats.peakPending) this.stats.peakPending = this.pending.length;
  }

  /** Gives pending tokens back (unless withholding). */
  flush(): void {
    if (this.holding || this.pending.length === 0) return;
    if (this.sock.isClosed) {
      // close() gave every token back already.
      this.pending = [];
      this.stats.pending = 0;
      return;
    }
    const todo = this.pending;
    this.pending = [];
    let kept: DmabufDescriptor[] = [];
    if (this.opts.path === 'ring') {
      const n = this.sock.returnViaRing(todo);
      this.stats.returned += n;
      // A full ring: the rest waits for the NIC to consume entries.
      if (n < todo.length) kept = todo.slice(n);
    } else {
      this.stats.returned += this.dontneedAll(todo);
    }
    this.pending = kept;
    this.stats.pending = kept.length;
  }

  /** Drops every use and gives everything back (the queue is gone). */
  releaseAll(): void {
    for (const token of [...this.uses.keys()]) {
      const u = this.uses.get(token)!;
      u.refs = 1;
      this.release(token);
    }
    this.holding = false;
    this.episodesLeft = 0;
    this.flush();
  }

  private dontneedAll(descs: DmabufDescriptor[]): number {
    const tokens = descs.map((d) => d.token).sort((a, b) => a - b);
    // Which issue of each token this application is giving back: the socket counts a mismatch as a stale return.
    const gens = new Map<number, number>();
    for (const d of descs) gens.set(d.token, d.gen);
    const held = (t: number): number | undefined => gens.get(t);
    let freed = 0;
    let i = 0;
    while (i < tokens.length) {
      const ranges: DmabufTokenRange[] = [];
      let count = 0;
      while (i < tokens.length && ranges.length < DEVMEM_DONTNEED_MAX_RANGES && count < DEVMEM_DONTNEED_MAX_FRAGS) {
        const start = tokens[i]!;
        let n = 1;
        while (i + n < tokens.length && tokens[i + n] === start + n && count + n < DEVMEM_DONTNEED_MAX_FRAGS) n++;
        ranges.push({ tokenStart: start, tokenCount: n });
        count += n;
        i += n;
      }
      freed += this.sock.dontneed(ranges, held);
    }
    return freed;
  }

  private onPoolEmpty(): void {
    if (!this.holding) return;
    this.holding = false;
    this.episodesLeft--;
    this.stats.holdEpisodes++;
    this.defer(() => {
      this.flush();
      if (this.episodesLeft > 0) this.holding = true;
    });
  }
}
