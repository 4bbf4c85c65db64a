/**
 * The devmem side of a host run (`--offload devmem-tcp|devmem-nvme`): the
 * NIC's rx queue 1 gets header split (`tcp` or `nvme`) and a dmabuf bound to
 * it; every I/O queue's connection is steered there by a 5-tuple rule before
 * its SYN leaves, received through a devmem socket, and handed to its NVMe
 * queue by a devmem transport; reads end in the consumer (a device view
 * standing in for a GPU kernel) reading the data where it is and giving the
 * tokens back. The admin queue stays on queue 0, ordinary host memory, as
 * bring-up parses Identify data.
 *
 * devmem-tcp runs the NVMe framer over the device view (every PDU header is
 * read out of device memory, counted); devmem-nvme lets the NIC split at PDU
 * boundaries and check data digests, with the DDP series' resync protocol
 * when loss hides a header.
 *
 * The binding is made on a netlink handle the host owns (the kernel ties a
 * binding's life to that socket), and each connection's TCP socket is
 * registered with the device as the holder of its flow as soon as the stack
 * made it — the NIC splits whatever is steered to the bound queue.
 *
 * A pool that cannot hold one read can never complete it: every page ends up
 * in frags of reads still incomplete, and the NIC drops every frame after.
 * `devmemPoolProblem` refuses that before anything is built; a run that
 * still fails with the pool exhausted says so (`explainFailure`).
 */
import type { HostStack } from '../host/net/host-stack.js';
import { DevmemSocket, newDevmemSocketStats, type DevmemSocketStats } from '../host/devmem/socket.js';
import { DevmemTokenReturn, type DevmemReturnPath } from '../host/devmem/token-return.js';
import { DevmemTransport } from '../host/devmem/transport.js';
import { hostBytesCrc, type NvmeHostStats } from '../host/net/host-stats.js';
import type { NvmeController } from '../host/nvme/controller.js';
import type { NvmeDdpHooks } from '../host/nvme/ddp-hooks.js';
import { DevmemResync, NvmeDevmem, devmemWorkloadDevice, newNvmeDevmemStats, type NvmeDevmemStats } from '../host/devmem/nvme-devmem.js';
import type { NvmeDevmemHooks } from '../host/devmem/nvme-hooks.js';
import type { StreamTransport } from '../host/nvme/stream-transport.js';
import type { WorkloadDevice } from '../host/workload/workload.js';
import { DevmemDevice } from '../nicemu/devmem/device.js';
import type { DevmemNicStats } from '../nicemu/devmem/stats.js';
import { Dmabuf, type DmabufBinding, type DmabufDeviceView } from '../nicemu/devmem/dmabuf.js';
import { NetlinkHandle } from '../nicemu/devmem/netlink.js';
import { DMABUF_CHUNK_BYTES } from '../nicemu/devmem/page-pool.js';
import type { PagePoolStats } from '../nicemu/devmem/page-pool.js';

/** The rx queue devmem flows are steered to (queue 0 keeps ordinary traffic). */
const DEVMEM_QUEUE = 1;

// The options, their defaults and the pool check live in devmem-options.ts (the CLI's flags load it without the devmem stack).
export { DEVMEM_DEFAULTS, devmemPoolNeeded, devmemPoolProblem, type DevmemRunOptions, type DevmemSplitMode } from './devmem-options.js';
import { devmemPoolNeeded, sizeText, type DevmemRunOptions, type DevmemSplitMode } from './devmem-options.js';

/** What a run reports about devmem receive (`devmem` in the run report). */
export interface DevmemRunReport {
  readonly mode: DevmemSplitMode;
  readonly returnPath: DevmemReturnPath;
  readonly poolBytes: number;
  /** C2HData payload of the I/O queues and where it went: left in device memory, or copied by the host. */
  readonly c2hDataBytes: number;
  readonly deviceDataBytes: number;
  readonly hostDataBytes: number;
  readonly devicePct: number;
  /** The host CPU on the I/O queues: bytes it copied (headers, digests, data it got in host memory) and CRC'd. */
  readonly hostCopiedBytes: number;
  readonly hostCrcBytes: number;
  /** Bytes read out of device memory: PDU headers (devmem-tcp), data for digests the host checked, the consumer's reads. */
  readonly deviceReads: { readonly headerBytes: number; readonly crcBytes: number; readonly consumerBytes: number };
  readonly tokens: {
    readonly issued: number;
    readonly returnedDontneed: number;
    readonly returnedRing: number;
    readonly releasedOnClose: number;
    /** Outstanding when the workload ended (every read consumed), and the most ever waiting to go back. */
    readonly outstandingAfterWorkload: number;
    readonly peakPending: number;
    /** Frags freed by a return of a token the application no longer held (double or late return): 0 for a correct application. */
    readonly staleReturns: number;
  };
  readonly dontneedCalls: number;
  readonly ringEntries: number;
  /** Set when a read failed while the page pool had run dry: what the pool held and what the reads need. */
  readonly poolExhausted?: string;
  readonly holdEpisodes: number;
  readonly pool: PagePoolStats;
  readonly nic: DevmemNicStats;
  readonly socket: DevmemSocketStats;
  readonly ulp: NvmeDevmemStats;
}

interface QueueDevmem {
  readonly socket: DevmemSocket;
  readonly returns: DevmemTokenReturn;
  readonly transport: DevmemTransport;
  readonly devmem: NvmeDevmem;
  readonly resync: DevmemResync | undefined;
}

export class DevmemHost {
  readonly dev: DevmemDevice;
  readonly binding: DmabufBinding;
  private readonly consumerView: DmabufDeviceView;
  private readonly sockStats = newDevmemSocketStats();
  private readonly ulpStats = newNvmeDevmemStats();
  private readonly queues = new Map<number, QueueDevmem>();
  private outstandingAfterWorkload = 0;
  /** The netlink socket the binding was made on (closing it unbinds). */
  readonly netlink: NetlinkHandle;
  /** Largest read the workload issued, and bytes of reads in flight now / at most. */
  private maxReadBytes = 0;
  private readsInFlightBytes = 0;
  private peakInFlightBytes = 0;
  private exhaustedNote: string | undefined;
  /** The pool when the NIC last found it empty: pages held, and reads unfinished then. */
  private emptySnapshot: { held: number; inFlight: number } | undefined;

  constructor(
    private readonly o: DevmemRunOptions,
    private readonly log: (line: string) => void,
  ) {
    this.dev = new DevmemDevice({ queues: ['off', o.mode] });
    this.netlink = new NetlinkHandle(this.dev);
    const id = this.netlink.bindRx({ queues: [DEVMEM_QUEUE], dmabuf: new Dmabuf(o.poolBytes) });
    this.binding = this.dev.binding(id)!;
    this.consumerView = this.binding.dmabuf.deviceView();
    this.binding.pool.onEmpty(() => {
      this.emptySnapshot = { held: this.binding.pool.chunks - this.binding.pool.freeChunks, inFlight: this.readsInFlightBytes };
    });
  }

  /** Opens the connection of NVMe queue `qid`: I/O queues through the devmem path, the admin queue as usual. */
  async transport(stack: HostStack, targetIp: number, targetPort: number, qid: number): Promise<StreamTransport> {
    if (qid === 0) return (await stack.connect(targetIp, targetPort)).transport;
    const conn = await stack.connect(targetIp, targetPort, (key) => {
      this.dev.steering.addRule(key, DEVMEM_QUEUE);
      return this.dev.engineFor(key);
    });
    // The host stack holds the flow: its TCP socket tells the page pool which pages its queues reference.
    this.dev.holdFlow(conn.key, conn.socket);
    const socket = new DevmemSocket(conn.socket, this.dev, conn.key, this.sockStats);
    const returns = new DevmemTokenReturn(socket, { path: this.o.returnPath, holdUntilEmpty: this.o.holdUntilEmpty }, this.binding.pool);
    const transport = new DevmemTransport(socket, { mode: this.o.mode, returns, deviceView: this.binding.dmabuf.deviceView() });
    const devmem = new NvmeDevmem(returns, this.binding.dmabuf.deviceView(), this.ulpStats);
    const engine = this.dev.engine(conn.key);
    const resync = this.o.mode === 'nvme' && engine !== undefined ? new DevmemResync(engine, this.ulpStats) : undefined;
    this.queues.set(qid, { socket, returns, transport, devmem, resync });
    this.log(`devmem-${this.o.mode}: queue ${qid} steered to rx queue ${DEVMEM_QUEUE}, dmabuf ${this.binding.id} (${this.o.poolBytes} bytes)`);
    return transport;
  }

  /** The queue's devmem hooks (NvmeControllerOptions.devmem). */
  readonly hooksFor = (qid: number): NvmeDevmemHooks | undefined => this.queues.get(qid)?.devmem;

  /** The queue's resync hooks (NvmeControllerOptions.ddp): the `nvme` split only. */
  readonly resyncFor = (qid: number): NvmeDdpHooks | undefined => this.queues.get(qid)?.resync;

  /** The controller's reads end in the consumer; a queue that ends gives its held frags back. */
  workloadDevice(ctrl: NvmeController): WorkloadDevice {
    const perQueue: NvmeDevmem[] = [];
    ctrl.ioQueues.forEach((q, i) => {
      const qd = this.queues.get(q.qid);
      if (qd === undefined) throw new Error(`no devmem state for I/O queue ${q.qid}`);
      perQueue[i] = qd.devmem;
      q.onTerminated(() => qd.devmem.releaseAll());
    });
    const inner = devmemWorkloadDevice(ctrl, perQueue, this.consumerView);
    return {
      ...inner,
      read: async (queue, slba, buf) => {
        this.maxReadBytes = Math.max(this.maxReadBytes, buf.length);
        this.readsInFlightBytes += buf.length;
        this.peakInFlightBytes = Math.max(this.peakInFlightBytes, this.readsInFlightBytes);
        try {
          return await inner.read(queue, slba, buf);
        } catch (e) {
          // A read that fails with the pool dry failed for want of pages, whatever the NVMe host calls it.
          this.exhaustedNote ??= this.poolNote();
          throw e;
        } finally {
          this.readsInFlightBytes -= buf.length;
        }
      },
    };
  }

  /**
   * `error` (a failed run's line) with what the page pool says, when it ran
   * dry: an exhausted pool shows up to the NVMe host as a target that does
   * not answer, which is not what happened.
   */
  explainFailure(error: string): string {
    const note = this.exhaustedNote ?? this.poolNote();
    return note === undefined ? error : `${error} — ${note}`;
  }

  /** What the page pool says when it ran dry (undefined when it never did). */
  private poolNote(): string | undefined {
    const pool = this.binding.pool;
    const empties = pool.stats['alloc-empty'];
    if (empties === 0) return undefined;
    const snap = this.emptySnapshot ?? { held: pool.chunks - pool.freeChunks, inFlight: this.readsInFlightBytes };
    const need = Math.max(devmemPoolNeeded(this.maxReadBytes), this.peakInFlightBytes + 2 * DMABUF_CHUNK_BYTES);
    return (
      `devmem page pool exhausted: ${empties} frames dropped for want of a page; ${snap.held} of ${pool.chunks} pages (${sizeText(this.o.poolBytes)}) ` +
      `were held by unfinished reads (${sizeText(snap.inFlight)} in flight) and data TCP kept out of order` +
      (this.o.holdUntilEmpty > 0 ? ` while the application withheld its tokens (--devmem-hold ${this.o.holdUntilEmpty})` : '') +
      `; up to ${sizeText(this.peakInFlightBytes)} of reads were in flight at once: a pool of at least ${sizeText(need)} (--devmem-pool) lets every one finish`
    );
  }

  /** The workload is over: every read was consumed, so whatever is still out is a leak (reported). */
  workloadEnded(): void {
    for (const q of this.queues.values()) q.returns.flush();
    this.outstandingAfterWorkload = this.sockStats.tokensOutstanding;
  }

  /** `io`: the I/O queues' host counters summed. */
  report(io: NvmeHostStats): DevmemRunReport {
    // Whatever the sockets' queues still held is free now: make the gauges say so.
    this.binding.pool.refill();
    this.binding.pool.reclaim();
    const s = this.sockStats;
    const u = this.ulpStats;
    let headerBytes = 0;
    let peakPending = 0;
    let holdEpisodes = 0;
    for (const q of this.queues.values()) {
      headerBytes += q.transport.split?.stats.deviceHeaderBytes ?? 0;
      peakPending = Math.max(peakPending, q.returns.stats.peakPending);
      holdEpisodes += q.returns.stats.holdEpisodes;
    }
    const c2h = io.c2hDataBytes;
    return {
      mode: this.o.mode,
      returnPath: this.o.returnPath,
      poolBytes: this.o.poolBytes,
      c2hDataBytes: c2h,
      deviceDataBytes: u.deviceDataBytes,
      hostDataBytes: Math.max(0, c2h - u.deviceDataBytes),
      devicePct: c2h === 0 ? 0 : Math.round((u.deviceDataBytes / c2h) * 10000) / 100,
      hostCopiedBytes: io.copiedBytes,
      hostCrcBytes: hostBytesCrc(io),
      deviceReads: { headerBytes, crcBytes: u.crcReadBytes, consumerBytes: u.consumedBytes },
      tokens: {
        issued: s.tokensIssued,
        returnedDontneed: s.tokensFreedDontneed,
        returnedRing: s.tokensFreedRing,
        releasedOnClose: s.tokensFreedClose,
        outstandingAfterWorkload: this.outstandingAfterWorkload,
        peakPending,
        staleReturns: s.staleTokenReturns,
      },
      dontneedCalls: s.dontneedCalls,
      ringEntries: s.ringEntries,
      ...(this.exhaustedNote !== undefined ? { poolExhausted: this.exhaustedNote } : {}),
      holdEpisodes,
      pool: { ...this.binding.pool.stats },
      nic: { ...this.dev.stats },
      socket: { ...s },
      ulp: { ...u },
    };
  }
}
