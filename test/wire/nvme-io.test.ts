import { describe, expect, it } from 'vitest';
import {
  buildFlush,
  buildReadWrite,
  emitReadWrite,
  parseFlush,
  parseReadWrite,
  rwDataLenBytes,
  type NvmeRwCommand,
} from '../../src/wire/nvme-io.js';
import { sglInCapsule, sglTransportData } from '../../src/wire/nvme-sqe.js';

const READ: NvmeRwCommand = {
  kind: 'read',
  cid: 0x0042,
  nsid: 1,
  slba: 0x1_2345_6789, // above 2^32: both halves of SLBA matter
  nlb: 15, // 16 blocks
  dptr: sglTransportData(16 * 4096),
};

describe('NVMe Read/Write/Flush', () => {
  it('round-trips a Read', () => {
    expect(parseReadWrite(buildReadWrite(READ))).toEqual(READ);
  });

  it('round-trips a Write with in-capsule data and one with R2T data', () => {
    const inCapsule: NvmeRwCommand = { ...READ, kind: 'write', nlb: 0, dptr: sglInCapsule(512) };
    const r2t: NvmeRwCommand = { ...READ, kind: 'write', dptr: sglTransportData(65536) };
    expect(parseReadWrite(buildReadWrite(inCapsule))).toEqual(inCapsule);
    expect(parseReadWrite(buildReadWrite(r2t))).toEqual(r2t);
    expect(buildReadWrite(inCapsule)[39]).toBe(0x01);
    expect(buildReadWrite(r2t)[39]).toBe(0x5a);
  });

  it('puts opcode, NSID, SLBA and the 0-based NLB at the spec offsets', () => {
    const buf = buildReadWrite(READ);
    expect(buf[0]).toBe(0x02);
    expect(buf[1]).toBe(0x40);
    expect(buf.readUInt16LE(2)).toBe(0x42);
    expect(buf.readUInt32LE(4)).toBe(1);
    expect(buf.readBigUInt64LE(40)).toBe(0x1_2345_6789n);
    expect(buf.readUInt16LE(48)).toBe(15);
    expect(buf.readUInt32LE(32)).toBe(65536);
    expect(buildReadWrite({ ...READ, kind: 'write' })[0]).toBe(0x01);
  });

  it('computes the bytes a command moves from its 0-based NLB', () => {
    expect(rwDataLenBytes(READ, 4096)).toBe(65536);
    expect(rwDataLenBytes({ nlb: 0 }, 512)).toBe(512);
  });

  it('round-trips a Flush as opcode 0 with only NSID and CID', () => {
    const buf = buildFlush({ kind: 'flush', cid: 3, nsid: 7 });
    expect(parseFlush(buf)).toEqual({ kind: 'flush', cid: 3, nsid: 7 });
    expect(buf[0]).toBe(0);
    expect(buf.readUInt32LE(32)).toBe(0);
    expect(buf[39]).toBe(0x5a);
    expect(buf.subarray(40).every((b) => b === 0)).toBe(true);
  });

  it('refuses an SLBA it cannot hold as a number, on parse and on emit', () => {
    const buf = buildReadWrite(READ);
    buf.writeBigUInt64LE(1n << 60n, 40);
    expect(() => parseReadWrite(buf)).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED', detail: expect.objectContaining({ field: 'slba' }) }),
    );
    expect(() => buildReadWrite({ ...READ, slba: 2 ** 53 })).toThrow(expect.objectContaining({ code: 'BAD_FIELD' }));
    expect(() => buildReadWrite({ ...READ, nlb: 0x1_0000 })).toThrow(
      expect.objectContaining({ code: 'BAD_FIELD', detail: expect.objectContaining({ field: 'nlb' }) }),
    );
  });

  it('refuses to parse another opcode as Read/Write or Flush', () => {
    const flush = buildFlush({ kind: 'flush', cid: 1, nsid: 1 });
    expect(() => parseReadWrite(flush)).toThrow(
      expect.objectContaining({ code: 'BAD_FIELD', detail: expect.objectContaining({ field: 'opcode', got: 0 }) }),
    );
    expect(() => parseFlush(buildReadWrite(READ))).toThrow(expect.objectContaining({ code: 'BAD_FIELD' }));
  });

  it('reports short buffers as TRUNCATED with field, expected and got', () => {
    expect(() => parseReadWrite(Buffer.alloc(40))).toThrow(
      expect.objectContaining({ code: 'TRUNCATED', detail: { field: 'nvme sqe', expected: 64, got: 40 } }),
    );
    expect(() => parseFlush(Buffer.alloc(0))).toThrow(expect.objectContaining({ code: 'TRUNCATED' }));
    expect(() => emitReadWrite(READ, Buffer.alloc(64), 1)).toThrow(expect.objectContaining({ code: 'TRUNCATED' }));
  });
});
