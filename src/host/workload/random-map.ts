/**
 * fio's random map, without the map: a seeded permutation of the region's
 * block slots, so that one pass of a random job touches every slot once (fio
 * keeps a bitmap of used blocks and picks only unused ones; a permutation
 * gives the same "each block once" in constant memory).
 *
 * The permutation is a 4-round Feistel network on the smallest even number
 * of bits that holds `n`, with cycle walking: a value at or above `n` is
 * encrypted again until it falls below `n` (a bijection on [0, n)).
 */
import { Xoshiro128ss } from '../../base/seeded-rng.js';

const ROUNDS = 4;

export class RandomSlotOrder {
  private readonly halfBits: number;
  private readonly mask: number;
  private readonly keys: number[] = [];
  private next = 0;

  constructor(
    readonly n: number,
    rng: Xoshiro128ss,
  ) {
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`slot count ${n} is not a positive integer`);
    let bits = 2;
    while (2 ** bits < n) bits += 2;
    this.halfBits = bits / 2;
    this.mask = 2 ** this.halfBits - 1;
    for (let r = 0; r < ROUNDS; r++) this.keys.push(rng.u32());
  }

  /** The i-th slot of the permutation (0 ≤ i < n). */
  at(i: number): number {
    let v = this.encrypt(i);
    while (v >= this.n) v = this.encrypt(v);
    return v;
  }

  /** The next slot of this pass, or undefined once every slot was given. */
  take(): number | undefined {
    if (this.next >= this.n) return undefined;
    return this.at(this.next++);
  }

  private encrypt(x: number): number {
    const h = this.halfBits;
    let left = Math.floor(x / 2 ** h);
    let right = x % 2 ** h;
    for (const k of this.keys) {
      const f = round(right, k) & this.mask;
      const nl = right;
      right = (left ^ f) >>> 0;
      left = nl;
    }
    return left * 2 ** h + right;
  }
}

/** A 32-bit mix of a half-block and a round key (murmur3's finalizer). */
function round(x: number, key: number): number {
  let h = (x ^ key) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}
