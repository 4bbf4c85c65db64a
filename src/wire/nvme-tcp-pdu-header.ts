/**
 * The bytes of an NVMe/TCP PDU header: type codes, flag bits, sizes, field
 * offsets, and `PduHeaderView`, typed accessors over a header in place.
 *
 * This is the `Packet` half of the wire codec (smoltcp keeps a byte view
 * beside the parsed repr): code that needs one field of a header it has not
 * parsed — a NIC walking a TCP stream, a TermReq naming the byte offset of a
 * bad field, a forger or fuzzer rewriting a header — reads it here instead of
 * declaring the offsets again. The meaning (reprs, validation, parse, emit)
 * lives in nvme-tcp-pdu.ts, which uses these same offsets.
 *
 * Common header, 8 bytes, then the type's fields (all integers little-endian):
 *
 *   0     1      2     3    4         8
 *   | type | flags | hlen | pdo | plen   | type-specific fields ... hlen
 */
import { needBytes } from './errors.js';
import { CqeField } from './nvme-cqe.js';
import { SqeField } from './nvme-sqe.js';

/** PDU type codes. 0x08 is unused by the transport. */
export const PduType = {
  ICReq: 0x00,
  ICResp: 0x01,
  H2CTermReq: 0x02,
  C2HTermReq: 0x03,
  CapsuleCmd: 0x04,
  CapsuleResp: 0x05,
  H2CData: 0x06,
  C2HData: 0x07,
  R2T: 0x09,
} as const;
export type PduType = (typeof PduType)[keyof typeof PduType];

/** Common-header flag bits. */
export const PduFlags = {
  /** A 4-byte header digest follows the hlen header bytes. */
  HDGSTF: 0x01,
  /** A 4-byte data digest ends the PDU. */
  DDGSTF: 0x02,
  /** H2CData/C2HData: last data PDU of the command (or of the R2T). */
  LAST_PDU: 0x04,
  /** C2HData: command completed successfully, no CapsuleResp follows (needs LAST_PDU). */
  SUCCESS: 0x08,
} as const;

/** Fatal Error Status of a TermReq. */
export const TermReqFes = {
  InvalidHeaderField: 0x01,
  PduSequenceError: 0x02,
  HeaderDigestError: 0x03,
  DataOutOfRange: 0x04,
  /** Also "R2T limit exceeded": the spec gives both the same code. */
  DataLimitExceeded: 0x05,
  UnsupportedParameter: 0x06,
} as const;

/** ICReq/ICResp digest byte bits. */
export const IcDigest = {
  HDGST: 0x01,
  DDGST: 0x02,
} as const;

export const NVME_TCP_COMMON_HEADER_LEN = 8;
export const NVME_TCP_DIGEST_LEN = 4;
export const NVME_TCP_SQE_LEN = 64;
export const NVME_TCP_CQE_LEN = 16;
/** A TermReq carries at most 128 bytes of the PDU header in error: plen 24..152. */
export const NVME_TCP_TERM_REQ_MAX_DATA_LEN = 128;
/** HPDA/CPDA are 0's based dword counts 0..31 (alignment 4..128 bytes). */
export const NVME_TCP_MAX_PDA = 31;
/**
 * ddplab's cap on plen. The transport allows up to 2^32-1; ddplab refuses
 * PDUs carrying more than 16 MiB of data (Linux nvmet's largest MAXH2CDATA)
 * plus room for the largest header, HDGST, padding (PDO ≤ 255) and DDGST.
 * A garbage plen then cannot make a receiver wait for gigabytes.
 */
export const NVME_TCP_MAX_PLEN = 16 * 1024 * 1024 + 512;

/**
 * Byte offset of every header field from the PDU's first byte. A TermReq's
 * FEI for "invalid header field" is one of these numbers.
 */
export const PduField = {
  // Common header (every PDU).
  TYPE: 0,
  FLAGS: 1,
  HLEN: 2,
  PDO: 3,
  PLEN: 4,
  // ICReq / ICResp.
  IC_PFV: 8,
  /** HPDA in ICReq, CPDA in ICResp. */
  IC_PDA: 10,
  IC_DIGEST: 11,
  /** MAXR2T in ICReq, MAXH2CDATA in ICResp. */
  IC_MAX: 12,
  // H2CTermReq / C2HTermReq.
  TERM_FES: 8,
  /** 4 bytes, not 4-byte aligned. */
  TERM_FEI: 10,
  // CapsuleCmd / CapsuleResp: the SQE or CQE follows the common header.
  CAPSULE_QE: 8,
  CAPSULE_CMD_OPCODE: 8 + SqeField.OPCODE,
  CAPSULE_CMD_CID: 8 + SqeField.CID,
  /** The SQE's data SGL length: in-capsule or R2T-driven data of a write. */
  CAPSULE_CMD_SGL_LENGTH: 8 + SqeField.DPTR_SGL_LENGTH,
  CAPSULE_RESP_CID: 8 + CqeField.CID,
  // H2CData / C2HData / R2T.
  XFER_CCCID: 8,
  /** Reserved in C2HData. */
  XFER_TTAG: 10,
  /** DATAO, or R2TO in an R2T. */
  XFER_DATAO: 12,
  /** DATAL, or R2TL in an R2T. */
  XFER_DATAL: 16,
} as const;

/** hlen of each PDU type (header without HDGST). */
export const PDU_HLEN: Readonly<Record<PduType, number>> = {
  [PduType.ICReq]: 128,
  [PduType.ICResp]: 128,
  [PduType.H2CTermReq]: 24,
  [PduType.C2HTermReq]: 24,
  [PduType.CapsuleCmd]: NVME_TCP_COMMON_HEADER_LEN + NVME_TCP_SQE_LEN,
  [PduType.CapsuleResp]: NVME_TCP_COMMON_HEADER_LEN + NVME_TCP_CQE_LEN,
  [PduType.H2CData]: 24,
  [PduType.C2HData]: 24,
  [PduType.R2T]: 24,
};

const TYPE_NAME: Readonly<Record<PduType, string>> = {
  [PduType.ICReq]: 'ICReq',
  [PduType.ICResp]: 'ICResp',
  [PduType.H2CTermReq]: 'H2CTermReq',
  [PduType.C2HTermReq]: 'C2HTermReq',
  [PduType.CapsuleCmd]: 'CapsuleCmd',
  [PduType.CapsuleResp]: 'CapsuleResp',
  [PduType.H2CData]: 'H2CData',
  [PduType.C2HData]: 'C2HData',
  [PduType.R2T]: 'R2T',
};

/** True when `n` is one of the nine PDU type codes. */
export function isPduType(n: number): n is PduType {
  return n <= 0x09 && n !== 0x08 && Number.isInteger(n) && n >= 0;
}

/** hlen of a PDU type: the header length without HDGST. */
export function pduHeaderLength(type: PduType): number {
  return PDU_HLEN[type];
}

/** The spec's name of a PDU type ("C2HData"), or "type 0x08" for unknown codes. */
export function pduTypeName(type: number): string {
  return isPduType(type) ? TYPE_NAME[type] : `type 0x${type.toString(16).padStart(2, '0')}`;
}

/** The 8-byte common header, raw. */
export interface CommonHeader {
  readonly type: number;
  readonly flags: number;
  readonly hlen: number;
  readonly pdo: number;
  readonly plen: number;
}

/**
 * Typed access to the header fields of a PDU starting at `buf[off]`, in
 * place: getters read the bytes, setters write them. Nothing is validated
 * or bounds-checked beyond what Buffer does (a read past the end throws
 * RangeError): check the length first (`available`, `hasBytes`), then read.
 * Which fields mean something depends on `type`. One view can be moved
 * along a stream with `at` so a per-byte scan allocates nothing.
 */
export class PduHeaderView {
  constructor(
    public buf: Buffer = Buffer.alloc(0),
    public off = 0,
  ) {}

  /** Points the view at the PDU starting at `buf[off]`. */
  at(buf: Buffer, off = 0): this {
    this.buf = buf;
    this.off = off;
    return this;
  }

  /** Bytes of `buf` from the PDU's first byte on. */
  get available(): number {
    return this.buf.length - this.off;
  }

  /** True when `buf` holds at least `n` bytes from the PDU's first byte. */
  hasBytes(n: number): boolean {
    return this.off >= 0 && this.buf.length - this.off >= n;
  }

  // ------------------------------------------------------------ common header

  get type(): number {
    return this.buf[this.off + PduField.TYPE]!;
  }
  set type(v: number) {
    this.buf[this.off + PduField.TYPE] = v;
  }
  get flags(): number {
    return this.buf[this.off + PduField.FLAGS]!;
  }
  set flags(v: number) {
    this.buf[this.off + PduField.FLAGS] = v;
  }
  get hlen(): number {
    return this.buf[this.off + PduField.HLEN]!;
  }
  set hlen(v: number) {
    this.buf[this.off + PduField.HLEN] = v;
  }
  get pdo(): number {
    return this.buf[this.off + PduField.PDO]!;
  }
  set pdo(v: number) {
    this.buf[this.off + PduField.PDO] = v;
  }
  get plen(): number {
    return this.buf.readUInt32LE(this.off + PduField.PLEN);
  }
  set plen(v: number) {
    this.buf.writeUInt32LE(v, this.off + PduField.PLEN);
  }

  /** The five common-header fields as a plain object (for validateCommonHeader). */
  commonHeader(): CommonHeader {
    return { type: this.type, flags: this.flags, hlen: this.hlen, pdo: this.pdo, plen: this.plen };
  }

  /** The HDGST that follows the hlen header bytes (meaningful when HDGSTF is set). */
  get hdgst(): number {
    return this.buf.readUInt32LE(this.off + this.hlen);
  }
  set hdgst(v: number) {
    this.buf.writeUInt32LE(v, this.off + this.hlen);
  }

  /** The hlen header bytes (what HDGST covers), a view. */
  headerBytes(): Buffer {
    return this.buf.subarray(this.off, this.off + this.hlen);
  }

  // ------------------------------------------------ H2CData / C2HData / R2T

  get cccid(): number {
    return this.buf.readUInt16LE(this.off + PduField.XFER_CCCID);
  }
  set cccid(v: number) {
    this.buf.writeUInt16LE(v, this.off + PduField.XFER_CCCID);
  }
  get ttag(): number {
    return this.buf.readUInt16LE(this.off + PduField.XFER_TTAG);
  }
  set ttag(v: number) {
    this.buf.writeUInt16LE(v, this.off + PduField.XFER_TTAG);
  }
  /** DATAO (R2TO in an R2T). */
  get datao(): number {
    return this.buf.readUInt32LE(this.off + PduField.XFER_DATAO);
  }
  set datao(v: number) {
    this.buf.writeUInt32LE(v, this.off + PduField.XFER_DATAO);
  }
  /** DATAL (R2TL in an R2T). */
  get datal(): number {
    return this.buf.readUInt32LE(this.off + PduField.XFER_DATAL);
  }
  set datal(v: number) {
    this.buf.writeUInt32LE(v, this.off + PduField.XFER_DATAL);
  }

  // ---------------------------------------------------------------- capsules

  /** CapsuleCmd: the SQE's opcode. */
  get capsuleCmdOpcode(): number {
    return this.buf[this.off + PduField.CAPSULE_CMD_OPCODE]!;
  }
  /** CapsuleCmd: the SQE's command id. */
  get capsuleCmdCid(): number {
    return this.buf.readUInt16LE(this.off + PduField.CAPSULE_CMD_CID);
  }
  /** CapsuleCmd: the length in the SQE's data SGL descriptor. */
  get capsuleCmdSglLength(): number {
    return this.buf.readUInt32LE(this.off + PduField.CAPSULE_CMD_SGL_LENGTH);
  }
  /** CapsuleResp: the CQE's command id. */
  get capsuleRespCid(): number {
    return this.buf.readUInt16LE(this.off + PduField.CAPSULE_RESP_CID);
  }

  // -------------------------------------------------------------------- TermReq

  get fes(): number {
    return this.buf.readUInt16LE(this.off + PduField.TERM_FES);
  }
  set fes(v: number) {
    this.buf.writeUInt16LE(v, this.off + PduField.TERM_FES);
  }
  get fei(): number {
    return this.buf.readUInt32LE(this.off + PduField.TERM_FEI);
  }
  set fei(v: number) {
    this.buf.writeUInt32LE(v, this.off + PduField.TERM_FEI);
  }

  // ---------------------------------------------------------- ICReq / ICResp

  get pfv(): number {
    return this.buf.readUInt16LE(this.off + PduField.IC_PFV);
  }
  set pfv(v: number) {
    this.buf.writeUInt16LE(v, this.off + PduField.IC_PFV);
  }
  /** HPDA in an ICReq, CPDA in an ICResp. */
  get pda(): number {
    return this.buf[this.off + PduField.IC_PDA]!;
  }
  set pda(v: number) {
    this.buf[this.off + PduField.IC_PDA] = v;
  }
  /** The digest byte: IcDigest bits. */
  get icDigest(): number {
    return this.buf[this.off + PduField.IC_DIGEST]!;
  }
  set icDigest(v: number) {
    this.buf[this.off + PduField.IC_DIGEST] = v;
  }
  /** MAXR2T in an ICReq, MAXH2CDATA in an ICResp. */
  get icMax(): number {
    return this.buf.readUInt32LE(this.off + PduField.IC_MAX);
  }
  set icMax(v: number) {
    this.buf.writeUInt32LE(v, this.off + PduField.IC_MAX);
  }
}

/** Reads the 8-byte common header at `buf[off]`, unvalidated. TRUNCATED if fewer bytes remain. */
export function peekCommonHeader(buf: Buffer, off = 0): CommonHeader {
  needBytes(buf.subarray(off), NVME_TCP_COMMON_HEADER_LEN, 'common header');
  return new PduHeaderView(buf, off).commonHeader();
}
