/**
 * A devmem socket's tokens as mainline allocates them (tcp_recvmsg_dmabuf
 * reserving ids in sk_user_frags, an xarray made with XA_FLAGS_ALLOC1 and
 * allocated with xa_limit_31b): the lowest free number from 1 up to
 * 2^31 - 1, a number given back by SO_DEVMEM_DONTNEED free for the very
 * next frag. So a token an application returns twice, or returns after the
 * number was issued again, frees whatever frag holds the number now — the
 * kernel cannot tell. ddplab stamps each issue with a generation, so its own
 * model can (socket.ts counts `staleTokenReturns`).
 */

/** Tokens live in [1, TOKEN_MAX]. */
export const TOKEN_MAX = 0x7fff_ffff;

export class TokenSpaceFull extends Error {
  constructor() {
    super(`every token number 1..${TOKEN_MAX} is outstanding`);
    this.name = 'TokenSpaceFull';
  }
}

export class TokenTable<T> {
  private readonly live = new Map<number, T>();
  /** Freed numbers below `fresh`, as a binary min-heap. */
  private readonly heap: number[] = [];
  private fresh = 1;

  get size(): number {
    return this.live.size;
  }

  get(token: number): T | undefined {
    return this.live.get(token);
  }

  has(token: number): boolean {
    return this.live.has(token);
  }

  keys(): number[] {
    return [...this.live.keys()];
  }

  /** The lowest free number, now holding `v`. */
  alloc(v: T): number {
    let t: number;
    if (this.heap.length > 0) t = this.pop();
    else {
      if (this.fresh > TOKEN_MAX) throw new TokenSpaceFull();
      t = this.fresh++;
    }
    this.live.set(t, v);
    return t;
  }

  /** Frees `token`; returns what it held, or undefined when it was not live. */
  free(token: number): T | undefined {
    const v = this.live.get(token);
    if (v === undefined) return undefined;
    this.live.delete(token);
    this.push(token);
    return v;
  }

  private push(n: number): void {
    this.heap.push(n);
    this.up(this.heap.length - 1);
  }

  private pop(): number {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      this.down(0);
    }
    return top;
  }

  private up(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]! <= h[i]!) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && h[l]! < h[m]!) m = l;
      if (r < h.length && h[r]! < h[m]!) m = r;
      if (m === i) return;
      [h[m], h[i]] = [h[i]!, h[m]!];
      i = m;
    }
  }
}
