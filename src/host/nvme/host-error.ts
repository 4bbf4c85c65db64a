/**
 * Errors of the NVMe/TCP host: one class with a `code` so callers (the
 * workload, the CLI) can tell a protocol violation by the target from a
 * timeout or an NVMe status without parsing messages.
 */
import { statusToString, type NvmeStatus } from '../../wire/nvme-status.js';
import { DdplabError } from '../../base/errors.js';

export type NvmeHostErrorCode =
  /** The connection closed or failed under the queue. */
  | 'TRANSPORT_CLOSED'
  /** The controller broke the NVMe/TCP protocol; the host sent H2CTermReq and closed the queue. */
  | 'PROTOCOL_ERROR'
  /** The controller sent C2HTermReq. */
  | 'PEER_TERMINATED'
  /** ICResp refused (pfv, cpda, digests, maxh2cdata) or never came. */
  | 'IC_REJECTED'
  /** A command did not complete within its timeout; the queue was torn down. */
  | 'TIMEOUT'
  /** The queue was already torn down (or shut down) when the command was submitted. */
  | 'QUEUE_DEAD'
  /** Every CID of the queue is in use. */
  | 'QUEUE_FULL'
  /** The command completed with a non-zero NVMe status (`status`). */
  | 'NVME_STATUS'
  /** Connect or controller bring-up failed. */
  | 'CONNECT_FAILED'
  /** A bring-up step (TCP connection, ICReq, Fabrics Connect, a bring-up admin command) got no answer within the connect timeout. */
  | 'CONNECT_TIMEOUT'
  /** The keep-alive command failed or timed out: the association is lost. */
  | 'KEEP_ALIVE_FAILED'
  /** A caller passed something the host cannot do (bad length, unknown queue). */
  | 'INVALID_ARGUMENT';

export interface NvmeHostErrorDetail {
  readonly qid?: number;
  readonly cid?: number;
  /** NVMe status for NVME_STATUS. */
  readonly status?: NvmeStatus;
  /** TermReq Fatal Error Status for PROTOCOL_ERROR / PEER_TERMINATED. */
  readonly fes?: number;
  /** TermReq Fatal Error Information. */
  readonly fei?: number;
  readonly cause?: unknown;
}

export class NvmeHostError extends DdplabError<NvmeHostErrorCode> {
  readonly detail: NvmeHostErrorDetail;

  constructor(code: NvmeHostErrorCode, message: string, detail: NvmeHostErrorDetail = {}) {
    super(code, message, detail.cause !== undefined ? { cause: detail.cause } : undefined);
    this.name = 'NvmeHostError';
    this.detail = detail;
  }
}

/** The error a command gets when it completed with `status` ≠ 0. */
export function nvmeStatusError(status: NvmeStatus, opcode: number, qid: number, cid: number): NvmeHostError {
  return new NvmeHostError('NVME_STATUS', `queue ${qid} cid ${cid}: ${statusToString(status, opcode)}`, { qid, cid, status });
}
