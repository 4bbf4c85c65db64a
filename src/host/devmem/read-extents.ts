/**
 * The part of device-memory receive that devmem (tokens) and io_uring zcrx
 * (completions) share on an NVMe/TCP I/O queue: which device bytes belong
 * to which read, and what happens to them at the read's end.
 *
 * The queue reports every dmabuf frag of C2HData payload it walks past
 * (`onDeviceData`); the frag is recorded as an extent of its command (data
 * offset, device offset, size) and held. At completion the consumer reads
 * the extents through its own device view (`consume`) and they are let go;
 * a read that failed has them let go unread (`discard`); a digest the host
 * must check itself pulls its bytes out of device memory first
 * (`fillFromDevice`, counted). How a frag is held and let go — a devmem
 * token or a zcrx completion's buffer — is the subclass's.
 */
import type { DmabufDeviceView } from '../../nicemu/devmem/dmabuf.js';
import type { DmabufFrag } from '../../nicemu/skb.js';
import type { NvmeDevmemHooks } from './nvme-hooks.js';
import type { NvmeController } from '../nvme/controller.js';
import { NvmeHostError } from '../nvme/host-error.js';
import { controllerDevice, type WorkloadDevice } from '../workload/workload.js';
import type { NvmeDevmemStats } from './nvme-devmem.js';

/** Where bytes [datao, datao + frag.size) of a read are in device memory. */
export interface ReadExtent<F extends DmabufFrag> {
  readonly datao: number;
  readonly frag: F;
}

export abstract class DeviceReadExtents<F extends DmabufFrag> implements NvmeDevmemHooks {
  private readonly extents = new Map<number, ReadExtent<F>[]>();

  constructor(
    /** The host's own view of the device memory, for digests it must check. */
    private readonly hostView: DmabufDeviceView,
    readonly stats: NvmeDevmemStats,
  ) {}

  /** `frag` as this receive path's frag, or a thrown error when it is not one. */
  protected abstract own(cid: number, frag: DmabufFrag): F;
  /** Takes a reference on the frag's device memory while a read holds it. */
  protected abstract hold(frag: F): void;
  /** Drops that reference. */
  protected abstract release(frag: F): void;
  /** Gives back what nobody holds any more (a batch of dontneed, refill entries). */
  protected abstract flush(): void;
  /** The queue is gone: everything goes back. */
  protected abstract releaseEverything(): void;

  onDeviceData(cid: number, datao: number, frag: DmabufFrag): void {
    const f = this.own(cid, frag);
    let list = this.extents.get(cid);
    if (list === undefined) {
      list = [];
      this.extents.set(cid, list);
    } else if (datao === 0 && list.length > 0) {
      // The CID carries a new command: the old one's data was never consumed.
      this.drop(list);
      this.stats.readsDiscarded++;
    }
    list.push({ datao, frag: f });
    this.hold(f);
    this.stats.deviceDataBytes += f.size;
    this.stats.deviceFrags++;
  }

  fillFromDevice(cid: number, dst: Buffer, from: number, to: number): void {
    for (const e of this.extents.get(cid) ?? []) {
      const a = Math.max(from, e.datao);
      const b = Math.min(to, e.datao + e.frag.size);
      if (a >= b) continue;
      this.hostView.copyTo(e.frag.offset + (a - e.datao), b - a, dst, a);
      this.stats.crcReadBytes += b - a;
    }
  }

  /** The extents of read `cid` (still held). */
  extentsOf(cid: number): readonly ReadExtent<F>[] {
    return this.extents.get(cid) ?? [];
  }

  /**
   * The consumer takes read `cid`: reads its device extents through `view`
   * into `dst` at their data offsets, then lets them go. Returns the bytes read.
   */
  consume(cid: number, dst: Buffer, view: DmabufDeviceView): number {
    const list = this.extents.get(cid);
    this.extents.delete(cid);
    let n = 0;
    if (list !== undefined) {
      for (const e of list) {
        view.copyTo(e.frag.offset, e.frag.size, dst, e.datao);
        n += e.frag.size;
      }
      this.drop(list);
    }
    this.stats.consumedBytes += n;
    this.stats.readsConsumed++;
    this.flush();
    return n;
  }

  /** Read `cid` failed: its extents go back unread. */
  discard(cid: number): void {
    const list = this.extents.get(cid);
    if (list === undefined) return;
    this.extents.delete(cid);
    this.drop(list);
    this.stats.readsDiscarded++;
    this.flush();
  }

  /** The queue is gone: every held extent goes back. */
  releaseAll(): void {
    for (const list of this.extents.values()) this.drop(list);
    this.extents.clear();
    this.releaseEverything();
  }

  private drop(list: readonly ReadExtent<F>[]): void {
    for (const e of list) this.release(e.frag);
  }
}

/**
 * The controller as a workload device whose I/O queues receive into device
 * memory: a read completes, then the consumer reads its extents through
 * `view` into the read's buffer and lets them go; the workload verifies that
 * buffer, never bytes obtained through the host socket API. `queues[q]`
 * serves I/O queue q (0-based).
 */
export function deviceMemoryWorkloadDevice(ctrl: NvmeController, queues: readonly DeviceReadExtents<DmabufFrag>[], view: DmabufDeviceView): WorkloadDevice {
  return {
    ...controllerDevice(ctrl),
    read: async (queue, slba, buf) => {
      const q = queues[queue];
      let cqe;
      try {
        cqe = await ctrl.read(queue, slba, buf);
      } catch (e) {
        if (e instanceof NvmeHostError && e.detail.cid !== undefined) q?.discard(e.detail.cid);
        throw e;
      }
      q?.consume(cqe.cid, buf, view);
      return cqe;
    },
  };
}
