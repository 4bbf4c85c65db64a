/**
 * A run of received bytes held as the skb frags they arrived in (views, not
 * copies), addressed by offset from the first byte held. What a PDU stream
 * keeps while it hunts for a header: it can peek at any byte, copy a few
 * out to test a candidate header, drop what lies before the scan, and hand
 * the frags from the accepted header on — still `placed` where the NIC
 * placed them.
 */
import { narrowFrag } from '../host/net/tcp-rx-queue.js';
import type { HostFrag, PlacedFrag } from '../nicemu/skb.js';

/** A frag the CPU can read. */
export type ReadableFrag = HostFrag | PlacedFrag;

export class FragWindow {
  private frags: ReadableFrag[] = [];
  /** Offset of each frag's first byte. */
  private starts: number[] = [];
  private total = 0;
  /** Offset of the first byte held (bytes before it were dropped). */
  private base = 0;
  /** Lookup cursor: scans move forward, so the last frag found is tried first. */
  private cursor = 0;

  /** Offset just past the last byte held. */
  get end(): number {
    return this.total;
  }

  /** Offset of the first byte still held. */
  get start(): number {
    return this.base;
  }

  append(f: ReadableFrag): void {
    if (f.buf.length === 0) return;
    this.frags.push(f);
    this.starts.push(this.total);
    this.total += f.buf.length;
  }

  /** The byte at `off` (start <= off < end). */
  byteAt(off: number): number {
    const i = this.indexOf(off);
    return this.frags[i]!.buf[off - this.starts[i]!]!;
  }

  /** Copies bytes [off, off + n) into `dst` at 0; n must not run past end. */
  copyOut(off: number, n: number, dst: Buffer): void {
    let i = this.indexOf(off);
    let at = 0;
    let from = off - this.starts[i]!;
    while (at < n) {
      const b = this.frags[i]!.buf;
      const k = Math.min(n - at, b.length - from);
      b.copy(dst, at, from, from + k);
      at += k;
      i++;
      from = 0;
    }
  }

  /** Forgets bytes before `off`. */
  dropBefore(off: number): void {
    if (off <= this.base) return;
    this.base = off;
    let k = 0;
    while (k < this.frags.length && this.starts[k]! + this.frags[k]!.buf.length <= off) k++;
    if (k > 0) {
      this.frags.splice(0, k);
      this.starts.splice(0, k);
      this.cursor = 0;
    }
  }

  /** The frags holding bytes from `off` to the end, the first narrowed to start at `off`. */
  fragsFrom(off: number): ReadableFrag[] {
    if (off >= this.total) return [];
    const i = this.indexOf(off);
    const out: ReadableFrag[] = [];
    const first = this.frags[i]!;
    const skip = off - this.starts[i]!;
    out.push(skip === 0 ? first : (narrowFrag(first, skip, first.buf.length) as ReadableFrag));
    for (let k = i + 1; k < this.frags.length; k++) out.push(this.frags[k]!);
    return out;
  }

  clear(): void {
    this.frags = [];
    this.starts = [];
    this.total = 0;
    this.base = 0;
    this.cursor = 0;
  }

  private indexOf(off: number): number {
    let i = this.cursor < this.frags.length ? this.cursor : 0;
    if (this.starts[i]! > off) i = 0;
    while (this.starts[i]! + this.frags[i]!.buf.length <= off) i++;
    this.cursor = i;
    return i;
  }
}
