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

/** Decodes CAP. */
export function parseCap(cap: bigint): NvmeCap {
  const lo = Number(cap & 0xffff_ffffn);
  const hi = Number((cap >> 32n) & 0xffff_ffffn);
  return {
    mqes: lo & 0xffff,
    cqr: ((lo >>> 16) & 1) === 1,
    ams: (lo >>> 17) & 0x3,
    to: (lo >>> 24) & 0xff,
    dstrd: hi & 0xf,
    nssrs: ((hi >>> 4) & 1) === 1,
    css: (hi >>> 5) & 0xff,
    bps: ((hi >>> 13) & 1) === 1,
    mpsmin: (hi >>> 16) & 0xf,
    mpsmax: (hi >>> 20) & 0xf,
  };
}

/** Encodes CAP. Throws BAD_FIELD for a field out of range. */
export function encodeCap(cap: NvmeCap): bigint {
  checkNvmeField('mqes', cap.mqes, 0xffff);
  checkNvmeField('ams', cap.ams, 0x3);
  checkNvmeField('to', cap.to, 0xff);
  checkNvmeField('dstrd', cap.dstrd, 0xf);
  checkNvmeField('css', cap.css, 0xff);
  checkNvmeField('mpsmin', cap.mpsmin, 0xf);
  checkNvmeField('mpsmax', cap.mpsmax, 0xf);
  const lo = (cap.mqes | (cap.cqr ? 1 << 16 : 0) | (cap.ams << 17) | (cap.to << 24)) >>> 0;
  const hi =
    (cap.dstrd | (cap.nssrs ? 1 << 4 : 0) | (cap.css << 5) | (cap.bps ? 1 << 13 : 0) | (cap.mpsmin << 16) | (cap.mpsmax << 20)) >>>
    0;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** CAP.TO in milliseconds: how long a host waits for CSTS.RDY to follow CC.EN. */
export function capTimeoutMs(cap: bigint): number {
  return parseCap(cap).to * 500;
}

/** Decodes CC. */
export function parseCc(cc: number): NvmeCc {
  return {
    en: (cc & CC_EN) !== 0,
    css: (cc >>> 4) & 0x7,
    mps: (cc >>> 7) & 0xf,
    ams: (cc >>> 11) & 0x7,
    shn: (cc >>> 14) & 0x3,
    iosqes: (cc >>> 16) & 0xf,
    iocqes: (cc >>> 20) & 0xf,
  };
}

/** Encodes CC. Throws BAD_FIELD for a field out of range. */
export function encodeCc(cc: NvmeCc): number {
  checkNvmeField('css', cc.css, 0x7);
  checkNvmeField('mps', cc.mps, 0xf);
  checkNvmeField('ams', cc.ams, 0x7);
  checkNvmeField('shn', cc.shn, 0x3);
  checkNvmeField('iosqes', cc.iosqes, 0xf);
  checkNvmeField('iocqes', cc.iocqes, 0xf);
  return (
    ((cc.en ? CC_EN : 0) |
      (cc.css << 4) |
      (cc.mps << 7) |
      (cc.ams << 11) |
      (cc.shn << 14) |
      (cc.iosqes << 16) |
      (cc.iocqes << 20)) >>>
    0
  );
}

/** Decodes CSTS. */
export function parseCsts(csts: number): NvmeCsts {
  return {
    rdy: (csts & CSTS_RDY) !== 0,
    cfs: (csts & CSTS_CFS) !== 0,
    shst: (csts >>> 2) & 0x3,
    nssro: ((csts >>> 4) & 1) === 1,
    pp: ((csts >>> 5) & 1) === 1,
  };
}

/** Encodes CSTS. Throws BAD_FIELD for a field out of range. */
export function encodeCsts(csts: NvmeCsts): number {
  checkNvmeField('shst', csts.shst, 0x3);
  return (
    (csts.rdy ? CSTS_RDY : 0) | (csts.cfs ? CSTS_CFS : 0) | (csts.shst << 2) | (csts.nssro ? 1 << 4 : 0) | (csts.pp ? 1 << 5 : 0)
  );
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
