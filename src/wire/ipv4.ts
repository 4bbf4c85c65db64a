/**
 * IPv4 headers (RFC 791). Addresses are u32 numbers in host order
 * (192.0.2.1 === 0xc0000201), which keeps flow keys and the pseudo-header sum
 * free of allocations. Options are carried as an opaque view: ddplab routes
 * nothing, it only has to step over them.
 */
import { readU32BE, writeU16BE, writeU32BE } from './big-endian.js';
import { needBytes, needLength, WireError } from './errors.js';
import { checksumFinish, onesSum } from './inet-checksum.js';

// Field offsets (RFC 791 §3.1).
const Field = { VER_IHL: 0, TOS: 1, TOTAL_LEN: 2, IDENT: 4, FLAGS_FRAG: 6, TTL: 8, PROTOCOL: 9, CHECKSUM: 10, SRC_ADDR: 12, DST_ADDR: 16 } as const;

/** Length of an IPv4 header without options. */
export const IPV4_HEADER_LEN = 20;
/** Longest IPv4 header: IHL is four bits of 32-bit words. */
export const IPV4_MAX_HEADER_LEN = 60;

/** Flag bit "don't fragment" in `Ipv4Repr.flags`. */
export const IPV4_DF = 0x2;
/** Flag bit "more fragments" in `Ipv4Repr.flags`. */
export const IPV4_MF = 0x1;

/** IP protocol number of ICMP. */
export const IPPROTO_ICMP = 1;
/** IP protocol number of TCP. */
export const IPPROTO_TCP = 6;
/** IP protocol number of UDP. */
export const IPPROTO_UDP = 17;

/** IPv4 header fields as emitted (the checksum and the length fields are computed). */
export interface Ipv4Header {
  readonly src: number;
  readonly dst: number;
  readonly protocol: number;
  readonly ttl: number;
  /** Identification field. */
  readonly id: number;
  /** Bytes that follow the header; total length = header length + payloadLen. */
  readonly payloadLen: number;
  /** The whole Field.TOS byte (DSCP << 2 | ECN); 0 when absent. */
  readonly tos?: number | undefined;
  /** The three flag bits (IPV4_DF | IPV4_MF | reserved 0x4); 0 when absent. */
  readonly flags?: number | undefined;
  /** Fragment offset in bytes (a multiple of 8); 0 when absent. */
  readonly fragOffsetBytes?: number | undefined;
  /** Raw option bytes, a multiple of 4 and at most 40 bytes; none when absent. */
  readonly options?: Uint8Array | undefined;
}

/** A parsed IPv4 header plus a view of its payload. */
export interface Ipv4Repr extends Ipv4Header {
  readonly tos: number;
  readonly flags: number;
  readonly fragOffsetBytes: number;
  readonly options: Buffer;
  /** IHL × 4. */
  readonly headerLen: number;
  readonly totalLength: number;
  /** Header checksum as found on the wire (not verified by parsing: see verifyIpv4Checksum). */
  readonly checksum: number;
  /** Bytes from the end of the header up to totalLength; Ethernet padding beyond it is excluded. */
  readonly payload: Buffer;
}

const NO_OPTIONS: Buffer = Buffer.alloc(0);

/** The fields of an IPv4 header a receive path decides on, read in place (readIpv4Header). */
export interface Ipv4HeaderFields {
  src: number;
  dst: number;
  protocol: number;
  /** The three flag bits. */
  flags: number;
  fragOffsetBytes: number;
  /** IHL × 4. */
  headerLen: number;
  totalLength: number;
}

/** A fresh Ipv4HeaderFields for readIpv4Header to fill (one per reader, reused frame after frame). */
export function ipv4HeaderFields(): Ipv4HeaderFields {
  return { src: 0, dst: 0, protocol: 0, flags: 0, fragOffsetBytes: 0, headerLen: 0, totalLength: 0 };
}

/**
 * Reads the IPv4 header at buf[off..end) into `out`, with parseIpv4's checks
 * and errors but no view and no new object: the per-frame path of a NIC.
 * `end` is where the captured bytes end (Ethernet padding included).
 */
export function readIpv4Header(buf: Uint8Array, off: number, end: number, out: Ipv4HeaderFields): void {
  const have = end - off;
  needLength(have, IPV4_HEADER_LEN, 'ipv4 header');
  const verIhl = buf[off + Field.VER_IHL]!;
  const version = verIhl >>> 4;
  if (version !== 4) {
    throw new WireError('BAD_FIELD', `IPv4 version field is ${version}`, { field: 'version', expected: 4, got: version });
  }
  const ihl = verIhl & 0x0f;
  if (ihl < 5) {
    throw new WireError('BAD_FIELD', `IPv4 IHL ${ihl} is below 5`, { field: 'ihl', expected: '>= 5', got: ihl });
  }
  const headerLen = ihl * 4;
  needLength(have, headerLen, 'ipv4 options');
  const totalLength = (buf[off + Field.TOTAL_LEN]! << 8) | buf[off + Field.TOTAL_LEN + 1]!;
  if (totalLength < headerLen) {
    throw new WireError('BAD_FIELD', `IPv4 total length ${totalLength} is below the header length ${headerLen}`, {
      field: 'totalLength',
      expected: `>= ${headerLen}`,
      got: totalLength,
    });
  }
  if (totalLength > have) {
    throw new WireError('TRUNCATED', `IPv4 total length ${totalLength} runs past the ${have} bytes captured`, {
      field: 'totalLength',
      expected: totalLength,
      got: have,
    });
  }
  const flagsFrag = (buf[off + Field.FLAGS_FRAG]! << 8) | buf[off + Field.FLAGS_FRAG + 1]!;
  out.src = readU32BE(buf, off + Field.SRC_ADDR);
  out.dst = readU32BE(buf, off + Field.DST_ADDR);
  out.protocol = buf[off + Field.PROTOCOL]!;
  out.flags = flagsFrag >>> 13;
  out.fragOffsetBytes = (flagsFrag & 0x1fff) * 8;
  out.headerLen = headerLen;
  out.totalLength = totalLength;
}

const scratch = ipv4HeaderFields();

/** Parses an IPv4 header; TRUNCATED when the header or total length runs past `buf`, BAD_FIELD for version/IHL/length. */
export function parseIpv4(buf: Buffer): Ipv4Repr {
  const h = scratch;
  readIpv4Header(buf, 0, buf.length, h);
  const headerLen = h.headerLen;
  return {
    src: h.src,
    dst: h.dst,
    protocol: h.protocol,
    ttl: buf[Field.TTL]!,
    id: (buf[Field.IDENT]! << 8) | buf[Field.IDENT + 1]!,
    payloadLen: h.totalLength - headerLen,
    tos: buf[Field.TOS]!,
    flags: h.flags,
    fragOffsetBytes: h.fragOffsetBytes,
    options: headerLen === IPV4_HEADER_LEN ? NO_OPTIONS : buf.subarray(IPV4_HEADER_LEN, headerLen),
    headerLen,
    totalLength: h.totalLength,
    checksum: (buf[Field.CHECKSUM]! << 8) | buf[Field.CHECKSUM + 1]!,
    payload: buf.subarray(headerLen, h.totalLength),
  };
}

/** Header length `emitIpv4` writes for `hdr`. */
export function ipv4HeaderLen(hdr: Ipv4Header): number {
  return IPV4_HEADER_LEN + (hdr.options === undefined ? 0 : hdr.options.length);
}

/** Writes the IPv4 header (with its checksum) at `out[off..]`; returns the offset just past it. */
export function emitIpv4(hdr: Ipv4Header, out: Uint8Array, off = 0): number {
  const optLen = hdr.options === undefined ? 0 : hdr.options.length;
  if (optLen % 4 !== 0 || optLen > IPV4_MAX_HEADER_LEN - IPV4_HEADER_LEN) {
    throw new WireError('BAD_FIELD', `IPv4 options of ${optLen} bytes: need a multiple of 4, at most 40`, {
      field: 'options',
      expected: '0..40, multiple of 4',
      got: optLen,
    });
  }
  const headerLen = IPV4_HEADER_LEN + optLen;
  const totalLength = headerLen + hdr.payloadLen;
  checkRange(totalLength, 0xffff, 'totalLength');
  const flags = hdr.flags ?? 0;
  const fragOffsetBytes = hdr.fragOffsetBytes ?? 0;
  checkRange(flags, 7, 'flags');
  if (fragOffsetBytes % 8 !== 0) {
    throw new WireError('BAD_FIELD', `IPv4 fragment offset ${fragOffsetBytes} is not a multiple of 8`, {
      field: 'fragOffsetBytes',
      expected: 'multiple of 8',
      got: fragOffsetBytes,
    });
  }
  checkRange(fragOffsetBytes / 8, 0x1fff, 'fragOffsetBytes');
  checkRange(hdr.tos ?? 0, 0xff, 'tos');
  checkRange(hdr.id, 0xffff, 'id');
  checkRange(hdr.ttl, 0xff, 'ttl');
  checkRange(hdr.protocol, 0xff, 'protocol');
  checkRange(hdr.src, 0xffff_ffff, 'src');
  checkRange(hdr.dst, 0xffff_ffff, 'dst');
  needBytes(out, off + headerLen, 'ipv4 output');

  out[off + Field.VER_IHL] = 0x40 | (headerLen >>> 2);
  out[off + Field.TOS] = hdr.tos ?? 0;
  writeU16BE(out, off + Field.TOTAL_LEN, totalLength);
  writeU16BE(out, off + Field.IDENT, hdr.id);
  writeU16BE(out, off + Field.FLAGS_FRAG, (flags << 13) | (fragOffsetBytes / 8));
  out[off + Field.TTL] = hdr.ttl;
  out[off + Field.PROTOCOL] = hdr.protocol;
  writeU16BE(out, off + Field.CHECKSUM, 0);
  writeU32BE(out, off + Field.SRC_ADDR, hdr.src);
  writeU32BE(out, off + Field.DST_ADDR, hdr.dst);
  if (optLen > 0) out.set(hdr.options!, off + IPV4_HEADER_LEN);
  writeU16BE(out, off + Field.CHECKSUM, checksumFinish(onesSum(out, 0, off, off + headerLen)));
  return off + headerLen;
}

/** Builds a packet: header followed by a copy of `payload` (payloadLen is taken from it). */
export function buildIpv4(hdr: Omit<Ipv4Header, 'payloadLen'>, payload: Uint8Array): Buffer {
  const full: Ipv4Header = { ...hdr, payloadLen: payload.length };
  const out = Buffer.allocUnsafe(ipv4HeaderLen(full) + payload.length);
  out.set(payload, emitIpv4(full, out, 0));
  return out;
}

/** True when the header checksum of the packet starting at `packet[0]` verifies (false if its IHL is bad or cut off). */
export function verifyIpv4Checksum(packet: Uint8Array): boolean {
  if (packet.length < IPV4_HEADER_LEN) return false;
  const headerLen = (packet[Field.VER_IHL]! & 0x0f) * 4;
  if (headerLen < IPV4_HEADER_LEN || headerLen > packet.length) return false;
  return onesSum(packet, 0, 0, headerLen) === 0xffff;
}

/** Formats a u32 address as dotted quad. */
export function ipToString(addr: number): string {
  return `${addr >>> 24}.${(addr >>> 16) & 0xff}.${(addr >>> 8) & 0xff}.${addr & 0xff}`;
}

/** Parses a dotted-quad IPv4 address into a u32; BAD_FIELD otherwise. */
export function parseIpv4Addr(text: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text.trim());
  let addr = 0;
  for (let i = 1; m !== null && i <= 4; i++) {
    const octet = Number(m[i]);
    if (octet > 255) break;
    addr = addr * 256 + octet;
    if (i === 4) return addr;
  }
  throw new WireError('BAD_FIELD', `not an IPv4 address: '${text}'`, { field: 'ipv4Addr', expected: 'a.b.c.d', got: text });
}

function checkRange(v: number, max: number, field: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw new WireError('BAD_FIELD', `IPv4 ${field} ${v} out of range 0..${max}`, { field, expected: `0..${max}`, got: v });
  }
}
