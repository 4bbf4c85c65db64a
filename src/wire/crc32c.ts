/**
 * CRC32C (Castagnoli), the NVMe/TCP header and data digest: init 0xFFFFFFFF,
 * final xor 0xFFFFFFFF, reflected; CRC32C("123456789") = 0xE3069283.
 *
 * Computed by the native `sse4_crc32` addon (SSE 4.2 `crc32` instruction,
 * table fallback). Its running state is the finished CRC itself: feeding the
 * CRC of the bytes so far as `prev` continues the digest, so a digest over
 * scattered fragments (skb frags, an SGL, a PDU's data split over TCP
 * segments) never needs the bytes concatenated.
 */
import sse4 from 'sse4_crc32';

/** CRC32C of `buf`, continuing from `prev` (the CRC of the preceding bytes; 0 = start). */
export function crc32c(buf: Uint8Array, prev = 0): number {
  return sse4.calculate(buf, prev);
}

/** CRC32C over the concatenation of `frags`, without concatenating them. */
export function crc32cFrags(frags: readonly Uint8Array[], prev = 0): number {
  let crc = prev;
  for (let i = 0; i < frags.length; i++) crc = sse4.calculate(frags[i]!, crc);
  return crc;
}

/**
 * A running CRC32C across segments, counting the bytes it covered (ddplab
 * accounts every byte the CPU CRCs).
 */
export class Crc32c {
  private crc = 0;
  private len = 0;

  /** Feeds the next bytes of the digested stream. */
  update(buf: Uint8Array): this {
    this.crc = sse4.calculate(buf, this.crc);
    this.len += buf.length;
    return this;
  }

  /** The CRC32C of everything fed since construction or the last reset(). */
  get value(): number {
    return this.crc;
  }

  /** How many bytes have been fed. */
  get lengthBytes(): number {
    return this.len;
  }

  reset(): void {
    this.crc = 0;
    this.len = 0;
  }
}
