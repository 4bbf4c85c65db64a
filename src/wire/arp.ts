/**
 * ARP (RFC 826) for IPv4 over Ethernet, the only pairing ddplab speaks:
 * hardware type 1, protocol type 0x0800, address lengths 6 and 4. Any other
 * pairing or opcode (RARP, InARP) is UNSUPPORTED rather than malformed.
 */
import { writeU16BE, writeU32BE } from './big-endian.js';
import { needBytes, WireError } from './errors.js';
import { ETHERTYPE_IPV4, MAC_LEN } from './ethernet.js';

// Field offsets (RFC 826, Ethernet/IPv4).
const Field = { HTYPE: 0, PTYPE: 2, HLEN: 4, PLEN: 5, OPER: 6, SHA: 8, SPA: 14, THA: 18, TPA: 24 } as const;

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
  const htype = (buf[Field.HTYPE]! << 8) | buf[Field.HTYPE + 1]!;
  const ptype = (buf[Field.PTYPE]! << 8) | buf[Field.PTYPE + 1]!;
  const hlen = buf[Field.HLEN]!;
  const plen = buf[Field.PLEN]!;
  if (htype !== ARP_HTYPE_ETHERNET || ptype !== ETHERTYPE_IPV4 || hlen !== MAC_LEN || plen !== 4) {
    throw new WireError('UNSUPPORTED', `ARP for htype ${htype} ptype 0x${ptype.toString(16)} hlen ${hlen} plen ${plen}`, {
      field: 'htype/ptype',
      expected: 'Ethernet/IPv4 (1, 0x0800, 6, 4)',
      got: `${htype}, 0x${ptype.toString(16)}, ${hlen}, ${plen}`,
    });
  }
  const operation = (buf[Field.OPER]! << 8) | buf[Field.OPER + 1]!;
  if (!isArpOperation(operation)) {
    throw new WireError('UNSUPPORTED', `ARP opcode ${operation}`, { field: 'operation', expected: '1 or 2', got: operation });
  }
  return {
    operation,
    senderMac: buf.subarray(Field.SHA, Field.SHA + MAC_LEN),
    senderIp: buf.readUInt32BE(Field.SPA),
    targetMac: buf.subarray(Field.THA, Field.THA + MAC_LEN),
    targetIp: buf.readUInt32BE(Field.TPA),
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
  writeU16BE(out, off + Field.HTYPE, ARP_HTYPE_ETHERNET);
  writeU16BE(out, off + Field.PTYPE, ETHERTYPE_IPV4);
  out[off + Field.HLEN] = MAC_LEN;
  out[off + Field.PLEN] = 4;
  writeU16BE(out, off + Field.OPER, hdr.operation);
  out.set(hdr.senderMac, off + Field.SHA);
  writeU32BE(out, off + Field.SPA, hdr.senderIp);
  out.set(hdr.targetMac, off + Field.THA);
  writeU32BE(out, off + Field.TPA, hdr.targetIp);
  return off + ARP_LEN;
}

function isArpOperation(op: number): op is ArpOperation {
  return op === ARP_REQUEST || op === ARP_REPLY;
}
