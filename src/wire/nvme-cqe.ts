/**
 * The NVMe completion queue entry (CQE): the 16 bytes a CapsuleResp PDU
 * carries after its 8-byte header. Little-endian (NVMe Base spec "Common
 * Completion Queue Entry").
 *
 *   DW0 @0, DW1 @4   command specific (Connect: CNTLID; Property Get: value)
 *   SQHD u16 @8      SQ head pointer
 *   SQID u16 @10     SQ identifier
 *   CID  u16 @12     command identifier of the completed command
 *   STATUS u16 @14   bit 0 phase tag, 8:1 SC, 11:9 SCT, 13:12 CRD, 14 More, 15 DNR
 *
 * On fabrics there is no completion queue memory, so the phase tag carries no
 * meaning; Linux nvmet always sends 0.
 */
import { buildFixed } from './fixed-buffer.js';
import { needBytes } from './errors.js';
import { checkNvmeField } from './nvme-sqe.js';
import type { NvmeStatus } from './nvme-status.js';

/** Size of a CQE in bytes. */
export const NVME_CQE_LEN = 16;

/** CQE field offsets (the table above); other layers point at them too (a TermReq's FEI, a PDU header view). */
export const CqeField = { DW0: 0, DW1: 4, SQHD: 8, SQID: 10, CID: 12, STATUS: 14 } as const;

// Bits of the 16-bit status field.
const Status = { PHASE: 0x0001, SCT_SC_SHIFT: 1, SCT_SC_MASK: 0x7ff, CRD_SHIFT: 12, MORE: 0x4000, DNR: 0x8000 } as const;

/** A completion as laid out on the wire. */
export interface NvmeCqe {
  /** Command-specific dword 0. */
  readonly dw0: number;
  /** Command-specific dword 1 (high half of an 8-byte Property Get value). */
  readonly dw1: number;
  /** SQ head pointer. */
  readonly sqHead: number;
  /** SQ identifier (the queue id the command was submitted on). */
  readonly sqId: number;
  /** Command identifier of the command this completes. */
  readonly cid: number;
  /** `(SCT << 8) | SC`, see nvme-status.ts. 0 = success. */
  readonly status: NvmeStatus;
  /** Phase tag, 0 or 1 (always 0 from Linux nvmet). */
  readonly phase: number;
  /** Command Retry Delay index, 0..3. */
  readonly crd: number;
  /** More: further status information in the Error Information log page. */
  readonly more: boolean;
  /** Do Not Retry: the same command would fail again. */
  readonly dnr: boolean;
}

/** Parses the 16-byte CQE at the start of `buf`. Throws TRUNCATED if `buf` is shorter. */
export function parseCqe(buf: Buffer): NvmeCqe {
  needBytes(buf, NVME_CQE_LEN, 'nvme cqe');
  const status = buf.readUInt16LE(CqeField.STATUS);
  return {
    dw0: buf.readUInt32LE(CqeField.DW0),
    dw1: buf.readUInt32LE(CqeField.DW1),
    sqHead: buf.readUInt16LE(CqeField.SQHD),
    sqId: buf.readUInt16LE(CqeField.SQID),
    cid: buf.readUInt16LE(CqeField.CID),
    status: (status >>> Status.SCT_SC_SHIFT) & Status.SCT_SC_MASK,
    phase: status & Status.PHASE,
    crd: (status >>> Status.CRD_SHIFT) & 0x3,
    more: (status & Status.MORE) !== 0,
    dnr: (status & Status.DNR) !== 0,
  };
}

/** Writes `cqe` as 16 bytes at `out[off..off+16)`. Throws TRUNCATED / BAD_FIELD. */
export function emitCqe(cqe: NvmeCqe, out: Buffer, off = 0): void {
  needBytes(out, off + NVME_CQE_LEN, 'nvme cqe output');
  checkNvmeField('dw0', cqe.dw0, 0xffff_ffff);
  checkNvmeField('dw1', cqe.dw1, 0xffff_ffff);
  checkNvmeField('sqHead', cqe.sqHead, 0xffff);
  checkNvmeField('sqId', cqe.sqId, 0xffff);
  checkNvmeField('cid', cqe.cid, 0xffff);
  checkNvmeField('status', cqe.status, Status.SCT_SC_MASK);
  checkNvmeField('phase', cqe.phase, 1);
  checkNvmeField('crd', cqe.crd, 3);
  const status =
    cqe.phase |
    (cqe.status << Status.SCT_SC_SHIFT) |
    (cqe.crd << Status.CRD_SHIFT) |
    (cqe.more ? Status.MORE : 0) |
    (cqe.dnr ? Status.DNR : 0);
  out.writeUInt32LE(cqe.dw0, off + CqeField.DW0);
  out.writeUInt32LE(cqe.dw1, off + CqeField.DW1);
  out.writeUInt16LE(cqe.sqHead, off + CqeField.SQHD);
  out.writeUInt16LE(cqe.sqId, off + CqeField.SQID);
  out.writeUInt16LE(cqe.cid, off + CqeField.CID);
  out.writeUInt16LE(status, off + CqeField.STATUS);
}

/** Allocates and returns the 16-byte encoding of `cqe`. */
export function buildCqe(cqe: NvmeCqe): Buffer {
  return buildFixed(NVME_CQE_LEN, emitCqe, cqe);
}

/**
 * A CQE with every field zero (success, phase 0) except those given — what a
 * target fills in: `cqeWith({ cid, sqId, status: NvmeSc.INVALID_FIELD, dnr: true })`.
 */
export function cqeWith(fields: Partial<NvmeCqe> & Pick<NvmeCqe, 'cid'>): NvmeCqe {
  return { dw0: 0, dw1: 0, sqHead: 0, sqId: 0, status: 0, phase: 0, crd: 0, more: false, dnr: false, ...fields };
}

/** DW1:DW0 as one 64-bit value (an 8-byte Property Get result). */
export function cqeResult64(cqe: Pick<NvmeCqe, 'dw0' | 'dw1'>): bigint {
  return (BigInt(cqe.dw1) << 32n) | BigInt(cqe.dw0);
}

/** Splits a 64-bit result into the DW0 (low) and DW1 (high) of a CQE. */
export function result64ToDwords(value: bigint): { readonly dw0: number; readonly dw1: number } {
  const v = BigInt.asUintN(64, value);
  return { dw0: Number(v & 0xffff_ffffn), dw1: Number(v >> 32n) };
}
