/**
 * Whole frames as the NIC and the tests handle them: Ethernet (+802.1Q) →
 * IPv4 → TCP, or Ethernet → ARP. Composes the per-protocol codecs; adds no
 * rules of its own beyond "fragments are not reassembled".
 */
import { ARP_LEN, ARP_REPLY, ARP_REQUEST, emitArp, parseArp } from './arp.js';
import type { ArpHeader, ArpOperation, ArpRepr } from './arp.js';
import { WireError } from './errors.js';
import {
  emitEthernet,
  ethernetHeaderLen,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  MAC_BROADCAST,
  MAC_ZERO,
  parseEthernet,
} from './ethernet.js';
import type { EthernetHeader, EthernetRepr } from './ethernet.js';
import { emitIpv4, ipv4HeaderLen, IPPROTO_TCP, IPV4_DF, IPV4_MF, parseIpv4 } from './ipv4.js';
import type { Ipv4Header, Ipv4Repr } from './ipv4.js';
import { emitTcp, parseTcp, tcpHeaderLen } from './tcp.js';
import type { TcpHeader, TcpRepr } from './tcp.js';

/** A parsed frame; layers that are absent are undefined. */
export interface FrameRepr {
  readonly eth: EthernetRepr;
  readonly ip: Ipv4Repr | undefined;
  readonly tcp: TcpRepr | undefined;
  readonly arp: ArpRepr | undefined;
  /**
   * The bytes above the innermost parsed header: TCP payload; the IPv4
   * payload for other protocols and fragments; empty after ARP; the Ethernet
   * payload for other EtherTypes. Ethernet padding after an IPv4 packet or an
   * ARP packet is never part of it.
   */
  readonly payload: Buffer;
}

const EMPTY: Buffer = Buffer.alloc(0);

/**
 * Parses Ethernet, then IPv4 and TCP, or ARP. IPv4 fragments are not
 * reassembled: their TCP header is not parsed (tcp undefined, payload = the
 * fragment). Throws WireError for anything malformed; checksums are not
 * verified here (verifyIpv4Checksum / verifyTcpChecksum on ip.payload).
 */
export function parseFrame(buf: Buffer): FrameRepr {
  const eth = parseEthernet(buf);
  if (eth.ethertype === ETHERTYPE_IPV4) {
    const ip = parseIpv4(eth.payload);
    if (ip.protocol === IPPROTO_TCP && ip.fragOffsetBytes === 0 && (ip.flags & IPV4_MF) === 0) {
      const tcp = parseTcp(ip.payload);
      return { eth, ip, tcp, arp: undefined, payload: tcp.payload };
    }
    return { eth, ip, tcp: undefined, arp: undefined, payload: ip.payload };
  }
  if (eth.ethertype === ETHERTYPE_ARP) {
    return { eth, ip: undefined, tcp: undefined, arp: parseArp(eth.payload), payload: EMPTY };
  }
  return { eth, ip: undefined, tcp: undefined, arp: undefined, payload: eth.payload };
}

/** The two ends of a TCP frame: addresses and ports, sender first. */
export interface TcpFrameEnds extends Pick<TcpHeader, 'srcPort' | 'dstPort'> {
  readonly srcMac: Uint8Array;
  readonly dstMac: Uint8Array;
  readonly srcIp: number;
  readonly dstIp: number;
}

/**
 * What `buildTcpFrame` needs: the ends, the TCP header as `emitTcp` takes
 * it, and the rest; optional fields default as a Linux sender would set them.
 */
export interface TcpFrameSpec extends TcpFrameEnds, TcpHeader {
  /** One buffer or a list of fragments, copied into the frame; none by default. */
  readonly payload?: Uint8Array | readonly Uint8Array[] | undefined;
  /** IPv4 identification; 0 by default. */
  readonly ipId?: number | undefined;
  /** 64 by default (Linux ip_default_ttl). */
  readonly ttl?: number | undefined;
  readonly tos?: number | undefined;
  /** IPv4 flag bits; IPV4_DF by default, as Linux TCP sets with path-MTU discovery. */
  readonly ipFlags?: number | undefined;
  /** 802.1Q VLAN id; untagged by default. */
  readonly vlan?: number | undefined;
}

/** Builds an Ethernet/IPv4/TCP frame with correct IPv4 and TCP checksums (no padding to 60 bytes). */
export function buildTcpFrame(spec: TcpFrameSpec): Buffer {
  const payload = spec.payload ?? EMPTY;
  const payloadLen = lengthOf(payload);
  const eth: EthernetHeader = { dst: spec.dstMac, src: spec.srcMac, ethertype: ETHERTYPE_IPV4, vlan: spec.vlan };
  const tcp: TcpHeader = spec;
  const tcpLen = tcpHeaderLen(tcp);
  const ip: Ipv4Header = {
    src: spec.srcIp,
    dst: spec.dstIp,
    protocol: IPPROTO_TCP,
    ttl: spec.ttl ?? 64,
    id: spec.ipId ?? 0,
    tos: spec.tos,
    flags: spec.ipFlags ?? IPV4_DF,
    payloadLen: tcpLen + payloadLen,
  };
  const out = Buffer.allocUnsafe(ethernetHeaderLen(eth) + ipv4HeaderLen(ip) + tcpLen + payloadLen);
  let at = emitEthernet(eth, out, 0);
  at = emitIpv4(ip, out, at);
  at = emitTcp(tcp, out, at, spec.srcIp, spec.dstIp, payload);
  copyPayload(payload, out, at);
  return out;
}

/** What `buildArpFrame` needs. */
export interface ArpFrameSpec {
  readonly operation: ArpOperation;
  readonly senderMac: Uint8Array;
  readonly senderIp: number;
  readonly targetIp: number;
  /** Defaults to zero in a request; required in a reply. */
  readonly targetMac?: Uint8Array | undefined;
  /** Ethernet source; defaults to senderMac. */
  readonly srcMac?: Uint8Array | undefined;
  /** Ethernet destination; defaults to broadcast for a request, targetMac for a reply. */
  readonly dstMac?: Uint8Array | undefined;
  readonly vlan?: number | undefined;
}

/** Builds an Ethernet/ARP request or reply frame (42 bytes, 46 with a VLAN tag; no padding). */
export function buildArpFrame(spec: ArpFrameSpec): Buffer {
  const targetMac = spec.targetMac ?? (spec.operation === ARP_REQUEST ? MAC_ZERO : undefined);
  if (targetMac === undefined) {
    throw new WireError('BAD_FIELD', 'an ARP reply needs targetMac', { field: 'targetMac', expected: '6 bytes', got: 'undefined' });
  }
  const eth: EthernetHeader = {
    dst: spec.dstMac ?? (spec.operation === ARP_REPLY ? targetMac : MAC_BROADCAST),
    src: spec.srcMac ?? spec.senderMac,
    ethertype: ETHERTYPE_ARP,
    vlan: spec.vlan,
  };
  const arp: ArpHeader = {
    operation: spec.operation,
    senderMac: spec.senderMac,
    senderIp: spec.senderIp,
    targetMac,
    targetIp: spec.targetIp,
  };
  const out = Buffer.allocUnsafe(ethernetHeaderLen(eth) + ARP_LEN);
  emitArp(arp, out, emitEthernet(eth, out, 0));
  return out;
}

/** Headers of a frame to re-emit: what parseFrame returns, or the same shape built by hand. */
export interface FrameHeaders {
  readonly eth: EthernetHeader;
  readonly ip?: Ipv4Header | undefined;
  readonly tcp?: TcpHeader | undefined;
  readonly arp?: ArpHeader | undefined;
  readonly payload: Uint8Array;
}

/**
 * Emits a frame from its headers, recomputing lengths and checksums:
 * buildFrame(parseFrame(b)) === b for any well-formed frame without Ethernet
 * padding, whose TCP options use Linux's layout, and whose checksums are right.
 */
export function buildFrame(frame: FrameHeaders): Buffer {
  const { eth, ip, tcp, arp, payload } = frame;
  const tcpLen = tcp === undefined ? 0 : tcpHeaderLen(tcp);
  const ipFull: Ipv4Header | undefined = ip === undefined ? undefined : { ...ip, payloadLen: tcpLen + payload.length };
  const l3Len = ipFull !== undefined ? ipv4HeaderLen(ipFull) + ipFull.payloadLen : arp !== undefined ? ARP_LEN + payload.length : payload.length;
  const out = Buffer.allocUnsafe(ethernetHeaderLen(eth) + l3Len);
  let at = emitEthernet(eth, out, 0);
  if (ipFull !== undefined) {
    at = emitIpv4(ipFull, out, at);
    if (tcp !== undefined) at = emitTcp(tcp, out, at, ipFull.src, ipFull.dst, payload);
  } else if (arp !== undefined) {
    at = emitArp(arp, out, at);
  }
  out.set(payload, at);
  return out;
}

function lengthOf(data: Uint8Array | readonly Uint8Array[]): number {
  if (data instanceof Uint8Array) return data.length;
  let n = 0;
  for (let k = 0; k < data.length; k++) n += data[k]!.length;
  return n;
}

function copyPayload(data: Uint8Array | readonly Uint8Array[], out: Uint8Array, at: number): void {
  if (data instanceof Uint8Array) {
    out.set(data, at);
    return;
  }
  for (let k = 0; k < data.length; k++) {
    out.set(data[k]!, at);
    at += data[k]!.length;
  }
}
