/**
 * A command on the target between its capsule and its completion, and what
 * the command sets (fabrics-cmd.ts, admin-cmd.ts, io-cmd.ts) see of the
 * queue it arrived on — the part of Linux nvmet's `struct nvmet_req` and
 * its `nvmet_sq` that a command handler uses: complete the command, get its
 * host-to-controller data, reach the controller and the subsystem.
 *
 * The transport (connection.ts) owns everything else: PDUs, R2Ts, the
 * completion order and the socket.
 */
import type { SglDescriptor } from '../wire/nvme-sqe.js';
import type { NvmeStatus } from '../wire/nvme-status.js';
import type { Controller, Subsystem } from './controller.js';
import type { QueueStats } from './stats.js';
import type { C2hBufferPool } from './c2h-buffers.js';

/** Bytes a completion sends as C2HData, produced on demand. */
export interface C2HSource {
  readonly lenBytes: number;
  /**
   * Bytes [off, off + len) of the transfer: a fresh buffer or a view. With
   * `pool` (only given when `fresh`), a fresh buffer comes from the pool.
   */
  chunk(off: number, len: number, pool?: C2hBufferPool): Buffer;
  /** chunk() returns a buffer nobody else holds: the connection may give it back to its pool once written. */
  readonly fresh?: boolean;
}

/** A command between its capsule and its completion. */
export interface Command {
  readonly cid: number;
  readonly opcode: number;
  readonly isIo: boolean;
  /** Write data being gathered from H2CData PDUs. */
  buf: Buffer | undefined;
  dataLen: number;
  received: number;
  r2tIssued: number;
  r2tOutstanding: number;
  ddgstFailed: boolean;
  onData: ((cmd: Command, data: Buffer) => void) | undefined;
  /** A held Asynchronous Event Request never completes. */
  held: boolean;
}

/** What a handler completes a command with: status (default SUCCESS), CQE dwords, data to send back. */
export interface ReplyFields {
  readonly status?: NvmeStatus;
  readonly dnr?: boolean;
  readonly dw0?: number;
  readonly dw1?: number;
  readonly c2h?: C2HSource;
}

export function statusOnly(status: NvmeStatus, dnr = true): ReplyFields {
  return { status, dnr };
}

/**
 * Parses a command's SQE with `parse`; an SQE that does not parse completes
 * the command with `status` (what nvmet answers for that command) and gives undefined.
 */
export function parseOrComplete<T extends object>(q: CommandQueue, cmd: Command, status: NvmeStatus, parse: () => T): T | undefined {
  try {
    return parse();
  } catch {
    q.complete(cmd, statusOnly(status));
    return undefined;
  }
}

export function bufferSource(buf: Buffer): C2HSource {
  return { lenBytes: buf.length, chunk: (off, len) => buf.subarray(off, off + len) };
}

/** The queue a command arrived on, as its handler sees it. */
export interface CommandQueue {
  readonly subsys: Subsystem;
  readonly stats: QueueStats;
  /** The queue's controller: set by Connect. */
  readonly ctrl: Controller | undefined;
  /** Prefix of the queue's log lines. */
  readonly tag: string;
  /** Sends the command's completion (with its data, if any). */
  complete(cmd: Command, r: ReplyFields): void;
  /**
   * Gets a command's host-to-controller data: from the capsule, or by R2T.
   * Calls `then` with the whole data once it is in (and not if the command
   * failed on the way, e.g. a data digest error, which completes it).
   */
  acquireData(cmd: Command, sgl: SglDescriptor, data: readonly Buffer[], dataLen: number, expectedLen: number, then: (cmd: Command, data: Buffer) => void): void;
}
