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
 * the same protocol for the passive ULP of a replay, and both run it through
 * one DdpUlpSocket (src/host/nvme/ddp-ulp-socket.ts).
 */
import { DdpUlpSocket } from '../host/nvme/ddp-ulp-socket.js';
import type { NvmeTcpDdpDevice } from '../nicemu/ddp/offload.js';
import type { FlowKey } from '../nicemu/flow-table.js';
import { sglFromBuffer } from '../nicemu/ddp/sgl.js';
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
  private readonly ulp: DdpUlpSocket;

  constructor(
    private readonly device: NvmeTcpDdpDevice,
    private readonly key: FlowKey,
    /** The NIC finished tearing down `cid` (the command may finish now). */
    onTeardownDone: (cid: number) => void,
  ) {
    this.ulp = new DdpUlpSocket(device, this.stats, onTeardownDone);
  }

  attach(nextPduSeq: number, config: ReplayOffloadConfig): void {
    const why = this.ulp.skAdd(
      { key: this.key, nextPduSeq, ...(config.heldEndSeq !== undefined ? { heldEndSeq: config.heldEndSeq } : {}) },
      { pfv: 0, cpda: config.cpda, hdgst: config.hdgst, ddgst: config.ddgst, queueSize: config.queueSize },
    );
    if (why !== undefined) this.stats.skAddRefused++;
  }

  setup(cmd: ReplayCommand): boolean {
    const buf = cmd.buf;
    if (!this.ulp.isOffloaded || buf === undefined) return false;
    const lim = this.device.limits();
    if (buf.length < lim.ioThresholdBytes) {
      this.stats.readsBelowThreshold++;
      return false;
    }
    this.stats.readsOffered++;
    const sgl = sglFromBuffer(buf);
    if (sgl.length > lim.maxDdpSglLen) return false;
    if (this.ulp.setup(cmd.cid, sgl) !== undefined) return false;
    this.stats.readsOffloaded++;
    return true;
  }

  completed(cmd: ReplayCommand): void {
    this.ulp.auditCompleted(cmd.cid);
  }

  ddgstRxOffloaded(): boolean {
    return this.ulp.isOffloaded && this.device.getCaps()['nvme-tcp-ddgst-rx'];
  }

  teardown(cmd: ReplayCommand): 'done' | 'pending' {
    return this.ulp.teardown(cmd.cid);
  }

  headerAt(seq: number): void {
    this.ulp.headerAt(seq);
  }

  detach(): void {
    this.ulp.skDel();
  }
}
