/**
 * Identify (admin opcode 0x06) and the 4096-byte data structures it returns
 * (NVMe Base spec "Identify Controller/Namespace data structure"; Linux
 * struct nvme_id_ctrl / nvme_id_ns). Little-endian. Only the fields ddplab's
 * host and target use are decoded, each at its spec offset; emit zeroes the
 * rest.
 *
 * Command: NSID @4, DPTR @24 (data comes back in C2HData), CNS = CDW10 bits 7:0.
 *
 * Identify Controller (CNS 0x01):
 *   VID u16 @0, SSVID u16 @2, SN 20 @4, MN 40 @24, FR 8 @64 (ASCII, space
 *   padded), MDTS u8 @77, CNTLID u16 @78, VER u32 @80, CNTRLTYPE u8 @111,
 *   KAS u16 @320, SQES u8 @512, CQES u8 @513, MAXCMD u16 @514, NN u32 @516,
 *   ONCS u16 @520, VWC u8 @525, SGLS u32 @536, SUBNQN 256 @768;
 *   Fabrics area: IOCCSZ u32 @1792, IORCSZ u32 @1796, ICDOFF u16 @1800,
 *   FCATT u8 @1802, MSDBD u8 @1803.
 * Identify Namespace (CNS 0x00):
 *   NSZE u64 @0, NCAP u64 @8, NUSE u64 @16, NSFEAT u8 @24, NLBAF u8 @25
 *   (0's based), FLBAS u8 @26, LBAF[n] @128 + 4n: MS u16, LBADS u8, RP u8.
 * Active Namespace ID list (CNS 0x02): up to 1024 u32 NSIDs greater than the
 * command's NSID, ascending, ended by 0.
 */
import { buildFixed } from './fixed-buffer.js';
import { readLeUints, writeLeUints, type LeUintFields } from './le-uint-fields.js';
import { needBytes, WireError } from './errors.js';
import { checkNvmeField, nvmeU8, nvmeU16, NvmeAdminOpcode, parseSqe, sqeWith, sqeWriters, type NvmeSqe, type SglDescriptor } from './nvme-sqe.js';

/** Size of every Identify data structure. */
export const NVME_IDENTIFY_DATA_LEN = 4096;
/** Most NSIDs an Active Namespace ID list holds. */
export const NVME_ID_NS_LIST_MAX = 1024;

/** Controller or Namespace Structure (CNS) values ddplab uses. */
export const NvmeIdCns = {
  NS: 0x00,
  CTRL: 0x01,
  NS_ACTIVE_LIST: 0x02,
  NS_DESC_LIST: 0x03,
} as const;

/** SGLS bits of Identify Controller. */
export const NvmeCtrlSgls = {
  /** SGLs supported, no alignment requirement (bits 1:0 = 01b). */
  SUPPORTED: 1 << 0,
  /** SGLs supported with dword alignment (bits 1:0 = 10b). */
  SUPPORTED_DWORD_ALIGNED: 1 << 1,
  /** Keyed SGL Data Block descriptor supported (RDMA). */
  KEYED: 1 << 2,
  /** Address field may be an offset: in-capsule data is supported (Linux nvmet sets it when it has inline data). */
  ADDR_OFFSET: 1 << 20,
} as const;

/** CNTRLTYPE values. */
export const NvmeCtrlType = { NOT_REPORTED: 0, IO: 1, DISCOVERY: 2, ADMIN: 3 } as const;

/** An Identify command. */
export interface NvmeIdentifyCommand {
  readonly kind: 'identify';
  readonly cid: number;
  /** NvmeIdCns. */
  readonly cns: number;
  /** Namespace for CNS 0x00; for CNS 0x02 the list starts after this NSID; 0 otherwise. */
  readonly nsid: number;
  /** Where the 4096 bytes go: sglTransportData(4096). */
  readonly dptr: SglDescriptor;
}

/** The Identify Controller fields ddplab uses. */
export interface NvmeIdCtrl {
  /** PCI vendor id. */
  readonly vid: number;
  /** PCI subsystem vendor id. */
  readonly ssvid: number;
  /** Serial number, ASCII, at most 20 characters (trailing spaces dropped). */
  readonly sn: string;
  /** Model number, ASCII, at most 40 characters. */
  readonly mn: string;
  /** Firmware revision, ASCII, at most 8 characters. */
  readonly fr: string;
  /** Maximum data transfer size: 2^MDTS × CAP.MPSMIN page; 0 = no limit. */
  readonly mdts: number;
  /** Controller id. */
  readonly cntlid: number;
  /** Version, the same encoding as VS (nvme-registers.ts encodeVersion). */
  readonly ver: number;
  /** NvmeCtrlType. */
  readonly cntrltype: number;
  /** Keep Alive Support: granularity in 100 ms units; 0 = no keep alive. */
  readonly kas: number;
  /** SQ entry size: bits 3:0 required, 7:4 maximum, as log2 (0x66 for 64 bytes). */
  readonly sqes: number;
  /** CQ entry size: bits 3:0 required, 7:4 maximum, as log2 (0x44 for 16 bytes). */
  readonly cqes: number;
  /** Maximum outstanding commands per queue; 0 = not reported. */
  readonly maxcmd: number;
  /** Number of namespaces: the largest valid NSID. */
  readonly nn: number;
  /** Optional NVM commands supported (bit 3 Write Zeroes, ...). */
  readonly oncs: number;
  /** Volatile write cache present (bit 0): Flush is meaningful. */
  readonly vwc: number;
  /** SGL support, NvmeCtrlSgls. */
  readonly sgls: number;
  /** NQN of the subsystem. */
  readonly subnqn: string;
  /** I/O queue command capsule size in 16-byte units: (64 + in-capsule data bytes) / 16. */
  readonly ioccsz: number;
  /** I/O queue response capsule size in 16-byte units (1: a bare CQE). */
  readonly iorcsz: number;
  /** In-capsule data offset in 16-byte units (0 for NVMe/TCP). */
  readonly icdoff: number;
  /** Fabrics controller attributes (bit 0: static controller model). */
  readonly fcatt: number;
  /** Maximum SGL data block descriptors per command (Linux nvmet: 1). */
  readonly msdbd: number;
}

/** One LBA format descriptor. */
export interface NvmeLbaFormat {
  /** Metadata bytes per block. */
  readonly ms: number;
  /** Block size as log2 (9 → 512 bytes, 12 → 4096). */
  readonly lbads: number;
  /** Relative performance, 0 (best) .. 3. */
  readonly rp: number;
}

/** The Identify Namespace fields ddplab uses. Sizes are in logical blocks. */
export interface NvmeIdNs {
  /** Namespace size. ddplab keeps u64 counts as numbers; values ≥ 2^53 are refused (UNSUPPORTED). */
  readonly nsze: number;
  /** Namespace capacity. */
  readonly ncap: number;
  /** Namespace utilization. */
  readonly nuse: number;
  /** Namespace features. */
  readonly nsfeat: number;
  /** Number of LBA formats, 0's based: lbaf has nlbaf + 1 entries. */
  readonly nlbaf: number;
  /** Formatted LBA size: bits 3:0 (and 6:5 above 16 formats) index lbaf; bit 4 metadata at the end of the block. */
  readonly flbas: number;
  /** LBA formats, nlbaf + 1 of them (at most 64). */
  readonly lbaf: readonly NvmeLbaFormat[];
}

// Identify Controller: the text fields, then every numeric field as [offset, width].
const C_SN = 4;
const C_SN_LEN = 20;
const C_MN = 24;
const C_MN_LEN = 40;
const C_FR = 64;
const C_FR_LEN = 8;
const C_SUBNQN = 768;
const C_SUBNQN_LEN = 256;
const ID_CTRL_UINTS: LeUintFields<Exclude<keyof NvmeIdCtrl, 'sn' | 'mn' | 'fr' | 'subnqn'>> = {
  vid: [0, 2],
  ssvid: [2, 2],
  mdts: [77, 1],
  cntlid: [78, 2],
  ver: [80, 4],
  cntrltype: [111, 1],
  kas: [320, 2],
  sqes: [512, 1],
  cqes: [513, 1],
  maxcmd: [514, 2],
  nn: [516, 4],
  oncs: [520, 2],
  vwc: [525, 1],
  sgls: [536, 4],
  ioccsz: [1792, 4],
  iorcsz: [1796, 4],
  icdoff: [1800, 2],
  fcatt: [1802, 1],
  msdbd: [1803, 1],
};

// Identify Namespace offsets.
const N_NSZE = 0;
const N_NCAP = 8;
const N_NUSE = 16;
const N_NSFEAT = 24;
const N_NLBAF = 25;
const N_FLBAS = 26;
const N_LBAF = 128;
const N_LBAF_MAX = 64;

/** emitIdentify writes an Identify SQE at `out[off..off+64)`, buildIdentify allocates one. */
export const { emit: emitIdentify, build: buildIdentify } = sqeWriters(identifyToSqe);

/** Parses an Identify SQE. Throws TRUNCATED or BAD_FIELD (other opcode). */
export function parseIdentify(buf: Buffer): NvmeIdentifyCommand {
  const sqe = parseSqe(buf);
  if (sqe.opcode !== NvmeAdminOpcode.IDENTIFY) {
    throw new WireError('BAD_FIELD', `identify: opcode 0x${sqe.opcode.toString(16)} is not this command`, {
      field: 'opcode',
      expected: NvmeAdminOpcode.IDENTIFY,
      got: sqe.opcode,
    });
  }
  return { kind: 'identify', cid: sqe.cid, cns: sqe.cdw10 & 0xff, nsid: sqe.nsid, dptr: sqe.dptr };
}

/** Writes Identify Controller data at `out[off..off+4096)`; fields ddplab does not model are zero. */
export function emitIdCtrl(id: NvmeIdCtrl, out: Buffer, off = 0): void {
  needBytes(out, off + NVME_IDENTIFY_DATA_LEN, 'identify controller output');
  out.fill(0, off, off + NVME_IDENTIFY_DATA_LEN);
  writeLeUints(out, off, ID_CTRL_UINTS, id);
  emitAscii('sn', id.sn, out, off + C_SN, C_SN_LEN);
  emitAscii('mn', id.mn, out, off + C_MN, C_MN_LEN);
  emitAscii('fr', id.fr, out, off + C_FR, C_FR_LEN);
  emitNqn(id.subnqn, out, off + C_SUBNQN);
}

/** Allocates the 4096-byte Identify Controller data. */
export function buildIdCtrl(id: NvmeIdCtrl): Buffer {
  return buildFixed(NVME_IDENTIFY_DATA_LEN, emitIdCtrl, id);
}

/** Parses Identify Controller data. Throws TRUNCATED if shorter than 4096 bytes. */
export function parseIdCtrl(buf: Buffer): NvmeIdCtrl {
  needBytes(buf, NVME_IDENTIFY_DATA_LEN, 'identify controller data');
  return {
    ...readLeUints(buf, 0, ID_CTRL_UINTS),
    sn: parseAscii(buf, C_SN, C_SN_LEN),
    mn: parseAscii(buf, C_MN, C_MN_LEN),
    fr: parseAscii(buf, C_FR, C_FR_LEN),
    subnqn: parseNqn(buf, C_SUBNQN),
  };
}

/** In-capsule data bytes an I/O queue command capsule can carry: IOCCSZ × 16 − 64 (never negative). */
export function inCapsuleDataBytes(id: Pick<NvmeIdCtrl, 'ioccsz'>): number {
  return Math.max(0, id.ioccsz * 16 - 64);
}

/** Writes Identify Namespace data at `out[off..off+4096)`. Throws BAD_FIELD if lbaf does not hold nlbaf + 1 entries. */
export function emitIdNs(ns: NvmeIdNs, out: Buffer, off = 0): void {
  needBytes(out, off + NVME_IDENTIFY_DATA_LEN, 'identify namespace output');
  checkNvmeField('nlbaf', ns.nlbaf, N_LBAF_MAX - 1);
  if (ns.lbaf.length !== ns.nlbaf + 1) {
    throw new WireError('BAD_FIELD', `lbaf: ${ns.lbaf.length} formats but nlbaf ${ns.nlbaf} says ${ns.nlbaf + 1}`, {
      field: 'lbaf',
      expected: ns.nlbaf + 1,
      got: ns.lbaf.length,
    });
  }
  out.fill(0, off, off + NVME_IDENTIFY_DATA_LEN);
  writeU64Number('nsze', ns.nsze, out, off + N_NSZE);
  writeU64Number('ncap', ns.ncap, out, off + N_NCAP);
  writeU64Number('nuse', ns.nuse, out, off + N_NUSE);
  out.writeUInt8(nvmeU8('nsfeat', ns.nsfeat), off + N_NSFEAT);
  out.writeUInt8(ns.nlbaf, off + N_NLBAF);
  out.writeUInt8(nvmeU8('flbas', ns.flbas), off + N_FLBAS);
  ns.lbaf.forEach((f, i) => {
    const at = off + N_LBAF + 4 * i;
    out.writeUInt16LE(nvmeU16('lbaf ms', f.ms), at);
    out.writeUInt8(nvmeU8('lbaf lbads', f.lbads), at + 2);
    checkNvmeField('lbaf rp', f.rp, 0x3);
    out.writeUInt8(f.rp, at + 3);
  });
}

/** Allocates the 4096-byte Identify Namespace data. */
export function buildIdNs(ns: NvmeIdNs): Buffer {
  return buildFixed(NVME_IDENTIFY_DATA_LEN, emitIdNs, ns);
}

/** Parses Identify Namespace data. Throws TRUNCATED if shorter than 4096 bytes, UNSUPPORTED for sizes ≥ 2^53, BAD_FIELD for NLBAF ≥ 64. */
export function parseIdNs(buf: Buffer): NvmeIdNs {
  needBytes(buf, NVME_IDENTIFY_DATA_LEN, 'identify namespace data');
  const nlbaf = buf.readUInt8(N_NLBAF);
  if (nlbaf >= N_LBAF_MAX) {
    throw new WireError('BAD_FIELD', `nlbaf ${nlbaf}: at most ${N_LBAF_MAX} LBA formats exist`, {
      field: 'nlbaf',
      expected: `0..${N_LBAF_MAX - 1}`,
      got: nlbaf,
    });
  }
  const lbaf: NvmeLbaFormat[] = [];
  for (let i = 0; i <= nlbaf; i++) {
    const at = N_LBAF + 4 * i;
    lbaf.push({ ms: buf.readUInt16LE(at), lbads: buf.readUInt8(at + 2), rp: buf.readUInt8(at + 3) & 0x3 });
  }
  return {
    nsze: readU64Number('nsze', buf, N_NSZE),
    ncap: readU64Number('ncap', buf, N_NCAP),
    nuse: readU64Number('nuse', buf, N_NUSE),
    nsfeat: buf.readUInt8(N_NSFEAT),
    nlbaf,
    flbas: buf.readUInt8(N_FLBAS),
    lbaf,
  };
}

/**
 * The LBA format in use (FLBAS bits 3:0, extended by bits 6:5 when there are
 * more than 16 formats, as Linux reads it). Throws BAD_FIELD if FLBAS points
 * past the formats.
 */
export function idNsCurrentLbaf(ns: NvmeIdNs): NvmeLbaFormat {
  let index = ns.flbas & 0x0f;
  if (ns.nlbaf + 1 > 16) index |= (ns.flbas & 0x60) >>> 1;
  const f = ns.lbaf[index];
  if (f === undefined) {
    throw new WireError('BAD_FIELD', `flbas selects format ${index} of ${ns.lbaf.length}`, {
      field: 'flbas',
      expected: `< ${ns.lbaf.length}`,
      got: index,
    });
  }
  return f;
}

/** Logical block size in bytes of the namespace's current format (2^LBADS). */
export function idNsLbaSizeBytes(ns: NvmeIdNs): number {
  return 2 ** idNsCurrentLbaf(ns).lbads;
}

/** Writes an Active Namespace ID list at `out[off..off+4096)`. Throws BAD_FIELD unless nsids are ascending, non-zero, at most 1024. */
export function emitNsList(nsids: readonly number[], out: Buffer, off = 0): void {
  needBytes(out, off + NVME_IDENTIFY_DATA_LEN, 'namespace list output');
  if (nsids.length > NVME_ID_NS_LIST_MAX) {
    throw new WireError('BAD_FIELD', `namespace list: ${nsids.length} NSIDs, at most ${NVME_ID_NS_LIST_MAX}`, {
      field: 'nsids',
      expected: `<= ${NVME_ID_NS_LIST_MAX}`,
      got: nsids.length,
    });
  }
  out.fill(0, off, off + NVME_IDENTIFY_DATA_LEN);
  let prev = 0;
  nsids.forEach((nsid, i) => {
    checkNvmeField('nsid', nsid, 0xffff_ffff);
    if (nsid <= prev) {
      throw new WireError('BAD_FIELD', `namespace list: NSID ${nsid} at index ${i} is not above ${prev}`, {
        field: 'nsids',
        expected: `> ${prev}`,
        got: nsid,
      });
    }
    out.writeUInt32LE(nsid, off + 4 * i);
    prev = nsid;
  });
}

/** Allocates a 4096-byte Active Namespace ID list. */
export function buildNsList(nsids: readonly number[]): Buffer {
  return buildFixed(NVME_IDENTIFY_DATA_LEN, emitNsList, nsids);
}

/** Parses an Active Namespace ID list: the NSIDs before the first 0. Throws TRUNCATED if shorter than 4096 bytes. */
export function parseNsList(buf: Buffer): number[] {
  needBytes(buf, NVME_IDENTIFY_DATA_LEN, 'namespace list');
  const nsids: number[] = [];
  for (let i = 0; i < NVME_ID_NS_LIST_MAX; i++) {
    const nsid = buf.readUInt32LE(4 * i);
    if (nsid === 0) break;
    nsids.push(nsid);
  }
  return nsids;
}

function identifyToSqe(cmd: NvmeIdentifyCommand): NvmeSqe {
  checkNvmeField('cns', cmd.cns, 0xff);
  return sqeWith({ opcode: NvmeAdminOpcode.IDENTIFY, cid: cmd.cid, nsid: cmd.nsid, dptr: cmd.dptr, cdw10: cmd.cns });
}

/** SN/MN/FR: ASCII, left justified, padded with spaces (NVMe Base spec); NULs are tolerated as padding. */
function emitAscii(field: string, s: string, out: Buffer, off: number, len: number): void {
  if (s.length > len || !/^[\x20-\x7e]*$/.test(s)) {
    throw new WireError('BAD_FIELD', `${field}: "${s}" is not printable ASCII of at most ${len} characters`, {
      field,
      expected: `<= ${len} ASCII characters`,
      got: s.length,
    });
  }
  out.fill(0x20, off, off + len);
  out.write(s, off, 'latin1');
}

function parseAscii(buf: Buffer, off: number, len: number): string {
  return buf.toString('latin1', off, off + len).replace(/[ \0]+$/, '');
}

function emitNqn(nqn: string, out: Buffer, off: number): void {
  const len = Buffer.byteLength(nqn, 'utf8');
  if (len >= C_SUBNQN_LEN || nqn.includes('\0')) {
    throw new WireError('BAD_FIELD', `subnqn: NQN of ${len} bytes does not fit ${C_SUBNQN_LEN} with its NUL`, {
      field: 'subnqn',
      expected: `< ${C_SUBNQN_LEN} bytes`,
      got: len,
    });
  }
  out.write(nqn, off, 'utf8');
}

function parseNqn(buf: Buffer, off: number): string {
  const area = buf.subarray(off, off + C_SUBNQN_LEN);
  const end = area.indexOf(0);
  return area.toString('utf8', 0, end < 0 ? C_SUBNQN_LEN : end);
}

function readU64Number(field: string, buf: Buffer, off: number): number {
  const lo = buf.readUInt32LE(off);
  const hi = buf.readUInt32LE(off + 4);
  if (hi > 0x1f_ffff) {
    throw new WireError('UNSUPPORTED', `${field}: 0x${hi.toString(16)}${lo.toString(16).padStart(8, '0')} is beyond 2^53`, {
      field,
      expected: '< 2^53',
      got: `0x${hi.toString(16)}${lo.toString(16).padStart(8, '0')}`,
    });
  }
  return hi * 0x1_0000_0000 + lo;
}

function writeU64Number(field: string, v: number, out: Buffer, off: number): void {
  if (!Number.isSafeInteger(v) || v < 0) {
    throw new WireError('BAD_FIELD', `${field}: ${v} is not a non-negative safe integer`, {
      field,
      expected: '0..2^53-1',
      got: v,
    });
  }
  out.writeUInt32LE(v % 0x1_0000_0000, off);
  out.writeUInt32LE(Math.floor(v / 0x1_0000_0000), off + 4);
}
