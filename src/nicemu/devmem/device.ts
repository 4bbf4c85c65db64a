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
 * bind-rx is refused without queues, for a queue the NIC does not have, for
 * a queue without header split (the kernel's rule: payload must land apart
 * from headers) and for a queue already bound. Unbinding releases
 * everything: every page goes back, every user reference is dropped (a
 * later SO_DEVMEM_DONTNEED of such a token finds nothing), and the queue's
 * flows are received into host memory again.
 *
 * The header buffers the engines put split-off headers in are carved from
 * slabs this device registers, so the host can tell "linear" bytes of a
 * devmem skb (SO_DEVMEM_LINEAR) from ordinary payload (`isLinear`).
 */
import { DevmemBindError, DmabufBinding, type BindRxRequest } from './dmabuf.js';
import { newDevmemNicStats, type DevmemNicStats } from './stats.js';
import type { FlowKey } from '../flow-table.js';
import { HeaderSplitEngine, type HeaderSplitTarget } from './header-split.js';
import { RxQueueSteering, type HeaderSplitSetting } from '../rx-queue-steering.js';

export interface DevmemDeviceOptions {
  /** Header split of each rx queue, queue 0 first. Default: queue 0 off, queue 1 `tcp`. */
  readonly queues?: readonly HeaderSplitSetting[];
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
  private nextId = 1;
  private readonly linear = new WeakSet<ArrayBufferLike>();
  private slab: Buffer = Buffer.alloc(0);
  private slabAt = 0;

  constructor(opts: DevmemDeviceOptions = {}) {
    this.steering = new RxQueueSteering(opts.queues ?? ['off', 'tcp']);
    this.byQueue = new Array<DmabufBinding | undefined>(this.steering.queueCount).fill(undefined);
  }

  /** netlink bind-rx: binds `dmabuf` to `queues`; returns the binding id every descriptor will carry. */
  bindRx(req: BindRxRequest): number {
    if (req.queues.length === 0) throw new DevmemBindError('NO_QUEUES', 'bind-rx: no rx queue given');
    for (const q of req.queues) {
      if (!this.steering.hasQueue(q)) throw new DevmemBindError('NO_SUCH_QUEUE', `bind-rx: no rx queue ${q} (the NIC has ${this.steering.queueCount})`);
      if (this.steering.headerSplit(q) === 'off') {
        throw new DevmemBindError('NO_HEADER_SPLIT', `bind-rx: rx queue ${q} has header split off (tcp-data-split is disabled)`);
      }
      if (this.byQueue[q] !== undefined) throw new DevmemBindError('QUEUE_BUSY', `bind-rx: rx queue ${q} is already bound to dmabuf ${this.byQueue[q]!.id}`);
    }
    const id = this.nextId++;
    const b = new DmabufBinding(id, req.dmabuf, [...req.queues], req.refillRingEntries ?? DEFAULT_RING_ENTRIES);
    this.byId.set(id, b);
    for (const q of req.queues) this.byQueue[q] = b;
    return id;
  }

  /** Ends binding `id` (its netlink socket closed): see the file comment. */
  unbind(id: number): void {
    const b = this.byId.get(id);
    if (b === undefined) throw new DevmemBindError('NO_SUCH_BINDING', `unbind: no dmabuf binding ${id}`);
    this.byId.delete(id);
    for (const q of b.queues) if (this.byQueue[q] === b) this.byQueue[q] = undefined;
    this.targets.delete(id);
    b.pool.destroy();
  }

  binding(id: number): DmabufBinding | undefined {
    return this.byId.get(id);
  }

  bindings(): DmabufBinding[] {
    return [...this.byId.values()];
  }

  /** Changes a queue's header split (ethtool -G tcp-data-split); refused while a dmabuf is bound to it. */
  setHeaderSplit(queue: number, hs: HeaderSplitSetting): void {
    if (this.byQueue[queue] !== undefined) throw new DevmemBindError('QUEUE_BUSY', `rx queue ${queue} is bound to dmabuf ${this.byQueue[queue]!.id}: unbind first`);
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
