/**
 * The fuzzer's only source of randomness: a small seeded generator
 * (sfc32, Chris Doty-Humphrey's "small fast counting" generator), so a run is
 * a pure function of its seed. Nothing in src/fuzz calls Math.random.
 *
 * Streams that must not disturb each other (one per target, the mutator's
 * choices vs. a harness's own knobs) are split off by label with `fork`, so
 * adding a draw in one place never changes the inputs of another target.
 */

/** 32-bit FNV-1a of a string: turns labels into seed material. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** A generator for `seed` (any integer; only its low 53 bits matter) and an optional label. */
  constructor(seed: number, label = '') {
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 0x1_0000_0000) >>> 0;
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
    return this.u32() / 0x1_0000_0000;
  }

  /** An integer in [0, n) (n ≥ 1; 0 when n ≤ 1). */
  below(n: number): number {
    if (n <= 1) return 0;
    if (n <= 0x1_0000_0000) return Math.floor(this.float() * n);
    return Math.floor((this.u32() * 0x1_0000_0000 + this.u32()) / 2 ** 64 * n);
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
    if (xs.length === 0) throw new RangeError('Rng.pick from an empty list');
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
  fork(label: string): Rng {
    return new Rng(this.u32() * 0x20_0000 + (this.u32() & 0x1f_ffff), label);
  }
}

/** The generator a target's run starts from: the same for the same seed and target, whatever else runs. */
export function targetRng(seed: number, target: string): Rng {
  return new Rng(seed, `target:${target}`);
}
