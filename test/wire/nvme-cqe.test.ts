import { describe, expect, it } from 'vitest';
import {
  buildCqe,
  cqeResult64,
  cqeWith,
  emitCqe,
  NVME_CQE_LEN,
  parseCqe,
  result64ToDwords,
  type NvmeCqe,
} from '../../src/wire/nvme-cqe.js';
import { NvmeSc } from '../../src/wire/nvme-status.js';

const FULL: NvmeCqe = {
  dw0: 0x1234_5678,
  dw1: 0x9abc_def0,
  sqHead: 0x0102,
  sqId: 3,
  cid: 0xfffe,
  status: NvmeSc.CONNECT_INVALID_PARAM,
  phase: 1,
  crd: 2,
  more: true,
  dnr: true,
};

describe('NVMe CQE', () => {
  it('round-trips every field', () => {
    const buf = buildCqe(FULL);
    expect(buf.length).toBe(NVME_CQE_LEN);
    expect(parseCqe(buf)).toEqual(FULL);
  });

  it('lays out the status field as phase, SC, SCT, CRD, More, DNR', () => {
    const buf = buildCqe(FULL);
    expect(buf.readUInt32LE(0)).toBe(0x1234_5678);
    expect(buf.readUInt32LE(4)).toBe(0x9abc_def0);
    expect(buf.readUInt16LE(8)).toBe(0x0102);
    expect(buf.readUInt16LE(10)).toBe(3);
    expect(buf.readUInt16LE(12)).toBe(0xfffe);
    // DNR(15) | More(14) | CRD=2 (13:12) | SCT=1 (11:9) | SC=0x82 (8:1) | P(0)
    expect(buf.readUInt16LE(14)).toBe(0x8000 | 0x4000 | (2 << 12) | (1 << 9) | (0x82 << 1) | 1);
  });

  it('decodes a status field written by hand', () => {
    const buf = Buffer.alloc(16);
    buf.writeUInt16LE(7, 12);
    buf.writeUInt16LE((0x80 << 1) | 0x8000, 14); // LBA out of range, DNR
    const cqe = parseCqe(buf);
    expect(cqe.status).toBe(NvmeSc.LBA_RANGE);
    expect(cqe.dnr).toBe(true);
    expect(cqe.more).toBe(false);
    expect(cqe.phase).toBe(0);
    expect(cqe.cid).toBe(7);
  });

  it('fills unspecified fields with zero and success', () => {
    const cqe = cqeWith({ cid: 9 });
    expect(cqe).toEqual({ dw0: 0, dw1: 0, sqHead: 0, sqId: 0, cid: 9, status: 0, phase: 0, crd: 0, more: false, dnr: false });
    expect(buildCqe(cqe).equals(Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0]))).toBe(true);
  });

  it('joins and splits the 64-bit result of an 8-byte Property Get', () => {
    const value = 0x0020_0000_0f01_03ffn;
    const dws = result64ToDwords(value);
    expect(dws).toEqual({ dw0: 0x0f01_03ff, dw1: 0x0020_0000 });
    expect(cqeResult64(parseCqe(buildCqe(cqeWith({ cid: 1, ...dws }))))).toBe(value);
  });

  it('reports a short buffer as TRUNCATED with field, expected and got', () => {
    expect(() => parseCqe(Buffer.alloc(15))).toThrow(
      expect.objectContaining({ code: 'TRUNCATED', detail: { field: 'nvme cqe', expected: 16, got: 15 } }),
    );
    expect(() => emitCqe(FULL, Buffer.alloc(16), 1)).toThrow(expect.objectContaining({ code: 'TRUNCATED' }));
  });

  it('refuses a status wider than SCT and SC', () => {
    expect(() => buildCqe({ ...FULL, status: 0x800 })).toThrow(
      expect.objectContaining({ code: 'BAD_FIELD', detail: expect.objectContaining({ field: 'status' }) }),
    );
  });
});
