/**
 * The forger's pure parts: the sniffer walks the target's stream as the
 * target sends it (headers split across segments, retransmissions, a
 * mid-connection start) and keeps what a forged segment must match; each
 * planned case is a well-formed IPv4/TCP packet aimed where it says.
 */
import { describe, expect, it } from 'vitest';
import {
  forgeC2HDataHeader,
  forgeSegment,
  Forger,
  planAtCommand,
  planForgery,
  StreamSniffer,
  UNKNOWN_CID,
  FORGED_IP_ID,
  TS_AHEAD,
  type SniffedPdu,
} from '../../../src/lab/forge/segments.js';
import { buildReadWrite } from '../../../src/wire/nvme-io.js';
import { sglTransportData } from '../../../src/wire/nvme-sqe.js';
import { buildTcpFrame } from '../../../src/wire/frame.js';
import { parseIpv4, verifyIpv4Checksum } from '../../../src/wire/ipv4.js';
import { buildCqe, cqeWith } from '../../../src/wire/nvme-cqe.js';
import { emitPduBuffer, parsePduHeader, PduType, verifyHeaderDigest } from '../../../src/wire/nvme-tcp-pdu.js';
import { seqAdd } from '../../../src/wire/seq.js';
import { parseTcp, TCP_ACK, TCP_PSH, TCP_SYN, verifyTcpChecksum } from '../../../src/wire/tcp.js';

const TGT = { mac: Buffer.from([2, 0, 0, 0, 0, 1]), ip: 0xc000_0201, port: 4420 };
const HOST = { mac: Buffer.from([2, 0, 0, 0, 0, 2]), ip: 0xc000_0202, port: 40_001 };
const ISN = 0xffff_f000; // wraps inside the stream

function targetFrame(seq: number, flags: number, payload: Buffer | undefined, ts = 1000): Buffer {
  return buildTcpFrame({
    srcMac: TGT.mac,
    dstMac: HOST.mac,
    srcIp: TGT.ip,
    dstIp: HOST.ip,
    srcPort: TGT.port,
    dstPort: HOST.port,
    seq,
    ack: 777,
    flags,
    window: 500,
    options: { tsVal: ts, tsEcr: 99 },
    payload,
  });
}

/** ICResp, then reads of `lens` (one C2HData each, then CapsuleResp), digests on. */
function targetStream(lens: readonly number[]): { stream: Buffer; headers: number[] } {
  const opts = { hdgst: true, ddgst: true };
  const parts: Buffer[] = [emitPduBuffer({ type: PduType.ICResp, pfv: 0, cpda: 0, hdgstEnable: true, ddgstEnable: true, maxh2cdata: 0x40_0000 })];
  const headers: number[] = [];
  let at = parts[0]!.length;
  lens.forEach((len, cid) => {
    const data = emitPduBuffer({ type: PduType.C2HData, cccid: cid, datao: 0, datal: len, lastPdu: true, success: false, data: [Buffer.alloc(len, cid)] }, opts);
    const resp = emitPduBuffer({ type: PduType.CapsuleResp, cqe: buildCqe(cqeWith({ cid, sqId: 1 })) }, opts);
    headers.push(at, at + data.length);
    parts.push(data, resp);
    at += data.length + resp.length;
  });
  return { stream: Buffer.concat(parts), headers };
}

/** Feeds the stream in `seg`-byte segments (plus a retransmission of each third one); returns walked PDUs. */
function sniff(sn: StreamSniffer, stream: Buffer, seg: number, upTo = stream.length): SniffedPdu[] {
  const out: SniffedPdu[] = [];
  let n = 0;
  for (let off = 0; off < upTo; off += seg) {
    const payload = stream.subarray(off, Math.min(upTo, off + seg));
    out.push(...sn.observe(targetFrame(seqAdd(ISN, 1 + off), TCP_ACK | TCP_PSH, payload, 1000 + n)));
    if (n++ % 3 === 2) out.push(...sn.observe(targetFrame(seqAdd(ISN, 1 + off), TCP_ACK | TCP_PSH, Buffer.alloc(payload.length, 0xee))));
  }
  return out;
}

describe('StreamSniffer', () => {
  it('walks every PDU header of the target stream from the SYN-ACK, headers split across segments and retransmissions skipped', () => {
    const { stream, headers } = targetStream([5000, 70_000, 333]);
    const sn = new StreamSniffer();
    expect(sn.observe(targetFrame(ISN, TCP_SYN | TCP_ACK, undefined))).toEqual([]);
    // 13-byte segments cut every header; a retransmission with other bytes must not be walked.
    const pdus = sniff(sn, stream, 13);
    expect(pdus.map((p) => p.type)).toEqual([PduType.ICResp, PduType.C2HData, PduType.CapsuleResp, PduType.C2HData, PduType.CapsuleResp, PduType.C2HData, PduType.CapsuleResp]);
    expect(pdus.slice(1).map((p) => p.seq)).toEqual(headers.map((h) => seqAdd(ISN, 1 + h)));
    expect(pdus.filter((p) => p.type === PduType.C2HData).map((p) => [p.cid, p.datao, p.datal])).toEqual([
      [0, 0, 5000],
      [1, 0, 70_000],
      [2, 0, 333],
    ]);
    const v = sn.view()!;
    expect(v).toMatchObject({ targetIp: TGT.ip, hostIp: HOST.ip, targetPort: 4420, hostPort: HOST.port, ack: 777, hdgst: true, ddgst: true });
    expect(v.sndNxt).toBe(seqAdd(ISN, 1 + stream.length));
    expect(v.nextPduSeq).toBe(v.sndNxt);
    expect(v.tsEcr).toBe(99);
    // Every read completed: nothing to name.
    expect(sn.inflightReads()).toEqual([]);
  });

  it('starts mid-connection at a segment that begins with a PDU header and tracks reads in flight', () => {
    const { stream, headers } = targetStream([4096, 100_000]);
    const sn = new StreamSniffer();
    // Joins at the second read's C2HData header, and stops inside its data.
    const from = headers[2]!;
    const upTo = from + 20_000;
    const out: SniffedPdu[] = [];
    for (let off = from - 1448 * 3; off < upTo; off += 1448) {
      const payload = stream.subarray(Math.max(off, 0), Math.min(upTo, off + 1448, off < from ? from : Infinity));
      out.push(...sn.observe(targetFrame(seqAdd(ISN, 1 + Math.max(off, 0)), TCP_ACK, payload)));
      if (off < from && off + 1448 > from) off = from - 1448;
    }
    expect(out.map((p) => [p.type, p.cid, p.datal])).toEqual([[PduType.C2HData, 1, 100_000]]);
    expect(sn.inflightReads()).toEqual([{ cid: 1, dataEnd: 100_000, lastSeen: true }]);
    expect(sn.view()!.nextPduSeq).toBe(seqAdd(ISN, 1 + headers[3]!));
  });
});

describe('forged packets', () => {
  it('a forged C2HData header parses as one, digests right, PLEN announcing data that never comes', () => {
    for (const hdgst of [false, true]) {
      const h = forgeC2HDataHeader({ cccid: 7, datao: 65_536, datal: 4096, hdgst, ddgst: true });
      const p = parsePduHeader(h);
      expect(p.header).toMatchObject({ type: PduType.C2HData, cccid: 7, datao: 65_536, datal: 4096 });
      expect(p.layout.plen).toBe(h.length + 4096 + 4);
      expect(verifyHeaderDigest(p)).toBe(hdgst ? 'ok' : 'absent');
    }
  });

  it('plans each case where it says, as a checksummed IPv4/TCP packet from the target that carries its ACK and timestamp', () => {
    const { stream, headers } = targetStream([200_000]);
    const sn = new StreamSniffer();
    sn.observe(targetFrame(ISN, TCP_SYN | TCP_ACK, undefined));
    // The target has sent the C2HData header and 4 KiB of data.
    const pdus = sniff(sn, stream, 1448, headers[0]! + 4096);
    const c2h = pdus.find((p) => p.type === PduType.C2HData)!;
    const v = sn.view()!;
    const read = sn.inflightReads()[0];
    expect(read).toEqual({ cid: 0, dataEnd: 200_000, lastSeen: true });
    const decode = (pkt: Buffer) => {
      const ip = parseIpv4(pkt);
      expect(verifyIpv4Checksum(pkt)).toBe(true);
      expect(verifyTcpChecksum(ip.src, ip.dst, ip.payload)).toBe(true);
      expect([ip.src, ip.dst, ip.id]).toEqual([TGT.ip, HOST.ip, FORGED_IP_ID]);
      const tcp = parseTcp(ip.payload);
      expect([tcp.srcPort, tcp.dstPort, tcp.ack, tcp.options.tsVal]).toEqual([4420, HOST.port, 777, v.tsVal! + TS_AHEAD]);
      return tcp;
    };

    const overlap = planForgery('overlap', v, c2h, read, { overlapBytes: 1000 })!;
    const to = decode(overlap.packet);
    expect(to.seq).toBe(seqAdd(v.sndNxt, -1000));
    expect(to.payload.length).toBe(1000);
    expect(to.payload.equals(stream.subarray(headers[0]! + 3096, headers[0]! + 4096))).toBe(false);

    const inWin = planForgery('in-window', v, c2h, read, { forgeBytes: 512 })!;
    const ti = decode(inWin.packet);
    // The last 512 data bytes of the PDU: ahead of what was sent, inside the data.
    expect(ti.seq).toBe(seqAdd(c2h.seq, 28 + 200_000 - 512));
    expect(ti.payload.length).toBe(512);

    const past = planForgery('past-buffer', v, c2h, read)!;
    const tp = decode(past.packet);
    expect(tp.seq).toBe(seqAdd(c2h.seq, c2h.plen));
    expect(parsePduHeader(tp.payload).header).toMatchObject({ cccid: 0, datao: 200_000, datal: 4096 });
    const pastL = planForgery('past-buffer', v, c2h, read, { datalPast: true })!;
    expect(parsePduHeader(decode(pastL.packet).payload).header).toMatchObject({ cccid: 0, datao: 0, datal: 204_096 });

    const unk = planForgery('unknown-cid', v, c2h, read)!;
    expect(parsePduHeader(decode(unk.packet).payload).header).toMatchObject({ cccid: UNKNOWN_CID });

    // Nothing to aim at inside a small PDU, nor past a PDU the target finished sending.
    const small = { ...c2h, datal: 1000, plen: 1032 };
    expect(planForgery('in-window', v, small, read)).toBeUndefined();
    expect(planForgery('past-buffer', v, small, read)).toBeUndefined();
  });

  it('overrides what the caller asks: flags, ACK, timestamp', () => {
    const sn = new StreamSniffer();
    sn.observe(targetFrame(ISN, TCP_SYN | TCP_ACK, undefined, 5000));
    const v = sn.view()!;
    const tcp = parseTcp(parseIpv4(forgeSegment(v, { seq: 1, payload: Buffer.from('x'), flags: TCP_PSH, ack: 12345, tsVal: 1 })).payload);
    expect([tcp.flags, tcp.ack, tcp.options.tsVal, tcp.options.tsEcr]).toEqual([TCP_PSH, 12345, 1, 99]);
  });
});

/** A host frame toward the target. */
function hostFrame(seq: number, flags: number, payload: Buffer | undefined): Buffer {
  return buildTcpFrame({
    srcMac: HOST.mac,
    dstMac: TGT.mac,
    srcIp: HOST.ip,
    dstIp: TGT.ip,
    srcPort: HOST.port,
    dstPort: TGT.port,
    seq,
    ack: 1,
    flags,
    window: 500,
    options: { tsVal: 99, tsEcr: 1000 },
    payload,
  });
}

function readCmd(cid: number, len: number): Buffer {
  const sqe = buildReadWrite({ kind: 'read', cid, nsid: 1, slba: cid * 8, nlb: len / 512 - 1, dptr: sglTransportData(len) });
  return emitPduBuffer({ type: PduType.CapsuleCmd, sqe, data: [] }, { hdgst: true });
}

describe('the host side and the forger', () => {
  const HOST_ISN = 5000;

  it('walks the host\'s read commands (CID, transfer length) from its stream, several per segment', () => {
    const sn = new StreamSniffer(4420, 'h2c');
    sn.observe(hostFrame(HOST_ISN, TCP_SYN, undefined));
    const icreq = Buffer.alloc(128);
    icreq[0] = PduType.ICReq;
    icreq[2] = 128;
    icreq.writeUInt32LE(128, 4);
    const stream = Buffer.concat([icreq, readCmd(3, 65_536), readCmd(4, 131_072), readCmd(5, 4096)]);
    const out: SniffedPdu[] = [];
    for (let off = 0; off < stream.length; off += 100) out.push(...sn.observe(hostFrame(HOST_ISN + 1 + off, TCP_ACK | TCP_PSH, stream.subarray(off, off + 100))));
    // Frames from the target are not this sniffer's business.
    expect(sn.observe(targetFrame(ISN, TCP_SYN | TCP_ACK, undefined))).toEqual([]);
    expect(out.map((p) => [p.type, p.cid, p.opcode, p.datal])).toEqual([
      [PduType.ICReq, -1, -1, 0],
      [PduType.CapsuleCmd, 3, 0x02, 65_536],
      [PduType.CapsuleCmd, 4, 0x02, 131_072],
      [PduType.CapsuleCmd, 5, 0x02, 4096],
    ]);
  });

  it('plans at a read command only while the target\'s stream is idle at a PDU boundary, naming that read', () => {
    const { stream } = targetStream([40_000]);
    const sn = new StreamSniffer();
    sn.observe(targetFrame(ISN, TCP_SYN | TCP_ACK, undefined));
    sniff(sn, stream, 1448);
    const v = sn.view()!;
    const cmd: SniffedPdu = { seq: 0, type: PduType.CapsuleCmd, flags: 0, plen: 76, cid: 9, datao: 0, datal: 65_536, opcode: 0x02 };
    const past = planAtCommand('past-buffer', v, cmd)!;
    const tcp = parseTcp(parseIpv4(past.packet).payload);
    expect(tcp.seq).toBe(v.sndNxt);
    expect(parsePduHeader(tcp.payload).header).toMatchObject({ cccid: 9, datao: 65_536, datal: 4096 });
    expect(parsePduHeader(parseTcp(parseIpv4(planAtCommand('unknown-cid', v, cmd)!.packet).payload).payload).header).toMatchObject({ cccid: UNKNOWN_CID });
    const inWin = planAtCommand('in-window', v, cmd)!;
    expect(parseTcp(parseIpv4(inWin.packet).payload).seq).toBe(seqAdd(v.sndNxt, 28 + 32_768));
    expect(planAtCommand('overlap', v, cmd)).toBeUndefined();
    // The target still sending: no boundary is known to be next.
    expect(planAtCommand('past-buffer', { ...v, sndNxt: seqAdd(v.sndNxt, 100) }, cmd)).toBeUndefined();
    expect(planAtCommand('past-buffer', v, { ...cmd, opcode: 0x01 })).toBeUndefined();
  });

  it('injects the cases in order after `spacing` triggers, aimed at idle read commands, and ignores its own frames', () => {
    const forger = new Forger({ cases: ['overlap', 'past-buffer'], spacing: 2, aim: 'idle' });
    const { stream } = targetStream([40_000, 40_000, 40_000]);
    forger.onFrame(targetFrame(ISN, TCP_SYN | TCP_ACK, undefined));
    forger.onFrame(hostFrame(HOST_ISN, TCP_SYN, undefined));
    const got: string[] = [];
    let hostSeq = HOST_ISN + 1;
    // Read cid k is asked for; then the target answers it in full.
    const icEnd = 128;
    let off = 0;
    const readEnds = [0, 1, 2].map((k) => icEnd + (k + 1) * (stream.length - icEnd) / 3);
    for (const injected of forger.onFrame(targetFrame(seqAdd(ISN, 1), TCP_ACK, stream.subarray(0, icEnd)))) got.push(injected.kind);
    off = icEnd;
    for (let k = 0; k < 3; k++) {
      const cmd = readCmd(k, 40_448);
      for (const i of forger.onFrame(hostFrame(hostSeq, TCP_ACK | TCP_PSH, cmd))) got.push(`${i.kind}@cmd${k}`);
      hostSeq += cmd.length;
      const end = readEnds[k]!;
      for (; off < end; off += 1448) {
        for (const i of forger.onFrame(targetFrame(seqAdd(ISN, 1 + off), TCP_ACK, stream.subarray(off, Math.min(end, off + 1448))))) {
          got.push(`${i.kind}@data${k}`);
          // Its own packet comes back on the wire: not the target's.
          const tcp = parseTcp(parseIpv4(i.packet).payload);
          expect(forger.onFrame(buildTcpFrame({ srcMac: TGT.mac, dstMac: HOST.mac, srcIp: TGT.ip, dstIp: HOST.ip, srcPort: 4420, dstPort: HOST.port, seq: tcp.seq, ack: tcp.ack, flags: tcp.flags, window: 1, ipId: FORGED_IP_ID, payload: tcp.payload }))).toEqual([]);
        }
      }
      off = end;
    }
    // Triggers: cmd0, data0 (2nd: overlap on it), cmd1, data1 (past-buffer waits for an idle command), cmd2 → past-buffer.
    expect(got).toEqual(['overlap@data0', 'past-buffer@cmd2']);
    expect(forger.pending).toEqual([]);
  });
});
