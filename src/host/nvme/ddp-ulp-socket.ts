/**
 * The ULP's half of one offloaded socket in the DDP protocol (docs/protocol-facts.md, "The
 * DDP offload series"), shared by the live queue's NvmeDdp (ddp.ts) and the
 * passive ULP of a replay (src/replay/ddp.ts):
 *
 *  - the ULP ops the NIC calls back (resyncRequest, teardownDone);
 *  - resync, as the series' host: the NIC's request (seq, PENDING) is kept
 *    (a later one replaces it) and confirmed only when the ULP's in-order
 *    parser reaches a PDU header starting EXACTLY at seq; then the request
 *    is cleared and resync(seq) goes back. A header past it is no answer:
 *    the request stays pending, and a NIC whose guess was wrong hears
 *    nothing and must search again (there is no negative answer);
 *  - teardown, whose completion the NIC may report inside the call (the
 *    command finishes at once) or later through teardownDone.
 *
 * What each ULP decides on top (which reads to offer, what a late
 * teardownDone completes, what it logs) stays with its owner.
 */
import type { DdpSocket, DdpDeviceOps, NvmeTcpSkConfig, SetupRefusal, SkAddRefusal, UlpDdpOps } from '../../nicemu/ddp/offload.js';
import type { FlowKey } from '../../nicemu/flow-table.js';

/** The resync counters both ULPs keep. */
export interface DdpResyncCounters {
  /** resyncRequest calls from the NIC; confirmations (resync) sent back. */
  resyncRequests: number;
  resyncResponses: number;
}

export class DdpUlpSocket {
  private key: FlowKey | undefined;
  private offloaded = false;
  private pendingResync: number | undefined;
  /** The CID whose teardown call is in progress, and whether it completed inside the call. */
  private tearingDown = -1;
  private doneInCall = false;
  private readonly ops: UlpDdpOps;

  constructor(
    private readonly device: DdpDeviceOps,
    private readonly counters: DdpResyncCounters,
    /** The NIC finished tearing down `cid` after the teardown call had returned. */
    private readonly onLateTeardownDone: (cid: number) => void,
  ) {
    this.ops = {
      resyncRequest: (_key, seq) => this.onResyncRequest(seq),
      teardownDone: (_key, cid) => this.onTeardownDone(cid),
    };
  }

  /** True once the NIC offloaded the socket (and until skDel). */
  get isOffloaded(): boolean {
    return this.offloaded;
  }

  /** The socket's flow, once skAdd was asked. */
  get flowKey(): FlowKey | undefined {
    return this.key;
  }

  /** sk_add. Returns why the NIC refused, or undefined when the socket is offloaded. */
  skAdd(sk: DdpSocket, config: NvmeTcpSkConfig): SkAddRefusal | undefined {
    this.key = sk.key;
    const why = this.device.skAdd(sk, config, this.ops);
    if (why === undefined) this.offloaded = true;
    return why;
  }

  /** sk_del: the socket goes back to plain receive; a pending resync request is forgotten. */
  skDel(): void {
    if (!this.offloaded) return;
    this.offloaded = false;
    this.pendingResync = undefined;
    this.device.skDel(this.key!);
  }

  /** Setup of `cid` on the offloaded socket: `sgl` is the read's buffer as page entries. Returns why the NIC refused. */
  setup(cid: number, sgl: readonly Buffer[]): SetupRefusal | undefined {
    return this.device.setup(this.key!, cid, sgl);
  }

  /** Teardown of `cid`: 'done' when the command may finish now, 'pending' until the NIC's teardownDone. */
  teardown(cid: number): 'done' | 'pending' {
    if (!this.offloaded) return 'done';
    this.tearingDown = cid;
    this.doneInCall = false;
    const follows = this.device.teardown(this.key!, cid);
    this.tearingDown = -1;
    return !follows || this.doneInCall ? 'done' : 'pending';
  }

  /** Model-only audit: the command of mapped read `cid` completed to the application. */
  auditCompleted(cid: number): void {
    if (this.key !== undefined) this.device.auditCompleted(this.key, cid);
  }

  /** The ULP's parser is at a PDU header starting at `seq`. */
  headerAt(seq: number): void {
    const pending = this.pendingResync;
    // Only the exact header confirms (nvme_tcp_resync_response compares for equality).
    if (pending === undefined || seq !== pending) return;
    this.pendingResync = undefined;
    this.counters.resyncResponses++;
    if (this.offloaded) this.device.resync(this.key!, seq);
  }

  private onResyncRequest(seq: number): boolean {
    if (!this.offloaded) return false;
    this.counters.resyncRequests++;
    this.pendingResync = seq;
    return true;
  }

  private onTeardownDone(cid: number): void {
    if (cid === this.tearingDown) {
      this.doneInCall = true;
      return;
    }
    this.onLateTeardownDone(cid);
  }
}
