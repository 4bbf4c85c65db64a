/**
 * The NIC's devmem face (docs/design.md, "devmem socket API"): rx queues with
 * header split and 5-tuple steering (rx-queue-steering.ts), dmabuf bindings
 * (dmabuf.ts) made by `bindRx` as the netlink `bind-rx` op makes them, and a
 * header-split engine (header-split.ts) for every flow the host opens on a
 * bound queue.
 *
 *   const dev = new DevmemDevice({ queues: ['off', 'nvme'] });
 *   const id = dev.bindRx({ queues: [1], dmabuf: new Dmabuf(64 << 20) });
 *   // per connection, before its SYN leaves (HostStack.connect's offload factory):
 *   dev.steering.addRule(key, 1);
 *   const engine = dev.engineFor(key);
 *
 * bind-rx answers as mainline's (netdev-genl.c / netdev_rx_queue.c, read at
 * v6.18): no queues → EINVAL; a queue index the NIC does not have →
 * ERANGE; header split off on the queue, or a header-split threshold above
 * 0 → EINVAL; a queue that already has a memory provider → EEXIST. A
 * refusal binds nothing (the kernel undoes the queues it did). A binding
 * belongs to the netlink handle that made it (`NetlinkHandle`, netlink.ts):
 * closing the handle unbinds. Unbinding retires the binding (dmabuf.ts): the
 * queue's flows are received into host memory again, and frags still held
 * by sockets stay valid until they come back.
 *
 * The NIC splits every flow steered to a bound queue, whoever reads it:
 * header split is the queue's, not a socket's. The host stack registers the
 * TCP socket of each such flow (`holdFlow`) — it is what still references
 * the frags of queued skbs, so the page pool asks it before recycling a
 * page (page-pool.ts); an application reading without MSG_SOCK_DEVMEM gets
 * EFAULT (host/devmem/socket.ts).
 *
 * The header buffers the engines put split-off headers in are carved from
 * slabs this device registers, so the host can tell "linear" bytes of a
 * devmem skb (SO_DEVMEM_LINEAR) from ordinary payload (`isLinear`).
 */
import { DevmemBindError, DmabufBinding, type BindRxRequest } from './dmabuf.js';
import { DMABUF_CHUNK_BYTES, type DmabufHolder } from './page-pool.js';
import type { SkbFrag } from '../skb.js';
import { newDevmemNicStats, type DevmemNicStats } from './stats.js';
import type { FlowKey } from '../flow-table.js';
import { HeaderSplitEngine, type HeaderSplitTarget } from './header-split.js';
import { RxQueueSteering, type HeaderSplitSetting } from '../rx-queue-steering.js';

export interface DevmemDeviceOptions {
  /** Header split of each rx queue, queue 0 first. Default: queue 0 off, queue 1 `tcp`. */
  readonly queues?: readonly HeaderSplitSetting[];
  /** ethtool's hds-thresh: payloads at most this long are not split (default 0; bind-rx needs 0). */
  readonly hdsThresh?: number;
}

/** Whatever holds a flow's queued skbs (the host stack's TCP socket): it can list the frags they point into. */
export interface QueuedFragSource {
  forEachQueuedFrag(cb: (f: SkbFrag) => void): void;
}

/** Header buffers come from slabs this large (a larger request gets its own). */
const HEADER_SLAB_BYTES = 64 * 1024;
const DEFAULT_RING_ENTRIES = 4096;

function flowId(k: FlowKey): string {
  return `${k.remoteIp}:${k.remotePort}>${k.localIp}:${k.localPort}`;
}

export class DevmemDevice {
  readonly steering: RxQueueSteering;
  readonly stats: DevmemNicStats = newDevmemNicStats();
  private readonly byId = new Map<number, DmabufBinding>();
  private readonly byQueue: (DmabufBinding | undefined)[];
  private readonly engines = new Map<string, HeaderSplitEngine>();
  private readonly targets = new Map<number, HeaderSplitTarget>();
  private readonly holders = new Map<string, { binding: DmabufBinding; holder: DmabufHolder }>();
  private nextId = 1;
  private hdsThreshBytes: number;
  private readonly linear = new WeakSet<ArrayBufferLike>();
  private slab: Buffer = Buffer.alloc(0);
  private slabAt = 0;

  constructor(opts: DevmemDeviceOptions = {}) {
    this.steering = new RxQueueSteering(opts.queues ?? ['off', 'tcp']);
    this.byQueue = new Array<DmabufBinding | undefined>(this.steering.queueCount).fill(undefined);
    this.hdsThreshBytes = opts.hdsThresh ?? 0;
  }

  get hdsThresh(): number {
    return this.hdsThreshBytes;
  }

  /** ethtool -G hds-thresh: refused (EINVAL) above 0 while a memory provider is bound, as mainline refuses it. */
  setHdsThresh(bytes: number): void {
    if (!Number.isInteger(bytes) || bytes < 0) throw new RangeError(`hds-thresh ${bytes} is not a non-negative integer`);
    if (bytes > 0 && this.byId.size > 0) throw new DevmemBindError('EINVAL', 'BOUND', `hds-thresh ${bytes}: a memory provider is bound, the threshold must stay 0`);
    this.hdsThreshBytes = bytes;
  }

  /** netlink bind-rx: binds `dmabuf` to `queues`; returns the binding id every descriptor will carry. See the file comment for refusals. */
  bindRx(req: BindRxRequest): number {
    if (req.queues.length === 0) throw new DevmemBindError('EINVAL', 'NO_QUEUES', 'bind-rx: no rx queue given');
    for (const q of req.queues) {
      if (!this.steering.hasQueue(q)) throw new DevmemBindError('ERANGE', 'NO_SUCH_QUEUE', `bind-rx: rx queue index ${q} out of range (the NIC has ${this.steering.queueCount})`);
      if (this.steering.headerSplit(q) === 'off') {
        throw new DevmemBindError('EINVAL', 'NO_HEADER_SPLIT', `bind-rx: rx queue ${q} has header split off (tcp-data-split is disabled)`);
      }
      if (this.hdsThreshBytes > 0) throw new DevmemBindError('EINVAL', 'HDS_THRESH', `bind-rx: hds-thresh is ${this.hdsThreshBytes}, not zero`);
      if (this.byQueue[q] !== undefined) throw new DevmemBindError('EEXIST', 'QUEUE_BOUND', `bind-rx: rx queue ${q} already has a memory provider (dmabuf ${this.byQueue[q]!.id})`);
    }
    if (new Set(req.queues).size !== req.queues.length) throw new DevmemBindError('EEXIST', 'QUEUE_BOUND', `bind-rx: a queue is listed twice in ${req.queues.join(',')}`);
    const id = this.nextId++;
    const b = new DmabufBinding(id, req.dmabuf, [...req.queues], req.refillRingEntries ?? DEFAULT_RING_ENTRIES, req.provider ?? 'dmabuf');
    this.byId.set(id, b);
    for (const q of req.queues) this.byQueue[q] = b;
    return id;
  }

  /** Ends binding `id` (its netlink handle closed): see the file comment. */
  unbind(id: number): void {
    const b = this.byId.get(id);
    if (b === undefined) throw new DevmemBindError('ENOENT', 'NO_SUCH_BINDING', `unbind: no dmabuf binding ${id}`);
    this.byId.delete(id);
    for (const q of b.queues) if (this.byQueue[q] === b) this.byQueue[q] = undefined;
    this.targets.delete(id);
    b.retire();
  }

  /**
   * The host stack holds flow `key` in `source` (its TCP socket): the NIC may
   * put the flow's payload in dmabuf pages, and the page pool asks `source`
   * which pages its queued skbs still point into. Idempotent; undone by
   * releaseFlow. No-op for a flow without an engine.
   */
  holdFlow(key: FlowKey, source: QueuedFragSource): void {
    const id = flowId(key);
    const engine = this.engines.get(id);
    if (engine === undefined || this.holders.has(id)) return;
    const binding = this.byId.get(engine.bindingId);
    if (binding === undefined) return;
    const bid = binding.id;
    const holder: DmabufHolder = {
      markHeld: (mark) =>
        source.forEachQueuedFrag((f) => {
          if (f.kind !== 'dmabuf' || f.dmabufId !== bid || f.size === 0) return;
          const last = Math.floor((f.offset + f.size - 1) / DMABUF_CHUNK_BYTES);
          for (let c = Math.floor(f.offset / DMABUF_CHUNK_BYTES); c <= last; c++) mark(c);
        }),
    };
    binding.pool.addHolder(holder);
    this.holders.set(id, { binding, holder });
    engine.attach();
  }

  binding(id: number): DmabufBinding | undefined {
    return this.byId.get(id);
  }

  bindings(): DmabufBinding[] {
    return [...this.byId.values()];
  }

  /** Changes a queue's header split (ethtool -G tcp-data-split); refused while a dmabuf is bound to it. */
  setHeaderSplit(queue: number, hs: HeaderSplitSetting): void {
    if (this.byQueue[queue] !== undefined) throw new DevmemBindError('EINVAL', 'BOUND', `rx queue ${queue} is bound to dmabuf ${this.byQueue[queue]!.id}: unbind first`);
    this.steering.setHeaderSplit(queue, hs);
  }

  /**
   * The header-split engine for a new flow `key` (the offload factory of
   * HostStack.connect): undefined unless the steering rules put the flow on
   * a bound queue with header split.
   */
  engineFor(key: FlowKey): HeaderSplitEngine | undefined {
    const q = this.steering.queueFor(key);
    const b = this.byQueue[q];
    const hs = this.steering.headerSplit(q);
    if (b === undefined || hs === 'off') return undefined;
    const engine = new HeaderSplitEngine(key, hs, this.targetFor(b));
    this.engines.set(flowId(key), engine);
    return engine;
  }

  /** The engine of flow `key`, if one was made. */
  engine(key: FlowKey): HeaderSplitEngine | undefined {
    return this.engines.get(flowId(key));
  }

  /** The flow is closed: its engine passes segments through and is forgotten. */
  releaseFlow(key: FlowKey): void {
    const id = flowId(key);
    const h = this.holders.get(id);
    if (h !== undefined) {
      this.holders.delete(id);
      h.binding.pool.removeHolder(h.holder);
    }
    this.engines.get(id)?.delete();
    this.engines.delete(id);
  }

  /** True when `buf` lies in the NIC's header buffers: the linear part of a devmem skb. */
  isLinear(buf: Uint8Array): boolean {
    return this.linear.has(buf.buffer);
  }

  private targetFor(b: DmabufBinding): HeaderSplitTarget {
    let t = this.targets.get(b.id);
    if (t === undefined) {
      t = { binding: b, stats: this.stats, headerBuffer: (len) => this.headerBuffer(len) };
      this.targets.set(b.id, t);
    }
    return t;
  }

  /** `len` bytes of header buffer; slabs are never reused, so an skb's linear bytes stay as the NIC wrote them. */
  private headerBuffer(len: number): Buffer {
    if (len > HEADER_SLAB_BYTES / 4) {
      const own = Buffer.alloc(len);
      this.linear.add(own.buffer);
      return own;
    }
    if (this.slabAt + len > this.slab.length) {
      this.slab = Buffer.alloc(HEADER_SLAB_BYTES);
      this.linear.add(this.slab.buffer);
      this.slabAt = 0;
    }
    const out = this.slab.subarray(this.slabAt, this.slabAt + len);
    this.slabAt += len;
    return out;
  }
}
