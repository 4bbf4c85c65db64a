/**
 * Admin commands ddplab uses that carry no data and no fields of their own:
 * Keep Alive (0x18). Identify, which returns data structures, has its own file
 * (nvme-identify.ts).
 *
 * Keep Alive restarts the controller's keep-alive timer; its period is the
 * KATO (ms) the host gave in the admin queue's Connect. Only the opcode and
 * CID matter; DPTR is the no-data transport descriptor.
 */
import { WireError } from './errors.js';
import { NvmeAdminOpcode, parseSqe, sqeWith, sqeWriters } from './nvme-sqe.js';

/** A Keep Alive command. */
export interface NvmeKeepAliveCommand {
  readonly kind: 'keep-alive';
  readonly cid: number;
}

/** emitKeepAlive writes a Keep Alive SQE at `out[off..off+64)`, buildKeepAlive allocates one. */
export const { emit: emitKeepAlive, build: buildKeepAlive } = sqeWriters((cmd: NvmeKeepAliveCommand) =>
  sqeWith({ opcode: NvmeAdminOpcode.KEEP_ALIVE, cid: cmd.cid }),
);

/** Parses a Keep Alive SQE. Throws TRUNCATED or BAD_FIELD (other opcode). */
export function parseKeepAlive(buf: Buffer): NvmeKeepAliveCommand {
  const sqe = parseSqe(buf);
  if (sqe.opcode !== NvmeAdminOpcode.KEEP_ALIVE) {
    throw new WireError('BAD_FIELD', `keep alive: opcode 0x${sqe.opcode.toString(16)} is not this command`, {
      field: 'opcode',
      expected: NvmeAdminOpcode.KEEP_ALIVE,
      got: sqe.opcode,
    });
  }
  return { kind: 'keep-alive', cid: sqe.cid };
}
