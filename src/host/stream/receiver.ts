/**
 * Receives one plain TCP stream through the host's userspace stack and
 * checks every byte against the ncdevmem pattern (pattern.ts) where it lies:
 *  - `none`: the copy path — the host's one copy routine moves every
 *    payload byte into an application buffer, which is checked;
 *  - `devmem-tcp`: rx queue 1 splits headers (`tcp`) into a bound dmabuf;
 *    recvmsg with MSG_SOCK_DEVMEM gives descriptors; each dmabuf frag is
 *    checked in device memory (a device view: what a GPU kernel would read),
 *    linear bytes in the host buffer; tokens go back by SO_DEVMEM_DONTNEED;
 *  - `zcrx-tcp`: rx queue 1 splits headers into an io_uring zcrx area;
 *    a multishot RECV_ZC posts completions; each is checked in the area
 *    where its `off` points and given back on the refill ring.
 * Every flow segment's L2-L4 header bytes (the skb head) are counted by a
 * thin engine in front of the NIC's own, so the report can say what the
 * host held in its memory: headers only, when an offload took the payload.
 */
import { DevmemDevice } from '../../nicemu/devmem/device.js';
import { Dmabuf, type DmabufBinding, type DmabufDeviceView } from '../../nicemu/devmem/dmabuf.js';
import type { DevmemNicStats } from '../../nicemu/devmem/stats.js';
import type { PagePoolStats } from '../../nicemu/devmem/page-pool.js';
import { ZCRX_AREA_SHIFT } from '../../nicemu/devmem/refill-ring.js';
import { registerZcrxIfq, type ZcrxIfq } from '../../nicemu/devmem/zcrx-ifq.js';
import type { FlowKey, RxOffloadEngine } from '../../nicemu/flow-table.js';
import type { Skb } from '../../nicemu/skb.js';
import { DevmemSocket, newDevmemSocketStats, type DevmemSocketStats, type DmabufTokenRange } from '../devmem/socket.js';
import type { HostStack } from '../net/host-stack.js';
import { newSkbCopyCounts } from '../net/skb-copy.js';
import type { TcpSocket } from '../net/tcp-socket.js';
import type { StreamOffloadMode } from '../offload-mode.js';
import { IORING_CQE_F_MORE, ZcrxCompletionQueue, ZcrxSocket, newRecvZcStats, type RecvZcStats, type ZcrxCqe } from '../zcrx/recv-zc.js';
import { PatternChecker } from './pattern.js';

/** The rx queue offloaded flows are steered to (queue 0 keeps ordinary traffic). */
const OFFLOAD_QUEUE = 1;
const READ_CHUNK = 256 << 10;
const OFFSET_MASK = (1n << BigInt(ZCRX_AREA_SHIFT)) - 1n;

export interface StreamReceiveOptions {
  readonly mode: StreamOffloadMode;
  /** ncdevmem -v N. */
  readonly validate: number;
  /** Bytes the sender will send (the stream ends with its FIN). */
  readonly expectBytes: number;
  /** dmabuf / zcrx area size (default 64 MiB). */
  readonly memBytes?: number;
  /** zcrx refill ring entries (default 4096) and completion queue entries (default 8192). */
  readonly rqEntries?: number;
  readonly cqEntries?: number;
  /** No byte for this long: the receive fails (default 30 s). */
  readonly stallMs?: number;
}

export interface StreamReceiveReport {
  readonly ok: boolean;
  readonly error?: string;
  readonly mode: StreamOffloadMode;
  readonly validate: number;
  readonly expectBytes: number;
  readonly receivedBytes: number;
  readonly verifiedBytes: number;
  readonly mismatches: number;
  readonly firstMismatch: number;
  /** What the host CPU held or copied: L2-L4 header bytes of the flow's segments (the skb heads), and payload bytes copied. */
  readonly host: { readonly segments: number; readonly headerBytes: number; readonly payloadCopiedBytes: number };
  /** Payload the application found in device memory / the area without a host copy. */
  readonly zeroCopyBytes: number;
  /** Wall time from the connection to the last byte checked. */
  readonly elapsedMs: number;
  /** Payload checked per second, in 10^6 bytes. */
  readonly MBps: number;
  readonly devmem?: {
    readonly tokensIssued: number;
    readonly tokensReturned: number;
    readonly tokensOutstanding: number;
    readonly dontneedCalls: number;
    readonly linearBytes: number;
    readonly plainBytes: number;
    readonly deviceReadBytes: number;
    readonly socket: DevmemSocketStats;
  };
  readonly zcrx?: RecvZcStats & { readonly areaBytes: number; readonly rqEntries: number; readonly areaReadBytes: number; readonly rearms: number };
  readonly pool?: PagePoolStats;
  readonly nic?: DevmemNicStats;
}

/** Counts the L2-L4 header bytes (skb head) of every segment of the flow, then hands it to the NIC's engine, if any. */
class HeaderCount implements RxOffloadEngine {
  segments = 0;
  headerBytes = 0;
  constructor(private readonly inner: RxOffloadEngine | undefined) {}
  rx(skb: Skb): Skb | undefined {
    this.segments++;
    this.headerBytes += skb.head.length;
    return this.inner !== undefined ? this.inner.rx(skb) : skb;
  }
}

/** One stream's receive: make it, then `run`. */
export class StreamReceiver {
  private readonly dev: DevmemDevice | undefined;
  private readonly binding: DmabufBinding | undefined;
  private readonly ifq: ZcrxIfq | undefined;
  private readonly checker: PatternChecker;
  private counter: HeaderCount | undefined;

  constructor(
    private readonly stack: HostStack,
    private readonly o: StreamReceiveOptions,
  ) {
    this.checker = new PatternChecker(o.validate);
    const mem = o.memBytes ?? 64 << 20;
    if (o.mode !== 'none') this.dev = new DevmemDevice({ queues: ['off', 'tcp'] });
    if (o.mode === 'devmem-tcp') this.binding = this.dev!.binding(this.dev!.bindRx({ queues: [OFFLOAD_QUEUE], dmabuf: new Dmabuf(mem) }));
    if (o.mode === 'zcrx-tcp') {
      this.ifq = registerZcrxIfq(this.dev!, { queue: OFFLOAD_QUEUE, areaBytes: mem, rqEntries: o.rqEntries ?? 4096 });
      this.binding = this.ifq.binding;
    }
  }

  /** Connects to the sender, receives until its FIN, checks every byte; never throws (the report says what failed). */
  async run(targetIp: number, targetPort: number): Promise<StreamReceiveReport> {
    const t0 = performance.now();
    let error: string | undefined;
    let recv: Omit<StreamReceiveReport, 'ok' | 'error' | 'mode' | 'validate' | 'expectBytes' | 'receivedBytes' | 'verifiedBytes' | 'mismatches' | 'firstMismatch' | 'host' | 'elapsedMs' | 'MBps'> & {
      payloadCopiedBytes: number;
    } = { zeroCopyBytes: 0, payloadCopiedBytes: 0 };
    try {
      const conn = await this.stack.connect(targetIp, targetPort, (key: FlowKey) => {
        if (this.dev !== undefined) this.dev.steering.addRule(key, OFFLOAD_QUEUE);
        this.counter = new HeaderCount(this.dev?.engineFor(key));
        return this.counter;
      });
      recv = await this.receive(conn.socket, conn.key);
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    const seconds = (performance.now() - t0) / 1000;
    const c = this.checker;
    if (error === undefined && c.checked !== this.o.expectBytes) error = `received ${c.checked} bytes, the sender sent ${this.o.expectBytes}`;
    if (error === undefined && c.mismatches > 0) error = `${c.mismatches} bytes differ from the pattern (first at stream byte ${c.firstMismatch})`;
    const { payloadCopiedBytes, ...rest } = recv;
    return {
      ok: error === undefined,
      ...(error !== undefined ? { error } : {}),
      mode: this.o.mode,
      validate: this.o.validate,
      expectBytes: this.o.expectBytes,
      receivedBytes: c.checked,
      verifiedBytes: c.checked - c.mismatches,
      mismatches: c.mismatches,
      firstMismatch: c.firstMismatch,
      host: { segments: this.counter?.segments ?? 0, headerBytes: this.counter?.headerBytes ?? 0, payloadCopiedBytes },
      elapsedMs: seconds * 1000,
      MBps: seconds > 0 ? c.checked / 1e6 / seconds : 0,
      ...rest,
      ...(this.binding !== undefined ? { pool: { ...this.binding.pool.stats } } : {}),
      ...(this.dev !== undefined ? { nic: { ...this.dev.stats } } : {}),
    };
  }

  private receive(socket: TcpSocket, key: FlowKey): Promise<{ zeroCopyBytes: number; payloadCopiedBytes: number } & Partial<StreamReceiveReport>> {
    if (this.o.mode === 'devmem-tcp') return this.receiveDevmem(socket, key);
    if (this.o.mode === 'zcrx-tcp') return this.receiveZcrx(socket, key);
    return this.receiveCopy(socket);
  }

  /** Drives `pump` on every readable event until the stream ended and is consumed, or it stalls. */
  private drive(socket: TcpSocket, pump: () => void, done: () => boolean): Promise<void> {
    const stallMs = this.o.stallMs ?? 30_000;
    return new Promise<void>((resolve, reject) => {
      let last = this.checker.checked;
      let finished = false;
      const finish = (err?: Error): void => {
        if (finished) return;
        finished = true;
        clearInterval(watch);
        socket.handlers.onReadable = undefined;
        socket.handlers.onEnd = undefined;
        if (err !== undefined) reject(err);
        else resolve();
      };
      const step = (): void => {
        try {
          pump();
          if (done()) finish();
        } catch (e) {
          finish(e instanceof Error ? e : new Error(String(e)));
        }
      };
      const watch = setInterval(() => {
        if (this.checker.checked === last) finish(new Error(`no stream byte for ${stallMs} ms (received ${this.checker.checked} of ${this.o.expectBytes})`));
        last = this.checker.checked;
      }, stallMs);
      socket.handlers.onReadable = step;
      socket.handlers.onEnd = step;
      const prevClose = socket.handlers.onClose;
      socket.handlers.onClose = (err) => {
        prevClose?.(err);
        if (err !== undefined) finish(new Error(`connection lost: ${err.message}`));
        else step();
      };
      step();
    });
  }

  private async receiveCopy(socket: TcpSocket): Promise<{ zeroCopyBytes: number; payloadCopiedBytes: number }> {
    const buf = Buffer.alloc(READ_CHUNK);
    const counts = newSkbCopyCounts();
    await this.drive(
      socket,
      () => {
        for (let n = socket.read(buf, 0, buf.length, counts); n > 0; n = socket.read(buf, 0, buf.length, counts)) this.checker.check(buf.subarray(0, n));
      },
      () => socket.readEnded && socket.readableLength === 0,
    );
    socket.close();
    return { zeroCopyBytes: counts.bytesSkipped, payloadCopiedBytes: counts.copiedBytes };
  }

  private async receiveDevmem(socket: TcpSocket, key: FlowKey): Promise<{ zeroCopyBytes: number; payloadCopiedBytes: number } & Partial<StreamReceiveReport>> {
    const stats = newDevmemSocketStats();
    const ds = new DevmemSocket(socket, this.dev!, key, stats);
    const view: DmabufDeviceView = this.binding!.dmabuf.deviceView();
    let zc = 0;
    await this.drive(
      socket,
      () => {
        for (;;) {
          const r = ds.recvmsg({ devmem: true, maxDescriptors: 128 });
          if (r.len === 0) break;
          if (r.descriptors.length === 0) {
            this.checker.check(r.bytes);
            continue;
          }
          let at = 0;
          const ranges: DmabufTokenRange[] = [];
          for (const d of r.descriptors) {
            if (d.kind === 'linear') {
              this.checker.check(r.bytes.subarray(at, at + d.size));
              at += d.size;
              continue;
            }
            this.checker.check(view.read(d.offset, d.size));
            zc += d.size;
            const prev = ranges.at(-1);
            if (prev !== undefined && prev.tokenStart + prev.tokenCount === d.token) ranges[ranges.length - 1] = { tokenStart: prev.tokenStart, tokenCount: prev.tokenCount + 1 };
            else ranges.push({ tokenStart: d.token, tokenCount: 1 });
          }
          if (ranges.length > 0) ds.dontneed(ranges);
        }
      },
      () => socket.readEnded && socket.readableLength === 0,
    );
    const outstanding = ds.tokensOutstanding;
    ds.close();
    return {
      zeroCopyBytes: zc,
      payloadCopiedBytes: ds.copyCounts.copiedBytes,
      devmem: {
        tokensIssued: stats.tokensIssued,
        tokensReturned: stats.tokensFreedDontneed,
        tokensOutstanding: outstanding,
        dontneedCalls: stats.dontneedCalls,
        linearBytes: stats.linearBytes,
        plainBytes: stats.plainBytes,
        deviceReadBytes: view.bytesRead,
        socket: { ...stats },
      },
    };
  }

  private async receiveZcrx(socket: TcpSocket, key: FlowKey): Promise<{ zeroCopyBytes: number; payloadCopiedBytes: number } & Partial<StreamReceiveReport>> {
    const ifq = this.ifq!;
    const stats = newRecvZcStats();
    const cq = new ZcrxCompletionQueue(this.o.cqEntries ?? 8192);
    const zs = new ZcrxSocket(socket, this.dev!, key, ifq, cq, stats);
    /** Completions whose buffer could not go back yet (the ring was full). */
    const unreturned: ZcrxCqe[] = [];
    let ended = false;
    let rearms = 0;
    const giveBack = (): void => {
      while (unreturned.length > 0 && zs.refill(unreturned[0]!)) unreturned.shift();
    };
    zs.arm();
    await this.drive(
      socket,
      () => {
        giveBack();
        if (!zs.armed && !ended) {
          zs.arm();
          rearms++;
        }
        for (let progress = true; progress; ) {
          progress = zs.issue() > 0;
          for (const c of cq.reap()) {
            if ((c.flags & IORING_CQE_F_MORE) !== 0) {
              this.checker.check(ifq.read(Number(c.off & OFFSET_MASK), c.res));
              if (unreturned.length > 0 || !zs.refill(c)) unreturned.push(c);
              continue;
            }
            // A final CQE: res 0 is the end of the stream; an error ends this request (armed again on the next wake-up).
            if (c.res === 0) ended = true;
          }
        }
      },
      () => ended,
    );
    zs.close();
    return {
      zeroCopyBytes: stats.zcBytes,
      payloadCopiedBytes: stats.copyFallbackBytes,
      zcrx: { ...stats, areaBytes: ifq.areaBytes, rqEntries: ifq.refillRing.capacity, areaReadBytes: ifq.stats.areaReadBytes, rearms },
    };
  }
}
