/**
 * TCP segment headers (RFC 9293) with the options a Linux peer exchanges:
 * MSS, window scale and timestamps (RFC 7323), SACK-permitted and SACK blocks
 * (RFC 2018). Parsing is the NIC's per-frame hot path: one walk over the
 * option bytes, one repr object, one options object only when options are
 * present, no closures.
 */
import { readU32BE, writeU16BE, writeU32BE } from './big-endian.js';
import { needBytes, needLength, WireError } from './errors.js';
import { checksumFinish, onesFold, onesSum, onesSumAny, pseudoHeaderSum } from './inet-checksum.js';
import { IPPROTO_TCP } from './ipv4.js';

// Field offsets (RFC 9293 §3.1); DATA_OFF is the high nibble, the low nibble holds the reserved flag bits.
const Field = { SRC_PORT: 0, DST_PORT: 2, SEQ_NUM: 4, ACK_NUM: 8, DATA_OFF: 12, FLAGS: 13, WINDOW: 14, CHECKSUM: 16, URGENT: 18, OPTIONS: 20 } as const;

/** Length of a TCP header without options. */
export const TCP_HEADER_LEN = 20;
/** Longest TCP header: data offset is four bits of 32-bit words. */
export const TCP_MAX_HEADER_LEN = 60;

/** TCP flag FIN. */
export const TCP_FIN = 0x01;
/** TCP flag SYN. */
export const TCP_SYN = 0x02;
/** TCP flag RST. */
export const TCP_RST = 0x04;
/** TCP flag PSH. */
export const TCP_PSH = 0x08;
/** TCP flag ACK. */
export const TCP_ACK = 0x10;
/** TCP flag URG. */
export const TCP_URG = 0x20;
/** TCP flag ECE (RFC 3168). */
export const TCP_ECE = 0x40;
/** TCP flag CWR (RFC 3168). */
export const TCP_CWR = 0x80;

/** Option kind: end of option list. */
export const TCPOPT_EOL = 0;
/** Option kind: no-operation (alignment). */
export const TCPOPT_NOP = 1;
/** Option kind: maximum segment size. */
export const TCPOPT_MSS = 2;
/** Option kind: window scale. */
export const TCPOPT_WSCALE = 3;
/** Option kind: SACK permitted. */
export const TCPOPT_SACK_PERM = 4;
/** Option kind: SACK blocks. */
export const TCPOPT_SACK = 5;
/** Option kind: timestamps. */
export const TCPOPT_TIMESTAMP = 8;

// Option lengths: the fixed ones, and one block of a SACK option.
const OptLen = { MSS: 4, WSCALE: 3, SACK_PERM: 2, TIMESTAMP: 10, SACK_BLOCK: 8 } as const;
/** RFC 2018 §3: 40 option bytes hold at most four blocks. */
const MAX_SACK_BLOCKS = 4;

/** One SACK block: sequence numbers [left, right). */
export interface TcpSackBlock {
  readonly left: number;
  readonly right: number;
}

/** The options ddplab understands; absent ones are undefined (sackPermitted: false or undefined). */
export interface TcpOptions {
  readonly mss?: number | undefined;
  /** Window scale shift count as sent (RFC 7323 caps its use at 14). */
  readonly wscale?: number | undefined;
  readonly sackPermitted?: boolean | undefined;
  /** 1..4 SACK blocks. */
  readonly sack?: readonly TcpSackBlock[] | undefined;
  /** TSval; timestamps are present when this is defined. */
  readonly tsVal?: number | undefined;
  /** TSecr (0 when absent and tsVal is set). */
  readonly tsEcr?: number | undefined;
}

/** TCP header fields as emitted (data offset and checksum are computed). */
export interface TcpHeader {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack: number;
  /** TCP_* bits; bits 8..11 are the four reserved header bits, kept so re-emitting is byte-exact. */
  readonly flags: number;
  readonly window: number;
  readonly urgentPtr?: number | undefined;
  /** Emitted in the order Linux uses (MSS, SACK-perm+TS, WS, SACK), NOP-aligned. */
  readonly options?: TcpOptions | undefined;
  /** Verbatim option bytes (EOL-padded to 4 bytes) instead of `options`: for forged or unusual layouts. */
  readonly rawOptions?: Uint8Array | undefined;
}

/** A parsed TCP header plus a view of its payload. */
export interface TcpRepr extends TcpHeader {
  readonly urgentPtr: number;
  readonly options: TcpOptions;
  /** Data offset × 4. */
  readonly headerLen: number;
  /** Checksum as found on the wire (not verified by parsing: see verifyTcpChecksum). */
  readonly checksum: number;
  readonly payload: Buffer;
}

/** The options object of a segment that carries none (shared: do not mutate). */
export const NO_TCP_OPTIONS: TcpOptions = Object.freeze({
  mss: undefined,
  wscale: undefined,
  sackPermitted: false,
  sack: undefined,
  tsVal: undefined,
  tsEcr: undefined,
});

const EMPTY: Buffer = Buffer.alloc(0);

/**
 * Parses a TCP segment (header + payload up to the end of `buf`, which is the
 * IPv4 payload). Data offset < 5 and malformed option lengths are BAD_FIELD;
 * a header running past `buf` is TRUNCATED. Unknown options are skipped by
 * their length; parsing stops at EOL.
 */
export function parseTcp(buf: Buffer): TcpRepr {
  return parseTcpAt(buf, 0, buf.length);
}

/**
 * parseTcp of the segment at buf[off..end), without a view of the segment
 * itself: a NIC's receive path parses in the frame (the payload is still a
 * view, buf[off + headerLen..end)).
 */
export function parseTcpAt(buf: Buffer, off: number, end: number): TcpRepr {
  const have = end - off;
  needLength(have, TCP_HEADER_LEN, 'tcp header');
  const offFlags = (buf[off + Field.DATA_OFF]! << 8) | buf[off + Field.FLAGS]!;
  const dataOffset = offFlags >>> 12;
  if (dataOffset < 5) {
    throw new WireError('BAD_FIELD', `TCP data offset ${dataOffset} is below 5`, {
      field: 'dataOffset',
      expected: '>= 5',
      got: dataOffset,
    });
  }
  const headerLen = dataOffset * 4;
  needLength(have, headerLen, 'tcp options');
  return {
    srcPort: (buf[off + Field.SRC_PORT]! << 8) | buf[off + Field.SRC_PORT + 1]!,
    dstPort: (buf[off + Field.DST_PORT]! << 8) | buf[off + Field.DST_PORT + 1]!,
    seq: readU32BE(buf, off + Field.SEQ_NUM),
    ack: readU32BE(buf, off + Field.ACK_NUM),
    flags: offFlags & 0x0fff,
    window: (buf[off + Field.WINDOW]! << 8) | buf[off + Field.WINDOW + 1]!,
    urgentPtr: (buf[off + Field.URGENT]! << 8) | buf[off + Field.URGENT + 1]!,
    options: headerLen === TCP_HEADER_LEN ? NO_TCP_OPTIONS : parseTcpOptions(buf, off + Field.OPTIONS, off + headerLen),
    rawOptions: undefined,
    headerLen,
    checksum: (buf[off + Field.CHECKSUM]! << 8) | buf[off + Field.CHECKSUM + 1]!,
    payload: headerLen === have ? EMPTY : buf.subarray(off + headerLen, end),
  };
}

/** Decodes the option bytes `buf[start..end)`; BAD_FIELD on a length that is too short, too long or wrong for its kind. */
export function parseTcpOptions(buf: Uint8Array, start: number, end: number): TcpOptions {
  let mss: number | undefined;
  let wscale: number | undefined;
  let sackPermitted = false;
  let sack: TcpSackBlock[] | undefined;
  let tsVal: number | undefined;
  let tsEcr: number | undefined;
  let i = start;
  while (i < end) {
    const kind = buf[i]!;
    if (kind === TCPOPT_EOL) break;
    if (kind === TCPOPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) badOptionLength(kind, undefined, i - start);
    const len = buf[i + 1]!;
    if (len < 2 || i + len > end) badOptionLength(kind, len, i - start);
    switch (kind) {
      case TCPOPT_MSS:
        if (len !== OptLen.MSS) badOptionLength(kind, len, i - start);
        mss = (buf[i + 2]! << 8) | buf[i + 3]!;
        break;
      case TCPOPT_WSCALE:
        if (len !== OptLen.WSCALE) badOptionLength(kind, len, i - start);
        wscale = buf[i + 2]!;
        break;
      case TCPOPT_SACK_PERM:
        if (len !== OptLen.SACK_PERM) badOptionLength(kind, len, i - start);
        sackPermitted = true;
        break;
      case TCPOPT_SACK: {
        const blocks = (len - 2) / OptLen.SACK_BLOCK;
        if (!Number.isInteger(blocks) || blocks < 1 || blocks > MAX_SACK_BLOCKS) badOptionLength(kind, len, i - start);
        sack = [];
        for (let b = i + 2; b < i + len; b += OptLen.SACK_BLOCK) {
          sack.push({ left: readU32BE(buf, b), right: readU32BE(buf, b + 4) });
        }
        break;
      }
      case TCPOPT_TIMESTAMP:
        if (len !== OptLen.TIMESTAMP) badOptionLength(kind, len, i - start);
        tsVal = readU32BE(buf, i + 2);
        tsEcr = readU32BE(buf, i + 6);
        break;
      default:
        // Unknown kinds (MD5, TFO, MPTCP, ...) are stepped over, as RFC 9293 §3.1 requires.
        break;
    }
    i += len;
  }
  return { mss, wscale, sackPermitted, sack, tsVal, tsEcr };
}

function badOptionLength(kind: number, len: number | undefined, at: number): never {
  throw new WireError('BAD_FIELD', `TCP option kind ${kind} at option byte ${at} has bad length ${len ?? '(missing)'}`, {
    field: 'optionLength',
    expected: expectedOptionLength(kind),
    got: len ?? 'missing',
  });
}

function expectedOptionLength(kind: number): string {
  switch (kind) {
    case TCPOPT_MSS:
      return String(OptLen.MSS);
    case TCPOPT_WSCALE:
      return String(OptLen.WSCALE);
    case TCPOPT_SACK_PERM:
      return String(OptLen.SACK_PERM);
    case TCPOPT_TIMESTAMP:
      return String(OptLen.TIMESTAMP);
    case TCPOPT_SACK:
      return '10, 18, 26 or 34';
    default:
      return '>= 2, within the header';
  }
}

/** Option bytes `emitTcp` writes for `options` (always a multiple of 4). */
export function tcpOptionsLen(options: TcpOptions | undefined): number {
  if (options === undefined) return 0;
  let len = 0;
  const ts = options.tsVal !== undefined;
  if (options.mss !== undefined) len += 4;
  if (ts) len += 12; // NOP NOP TS, or SACK-perm TS
  if (options.sackPermitted === true && !ts) len += 4; // NOP NOP SACK-perm
  if (options.wscale !== undefined) len += 4; // NOP WS
  if (options.sack !== undefined) len += 4 + options.sack.length * OptLen.SACK_BLOCK; // NOP NOP SACK
  return len;
}

/** Header length `emitTcp` writes for `hdr`. */
export function tcpHeaderLen(hdr: TcpHeader): number {
  if (hdr.rawOptions !== undefined) return TCP_HEADER_LEN + ((hdr.rawOptions.length + 3) & ~3);
  return TCP_HEADER_LEN + tcpOptionsLen(hdr.options);
}

/**
 * Writes the TCP header at `out[off..]` with its checksum over the IPv4
 * pseudo-header, the header and `payload` (one buffer or a fragment list; it
 * is summed, not copied: the caller places it after the header). Returns the
 * offset just past the header.
 */
export function emitTcp(
  hdr: TcpHeader,
  out: Uint8Array,
  off: number,
  srcIp: number,
  dstIp: number,
  payload: Uint8Array | readonly Uint8Array[] = EMPTY,
): number {
  checkRange(hdr.srcPort, 0xffff, 'srcPort');
  checkRange(hdr.dstPort, 0xffff, 'dstPort');
  checkRange(hdr.seq, 0xffff_ffff, 'seq');
  checkRange(hdr.ack, 0xffff_ffff, 'ack');
  checkRange(hdr.flags, 0x0fff, 'flags');
  checkRange(hdr.window, 0xffff, 'window');
  checkRange(hdr.urgentPtr ?? 0, 0xffff, 'urgentPtr');
  const headerLen = tcpHeaderLen(hdr);
  if (headerLen > TCP_MAX_HEADER_LEN) {
    throw new WireError('BAD_FIELD', `TCP options need ${headerLen - TCP_HEADER_LEN} bytes, at most 40 fit`, {
      field: 'options',
      expected: '<= 40',
      got: headerLen - TCP_HEADER_LEN,
    });
  }
  needBytes(out, off + headerLen, 'tcp output');
  writeU16BE(out, off + Field.SRC_PORT, hdr.srcPort);
  writeU16BE(out, off + Field.DST_PORT, hdr.dstPort);
  writeU32BE(out, off + Field.SEQ_NUM, hdr.seq);
  writeU32BE(out, off + Field.ACK_NUM, hdr.ack);
  writeU16BE(out, off + Field.DATA_OFF, ((headerLen >>> 2) << 12) | hdr.flags);
  writeU16BE(out, off + Field.WINDOW, hdr.window);
  writeU16BE(out, off + Field.CHECKSUM, 0);
  writeU16BE(out, off + Field.URGENT, hdr.urgentPtr ?? 0);
  if (hdr.rawOptions !== undefined) {
    out.set(hdr.rawOptions, off + Field.OPTIONS);
    out.fill(TCPOPT_EOL, off + Field.OPTIONS + hdr.rawOptions.length, off + headerLen);
  } else if (hdr.options !== undefined) {
    emitTcpOptions(hdr.options, out, off + Field.OPTIONS);
  }
  let payloadLen = 0;
  if (payload instanceof Uint8Array) payloadLen = payload.length;
  else for (let k = 0; k < payload.length; k++) payloadLen += payload[k]!.length;
  const segLen = headerLen + payloadLen;
  checkRange(segLen, 0xffff, 'segment length');
  // The header length is a multiple of 4, so the payload starts on an even
  // byte and its partial sum adds without a byte swap.
  let sum = pseudoHeaderSum(srcIp, dstIp, IPPROTO_TCP, segLen);
  sum = onesSum(out, sum, off, off + headerLen);
  sum = onesSumAny(payload, sum);
  writeU16BE(out, off + Field.CHECKSUM, checksumFinish(sum));
  return off + headerLen;
}

function emitTcpOptions(o: TcpOptions, out: Uint8Array, at: number): void {
  // Linux's layout (tcp_options_write order), so that a kernel segment
  // parsed and re-emitted comes out byte-identical.
  if (o.mss !== undefined) {
    checkRange(o.mss, 0xffff, 'mss');
    out[at++] = TCPOPT_MSS;
    out[at++] = OptLen.MSS;
    writeU16BE(out, at, o.mss);
    at += 2;
  }
  if (o.tsVal !== undefined) {
    checkRange(o.tsVal, 0xffff_ffff, 'tsVal');
    checkRange(o.tsEcr ?? 0, 0xffff_ffff, 'tsEcr');
    if (o.sackPermitted === true) {
      out[at++] = TCPOPT_SACK_PERM;
      out[at++] = OptLen.SACK_PERM;
    } else {
      out[at++] = TCPOPT_NOP;
      out[at++] = TCPOPT_NOP;
    }
    out[at++] = TCPOPT_TIMESTAMP;
    out[at++] = OptLen.TIMESTAMP;
    writeU32BE(out, at, o.tsVal);
    writeU32BE(out, at + 4, o.tsEcr ?? 0);
    at += 8;
  } else if (o.sackPermitted === true) {
    out[at++] = TCPOPT_NOP;
    out[at++] = TCPOPT_NOP;
    out[at++] = TCPOPT_SACK_PERM;
    out[at++] = OptLen.SACK_PERM;
  }
  if (o.wscale !== undefined) {
    checkRange(o.wscale, 0xff, 'wscale');
    out[at++] = TCPOPT_NOP;
    out[at++] = TCPOPT_WSCALE;
    out[at++] = OptLen.WSCALE;
    out[at++] = o.wscale;
  }
  if (o.sack !== undefined) {
    const n = o.sack.length;
    if (n < 1 || n > MAX_SACK_BLOCKS) {
      throw new WireError('BAD_FIELD', `${n} SACK blocks: 1..4 fit in a TCP header`, { field: 'sack', expected: '1..4', got: n });
    }
    out[at++] = TCPOPT_NOP;
    out[at++] = TCPOPT_NOP;
    out[at++] = TCPOPT_SACK;
    out[at++] = 2 + n * OptLen.SACK_BLOCK;
    for (let b = 0; b < n; b++) {
      const blk = o.sack[b]!;
      checkRange(blk.left, 0xffff_ffff, 'sack.left');
      checkRange(blk.right, 0xffff_ffff, 'sack.right');
      writeU32BE(out, at, blk.left);
      writeU32BE(out, at + 4, blk.right);
      at += OptLen.SACK_BLOCK;
    }
  }
}

/** Builds a segment: header followed by a copy of `payload`, checksummed for srcIp → dstIp. */
export function buildTcp(hdr: TcpHeader, srcIp: number, dstIp: number, payload: Uint8Array = EMPTY): Buffer {
  const headerLen = tcpHeaderLen(hdr);
  const out = Buffer.allocUnsafe(headerLen + payload.length);
  out.set(payload, emitTcp(hdr, out, 0, srcIp, dstIp, payload));
  return out;
}

/**
 * The checksum field value for `segment` (header + payload, as one buffer or
 * a fragment list) sent from srcIp to dstIp; the checksum field inside it
 * must be zero.
 */
export function tcpChecksum(srcIp: number, dstIp: number, segment: Uint8Array | readonly Uint8Array[]): number {
  return checksumFinish(onesSumAny(segment, pseudoHeaderSum(srcIp, dstIp, IPPROTO_TCP, totalLen(segment))));
}

/** True when the checksum inside `segment` (one buffer or a fragment list) verifies for srcIp → dstIp. */
export function verifyTcpChecksum(srcIp: number, dstIp: number, segment: Uint8Array | readonly Uint8Array[]): boolean {
  return onesSumAny(segment, pseudoHeaderSum(srcIp, dstIp, IPPROTO_TCP, totalLen(segment))) === 0xffff;
}

/**
 * True when the segment's checksum field holds what a sender using checksum
 * offload leaves there before the hardware (or, on veth, nobody) finishes
 * it: the folded pseudo-header sum (Linux CHECKSUM_PARTIAL), as captures
 * taken with tx checksum offload show it. Such a segment is not corrupt,
 * just never checksummed.
 */
export function isPartialTcpChecksum(srcIp: number, dstIp: number, segment: Uint8Array): boolean {
  if (segment.length < TCP_HEADER_LEN) return false;
  const field = (segment[Field.CHECKSUM]! << 8) | segment[Field.CHECKSUM + 1]!;
  const pseudo = onesFold(pseudoHeaderSum(srcIp, dstIp, IPPROTO_TCP, segment.length));
  return field === pseudo || field === (~pseudo & 0xffff);
}

function totalLen(data: Uint8Array | readonly Uint8Array[]): number {
  if (data instanceof Uint8Array) return data.length;
  let n = 0;
  for (let k = 0; k < data.length; k++) n += data[k]!.length;
  return n;
}

function checkRange(v: number, max: number, field: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw new WireError('BAD_FIELD', `TCP ${field} ${v} out of range 0..${max}`, { field, expected: `0..${max}`, got: v });
  }
}
