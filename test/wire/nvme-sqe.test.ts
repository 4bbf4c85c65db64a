import { describe, expect, it } from 'vitest';
import { WireError } from '../../src/wire/errors.js';
import {
  buildSqe,
  emitSgl,
  emitSqe,
  NVME_SQE_LEN,
  NvmePsdt,
  parseSgl,
  parseSqe,
  sglInCapsule,
  sglIsInCapsule,
  sglIsTransportData,
  sglNoData,
  sglTransportData,
  sqeDataDirection,
  sqeWith,
  SglSubtype,
  SglType,
  type NvmeSqe,
} from '../../src/wire/nvme-sqe.js';

function catchWire(fn: () => unknown): WireError {
  try {
    fn();
  } catch (err) {
    if (err instanceof WireError) return err;
    throw err;
  }
  throw new Error('expected a WireError');
}

const FULL: NvmeSqe = {
  opcode: 0x02,
  fuse: 1,
  psdt: NvmePsdt.SGL,
  cid: 0xbeef,
  nsid: 0x0102_0304,
  cdw2: 0x1111_1111,
  cdw3: 0x2222_2222,
  mptr: 0x0123_4567_89ab_cdefn,
  dptr: { type: SglType.TRANSPORT_DATA_BLOCK, subtype: SglSubtype.TRANSPORT, addr: 0xfedc_ba98_7654_3210n, length: 0x0001_0000 },
  cdw10: 0xaaaa_0001,
  cdw11: 0xbbbb_0002,
  cdw12: 0xcccc_0003,
  cdw13: 0xdddd_0004,
  cdw14: 0xeeee_0005,
  cdw15: 0xffff_0006,
};

describe('NVMe SQE', () => {
  it('round-trips every field of the common command format', () => {
    const buf = buildSqe(FULL);
    expect(buf.length).toBe(NVME_SQE_LEN);
    expect(parseSqe(buf)).toEqual(FULL);
  });

  it('places the common fields at their spec offsets, little-endian', () => {
    const buf = buildSqe(FULL);
    expect(buf[0]).toBe(0x02);
    expect(buf[1]).toBe(0x41); // PSDT 01b in bits 7:6, FUSE 01b in bits 1:0
    expect(buf.readUInt16LE(2)).toBe(0xbeef);
    expect(buf.readUInt32LE(4)).toBe(0x0102_0304);
    expect(buf.readBigUInt64LE(16)).toBe(0x0123_4567_89ab_cdefn);
    expect(buf.readBigUInt64LE(24)).toBe(0xfedc_ba98_7654_3210n);
    expect(buf.readUInt32LE(32)).toBe(0x0001_0000);
    expect(buf[39]).toBe(0x5a);
    expect(buf.readUInt32LE(40)).toBe(0xaaaa_0001);
    expect(buf.readUInt32LE(60)).toBe(0xffff_0006);
  });

  it('emits at an offset inside a larger buffer and leaves the rest alone', () => {
    const out = Buffer.alloc(8 + 64 + 4, 0xee);
    emitSqe(FULL, out, 8);
    expect(out.subarray(0, 8).every((b) => b === 0xee)).toBe(true);
    expect(out.subarray(72).every((b) => b === 0xee)).toBe(true);
    expect(parseSqe(out.subarray(8))).toEqual(FULL);
  });

  it('encodes the two NVMe/TCP data descriptors with the identifier bytes Linux sends', () => {
    const inCapsule = Buffer.alloc(16);
    const transport = Buffer.alloc(16);
    emitSgl(sglInCapsule(4096), inCapsule);
    emitSgl(sglTransportData(65536), transport);
    expect(inCapsule[15]).toBe(0x01); // Data Block (0x0) << 4 | Offset (0x1)
    expect(inCapsule.readUInt32LE(8)).toBe(4096);
    expect(inCapsule.readBigUInt64LE(0)).toBe(0n);
    expect(transport[15]).toBe(0x5a); // Transport SGL Data Block (0x5) << 4 | 0xA
    expect(transport.readUInt32LE(8)).toBe(65536);
    expect(sglIsInCapsule(parseSgl(inCapsule))).toBe(true);
    expect(sglIsTransportData(parseSgl(inCapsule))).toBe(false);
    expect(sglIsTransportData(parseSgl(transport))).toBe(true);
    expect(sglIsInCapsule(parseSgl(transport))).toBe(false);
  });

  it('defaults a built command to PSDT SGL and the no-data transport descriptor', () => {
    const sqe = sqeWith({ opcode: 0x18, cid: 7 });
    expect(sqe.psdt).toBe(NvmePsdt.SGL);
    expect(sqe.dptr).toEqual(sglNoData());
    const buf = buildSqe(sqe);
    expect(buf[1]).toBe(0x40);
    expect(buf[39]).toBe(0x5a);
    expect(buf.readUInt32LE(32)).toBe(0);
  });

  it('derives the data direction from the opcode, or from FCTYPE for Fabrics commands', () => {
    expect(sqeDataDirection({ opcode: 0x00, nsid: 1 })).toBe('none');
    expect(sqeDataDirection({ opcode: 0x01, nsid: 1 })).toBe('h2c');
    expect(sqeDataDirection({ opcode: 0x02, nsid: 1 })).toBe('c2h');
    expect(sqeDataDirection({ opcode: 0x06, nsid: 0 })).toBe('c2h');
    expect(sqeDataDirection({ opcode: 0x7f, nsid: 0x01 })).toBe('h2c'); // Connect
    expect(sqeDataDirection({ opcode: 0x7f, nsid: 0x04 })).toBe('none'); // Property Get
    expect(sqeDataDirection({ opcode: 0x7f, nsid: 0x06 })).toBe('c2h'); // Authentication Receive
  });

  it('reports a short buffer as TRUNCATED with field, expected and got', () => {
    const err = catchWire(() => parseSqe(Buffer.alloc(63)));
    expect(err.code).toBe('TRUNCATED');
    expect(err.detail).toEqual({ field: 'nvme sqe', expected: 64, got: 63 });
    expect(catchWire(() => emitSqe(FULL, Buffer.alloc(70), 8)).code).toBe('TRUNCATED');
  });

  it('refuses fields that do not fit their width', () => {
    const err = catchWire(() => buildSqe({ ...FULL, cid: 0x1_0000 }));
    expect(err.code).toBe('BAD_FIELD');
    expect(err.detail.field).toBe('cid');
    expect(catchWire(() => buildSqe({ ...FULL, cdw10: -1 })).detail.field).toBe('cdw10');
    expect(catchWire(() => buildSqe({ ...FULL, psdt: 4 })).detail.field).toBe('psdt');
  });
});
