/**
 * The NVMe/TCP host on device memory: each read's data stays in
 * the dmabuf; the host learns where it is and hands it to the consumer (the
 * device, a GPU kernel in the real thing) as descriptors.
 *
 *  - NvmeDevmem, per I/O queue, is the queue's NvmeDevmemHooks: every
 *    dmabuf frag of C2HData payload the queue walks past is recorded as an
 *    extent of its command (data offset, dmabuf offset, size, token) and its
 *    token held. A read's extents go to the consumer at completion
 *    (`consume`), which reads them through its own device view and then lets
 *    the tokens go (dontneed or refill ring, host/devmem/token-return.ts). A read
 *    that failed has its extents dropped unread.
 *  - When a data digest must be checked by the host (the NIC did not vouch
 *    for it), `fillFromDevice` pulls the bytes out of device memory into the
 *    command's buffer first; those bytes are counted (`crcReadBytes`).
 *  - DevmemResync is the ULP half of the `nvme` header split's resync
 *    (the DDP series' protocol, through the queue's NvmeDdpHooks): a NIC
 *    request is kept pending until the queue's parser reaches a PDU header
 *    not before it, whose sequence number goes back to the engine.
 *  - devmemWorkloadDevice makes the controller a workload device whose reads
 *    end with that consumption, so the workload verifies the bytes the
 *    device view read — never bytes obtained through the host socket API.
 *    Data that reached host memory (an skb the NIC could not split) was
 *    copied into the read's buffer by the queue as usual.
 */
import type { DmabufDeviceView } from '../../nicemu/devmem/dmabuf.js';
import type { HeaderSplitEngine } from '../../nicemu/devmem/header-split.js';
import type { DmabufFrag } from '../../nicemu/skb.js';
import { seqGe } from '../../wire/seq.js';
import { isDevmemFrag, type DevmemFrag } from './transport.js';
import type { DevmemTokenReturn } from './token-return.js';
import type { NvmeController } from '../nvme/controller.js';
import type { DdpTeardownResult, NvmeDdpHooks } from '../nvme/ddp-hooks.js';
import { DeviceReadExtents, deviceMemoryWorkloadDevice, type ReadExtent } from './read-extents.js';
import { NvmeHostError } from '../nvme/host-error.js';
import type { WorkloadDevice } from '../workload/workload.js';

/** Where bytes [datao, datao + frag.size) of a read are in device memory. */
export type DeviceExtent = ReadExtent<DevmemFrag>;

export interface NvmeDevmemStats {
  /** C2HData payload bytes (and frags) the queues left in device memory. */
  deviceDataBytes: number;
  deviceFrags: number;
  /** Bytes pulled out of device memory for a data digest the host had to check itself. */
  crcReadBytes: number;
  /** Bytes the consumer read through its device view (its verification). */
  consumedBytes: number;
  readsConsumed: number;
  /** Reads whose extents were dropped unread (the read failed, or its CID came back with data again). */
  readsDiscarded: number;
  /** The NIC's resync requests, and the answers the ULP sent back. */
  resyncRequests: number;
  resyncResponses: number;
}

export function newNvmeDevmemStats(): NvmeDevmemStats {
  return {
    deviceDataBytes: 0,
    deviceFrags: 0,
    crcReadBytes: 0,
    consumedBytes: 0,
    readsConsumed: 0,
    readsDiscarded: 0,
    resyncRequests: 0,
    resyncResponses: 0,
  };
}

/** A devmem queue's read extents: each frag held by its token, given back through `returns`. */
export class NvmeDevmem extends DeviceReadExtents<DevmemFrag> {
  constructor(
    readonly returns: DevmemTokenReturn,
    /** The host's own view, for digests it must check. */
    hostView: DmabufDeviceView,
    stats: NvmeDevmemStats = newNvmeDevmemStats(),
  ) {
    super(hostView, stats);
  }

  protected own(cid: number, frag: DmabufFrag): DevmemFrag {
    if (!isDevmemFrag(frag)) throw new NvmeHostError('TRANSPORT_CLOSED', `cid ${cid}: a dmabuf frag without a devmem token reached the queue`);
    return frag;
  }

  protected hold(frag: DevmemFrag): void {
    this.returns.hold(frag.desc);
  }

  protected release(frag: DevmemFrag): void {
    this.returns.release(frag.token);
  }

  protected flush(): void {
    this.returns.flush();
  }

  protected releaseEverything(): void {
    this.returns.releaseAll();
  }
}

/**
 * The ULP side of the `nvme` header split's resync, as NvmeDdpHooks: the
 * queue offers no read for placement (setup is never called: the threshold
 * is infinite), and reports every PDU header's sequence number.
 */
export class DevmemResync implements NvmeDdpHooks {
  readonly ioThresholdBytes = Infinity;
  private pending: number | undefined;

  constructor(
    private readonly engine: HeaderSplitEngine,
    private readonly stats: NvmeDevmemStats,
  ) {
    engine.setUlp({
      resyncRequest: (seq) => {
        this.pending = seq;
        this.stats.resyncRequests++;
        return true;
      },
    });
  }

  setup(): boolean {
    return false;
  }

  teardown(): DdpTeardownResult {
    return 'done';
  }

  onPduHeaderAt(seq: number): void {
    const p = this.pending;
    if (p === undefined || !seqGe(seq, p)) return;
    this.pending = undefined;
    this.stats.resyncResponses++;
    this.engine.resync(seq);
  }
}

/**
 * The controller as a workload device whose I/O queues receive into device
 * memory: a read completes, then the consumer reads its device extents
 * through `view` into the read's buffer and gives the tokens back; the
 * workload verifies that buffer. `devmem[q]` serves I/O queue q (0-based).
 */
export function devmemWorkloadDevice(ctrl: NvmeController, devmem: readonly NvmeDevmem[], view: DmabufDeviceView): WorkloadDevice {
  return deviceMemoryWorkloadDevice(ctrl, devmem, view);
}
