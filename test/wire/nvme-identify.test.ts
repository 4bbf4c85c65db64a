import { describe, expect, it } from 'vitest';
import {
  buildIdCtrl,
  buildIdentify,
  buildIdNs,
  buildNsList,
  idNsCurrentLbaf,
  idNsLbaSizeBytes,
  inCapsuleDataBytes,
  NVME_IDENTIFY_DATA_LEN,
  NvmeCtrlSgls,
  NvmeCtrlType,
  NvmeIdCns,
  parseIdCtrl,
  parseIdentify,
  parseIdNs,
  parseNsList,
  type NvmeIdCtrl,
  type NvmeIdNs,
} from '../../src/wire/nvme-identify.js';
import { encodeVersion } from '../../src/wire/nvme-registers.js';
import { sglTransportData } from '../../src/wire/nvme-sqe.js';

const CTRL: NvmeIdCtrl = {
  vid: 0x1b36,
  ssvid: 0x1af4,
  sn: 'ddplab-0001',
  mn: 'ddplab NVMe/TCP target',
  fr: '0.1.0',
  mdts: 5,
  cntlid: 1,
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
  subnqn: 'nqn.2024-01.org.ddplab:subsys1',
  ioccsz: (64 + 16384) / 16,
  iorcsz: 1,
  icdoff: 0,
  fcatt: 0,
  msdbd: 1,
};

const NS: NvmeIdNs = {
  nsze: 0x2_0000_0000, // above 2^32 blocks: both halves matter
  ncap: 0x2_0000_0000,
  nuse: 12345,
  nsfeat: 0,
  nlbaf: 1,
  flbas: 1,
  lbaf: [
    { ms: 0, lbads: 9, rp: 2 },
    { ms: 8, lbads: 12, rp: 0 },
  ],
};

describe('Identify command', () => {
  it('round-trips with CNS in CDW10 bits 7:0', () => {
    const cmd = { kind: 'identify', cid: 5, cns: NvmeIdCns.NS, nsid: 1, dptr: sglTransportData(4096) } as const;
    const buf = buildIdentify(cmd);
    expect(parseIdentify(buf)).toEqual(cmd);
    expect(buf[0]).toBe(0x06);
    expect(buf.readUInt32LE(4)).toBe(1);
    expect(buf.readUInt32LE(40)).toBe(0);
    const ctrl = buildIdentify({ ...cmd, cns: NvmeIdCns.CTRL, nsid: 0 });
    expect(ctrl.readUInt32LE(40)).toBe(1);
    expect(ctrl[39]).toBe(0x5a);
    expect(ctrl.readUInt32LE(32)).toBe(4096);
  });

  it('refuses another opcode', () => {
    expect(() => parseIdentify(Buffer.alloc(64))).toThrow(
      expect.objectContaining({ code: 'BAD_FIELD', detail: { field: 'opcode', expected: 6, got: 0 } }),
    );
  });
});

describe('Identify Controller data', () => {
  it('round-trips every modelled field', () => {
    const buf = buildIdCtrl(CTRL);
    expect(buf.length).toBe(NVME_IDENTIFY_DATA_LEN);
    expect(parseIdCtrl(buf)).toEqual(CTRL);
  });

  it('puts fields at the spec offsets: strings space padded, SUBNQN at 768, fabrics area at 1792', () => {
    const buf = buildIdCtrl(CTRL);
    expect(buf.readUInt16LE(0)).toBe(0x1b36);
    expect(buf.toString('latin1', 4, 24)).toBe('ddplab-0001         ');
    expect(buf.toString('latin1', 24, 64)).toBe('ddplab NVMe/TCP target'.padEnd(40, ' '));
    expect(buf.toString('latin1', 64, 72)).toBe('0.1.0   ');
    expect(buf[77]).toBe(5);
    expect(buf.readUInt16LE(78)).toBe(1);
    expect(buf.readUInt32LE(80)).toBe(0x0001_0400);
    expect(buf[111]).toBe(1);
    expect(buf.readUInt16LE(320)).toBe(10);
    expect(buf[512]).toBe(0x66);
    expect(buf[513]).toBe(0x44);
    expect(buf.readUInt16LE(514)).toBe(128);
    expect(buf.readUInt32LE(516)).toBe(1);
    expect(buf.readUInt16LE(520)).toBe(8);
    expect(buf[525]).toBe(1);
    expect(buf.readUInt32LE(536)).toBe(0x0010_0001);
    expect(buf.toString('utf8', 768, 768 + CTRL.subnqn.length)).toBe(CTRL.subnqn);
    expect(buf.readUInt32LE(1792)).toBe(1028);
    expect(buf.readUInt32LE(1796)).toBe(1);
    expect(buf.readUInt16LE(1800)).toBe(0);
    expect(buf[1803]).toBe(1);
  });

  it('derives the in-capsule data size from IOCCSZ', () => {
    expect(inCapsuleDataBytes(CTRL)).toBe(16384);
    expect(inCapsuleDataBytes({ ioccsz: 4 })).toBe(0);
  });

  it('refuses strings that do not fit or are not ASCII', () => {
    expect(() => buildIdCtrl({ ...CTRL, sn: 'x'.repeat(21) })).toThrow(
      expect.objectContaining({ code: 'BAD_FIELD', detail: expect.objectContaining({ field: 'sn' }) }),
    );
    expect(() => buildIdCtrl({ ...CTRL, mn: 'modèle' })).toThrow(
      expect.objectContaining({ code: 'BAD_FIELD', detail: expect.objectContaining({ field: 'mn' }) }),
    );
  });

  it('reports short data as TRUNCATED with field, expected and got', () => {
    expect(() => parseIdCtrl(Buffer.alloc(4095))).toThrow(
      expect.objectContaining({ code: 'TRUNCATED', detail: { field: 'identify controller data', expected: 4096, got: 4095 } }),
    );
  });
});

describe('Identify Namespace data', () => {
  it('round-trips sizes, formats and FLBAS', () => {
    expect(parseIdNs(buildIdNs(NS))).toEqual(NS);
  });

  it('puts NSZE/NCAP/NUSE, NLBAF, FLBAS and LBAF[] at the spec offsets', () => {
    const buf = buildIdNs(NS);
    expect(buf.readBigUInt64LE(0)).toBe(0x2_0000_0000n);
    expect(buf.readBigUInt64LE(8)).toBe(0x2_0000_0000n);
    expect(buf.readBigUInt64LE(16)).toBe(12345n);
    expect(buf[25]).toBe(1);
    expect(buf[26]).toBe(1);
    expect(buf.readUInt32LE(128)).toBe((2 << 24) | (9 << 16) | 0);
    expect(buf.readUInt16LE(132)).toBe(8);
    expect(buf[134]).toBe(12);
  });

  it('selects the current LBA format through FLBAS', () => {
    expect(idNsCurrentLbaf(NS)).toEqual({ ms: 8, lbads: 12, rp: 0 });
    expect(idNsLbaSizeBytes(NS)).toBe(4096);
    expect(idNsLbaSizeBytes({ ...NS, flbas: 0 })).toBe(512);
    expect(() => idNsCurrentLbaf({ ...NS, flbas: 5 })).toThrow(expect.objectContaining({ code: 'BAD_FIELD' }));
  });

  it('refuses an LBAF list that disagrees with NLBAF, and sizes beyond 2^53', () => {
    expect(() => buildIdNs({ ...NS, nlbaf: 0 })).toThrow(
      expect.objectContaining({ code: 'BAD_FIELD', detail: { field: 'lbaf', expected: 1, got: 2 } }),
    );
    const buf = buildIdNs(NS);
    buf.writeBigUInt64LE(1n << 60n, 0);
    expect(() => parseIdNs(buf)).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED', detail: expect.objectContaining({ field: 'nsze' }) }),
    );
  });

  it('reports short data as TRUNCATED', () => {
    expect(() => parseIdNs(Buffer.alloc(128))).toThrow(
      expect.objectContaining({ code: 'TRUNCATED', detail: { field: 'identify namespace data', expected: 4096, got: 128 } }),
    );
  });
});

describe('Active Namespace ID list', () => {
  it('round-trips a list and ends it with a zero NSID', () => {
    const buf = buildNsList([1, 2, 7]);
    expect(parseNsList(buf)).toEqual([1, 2, 7]);
    expect(buf.readUInt32LE(8)).toBe(7);
    expect(buf.readUInt32LE(12)).toBe(0);
    expect(parseNsList(buildNsList([]))).toEqual([]);
  });

  it('holds up to 1024 NSIDs', () => {
    const all = Array.from({ length: 1024 }, (_, i) => i + 1);
    expect(parseNsList(buildNsList(all))).toEqual(all);
    expect(() => buildNsList([...all, 1025])).toThrow(expect.objectContaining({ code: 'BAD_FIELD' }));
  });

  it('refuses NSIDs out of order or zero', () => {
    expect(() => buildNsList([2, 1])).toThrow(expect.objectContaining({ code: 'BAD_FIELD' }));
    expect(() => buildNsList([0])).toThrow(expect.objectContaining({ code: 'BAD_FIELD' }));
  });

  it('reports a short list as TRUNCATED', () => {
    expect(() => parseNsList(Buffer.alloc(4))).toThrow(
      expect.objectContaining({ code: 'TRUNCATED', detail: { field: 'namespace list', expected: 4096, got: 4 } }),
    );
  });
});
