/**
 * The io_uring zero-copy receive side of a host run (`--offload
 * zcrx-nvme`): the NIC's rx queue 1 splits at NVMe/TCP PDU boundaries
 * into a zcrx area registered on it; every I/O queue's connection is
 * steered there before its SYN leaves and received with RECV_ZC
 * (host/zcrx/nvme-zcrx.ts); reads end in the consumer reading the data in
 * the area and the buffers going back on the refill ring. The admin queue
 * stays on queue 0, ordinary host memory.
 */
import type { HostStack } from '../host/net/host-stack.js';
import type { NvmeHostStats } from '../host/net/host-stats.js';
import { hostBytesCrc } from '../host/net/host-stats.js';
import type { NvmeController } from '../host/nvme/controller.js';
import type { NvmeDdpHooks } from '../host/nvme/ddp-hooks.js';
import type { StreamTransport } from '../host/nvme/stream-transport.js';
import type { NvmeDevmemHooks } from '../host/devmem/nvme-hooks.js';
import { DevmemResync, newNvmeDevmemStats, type NvmeDevmemStats } from '../host/devmem/nvme-devmem.js';
import type { WorkloadDevice } from '../host/workload/workload.js';
import { ZcrxCompletionQueue, ZcrxSocket, newRecvZcStats, type RecvZcStats } from '../host/zcrx/recv-zc.js';
import { ZcrxBufferHolds, ZcrxNvmeHooks, ZcrxTransport, zcrxWorkloadDevice } from '../host/zcrx/nvme-zcrx.js';
import { DevmemDevice } from '../nicemu/devmem/device.js';
import type { DmabufDeviceView } from '../nicemu/devmem/dmabuf.js';
import type { DevmemNicStats } from '../nicemu/devmem/stats.js';
import type { PagePoolStats } from '../nicemu/devmem/page-pool.js';
import { registerZcrxIfq, type ZcrxIfq } from '../nicemu/devmem/zcrx-ifq.js';

const ZCRX_QUEUE = 1;

export interface ZcrxRunOptions {
  /** Area size in bytes (a multiple of 4 KiB). */
  readonly areaBytes: number;
  /** Refill ring entries (default 4096) and completion queue entries per queue (default 8192). */
  readonly rqEntries?: number;
  readonly cqEntries?: number;
}

/** What a run reports about zcrx receive (`zcrx` in the host report). */
export interface ZcrxRunReport {
  readonly areaBytes: number;
  readonly c2hDataBytes: number;
  /** C2HData payload left in the area, and copied by the host. */
  readonly areaDataBytes: number;
  readonly hostDataBytes: number;
  readonly areaPct: number;
  /** The host CPU on the I/O queues: bytes it copied and CRC'd (data digests: read in the area). */
  readonly hostCopiedBytes: number;
  readonly hostCrcBytes: number;
  /** PDU header, pad and digest bytes read out of the area by the framer; data read for digests; the consumer's reads. */
  readonly areaReads: { readonly headerBytes: number; readonly crcBytes: number; readonly consumerBytes: number };
  /** Completions taken and buffers given back; still out when the workload ended. */
  readonly buffers: { readonly taken: number; readonly returned: number; readonly outstandingAfterWorkload: number };
  readonly rearms: number;
  readonly recvZc: RecvZcStats;
  readonly pool: PagePoolStats;
  readonly nic: DevmemNicStats;
  readonly ulp: NvmeDevmemStats;
}

interface QueueZcrx {
  readonly transport: ZcrxTransport;
  readonly hooks: ZcrxNvmeHooks;
  readonly resync: DevmemResync | undefined;
}

export class ZcrxHost {
  readonly dev = new DevmemDevice({ queues: ['off', 'nvme'] });
  readonly ifq: ZcrxIfq;
  private readonly consumerView: DmabufDeviceView;
  private readonly zcStats = newRecvZcStats();
  private readonly ulpStats = newNvmeDevmemStats();
  private readonly queues = new Map<number, QueueZcrx>();
  private outstandingAfterWorkload = 0;

  constructor(
    private readonly o: ZcrxRunOptions,
    private readonly log: (line: string) => void,
  ) {
    this.ifq = registerZcrxIfq(this.dev, { queue: ZCRX_QUEUE, areaBytes: o.areaBytes, rqEntries: o.rqEntries ?? 4096 });
    this.consumerView = this.ifq.binding.dmabuf.deviceView();
  }

  /** Opens the connection of NVMe queue `qid`: I/O queues through RECV_ZC, the admin queue as usual. */
  async transport(stack: HostStack, targetIp: number, targetPort: number, qid: number): Promise<StreamTransport> {
    if (qid === 0) return (await stack.connect(targetIp, targetPort)).transport;
    const conn = await stack.connect(targetIp, targetPort, (key) => {
      this.dev.steering.addRule(key, ZCRX_QUEUE);
      return this.dev.engineFor(key);
    });
    const zs = new ZcrxSocket(conn.socket, this.dev, conn.key, this.ifq, new ZcrxCompletionQueue(this.o.cqEntries ?? 8192), this.zcStats);
    const holds = new ZcrxBufferHolds(zs);
    const transport = new ZcrxTransport(zs, holds, this.ifq.binding.dmabuf.deviceView());
    const hooks = new ZcrxNvmeHooks(holds, this.ifq.binding.dmabuf.deviceView(), this.ulpStats);
    const engine = this.dev.engine(conn.key);
    const resync = engine !== undefined ? new DevmemResync(engine, this.ulpStats) : undefined;
    this.queues.set(qid, { transport, hooks, resync });
    this.log(`zcrx-nvme: queue ${qid} steered to rx queue ${ZCRX_QUEUE}, zcrx area ${this.o.areaBytes} bytes, refill ring ${this.ifq.refillRing.capacity}`);
    return transport;
  }

  readonly hooksFor = (qid: number): NvmeDevmemHooks | undefined => this.queues.get(qid)?.hooks;

  readonly resyncFor = (qid: number): NvmeDdpHooks | undefined => this.queues.get(qid)?.resync;

  workloadDevice(ctrl: NvmeController): WorkloadDevice {
    const perQueue: ZcrxNvmeHooks[] = [];
    ctrl.ioQueues.forEach((q, i) => {
      const qz = this.queues.get(q.qid);
      if (qz === undefined) throw new Error(`no zcrx state for I/O queue ${q.qid}`);
      perQueue[i] = qz.hooks;
      q.onTerminated(() => qz.hooks.releaseAll());
    });
    return zcrxWorkloadDevice(ctrl, perQueue, this.consumerView);
  }

  workloadEnded(): void {
    let out = 0;
    for (const q of this.queues.values()) {
      q.transport.holds.flush();
      out += q.transport.holds.outstanding;
    }
    this.outstandingAfterWorkload = out;
  }

  report(io: NvmeHostStats): ZcrxRunReport {
    let headerBytes = 0;
    let taken = 0;
    let returned = 0;
    let rearms = 0;
    for (const q of this.queues.values()) {
      headerBytes += q.transport.split.stats.deviceHeaderBytes;
      taken += q.transport.holds.stats.taken;
      returned += q.transport.holds.stats.returned;
      rearms += q.transport.stats.rearms;
    }
    const u = this.ulpStats;
    const c2h = io.c2hDataBytes;
    return {
      areaBytes: this.o.areaBytes,
      c2hDataBytes: c2h,
      areaDataBytes: u.deviceDataBytes,
      hostDataBytes: Math.max(0, c2h - u.deviceDataBytes),
      areaPct: c2h === 0 ? 0 : Math.round((u.deviceDataBytes / c2h) * 10000) / 100,
      hostCopiedBytes: io.copiedBytes,
      hostCrcBytes: hostBytesCrc(io),
      areaReads: { headerBytes, crcBytes: u.crcReadBytes, consumerBytes: u.consumedBytes },
      buffers: { taken, returned, outstandingAfterWorkload: this.outstandingAfterWorkload },
      rearms,
      recvZc: { ...this.zcStats },
      pool: { ...this.ifq.pool.stats },
      nic: { ...this.dev.stats },
      ulp: { ...u },
    };
  }
}
