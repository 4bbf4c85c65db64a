import { describe, expect, it } from 'vitest';
import {
  buildConnect,
  buildConnectData,
  buildPropertyGet,
  buildPropertySet,
  connectCntlidFromDw0,
  connectInvalidParamDw0,
  connectInvalidParamFromDw0,
  connectSuccessDw0,
  hostIdFromUuid,
  hostIdToUuid,
  NVMF_CNTLID_DYNAMIC,
  NVMF_CONNECT_DATA_LEN,
  NvmfConnectDataOffset,
  parseConnect,
  parseConnectData,
  parsePropertyGet,
  parsePropertySet,
  type NvmfConnectCommand,
  type NvmfConnectData,
} from '../../src/wire/nvme-fabrics.js';
import { NvmeReg } from '../../src/wire/nvme-registers.js';
import { sglInCapsule } from '../../src/wire/nvme-sqe.js';

const HOSTID = hostIdFromUuid('0f2d7c4e-91aa-4b6e-8c3d-5e6f70819203');

const CONNECT: NvmfConnectCommand = {
  kind: 'connect',
  cid: 0,
  recfmt: 0,
  qid: 3,
  sqsize: 127,
  cattr: 0x04,
  kato: 5000,
  dptr: sglInCapsule(NVMF_CONNECT_DATA_LEN),
};

const DATA: NvmfConnectData = {
  hostid: HOSTID,
  cntlid: 0x0005,
  subnqn: 'nqn.2024-01.org.ddplab:subsys1',
  hostnqn: 'nqn.2014-08.org.nvmexpress:uuid:0f2d7c4e-91aa-4b6e-8c3d-5e6f70819203',
};

describe('Fabrics Connect', () => {
  it('round-trips the command', () => {
    expect(parseConnect(buildConnect(CONNECT))).toEqual(CONNECT);
  });

  it('puts FCTYPE and the Connect fields at the spec offsets', () => {
    const buf = buildConnect({ ...CONNECT, recfmt: 0x0102 });
    expect(buf[0]).toBe(0x7f);
    expect(buf[4]).toBe(0x01);
    expect(buf.readUInt16LE(40)).toBe(0x0102);
    expect(buf.readUInt16LE(42)).toBe(3);
    expect(buf.readUInt16LE(44)).toBe(127);
    expect(buf[46]).toBe(0x04);
    expect(buf.readUInt32LE(48)).toBe(5000);
    expect(buf[39]).toBe(0x01); // data in capsule
    expect(buf.readUInt32LE(32)).toBe(1024);
  });

  it('round-trips the 1024-byte data with fields at their offsets', () => {
    const buf = buildConnectData(DATA);
    expect(buf.length).toBe(1024);
    const back = parseConnectData(buf);
    expect({ ...back, hostid: Buffer.from(back.hostid) }).toEqual({ ...DATA, hostid: Buffer.from(DATA.hostid) });
    expect(buf.subarray(0, 16).equals(HOSTID)).toBe(true);
    expect(buf.readUInt16LE(16)).toBe(5);
    expect(buf.toString('utf8', 256, 256 + DATA.subnqn.length)).toBe(DATA.subnqn);
    expect(buf[256 + DATA.subnqn.length]).toBe(0);
    expect(buf.toString('utf8', 512, 512 + DATA.hostnqn.length)).toBe(DATA.hostnqn);
  });

  it('parses the host id as a view into the capsule', () => {
    const buf = buildConnectData(DATA);
    const back = parseConnectData(buf);
    buf[0] ^= 0xff;
    expect(back.hostid[0]).toBe(buf[0]);
  });

  it('formats host ids as UUIDs and back', () => {
    expect(hostIdToUuid(HOSTID)).toBe('0f2d7c4e-91aa-4b6e-8c3d-5e6f70819203');
    expect(() => hostIdFromUuid('not-a-uuid')).toThrow(expect.objectContaining({ code: 'BAD_FIELD' }));
  });

  it('reports an NQN without its NUL as BAD_FIELD naming the field', () => {
    const buf = buildConnectData(DATA);
    buf.fill(0x61, NvmfConnectDataOffset.SUBNQN, NvmfConnectDataOffset.SUBNQN + 256);
    expect(() => parseConnectData(buf)).toThrow(
      expect.objectContaining({ code: 'BAD_FIELD', detail: expect.objectContaining({ field: 'subnqn' }) }),
    );
  });

  it('refuses NQNs longer than 223 bytes and host ids that are not 16 bytes', () => {
    expect(() => buildConnectData({ ...DATA, hostnqn: 'n'.repeat(224) })).toThrow(
      expect.objectContaining({ code: 'BAD_FIELD', detail: expect.objectContaining({ field: 'hostnqn', got: 224 }) }),
    );
    expect(() => buildConnectData({ ...DATA, hostid: Buffer.alloc(15) })).toThrow(
      expect.objectContaining({ code: 'BAD_FIELD', detail: { field: 'hostid', expected: 16, got: 15 } }),
    );
    expect(buildConnectData({ ...DATA, cntlid: NVMF_CNTLID_DYNAMIC }).readUInt16LE(16)).toBe(0xffff);
  });

  it('encodes the Connect result: CNTLID on success, IATTR/IPO on invalid parameter', () => {
    expect(connectCntlidFromDw0(connectSuccessDw0(0x1234))).toBe(0x1234);
    const dw0 = connectInvalidParamDw0({ inData: true, ipo: NvmfConnectDataOffset.SUBNQN });
    expect(dw0).toBe(0x0001_0100);
    expect(connectInvalidParamFromDw0(dw0)).toEqual({ inData: true, ipo: 256 });
    expect(connectInvalidParamFromDw0(connectInvalidParamDw0({ inData: false, ipo: 44 }))).toEqual({ inData: false, ipo: 44 });
  });

  it('reports short buffers as TRUNCATED', () => {
    expect(() => parseConnectData(Buffer.alloc(1000))).toThrow(
      expect.objectContaining({ code: 'TRUNCATED', detail: { field: 'connect data', expected: 1024, got: 1000 } }),
    );
    expect(() => parseConnect(Buffer.alloc(32))).toThrow(
      expect.objectContaining({ code: 'TRUNCATED', detail: { field: 'nvme sqe', expected: 64, got: 32 } }),
    );
  });
});

describe('Fabrics Property Get/Set', () => {
  it('round-trips an 8-byte Property Get of CAP with ATTRIB and OFST at their offsets', () => {
    const cmd = { kind: 'property-get', cid: 2, offset: NvmeReg.CAP, size: 8 } as const;
    const buf = buildPropertyGet(cmd);
    expect(parsePropertyGet(buf)).toEqual(cmd);
    expect(buf[0]).toBe(0x7f);
    expect(buf[4]).toBe(0x04);
    expect(buf[40]).toBe(1);
    expect(buf.readUInt32LE(44)).toBe(0);
    const csts = buildPropertyGet({ kind: 'property-get', cid: 3, offset: NvmeReg.CSTS, size: 4 });
    expect(csts[40]).toBe(0);
    expect(csts.readUInt32LE(44)).toBe(0x1c);
  });

  it('round-trips a Property Set of CC with its value at byte 48', () => {
    const cmd = { kind: 'property-set', cid: 4, offset: NvmeReg.CC, size: 4, value: 0x0046_0001n } as const;
    const buf = buildPropertySet(cmd);
    expect(parsePropertySet(buf)).toEqual(cmd);
    expect(buf[4]).toBe(0x00);
    expect(buf.readUInt32LE(44)).toBe(0x14);
    expect(buf.readBigUInt64LE(48)).toBe(0x0046_0001n);
    const wide = { kind: 'property-set', cid: 5, offset: 0x28, size: 8, value: 0xfedc_ba98_7654_3210n } as const;
    expect(parsePropertySet(buildPropertySet(wide))).toEqual(wide);
  });

  it('refuses a value too wide for a 4-byte property', () => {
    expect(() => buildPropertySet({ kind: 'property-set', cid: 1, offset: NvmeReg.CC, size: 4, value: 1n << 32n })).toThrow(
      expect.objectContaining({ code: 'BAD_FIELD', detail: expect.objectContaining({ field: 'value' }) }),
    );
  });

  it('refuses an ATTRIB size code other than 4 or 8 bytes', () => {
    const buf = buildPropertyGet({ kind: 'property-get', cid: 2, offset: NvmeReg.VS, size: 4 });
    buf[40] = 2;
    expect(() => parsePropertyGet(buf)).toThrow(
      expect.objectContaining({ code: 'BAD_FIELD', detail: { field: 'attrib', expected: '0 or 1', got: 2 } }),
    );
  });

  it('refuses to parse one Fabrics command as another', () => {
    const get = buildPropertyGet({ kind: 'property-get', cid: 2, offset: 0, size: 8 });
    expect(() => parsePropertySet(get)).toThrow(
      expect.objectContaining({ code: 'BAD_FIELD', detail: { field: 'fctype', expected: 0, got: 4 } }),
    );
    expect(() => parseConnect(get)).toThrow(expect.objectContaining({ code: 'BAD_FIELD' }));
    const notFabrics = Buffer.alloc(64);
    expect(() => parsePropertyGet(notFabrics)).toThrow(
      expect.objectContaining({ code: 'BAD_FIELD', detail: { field: 'opcode', expected: 0x7f, got: 0 } }),
    );
  });
});
