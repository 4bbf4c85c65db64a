/**
 * A command of an NVMe/TCP host queue between submission and completion:
 * one per CID, reused (the queue's request table, queue.ts), read by the
 * receive state machine (queue-rx.ts) when data or a completion arrives.
 */
import type { NvmeCqe } from '../../wire/nvme-cqe.js';
import type { NvmeStatus } from '../../wire/nvme-status.js';
import type { ClockTimer } from '../net/clock.js';

/** Which way a command's data moves, as the host sees it. */
export type NvmeDataDir = 'none' | 'read' | 'write';

export type RequestState = 'free' | 'inflight' | 'teardown';

export interface NvmeRequest {
  readonly tag: number;
  readonly timer: ClockTimer;
  state: RequestState;
  /** CID on the wire (tag, plus the generation in bits 15:12 when enabled). */
  cid: number;
  opcode: number;
  dir: NvmeDataDir;
  buf: Buffer | undefined;
  inCapsule: boolean;
  /** C2H: next DATAO expected (bytes received so far, in order). */
  dataReceived: number;
  /** H2C: bytes sent in H2CData so far. */
  dataSent: number;
  /** Status that overrides the controller's (DATA_XFER_ERROR after a data digest mismatch). */
  statusOverride: NvmeStatus;
  ddp: boolean;
  /** The NIC mapped this read (kept until it completes, for the completion audit). */
  ddpMapped: boolean;
  pendingCqe: NvmeCqe | undefined;
  resolve: ((cqe: NvmeCqe) => void) | undefined;
  reject: ((err: Error) => void) | undefined;
}
