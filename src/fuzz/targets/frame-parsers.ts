/**
 * Fuzz targets for the L2–L4 codecs (src/wire/ethernet.ts, arp.ts, ipv4.ts,
 * tcp.ts, frame.ts). Each parser may answer bad bytes only with a
 * WireError; what it accepts must be consistent (lengths within the buffer,
 * payloads that are views of it) and must survive its own emitter:
 * emit(parse(x)) gives back x's header bytes (checksums aside), or, where
 * the repr normalises (TCP options in Linux's layout, frames rebuilt),
 * parse(emit(parse(x))) equals parse(x).
 */
import { ARP_LEN, emitArp, parseArp } from '../../wire/arp.js';
import { WireError } from '../../wire/errors.js';
import { buildEthernet, parseEthernet } from '../../wire/ethernet.js';
import { buildFrame, parseFrame, type FrameRepr } from '../../wire/frame.js';
import { emitIpv4, parseIpv4, verifyIpv4Checksum } from '../../wire/ipv4.js';
import { emitTcp, parseTcp, verifyTcpChecksum } from '../../wire/tcp.js';
import { mutateBytesInput } from '../bytes-input-mutator.js';
import { captureFrameSample } from '../capture-seeds.js';
import { frameSeeds } from '../emitter-seeds.js';
import { fixFrameChecksums, frameFields, frameLayout, type Field } from '../field-mutator.js';
import { reprDiff } from '../repr-diff.js';
import type { Rng } from '../rng.js';
import { check, FuzzViolation, tolerate, type FuzzInput, type FuzzTarget } from '../target.js';

const MAX_FRAME = 9018 + 64;

/** True when `view` lies inside `buf`'s bytes [from, to). */
function isViewOf(view: Uint8Array, buf: Uint8Array, from = 0, to = buf.length): boolean {
  return view.buffer === buf.buffer && view.byteOffset >= buf.byteOffset + from && view.byteOffset + view.length <= buf.byteOffset + to;
}

function roundTrip(what: string, a: unknown, b: unknown): void {
  const d = reprDiff(a, b);
  if (d !== undefined) throw new FuzzViolation('invariant', `${what}: parse → emit → parse changed ${d}`);
}

/** Ethernet/IPv4/TCP frames: shared seeds and mutation, with the L3/L4 header moved to offset 0 for the lower-layer targets. */
function frameCorpus(strip: (frame: Buffer) => Buffer | undefined): FuzzInput[] {
  const out: FuzzInput[] = [];
  for (const f of [...frameSeeds(), ...captureFrameSample()]) {
    const b = strip(f);
    if (b !== undefined) out.push([b]);
  }
  return out;
}

function l3Of(frame: Buffer): Buffer | undefined {
  const lay = frameLayout(frame);
  return lay.l3 < 0 ? undefined : frame.subarray(lay.l3);
}

function l4Of(frame: Buffer): Buffer | undefined {
  const lay = frameLayout(frame);
  return lay.l4 < 0 ? undefined : frame.subarray(lay.l4, lay.payloadEnd);
}

/** Fields of a buffer that starts at the IPv4 header: the frame fields of a dummy Ethernet header in front, shifted back. */
function fieldsFromOffset(prefix: Buffer): (buf: Buffer) => Field[] {
  return (buf) => {
    const framed = Buffer.concat([prefix, buf]);
    return frameFields(framed)
      .map((f) => ({ ...f, at: f.at - prefix.length }))
      .filter((f) => f.at >= 0 && f.at + f.width <= buf.length);
  };
}

const ETH_IPV4_PREFIX = Buffer.from([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);

function mutator(maxLen: number, fields?: (b: Buffer) => Field[], repair?: (b: Buffer) => void) {
  return (parent: FuzzInput, rng: Rng, donor: FuzzInput): FuzzInput =>
    mutateBytesInput(parent, rng, donor, { maxLen, ...(fields ? { fields } : {}), ...(repair ? { repair } : {}) });
}

export const ethernetTarget: FuzzTarget = {
  name: 'ethernet',
  description: 'parseEthernet: typed errors only; payload a view; buildEthernet(parse(x)) === x',
  shape: 'bytes',
  weight: 1,
  coverageBatch: 512,
  seeds: () => frameCorpus((f) => f),
  mutate: mutator(MAX_FRAME, frameFields),
  execute(input) {
    const buf = input[0]!;
    const r = tolerate(() => parseEthernet(buf), WireError);
    if (!r.ok) return;
    const eth = r.value;
    check(eth.headerLen === (eth.vlan === undefined ? 14 : 18), `headerLen ${eth.headerLen} with vlan ${eth.vlan}`);
    check(isViewOf(eth.payload, buf, eth.headerLen) && eth.payload.length === buf.length - eth.headerLen, 'payload is not the rest of the frame');
    const again = tolerate(() => buildEthernet(eth, eth.payload), WireError);
    check(again.ok, () => `buildEthernet refused what parseEthernet accepted: ${again.ok ? '' : again.error.message}`);
    check(again.value.equals(buf), 'buildEthernet(parseEthernet(x)) differs from x');
  },
};

export const arpTarget: FuzzTarget = {
  name: 'arp',
  description: 'parseArp: typed errors only; emitArp(parse(x)) === x[0..28)',
  shape: 'bytes',
  weight: 0.5,
  coverageBatch: 512,
  seeds: () => frameCorpus((f) => (f.length >= 14 && f.readUInt16BE(12) === 0x0806 ? f.subarray(14) : f.length >= 18 && f.readUInt16BE(16) === 0x0806 ? f.subarray(18) : undefined)),
  mutate: mutator(128),
  execute(input) {
    const buf = input[0]!;
    const r = tolerate(() => parseArp(buf), WireError);
    if (!r.ok) return;
    const out = Buffer.alloc(ARP_LEN);
    const e = tolerate(() => emitArp(r.value, out, 0), WireError);
    check(e.ok, () => `emitArp refused what parseArp accepted: ${e.ok ? '' : e.error.message}`);
    check(out.equals(buf.subarray(0, ARP_LEN)), 'emitArp(parseArp(x)) differs from x');
  },
};

export const ipv4Target: FuzzTarget = {
  name: 'ipv4',
  description: 'parseIpv4: typed errors only; lengths within the buffer; emitIpv4(parse(x)) repeats the header',
  shape: 'bytes',
  weight: 1,
  coverageBatch: 512,
  seeds: () => frameCorpus(l3Of),
  mutate: mutator(MAX_FRAME, fieldsFromOffset(ETH_IPV4_PREFIX), (b) => {
    const framed = Buffer.concat([ETH_IPV4_PREFIX, b]);
    fixFrameChecksums(framed);
    framed.copy(b, 0, ETH_IPV4_PREFIX.length);
  }),
  execute(input) {
    const buf = input[0]!;
    const r = tolerate(() => parseIpv4(buf), WireError);
    verifyIpv4Checksum(buf);
    if (!r.ok) return;
    const ip = r.value;
    check(ip.headerLen >= 20 && ip.headerLen <= 60 && ip.headerLen % 4 === 0, `headerLen ${ip.headerLen}`);
    check(ip.totalLength <= buf.length && ip.totalLength >= ip.headerLen, `totalLength ${ip.totalLength} of ${buf.length}`);
    check(isViewOf(ip.payload, buf, ip.headerLen, ip.totalLength) && ip.payload.length === ip.totalLength - ip.headerLen, 'payload is not [headerLen, totalLength)');
    const out = Buffer.alloc(ip.headerLen);
    const e = tolerate(() => emitIpv4(ip, out, 0), WireError);
    check(e.ok, () => `emitIpv4 refused what parseIpv4 accepted: ${e.ok ? '' : e.error.message}`);
    // Everything but the checksum (recomputed by emit) must come back.
    out.writeUInt16BE(ip.checksum, 10);
    check(out.equals(buf.subarray(0, ip.headerLen)), 'emitIpv4(parseIpv4(x)) differs from x');
  },
};

export const tcpTarget: FuzzTarget = {
  name: 'tcp',
  description: 'parseTcp: typed errors only; raw options repeat the header; Linux-layout options parse back the same',
  shape: 'bytes',
  weight: 1,
  coverageBatch: 512,
  seeds: () => frameCorpus(l4Of),
  mutate: mutator(MAX_FRAME, fieldsFromOffset(Buffer.concat([ETH_IPV4_PREFIX, Buffer.from([0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 6, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2])]))),
  execute(input) {
    const buf = input[0]!;
    const r = tolerate(() => parseTcp(buf), WireError);
    verifyTcpChecksum(0xc000_0201, 0xc000_0202, buf);
    if (!r.ok) return;
    const tcp = r.value;
    check(tcp.headerLen >= 20 && tcp.headerLen <= 60 && tcp.headerLen <= buf.length, `headerLen ${tcp.headerLen} of ${buf.length}`);
    check(tcp.payload.length === buf.length - tcp.headerLen && (tcp.payload.length === 0 || isViewOf(tcp.payload, buf, tcp.headerLen)), 'payload is not the rest of the segment');
    check(tcp.flags >= 0 && tcp.flags <= 0x0fff, `flags ${tcp.flags}`);
    // Verbatim options: the header comes back byte for byte (checksum aside).
    const raw = buf.subarray(20, tcp.headerLen);
    const out = Buffer.alloc(tcp.headerLen);
    const e = tolerate(() => emitTcp({ ...tcp, rawOptions: raw }, out, 0, 0xc000_0201, 0xc000_0202, tcp.payload), WireError);
    check(e.ok, () => `emitTcp refused what parseTcp accepted: ${e.ok ? '' : e.error.message}`);
    out.writeUInt16BE(tcp.checksum, 16);
    check(out.equals(buf.subarray(0, tcp.headerLen)), 'emitTcp(parseTcp(x)) with raw options differs from x');
    // Options in Linux's layout may not fit (a refusal is a typed answer); when they do, they mean the same.
    const linux = Buffer.alloc(60);
    const e2 = tolerate(() => emitTcp({ ...tcp, rawOptions: undefined }, linux, 0, 1, 2), WireError);
    if (!e2.ok) return;
    const back = tolerate(() => parseTcp(linux.subarray(0, e2.value)), WireError);
    check(back.ok, () => `parseTcp refused emitTcp's own header: ${back.ok ? '' : back.error.message}`);
    roundTrip('tcp options', tcp.options, back.value.options);
  },
};

/** What a frame means, without what buildFrame recomputes (lengths, checksums, the TCP option layout). */
function frameReprWithoutViews(f: FrameRepr): unknown {
  return {
    eth: { dst: f.eth.dst, src: f.eth.src, ethertype: f.eth.ethertype, vlan: f.eth.vlan, vlanPcp: f.eth.vlanPcp, vlanDei: f.eth.vlanDei },
    ip: f.ip && { ...f.ip, payload: undefined, checksum: undefined, totalLength: undefined, payloadLen: undefined },
    tcp: f.tcp && { ...f.tcp, payload: undefined, checksum: undefined, headerLen: undefined, rawOptions: undefined },
    arp: f.arp,
    payload: f.payload,
  };
}

export const frameTarget: FuzzTarget = {
  name: 'frame',
  description: 'parseFrame: typed errors only; layers consistent; parse(buildFrame(parse(x))) === parse(x)',
  shape: 'bytes',
  weight: 1,
  coverageBatch: 512,
  seeds: () => frameCorpus((f) => f),
  mutate: mutator(MAX_FRAME, frameFields, fixFrameChecksums),
  execute(input) {
    const buf = input[0]!;
    const r = tolerate(() => parseFrame(buf), WireError);
    if (!r.ok) return;
    const f = r.value;
    check(isViewOf(f.payload, buf) || f.payload.length === 0, 'payload is not a view of the frame');
    if (f.tcp !== undefined) {
      check(f.ip !== undefined, 'TCP without IPv4');
      check(f.ip.payload.length === f.tcp.headerLen + f.tcp.payload.length, 'TCP header + payload is not the IPv4 payload');
    }
    // buildFrame re-emits TCP options in Linux's layout: only the TCP options may be refused.
    const b = tolerate(() => buildFrame(f), WireError);
    if (!b.ok) {
      check(f.tcp !== undefined && b.error.message.includes('options'), () => `buildFrame refused what parseFrame accepted: ${b.error.message}`);
      return;
    }
    const again = tolerate(() => parseFrame(b.value), WireError);
    check(again.ok, () => `parseFrame refused buildFrame's own frame: ${again.ok ? '' : again.error.message}`);
    roundTrip('frame', frameReprWithoutViews(f), frameReprWithoutViews(again.value));
  },
};
