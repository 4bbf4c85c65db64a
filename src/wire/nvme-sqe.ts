/**
 * The NVMe submission queue entry (SQE): the 64-byte command a CapsuleCmd PDU
 * carries after its 8-byte header. Little-endian (NVMe Base spec "Common
 * Command Format").
 *
 * This file knows only the layout every command shares — opcode, flags (FUSE,
 * PSDT), CID, NSID, MPTR, DPTR, CDW10..15 — and the SGL descriptor NVMe/TCP
 * puts in DPTR. What the dwords mean for one command lives with that command:
 * nvme-io.ts (Read/Write/Flush), nvme-admin.ts (Keep Alive), nvme-identify.ts,
 * nvme-fabrics.ts (Connect, Property Get/Set); nvme-command.ts picks one.
 *
 * SGL in DPTR, as NVMe/TCP uses it (NVMe/TCP transport spec, Linux
 * drivers/nvme/host/tcp.c):
 * - in-capsule data (a Write whose data follows the SQE in the same
 *   CapsuleCmd PDU): Data Block descriptor (type 0x0), subtype Offset (0x1),
 *   address = offset of the data from the start of the in-capsule data (ICDOFF),
 *   length = data length. Identifier byte 0x01.
 * - data moved by C2HData / H2CData (after R2T) PDUs: Transport SGL Data Block
 *   descriptor (type 0x5), subtype 0xA, address 0, length = data length.
 *   Identifier byte 0x5A. A command without data uses the same with length 0.
 * The target decides in-capsule vs R2T from this descriptor alone.
 */
import { buildFixed } from './fixed-buffer.js';
import { needBytes, WireError } from './errors.js';

/** Size of an SQE in bytes. */
export const NVME_SQE_LEN = 64;

// Field offsets (NVMe Base spec, Common Command Format).
const Field = {
  OPCODE: 0, FLAGS: 1, CID: 2, NSID: 4, CDW2: 8, CDW3: 12, MPTR: 16, DPTR: 24,
  CDW10: 40, CDW11: 44, CDW12: 48, CDW13: 52, CDW14: 56, CDW15: 60,
} as const;

// Offsets inside a 16-byte (unkeyed) SGL descriptor.
const SglField = { ADDR: 0, LENGTH: 8, IDENTIFIER: 15 } as const;

/** SQE field offsets other layers point at (a TermReq's FEI, a PDU header view). */
export const SqeField = {
  ...Field,
  /** The data SGL descriptor's length. */
  DPTR_SGL_LENGTH: Field.DPTR + SglField.LENGTH,
  /** The data SGL descriptor's type/subtype byte. */
  DPTR_SGL_IDENTIFIER: Field.DPTR + SglField.IDENTIFIER,
} as const;

// FLAGS byte: FUSE in bits 1:0, PSDT in bits 7:6.
const FUSE_MASK = 0x03;
const PSDT_SHIFT = 6;

/** Opcode of every Fabrics command (Connect, Property Get/Set, ...); FCTYPE (byte 4) says which. */
export const NVME_FABRICS_OPCODE = 0x7f;

/** NVM command set I/O opcodes ddplab uses. Bits 1:0 of an opcode give its data direction. */
export const NvmeIoOpcode = {
  FLUSH: 0x00,
  WRITE: 0x01,
  READ: 0x02,
} as const;

/**
 * Admin opcodes. ddplab implements Identify and Keep Alive; the others are
 * named so logs and "invalid opcode" replies can say what a Linux host sent.
 */
export const NvmeAdminOpcode = {
  GET_LOG_PAGE: 0x02,
  IDENTIFY: 0x06,
  ABORT: 0x08,
  SET_FEATURES: 0x09,
  GET_FEATURES: 0x0a,
  ASYNC_EVENT: 0x0c,
  KEEP_ALIVE: 0x18,
} as const;

/** PSDT values (flags bits 7:6). NVMe over Fabrics requires SGLs; Linux sets SGL (01b) on every command. */
export const NvmePsdt = {
  /** PRPs: invalid on fabrics (Linux nvmet answers INVALID_FIELD). */
  PRP: 0,
  /** SGL for data, MPTR a contiguous buffer. What NVMe/TCP hosts send. */
  SGL: 1,
  /** SGL for data, MPTR an SGL segment. */
  SGL_MPTR_SGL: 2,
} as const;

/** SGL descriptor types (high nibble of the identifier byte). */
export const SglType = {
  DATA_BLOCK: 0x0,
  BIT_BUCKET: 0x1,
  SEGMENT: 0x2,
  LAST_SEGMENT: 0x3,
  KEYED_DATA_BLOCK: 0x4,
  TRANSPORT_DATA_BLOCK: 0x5,
} as const;

/** SGL descriptor subtypes (low nibble of the identifier byte). */
export const SglSubtype = {
  ADDRESS: 0x0,
  OFFSET: 0x1,
  /** Transport-specific; NVMe/TCP and FC use 0xA with a Transport SGL Data Block. */
  TRANSPORT: 0xa,
} as const;

/**
 * An unkeyed 16-byte SGL descriptor: address u64 @0, length u32 @8,
 * identifier @15 (type << 4 | subtype). Keyed descriptors (RDMA) lay out
 * length and key differently and are not used by NVMe/TCP.
 */
export interface SglDescriptor {
  /** Descriptor type, SglType (0..15). */
  readonly type: number;
  /** Descriptor subtype, SglSubtype (0..15). */
  readonly subtype: number;
  /** Address: the offset into the in-capsule data for subtype Offset; 0 for the transport descriptor. */
  readonly addr: bigint;
  /** Length of the data in bytes. */
  readonly length: number;
}

/** The whole SQE as laid out on the wire, before any command gives its dwords a meaning. */
export interface NvmeSqe {
  readonly opcode: number;
  /** FUSE (flags bits 1:0); 0 = normal command. */
  readonly fuse: number;
  /** PSDT (flags bits 7:6), NvmePsdt. */
  readonly psdt: number;
  /** Command identifier, chosen by the host, unique among its commands outstanding on the queue. */
  readonly cid: number;
  /** Namespace id. In Fabrics commands byte 4 is FCTYPE and bytes 5..7 are reserved. */
  readonly nsid: number;
  readonly cdw2: number;
  readonly cdw3: number;
  /** Metadata pointer (unused by ddplab). */
  readonly mptr: bigint;
  /** Data pointer, read as an SGL descriptor. */
  readonly dptr: SglDescriptor;
  readonly cdw10: number;
  readonly cdw11: number;
  readonly cdw12: number;
  readonly cdw13: number;
  readonly cdw14: number;
  readonly cdw15: number;
}

/** Which way a command moves data: from its opcode (or FCTYPE for Fabrics), bits 1:0. */
export type NvmeDataDirection = 'none' | 'h2c' | 'c2h' | 'bidirectional';

/** Parses the 64-byte SQE at the start of `buf`. Throws TRUNCATED if `buf` is shorter. */
export function parseSqe(buf: Buffer): NvmeSqe {
  needBytes(buf, NVME_SQE_LEN, 'nvme sqe');
  const flags = buf.readUInt8(Field.FLAGS);
  return {
    opcode: buf.readUInt8(Field.OPCODE),
    fuse: flags & FUSE_MASK,
    psdt: flags >>> PSDT_SHIFT,
    cid: buf.readUInt16LE(Field.CID),
    nsid: buf.readUInt32LE(Field.NSID),
    cdw2: buf.readUInt32LE(Field.CDW2),
    cdw3: buf.readUInt32LE(Field.CDW3),
    mptr: buf.readBigUInt64LE(Field.MPTR),
    dptr: parseSgl(buf, Field.DPTR),
    cdw10: buf.readUInt32LE(Field.CDW10),
    cdw11: buf.readUInt32LE(Field.CDW11),
    cdw12: buf.readUInt32LE(Field.CDW12),
    cdw13: buf.readUInt32LE(Field.CDW13),
    cdw14: buf.readUInt32LE(Field.CDW14),
    cdw15: buf.readUInt32LE(Field.CDW15),
  };
}

/** Writes `sqe` as 64 bytes at `out[off..off+64)`. Throws TRUNCATED if `out` is too short, BAD_FIELD for out-of-range fields. */
export function emitSqe(sqe: NvmeSqe, out: Buffer, off = 0): void {
  needBytes(out, off + NVME_SQE_LEN, 'nvme sqe output');
  checkNvmeField('opcode', sqe.opcode, 0xff);
  checkNvmeField('fuse', sqe.fuse, FUSE_MASK);
  checkNvmeField('psdt', sqe.psdt, 0x3);
  checkNvmeField('cid', sqe.cid, 0xffff);
  out.fill(0, off, off + NVME_SQE_LEN);
  out.writeUInt8(sqe.opcode, off + Field.OPCODE);
  out.writeUInt8((sqe.psdt << PSDT_SHIFT) | sqe.fuse, off + Field.FLAGS);
  out.writeUInt16LE(sqe.cid, off + Field.CID);
  out.writeUInt32LE(nvmeU32('nsid', sqe.nsid), off + Field.NSID);
  out.writeUInt32LE(nvmeU32('cdw2', sqe.cdw2), off + Field.CDW2);
  out.writeUInt32LE(nvmeU32('cdw3', sqe.cdw3), off + Field.CDW3);
  out.writeBigUInt64LE(BigInt.asUintN(64, sqe.mptr), off + Field.MPTR);
  emitSgl(sqe.dptr, out, off + Field.DPTR);
  out.writeUInt32LE(nvmeU32('cdw10', sqe.cdw10), off + Field.CDW10);
  out.writeUInt32LE(nvmeU32('cdw11', sqe.cdw11), off + Field.CDW11);
  out.writeUInt32LE(nvmeU32('cdw12', sqe.cdw12), off + Field.CDW12);
  out.writeUInt32LE(nvmeU32('cdw13', sqe.cdw13), off + Field.CDW13);
  out.writeUInt32LE(nvmeU32('cdw14', sqe.cdw14), off + Field.CDW14);
  out.writeUInt32LE(nvmeU32('cdw15', sqe.cdw15), off + Field.CDW15);
}

/** Allocates and returns the 64-byte encoding of `sqe`. */
export function buildSqe(sqe: NvmeSqe): Buffer {
  return buildFixed(NVME_SQE_LEN, emitSqe, sqe);
}

/** A command's two writers, both of the SQE its codec computes: into a buffer at an offset, or into a new one. */
export interface SqeWriters<C> {
  /** Writes the command's SQE at `out[off..off+64)`. */
  readonly emit: (cmd: C, out: Buffer, off?: number) => void;
  /** Allocates the command's 64-byte SQE. */
  readonly build: (cmd: C) => Buffer;
}

/** emit and build for a command whose SQE `toSqe` computes (and range-checks). */
export function sqeWriters<C>(toSqe: (cmd: C) => NvmeSqe): SqeWriters<C> {
  return {
    emit: (cmd, out, off = 0) => emitSqe(toSqe(cmd), out, off),
    build: (cmd) => buildSqe(toSqe(cmd)),
  };
}

/**
 * An SQE with every field zero except those given; PSDT defaults to SGL and
 * DPTR to the no-data transport descriptor, as an NVMe/TCP host sends them.
 * Command codecs start from this.
 */
export function sqeWith(fields: Partial<NvmeSqe> & Pick<NvmeSqe, 'opcode' | 'cid'>): NvmeSqe {
  return {
    fuse: 0,
    psdt: NvmePsdt.SGL,
    nsid: 0,
    cdw2: 0,
    cdw3: 0,
    mptr: 0n,
    dptr: sglNoData(),
    cdw10: 0,
    cdw11: 0,
    cdw12: 0,
    cdw13: 0,
    cdw14: 0,
    cdw15: 0,
    ...fields,
  };
}

/**
 * Data direction of a command. Fabrics commands take it from FCTYPE, which
 * sits in byte 4 — the low byte of what other commands call NSID.
 */
export function sqeDataDirection(sqe: Pick<NvmeSqe, 'opcode' | 'nsid'>): NvmeDataDirection {
  const code = sqe.opcode === NVME_FABRICS_OPCODE ? sqe.nsid & 0xff : sqe.opcode;
  switch (code & 0x3) {
    case 0:
      return 'none';
    case 1:
      return 'h2c';
    case 2:
      return 'c2h';
    default:
      return 'bidirectional';
  }
}

/** Reads a 16-byte unkeyed SGL descriptor at `buf[off..off+16)`. */
export function parseSgl(buf: Buffer, off = 0): SglDescriptor {
  needBytes(buf, off + 16, 'sgl descriptor');
  const id = buf.readUInt8(off + SglField.IDENTIFIER);
  return {
    type: id >>> 4,
    subtype: id & 0x0f,
    addr: buf.readBigUInt64LE(off + SglField.ADDR),
    length: buf.readUInt32LE(off + SglField.LENGTH),
  };
}

/** Writes a 16-byte unkeyed SGL descriptor at `out[off..off+16)` (reserved bytes zeroed). */
export function emitSgl(sgl: SglDescriptor, out: Buffer, off = 0): void {
  needBytes(out, off + 16, 'sgl descriptor output');
  checkNvmeField('sgl type', sgl.type, 0xf);
  checkNvmeField('sgl subtype', sgl.subtype, 0xf);
  out.fill(0, off, off + 16);
  out.writeBigUInt64LE(BigInt.asUintN(64, sgl.addr), off + SglField.ADDR);
  out.writeUInt32LE(nvmeU32('sgl length', sgl.length), off + SglField.LENGTH);
  out.writeUInt8((sgl.type << 4) | sgl.subtype, off + SglField.IDENTIFIER);
}

/**
 * Descriptor for `length` bytes of in-capsule data starting `offset` bytes into
 * the capsule's data area (Linux passes the controller's ICDOFF, always 0 for
 * NVMe/TCP).
 */
export function sglInCapsule(length: number, offset = 0): SglDescriptor {
  return { type: SglType.DATA_BLOCK, subtype: SglSubtype.OFFSET, addr: BigInt(offset), length };
}

/** Descriptor for `length` bytes moved by C2HData, or by R2T + H2CData. */
export function sglTransportData(length: number): SglDescriptor {
  return { type: SglType.TRANSPORT_DATA_BLOCK, subtype: SglSubtype.TRANSPORT, addr: 0n, length };
}

/** Descriptor of a command without data: the transport descriptor with length 0. */
export function sglNoData(): SglDescriptor {
  return sglTransportData(0);
}

/** True if `sgl` describes in-capsule data (Data Block, subtype Offset). */
export function sglIsInCapsule(sgl: SglDescriptor): boolean {
  return sgl.type === SglType.DATA_BLOCK && sgl.subtype === SglSubtype.OFFSET;
}

/** True if `sgl` describes data moved by data PDUs (Transport SGL Data Block, subtype 0xA). */
export function sglIsTransportData(sgl: SglDescriptor): boolean {
  return sgl.type === SglType.TRANSPORT_DATA_BLOCK && sgl.subtype === SglSubtype.TRANSPORT;
}

/** Throws BAD_FIELD unless `value` is an integer in 0..max; the NVMe codecs validate every emitted field with it. */
export function checkNvmeField(field: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new WireError('BAD_FIELD', `${field}: ${value} is not an integer in 0..${max}`, {
      field,
      expected: `0..${max}`,
      got: value,
    });
  }
}

/** `value` once checkNvmeField passed for a u8 field: for emitting in one expression. */
export function nvmeU8(field: string, value: number): number {
  checkNvmeField(field, value, 0xff);
  return value;
}

/** `value` once checkNvmeField passed for a u16 field. */
export function nvmeU16(field: string, value: number): number {
  checkNvmeField(field, value, 0xffff);
  return value;
}

/** `value` once checkNvmeField passed for a u32 field. */
export function nvmeU32(field: string, value: number): number {
  checkNvmeField(field, value, 0xffff_ffff);
  return value;
}
