/**
 * The replayed host's side of direct data placement: the DDP ops of the
 * NIC's device (src/nicemu/ddp/offload.ts) driven as the live ULP drives
 * them (src/host/nvme/ddp.ts) — sk_add once the I/O queue's Connect
 * completed, setup per read at or above the device's io_threshold with its
 * buffer cut into page entries, teardown at completion (the command
 * finishes at teardownDone), and resync: the NIC's request is kept pending
 * and answered with the first PDU header the host's parser reaches at or
 * after it.
 *
 * The live NvmeDdp is bound to an NvmeQueue (the submitting ULP); this is
 * the same protocol for the passive ULP of a replay.
 */
import type { NvmeTcpDdpDevice, UlpDdpOps } from '../nicemu/ddp/offload.js';
import type { FlowKey } from '../nicemu/flow-table.js';
import { sglFromBuffer } from '../nicemu/ddp/sgl.js';
import { seqGe } from '../wire/seq.js';
import type { ReplayCommand } from './commands.js';
import type { ReplayOffload, ReplayOffloadConfig } from './offload.js';

/** What the replayed ULP decided about DDP, per connection. */
export interface ReplayDdpStats {
  /** sk_add refused (the reason is in the device's counters). */
  skAddRefused: number;
  /** Reads at or above the threshold offered to setup; those the NIC mapped. */
  readsOffered: number;
  readsOffloaded: number;
  /** Reads below the io_threshold (never offered). */
  readsBelowThreshold: number;
  /** resyncRequest calls from the NIC; resync answers sent back. */
  resyncRequests: number;
  resyncResponses: number;
}

export function newReplayDdpStats(): ReplayDdpStats {
  return { skAddRefused: 0, readsOffered: 0, readsOffloaded: 0, readsBelowThreshold: 0, resyncRequests: 0, resyncResponses: 0 };
}

export class ReplayDdp implements ReplayOffload {
  readonly stats: ReplayDdpStats = newReplayDdpStats();
  private attached = false;
  private pendingResync: number | undefined;
  /** The CID whose teardown call is running, and whether its completion came inside the call. */
  private tearingDown = -1;
  private doneInCall = false;
  private readonly ops: UlpDdpOps;

  constructor(
    private readonly device: NvmeTcpDdpDevice,
    private readonly key: FlowKey,
    /** The NIC finished tearing down `cid` (the command may finish now). */
    private readonly onTeardownDone: (cid: number) => void,
  ) {
    this.ops = {
      resyncRequest: (_key, seq) => this.resyncRequest(seq),
      teardownDone: (_key, cid) => this.teardownDone(cid),
    };
  }

  attach(nextPduSeq: number, config: ReplayOffloadConfig): void {
    const why = this.device.skAdd(
      { key: this.key, nextPduSeq, ...(config.heldEndSeq !== undefined ? { heldEndSeq: config.heldEndSeq } : {}) },
      { pfv: 0, cpda: config.cpda, hdgst: config.hdgst, ddgst: config.ddgst, queueSize: config.queueSize },
      this.ops,
    );
    if (why !== undefined) {
      this.stats.skAddRefused++;
      return;
    }
    this.attached = true;
  }

  setup(cmd: ReplayCommand): boolean {
    const buf = cmd.buf;
    if (!this.attached || buf === undefined) return false;
    const lim = this.device.limits();
    if (buf.length < lim.ioThresholdBytes) {
      this.stats.readsBelowThreshold++;
      return false;
    }
    this.stats.readsOffered++;
    const sgl = sglFromBuffer(buf);
    if (sgl.length > lim.maxDdpSglLen) return false;
    if (this.device.setup(this.key, cmd.cid, sgl) !== undefined) return false;
    this.stats.readsOffloaded++;
    return true;
  }

  teardown(cmd: ReplayCommand): 'done' | 'pending' {
    if (!this.attached) return 'done';
    this.tearingDown = cmd.cid;
    this.doneInCall = false;
    const follows = this.device.teardown(this.key, cmd.cid);
    this.tearingDown = -1;
    return !follows || this.doneInCall ? 'done' : 'pending';
  }

  headerAt(seq: number): void {
    const pending = this.pendingResync;
    if (pending === undefined || !seqGe(seq, pending)) return;
    // The first header at or after the NIC's guess: tell it where that header is.
    this.pendingResync = undefined;
    this.stats.resyncResponses++;
    if (this.attached) this.device.resync(this.key, seq);
  }

  detach(): void {
    if (!this.attached) return;
    this.attached = false;
    this.pendingResync = undefined;
    this.device.skDel(this.key);
  }

  private resyncRequest(seq: number): boolean {
    if (!this.attached) return false;
    this.stats.resyncRequests++;
    this.pendingResync = seq;
    return true;
  }

  private teardownDone(cid: number): void {
    if (cid === this.tearingDown) {
      this.doneInCall = true;
      return;
    }
    this.onTeardownDone(cid);
  }
}
