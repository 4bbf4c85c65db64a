/**
 * NVMe controller registers, which NVMe over Fabrics calls properties and
 * reaches with Property Get/Set (nvme-fabrics.ts) instead of MMIO: their
 * offsets, sizes and bit fields (NVMe Base spec "Controller Registers").
 *
 *   CAP  0x00  8 bytes  MQES 15:0 (0's based), CQR 16, AMS 18:17, TO 31:24
 *                       (500 ms units), DSTRD 35:32, NSSRS 36, CSS 44:37,
 *                       BPS 45, MPSMIN 51:48, MPSMAX 55:52
 *   VS   0x08  4 bytes  MJR 31:16, MNR 15:8, TER 7:0
 *   CC   0x14  4 bytes  EN 0, CSS 6:4, MPS 10:7, AMS 13:11, SHN 15:14,
 *                       IOSQES 19:16, IOCQES 23:20
 *   CSTS 0x1c  4 bytes  RDY 0, CFS 1, SHST 3:2, NSSRO 4, PP 5
 *
 * The host's bring-up over fabrics: Property Get CAP and VS, Property Set CC
 * with EN=1, poll Property Get CSTS until RDY=1 (for at most CAP.TO × 500 ms);
 * shutdown: CC.SHN=normal, poll CSTS.SHST until complete.
 */
import { checkNvmeField } from './nvme-sqe.js';

/** Property offsets. */
export const NvmeReg = {
  CAP: 0x00,
  VS: 0x08,
  INTMS: 0x0c,
  INTMC: 0x10,
  CC: 0x14,
  CSTS: 0x1c,
  NSSR: 0x20,
} as const;

/** CC.SHN values. */
export const CcShn = { NONE: 0, NORMAL: 1, ABRUPT: 2 } as const;
/** CSTS.SHST values. */
export const CstsShst = { NORMAL: 0, OCCURRING: 1, COMPLETE: 2 } as const;
/** CC.EN as a bit mask. */
export const CC_EN = 0x1;
/** CSTS.RDY as a bit mask. */
export const CSTS_RDY = 0x1;
/** CSTS.CFS (controller fatal status) as a bit mask. */
export const CSTS_CFS = 0x2;
/** CAP.CSS bit for the NVM command set (bit 0 of the field, bit 37 of CAP). */
export const CAP_CSS_NVM = 0x01;

/** Size in bytes of the property at `offset`, or undefined for one ddplab does not know. */
export function nvmeRegSize(offset: number): 4 | 8 | undefined {
  switch (offset) {
    case NvmeReg.CAP:
      return 8;
    case NvmeReg.VS:
    case NvmeReg.INTMS:
    case NvmeReg.INTMC:
    case NvmeReg.CC:
    case NvmeReg.CSTS:
    case NvmeReg.NSSR:
      return 4;
    default:
      return undefined;
  }
}

/** Controller Capabilities. */
export interface NvmeCap {
  /** Maximum queue entries supported, 0's based (1023 → queues of up to 1024 entries). */
  readonly mqes: number;
  /** Contiguous queues required. */
  readonly cqr: boolean;
  /** Arbitration mechanisms supported (bit 0 weighted round robin, bit 1 vendor specific). */
  readonly ams: number;
  /** Worst-case time to become ready after CC.EN changes, in 500 ms units. */
  readonly to: number;
  /** Doorbell stride (2^(2+DSTRD) bytes); meaningless on fabrics. */
  readonly dstrd: number;
  /** NVM subsystem reset supported. */
  readonly nssrs: boolean;
  /** Command sets supported (bit 0: NVM, CAP_CSS_NVM). */
  readonly css: number;
  /** Boot partition support. */
  readonly bps: boolean;
  /** Minimum memory page size: 2^(12+MPSMIN) bytes. */
  readonly mpsmin: number;
  /** Maximum memory page size: 2^(12+MPSMAX) bytes. */
  readonly mpsmax: number;
}

/** Controller Configuration. */
export interface NvmeCc {
  /** Enable. */
  readonly en: boolean;
  /** I/O command set selected (0 = NVM). */
  readonly css: number;
  /** Memory page size: 2^(12+MPS) bytes. */
  readonly mps: number;
  /** Arbitration mechanism selected. */
  readonly ams: number;
  /** Shutdown notification, CcShn. */
  readonly shn: number;
  /** I/O SQ entry size as log2 (6 → 64 bytes). */
  readonly iosqes: number;
  /** I/O CQ entry size as log2 (4 → 16 bytes). */
  readonly iocqes: number;
}

/** Controller Status. */
export interface NvmeCsts {
  /** Ready: the controller processes commands. */
  readonly rdy: boolean;
  /** Controller fatal status. */
  readonly cfs: boolean;
  /** Shutdown status, CstsShst. */
  readonly shst: number;
  /** NVM subsystem reset occurred. */
  readonly nssro: boolean;
  /** Processing paused. */
  readonly pp: boolean;
}

/** Version. */
export interface NvmeVersion {
  readonly major: number;
  readonly minor: number;
  readonly tertiary: number;
}

/**
 * A register's bit fields as [lowest bit, width in bits] (the table in the
 * header comment); a one-bit field is a flag, decoded as a boolean. A field
 * lies within one 32-bit half of a 64-bit register and is at most 16 bits wide.
 */
type BitFields = Readonly<Record<string, readonly [lsb: number, bits: number]>>;
type Unpacked<F extends BitFields> = { readonly [K in keyof F]: F[K][1] extends 1 ? boolean : number };

const CAP_FIELDS = {
  mqes: [0, 16], cqr: [16, 1], ams: [17, 2], to: [24, 8], dstrd: [32, 4],
  nssrs: [36, 1], css: [37, 8], bps: [45, 1], mpsmin: [48, 4], mpsmax: [52, 4],
} as const;
const CC_FIELDS = { en: [0, 1], css: [4, 3], mps: [7, 4], ams: [11, 3], shn: [14, 2], iosqes: [16, 4], iocqes: [20, 4] } as const;
const CSTS_FIELDS = { rdy: [0, 1], cfs: [1, 1], shst: [2, 2], nssro: [4, 1], pp: [5, 1] } as const;

/** Every field of `fields` out of a register whose bits 31:0 are `lo` and 63:32 `hi`. */
function unpackFields<F extends BitFields>(fields: F, lo: number, hi = 0): Unpacked<F> {
  const out: Record<string, number | boolean> = {};
  for (const name of Object.keys(fields)) {
    const [lsb, bits] = fields[name]!;
    const v = (lsb < 32 ? lo >>> lsb : hi >>> (lsb - 32)) & ((1 << bits) - 1);
    out[name] = bits === 1 ? v === 1 : v;
  }
  return out as Unpacked<F>;
}

/** The 32 bits from `fromBit` up of a register holding `values`; BAD_FIELD (checkNvmeField) for a value wider than its field. */
function packFields<F extends BitFields>(fields: F, values: Unpacked<F>, fromBit = 0): number {
  let word = 0;
  for (const name of Object.keys(fields)) {
    const [lsb, bits] = fields[name]!;
    if (lsb < fromBit || lsb >= fromBit + 32) continue;
    const v = (values as Readonly<Record<string, number | boolean>>)[name]!;
    if (typeof v === 'boolean') {
      if (v) word |= 1 << (lsb - fromBit);
    } else {
      checkNvmeField(name, v, (1 << bits) - 1);
      word |= v << (lsb - fromBit);
    }
  }
  return word >>> 0;
}

/** Decodes CAP. */
export function parseCap(cap: bigint): NvmeCap {
  return unpackFields(CAP_FIELDS, Number(cap & 0xffff_ffffn), Number((cap >> 32n) & 0xffff_ffffn));
}

/** Encodes CAP. Throws BAD_FIELD for a field out of range. */
export function encodeCap(cap: NvmeCap): bigint {
  const lo = packFields(CAP_FIELDS, cap, 0);
  return (BigInt(packFields(CAP_FIELDS, cap, 32)) << 32n) | BigInt(lo);
}

/** CAP.TO in milliseconds: how long a host waits for CSTS.RDY to follow CC.EN. */
export function capTimeoutMs(cap: bigint): number {
  return parseCap(cap).to * 500;
}

/** Decodes CC. */
export function parseCc(cc: number): NvmeCc {
  return unpackFields(CC_FIELDS, cc);
}

/** Encodes CC. Throws BAD_FIELD for a field out of range. */
export function encodeCc(cc: NvmeCc): number {
  return packFields(CC_FIELDS, cc);
}

/** Decodes CSTS. */
export function parseCsts(csts: number): NvmeCsts {
  return unpackFields(CSTS_FIELDS, csts);
}

/** Encodes CSTS. Throws BAD_FIELD for a field out of range. */
export function encodeCsts(csts: NvmeCsts): number {
  return packFields(CSTS_FIELDS, csts);
}

/** Decodes VS (also the VER field of Identify Controller). */
export function parseVersion(vs: number): NvmeVersion {
  return { major: vs >>> 16, minor: (vs >>> 8) & 0xff, tertiary: vs & 0xff };
}

/** Encodes VS: `encodeVersion({ major: 1, minor: 4, tertiary: 0 })` is 0x00010400. */
export function encodeVersion(v: NvmeVersion): number {
  checkNvmeField('major', v.major, 0xffff);
  checkNvmeField('minor', v.minor, 0xff);
  checkNvmeField('tertiary', v.tertiary, 0xff);
  return ((v.major << 16) | (v.minor << 8) | v.tertiary) >>> 0;
}
