/**
 * Ethernet II frames (IEEE 802.3 with an EtherType) with at most one IEEE
 * 802.1Q VLAN tag. Frames are as libpcap and AF_PACKET see them: no preamble,
 * no FCS. Parsing keeps views into the caller's buffer; nothing is copied.
 */
import { writeU16BE } from './big-endian.js';
import { needBytes, WireError } from './errors.js';

// Field offsets of the untagged header; a tag inserts TPID+TCI at 12.
const Field = { DST: 0, SRC: 6, ETHERTYPE: 12, TAG_TCI: 14, TAG_ETHERTYPE: 16 } as const;

/** Length of a MAC address in bytes. */
export const MAC_LEN = 6;
/** Header length of an untagged frame. */
export const ETH_HEADER_LEN = 14;
/** Header length of a frame with one 802.1Q tag. */
export const ETH_VLAN_HEADER_LEN = 18;
/** Minimum frame length without FCS (IEEE 802.3 §4.4.2); a NIC pads shorter frames. */
export const ETH_MIN_FRAME_LEN = 60;

/** EtherType of IPv4. */
export const ETHERTYPE_IPV4 = 0x0800;
/** EtherType of ARP. */
export const ETHERTYPE_ARP = 0x0806;
/** TPID of an 802.1Q VLAN tag. */
export const ETHERTYPE_VLAN = 0x8100;

/** The broadcast MAC address ff:ff:ff:ff:ff:ff (do not write into it). */
export const MAC_BROADCAST: Buffer = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
/** The all-zero MAC address, as the target hardware address of an ARP request (do not write into it). */
export const MAC_ZERO: Buffer = Buffer.alloc(MAC_LEN);

/** Ethernet header fields as emitted. */
export interface EthernetHeader {
  readonly dst: Uint8Array;
  readonly src: Uint8Array;
  /** EtherType of the payload (after the VLAN tag, if any). */
  readonly ethertype: number;
  /** 802.1Q VLAN id (0..4095), or undefined for an untagged frame. */
  readonly vlan?: number | undefined;
  /** 802.1Q priority code point (0..7); 0 when absent. */
  readonly vlanPcp?: number | undefined;
  /** 802.1Q drop eligible indicator; false when absent. */
  readonly vlanDei?: boolean | undefined;
}

/** A parsed Ethernet frame: header fields plus views into the frame. */
export interface EthernetRepr extends EthernetHeader {
  readonly dst: Buffer;
  readonly src: Buffer;
  readonly vlan: number | undefined;
  readonly vlanPcp: number;
  readonly vlanDei: boolean;
  /** Header length in bytes: 14, or 18 with a VLAN tag. */
  readonly headerLen: number;
  /** Everything after the header, including any padding the sender added. */
  readonly payload: Buffer;
}

/** Parses an Ethernet II header; a single 802.1Q tag is decoded, anything else is left to the caller by EtherType. */
export function parseEthernet(buf: Buffer): EthernetRepr {
  needBytes(buf, ETH_HEADER_LEN, 'ethernet header');
  let ethertype = (buf[Field.ETHERTYPE]! << 8) | buf[Field.ETHERTYPE + 1]!;
  let vlan: number | undefined;
  let vlanPcp = 0;
  let vlanDei = false;
  let headerLen = ETH_HEADER_LEN;
  if (ethertype === ETHERTYPE_VLAN) {
    needBytes(buf, ETH_VLAN_HEADER_LEN, 'ethernet 802.1Q tag');
    const tci = (buf[Field.TAG_TCI]! << 8) | buf[Field.TAG_TCI + 1]!;
    vlanPcp = tci >>> 13;
    vlanDei = (tci & 0x1000) !== 0;
    vlan = tci & 0x0fff;
    ethertype = (buf[Field.TAG_ETHERTYPE]! << 8) | buf[Field.TAG_ETHERTYPE + 1]!;
    headerLen = ETH_VLAN_HEADER_LEN;
  }
  return {
    dst: buf.subarray(Field.DST, Field.DST + MAC_LEN),
    src: buf.subarray(Field.SRC, Field.SRC + MAC_LEN),
    ethertype,
    vlan,
    vlanPcp,
    vlanDei,
    headerLen,
    payload: buf.subarray(headerLen),
  };
}

/** Header length `emitEthernet` writes for `hdr`: 14, or 18 with a VLAN tag. */
export function ethernetHeaderLen(hdr: EthernetHeader): number {
  return hdr.vlan === undefined ? ETH_HEADER_LEN : ETH_VLAN_HEADER_LEN;
}

/** Writes the Ethernet header at `out[off..]`; returns the offset just past it (where the payload goes). */
export function emitEthernet(hdr: EthernetHeader, out: Uint8Array, off = 0): number {
  checkMac(hdr.dst, 'dst');
  checkMac(hdr.src, 'src');
  checkU16(hdr.ethertype, 'ethertype');
  const len = ethernetHeaderLen(hdr);
  needBytes(out, off + len, 'ethernet output');
  out.set(hdr.dst, off + Field.DST);
  out.set(hdr.src, off + Field.SRC);
  let typeAt = off + Field.ETHERTYPE;
  if (hdr.vlan !== undefined) {
    const pcp = hdr.vlanPcp ?? 0;
    if (!Number.isInteger(hdr.vlan) || hdr.vlan < 0 || hdr.vlan > 0x0fff) {
      throw new WireError('BAD_FIELD', `802.1Q VLAN id ${hdr.vlan} out of range`, { field: 'vlan', expected: '0..4095', got: hdr.vlan });
    }
    if (!Number.isInteger(pcp) || pcp < 0 || pcp > 7) {
      throw new WireError('BAD_FIELD', `802.1Q priority ${pcp} out of range`, { field: 'vlanPcp', expected: '0..7', got: pcp });
    }
    const tci = (pcp << 13) | (hdr.vlanDei === true ? 0x1000 : 0) | hdr.vlan;
    writeU16BE(out, off + Field.ETHERTYPE, ETHERTYPE_VLAN);
    writeU16BE(out, off + Field.TAG_TCI, tci);
    typeAt = off + Field.TAG_ETHERTYPE;
  }
  writeU16BE(out, typeAt, hdr.ethertype);
  return off + len;
}

/** Builds a whole frame: header followed by a copy of `payload` (no padding to 60 bytes: veth and libpcap injection need none). */
export function buildEthernet(hdr: EthernetHeader, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(ethernetHeaderLen(hdr) + payload.length);
  const at = emitEthernet(hdr, out, 0);
  out.set(payload, at);
  return out;
}

/** Formats a MAC address as lower-case colon-separated hex ("02:00:00:00:00:01"). */
export function macToString(mac: Uint8Array): string {
  checkMac(mac, 'mac');
  let s = '';
  for (let i = 0; i < MAC_LEN; i++) {
    if (i > 0) s += ':';
    s += mac[i]!.toString(16).padStart(2, '0');
  }
  return s;
}

/** Parses "aa:bb:cc:dd:ee:ff" (or with '-') into a new 6-byte Buffer; BAD_FIELD otherwise. */
export function parseMac(text: string): Buffer {
  const m = /^([0-9a-f]{1,2})[:-]([0-9a-f]{1,2})[:-]([0-9a-f]{1,2})[:-]([0-9a-f]{1,2})[:-]([0-9a-f]{1,2})[:-]([0-9a-f]{1,2})$/i.exec(
    text.trim(),
  );
  if (m === null) {
    throw new WireError('BAD_FIELD', `not a MAC address: '${text}'`, { field: 'mac', expected: 'aa:bb:cc:dd:ee:ff', got: text });
  }
  const mac = Buffer.allocUnsafe(MAC_LEN);
  for (let i = 0; i < MAC_LEN; i++) mac[i] = parseInt(m[i + 1]!, 16);
  return mac;
}

function checkMac(mac: Uint8Array, field: string): void {
  if (mac.length !== MAC_LEN) {
    throw new WireError('BAD_FIELD', `MAC address ${field} must be ${MAC_LEN} bytes, got ${mac.length}`, {
      field,
      expected: MAC_LEN,
      got: mac.length,
    });
  }
}

function checkU16(v: number, field: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) {
    throw new WireError('BAD_FIELD', `${field} ${v} is not a 16-bit value`, { field, expected: '0..65535', got: v });
  }
}
