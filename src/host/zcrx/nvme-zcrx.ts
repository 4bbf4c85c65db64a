/**
 * NVMe/TCP over io_uring zero-copy receive (`zcrx-nvme`): the I/O queue's
 * connection is steered to an rx queue whose NIC splits at PDU boundaries
 * (the `nvme` header split of devmem-nvme) into a zcrx area; the host
 * receives with RECV_ZC (recv-zc.ts) and rebuilds the stream for the queue.
 *
 * What that costs, as the kernel's zcrx would make it cost:
 *  - The PDU headers, pads and digests the NIC put in the skb's linear part
 *    are not in an area niov: RECV_ZC's copy fallback copies them into
 *    fresh niovs (counted in the socket's copy-fallback bytes). Completions
 *    do not say which buffers were copied, so the transport frames the PDU
 *    stream itself, reading every non-payload byte out of the area
 *    (`DevmemPduSplit` over the area's view: the CPU may read its own
 *    memory).
 *  - A completion carries no "digest checked" mark (there is no ulp_crc in
 *    a CQE): the queue CRCs the data itself, reading it in the area
 *    (`fillFromDevice`, counted as `crcReadBytes`).
 *  - C2HData payload stays where the NIC put it; the consumer reads each
 *    read's extents at completion and the buffers go back on the refill
 *    ring once nothing uses them (a buffer can hold the end of one read and
 *    the start of the next).
 */
import type { DmabufDeviceView } from '../../nicemu/devmem/dmabuf.js';
import { ZCRX_AREA_SHIFT } from '../../nicemu/devmem/refill-ring.js';
import type { DmabufFrag, SkbFrag } from '../../nicemu/skb.js';
import { DevmemPduSplit } from '../devmem/pdu-split.js';
import { DeviceReadExtents, deviceMemoryWorkloadDevice } from '../devmem/read-extents.js';
import { newNvmeDevmemStats, type NvmeDevmemStats } from '../devmem/nvme-devmem.js';
import type { NvmeController } from '../nvme/controller.js';
import { NvmeHostError } from '../nvme/host-error.js';
import { TcpTransport } from '../nvme/tcp-transport.js';
import type { WorkloadDevice } from '../workload/workload.js';
import { IORING_CQE_F_MORE, type ZcrxCqe, type ZcrxSocket } from './recv-zc.js';

const OFFSET_MASK = (1n << BigInt(ZCRX_AREA_SHIFT)) - 1n;

/** A frag of a zcrx completion: `cqeId` names the completion whose buffer it lies in. */
export interface ZcrxFrag extends DmabufFrag {
  readonly cqeId: number;
}

export function isZcrxFrag(f: DmabufFrag): f is ZcrxFrag {
  return 'cqeId' in f;
}

export interface ZcrxHoldStats {
  /** Completions taken, and buffers given back on the refill ring. */
  taken: number;
  returned: number;
  /** Refill writes refused because the ring was full (retried later). */
  ringFull: number;
}

/** Who still uses each completion's buffer; a buffer nobody uses goes back on the refill ring. */
export class ZcrxBufferHolds {
  readonly stats: ZcrxHoldStats = { taken: 0, returned: 0, ringFull: 0 };
  private readonly uses = new Map<number, { cqe: ZcrxCqe; refs: number }>();
  private pending: ZcrxCqe[] = [];
  private nextId = 1;

  constructor(private readonly zs: ZcrxSocket) {}

  /** A new completion, held once by the caller; returns its id. */
  add(cqe: ZcrxCqe): number {
    const id = this.nextId++;
    this.uses.set(id, { cqe, refs: 1 });
    this.stats.taken++;
    return id;
  }

  hold(id: number): void {
    const u = this.uses.get(id);
    if (u !== undefined) u.refs++;
  }

  release(id: number): void {
    const u = this.uses.get(id);
    if (u === undefined || --u.refs > 0) return;
    this.uses.delete(id);
    this.pending.push(u.cqe);
  }

  /** Writes refill entries for every buffer nobody uses (as many as the ring takes). */
  flush(): void {
    let k = 0;
    while (k < this.pending.length && this.zs.refill(this.pending[k]!)) k++;
    if (k < this.pending.length) this.stats.ringFull++;
    this.stats.returned += k;
    this.pending = k === this.pending.length ? [] : this.pending.slice(k);
  }

  /** Every buffer back (the queue is gone). */
  releaseAll(): void {
    for (const u of this.uses.values()) this.pending.push(u.cqe);
    this.uses.clear();
    this.flush();
  }

  /** Completions whose buffer has not gone back yet. */
  get outstanding(): number {
    return this.uses.size + this.pending.length;
  }
}

export interface ZcrxTransportStats {
  /** RECV_ZC requests armed again after one ended with an error. */
  rearms: number;
}

/** RECV_ZC as the StreamTransport the NVMe/TCP queue runs on (see the file comment). */
export class ZcrxTransport extends TcpTransport {
  readonly split: DevmemPduSplit;
  readonly stats: ZcrxTransportStats = { rearms: 0 };
  private pumping = false;
  private ended = false;

  constructor(
    readonly zs: ZcrxSocket,
    readonly holds: ZcrxBufferHolds,
    areaView: DmabufDeviceView,
  ) {
    const stackClose = zs.socket.handlers.onClose;
    super(zs.socket);
    this.split = new DevmemPduSplit(areaView);
    zs.socket.handlers.onClose = (err) => {
      stackClose?.(err);
      this.finish(err);
    };
    zs.arm();
  }

  override close(): void {
    this.zs.close();
  }

  override abort(): void {
    this.zs.socket.abort();
    this.zs.close();
  }

  protected override pump(): void {
    const cb = this.dataCb;
    if (cb === undefined || this.pumping) return;
    this.pumping = true;
    const binding = this.zs.ifq.binding.id;
    try {
      for (;;) {
        if (!this.zs.armed) {
          if (this.ended || this.zs.socket.readableLength === 0) break;
          this.zs.arm();
          this.stats.rearms++;
        }
        const seq = this.zs.socket.readSeq;
        const n = this.zs.issue();
        const pieces: SkbFrag[] = [];
        const ids: number[] = [];
        for (const c of this.zs.cq.reap()) {
          if ((c.flags & IORING_CQE_F_MORE) === 0) {
            if (c.res === 0) this.ended = true;
            continue;
          }
          const id = this.holds.add(c);
          ids.push(id);
          const f: ZcrxFrag = { kind: 'dmabuf', dmabufId: binding, offset: Number(c.off & OFFSET_MASK), size: c.res, cqeId: id };
          pieces.push(f);
        }
        if (pieces.length > 0) {
          const frags: SkbFrag[] = [];
          this.split.split(pieces, frags);
          try {
            cb({ seq, frags, crcOk: false });
          } finally {
            for (const id of ids) this.holds.release(id);
          }
        }
        if (n === 0) break;
      }
    } finally {
      this.pumping = false;
    }
    this.holds.flush();
  }
}

/** The NVMe queue's hooks for C2HData payload left in the area: each frag held by its completion's buffer, given back on the refill ring. */
export class ZcrxNvmeHooks extends DeviceReadExtents<ZcrxFrag> {
  constructor(
    readonly holds: ZcrxBufferHolds,
    /** The area as the host reads it (digests it checks itself). */
    areaView: DmabufDeviceView,
    stats: NvmeDevmemStats = newNvmeDevmemStats(),
  ) {
    super(areaView, stats);
  }

  protected own(cid: number, frag: DmabufFrag): ZcrxFrag {
    if (!isZcrxFrag(frag)) throw new NvmeHostError('TRANSPORT_CLOSED', `cid ${cid}: a dmabuf frag that is not from a zcrx completion reached the queue`);
    return frag;
  }

  protected hold(frag: ZcrxFrag): void {
    this.holds.hold(frag.cqeId);
  }

  protected release(frag: ZcrxFrag): void {
    this.holds.release(frag.cqeId);
  }

  protected flush(): void {
    this.holds.flush();
  }

  protected releaseEverything(): void {
    this.holds.releaseAll();
  }
}

/** The controller as a workload device whose reads end in the consumer reading the area (`hooks[q]` serves I/O queue q). */
export function zcrxWorkloadDevice(ctrl: NvmeController, hooks: readonly ZcrxNvmeHooks[], view: DmabufDeviceView): WorkloadDevice {
  return deviceMemoryWorkloadDevice(ctrl, hooks, view);
}
