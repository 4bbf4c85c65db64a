/**
 * ARP (RFC 826) for IPv4 over Ethernet, the only pairing ddplab speaks:
 * hardware type 1, protocol type 0x0800, address lengths 6 and 4. Any other
 * pairing or opcode (RARP, InARP) is UNSUPPORTED rather than malformed.
 */
import { needBytes, WireError } from './errors.js';
import { ETHERTYPE_IPV4, MAC_LEN } from './ethernet.js';

const HTYPE = 0;
const PTYPE = 2;
const HLEN = 4;
const PLEN = 5;
const OPER = 6;
const SHA = 8;
const SPA = 14;
const THA = 18;
const TPA = 24;

/** Length of an Ethernet/IPv4 ARP packet. */
export const ARP_LEN = 28;
/** Hardware type of Ethernet. */
export const ARP_HTYPE_ETHERNET = 1;
/** ARP opcode of a request. */
export const ARP_REQUEST = 1;
/** ARP opcode of a reply. */
export const ARP_REPLY = 2;

/** ARP opcodes ddplab handles. */
export type ArpOperation = typeof ARP_REQUEST | typeof ARP_REPLY;

/** ARP fields as emitted. */
export interface ArpHeader {
  readonly operation: ArpOperation;
  readonly senderMac: Uint8Array;
  readonly senderIp: number;
  /** Zero in a request: the address being asked for is unknown. */
  readonly targetMac: Uint8Array;
  readonly targetIp: number;
}

/** A parsed ARP packet; MACs are views into the frame. */
export interface ArpRepr extends ArpHeader {
  readonly senderMac: Buffer;
  readonly targetMac: Buffer;
}

/** Parses an Ethernet/IPv4 ARP request or reply; bytes past 28 (Ethernet padding) are ignored. */
export function parseArp(buf: Buffer): ArpRepr {
  needBytes(buf, ARP_LEN, 'arp packet');
  const htype = (buf[HTYPE]! << 8) | buf[HTYPE + 1]!;
  const ptype = (buf[PTYPE]! << 8) | buf[PTYPE + 1]!;
  const hlen = buf[HLEN]!;
  const plen = buf[PLEN]!;
  if (htype !== ARP_HTYPE_ETHERNET || ptype !== ETHERTYPE_IPV4 || hlen !== MAC_LEN || plen !== 4) {
    throw new WireError('UNSUPPORTED', `ARP for htype ${htype} ptype 0x${ptype.toString(16)} hlen ${hlen} plen ${plen}`, {
      field: 'htype/ptype',
      expected: 'Ethernet/IPv4 (1, 0x0800, 6, 4)',
      got: `${htype}, 0x${ptype.toString(16)}, ${hlen}, ${plen}`,
    });
  }
  const operation = (buf[OPER]! << 8) | buf[OPER + 1]!;
  if (!isArpOperation(operation)) {
    throw new WireError('UNSUPPORTED', `ARP opcode ${operation}`, { field: 'operation', expected: '1 or 2', got: operation });
  }
  return {
    operation,
    senderMac: buf.subarray(SHA, SHA + MAC_LEN),
    senderIp: buf.readUInt32BE(SPA),
    targetMac: buf.subarray(THA, THA + MAC_LEN),
    targetIp: buf.readUInt32BE(TPA),
  };
}

/** Writes the 28-byte ARP packet at `out[off..]`; returns the offset just past it. */
export function emitArp(hdr: ArpHeader, out: Uint8Array, off = 0): number {
  if (!isArpOperation(hdr.operation)) {
    throw new WireError('UNSUPPORTED', `ARP opcode ${String(hdr.operation)}`, { field: 'operation', expected: '1 or 2', got: hdr.operation });
  }
  for (const [field, mac] of [['senderMac', hdr.senderMac], ['targetMac', hdr.targetMac]] as const) {
    if (mac.length !== MAC_LEN) {
      throw new WireError('BAD_FIELD', `ARP ${field} must be ${MAC_LEN} bytes`, { field, expected: MAC_LEN, got: mac.length });
    }
  }
  for (const [field, ip] of [['senderIp', hdr.senderIp], ['targetIp', hdr.targetIp]] as const) {
    if (!Number.isInteger(ip) || ip < 0 || ip > 0xffff_ffff) {
      throw new WireError('BAD_FIELD', `ARP ${field} ${ip} is not a u32 address`, { field, expected: '0..2^32-1', got: ip });
    }
  }
  needBytes(out, off + ARP_LEN, 'arp output');
  writeU16(out, off + HTYPE, ARP_HTYPE_ETHERNET);
  writeU16(out, off + PTYPE, ETHERTYPE_IPV4);
  out[off + HLEN] = MAC_LEN;
  out[off + PLEN] = 4;
  writeU16(out, off + OPER, hdr.operation);
  out.set(hdr.senderMac, off + SHA);
  writeU32(out, off + SPA, hdr.senderIp);
  out.set(hdr.targetMac, off + THA);
  writeU32(out, off + TPA, hdr.targetIp);
  return off + ARP_LEN;
}

function isArpOperation(op: number): op is ArpOperation {
  return op === ARP_REQUEST || op === ARP_REPLY;
}

function writeU16(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 8;
  out[at + 1] = v & 0xff;
}

function writeU32(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 24;
  out[at + 1] = (v >>> 16) & 0xff;
  out[at + 2] = (v >>> 8) & 0xff;
  out[at + 3] = v & 0xff;
}
