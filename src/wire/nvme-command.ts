/**
 * Which command an SQE is: the one place that turns 64 bytes from a
 * CapsuleCmd PDU into a typed command, so a target can `switch (cmd.kind)`
 * with the compiler checking every case.
 *
 * Opcodes mean different things on the admin queue (qid 0) and on I/O
 * queues — 0x02 is Get Log Page on one and Read on the other — so the caller
 * says which queue the capsule arrived on. Fabrics commands (0x7f) are
 * recognised on both; Linux nvmet accepts Property Get/Set only on the admin
 * queue and Connect on any, which is the target's policy to enforce.
 *
 * PSDT is not checked here: NVMe/TCP requires SGLs (PSDT 01b) and a target
 * that wants to refuse anything else reads `parseSqe(buf).psdt`.
 */
import { buildFixed } from './fixed-buffer.js';
import { emitKeepAlive, parseKeepAlive, type NvmeKeepAliveCommand } from './nvme-admin.js';
import {
  emitConnect,
  emitPropertyGet,
  emitPropertySet,
  NvmfFctype,
  parseConnect,
  parsePropertyGet,
  parsePropertySet,
  type NvmfConnectCommand,
  type NvmfPropertyGetCommand,
  type NvmfPropertySetCommand,
} from './nvme-fabrics.js';
import { emitIdentify, parseIdentify, type NvmeIdentifyCommand } from './nvme-identify.js';
import {
  emitFlush,
  emitReadWrite,
  parseFlush,
  parseReadWrite,
  type NvmeFlushCommand,
  type NvmeRwCommand,
} from './nvme-io.js';
import {
  emitSqe,
  NVME_FABRICS_OPCODE,
  NVME_SQE_LEN,
  NvmeAdminOpcode,
  NvmeIoOpcode,
  parseSqe,
  type NvmeSqe,
} from './nvme-sqe.js';

/** The queue a capsule arrived on: the admin queue (qid 0) or an I/O queue. */
export type NvmeQueueKind = 'admin' | 'io';

/** A command ddplab does not implement: the target answers INVALID_OPCODE with the raw SQE at hand. */
export interface NvmeUnknownCommand {
  readonly kind: 'unknown';
  readonly cid: number;
  /** The SQE as parsed; for a Fabrics command FCTYPE is `sqe.nsid & 0xff`. */
  readonly sqe: NvmeSqe;
}

/** Every command ddplab's host sends and its target implements, plus 'unknown'. */
export type NvmeCommand =
  | NvmfConnectCommand
  | NvmfPropertyGetCommand
  | NvmfPropertySetCommand
  | NvmeIdentifyCommand
  | NvmeKeepAliveCommand
  | NvmeRwCommand
  | NvmeFlushCommand
  | NvmeUnknownCommand;

/**
 * Decodes the SQE at the start of `buf` as a command of `queue`. Throws
 * TRUNCATED for fewer than 64 bytes; BAD_FIELD / UNSUPPORTED from the
 * command's own parser (e.g. a Property Get whose size is neither 4 nor 8,
 * a Read whose SLBA is beyond 2^53). Commands ddplab does not know come back
 * as kind 'unknown', never as an exception.
 */
export function parseNvmeCommand(buf: Buffer, queue: NvmeQueueKind): NvmeCommand {
  const sqe = parseSqe(buf);
  if (sqe.opcode === NVME_FABRICS_OPCODE) {
    switch (sqe.nsid & 0xff) {
      case NvmfFctype.CONNECT:
        return parseConnect(buf);
      case NvmfFctype.PROPERTY_GET:
        return parsePropertyGet(buf);
      case NvmfFctype.PROPERTY_SET:
        return parsePropertySet(buf);
      default:
        return { kind: 'unknown', cid: sqe.cid, sqe };
    }
  }
  if (queue === 'admin') {
    switch (sqe.opcode) {
      case NvmeAdminOpcode.IDENTIFY:
        return parseIdentify(buf);
      case NvmeAdminOpcode.KEEP_ALIVE:
        return parseKeepAlive(buf);
      default:
        return { kind: 'unknown', cid: sqe.cid, sqe };
    }
  }
  switch (sqe.opcode) {
    case NvmeIoOpcode.READ:
    case NvmeIoOpcode.WRITE:
      return parseReadWrite(buf);
    case NvmeIoOpcode.FLUSH:
      return parseFlush(buf);
    default:
      return { kind: 'unknown', cid: sqe.cid, sqe };
  }
}

/** Writes any command as its 64-byte SQE at `out[off..off+64)` ('unknown' writes its raw SQE back). */
export function emitNvmeCommand(cmd: NvmeCommand, out: Buffer, off = 0): void {
  switch (cmd.kind) {
    case 'connect':
      return emitConnect(cmd, out, off);
    case 'property-get':
      return emitPropertyGet(cmd, out, off);
    case 'property-set':
      return emitPropertySet(cmd, out, off);
    case 'identify':
      return emitIdentify(cmd, out, off);
    case 'keep-alive':
      return emitKeepAlive(cmd, out, off);
    case 'read':
    case 'write':
      return emitReadWrite(cmd, out, off);
    case 'flush':
      return emitFlush(cmd, out, off);
    case 'unknown':
      return emitSqe(cmd.sqe, out, off);
  }
}

/** Allocates the 64-byte SQE of any command. */
export function buildNvmeCommand(cmd: NvmeCommand): Buffer {
  return buildFixed(NVME_SQE_LEN, emitNvmeCommand, cmd);
}
