/**
 * NVMe over Fabrics commands ddplab uses (NVMe-oF spec; Linux
 * struct nvmf_connect_command / nvmf_connect_data / nvmf_property_*_command):
 * Connect with its 1024-byte data, Property Get and Property Set. All are
 * opcode 0x7f with FCTYPE at byte 4. Little-endian.
 *
 *   Connect SQE:  FCTYPE 0x01 @4, DPTR @24, RECFMT u16 @40, QID u16 @42,
 *                 SQSIZE u16 @44 (0's based), CATTR u8 @46, KATO u32 @48 (ms)
 *   Connect data: HOSTID 16 bytes @0, CNTLID u16 @16, SUBNQN 256 bytes @256,
 *                 HOSTNQN 256 bytes @512; 1024 bytes in all
 *   Property Set: FCTYPE 0x00, ATTRIB u8 @40, OFST u32 @44, VALUE u64 @48
 *   Property Get: FCTYPE 0x04, ATTRIB u8 @40, OFST u32 @44
 *
 * ATTRIB bits 2:0 give the property size: 0 = 4 bytes, 1 = 8 bytes. The
 * Property Get result is in CQE DW0 (and DW1 for 8 bytes); the Connect result
 * is the CNTLID in DW0 bits 15:0, or, for CONNECT_INVALID_PARAM, the offending
 * field as IPO (bits 15:0) + IATTR (bits 23:16: 0 = in the SQE, 1 = in the data).
 */
import { buildFixed } from './fixed-buffer.js';
import { needBytes, WireError } from './errors.js';
import { checkNvmeField, NVME_FABRICS_OPCODE, parseSqe, sqeWith, sqeWriters, type NvmeSqe, type SglDescriptor } from './nvme-sqe.js';

/** Fabrics command types (FCTYPE, byte 4 of the SQE). Bits 1:0 give the data direction. */
export const NvmfFctype = {
  PROPERTY_SET: 0x00,
  CONNECT: 0x01,
  PROPERTY_GET: 0x04,
  AUTH_SEND: 0x05,
  AUTH_RECEIVE: 0x06,
  DISCONNECT: 0x08,
} as const;

/** Size of the Connect command's data. */
export const NVMF_CONNECT_DATA_LEN = 1024;
/** Size of an NQN field in the Connect data. */
export const NVMF_NQN_FIELD_LEN = 256;
/** Longest NQN the spec allows, in bytes (without the terminating NUL). */
export const NVMF_NQN_MAX_LEN = 223;
/** CNTLID a host puts in the admin queue's Connect data to ask for any controller (dynamic controller model). */
export const NVMF_CNTLID_DYNAMIC = 0xffff;
/** The well-known discovery subsystem NQN. */
export const NVME_DISCOVERY_NQN = 'nqn.2014-08.org.nvmexpress.discovery';

/** Byte offsets of the Connect SQE fields: the IPO a target reports with IATTR 0. */
export const NvmfConnectSqeOffset = {
  RECFMT: 40,
  QID: 42,
  SQSIZE: 44,
  CATTR: 46,
  KATO: 48,
} as const;

/** Byte offsets of the Connect data fields: the IPO a target reports with IATTR 1. */
export const NvmfConnectDataOffset = {
  HOSTID: 0,
  CNTLID: 16,
  SUBNQN: 256,
  HOSTNQN: 512,
} as const;

const FCTYPE = 4;
const HOSTID_LEN = 16;

/** A Connect command: creates the admin queue (qid 0) or an I/O queue and binds it to a controller. */
export interface NvmfConnectCommand {
  readonly kind: 'connect';
  readonly cid: number;
  /** Record format, 0 (anything else → CONNECT_FORMAT). */
  readonly recfmt: number;
  /** Queue id: 0 for the admin queue. */
  readonly qid: number;
  /** Submission queue size, 0's based: the queue holds sqsize + 1 entries. */
  readonly sqsize: number;
  /** Connect attributes (bit 2: the host disables SQ flow control). */
  readonly cattr: number;
  /** Keep-alive timeout in ms (admin queue; 0 = none). */
  readonly kato: number;
  /** Where the 1024-byte Connect data is: normally sglInCapsule(1024). */
  readonly dptr: SglDescriptor;
}

/** The 1024-byte data of a Connect command. */
export interface NvmfConnectData {
  /** Host identifier, 16 bytes (a UUID in byte order as written). Parsed as a view into the capsule. */
  readonly hostid: Uint8Array;
  /** Controller id: NVMF_CNTLID_DYNAMIC on the admin queue, the CNTLID the admin Connect returned on I/O queues. */
  readonly cntlid: number;
  /** NQN of the subsystem the host wants. */
  readonly subnqn: string;
  /** NQN of the host. */
  readonly hostnqn: string;
}

/** Property Get: read a controller property (register) such as CAP or CSTS. */
export interface NvmfPropertyGetCommand {
  readonly kind: 'property-get';
  readonly cid: number;
  /** Property offset, NvmeReg (nvme-registers.ts). */
  readonly offset: number;
  /** Property size in bytes. */
  readonly size: 4 | 8;
}

/** Property Set: write a controller property such as CC. */
export interface NvmfPropertySetCommand {
  readonly kind: 'property-set';
  readonly cid: number;
  /** Property offset, NvmeReg (nvme-registers.ts). */
  readonly offset: number;
  /** Property size in bytes. */
  readonly size: 4 | 8;
  /** Value to write; a 4-byte property uses the low 32 bits (the wire field is 8 bytes either way). */
  readonly value: bigint;
}

/** emitConnect writes a Connect SQE at `out[off..off+64)`, buildConnect allocates one. */
export const { emit: emitConnect, build: buildConnect } = sqeWriters(connectToSqe);

/** Parses a Connect SQE. Throws TRUNCATED or BAD_FIELD (not a Fabrics Connect). */
export function parseConnect(buf: Buffer): NvmfConnectCommand {
  const sqe = parseFabrics(buf, NvmfFctype.CONNECT, 'connect');
  return {
    kind: 'connect',
    cid: sqe.cid,
    recfmt: sqe.cdw10 & 0xffff,
    qid: sqe.cdw10 >>> 16,
    sqsize: sqe.cdw11 & 0xffff,
    cattr: (sqe.cdw11 >>> 16) & 0xff,
    kato: sqe.cdw12,
    dptr: sqe.dptr,
  };
}

/** Writes the 1024-byte Connect data at `out[off..off+1024)` (reserved bytes zeroed). */
export function emitConnectData(data: NvmfConnectData, out: Buffer, off = 0): void {
  needBytes(out, off + NVMF_CONNECT_DATA_LEN, 'connect data output');
  if (data.hostid.length !== HOSTID_LEN) {
    throw new WireError('BAD_FIELD', `hostid: must be ${HOSTID_LEN} bytes, got ${data.hostid.length}`, {
      field: 'hostid',
      expected: HOSTID_LEN,
      got: data.hostid.length,
    });
  }
  checkNvmeField('cntlid', data.cntlid, 0xffff);
  out.fill(0, off, off + NVMF_CONNECT_DATA_LEN);
  out.set(data.hostid, off + NvmfConnectDataOffset.HOSTID);
  out.writeUInt16LE(data.cntlid, off + NvmfConnectDataOffset.CNTLID);
  emitNqn('subnqn', data.subnqn, out, off + NvmfConnectDataOffset.SUBNQN);
  emitNqn('hostnqn', data.hostnqn, out, off + NvmfConnectDataOffset.HOSTNQN);
}

/** Allocates the 1024-byte Connect data. */
export function buildConnectData(data: NvmfConnectData): Buffer {
  return buildFixed(NVMF_CONNECT_DATA_LEN, emitConnectData, data);
}

/**
 * Parses the Connect data. Throws TRUNCATED if shorter than 1024 bytes, and
 * BAD_FIELD with field 'subnqn' / 'hostnqn' for an NQN with no terminating
 * NUL — a target answers CONNECT_INVALID_PARAM with IATTR 1 and the field's
 * NvmfConnectDataOffset as IPO.
 */
export function parseConnectData(buf: Buffer): NvmfConnectData {
  needBytes(buf, NVMF_CONNECT_DATA_LEN, 'connect data');
  return {
    hostid: buf.subarray(NvmfConnectDataOffset.HOSTID, NvmfConnectDataOffset.HOSTID + HOSTID_LEN),
    cntlid: buf.readUInt16LE(NvmfConnectDataOffset.CNTLID),
    subnqn: parseNqn('subnqn', buf, NvmfConnectDataOffset.SUBNQN),
    hostnqn: parseNqn('hostnqn', buf, NvmfConnectDataOffset.HOSTNQN),
  };
}

/** CQE DW0 of a successful Connect: the controller id. */
export function connectSuccessDw0(cntlid: number): number {
  checkNvmeField('cntlid', cntlid, 0xffff);
  return cntlid;
}

/** Controller id from the DW0 of a successful Connect's CQE. */
export function connectCntlidFromDw0(dw0: number): number {
  return dw0 & 0xffff;
}

/** Where a CONNECT_INVALID_PARAM completion points: a byte offset in the SQE or in the Connect data. */
export interface NvmfConnectInvalidParam {
  /** True if IPO is an offset into the Connect data (IATTR 1), false if into the SQE (IATTR 0). */
  readonly inData: boolean;
  /** Invalid Parameter Offset, in bytes. */
  readonly ipo: number;
}

/** CQE DW0 of a CONNECT_INVALID_PARAM completion: `connectInvalidParamDw0({ inData: true, ipo: NvmfConnectDataOffset.SUBNQN })`. */
export function connectInvalidParamDw0(p: NvmfConnectInvalidParam): number {
  checkNvmeField('ipo', p.ipo, 0xffff);
  return ((p.inData ? 1 : 0) << 16) | p.ipo;
}

/** Reads IATTR/IPO from the DW0 of a CONNECT_INVALID_PARAM completion. */
export function connectInvalidParamFromDw0(dw0: number): NvmfConnectInvalidParam {
  return { inData: ((dw0 >>> 16) & 0xff) === 1, ipo: dw0 & 0xffff };
}

/** emitPropertyGet writes a Property Get SQE at `out[off..off+64)`, buildPropertyGet allocates one. */
export const { emit: emitPropertyGet, build: buildPropertyGet } = sqeWriters(propertyGetToSqe);

/** Parses a Property Get SQE. Throws TRUNCATED, or BAD_FIELD (not Property Get, or ATTRIB size not 4/8 — field 'attrib'). */
export function parsePropertyGet(buf: Buffer): NvmfPropertyGetCommand {
  const sqe = parseFabrics(buf, NvmfFctype.PROPERTY_GET, 'property get');
  return { kind: 'property-get', cid: sqe.cid, size: attribSize(sqe.cdw10), offset: sqe.cdw11 };
}

/** emitPropertySet writes a Property Set SQE at `out[off..off+64)`, buildPropertySet allocates one. */
export const { emit: emitPropertySet, build: buildPropertySet } = sqeWriters(propertySetToSqe);

/** Parses a Property Set SQE. Throws TRUNCATED, or BAD_FIELD (not Property Set, or ATTRIB size not 4/8). */
export function parsePropertySet(buf: Buffer): NvmfPropertySetCommand {
  const sqe = parseFabrics(buf, NvmfFctype.PROPERTY_SET, 'property set');
  return {
    kind: 'property-set',
    cid: sqe.cid,
    size: attribSize(sqe.cdw10),
    offset: sqe.cdw11,
    value: (BigInt(sqe.cdw13) << 32n) | BigInt(sqe.cdw12),
  };
}

/** Formats a 16-byte host id as a UUID string (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`), bytes in order. */
export function hostIdToUuid(hostid: Uint8Array): string {
  const hex = Buffer.from(hostid.buffer, hostid.byteOffset, hostid.length).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** Parses a UUID string (as in /etc/nvme/hostid) into the 16-byte host id. Throws BAD_FIELD if malformed. */
export function hostIdFromUuid(uuid: string): Buffer {
  const hex = uuid.trim().replaceAll('-', '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) {
    throw new WireError('BAD_FIELD', `hostid: "${uuid}" is not a UUID`, { field: 'hostid', expected: 'UUID', got: uuid });
  }
  return Buffer.from(hex, 'hex');
}

function connectToSqe(cmd: NvmfConnectCommand): NvmeSqe {
  checkNvmeField('recfmt', cmd.recfmt, 0xffff);
  checkNvmeField('qid', cmd.qid, 0xffff);
  checkNvmeField('sqsize', cmd.sqsize, 0xffff);
  checkNvmeField('cattr', cmd.cattr, 0xff);
  checkNvmeField('kato', cmd.kato, 0xffff_ffff);
  return sqeWith({
    opcode: NVME_FABRICS_OPCODE,
    cid: cmd.cid,
    nsid: NvmfFctype.CONNECT,
    dptr: cmd.dptr,
    cdw10: (cmd.recfmt | (cmd.qid << 16)) >>> 0,
    cdw11: cmd.sqsize | (cmd.cattr << 16),
    cdw12: cmd.kato,
  });
}

function propertyGetToSqe(cmd: NvmfPropertyGetCommand): NvmeSqe {
  return sqeWith({
    opcode: NVME_FABRICS_OPCODE,
    cid: cmd.cid,
    nsid: NvmfFctype.PROPERTY_GET,
    cdw10: attribFor(cmd.size),
    cdw11: cmd.offset,
  });
}

function propertySetToSqe(cmd: NvmfPropertySetCommand): NvmeSqe {
  const limit = cmd.size === 4 ? 0xffff_ffffn : 0xffff_ffff_ffff_ffffn;
  if (cmd.value < 0n || cmd.value > limit) {
    throw new WireError('BAD_FIELD', `property value 0x${cmd.value.toString(16)} does not fit ${cmd.size} bytes`, {
      field: 'value',
      expected: `0..0x${limit.toString(16)}`,
      got: `0x${cmd.value.toString(16)}`,
    });
  }
  return sqeWith({
    opcode: NVME_FABRICS_OPCODE,
    cid: cmd.cid,
    nsid: NvmfFctype.PROPERTY_SET,
    cdw10: attribFor(cmd.size),
    cdw11: cmd.offset,
    cdw12: Number(cmd.value & 0xffff_ffffn),
    cdw13: Number(cmd.value >> 32n),
  });
}

/** parseSqe plus the checks every Fabrics parser makes: opcode 0x7f and the expected FCTYPE. */
function parseFabrics(buf: Buffer, fctype: number, what: string): NvmeSqe {
  const sqe = parseSqe(buf);
  if (sqe.opcode !== NVME_FABRICS_OPCODE) {
    throw new WireError('BAD_FIELD', `${what}: opcode 0x${sqe.opcode.toString(16)} is not a Fabrics command`, {
      field: 'opcode',
      expected: NVME_FABRICS_OPCODE,
      got: sqe.opcode,
    });
  }
  const got = buf.readUInt8(FCTYPE);
  if (got !== fctype) {
    throw new WireError('BAD_FIELD', `${what}: fctype 0x${got.toString(16)} is not this command`, {
      field: 'fctype',
      expected: fctype,
      got,
    });
  }
  return sqe;
}

function attribFor(size: 4 | 8): number {
  if (size !== 4 && size !== 8) {
    throw new WireError('BAD_FIELD', `property size must be 4 or 8, got ${String(size)}`, {
      field: 'size',
      expected: '4 or 8',
      got: size,
    });
  }
  return size === 8 ? 1 : 0;
}

function attribSize(cdw10: number): 4 | 8 {
  const code = cdw10 & 0x7;
  if (code === 0) return 4;
  if (code === 1) return 8;
  throw new WireError('BAD_FIELD', `property attrib size code ${code} is neither 4 (0) nor 8 (1) bytes`, {
    field: 'attrib',
    expected: '0 or 1',
    got: code,
  });
}

function emitNqn(field: string, nqn: string, out: Buffer, off: number): void {
  const len = Buffer.byteLength(nqn, 'utf8');
  if (len > NVMF_NQN_MAX_LEN || nqn.includes('\0')) {
    throw new WireError('BAD_FIELD', `${field}: NQN of ${len} bytes (max ${NVMF_NQN_MAX_LEN}, no NUL)`, {
      field,
      expected: `<= ${NVMF_NQN_MAX_LEN} bytes`,
      got: len,
    });
  }
  out.write(nqn, off, 'utf8');
}

function parseNqn(field: string, buf: Buffer, off: number): string {
  const area = buf.subarray(off, off + NVMF_NQN_FIELD_LEN);
  const end = area.indexOf(0);
  if (end < 0) {
    throw new WireError('BAD_FIELD', `${field}: no NUL within its ${NVMF_NQN_FIELD_LEN}-byte field`, {
      field,
      expected: 'NUL-terminated',
      got: 'unterminated',
    });
  }
  return area.toString('utf8', 0, end);
}
