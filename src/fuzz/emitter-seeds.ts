/**
 * Valid inputs made by ddplab's own emitters, for the fuzzer to start from:
 * every NVMe/TCP PDU type with and without digests and padding, PDU streams
 * as a controller sends them, the NVMe commands and data structures ddplab
 * speaks, Ethernet frames (TCP with every option ddplab knows, ARP, 802.1Q,
 * a non-TCP IPv4 packet) and a pcap file. Mutating valid inputs reaches the
 * code behind the first checks; random bytes rarely do.
 */
import { ARP_REPLY, ARP_REQUEST } from '../wire/arp.js';
import { buildCqe, cqeWith } from '../wire/nvme-cqe.js';
import { buildConnectData, NVMF_CNTLID_DYNAMIC } from '../wire/nvme-fabrics.js';
import { buildIdCtrl, buildIdNs, buildNsList, NvmeCtrlSgls, NvmeCtrlType, NvmeIdCns } from '../wire/nvme-identify.js';
import { buildNvmeCommand, type NvmeCommand } from '../wire/nvme-command.js';
import { NvmeReg } from '../wire/nvme-registers.js';
import { sglInCapsule, sglNoData, sglTransportData } from '../wire/nvme-sqe.js';
import { emitPduBuffer, PduType, TermReqFes, type Pdu, type PduEmitOptions } from '../wire/nvme-tcp-pdu.js';
import { buildArpFrame, buildTcpFrame } from '../wire/frame.js';
import { buildEthernet } from '../wire/ethernet.js';
import { buildIpv4, IPPROTO_ICMP } from '../wire/ipv4.js';
import { buildPcapFile } from '../wire/pcap.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../wire/tcp.js';
import { xorshift32Bytes } from '../base/seeded-rng.js';

/** The addresses of ddplab's default topology (docs/design.md, "Addressing"). */
export const SEED_HOST = { mac: Buffer.from([2, 0, 0, 0, 0, 2]), ip: 0xc000_0202, port: 40_000 } as const;
export const SEED_TARGET = { mac: Buffer.from([2, 0, 0, 0, 0, 1]), ip: 0xc000_0201, port: 4420 } as const;

function bytes(len: number, seed: number): Buffer {
  return xorshift32Bytes(len, (seed * 2654435761) >>> 0 || 1);
}

/** One PDU of every type (data PDUs in a few sizes), with the digest and PDA variants that change the layout. */
export function pduSamples(): { pdu: Pdu; opts: PduEmitOptions }[] {
  const sqe = buildNvmeCommand({ kind: 'read', cid: 3, nsid: 1, slba: 8, nlb: 7, dptr: sglTransportData(4096) });
  const cqe = buildCqe(cqeWith({ cid: 3, sqId: 1, sqHead: 4 }));
  const pdus: Pdu[] = [
    { type: PduType.ICReq, pfv: 0, hpda: 0, hdgstEnable: true, ddgstEnable: true, maxr2t: 0 },
    { type: PduType.ICResp, pfv: 0, cpda: 0, hdgstEnable: false, ddgstEnable: true, maxh2cdata: 0x40_0000 },
    { type: PduType.H2CTermReq, fes: TermReqFes.InvalidHeaderField, fei: 2, data: [bytes(24, 1)] },
    { type: PduType.C2HTermReq, fes: TermReqFes.PduSequenceError, fei: 0, data: [] },
    { type: PduType.CapsuleCmd, sqe, data: [] },
    { type: PduType.CapsuleCmd, sqe, data: [bytes(64, 2)] },
    { type: PduType.CapsuleResp, cqe },
    { type: PduType.H2CData, cccid: 3, ttag: 1, datao: 0, datal: 100, lastPdu: true, data: [bytes(100, 3)] },
    { type: PduType.C2HData, cccid: 3, datao: 0, datal: 1, lastPdu: false, success: false, data: [bytes(1, 4)] },
    { type: PduType.C2HData, cccid: 3, datao: 512, datal: 700, lastPdu: true, success: true, data: [bytes(700, 5)] },
    { type: PduType.R2T, cccid: 3, ttag: 7, r2to: 0, r2tl: 8192 },
  ];
  const out: { pdu: Pdu; opts: PduEmitOptions }[] = [];
  const variants: PduEmitOptions[] = [{}, { hdgst: true }, { ddgst: true }, { hdgst: true, ddgst: true, pda: 3 }, { pda: 31 }];
  for (const pdu of pdus) for (const opts of variants) out.push({ pdu, opts });
  return out;
}

/** Every sample PDU as wire bytes. */
export function pduSeeds(): Buffer[] {
  return pduSamples().map(({ pdu, opts }) => emitPduBuffer(pdu, opts));
}

/** Whole PDU headers worth splicing into byte strings (a fuzzer's dictionary). */
export function pduDictionary(): Buffer[] {
  const out: Buffer[] = [];
  for (const { pdu, opts } of pduSamples()) {
    const b = emitPduBuffer(pdu, opts);
    const hlen = b[2]!;
    out.push(b.subarray(0, Math.min(b.length, hlen + ((b[1]! & 1) !== 0 ? 4 : 0))));
  }
  return out;
}

/** A read as the controller answers it: its CID and length. */
export interface StreamRead {
  readonly cid: number;
  readonly len: number;
}

/** The default reads of `controllerStream`: `n` reads of 512 B .. 4.5 KiB. */
export function defaultReads(n: number, seed: number): StreamRead[] {
  return Array.from({ length: n }, (_, cid) => ({ cid, len: 512 * (1 + ((cid * 7 + seed) % 9)) }));
}

/**
 * What a controller sends on an I/O queue after ICResp: C2HData of several
 * reads (each in two PDUs, the halves of consecutive reads interleaved),
 * with padding and digests as negotiated, completions by CapsuleResp or
 * SUCCESS, an R2T; with `icresp` the stream starts at ICResp.
 */
export function controllerStream(o: {
  hdgst: boolean;
  ddgst: boolean;
  pda?: number;
  icresp?: boolean;
  reads?: number | readonly StreamRead[];
  seed?: number;
}): Buffer {
  const parts: Buffer[] = [];
  const opts: PduEmitOptions = { hdgst: o.hdgst, ddgst: o.ddgst, pda: o.pda ?? 0 };
  if (o.icresp === true) {
    parts.push(emitPduBuffer({ type: PduType.ICResp, pfv: 0, cpda: 0, hdgstEnable: o.hdgst, ddgstEnable: o.ddgst, maxh2cdata: 0x40_0000 }));
  }
  const seed = o.seed ?? 1;
  const reads = typeof o.reads === 'object' ? o.reads : defaultReads(o.reads ?? 3, seed);
  const c2h = (r: StreamRead, datao: number, datal: number, last: boolean, success: boolean): Buffer =>
    emitPduBuffer(
      { type: PduType.C2HData, cccid: r.cid, datao, datal, lastPdu: last, success, data: [bytes(datal, seed * 1000 + r.cid * 7 + datao)] },
      opts,
    );
  for (let i = 0; i < reads.length; i++) {
    const r = reads[i]!;
    const half = r.len >>> 1;
    if (half > 0) parts.push(c2h(r, 0, half, false, false));
    if (i === 1) parts.push(emitPduBuffer({ type: PduType.R2T, cccid: 0xfff, ttag: 1, r2to: 0, r2tl: 4096 }, opts));
    const success = i % 2 === 1;
    parts.push(c2h(r, half, r.len - half, true, success));
    if (!success) parts.push(emitPduBuffer({ type: PduType.CapsuleResp, cqe: buildCqe(cqeWith({ cid: r.cid, sqId: 1, sqHead: i + 1 })) }, opts));
  }
  return Buffer.concat(parts);
}

/** PDU streams: with and without digests and padding, from ICResp or mid-connection, and a TermReq ending. */
export function pduStreamSeeds(): Buffer[] {
  const out: Buffer[] = [];
  for (const hdgst of [false, true]) {
    for (const ddgst of [false, true]) {
      out.push(controllerStream({ hdgst, ddgst, icresp: true, seed: out.length + 1 }));
      out.push(controllerStream({ hdgst, ddgst, pda: 7, reads: 2, seed: out.length + 1 }));
    }
  }
  out.push(Buffer.concat([controllerStream({ hdgst: false, ddgst: false, reads: 1 }), emitPduBuffer({ type: PduType.C2HTermReq, fes: 2, fei: 0, data: [bytes(24, 9)] })]));
  return out;
}

/** 64-byte SQEs of every command ddplab knows (and one it does not). */
export function sqeSeeds(): Buffer[] {
  const cmds: NvmeCommand[] = [
    { kind: 'connect', cid: 0, recfmt: 0, qid: 0, sqsize: 31, cattr: 0, kato: 5000, dptr: sglInCapsule(1024) },
    { kind: 'connect', cid: 0, recfmt: 0, qid: 1, sqsize: 127, cattr: 4, kato: 0, dptr: sglInCapsule(1024) },
    { kind: 'property-get', cid: 1, offset: NvmeReg.CAP, size: 8 },
    { kind: 'property-set', cid: 2, offset: NvmeReg.CC, size: 4, value: 0x460001n },
    { kind: 'identify', cid: 3, cns: NvmeIdCns.CTRL, nsid: 0, dptr: sglTransportData(4096) },
    { kind: 'identify', cid: 4, cns: NvmeIdCns.NS, nsid: 1, dptr: sglTransportData(4096) },
    { kind: 'keep-alive', cid: 5 },
    { kind: 'read', cid: 6, nsid: 1, slba: 0, nlb: 255, dptr: sglTransportData(131072) },
    { kind: 'write', cid: 7, nsid: 1, slba: 2 ** 40, nlb: 0, dptr: sglInCapsule(512) },
    { kind: 'flush', cid: 8, nsid: 1 },
  ];
  const out = cmds.map((c) => buildNvmeCommand(c));
  const unknown = Buffer.from(out[7]!);
  unknown[0] = 0x09;
  out.push(unknown);
  const noData = buildNvmeCommand({ kind: 'read', cid: 9, nsid: 1, slba: 0, nlb: 0, dptr: sglNoData() });
  out.push(noData);
  return out;
}

/** 16-byte CQEs. */
export function cqeSeeds(): Buffer[] {
  return [
    buildCqe(cqeWith({ cid: 0, sqId: 0 })),
    buildCqe(cqeWith({ cid: 7, sqId: 1, sqHead: 9, status: 0x0002, dnr: true, dw0: 0xffff, dw1: 1 })),
  ];
}

/** The NVMe data structures ddplab parses: Connect data, Identify Controller and Namespace, the active namespace list. */
export function nvmeDataSeeds(): Buffer[] {
  return [
    buildConnectData({
      hostid: bytes(16, 11),
      cntlid: NVMF_CNTLID_DYNAMIC,
      subnqn: 'nqn.2024-01.io.ddplab:target',
      hostnqn: 'nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-000000000001',
    }),
    buildIdCtrl({
      vid: 0,
      ssvid: 0,
      sn: 'ddplab00000001',
      mn: 'ddplab NVMe/TCP target (linux)',
      fr: '0.1.0',
      mdts: 5,
      cntlid: 1,
      ver: 0x10400,
      cntrltype: NvmeCtrlType.IO,
      kas: 50,
      sqes: 0x66,
      cqes: 0x44,
      maxcmd: 128,
      nn: 1,
      oncs: 0,
      vwc: 1,
      sgls: NvmeCtrlSgls.SUPPORTED | NvmeCtrlSgls.ADDR_OFFSET,
      subnqn: 'nqn.2024-01.io.ddplab:target',
      ioccsz: (64 + 16384) / 16,
      iorcsz: 1,
      icdoff: 0,
      fcatt: 0,
      msdbd: 1,
    }),
    buildIdNs({ nsze: 2 ** 21, ncap: 2 ** 21, nuse: 2 ** 21, nsfeat: 0, nlbaf: 1, flbas: 1, lbaf: [{ ms: 0, lbads: 9, rp: 0 }, { ms: 8, lbads: 12, rp: 1 }] }),
    buildNsList([1, 2, 7]),
  ];
}

/** Ethernet frames: the TCP handshake with every option, data carrying PDUs, FIN, RST, ARP, 802.1Q, a non-TCP packet. */
export function frameSeeds(): Buffer[] {
  const t = SEED_TARGET;
  const h = SEED_HOST;
  const tcp = (seq: number, ack: number, flags: number, payload?: Buffer, extra: Partial<Parameters<typeof buildTcpFrame>[0]> = {}): Buffer =>
    buildTcpFrame({
      srcMac: t.mac,
      dstMac: h.mac,
      srcIp: t.ip,
      dstIp: h.ip,
      srcPort: t.port,
      dstPort: h.port,
      seq,
      ack,
      flags,
      window: 0xffff,
      payload,
      ...extra,
    });
  const stream = controllerStream({ hdgst: true, ddgst: true, icresp: true, reads: 1 });
  return [
    tcp(1000, 2000, TCP_SYN | TCP_ACK, undefined, { options: { mss: 1460, wscale: 7, sackPermitted: true, tsVal: 1, tsEcr: 2 } }),
    tcp(1001, 2001, TCP_ACK | TCP_PSH, stream.subarray(0, 1448), { options: { tsVal: 3, tsEcr: 4 } }),
    tcp(2449, 2001, TCP_ACK, stream.subarray(1448), { options: { sack: [{ left: 5000, right: 6000 }], tsVal: 5, tsEcr: 6 } }),
    tcp(1001, 2001, TCP_ACK | TCP_FIN, undefined, { vlan: 12 }),
    tcp(1001, 0, TCP_RST),
    tcp(0xffff_fff0, 7, TCP_ACK | TCP_PSH, stream.subarray(0, 40), { rawOptions: Buffer.from([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]) }),
    buildArpFrame({ operation: ARP_REQUEST, senderMac: t.mac, senderIp: t.ip, targetIp: h.ip }),
    buildArpFrame({ operation: ARP_REPLY, senderMac: h.mac, senderIp: h.ip, targetMac: t.mac, targetIp: t.ip, vlan: 5 }),
    buildEthernet(
      { dst: h.mac, src: t.mac, ethertype: 0x0800 },
      buildIpv4({ src: t.ip, dst: h.ip, protocol: IPPROTO_ICMP, ttl: 64, id: 1, flags: 0 }, bytes(32, 12)),
    ),
  ];
}

/** A small pcap file of the frame seeds. */
export function pcapSeeds(): Buffer[] {
  const frames = frameSeeds();
  return [
    buildPcapFile(frames.map((data, i) => ({ data, tsMs: 1_700_000_000_000 + i * 0.125 }))),
    buildPcapFile(frames.slice(0, 2).map((data, i) => ({ data, tsMs: i })), { snaplen: 96 }),
  ];
}
