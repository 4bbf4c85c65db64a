/**
 * NVMe/TCP PDUs (NVMe over Fabrics TCP transport binding): the nine PDU
 * types, their headers, header/data digests and PDO padding.
 *
 * Wire layout of every PDU (all integers little-endian):
 *
 *   0        8            hlen      hlen+4        pdo                 plen-4   plen
 *   | common | type hdr   | HDGST?  | PAD (CPDA/  | DATA ...            | DDGST? |
 *   |  hdr   | fields     |         |  HPDA)      |                     |        |
 *
 * Shapes chosen for ddplab:
 * - `Pdu` is a discriminated union on the numeric wire `type` (use the
 *   `PduType` names); `switch (pdu.type)` is exhaustive and checked.
 * - Data is always a fragment list, `data: readonly Buffer[]` (empty when the
 *   PDU has none): `parsePdu` yields one view into its input, the stream
 *   framer yields one view per TCP chunk the data spans, and `emitPdu`
 *   accepts an SGL of pages as is. Nothing copies payload.
 * - HDGSTF/DDGSTF and PDO are not part of a repr: they are properties of the
 *   connection (negotiated digests, the peer's PDA), passed to `emitPdu` as
 *   options and reported by `parsePdu` as layout and digest values read.
 *   LAST_PDU and SUCCESS are repr booleans on the data PDUs.
 * - The SQE of a CapsuleCmd and the CQE of a CapsuleResp are carried as
 *   64/16-byte Buffer views; src/wire's NVMe command codec decodes them.
 */
import { crc32c, crc32cFrags } from './crc32c.js';
import { needBytes, WireError, type WireErrorCode } from './errors.js';
import {
  IcDigest,
  isPduType,
  NVME_TCP_COMMON_HEADER_LEN,
  NVME_TCP_CQE_LEN,
  NVME_TCP_DIGEST_LEN,
  NVME_TCP_MAX_PDA,
  NVME_TCP_MAX_PLEN,
  NVME_TCP_SQE_LEN,
  NVME_TCP_TERM_REQ_MAX_DATA_LEN,
  PDU_HLEN,
  PduField,
  PduFlags,
  PduHeaderView,
  PduType,
  pduTypeName,
  peekCommonHeader,
  type CommonHeader,
} from './nvme-tcp-pdu-header.js';

// The header's vocabulary (codes, sizes, offsets, the byte view) lives in
// nvme-tcp-pdu-header.ts; exported here too, since every user of the reprs speaks it.
export * from './nvme-tcp-pdu-header.js';

/**
 * Flag bits each type may carry. IC and TermReq PDUs never carry digests (they
 * are exchanged before, or regardless of, digest negotiation); only PDUs that
 * can carry command data have a data digest.
 */
const VALID_FLAGS: Readonly<Record<PduType, number>> = {
  [PduType.ICReq]: 0,
  [PduType.ICResp]: 0,
  [PduType.H2CTermReq]: 0,
  [PduType.C2HTermReq]: 0,
  [PduType.CapsuleCmd]: PduFlags.HDGSTF | PduFlags.DDGSTF,
  [PduType.CapsuleResp]: PduFlags.HDGSTF,
  [PduType.H2CData]: PduFlags.HDGSTF | PduFlags.DDGSTF | PduFlags.LAST_PDU,
  [PduType.C2HData]: PduFlags.HDGSTF | PduFlags.DDGSTF | PduFlags.LAST_PDU | PduFlags.SUCCESS,
  [PduType.R2T]: PduFlags.HDGSTF,
};

const NO_DATA: readonly Buffer[] = Object.freeze([]);
const EMPTY = Buffer.alloc(0);

// ---------------------------------------------------------------- reprs

/** Initialize Connection Request (host → controller, first PDU on a connection). */
export interface ICReqPdu {
  readonly type: typeof PduType.ICReq;
  /** PDU format version; 0 = 1.0. */
  readonly pfv: number;
  /** Host PDU data alignment the host wants for C2H data: 0's based dwords, 0..31. */
  readonly hpda: number;
  readonly hdgstEnable: boolean;
  readonly ddgstEnable: boolean;
  /** Maximum outstanding R2Ts per command, 0's based, as on the wire. */
  readonly maxr2t: number;
}

/** Initialize Connection Response (controller → host). */
export interface ICRespPdu {
  readonly type: typeof PduType.ICResp;
  readonly pfv: number;
  /** Controller PDU data alignment for H2C data: 0's based dwords, 0..31. */
  readonly cpda: number;
  readonly hdgstEnable: boolean;
  readonly ddgstEnable: boolean;
  /** Largest H2CData payload the controller accepts, bytes. */
  readonly maxh2cdata: number;
}

interface TermReqFields {
  /** Fatal Error Status, see `TermReqFes`. */
  readonly fes: number;
  /** Fatal Error Information: for FES 1 the byte offset of the bad header field. */
  readonly fei: number;
  /** The header of the PDU in error, 0..128 bytes, as fragments. */
  readonly data: readonly Buffer[];
}

/** Host → controller connection termination. */
export interface H2CTermReqPdu extends TermReqFields {
  readonly type: typeof PduType.H2CTermReq;
}

/** Controller → host connection termination. */
export interface C2HTermReqPdu extends TermReqFields {
  readonly type: typeof PduType.C2HTermReq;
}

/** Command capsule: an SQE plus optional in-capsule data. */
export interface CapsuleCmdPdu {
  readonly type: typeof PduType.CapsuleCmd;
  /** The 64-byte submission queue entry (a view; decode with the NVMe command codec). */
  readonly sqe: Buffer;
  /** In-capsule data; empty for none. */
  readonly data: readonly Buffer[];
}

/** Response capsule: a CQE. */
export interface CapsuleRespPdu {
  readonly type: typeof PduType.CapsuleResp;
  /** The 16-byte completion queue entry (a view). */
  readonly cqe: Buffer;
}

/** Host → controller data, answering an R2T. */
export interface H2CDataPdu {
  readonly type: typeof PduType.H2CData;
  /** Command capsule CID the data belongs to. */
  readonly cccid: number;
  /** Transfer tag copied from the R2T. */
  readonly ttag: number;
  /** Offset of this data in the command's data buffer. */
  readonly datao: number;
  /** Data length; must equal the total length of `data`. */
  readonly datal: number;
  readonly lastPdu: boolean;
  readonly data: readonly Buffer[];
}

/** Controller → host data (reads). */
export interface C2HDataPdu {
  readonly type: typeof PduType.C2HData;
  readonly cccid: number;
  readonly datao: number;
  /** Data length; must equal the total length of `data`. */
  readonly datal: number;
  readonly lastPdu: boolean;
  /** Completion without CapsuleResp; valid only with `lastPdu`. */
  readonly success: boolean;
  readonly data: readonly Buffer[];
}

/** Ready to Transfer: the controller asks for [r2to, r2to + r2tl) of a write. */
export interface R2TPdu {
  readonly type: typeof PduType.R2T;
  readonly cccid: number;
  readonly ttag: number;
  readonly r2to: number;
  readonly r2tl: number;
}

/** Any NVMe/TCP PDU, discriminated on `type`. */
export type Pdu =
  | ICReqPdu
  | ICRespPdu
  | H2CTermReqPdu
  | C2HTermReqPdu
  | CapsuleCmdPdu
  | CapsuleRespPdu
  | H2CDataPdu
  | C2HDataPdu
  | R2TPdu;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A PDU's header fields without its data (what `parsePduHeader` decodes). */
export type PduHeader = DistributiveOmit<Pdu, 'data'>;

/**
 * Where everything sits in a PDU whose common header validated. Offsets are
 * from the PDU's first byte.
 */
export interface PduLayout extends CommonHeader {
  readonly type: PduType;
  /** 4 when HDGSTF is set, else 0. */
  readonly hdgstLen: 0 | 4;
  /** hlen + hdgstLen: bytes before any padding. */
  readonly headLen: number;
  /**
   * First data byte: pdo when the PDU has data, hlen for a TermReq (its
   * data, the echoed header, follows the header with pdo 0), headLen when
   * there is no data.
   */
  readonly dataOffset: number;
  readonly dataLength: number;
  /** 4 when DDGSTF is set, else 0. */
  readonly ddgstLen: 0 | 4;
}

/** Receiver-side limits for validation. */
export interface PduParseOptions {
  /** Largest plen accepted; default NVME_TCP_MAX_PLEN. */
  readonly maxPlen?: number;
  /**
   * The receiver's own PDA (HPDA on the host, CPDA on the controller), 0's
   * based. When given, a PDO that is not a multiple of (pda+1)*4 is a
   * BAD_FIELD. When absent, any PDO past the header is accepted.
   */
  readonly pda?: number;
}

/** How a PDU is put on the wire: the connection's negotiated state. */
export interface PduEmitOptions {
  /**
   * Header digest negotiated. Applied only where the transport allows one
   * (CapsuleCmd, CapsuleResp, H2CData, C2HData, R2T); IC and TermReq PDUs
   * never carry digests, so a connection passes the same options for every PDU.
   */
  readonly hdgst?: boolean;
  /** Data digest negotiated. Applied to CapsuleCmd/H2CData/C2HData that carry data. */
  readonly ddgst?: boolean;
  /**
   * The receiver's PDA, 0's based (default 0): the controller's CPDA for
   * H2C PDUs, the host's HPDA for C2HData. Data starts at hlen + HDGST
   * rounded up to (pda+1)*4; the gap is zero padding.
   */
  readonly pda?: number;
}

/**
 * A PDU in wire order as three parts, so big data is never copied:
 * write `head`, then each of `data`, then `tail`.
 */
export interface EmittedPdu {
  /** Header, HDGST and padding: bytes [0, dataOffset). */
  readonly head: Buffer;
  /** The repr's data fragments, the same Buffer objects (not copies). */
  readonly data: readonly Buffer[];
  /** DDGST (4 bytes) or empty. */
  readonly tail: Buffer;
  /** Total length, = head + data + tail. */
  readonly plen: number;
}

/** A whole PDU parsed from contiguous bytes. */
export interface ParsedPdu {
  readonly pdu: Pdu;
  readonly layout: PduLayout;
  /** The hlen header bytes (what HDGST covers; what a TermReq echoes). A view. */
  readonly headerBytes: Buffer;
  /** Header digest as read (u32), undefined when HDGSTF is clear. Not verified by parsing. */
  readonly hdgst: number | undefined;
  /** Data digest as read (u32), undefined when DDGSTF is clear. Not verified by parsing. */
  readonly ddgst: number | undefined;
}

/** A PDU header parsed without its data. */
export interface ParsedPduHeader {
  readonly header: PduHeader;
  readonly layout: PduLayout;
  readonly headerBytes: Buffer;
  readonly hdgst: number | undefined;
}

/** Outcome of checking a digest. */
export type DigestCheck = 'absent' | 'ok' | 'mismatch';

// ------------------------------------------------------- small helpers

/** The PDU's data fragments; empty for types that carry none. */
export function pduData(pdu: Pdu | PduHeader): readonly Buffer[] {
  return 'data' in pdu ? pdu.data : NO_DATA;
}

/** True when the type may carry a header digest. */
function hasHdgst(type: PduType): boolean {
  return (VALID_FLAGS[type] & PduFlags.HDGSTF) !== 0;
}

/** True when data sits at PDO (CapsuleCmd, H2CData, C2HData). */
function hasPdoData(type: PduType): boolean {
  return (VALID_FLAGS[type] & PduFlags.DDGSTF) !== 0;
}

function isTermReq(type: PduType): boolean {
  return type === PduType.H2CTermReq || type === PduType.C2HTermReq;
}

function fragsLength(frags: readonly Uint8Array[]): number {
  let n = 0;
  for (let i = 0; i < frags.length; i++) n += frags[i]!.length;
  return n;
}

// ------------------------------------------------ common header checks

interface HeaderFault {
  readonly code: WireErrorCode;
  readonly field: string;
  readonly expected: number | string;
  readonly got: number | string;
}

function fault(code: WireErrorCode, field: string, expected: number | string, got: number | string): HeaderFault {
  return { code, field, expected, got };
}

/**
 * Checks the common header alone, in field order (type, hlen, flags, plen,
 * pdo) so the first bad field is the one reported, as a TermReq's FEI
 * wants. Returns the fault without building an Error: a resync scan calls
 * this at many byte positions.
 */
function checkCommonHeader(
  type: number,
  flags: number,
  hlen: number,
  pdo: number,
  plen: number,
  opts: PduParseOptions | undefined,
): HeaderFault | undefined {
  if (!isPduType(type)) return fault('PDU_TYPE_UNKNOWN', 'type', '0x00-0x07 or 0x09', type);
  const wantHlen = PDU_HLEN[type];
  if (hlen !== wantHlen) return fault('PDU_HLEN_MISMATCH', 'hlen', wantHlen, hlen);
  const valid = VALID_FLAGS[type];
  if ((flags & ~valid) !== 0) return fault('BAD_FIELD', 'flags', `bits of 0x${valid.toString(16)}`, flags);
  // Linux host and FreeBSD both reject SUCCESS without LAST_PDU: the
  // completion would arrive before the command's last data.
  if ((flags & (PduFlags.SUCCESS | PduFlags.LAST_PDU)) === PduFlags.SUCCESS) {
    return fault('BAD_FIELD', 'flags', 'SUCCESS only with LAST_PDU', flags);
  }
  if (plen < hlen) return fault('PDU_PLEN_LT_HLEN', 'plen', `>= ${hlen}`, plen);
  const maxPlen = isTermReq(type) ? hlen + NVME_TCP_TERM_REQ_MAX_DATA_LEN : (opts?.maxPlen ?? NVME_TCP_MAX_PLEN);
  if (plen > maxPlen) return fault('PDU_TOO_LARGE', 'plen', `<= ${maxPlen}`, plen);

  const headLen = hlen + ((flags & PduFlags.HDGSTF) !== 0 ? NVME_TCP_DIGEST_LEN : 0);
  const ddgstLen = (flags & PduFlags.DDGSTF) !== 0 ? NVME_TCP_DIGEST_LEN : 0;
  if (!hasPdoData(type)) {
    if (pdo !== 0) return fault('BAD_FIELD', 'pdo', 0, pdo);
    // TermReq data is the echoed header right after hlen; plen ≤ 152 was checked above.
    if (!isTermReq(type) && plen !== headLen) return fault('PDU_LEN_INCONSISTENT', 'plen', headLen, plen);
    return undefined;
  }
  if (pdo === 0) {
    // No data: nothing for a data digest to cover.
    if (ddgstLen !== 0) return fault('BAD_FIELD', 'flags', 'no DDGSTF without data', flags);
    if (plen !== headLen) return fault('PDU_LEN_INCONSISTENT', 'plen', headLen, plen);
    return undefined;
  }
  if (pdo < headLen) return fault('PDU_PDO_IN_HEADER', 'pdo', `>= ${headLen}`, pdo);
  if (opts?.pda !== undefined) {
    const align = (opts.pda + 1) * 4;
    if (pdo % align !== 0) return fault('BAD_FIELD', 'pdo', `multiple of ${align}`, pdo);
  }
  // A PDO means data: at least one byte of it before the digest.
  if (plen < pdo + 1 + ddgstLen) return fault('PDU_LEN_INCONSISTENT', 'plen', `>= ${pdo + 1 + ddgstLen}`, plen);
  return undefined;
}

function faultError(f: HeaderFault, type: number): WireError {
  return new WireError(f.code, `${pduTypeName(type)} PDU: bad ${f.field}: expected ${f.expected}, got ${f.got}`, {
    field: f.field,
    expected: f.expected,
    got: f.got,
  });
}

/**
 * Validates a common header and returns the PDU's layout. Throws WireError:
 * PDU_TYPE_UNKNOWN, PDU_HLEN_MISMATCH, BAD_FIELD (flags not allowed for the
 * type, SUCCESS without LAST_PDU, pdo on a type without data, DDGSTF
 * without data, pdo misaligned), PDU_PLEN_LT_HLEN, PDU_TOO_LARGE,
 * PDU_PDO_IN_HEADER, PDU_LEN_INCONSISTENT.
 */
export function validateCommonHeader(ch: CommonHeader, opts?: PduParseOptions): PduLayout {
  const f = checkCommonHeader(ch.type, ch.flags, ch.hlen, ch.pdo, ch.plen, opts);
  if (f !== undefined) throw faultError(f, ch.type);
  const type = ch.type as PduType;
  const hdgstLen = (ch.flags & PduFlags.HDGSTF) !== 0 ? NVME_TCP_DIGEST_LEN : 0;
  const ddgstLen = (ch.flags & PduFlags.DDGSTF) !== 0 ? NVME_TCP_DIGEST_LEN : 0;
  const headLen = ch.hlen + hdgstLen;
  let dataOffset = headLen;
  let dataLength = 0;
  if (isTermReq(type)) {
    dataOffset = ch.hlen;
    dataLength = ch.plen - ch.hlen;
  } else if (ch.pdo !== 0) {
    dataOffset = ch.pdo;
    dataLength = ch.plen - ch.pdo - ddgstLen;
  }
  return { type, flags: ch.flags, hlen: ch.hlen, pdo: ch.pdo, plen: ch.plen, hdgstLen, headLen, dataOffset, dataLength, ddgstLen };
}

/**
 * "Could a PDU start at `buf[off]`?" — the NIC's resync plausibility test.
 * Checks only the common header (known type, hlen right for it, flags
 * allowed for it, plen ≥ hlen and within the cap, pdo consistent). Never
 * throws and builds no Error, so scanning many byte positions stays cheap.
 * False when fewer than 8 bytes remain. Whether the following headers line
 * up is the caller's second test.
 */
export function isPlausiblePduHeader(buf: Buffer, off = 0, opts?: PduParseOptions): boolean {
  if (off < 0 || buf.length - off < NVME_TCP_COMMON_HEADER_LEN) return false;
  return (
    checkCommonHeader(
      buf[off + PduField.TYPE]!,
      buf[off + PduField.FLAGS]!,
      buf[off + PduField.HLEN]!,
      buf[off + PduField.PDO]!,
      buf.readUInt32LE(off + PduField.PLEN),
      opts,
    ) === undefined
  );
}

// --------------------------------------------------------------- parse

function badField(type: PduType, field: string, expected: number | string, got: number | string): WireError {
  return new WireError('BAD_FIELD', `${pduTypeName(type)} PDU: bad ${field}: expected ${expected}, got ${got}`, {
    field,
    expected,
    got,
  });
}

/** Decodes the type-specific header fields; `head` holds at least hlen bytes of the PDU. */
function decodeHeader(head: Buffer, layout: PduLayout): PduHeader {
  const v = new PduHeaderView(head);
  switch (layout.type) {
    case PduType.ICReq:
    case PduType.ICResp: {
      const { pfv, pda, icDigest: digest, icMax: max } = v;
      const hdgstEnable = (digest & IcDigest.HDGST) !== 0;
      const ddgstEnable = (digest & IcDigest.DDGST) !== 0;
      if (layout.type === PduType.ICReq) {
        if (pda > NVME_TCP_MAX_PDA) throw badField(layout.type, 'hpda', `<= ${NVME_TCP_MAX_PDA}`, pda);
        return { type: PduType.ICReq, pfv, hpda: pda, hdgstEnable, ddgstEnable, maxr2t: max };
      }
      if (pda > NVME_TCP_MAX_PDA) throw badField(layout.type, 'cpda', `<= ${NVME_TCP_MAX_PDA}`, pda);
      return { type: PduType.ICResp, pfv, cpda: pda, hdgstEnable, ddgstEnable, maxh2cdata: max };
    }
    case PduType.H2CTermReq:
    case PduType.C2HTermReq:
      return { type: layout.type, fes: v.fes, fei: v.fei };
    case PduType.CapsuleCmd:
      return { type: PduType.CapsuleCmd, sqe: head.subarray(PduField.CAPSULE_QE, PduField.CAPSULE_QE + NVME_TCP_SQE_LEN) };
    case PduType.CapsuleResp:
      return { type: PduType.CapsuleResp, cqe: head.subarray(PduField.CAPSULE_QE, PduField.CAPSULE_QE + NVME_TCP_CQE_LEN) };
    case PduType.H2CData:
    case PduType.C2HData: {
      const { cccid, datao, datal } = v;
      if (datal !== layout.dataLength) {
        throw new WireError(
          'PDU_LEN_INCONSISTENT',
          `${pduTypeName(layout.type)} PDU: datal ${datal} but plen ${layout.plen}, pdo ${layout.pdo}, ` +
            `digests ${layout.hdgstLen + layout.ddgstLen} leave ${layout.dataLength} data bytes`,
          { field: 'datal', expected: layout.dataLength, got: datal },
        );
      }
      const lastPdu = (layout.flags & PduFlags.LAST_PDU) !== 0;
      if (layout.type === PduType.H2CData) {
        return { type: PduType.H2CData, cccid, ttag: v.ttag, datao, datal, lastPdu };
      }
      const success = (layout.flags & PduFlags.SUCCESS) !== 0;
      return { type: PduType.C2HData, cccid, datao, datal, lastPdu, success };
    }
    case PduType.R2T:
      return {
        type: PduType.R2T,
        cccid: v.cccid,
        ttag: v.ttag,
        r2to: v.datao,
        r2tl: v.datal,
      };
    default: {
      const unreachable: never = layout.type;
      throw new WireError('PDU_TYPE_UNKNOWN', `unknown PDU type ${String(unreachable)}`);
    }
  }
}

/** Joins decoded header fields with the PDU's data fragments. */
export function pduWithData(header: PduHeader, data: readonly Buffer[]): Pdu {
  switch (header.type) {
    case PduType.H2CTermReq:
    case PduType.C2HTermReq:
    case PduType.CapsuleCmd:
    case PduType.H2CData:
    case PduType.C2HData:
      return { ...header, data };
    case PduType.ICReq:
    case PduType.ICResp:
    case PduType.CapsuleResp:
    case PduType.R2T:
      return header;
    default: {
      const unreachable: never = header;
      return unreachable;
    }
  }
}

/**
 * Parses a PDU header from `buf` (starting at the PDU's first byte; at least
 * headLen = hlen + HDGST bytes; data need not be present). For a NIC or ULP
 * that gathers headers itself and places data elsewhere. Field views point
 * into `buf`.
 */
export function parsePduHeader(buf: Buffer, opts?: PduParseOptions): ParsedPduHeader {
  const layout = validateCommonHeader(peekCommonHeader(buf), opts);
  needBytes(buf, layout.headLen, `${pduTypeName(layout.type)} header`);
  return {
    header: decodeHeader(buf, layout),
    layout,
    headerBytes: buf.subarray(0, layout.hlen),
    hdgst: layout.hdgstLen !== 0 ? buf.readUInt32LE(layout.hlen) : undefined,
  };
}

/**
 * Parses one whole PDU from the start of `buf`. Bytes past plen are ignored
 * (use `layout.plen` to step to the next PDU). Zero-copy: sqe/cqe and the
 * single data fragment are views into `buf`. Digests are returned as read;
 * check them with verifyHeaderDigest / verifyDataDigest. Throws WireError
 * (see validateCommonHeader; TRUNCATED when `buf` is shorter than plen;
 * PDU_LEN_INCONSISTENT when datal disagrees with plen/pdo/digests;
 * BAD_FIELD for HPDA/CPDA > 31).
 */
export function parsePdu(buf: Buffer, opts?: PduParseOptions): ParsedPdu {
  const layout = validateCommonHeader(peekCommonHeader(buf), opts);
  needBytes(buf, layout.plen, 'plen');
  const header = decodeHeader(buf, layout);
  const data =
    layout.dataLength > 0 ? [buf.subarray(layout.dataOffset, layout.dataOffset + layout.dataLength)] : NO_DATA;
  return {
    pdu: pduWithData(header, data),
    layout,
    headerBytes: buf.subarray(0, layout.hlen),
    hdgst: layout.hdgstLen !== 0 ? buf.readUInt32LE(layout.hlen) : undefined,
    ddgst: layout.ddgstLen !== 0 ? buf.readUInt32LE(layout.plen - NVME_TCP_DIGEST_LEN) : undefined,
  };
}

/** Checks HDGST (CRC32C over the hlen header bytes) of a parsed PDU or header. */
export function verifyHeaderDigest(p: { readonly headerBytes: Buffer; readonly hdgst: number | undefined }): DigestCheck {
  if (p.hdgst === undefined) return 'absent';
  return crc32c(p.headerBytes) === p.hdgst ? 'ok' : 'mismatch';
}

/** Checks DDGST (CRC32C over the data, all fragments in order) of a parsed PDU. */
export function verifyDataDigest(p: { readonly pdu: Pdu; readonly ddgst: number | undefined }): DigestCheck {
  if (p.ddgst === undefined) return 'absent';
  return crc32cFrags(pduData(p.pdu)) === p.ddgst ? 'ok' : 'mismatch';
}

// ---------------------------------------------------------------- emit

function checkUint(type: PduType, field: string, value: number, bits: 8 | 16 | 32): void {
  const max = bits === 32 ? 0xffff_ffff : (1 << bits) - 1;
  if (!Number.isInteger(value) || value < 0 || value > max) throw badField(type, field, `0..${max}`, value);
}

function checkPda(type: PduType, field: string, pda: number): void {
  if (!Number.isInteger(pda) || pda < 0 || pda > NVME_TCP_MAX_PDA) {
    throw badField(type, field, `0..${NVME_TCP_MAX_PDA}`, pda);
  }
}

/**
 * Serializes a PDU without copying its data: returns {head, data, tail}
 * where `data` is the repr's own fragment list. HDGST/DDGST/PDO follow
 * `opts` (see PduEmitOptions). Throws WireError BAD_FIELD for out-of-range
 * fields (a u16 above 0xffff, an SQE not 64 bytes, a PDA above 31),
 * PDU_LEN_INCONSISTENT when datal differs from the data's length,
 * PDU_TOO_LARGE for TermReq data over 128 bytes or plen over 2^32-1.
 * emit → parse → emit is byte-identical.
 */
export function emitPdu(pdu: Pdu, opts: PduEmitOptions = {}): EmittedPdu {
  const type = pdu.type;
  const hlen = PDU_HLEN[type];
  const data = pduData(pdu);
  const dataLength = fragsLength(data);
  const pda = opts.pda ?? 0;
  checkPda(type, 'pda', pda);

  let flags = 0;
  const hdgstLen = opts.hdgst === true && hasHdgst(type) ? NVME_TCP_DIGEST_LEN : 0;
  if (hdgstLen !== 0) flags |= PduFlags.HDGSTF;
  const headLen = hlen + hdgstLen;
  let ddgstLen = 0;
  let pdo = 0;
  let dataOffset = headLen;
  if (isTermReq(type)) {
    if (dataLength > NVME_TCP_TERM_REQ_MAX_DATA_LEN) {
      throw new WireError('PDU_TOO_LARGE', `${pduTypeName(type)} PDU: ${dataLength} bytes of data, at most 128`, {
        field: 'data',
        expected: `<= ${NVME_TCP_TERM_REQ_MAX_DATA_LEN}`,
        got: dataLength,
      });
    }
    dataOffset = hlen;
  } else if (dataLength > 0) {
    const align = (pda + 1) * 4;
    pdo = Math.ceil(headLen / align) * align;
    dataOffset = pdo;
    if (opts.ddgst === true) {
      ddgstLen = NVME_TCP_DIGEST_LEN;
      flags |= PduFlags.DDGSTF;
    }
  }
  const plen = dataOffset + dataLength + ddgstLen;
  if (plen > 0xffff_ffff) {
    throw new WireError('PDU_TOO_LARGE', `${pduTypeName(type)} PDU: plen ${plen} exceeds 32 bits`, {
      field: 'plen',
      expected: '<= 4294967295',
      got: plen,
    });
  }

  // Zero-filled: reserved bytes and PDO padding are zero on the wire.
  const head = Buffer.alloc(dataOffset);
  const v = new PduHeaderView(head);
  switch (pdu.type) {
    case PduType.ICReq:
    case PduType.ICResp: {
      checkUint(type, 'pfv', pdu.pfv, 16);
      const icPda = pdu.type === PduType.ICReq ? pdu.hpda : pdu.cpda;
      checkPda(type, pdu.type === PduType.ICReq ? 'hpda' : 'cpda', icPda);
      const max = pdu.type === PduType.ICReq ? pdu.maxr2t : pdu.maxh2cdata;
      checkUint(type, pdu.type === PduType.ICReq ? 'maxr2t' : 'maxh2cdata', max, 32);
      v.pfv = pdu.pfv;
      v.pda = icPda;
      v.icDigest = (pdu.hdgstEnable ? IcDigest.HDGST : 0) | (pdu.ddgstEnable ? IcDigest.DDGST : 0);
      v.icMax = max;
      break;
    }
    case PduType.H2CTermReq:
    case PduType.C2HTermReq:
      checkUint(type, 'fes', pdu.fes, 16);
      checkUint(type, 'fei', pdu.fei, 32);
      v.fes = pdu.fes;
      v.fei = pdu.fei;
      break;
    case PduType.CapsuleCmd:
      if (pdu.sqe.length !== NVME_TCP_SQE_LEN) throw badField(type, 'sqe', NVME_TCP_SQE_LEN, pdu.sqe.length);
      head.set(pdu.sqe, PduField.CAPSULE_QE);
      break;
    case PduType.CapsuleResp:
      if (pdu.cqe.length !== NVME_TCP_CQE_LEN) throw badField(type, 'cqe', NVME_TCP_CQE_LEN, pdu.cqe.length);
      head.set(pdu.cqe, PduField.CAPSULE_QE);
      break;
    case PduType.H2CData:
    case PduType.C2HData: {
      if (pdu.datal !== dataLength) {
        throw new WireError(
          'PDU_LEN_INCONSISTENT',
          `${pduTypeName(type)} PDU: datal ${pdu.datal} but ${dataLength} bytes of data`,
          { field: 'datal', expected: dataLength, got: pdu.datal },
        );
      }
      checkUint(type, 'cccid', pdu.cccid, 16);
      checkUint(type, 'datao', pdu.datao, 32);
      v.cccid = pdu.cccid;
      if (pdu.type === PduType.H2CData) {
        checkUint(type, 'ttag', pdu.ttag, 16);
        v.ttag = pdu.ttag;
      } else if (pdu.success) {
        flags |= PduFlags.SUCCESS;
      }
      if (pdu.lastPdu) flags |= PduFlags.LAST_PDU;
      v.datao = pdu.datao;
      v.datal = pdu.datal;
      break;
    }
    case PduType.R2T:
      checkUint(type, 'cccid', pdu.cccid, 16);
      checkUint(type, 'ttag', pdu.ttag, 16);
      checkUint(type, 'r2to', pdu.r2to, 32);
      checkUint(type, 'r2tl', pdu.r2tl, 32);
      v.cccid = pdu.cccid;
      v.ttag = pdu.ttag;
      v.datao = pdu.r2to;
      v.datal = pdu.r2tl;
      break;
    default: {
      const unreachable: never = pdu;
      throw new WireError('PDU_TYPE_UNKNOWN', `unknown PDU ${String(unreachable)}`);
    }
  }
  v.type = type;
  v.flags = flags;
  v.hlen = hlen;
  v.pdo = pdo;
  v.plen = plen;
  if (hdgstLen !== 0) v.hdgst = crc32c(v.headerBytes());

  let tail = EMPTY;
  if (ddgstLen !== 0) {
    tail = Buffer.allocUnsafe(NVME_TCP_DIGEST_LEN);
    tail.writeUInt32LE(crc32cFrags(data), 0);
  }
  return { head, data, tail, plen };
}

/** emitPdu into one contiguous Buffer (copies the data: for small PDUs and tests). */
export function emitPduBuffer(pdu: Pdu, opts?: PduEmitOptions): Buffer {
  const e = emitPdu(pdu, opts);
  return Buffer.concat([e.head, ...e.data, e.tail], e.plen);
}
