/**
 * Mutations that know the wire formats: find the length, offset, sequence,
 * type and flag fields of Ethernet/802.1Q, IPv4, TCP and NVMe/TCP PDU headers
 * in a buffer and give one of them a value a parser is likely to get wrong
 * (0, the maximum, off by one or four from the true length, a sequence
 * number half the space away), then optionally repair what would otherwise
 * stop the input at the first gate (IPv4/TCP checksums, HDGST/DDGST) so the
 * bad field reaches the code behind the gate.
 *
 * This is the fuzzer's own map of the formats, as a dissector's field table
 * is: offsets below are protocol facts (RFC 791, RFC 9293, the NVMe/TCP
 * transport binding), located by a tolerant walk that never throws.
 */
import { crc32c } from '../wire/crc32c.js';
import { inetChecksum } from '../wire/inet-checksum.js';
import { CqeField } from '../wire/nvme-cqe.js';
import { SqeField } from '../wire/nvme-sqe.js';
import { isPduType, PduField, PduFlags, PduHeaderView, pduHeaderLength } from '../wire/nvme-tcp-pdu-header.js';
import { tcpChecksum } from '../wire/tcp.js';
import type { Rng } from './rng.js';

/** What a field means, which decides the values worth trying. */
export type FieldKind = 'length' | 'offset' | 'seq' | 'type' | 'flags' | 'id' | 'value';

/** One integer field located in a buffer. */
export interface Field {
  readonly name: string;
  readonly at: number;
  readonly width: 1 | 2 | 4;
  readonly le: boolean;
  readonly kind: FieldKind;
  /** Values with a meaning for this field (valid codes, header lengths). */
  readonly hints?: readonly number[];
  /** For lengths and offsets: the length the surrounding bytes actually have. */
  readonly actual?: number;
}

// Ethernet (IEEE 802.3, 802.1Q).
const ETH_TYPE = 12;
const ETH_TAG_TCI = 14;
const ETH_TAG_TYPE = 16;
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_VLAN = 0x8100;
// IPv4 (RFC 791).
const IP_VER_IHL = 0;
const IP_TOTAL_LEN = 2;
const IP_ID = 4;
const IP_FLAGS_FRAG = 6;
const IP_TTL = 8;
const IP_PROTO = 9;
const IP_CSUM = 10;
const IP_SRC = 12;
const IP_DST = 16;
const IPPROTO_TCP = 6;
// TCP (RFC 9293).
const TCP_SPORT = 0;
const TCP_DPORT = 2;
const TCP_SEQ = 4;
const TCP_ACK = 8;
const TCP_DOFF = 12;
const TCP_FLAGS = 13;
const TCP_WIN = 14;
const TCP_CSUM = 16;
const TCP_URG = 18;
const TCP_OPTS = 20;
const PDU_TYPES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0x7f, 0xff];
const PDU_HLENS = [0, 8, 23, 24, 25, 72, 128, 255];
const PDU_FLAG_VALUES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 0x0c, 0x0e, 0x0f, 0x10, 0xff];

/** The Ethernet/IPv4/TCP layout of a frame, as far as the bytes allow. */
export interface FrameLayout {
  readonly l3: number;
  /** TCP header offset, or -1. */
  readonly l4: number;
  /** TCP payload [start, end), or [-1, -1]. */
  readonly payloadStart: number;
  readonly payloadEnd: number;
}

/** Where the layers of `frame` sit; tolerant of any garbage (it never throws). */
export function frameLayout(frame: Buffer): FrameLayout {
  const none: FrameLayout = { l3: -1, l4: -1, payloadStart: -1, payloadEnd: -1 };
  if (frame.length < 14) return none;
  let type = frame.readUInt16BE(ETH_TYPE);
  let l3 = 14;
  if (type === ETHERTYPE_VLAN) {
    if (frame.length < 18) return none;
    type = frame.readUInt16BE(ETH_TAG_TYPE);
    l3 = 18;
  }
  if (type !== ETHERTYPE_IPV4 || frame.length < l3 + 20) return { ...none, l3 };
  const ihl = (frame[l3 + IP_VER_IHL]! & 0x0f) * 4;
  const total = Math.min(frame.readUInt16BE(l3 + IP_TOTAL_LEN), frame.length - l3);
  if (ihl < 20 || frame[l3 + IP_PROTO] !== IPPROTO_TCP || l3 + ihl + 20 > frame.length) return { ...none, l3 };
  const l4 = l3 + ihl;
  const doff = (frame[l4 + TCP_DOFF]! >>> 4) * 4;
  const end = Math.max(l4, l3 + total);
  const start = Math.min(l4 + Math.max(doff, 20), end);
  return { l3, l4, payloadStart: start, payloadEnd: end };
}

/** Fields of the Ethernet, IPv4 and TCP headers of `frame`. */
export function frameFields(frame: Buffer): Field[] {
  const out: Field[] = [];
  if (frame.length < 14) return out;
  out.push({ name: 'eth.type', at: ETH_TYPE, width: 2, le: false, kind: 'type', hints: [0x0800, 0x0806, 0x8100, 0x86dd, 0x88cc] });
  if (frame.readUInt16BE(ETH_TYPE) === ETHERTYPE_VLAN && frame.length >= 18) {
    out.push({ name: 'vlan.tci', at: ETH_TAG_TCI, width: 2, le: false, kind: 'id', hints: [0, 1, 0x0fff, 0xe000, 0xffff] });
    out.push({ name: 'vlan.type', at: ETH_TAG_TYPE, width: 2, le: false, kind: 'type', hints: [0x0800, 0x0806, 0x8100] });
  }
  const lay = frameLayout(frame);
  if (lay.l3 < 0 || frame.length < lay.l3 + 20) return out;
  const l3 = lay.l3;
  const l3Len = frame.length - l3;
  out.push(
    { name: 'ip.ver_ihl', at: l3 + IP_VER_IHL, width: 1, le: false, kind: 'length', hints: [0x45, 0x44, 0x46, 0x4f, 0x40, 0x55, 0x65] },
    { name: 'ip.total_len', at: l3 + IP_TOTAL_LEN, width: 2, le: false, kind: 'length', actual: l3Len },
    { name: 'ip.id', at: l3 + IP_ID, width: 2, le: false, kind: 'id' },
    { name: 'ip.flags_frag', at: l3 + IP_FLAGS_FRAG, width: 2, le: false, kind: 'flags', hints: [0x4000, 0x0000, 0x2000, 0x2001, 0x0001, 0x1fff, 0x8000] },
    { name: 'ip.ttl', at: l3 + IP_TTL, width: 1, le: false, kind: 'value' },
    { name: 'ip.proto', at: l3 + IP_PROTO, width: 1, le: false, kind: 'type', hints: [6, 1, 17, 0, 255] },
    { name: 'ip.src', at: l3 + IP_SRC, width: 4, le: false, kind: 'id', hints: [0xc000_0201, 0xc000_0202, 0, 0xffff_ffff] },
    { name: 'ip.dst', at: l3 + IP_DST, width: 4, le: false, kind: 'id', hints: [0xc000_0201, 0xc000_0202, 0, 0xffff_ffff] },
  );
  if (lay.l4 < 0) return out;
  const l4 = lay.l4;
  out.push(
    { name: 'tcp.sport', at: l4 + TCP_SPORT, width: 2, le: false, kind: 'id', hints: [4420, 40_000, 0, 0xffff] },
    { name: 'tcp.dport', at: l4 + TCP_DPORT, width: 2, le: false, kind: 'id', hints: [4420, 40_000, 0, 0xffff] },
    { name: 'tcp.seq', at: l4 + TCP_SEQ, width: 4, le: false, kind: 'seq' },
    { name: 'tcp.ack', at: l4 + TCP_ACK, width: 4, le: false, kind: 'seq' },
    { name: 'tcp.doff', at: l4 + TCP_DOFF, width: 1, le: false, kind: 'length', hints: [0x50, 0x60, 0x70, 0x80, 0xa0, 0xf0, 0x40, 0x00, 0x5f] },
    { name: 'tcp.flags', at: l4 + TCP_FLAGS, width: 1, le: false, kind: 'flags', hints: [0x10, 0x18, 0x02, 0x12, 0x11, 0x19, 0x04, 0x14, 0x01, 0x20, 0x30, 0x3f, 0xff, 0] },
    { name: 'tcp.window', at: l4 + TCP_WIN, width: 2, le: false, kind: 'length', hints: [0, 1, 0xffff] },
    { name: 'tcp.urg', at: l4 + TCP_URG, width: 2, le: false, kind: 'offset' },
  );
  for (let at = l4 + TCP_OPTS; at < lay.payloadStart && at < frame.length; at++) {
    out.push({ name: 'tcp.option', at, width: 1, le: false, kind: 'value', hints: [0, 1, 2, 3, 4, 5, 8, 10, 18, 34, 40, 0xff] });
  }
  return out;
}

/** Fields of the NVMe/TCP PDU header that starts at `buf[p]` (whatever is in reach). */
export function pduHeaderFields(buf: Buffer, p: number): Field[] {
  const out: Field[] = [];
  if (p + 8 > buf.length) return out;
  const avail = buf.length - p;
  const type = buf[p + PduField.TYPE]!;
  out.push(
    { name: 'pdu.type', at: p + PduField.TYPE, width: 1, le: true, kind: 'type', hints: PDU_TYPES },
    { name: 'pdu.flags', at: p + PduField.FLAGS, width: 1, le: true, kind: 'flags', hints: PDU_FLAG_VALUES },
    { name: 'pdu.hlen', at: p + PduField.HLEN, width: 1, le: true, kind: 'length', hints: PDU_HLENS },
    { name: 'pdu.pdo', at: p + PduField.PDO, width: 1, le: true, kind: 'offset', hints: [0, 24, 28, 32, 64, 72, 76, 128, 255] },
    { name: 'pdu.plen', at: p + PduField.PLEN, width: 4, le: true, kind: 'length', actual: avail },
  );
  const push = (f: Field): void => {
    if (f.at + f.width <= buf.length) out.push(f);
  };
  switch (type) {
    case 0x00:
    case 0x01:
      push({ name: 'ic.pfv', at: p + PduField.IC_PFV, width: 2, le: true, kind: 'value', hints: [0, 1, 0xffff] });
      push({ name: 'ic.pda', at: p + PduField.IC_PDA, width: 1, le: true, kind: 'value', hints: [0, 1, 31, 32, 0xff] });
      push({ name: 'ic.digest', at: p + PduField.IC_DIGEST, width: 1, le: true, kind: 'flags', hints: [0, 1, 2, 3, 4, 0xff] });
      push({ name: 'ic.max', at: p + PduField.IC_MAX, width: 4, le: true, kind: 'length', hints: [0, 1, 4095, 4096, 0x40_0000, 0xffff_ffff] });
      break;
    case 0x02:
    case 0x03:
      push({ name: 'term.fes', at: p + PduField.TERM_FES, width: 2, le: true, kind: 'type', hints: [0, 1, 2, 3, 4, 5, 6, 7, 0xffff] });
      push({ name: 'term.fei', at: p + PduField.TERM_FEI, width: 4, le: true, kind: 'offset' });
      break;
    case 0x04:
      push({ name: 'sqe.opcode', at: p + PduField.CAPSULE_QE + SqeField.OPCODE, width: 1, le: true, kind: 'type', hints: [0x00, 0x01, 0x02, 0x06, 0x7f, 0x18, 0xff] });
      push({ name: 'sqe.cid', at: p + PduField.CAPSULE_QE + SqeField.CID, width: 2, le: true, kind: 'id', hints: [0, 1, 31, 32, 0xffff] });
      push({ name: 'sqe.nsid', at: p + PduField.CAPSULE_QE + SqeField.NSID, width: 4, le: true, kind: 'id', hints: [0, 1, 2, 0xffff_ffff] });
      push({ name: 'sqe.sgl.len', at: p + PduField.CAPSULE_QE + SqeField.DPTR_SGL_LENGTH, width: 4, le: true, kind: 'length', hints: [0, 1, 512, 4096, 0x10_0000, 0xffff_ffff] });
      push({ name: 'sqe.sgl.type', at: p + PduField.CAPSULE_QE + SqeField.DPTR_SGL_IDENTIFIER, width: 1, le: true, kind: 'type', hints: [0x00, 0x01, 0x0a, 0x5a, 0x40, 0xff] });
      push({ name: 'sqe.cdw10', at: p + PduField.CAPSULE_QE + SqeField.CDW10, width: 4, le: true, kind: 'value' });
      push({ name: 'sqe.cdw12', at: p + PduField.CAPSULE_QE + SqeField.CDW12, width: 4, le: true, kind: 'length', hints: [0, 1, 0xffff, 0xffff_ffff] });
      break;
    case 0x05:
      push({ name: 'cqe.sqhd', at: p + PduField.CAPSULE_QE + CqeField.SQHD, width: 2, le: true, kind: 'value' });
      push({ name: 'cqe.cid', at: p + PduField.CAPSULE_QE + CqeField.CID, width: 2, le: true, kind: 'id', hints: [0, 1, 2, 3, 31, 32, 0x1000, 0xffff] });
      push({ name: 'cqe.status', at: p + PduField.CAPSULE_QE + CqeField.STATUS, width: 2, le: true, kind: 'flags', hints: [0, 1, 2, 0x8, 0x100, 0x8000, 0xfffe, 0xffff] });
      break;
    case 0x06:
    case 0x07:
    case 0x09: {
      const plen = avail >= 8 ? buf.readUInt32LE(p + PduField.PLEN) : 0;
      const pdo = buf[p + PduField.PDO]!;
      push({ name: 'xfer.cccid', at: p + PduField.XFER_CCCID, width: 2, le: true, kind: 'id', hints: [0, 1, 2, 3, 7, 31, 32, 127, 0x1000, 0xffff] });
      push({ name: 'xfer.ttag', at: p + PduField.XFER_TTAG, width: 2, le: true, kind: 'id' });
      push({ name: 'xfer.datao', at: p + PduField.XFER_DATAO, width: 4, le: true, kind: 'offset', hints: [0, 1, 4096, 0x7fff_ffff, 0xffff_ffff] });
      push({ name: 'xfer.datal', at: p + PduField.XFER_DATAL, width: 4, le: true, kind: 'length', actual: Math.max(0, plen - pdo) });
      break;
    }
    default:
      break;
  }
  return out;
}

/**
 * Offsets in `buf` where an NVMe/TCP PDU header could start: 0 when `atStart`,
 * then every PDU boundary reached by stepping plen from it, and a scan for
 * bytes that look like a common header (type with its right hlen), capped.
 */
export function pduHeaderOffsets(buf: Buffer, atStart: boolean, max = 64): number[] {
  const out: number[] = [];
  if (atStart) {
    let p = 0;
    while (p + 8 <= buf.length && out.length < max) {
      out.push(p);
      const plen = new PduHeaderView(buf, p).plen;
      if (plen < 8) break;
      p += plen;
    }
  }
  for (let p = 0; p + 8 <= buf.length && out.length < max; p++) {
    const v = new PduHeaderView(buf, p);
    if (isPduType(v.type) && pduHeaderLength(v.type) === v.hlen && !out.includes(p)) out.push(p);
  }
  return out;
}

/** A value for `f` that a parser is likely to mishandle; `cur` is what the field holds now. */
export function interestingValue(f: Field, cur: number, rng: Rng): number {
  const max = f.width === 4 ? 0xffff_ffff : f.width === 2 ? 0xffff : 0xff;
  const small = 1 + rng.below(16);
  const r = rng.below(12);
  if (f.hints !== undefined && f.hints.length > 0 && r < 4) return rng.pick(f.hints);
  switch (f.kind) {
    case 'seq': {
      const deltas = [1, 2, 536, 1448, 9000, 0xffff, 0x1_0000, 0x4000_0000, 0x7fff_ffff, 0x8000_0000, rng.below(0x10_0000)];
      const d = rng.pick(deltas);
      return (rng.chance(0.5) ? cur + d : cur - d) >>> 0;
    }
    case 'length':
    case 'offset': {
      const actual = f.actual ?? cur;
      const picks = [0, 1, max, max - 1, cur + small, cur - small, cur + 4, cur - 4, actual, actual + 1, actual - 1, actual + 4, actual - 4, cur * 2, cur >>> 1, 2 ** (f.width * 8 - 1)];
      return rng.pick(picks);
    }
    default: {
      const picks = [0, 1, max, cur ^ (1 << rng.below(f.width * 8)), cur + 1, cur - 1, rng.below(max + 1)];
      return rng.pick(picks);
    }
  }
}

export function readField(buf: Buffer, f: Field): number {
  if (f.width === 1) return buf[f.at]!;
  if (f.width === 2) return f.le ? buf.readUInt16LE(f.at) : buf.readUInt16BE(f.at);
  return f.le ? buf.readUInt32LE(f.at) : buf.readUInt32BE(f.at);
}

export function writeField(buf: Buffer, f: Field, value: number): void {
  const max = f.width === 4 ? 0xffff_ffff : f.width === 2 ? 0xffff : 0xff;
  const v = ((value % (max + 1)) + (max + 1)) % (max + 1);
  if (f.width === 1) buf[f.at] = v;
  else if (f.width === 2) {
    if (f.le) buf.writeUInt16LE(v, f.at);
    else buf.writeUInt16BE(v, f.at);
  } else if (f.le) buf.writeUInt32LE(v, f.at);
  else buf.writeUInt32BE(v, f.at);
}

/** Gives one of `fields` an interesting value in place; returns the field changed, if any. */
export function mutateOneField(buf: Buffer, fields: readonly Field[], rng: Rng): Field | undefined {
  if (fields.length === 0) return undefined;
  const f = rng.pick(fields);
  if (f.at + f.width > buf.length) return undefined;
  writeField(buf, f, interestingValue(f, readField(buf, f), rng));
  return f;
}

/**
 * Makes the digests of the PDU at `buf[p]` right again where the PDU's own
 * header says it has them and the bytes are in reach: HDGST after hlen
 * header bytes, DDGST over [pdo, plen-4). Tolerant of any garbage.
 */
export function fixPduDigests(buf: Buffer, p: number): void {
  if (p < 0 || p + 8 > buf.length) return;
  const v = new PduHeaderView(buf, p);
  const { flags, hlen, pdo, plen } = v;
  if ((flags & PduFlags.HDGSTF) !== 0 && hlen >= 8 && v.hasBytes(hlen + 4)) {
    v.hdgst = crc32c(v.headerBytes());
  }
  if ((flags & PduFlags.DDGSTF) !== 0 && pdo > 0 && plen >= pdo + 4 && p + plen <= buf.length) {
    buf.writeUInt32LE(crc32c(buf.subarray(p + pdo, p + plen - 4)), p + plen - 4);
  }
}

/** Makes the IPv4 header checksum and the TCP checksum of `frame` right again, in place, where the layout allows. */
export function fixFrameChecksums(frame: Buffer): void {
  const lay = frameLayout(frame);
  if (lay.l3 < 0 || frame.length < lay.l3 + 20) return;
  const l3 = lay.l3;
  const ihl = (frame[l3 + IP_VER_IHL]! & 0x0f) * 4;
  if (ihl >= 20 && l3 + ihl <= frame.length) {
    frame.writeUInt16BE(0, l3 + IP_CSUM);
    frame.writeUInt16BE(inetChecksum(frame, l3, l3 + ihl), l3 + IP_CSUM);
  }
  if (lay.l4 < 0 || lay.payloadEnd < lay.l4 + 20) return;
  frame.writeUInt16BE(0, lay.l4 + TCP_CSUM);
  const seg = frame.subarray(lay.l4, lay.payloadEnd);
  frame.writeUInt16BE(tcpChecksum(frame.readUInt32BE(l3 + IP_SRC), frame.readUInt32BE(l3 + IP_DST), seg), lay.l4 + TCP_CSUM);
}
