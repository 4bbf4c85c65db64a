/**
 * NVM command set I/O commands ddplab issues: Read (0x02), Write (0x01) and
 * Flush (0x00) (NVM Command Set spec; Linux struct nvme_rw_command).
 *
 *   Read/Write: NSID @4, DPTR @24, SLBA u64 @40 (CDW10 low, CDW11 high),
 *               NLB u16 @48 (CDW12 bits 15:0, 0's based: 0 means one block)
 *   Flush:      NSID @4, nothing else
 *
 * A Read's DPTR is always the transport descriptor (data comes back in
 * C2HData PDUs). A Write's DPTR is either in-capsule (data follows the SQE in
 * the CapsuleCmd PDU) or the transport descriptor (the target asks for the
 * data with R2T) — the host picks, the target follows the descriptor.
 */
import { WireError } from './errors.js';
import { checkNvmeField, NvmeIoOpcode, parseSqe, sqeWith, sqeWriters, type NvmeSqe, type SglDescriptor } from './nvme-sqe.js';

/** Largest NLB field value: 65536 blocks per command. */
export const NVME_MAX_NLB = 0xffff;

/** A Read or Write command. */
export interface NvmeRwCommand {
  readonly kind: 'read' | 'write';
  readonly cid: number;
  readonly nsid: number;
  /** Starting LBA. ddplab keeps it a number: values above 2^53-1 are refused (UNSUPPORTED) when parsed. */
  readonly slba: number;
  /** Number of logical blocks, 0's based as on the wire: the command covers nlb + 1 blocks. */
  readonly nlb: number;
  /** Where the data is: sglTransportData(len) or, for a Write, sglInCapsule(len). */
  readonly dptr: SglDescriptor;
}

/** A Flush command: commit the namespace's volatile write cache. */
export interface NvmeFlushCommand {
  readonly kind: 'flush';
  readonly cid: number;
  readonly nsid: number;
}

/** Bytes a Read/Write moves for a namespace formatted with `lbaSizeBytes`-byte blocks. */
export function rwDataLenBytes(cmd: Pick<NvmeRwCommand, 'nlb'>, lbaSizeBytes: number): number {
  return (cmd.nlb + 1) * lbaSizeBytes;
}

/** emitReadWrite writes a Read/Write SQE at `out[off..off+64)`, buildReadWrite allocates one. */
export const { emit: emitReadWrite, build: buildReadWrite } = sqeWriters(readWriteToSqe);

/** Parses a Read or Write SQE. Throws TRUNCATED, BAD_FIELD (other opcode) or UNSUPPORTED (SLBA ≥ 2^53). */
export function parseReadWrite(buf: Buffer): NvmeRwCommand {
  const sqe = parseSqe(buf);
  let kind: NvmeRwCommand['kind'];
  if (sqe.opcode === NvmeIoOpcode.READ) kind = 'read';
  else if (sqe.opcode === NvmeIoOpcode.WRITE) kind = 'write';
  else throw wrongOpcode('read/write', sqe.opcode, `${NvmeIoOpcode.READ} or ${NvmeIoOpcode.WRITE}`);
  if (sqe.cdw11 > 0x1f_ffff) {
    throw new WireError('UNSUPPORTED', `slba: high dword 0x${sqe.cdw11.toString(16)} puts the LBA beyond 2^53`, {
      field: 'slba',
      expected: '< 2^53',
      got: `0x${sqe.cdw11.toString(16)}${sqe.cdw10.toString(16).padStart(8, '0')}`,
    });
  }
  return {
    kind,
    cid: sqe.cid,
    nsid: sqe.nsid,
    slba: sqe.cdw11 * 0x1_0000_0000 + sqe.cdw10,
    nlb: sqe.cdw12 & 0xffff,
    dptr: sqe.dptr,
  };
}

/** emitFlush writes a Flush SQE at `out[off..off+64)`, buildFlush allocates one. */
export const { emit: emitFlush, build: buildFlush } = sqeWriters(flushToSqe);

/** Parses a Flush SQE. Throws TRUNCATED or BAD_FIELD (other opcode). */
export function parseFlush(buf: Buffer): NvmeFlushCommand {
  const sqe = parseSqe(buf);
  if (sqe.opcode !== NvmeIoOpcode.FLUSH) throw wrongOpcode('flush', sqe.opcode, NvmeIoOpcode.FLUSH);
  return { kind: 'flush', cid: sqe.cid, nsid: sqe.nsid };
}

function readWriteToSqe(cmd: NvmeRwCommand): NvmeSqe {
  if (!Number.isSafeInteger(cmd.slba) || cmd.slba < 0) {
    throw new WireError('BAD_FIELD', `slba: ${cmd.slba} is not a non-negative safe integer`, {
      field: 'slba',
      expected: '0..2^53-1',
      got: cmd.slba,
    });
  }
  checkNvmeField('nlb', cmd.nlb, NVME_MAX_NLB);
  return sqeWith({
    opcode: cmd.kind === 'read' ? NvmeIoOpcode.READ : NvmeIoOpcode.WRITE,
    cid: cmd.cid,
    nsid: cmd.nsid,
    dptr: cmd.dptr,
    cdw10: cmd.slba % 0x1_0000_0000,
    cdw11: Math.floor(cmd.slba / 0x1_0000_0000),
    cdw12: cmd.nlb,
  });
}

function flushToSqe(cmd: NvmeFlushCommand): NvmeSqe {
  return sqeWith({ opcode: NvmeIoOpcode.FLUSH, cid: cmd.cid, nsid: cmd.nsid });
}

function wrongOpcode(what: string, got: number, expected: number | string): WireError {
  return new WireError('BAD_FIELD', `${what}: opcode 0x${got.toString(16)} is not this command`, {
    field: 'opcode',
    expected,
    got,
  });
}
