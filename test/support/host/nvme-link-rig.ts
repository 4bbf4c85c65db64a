/**
 * Test support: several NVMe/TCP I/O queues of one host on ddplab's receive
 * path, offline — each queue a host TcpSocket behind one shared NicEmu (with
 * or without the DDP device, as one NIC carries every queue of a host),
 * talking to its own peer TcpSocket on which a MiniController answers reads
 * with the block pattern. The two directions are delay lines on a virtual
 * clock; frames toward the host go through the whole NIC receive path, and a
 * test may put its own frames on that path (`injectToHost`).
 *
 * Every read lands in a buffer with guard bytes on both sides, so a test can
 * check the bytes (against the pattern) and that nothing was written around
 * them.
 */
import { VirtualClock } from '../../../src/host/net/clock.js';
import { DelayLine } from '../../../src/lab/delay-line.js';
import { NvmeDdpOffload } from '../../../src/host/nvme/ddp.js';
import { NvmeQueue } from '../../../src/host/nvme/queue.js';
import { TcpSocket, type TcpEndpoint } from '../../../src/host/net/tcp-socket.js';
import { TcpTransport } from '../../../src/host/nvme/tcp-transport.js';
import { NvmeTcpDdpDevice, type NvmeTcpDdpLimits } from '../../../src/nicemu/ddp/offload.js';
import type { FlowKey } from '../../../src/nicemu/flow-table.js';
import { NicEmu } from '../../../src/nicemu/nic.js';
import { findPatternMismatch } from '../../../src/wire/block-pattern.js';
import { NvmeSc } from '../../../src/wire/nvme-status.js';
import { MiniController, PEER_LBA, PEER_PATTERN_SEED } from './devmem-nvme-peer.js';
import { HOST, PEER, skbFromFrame } from './tcp-peer.js';
import { SilentPort } from '../nicemu/silent-port.js';


export interface NvmeLinkOptions {
  /** 'none': no DDP device on the NIC. */
  readonly offload: 'none' | 'ddp' | 'ddp-crc';
  readonly limits?: Partial<NvmeTcpDdpLimits>;
  readonly depth?: number;
  /** Largest C2HData payload the controllers send. */
  readonly c2hBytes?: number;
  readonly rcvBufBytes?: number;
  /** The NIC asks the host's TCP before parsing a segment (not hardware; default off). */
  readonly nicTcpOracle?: boolean;
}

/** One I/O queue and both ends of its connection. */
export interface LinkQueue {
  readonly qid: number;
  readonly key: FlowKey;
  readonly host: TcpSocket;
  readonly peer: TcpSocket;
  readonly queue: NvmeQueue;
  readonly controller: MiniController;
}

/** What became of one read. */
export interface LinkRead {
  readonly status: number | undefined;
  readonly error: string | undefined;
  /** The bytes equal the pattern at the read's offset. */
  readonly intact: boolean;
  /** Guard bytes around the buffer were left alone. */
  readonly guardsIntact: boolean;
  readonly len: number;
}

const GUARD = 0xa5;

export class NvmeLink {
  readonly clock = new VirtualClock(0);
  readonly nic = new NicEmu(new SilentPort(), { mac: Buffer.from(HOST.mac) });
  readonly device: NvmeTcpDdpDevice | undefined;
  readonly ddp: NvmeDdpOffload | undefined;
  readonly queues: LinkQueue[] = [];
  private nextQid = 1;

  constructor(private readonly o: NvmeLinkOptions) {
    if (o.offload !== 'none') {
      this.device = new NvmeTcpDdpDevice(this.nic, { limits: o.limits ?? {}, caps: { 'nvme-tcp': true, 'nvme-tcp-ddgst-rx': o.offload === 'ddp-crc' }, nicTcpOracle: o.nicTcpOracle ?? false });
      this.ddp = new NvmeDdpOffload(this.device);
    }
  }

  /** Opens one more connection (TCP handshake, ICReq/ICResp) and returns its queue, not yet offloaded. */
  async addQueue(): Promise<LinkQueue> {
    const qid = this.nextQid++;
    const hostEnd: TcpEndpoint = { ...HOST, port: HOST.port + qid };
    const key: FlowKey = { remoteIp: PEER.ip, remotePort: PEER.port, localIp: HOST.ip, localPort: hostEnd.port };
    // The peer exists only after its line toward us does: the line's callback finds it later.
    let peerRef: TcpSocket | undefined;
    const toPeer = new DelayLine(this.clock, { delayMs: 0.05 }, (f) => peerRef!.input(skbFromFrame(f)));
    const toHost = new DelayLine(this.clock, { delayMs: 0.05 }, (f) => this.nic.rxFrame(f, 0));
    const h = new TcpSocket({ clock: this.clock, output: toPeer.send, local: hostEnd, remote: PEER, rcvBufBytes: this.o.rcvBufBytes, iss: 1000 * qid, tsOffset: qid });
    const peer = new TcpSocket({ clock: this.clock, output: toHost.send, local: PEER, remote: hostEnd, iss: 0xffff_0000 + qid, tsOffset: 99 });
    peerRef = peer;
    this.nic.addFlow({ key, deliver: (skb) => h.input(skb), batchStart: () => h.beginRxBatch(), batchEnd: () => h.endRxBatch() });
    void peer.listen();
    void h.connect();
    await this.drive(() => h.state === 'ESTABLISHED' && peer.state === 'ESTABLISHED');
    if (h.state !== 'ESTABLISHED') throw new Error(`queue ${qid}: handshake did not finish (${h.state})`);
    const controller = new MiniController(peer, this.o.c2hBytes ?? 16 * 1024);
    const queue = new NvmeQueue(new TcpTransport(h), {
      qid,
      depth: this.o.depth ?? 32,
      hdgst: false,
      ddgst: this.o.offload === 'ddp-crc',
      clock: this.clock,
      ...(this.ddp !== undefined ? { ddp: this.ddp.hooksFor(qid) } : {}),
    });
    let connected = false;
    void queue.connect().then(() => (connected = true));
    await this.drive(() => connected);
    if (!connected) throw new Error(`queue ${qid}: no ICResp`);
    this.ddp?.bindConnection(qid, { key, socket: h });
    const q: LinkQueue = { qid, key, host: h, peer, queue, controller };
    this.queues.push(q);
    return q;
  }

  /** sk_add for the given queues (default: all); returns how many the NIC took. */
  offload(queues: readonly LinkQueue[] = this.queues): number {
    return this.ddp?.offloadQueues(queues.map((q) => q.queue)) ?? 0;
  }

  /**
   * Submits a read of `len` bytes at LBA `slba` on `q` into a buffer placed
   * `misalign` bytes into its page (SGL entries then straddle pages); the
   * promise settles when the read does, with its verdict.
   */
  read(q: LinkQueue, slba: number, len: number, misalign = 0): Promise<LinkRead> {
    const guard = 4096 + misalign;
    const mem = Buffer.alloc(guard + len + 4096, GUARD);
    const buf = mem.subarray(guard, guard + len);
    const verdict = (status: number | undefined, error: string | undefined): LinkRead => ({
      status,
      error,
      intact: status === NvmeSc.SUCCESS && findPatternMismatch(PEER_PATTERN_SEED, slba * PEER_LBA, buf) < 0,
      guardsIntact: mem.subarray(0, guard).every((b) => b === GUARD) && mem.subarray(guard + len).every((b) => b === GUARD),
      len,
    });
    return q.queue
      .submit((cid, dptr) => ({ kind: 'read', cid, nsid: 1, slba, nlb: len / PEER_LBA - 1, dptr }), { dir: 'read', buf })
      .then(
        (cqe) => verdict(cqe.status, undefined),
        (e: unknown) => verdict(undefined, e instanceof Error ? e.message : String(e)),
      );
  }

  /** Reads many and waits for all of them. */
  async readAll(reqs: readonly { q: LinkQueue; slba: number; len: number; misalign?: number }[]): Promise<LinkRead[]> {
    const out: LinkRead[] = [];
    let settled = 0;
    reqs.forEach((r, i) => {
      void this.read(r.q, r.slba, r.len, r.misalign ?? 0).then((v) => {
        out[i] = v;
        settled++;
      });
    });
    await this.drive(() => settled === reqs.length);
    if (settled !== reqs.length) throw new Error(`${reqs.length - settled} of ${reqs.length} reads never settled`);
    return out;
  }

  /** Hands `frame` to the NIC as if it came off the wire toward the host. */
  injectToHost(frame: Buffer): void {
    this.nic.rxFrame(frame, 0);
  }

  /** Runs the virtual clock, letting promise callbacks (and deferred teardowns) run in between, until `done()` or `limitMs`. */
  async drive(done: () => boolean, limitMs = 600_000): Promise<void> {
    const end = this.clock.nowMs() + limitMs;
    while (!done() && this.clock.nowMs() < end) {
      let stepped = 0;
      while (stepped < 20 && this.clock.step(end)) stepped++;
      // Nothing armed: only promise callbacks can move things; let time pass too.
      if (stepped === 0) this.clock.advance(Math.min(1, end - this.clock.nowMs()));
      await new Promise((r) => setImmediate(r));
    }
  }
}
