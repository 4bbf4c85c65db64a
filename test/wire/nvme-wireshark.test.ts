/**
 * Differential test of the NVMe codecs against an independent implementation:
 * Wireshark's NVMe/TCP and NVMe dissectors. The test writes a capture of two
 * NVMe/TCP connections (admin queue, one I/O queue) whose SQEs, CQEs and
 * Identify data come from ddplab's encoders, and checks that tshark reads
 * every field back with the value ddplab meant. Ethernet/IPv4/TCP headers are
 * built by hand here — just enough for Wireshark to reach port 4420.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildKeepAlive } from '../../src/wire/nvme-admin.js';
import { buildCqe, cqeWith, result64ToDwords } from '../../src/wire/nvme-cqe.js';
import {
  buildConnect,
  buildConnectData,
  buildPropertyGet,
  buildPropertySet,
  connectSuccessDw0,
  hostIdFromUuid,
  NVMF_CONNECT_DATA_LEN,
} from '../../src/wire/nvme-fabrics.js';
import {
  buildIdCtrl,
  buildIdentify,
  buildIdNs,
  buildNsList,
  NvmeCtrlSgls,
  NvmeCtrlType,
  NvmeIdCns,
} from '../../src/wire/nvme-identify.js';
import { buildFlush, buildReadWrite } from '../../src/wire/nvme-io.js';
import { CAP_CSS_NVM, CcShn, encodeCap, encodeCc, encodeVersion, NvmeReg } from '../../src/wire/nvme-registers.js';
import { sglInCapsule, sglTransportData } from '../../src/wire/nvme-sqe.js';
import { NvmeSc } from '../../src/wire/nvme-status.js';
import { writePcapFileSync } from '../../src/wire/pcap.js';

const ADMIN_PORT = 40000;
const IO_PORT = 40001;

/** One direction of one TCP connection: ports and the next sequence number. */
interface Half {
  readonly srcIp: number;
  readonly dstIp: number;
  readonly srcPort: number;
  readonly dstPort: number;
  seq: number;
}

class Capture {
  readonly frames: Buffer[] = [];

  /** Appends one TCP segment carrying `payload`, sequence numbers continuing the direction's stream. */
  segment(from: Half, to: Half, payload: Buffer): number {
    const eth = Buffer.alloc(14);
    eth.writeUInt16BE(0x0800, 12);
    eth[5] = from.srcIp;
    eth[11] = to.srcIp;
    const ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(40 + payload.length, 2);
    ip[8] = 64;
    ip[9] = 6;
    Buffer.from([192, 0, 2, from.srcIp]).copy(ip, 12);
    Buffer.from([192, 0, 2, from.dstIp]).copy(ip, 16);
    const tcp = Buffer.alloc(20);
    tcp.writeUInt16BE(from.srcPort, 0);
    tcp.writeUInt16BE(from.dstPort, 2);
    tcp.writeUInt32BE(from.seq, 4);
    tcp.writeUInt32BE(to.seq, 8);
    tcp[12] = 0x50;
    tcp[13] = 0x18; // PSH, ACK
    tcp.writeUInt16BE(0xffff, 14);
    from.seq = (from.seq + payload.length) >>> 0;
    this.frames.push(Buffer.concat([eth, ip, tcp, payload]));
    return this.frames.length; // tshark frame number
  }
}

/** NVMe/TCP common header. */
function ch(type: number, flags: number, hlen: number, pdo: number, plen: number): Buffer {
  const b = Buffer.alloc(8);
  b[0] = type;
  b[1] = flags;
  b[2] = hlen;
  b[3] = pdo;
  b.writeUInt32LE(plen, 4);
  return b;
}

function capsuleCmd(sqe: Buffer, data?: Buffer): Buffer {
  const dlen = data?.length ?? 0;
  return Buffer.concat([ch(0x04, 0, 72, dlen ? 72 : 0, 72 + dlen), sqe, data ?? Buffer.alloc(0)]);
}

function capsuleResp(cqe: Buffer): Buffer {
  return Buffer.concat([ch(0x05, 0, 24, 0, 24), cqe]);
}

function c2hData(cccid: number, data: Buffer): Buffer {
  const h = Buffer.alloc(24);
  ch(0x07, 0x04, 24, 24, 24 + data.length).copy(h); // LAST_PDU
  h.writeUInt16LE(cccid, 8);
  h.writeUInt32LE(data.length, 16);
  return Buffer.concat([h, data]);
}

function icReq(): Buffer {
  const b = Buffer.alloc(128);
  ch(0x00, 0, 128, 0, 128).copy(b);
  return b;
}

function icResp(): Buffer {
  const b = Buffer.alloc(128);
  ch(0x01, 0, 128, 0, 128).copy(b);
  b.writeUInt32LE(0x10000, 12);
  return b;
}

const CAP = encodeCap({ mqes: 1023, cqr: true, ams: 0, to: 15, dstrd: 0, nssrs: false, css: CAP_CSS_NVM, bps: false, mpsmin: 0, mpsmax: 4 });
const CC = encodeCc({ en: true, css: 0, mps: 0, ams: 0, shn: CcShn.NONE, iosqes: 6, iocqes: 4 });
const SUBNQN = 'nqn.2024-01.org.ddplab:subsys1';
const HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:0f2d7c4e-91aa-4b6e-8c3d-5e6f70819203';

let dir = '';
let pcap = '';
/** tshark frame numbers of the PDUs the assertions look at. */
const frameOf: Record<string, number> = {};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ddplab-nvme-ws-'));
  pcap = join(dir, 'nvme.pcap');
  const cap = new Capture();
  const host = (port: number, seq: number): Half => ({ srcIp: 2, dstIp: 1, srcPort: port, dstPort: 4420, seq });
  const tgt = (port: number, seq: number): Half => ({ srcIp: 1, dstIp: 2, srcPort: 4420, dstPort: port, seq });

  // Admin queue.
  const adminHost = host(ADMIN_PORT, 1000);
  const adminTgt = tgt(ADMIN_PORT, 900_000);
  cap.segment(adminHost, adminTgt, icReq());
  cap.segment(adminTgt, adminHost, icResp());
  const adminData = buildConnectData({ hostid: hostIdFromUuid('0f2d7c4e-91aa-4b6e-8c3d-5e6f70819203'), cntlid: 0xffff, subnqn: SUBNQN, hostnqn: HOSTNQN });
  frameOf.connect = cap.segment(
    adminHost,
    adminTgt,
    capsuleCmd(buildConnect({ kind: 'connect', cid: 1, recfmt: 0, qid: 0, sqsize: 31, cattr: 0, kato: 15000, dptr: sglInCapsule(NVMF_CONNECT_DATA_LEN) }), adminData),
  );
  frameOf.connectResp = cap.segment(adminTgt, adminHost, capsuleResp(buildCqe(cqeWith({ cid: 1, dw0: connectSuccessDw0(0x0042) }))));
  frameOf.propGet = cap.segment(adminHost, adminTgt, capsuleCmd(buildPropertyGet({ kind: 'property-get', cid: 2, offset: NvmeReg.CAP, size: 8 })));
  frameOf.propGetResp = cap.segment(adminTgt, adminHost, capsuleResp(buildCqe(cqeWith({ cid: 2, ...result64ToDwords(CAP) }))));
  frameOf.propSet = cap.segment(adminHost, adminTgt, capsuleCmd(buildPropertySet({ kind: 'property-set', cid: 3, offset: NvmeReg.CC, size: 4, value: BigInt(CC) })));
  cap.segment(adminTgt, adminHost, capsuleResp(buildCqe(cqeWith({ cid: 3 }))));
  frameOf.idCtrl = cap.segment(adminHost, adminTgt, capsuleCmd(buildIdentify({ kind: 'identify', cid: 4, cns: NvmeIdCns.CTRL, nsid: 0, dptr: sglTransportData(4096) })));
  frameOf.idCtrlData = cap.segment(
    adminTgt,
    adminHost,
    c2hData(
      4,
      buildIdCtrl({
        vid: 0x1b36,
        ssvid: 0x1af4,
        sn: 'ddplab-0001',
        mn: 'ddplab NVMe/TCP target',
        fr: '0.1.0',
        mdts: 5,
        cntlid: 0x42,
        ver: encodeVersion({ major: 1, minor: 4, tertiary: 0 }),
        cntrltype: NvmeCtrlType.IO,
        kas: 10,
        sqes: 0x66,
        cqes: 0x44,
        maxcmd: 128,
        nn: 1,
        oncs: 0x0008,
        vwc: 1,
        sgls: NvmeCtrlSgls.SUPPORTED | NvmeCtrlSgls.ADDR_OFFSET,
        subnqn: SUBNQN,
        ioccsz: 1028,
        iorcsz: 1,
        icdoff: 0,
        fcatt: 0,
        msdbd: 1,
      }),
    ),
  );
  cap.segment(adminTgt, adminHost, capsuleResp(buildCqe(cqeWith({ cid: 4 }))));
  frameOf.idNs = cap.segment(adminHost, adminTgt, capsuleCmd(buildIdentify({ kind: 'identify', cid: 5, cns: NvmeIdCns.NS, nsid: 1, dptr: sglTransportData(4096) })));
  frameOf.idNsData = cap.segment(
    adminTgt,
    adminHost,
    c2hData(
      5,
      buildIdNs({
        nsze: 0x2_0000_0000,
        ncap: 0x1_8000_0000,
        nuse: 12345,
        nsfeat: 0,
        nlbaf: 1,
        flbas: 1,
        lbaf: [
          { ms: 0, lbads: 9, rp: 0 },
          { ms: 0, lbads: 12, rp: 0 },
        ],
      }),
    ),
  );
  cap.segment(adminTgt, adminHost, capsuleResp(buildCqe(cqeWith({ cid: 5 }))));
  frameOf.nsList = cap.segment(adminHost, adminTgt, capsuleCmd(buildIdentify({ kind: 'identify', cid: 6, cns: NvmeIdCns.NS_ACTIVE_LIST, nsid: 0, dptr: sglTransportData(4096) })));
  frameOf.nsListData = cap.segment(adminTgt, adminHost, c2hData(6, buildNsList([1, 2, 7])));
  cap.segment(adminTgt, adminHost, capsuleResp(buildCqe(cqeWith({ cid: 6 }))));
  frameOf.keepAlive = cap.segment(adminHost, adminTgt, capsuleCmd(buildKeepAlive({ kind: 'keep-alive', cid: 7 })));
  cap.segment(adminTgt, adminHost, capsuleResp(buildCqe(cqeWith({ cid: 7 }))));

  // One I/O queue.
  const ioHost = host(IO_PORT, 2000);
  const ioTgt = tgt(IO_PORT, 800_000);
  cap.segment(ioHost, ioTgt, icReq());
  cap.segment(ioTgt, ioHost, icResp());
  const ioData = buildConnectData({ hostid: hostIdFromUuid('0f2d7c4e-91aa-4b6e-8c3d-5e6f70819203'), cntlid: 0x42, subnqn: SUBNQN, hostnqn: HOSTNQN });
  frameOf.ioConnect = cap.segment(
    ioHost,
    ioTgt,
    capsuleCmd(buildConnect({ kind: 'connect', cid: 0, recfmt: 0, qid: 1, sqsize: 127, cattr: 0, kato: 0, dptr: sglInCapsule(NVMF_CONNECT_DATA_LEN) }), ioData),
  );
  cap.segment(ioTgt, ioHost, capsuleResp(buildCqe(cqeWith({ cid: 0, sqId: 1 }))));
  frameOf.read = cap.segment(ioHost, ioTgt, capsuleCmd(buildReadWrite({ kind: 'read', cid: 0x10, nsid: 1, slba: 0x1_2345_6789, nlb: 15, dptr: sglTransportData(65536) })));
  frameOf.write = cap.segment(
    ioHost,
    ioTgt,
    capsuleCmd(buildReadWrite({ kind: 'write', cid: 0x11, nsid: 1, slba: 64, nlb: 0, dptr: sglInCapsule(4096) }), Buffer.alloc(4096, 0x5a)),
  );
  frameOf.flush = cap.segment(ioHost, ioTgt, capsuleCmd(buildFlush({ kind: 'flush', cid: 0x12, nsid: 1 })));
  frameOf.errResp = cap.segment(
    ioTgt,
    ioHost,
    capsuleResp(buildCqe(cqeWith({ cid: 0x10, sqId: 1, sqHead: 4, status: NvmeSc.LBA_RANGE, dnr: true }))),
  );

  writePcapFileSync(
    pcap,
    cap.frames.map((data, i) => ({ data, tsMs: 1_700_000_000_000 + i })),
  );
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Every field the assertions read; tshark runs once and prints them all. */
const FIELDS = [
  'nvme-tcp.pdo',
  'nvme.cmd.opc',
  'nvme.cmd.cid',
  'nvme.cmd.nsid',
  'nvme.cmd.psdt',
  'nvme.cmd.sgl.type',
  'nvme.cmd.sgl.subtype',
  'nvme.cmd.sgl1.len',
  'nvme.cmd.slba',
  'nvme.cmd.nlb',
  'nvme.cmd.identify.dword10.cns',
  'nvme.cmd.identify.ctrl.vid',
  'nvme.cmd.identify.ctrl.ssvid',
  'nvme.cmd.identify.ctrl.sn',
  'nvme.cmd.identify.ctrl.mn',
  'nvme.cmd.identify.ctrl.mdts',
  'nvme.cmd.identify.ctrl.cntlid',
  'nvme.cmd.identify.ctrl.ver',
  'nvme.cmd.identify.ctrl.cntrltype',
  'nvme.cmd.identify.ctrl.kas',
  'nvme.cmd.identify.ctrl.sqes',
  'nvme.cmd.identify.ctrl.cqes',
  'nvme.cmd.identify.ctrl.maxcmd',
  'nvme.cmd.identify.ctrl.nn',
  'nvme.cmd.identify.ctrl.oncs.wzs',
  'nvme.cmd.identify.ctrl.vwc.cp',
  'nvme.cmd.identify.ctrl.sgls.offs',
  'nvme.cmd.identify.ctrl.subnqn',
  'nvme.cmd.identify.ctrl.nvmeof.ioccsz',
  'nvme.cmd.identify.ctrl.nvmeof.iorcsz',
  'nvme.cmd.identify.ctrl.nvmeof.icdoff',
  'nvme.cmd.identify.ctrl.nvmeof.msdbd',
  'nvme.cmd.identify.ns.nsze',
  'nvme.cmd.identify.ns.ncap',
  'nvme.cmd.identify.ns.nuse',
  'nvme.cmd.identify.ns.nlbaf',
  'nvme.cmd.identify.ns.flbas',
  'nvme.cmd.identify.ns.lbaf',
  'nvme.cmd.identify.nslist.nsid',
  'nvme.cqe.sqhd',
  'nvme.cqe.sqid',
  'nvme.cqe.cid',
  'nvme.cqe.status.p',
  'nvme.cqe.status.sc',
  'nvme.cqe.status.sct',
  'nvme.cqe.status.dnr',
  'nvme.fabrics.cmd.cid',
  'nvme.fabrics.cmd.fctype',
  'nvme.fabrics.cmd.connect.qid',
  'nvme.fabrics.cmd.connect.sqsize',
  'nvme.fabrics.cmd.connect.kato',
  'nvme.fabrics.cmd.connect.data.hostid',
  'nvme.fabrics.cmd.connect.data.cntrlid',
  'nvme.fabrics.cmd.connect.data.subnqn',
  'nvme.fabrics.cmd.connect.data.hostnqn',
  'nvme.fabrics.cqe.connect.cntrlid',
  'nvme.fabrics.cmd.prop_get_set.attrib.size',
  'nvme.fabrics.cmd.prop_get_set.offset',
  'nvme.fabrics.prop_get.ccap.mqes',
  'nvme.fabrics.prop_get.ccap.cqr',
  'nvme.fabrics.prop_get.ccap.to',
  'nvme.fabrics.prop_get.ccap.css',
  'nvme.fabrics.prop_get.ccap.mpsmax',
  'nvme.fabrics.prop_get_set.cc.en',
  'nvme.fabrics.prop_get_set.cc.iosqes',
  'nvme.fabrics.prop_get_set.cc.iocqes',
] as const;
type Field = (typeof FIELDS)[number];

let decoded: Map<number, Map<Field, string[]>> | null = null;

/** All values of `field` in `frame`, as tshark prints them (several when the field repeats). */
function values(frame: number, field: Field): string[] {
  if (!decoded) {
    const args = ['-r', pcap, '-T', 'fields', '-E', 'separator=;', '-E', 'occurrence=a', '-E', 'aggregator=|', '-e', 'frame.number'];
    for (const f of FIELDS) args.push('-e', f);
    const out = execFileSync('tshark', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    decoded = new Map();
    for (const line of out.split('\n')) {
      if (line === '') continue;
      const [num, ...cols] = line.split(';');
      const byField = new Map<Field, string[]>();
      FIELDS.forEach((f, i) => byField.set(f, cols[i] ? cols[i]!.split('|') : []));
      decoded.set(Number(num), byField);
    }
  }
  return decoded.get(frame)?.get(field) ?? [];
}

/** The one value of a field in a frame, as text. */
function str(frame: number | undefined, field: Field): string {
  const v = values(frame ?? -1, field);
  expect(v, `${field} in frame ${frame}`).toHaveLength(1);
  return v[0]!;
}

/** The one value of a numeric field (tshark prints some in hex, some in decimal). */
function num(frame: number | undefined, field: Field): number {
  return Number(BigInt(str(frame, field)));
}

describe('NVMe codecs as Wireshark reads them', () => {
  it('Connect: FCTYPE, QID, 0-based SQSIZE, KATO, in-capsule SGL and the Connect data', () => {
    expect(num(frameOf.connect, 'nvme.fabrics.cmd.fctype')).toBe(1);
    expect(num(frameOf.connect, 'nvme.fabrics.cmd.cid')).toBe(1);
    expect(num(frameOf.connect, 'nvme.fabrics.cmd.connect.qid')).toBe(0);
    expect(num(frameOf.connect, 'nvme.fabrics.cmd.connect.sqsize')).toBe(31);
    expect(num(frameOf.connect, 'nvme.fabrics.cmd.connect.kato')).toBe(15000);
    expect(num(frameOf.connect, 'nvme.cmd.sgl.type')).toBe(0);
    expect(num(frameOf.connect, 'nvme.cmd.sgl.subtype')).toBe(1);
    expect(num(frameOf.connect, 'nvme.cmd.sgl1.len')).toBe(1024);
    expect(num(frameOf.connect, 'nvme-tcp.pdo')).toBe(72);
    expect(num(frameOf.connect, 'nvme.fabrics.cmd.connect.data.cntrlid')).toBe(0xffff);
    expect(str(frameOf.connect, 'nvme.fabrics.cmd.connect.data.subnqn')).toBe(SUBNQN);
    expect(str(frameOf.connect, 'nvme.fabrics.cmd.connect.data.hostnqn')).toBe(HOSTNQN);
    expect(str(frameOf.connect, 'nvme.fabrics.cmd.connect.data.hostid')).toBe('0f2d7c4e91aa4b6e8c3d5e6f70819203');
    expect(num(frameOf.connectResp, 'nvme.fabrics.cqe.connect.cntrlid')).toBe(0x42);
    expect(num(frameOf.ioConnect, 'nvme.fabrics.cmd.connect.qid')).toBe(1);
    expect(num(frameOf.ioConnect, 'nvme.fabrics.cmd.connect.sqsize')).toBe(127);
    expect(num(frameOf.ioConnect, 'nvme.fabrics.cmd.connect.data.cntrlid')).toBe(0x42);
  });

  it('Property Get CAP and Set CC: size, offset, and the register bit fields', () => {
    expect(num(frameOf.propGet, 'nvme.fabrics.cmd.fctype')).toBe(4);
    expect(num(frameOf.propGet, 'nvme.fabrics.cmd.prop_get_set.attrib.size')).toBe(1);
    expect(num(frameOf.propGet, 'nvme.fabrics.cmd.prop_get_set.offset')).toBe(NvmeReg.CAP);
    expect(num(frameOf.propGetResp, 'nvme.fabrics.prop_get.ccap.mqes')).toBe(1023);
    expect(num(frameOf.propGetResp, 'nvme.fabrics.prop_get.ccap.cqr')).toBe(1);
    expect(num(frameOf.propGetResp, 'nvme.fabrics.prop_get.ccap.to')).toBe(15);
    expect(num(frameOf.propGetResp, 'nvme.fabrics.prop_get.ccap.css')).toBe(1);
    expect(num(frameOf.propGetResp, 'nvme.fabrics.prop_get.ccap.mpsmax')).toBe(4);
    expect(num(frameOf.propSet, 'nvme.fabrics.cmd.fctype')).toBe(0);
    expect(num(frameOf.propSet, 'nvme.fabrics.cmd.prop_get_set.attrib.size')).toBe(0);
    expect(num(frameOf.propSet, 'nvme.fabrics.cmd.prop_get_set.offset')).toBe(NvmeReg.CC);
    expect(num(frameOf.propSet, 'nvme.fabrics.prop_get_set.cc.en')).toBe(1);
    expect(num(frameOf.propSet, 'nvme.fabrics.prop_get_set.cc.iosqes')).toBe(6);
    expect(num(frameOf.propSet, 'nvme.fabrics.prop_get_set.cc.iocqes')).toBe(4);
  });

  it('Identify Controller: CNS, the transport SGL, and every field ddplab models', () => {
    expect(num(frameOf.idCtrl, 'nvme.cmd.opc')).toBe(0x06);
    expect(num(frameOf.idCtrl, 'nvme.cmd.psdt')).toBe(1);
    expect(num(frameOf.idCtrl, 'nvme.cmd.identify.dword10.cns')).toBe(1);
    // Wireshark 4.0 names type 5 "Reserved" and shows no length for it, but reads type and subtype.
    expect(num(frameOf.idCtrl, 'nvme.cmd.sgl.type')).toBe(5);
    expect(num(frameOf.idCtrl, 'nvme.cmd.sgl.subtype')).toBe(0xa);
    const d = frameOf.idCtrlData;
    expect(num(d, 'nvme-tcp.pdo')).toBe(24);
    expect(num(d, 'nvme.cmd.identify.ctrl.vid')).toBe(0x1b36);
    expect(num(d, 'nvme.cmd.identify.ctrl.ssvid')).toBe(0x1af4);
    expect(str(d, 'nvme.cmd.identify.ctrl.sn')).toBe('ddplab-0001'.padEnd(20, ' '));
    expect(str(d, 'nvme.cmd.identify.ctrl.mn')).toBe('ddplab NVMe/TCP target'.padEnd(40, ' '));
    expect(num(d, 'nvme.cmd.identify.ctrl.mdts')).toBe(5);
    expect(num(d, 'nvme.cmd.identify.ctrl.cntlid')).toBe(0x42);
    expect(num(d, 'nvme.cmd.identify.ctrl.ver')).toBe(0x0001_0400);
    expect(num(d, 'nvme.cmd.identify.ctrl.cntrltype')).toBe(NvmeCtrlType.IO);
    expect(num(d, 'nvme.cmd.identify.ctrl.kas')).toBe(10);
    expect(num(d, 'nvme.cmd.identify.ctrl.sqes')).toBe(0x66);
    expect(num(d, 'nvme.cmd.identify.ctrl.cqes')).toBe(0x44);
    expect(num(d, 'nvme.cmd.identify.ctrl.maxcmd')).toBe(128);
    expect(num(d, 'nvme.cmd.identify.ctrl.nn')).toBe(1);
    expect(num(d, 'nvme.cmd.identify.ctrl.oncs.wzs')).toBe(1);
    expect(num(d, 'nvme.cmd.identify.ctrl.vwc.cp')).toBe(1);
    expect(num(d, 'nvme.cmd.identify.ctrl.sgls.offs')).toBe(1);
    expect(str(d, 'nvme.cmd.identify.ctrl.subnqn')).toBe(SUBNQN);
    expect(num(d, 'nvme.cmd.identify.ctrl.nvmeof.ioccsz')).toBe(1028);
    expect(num(d, 'nvme.cmd.identify.ctrl.nvmeof.iorcsz')).toBe(1);
    expect(num(d, 'nvme.cmd.identify.ctrl.nvmeof.icdoff')).toBe(0);
    expect(num(d, 'nvme.cmd.identify.ctrl.nvmeof.msdbd')).toBe(1);
  });

  it('Identify Namespace and the Active Namespace ID list', () => {
    expect(num(frameOf.idNs, 'nvme.cmd.nsid')).toBe(1);
    expect(num(frameOf.idNs, 'nvme.cmd.identify.dword10.cns')).toBe(0);
    const d = frameOf.idNsData;
    expect(num(d, 'nvme.cmd.identify.ns.nsze')).toBe(0x2_0000_0000);
    expect(num(d, 'nvme.cmd.identify.ns.ncap')).toBe(0x1_8000_0000);
    expect(num(d, 'nvme.cmd.identify.ns.nuse')).toBe(12345);
    expect(num(d, 'nvme.cmd.identify.ns.nlbaf')).toBe(1);
    expect(num(d, 'nvme.cmd.identify.ns.flbas')).toBe(1);
    // LBAF as a dword: MS in bits 15:0, LBADS in 23:16, RP in 25:24.
    expect(values(d ?? -1, 'nvme.cmd.identify.ns.lbaf').slice(0, 2).map((v) => Number(v))).toEqual([9 << 16, 12 << 16]);
    expect(num(frameOf.nsList, 'nvme.cmd.identify.dword10.cns')).toBe(2);
    expect(values(frameOf.nsListData ?? -1, 'nvme.cmd.identify.nslist.nsid').map((v) => Number(v))).toEqual([1, 2, 7]);
  });

  it('Keep Alive on the admin queue', () => {
    expect(num(frameOf.keepAlive, 'nvme.cmd.opc')).toBe(0x18);
    expect(num(frameOf.keepAlive, 'nvme.cmd.cid')).toBe(7);
  });

  it('Read, Write and Flush on the I/O queue: SLBA, 0-based NLB, SGL kind', () => {
    expect(num(frameOf.read, 'nvme.cmd.opc')).toBe(0x02);
    expect(num(frameOf.read, 'nvme.cmd.cid')).toBe(0x10);
    expect(num(frameOf.read, 'nvme.cmd.psdt')).toBe(1);
    expect(num(frameOf.read, 'nvme.cmd.slba')).toBe(0x1_2345_6789);
    // Wireshark shows the absolute block count, NLB + 1.
    expect(num(frameOf.read, 'nvme.cmd.nlb')).toBe(16);
    expect(num(frameOf.read, 'nvme.cmd.sgl.type')).toBe(5);
    expect(num(frameOf.read, 'nvme.cmd.sgl.subtype')).toBe(0xa);
    expect(num(frameOf.write, 'nvme.cmd.opc')).toBe(0x01);
    expect(num(frameOf.write, 'nvme.cmd.slba')).toBe(64);
    expect(num(frameOf.write, 'nvme.cmd.nlb')).toBe(1);
    expect(num(frameOf.write, 'nvme.cmd.sgl.type')).toBe(0);
    expect(num(frameOf.write, 'nvme.cmd.sgl.subtype')).toBe(1);
    expect(num(frameOf.write, 'nvme.cmd.sgl1.len')).toBe(4096);
    expect(num(frameOf.write, 'nvme-tcp.pdo')).toBe(72);
    expect(num(frameOf.flush, 'nvme.cmd.opc')).toBe(0x00);
    expect(num(frameOf.flush, 'nvme.cmd.nsid')).toBe(1);
  });

  it('CQE: SQ head, SQ id, CID and the status field with DNR', () => {
    const r = frameOf.errResp;
    expect(num(r, 'nvme.cqe.sqhd')).toBe(4);
    expect(num(r, 'nvme.cqe.sqid')).toBe(1);
    expect(num(r, 'nvme.cqe.cid')).toBe(0x10);
    expect(num(r, 'nvme.cqe.status.sc')).toBe(0x80);
    expect(num(r, 'nvme.cqe.status.sct')).toBe(0);
    expect(num(r, 'nvme.cqe.status.dnr')).toBe(1);
    expect(num(r, 'nvme.cqe.status.p')).toBe(0);
  });
});
