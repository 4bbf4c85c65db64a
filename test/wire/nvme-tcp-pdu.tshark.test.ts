/**
 * Wireshark's NVMe/TCP dissector as the independent judge of ddplab's PDU
 * encoder: a capture holding one PDU of each of the nine types, inside
 * Ethernet/IPv4/TCP frames on port 4420 built by src/wire, must decode as
 * all nine types with no malformed packet and no expert warning — once with
 * digests off and once with header and data digests negotiated (Wireshark
 * learns the digests from the ICReq/ICResp exchange, as a receiver does).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseMac } from '../../src/wire/ethernet.js';
import { buildTcpFrame } from '../../src/wire/frame.js';
import { parseIpv4Addr } from '../../src/wire/ipv4.js';
import { buildCqe, cqeWith } from '../../src/wire/nvme-cqe.js';
import { buildReadWrite } from '../../src/wire/nvme-io.js';
import { sglInCapsule, sglTransportData } from '../../src/wire/nvme-sqe.js';
import { emitPduBuffer, PduType, type Pdu, type PduEmitOptions } from '../../src/wire/nvme-tcp-pdu.js';
import { writePcapFileSync } from '../../src/wire/pcap.js';
import { TCP_ACK, TCP_PSH } from '../../src/wire/tcp.js';

const HOST = { mac: parseMac('02:00:00:00:00:02'), ip: parseIpv4Addr('192.0.2.2'), port: 49152 };
const TGT = { mac: parseMac('02:00:00:00:00:01'), ip: parseIpv4Addr('192.0.2.1'), port: 4420 };

/** Data PDUs and TermReqs go one way or the other; the dissector checks. */
function fromHost(pdu: Pdu): boolean {
  switch (pdu.type) {
    case PduType.ICReq:
    case PduType.H2CTermReq:
    case PduType.CapsuleCmd:
    case PduType.H2CData:
      return true;
    case PduType.ICResp:
    case PduType.C2HTermReq:
    case PduType.CapsuleResp:
    case PduType.C2HData:
    case PduType.R2T:
      return false;
  }
}

function pattern(len: number, salt: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) b[i] = (i * 7 + salt) & 0xff;
  return b;
}

/** A plausible session: IC exchange, a write in capsule, a read, a write by R2T, then both TermReqs. */
function session(digests: boolean): Pdu[] {
  const resp = (cid: number): Pdu => ({ type: PduType.CapsuleResp, cqe: buildCqe(cqeWith({ cid, sqHead: cid })) });
  const offending = emitPduBuffer({ type: PduType.R2T, cccid: 9, ttag: 9, r2to: 0, r2tl: 512 }).subarray(0, 24);
  return [
    { type: PduType.ICReq, pfv: 0, hpda: 0, hdgstEnable: digests, ddgstEnable: digests, maxr2t: 0 },
    { type: PduType.ICResp, pfv: 0, cpda: 0, hdgstEnable: digests, ddgstEnable: digests, maxh2cdata: 0x40_0000 },
    {
      type: PduType.CapsuleCmd,
      sqe: buildReadWrite({ kind: 'write', cid: 1, nsid: 1, slba: 8, nlb: 0, dptr: sglInCapsule(512) }),
      data: [pattern(512, 1)],
    },
    resp(1),
    {
      type: PduType.CapsuleCmd,
      sqe: buildReadWrite({ kind: 'read', cid: 2, nsid: 1, slba: 16, nlb: 7, dptr: sglTransportData(4096) }),
      data: [],
    },
    { type: PduType.C2HData, cccid: 2, datao: 0, datal: 4096, lastPdu: true, success: false, data: [pattern(4096, 2)] },
    resp(2),
    {
      type: PduType.CapsuleCmd,
      sqe: buildReadWrite({ kind: 'write', cid: 3, nsid: 1, slba: 32, nlb: 15, dptr: sglTransportData(8192) }),
      data: [],
    },
    { type: PduType.R2T, cccid: 3, ttag: 1, r2to: 0, r2tl: 8192 },
    { type: PduType.H2CData, cccid: 3, ttag: 1, datao: 0, datal: 8192, lastPdu: true, data: [pattern(8192, 3)] },
    resp(3),
    { type: PduType.C2HTermReq, fes: 2, fei: 0, data: [offending] },
    { type: PduType.H2CTermReq, fes: 1, fei: 2, data: [offending] },
  ];
}

/** Frames for the session: one PDU per TCP segment (MSS-sized segments for big PDUs), seq/ack consistent. */
function frames(pdus: readonly Pdu[], digests: boolean): Buffer[] {
  let hostSeq = 1000;
  let tgtSeq = 5000;
  const out: Buffer[] = [];
  for (let i = 0; i < pdus.length; i++) {
    const pdu = pdus[i]!;
    // IC PDUs never carry digests; the emitter applies them only where allowed.
    const opts: PduEmitOptions = { hdgst: digests, ddgst: digests };
    const bytes = emitPduBuffer(pdu, opts);
    const h = fromHost(pdu);
    for (let off = 0; off < bytes.length; off += 1448) {
      const payload = bytes.subarray(off, Math.min(bytes.length, off + 1448));
      const [src, dst] = h ? [HOST, TGT] : [TGT, HOST];
      out.push(
        buildTcpFrame({
          srcMac: src.mac,
          dstMac: dst.mac,
          srcIp: src.ip,
          dstIp: dst.ip,
          srcPort: src.port,
          dstPort: dst.port,
          seq: h ? hostSeq : tgtSeq,
          ack: h ? tgtSeq : hostSeq,
          flags: TCP_ACK | TCP_PSH,
          window: 0xffff,
          payload,
        }),
      );
      if (h) hostSeq += payload.length;
      else tgtSeq += payload.length;
    }
  }
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'ddplab-pdu-tshark-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tshark(file: string, filter: string, fields: string[]): string[][] {
  // Wireshark checks digests only when asked to.
  const args = ['-o', 'nvme-tcp.check_hdgst:TRUE', '-o', 'nvme-tcp.check_ddgst:TRUE', '-r', file, '-Y', filter, '-T', 'fields', '-E', 'separator=|', ...fields.flatMap((f) => ['-e', f])];
  const text = execFileSync('tshark', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => l.split('|'));
}

describe.each([false, true])('Wireshark decodes our nine PDU types (digests %s)', (digests) => {
  const file = join(dir, `nine-${digests ? 'dgst' : 'plain'}.pcap`);
  const pdus = session(digests);
  writePcapFileSync(
    file,
    frames(pdus, digests).map((data, i) => ({ data, tsMs: 1_700_000_000_000 + i })),
  );

  it('finds all nine PDU types on port 4420, in the order written', () => {
    const rows = tshark(file, 'nvme-tcp', ['nvme-tcp.type']);
    const types = rows.flatMap((r) => r[0]!.split(',')).map((t) => Number(t));
    expect(types).toEqual(pdus.map((p) => p.type));
    expect(new Set(types).size).toBe(9);
  });

  it('reads back the lengths and command ids we wrote', () => {
    const c2h = tshark(file, 'nvme-tcp.type == 7', ['nvme-tcp.plen', 'nvme-tcp.data.length', 'nvme-tcp.cmd.cid']);
    expect(c2h).toEqual([[String(24 + (digests ? 8 : 0) + 4096), '4096', '0x0002']]);
    const r2t = tshark(file, 'nvme-tcp.type == 9', ['nvme-tcp.r2t.offset', 'nvme-tcp.r2t.length', 'nvme-tcp.ttag']);
    expect(r2t).toEqual([['0', '8192', '0x0001']]);
    const fes = tshark(file, 'nvme-tcp.type == 3', ['nvme-tcp.c2htermreq.fes']);
    expect(fes).toEqual([['0x0002']]);
  });

  if (digests) {
    it('verifies every header and data digest we computed', () => {
      const rows = tshark(file, 'nvme-tcp.hdgst || nvme-tcp.ddgst', ['nvme-tcp.hdgst.status', 'nvme-tcp.ddgst.status']);
      expect(rows.length).toBeGreaterThanOrEqual(7);
      // proto_tree_add_checksum status 1 = good (0 bad, 2 unverified).
      for (const [h, d] of rows) {
        expect(h).toBe('1');
        if (d !== '') expect(d).toBe('1');
      }
    });
  }

  it('reports no malformed packet and no expert warning or error', () => {
    const bad = tshark(file, '_ws.malformed || _ws.expert.severity >= "Warning"', ['frame.number', '_ws.expert.message']);
    expect(bad).toEqual([]);
  });
});
