/**
 * Seeded pseudo-random generators: every random choice ddplab makes for a
 * run, a fuzzer, an impairment or a test comes from here, so a seed replays
 * it exactly, on every platform.
 *
 * Several small generators, each kept because a committed capture, a fuzz
 * corpus or a test expectation depends on its exact output for a seed:
 *
 * - `SplitMix32`: a Weyl sequence through the murmur3 finalizer. The target's
 *   completion reordering, the impairment stage's decision streams, and the
 *   seed expansion of `Xoshiro128ss`.
 * - `Xoshiro128ss` (xoshiro128**): the workload's I/O choices.
 * - `Sfc32` (small fast counting): the fuzzer, with labelled forks so one
 *   stream's draws never shift another's.
 * - `mulberry32`: test-side choices and synthetic captures, as a float stream.
 * - `xorshift32`: deterministic filler bytes and test lengths.
 *
 * None of them is for anything that must be unpredictable.
 */

const TWO_32 = 0x1_0000_0000;

/** murmur3's 32-bit finalizer: every input bit affects every output bit. */
export function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** SplitMix32: state += golden ratio, output = mix32(state). */
export class SplitMix32 {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** An independent stream from a seed and labels (e.g. one per queue). */
  static derive(seed: number, ...labels: number[]): SplitMix32 {
    let h = seed >>> 0;
    for (const l of labels) h = mix32((h ^ Math.imul(l >>> 0, 0x9e3779b1)) >>> 0);
    return new SplitMix32(h);
  }

  nextU32(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    return mix32(this.state);
  }

  /** Uniform integer in [0, n) for 0 < n ≤ 2^32 (rejection sampling, no modulo bias). */
  below(n: number): number {
    if (n <= 1) return 0;
    const limit = TWO_32 - (TWO_32 % n);
    for (;;) {
      const r = this.nextU32();
      if (r < limit) return r % n;
    }
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T>(a: T[]): void {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.below(i + 1);
      const t = a[i] as T;
      a[i] = a[j] as T;
      a[j] = t;
    }
  }
}

/** xoshiro128**, its state expanded from the seed by SplitMix32 so nearby seeds give unrelated streams. */
export class Xoshiro128ss {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    const s = new SplitMix32(seed);
    this.a = s.nextU32();
    this.b = s.nextU32();
    this.c = s.nextU32();
    this.d = s.nextU32() | 1;
  }

  u32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / TWO_32;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** 32-bit FNV-1a of a string: turns labels into seed material. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** sfc32 (Chris Doty-Humphrey's small fast counting generator), seeded by a number and a label. */
export class Sfc32 {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** A generator for `seed` (any integer; only its low 53 bits matter) and an optional label. */
  constructor(seed: number, label = '') {
    const lo = seed >>> 0;
    const hi = Math.floor(seed / TWO_32) >>> 0;
    this.a = lo ^ 0x9e3779b9;
    this.b = hi ^ 0x243f6a88;
    this.c = fnv1a(label) ^ 0xb7e15162;
    this.d = 1;
    // Mix the state before the first output is used (sfc32's own recommendation: 12+ rounds).
    for (let i = 0; i < 16; i++) this.u32();
  }

  /** The next 32 random bits as an unsigned integer. */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A float in [0, 1). */
  float(): number {
    return this.u32() / TWO_32;
  }

  /** An integer in [0, n) (n ≥ 1; 0 when n ≤ 1). */
  below(n: number): number {
    if (n <= 1) return 0;
    if (n <= TWO_32) return Math.floor(this.float() * n);
    return Math.floor(((this.u32() * TWO_32 + this.u32()) / 2 ** 64) * n);
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.below(hi - lo + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new RangeError('Sfc32.pick from an empty list');
    return xs[this.below(xs.length)]!;
  }

  /**
   * A small integer biased toward 0: each further unit half as likely. What
   * havoc-style fuzzers use for "how many mutations" and "how far".
   */
  geometric(max: number): number {
    let n = 0;
    while (n < max && this.chance(0.5)) n++;
    return n;
  }

  /** A new, independent generator derived from this one's next output and a label. */
  fork(label: string): Sfc32 {
    return new Sfc32(this.u32() * 0x20_0000 + (this.u32() & 0x1f_ffff), label);
  }
}

/** mulberry32 as a stream of floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / TWO_32;
  };
}

/** One xorshift32 step (13, 17, 5) from a non-zero state. */
export function xorshift32Step(x: number): number {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  return x >>> 0;
}

/** xorshift32 as a stream of u32 (a zero seed starts from 1). */
export function xorshift32(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => (x = xorshift32Step(x));
}

/** `len` bytes, each the low byte of the next xorshift32 state from `state` (non-zero). */
export function xorshift32Bytes(len: number, state: number): Buffer {
  const b = Buffer.alloc(len);
  let x = state >>> 0;
  for (let i = 0; i < len; i++) {
    x = xorshift32Step(x);
    b[i] = x & 0xff;
  }
  return b;
}
