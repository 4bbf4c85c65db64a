/**
 * Test support for the hostile target on ddplab's receive path: two NVMe/TCP
 * I/O queues of one host on one software NIC (with the DDP device for 'ddp'
 * and 'ddp-crc'), frames → NicEmu → userspace TcpSocket → TcpTransport →
 * NvmeQueue (+ NvmeDdp), against scripted controllers. Queue 1's controller
 * stream goes through the target's own HostileQueue (src/target/hostile.ts),
 * so the broken PDU is byte for byte what `ddplab target --hostile` sends;
 * queue 2's stream is correct. Frames of the two flows alternate on the NIC.
 *
 * Everything the application and the wire can tell is returned: each read's
 * outcome, the memory holding every destination buffer and the guard bytes
 * around them, the H2CTermReqs the host put on the wire (parsed from its
 * transmitted frames), the queue's error, host and NIC counters. The same
 * scenario runs with offload 'none', 'ddp' and 'ddp-crc' so tests compare.
 */
import { VirtualClock } from '../../../src/host/net/clock.js';
import type { NvmeHostStats } from '../../../src/host/net/host-stats.js';
import { NvmeHostError } from '../../../src/host/nvme/host-error.js';
import { NvmeDdp } from '../../../src/host/nvme/ddp.js';
import { NvmeQueue } from '../../../src/host/nvme/queue.js';
import { TcpSocket, type TcpEndpoint } from '../../../src/host/net/tcp-socket.js';
import { TcpTransport } from '../../../src/host/nvme/tcp-transport.js';
import { NvmeTcpDdpDevice } from '../../../src/nicemu/ddp/offload.js';
import { newUlpDdpStats, type UlpDdpStats } from '../../../src/nicemu/ddp/stats.js';
import type { FlowKey } from '../../../src/nicemu/flow-table.js';
import { NicEmu } from '../../../src/nicemu/nic.js';
import { HostileQueue, type HostileCase } from '../../../src/target/hostile.js';
import { buildCqe, cqeWith } from '../../../src/wire/nvme-cqe.js';
import { PduType, emitPdu, emitPduBuffer, parsePdu, type EmittedPdu, type Pdu } from '../../../src/wire/nvme-tcp-pdu.js';
import { buildTcpFrame, parseFrame } from '../../../src/wire/frame.js';
import { seqAdd, seqDiff, seqGt } from '../../../src/wire/seq.js';
import { TCP_ACK, TCP_PSH, TCP_SYN } from '../../../src/wire/tcp.js';
import { HOST, PEER, prng } from './tcp-peer.js';
import type { OffloadMode } from './ddp-queue-rig.js';
import { SilentPort } from '../nicemu/silent-port.js';

export interface HostileScenario {
  /** The broken read response on queue 1; undefined: both queues correct. */
  readonly kind: HostileCase | undefined;
  /** Read responses on queue 1 that go out intact before the broken one. */
  readonly after: number;
  readonly hdgst: boolean;
  readonly ddgst: boolean;
  /** Reads per queue, all submitted before any data flows. */
  readonly reads: number;
  readonly readBytes: number;
  /** C2HData payload per PDU. */
  readonly c2hBytes: number;
  /** Complete reads with C2HData SUCCESS instead of a CapsuleResp. */
  readonly success: boolean;
  /** TCP payload per frame. */
  readonly mss: number;
  readonly seed: number;
}

export type ReadOutcome = { readonly status: number } | { readonly error: string; readonly fes?: number; readonly fei?: number } | { readonly pending: true };

export interface TermReqSeen {
  readonly fes: number;
  readonly fei: number;
  /** The offending header the host echoed. */
  readonly echo: Buffer;
}

export interface QueueResult {
  readonly outcomes: readonly ReadOutcome[];
  /** Every read buffer and the guards around them. */
  readonly memory: Buffer;
  readonly spans: readonly (readonly [number, number])[];
  readonly expected: readonly Buffer[];
  /** H2CTermReqs in the host's transmitted stream. */
  readonly termReqs: readonly TermReqSeen[];
  readonly error: { readonly code: string; readonly fes?: number; readonly fei?: number } | undefined;
  readonly host: NvmeHostStats;
  /** C2HData payload bytes in the controller's stream. */
  readonly dataBytes: number;
  /** C2HData payload bytes sent before the first broken or added PDU (all of them when none). */
  readonly dataBeforeHostile: number;
  /** The broken or added PDU as sent. */
  readonly hostilePdu: Buffer | undefined;
  /**
   * C2HData payload bytes of later PDUs inside the frame where the host
   * meets the end of the broken PDU's header (PDO): the NIC walks a whole
   * frame before the host reads any of it, so with the framing intact
   * (data-past-length, c2h-after-completion) it may place these before the
   * host fails their reads and tears the offload down.
   */
  readonly dataAfterHostileInFaultFrame: number;
}

export interface HostileRunResult {
  readonly hostile: QueueResult;
  readonly clean: QueueResult;
  /** The NIC's ulp-ddp counters, both flows (zero without offload). */
  readonly nic: UlpDdpStats;
}

const GUARD_BYTE = 0xa5;
const LBA = 512;

function fill(r: () => number, len: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) b[i] = Math.floor(r() * 256);
  return b;
}

/** One flow: a host socket + queue on the NIC and the scripted controller behind it. */
class SimFlow {
  readonly local: TcpEndpoint;
  readonly key: FlowKey;
  readonly socket: TcpSocket;
  readonly hostTx: Buffer[] = [];
  private readonly txSeen: Buffer[] = [];
  private hostSndNxt: number;
  peerSeq: number;
  queue!: NvmeQueue;
  readonly outcomes: ReadOutcome[] = [];
  readonly cids: number[] = [];

  constructor(
    private readonly nic: NicEmu,
    clock: VirtualClock,
    readonly qid: number,
    private readonly hostIss: number,
    private readonly peerIss: number,
  ) {
    this.local = { ...HOST, port: HOST.port + qid };
    this.key = { remoteIp: PEER.ip, remotePort: PEER.port, localIp: this.local.ip, localPort: this.local.port };
    this.socket = new TcpSocket({
      clock,
      output: (f) => this.hostTx.push(f),
      local: this.local,
      remote: PEER,
      iss: hostIss,
      mtu: 9000,
      rcvBufBytes: 16 * 1024 * 1024,
    });
    this.hostSndNxt = seqAdd(hostIss, 1);
    this.peerSeq = seqAdd(peerIss, 1);
    nic.addFlow({ key: this.key, deliver: (skb) => this.socket.input(skb) });
  }

  /** Tracks the host's snd_nxt (to ACK it) and keeps its frames for parsing later. */
  noteHostTx(): void {
    for (const f of this.hostTx.splice(0)) {
      this.txSeen.push(f);
      const tcp = parseFrame(f).tcp!;
      const end = seqAdd(tcp.seq, tcp.payload.length + ((tcp.flags & TCP_SYN) !== 0 ? 1 : 0));
      if (seqGt(end, this.hostSndNxt)) this.hostSndNxt = end;
    }
  }

  frame(seq: number, flags: number, payload?: Buffer): Buffer {
    return buildTcpFrame({
      srcMac: PEER.mac,
      dstMac: this.local.mac,
      srcIp: PEER.ip,
      dstIp: this.local.ip,
      srcPort: PEER.port,
      dstPort: this.local.port,
      seq,
      ack: this.hostSndNxt,
      flags,
      window: 0xffff,
      options: (flags & TCP_SYN) !== 0 ? { mss: 8960, wscale: 7, sackPermitted: true } : undefined,
      payload,
    });
  }

  async handshake(): Promise<void> {
    const connected = this.socket.connect();
    this.noteHostTx();
    this.nic.rxFrame(this.frame(this.peerIss, TCP_SYN | TCP_ACK), 0);
    await connected;
    this.noteHostTx();
  }

  /** Sends stream bytes [off, off + n) of the controller's data (offset 0 = first byte after the handshake). */
  send(bytes: Buffer): void {
    this.nic.rxFrame(this.frame(this.peerSeq, TCP_ACK | TCP_PSH, bytes), 0);
    this.peerSeq = seqAdd(this.peerSeq, bytes.length);
    this.noteHostTx();
  }

  /** The host's transmitted byte stream, reassembled from its frames, parsed into PDUs: its H2CTermReqs. */
  termReqs(): TermReqSeen[] {
    this.noteHostTx();
    const first = seqAdd(this.hostIss, 1);
    const pieces: { off: number; payload: Buffer }[] = [];
    let end = 0;
    for (const f of this.txSeen) {
      const tcp = parseFrame(f).tcp!;
      if (tcp.payload.length === 0) continue;
      const off = seqDiff(tcp.seq, first);
      pieces.push({ off, payload: tcp.payload });
      end = Math.max(end, off + tcp.payload.length);
    }
    const stream = Buffer.alloc(end);
    for (const p of pieces) p.payload.copy(stream, p.off);
    const out: TermReqSeen[] = [];
    for (let at = 0; at + 8 <= stream.length; ) {
      const p = parsePdu(stream.subarray(at));
      if (p.pdu.type === PduType.H2CTermReq) out.push({ fes: p.pdu.fes, fei: p.pdu.fei, echo: Buffer.concat(p.pdu.data as Buffer[]) });
      at += p.layout.plen;
    }
    return out;
  }
}

/** The controller's byte stream for one queue: each read's C2HData in order, then its completion. */
function controllerStream(
  sc: HostileScenario,
  cids: readonly number[],
  expected: readonly Buffer[],
  hostile: HostileQueue | undefined,
): QueueResultStream {
  const opts = { hdgst: sc.hdgst, ddgst: sc.ddgst };
  const parts: Buffer[] = [];
  let pos = 0;
  let data = 0;
  let before: number | undefined;
  let hostilePdu: Buffer | undefined;
  let hostileAt = -1;
  /** Stream ranges of C2HData payload written after the broken PDU. */
  const laterData: [number, number][] = [];
  const write = (pdu: Pdu): void => {
    const e = emitPdu(pdu, opts);
    const out: readonly EmittedPdu[] = hostile === undefined ? [e] : hostile.outgoing(pdu, e);
    for (const x of out) {
      const bytes = Buffer.concat([x.head, ...x.data, x.tail]);
      let len = 0;
      for (const d of x.data) len += d.length;
      if (x !== e && before === undefined) {
        before = data;
        hostilePdu = bytes;
        hostileAt = pos;
      } else if (hostileAt >= 0 && len > 0) {
        laterData.push([pos + x.head.length, pos + x.head.length + len]);
      }
      parts.push(bytes);
      data += len;
      pos += bytes.length;
    }
  };
  cids.forEach((cid, i) => {
    const buf = expected[i]!;
    for (let off = 0; off < buf.length; off += sc.c2hBytes) {
      const n = Math.min(sc.c2hBytes, buf.length - off);
      const last = off + n === buf.length;
      write({ type: PduType.C2HData, cccid: cid, datao: off, datal: n, lastPdu: last, success: last && sc.success, data: [buf.subarray(off, off + n)] });
    }
    if (!sc.success) write({ type: PduType.CapsuleResp, cqe: buildCqe(cqeWith({ cid, sqId: 1 })) });
  });
  let inFaultFrame = 0;
  if (hostilePdu !== undefined) {
    // The host checks a C2HData header once it holds all of it, up to PDO (its `head`).
    const headLen = hostilePdu[3]! !== 0 ? hostilePdu[3]! : hostilePdu[2]!;
    const faultByte = hostileAt + headLen - 1;
    const frameEnd = Math.min(pos, (Math.floor(faultByte / sc.mss) + 1) * sc.mss);
    for (const [a, b] of laterData) inFaultFrame += Math.max(0, Math.min(b, frameEnd) - a);
  }
  return { stream: Buffer.concat(parts), dataBytes: data, dataBeforeHostile: before ?? data, hostilePdu, dataAfterHostileInFaultFrame: inFaultFrame };
}

interface QueueResultStream {
  readonly stream: Buffer;
  readonly dataBytes: number;
  readonly dataBeforeHostile: number;
  readonly hostilePdu: Buffer | undefined;
  readonly dataAfterHostileInFaultFrame: number;
}

/** Runs the scenario with the given offload mode. */
export async function runHostileScenario(sc: HostileScenario, mode: OffloadMode): Promise<HostileRunResult> {
  const r = prng(sc.seed * 7919 + 3);
  const clock = new VirtualClock(0);
  const nic = new NicEmu(new SilentPort(), { mac: HOST.mac as Buffer, verifyChecksums: false });
  const device =
    mode === 'none'
      ? undefined
      : new NvmeTcpDdpDevice(nic, { caps: { 'nvme-tcp': true, 'nvme-tcp-ddgst-rx': mode === 'ddp-crc' }, defer: (fn) => fn() });
  const flows = [new SimFlow(nic, clock, 1, 0x1000_0000, 0xffff_f000), new SimFlow(nic, clock, 2, 0x2000_0000, 0x7000_0000)];
  const setups: { memory: Buffer; spans: [number, number][]; expected: Buffer[] }[] = [];

  for (const flow of flows) {
    await flow.handshake();
    const ddp = device === undefined ? undefined : new NvmeDdp(device);
    flow.queue = new NvmeQueue(new TcpTransport(flow.socket), {
      qid: flow.qid,
      depth: 32,
      hdgst: sc.hdgst,
      ddgst: sc.ddgst,
      clock,
      ...(ddp !== undefined ? { ddp } : {}),
    });
    const ic = flow.queue.connect();
    flow.noteHostTx();
    flow.send(emitPduBuffer({ type: PduType.ICResp, pfv: 0, cpda: 0, hdgstEnable: sc.hdgst, ddgstEnable: sc.ddgst, maxh2cdata: 0x40_0000 }));
    await ic;
    ddp?.attach(flow.queue, { key: flow.key, socket: flow.socket });

    let total = 0;
    const spans: [number, number][] = [];
    for (let i = 0; i < sc.reads; i++) {
      total += 64 + Math.floor(r() * 3000);
      spans.push([total, total + sc.readBytes]);
      total += sc.readBytes;
    }
    const memory = Buffer.alloc(total + 4096, GUARD_BYTE);
    const expected = spans.map(() => fill(r, sc.readBytes));
    setups.push({ memory, spans, expected });
    for (let i = 0; i < sc.reads; i++) {
      flow.outcomes.push({ pending: true });
      const buf = memory.subarray(spans[i]![0], spans[i]![1]);
      flow.queue
        .submit(
          (cid, dptr) => {
            flow.cids[i] = cid;
            return { kind: 'read', cid, nsid: 1, slba: i * 4096, nlb: sc.readBytes / LBA - 1, dptr };
          },
          { dir: 'read', buf },
        )
        .then(
          (cqe) => (flow.outcomes[i] = { status: cqe.status }),
          (e: unknown) => {
            if (!(e instanceof NvmeHostError)) throw e;
            const { fes, fei } = e.detail;
            flow.outcomes[i] = { error: e.code, ...(fes !== undefined ? { fes, fei: fei! } : {}) };
          },
        );
    }
    flow.noteHostTx();
  }

  const streams = flows.map((flow, k) =>
    controllerStream(sc, flow.cids, setups[k]!.expected, k === 0 && sc.kind !== undefined ? new HostileQueue({ kind: sc.kind, qid: 1, after: sc.after }) : undefined),
  );
  // Frames of the two flows alternate on the NIC.
  const at = [0, 0];
  while (at[0]! < streams[0]!.stream.length || at[1]! < streams[1]!.stream.length) {
    for (let k = 0; k < 2; k++) {
      const s = streams[k]!.stream;
      if (at[k]! >= s.length) continue;
      const n = Math.min(sc.mss, s.length - at[k]!);
      flows[k]!.send(s.subarray(at[k]!, at[k]! + n));
      at[k]! += n;
    }
  }
  await new Promise((res) => setImmediate(res));
  await new Promise((res) => setImmediate(res));

  const result = (k: number): QueueResult => {
    const flow = flows[k]!;
    const err = flow.queue.error;
    return {
      outcomes: flow.outcomes,
      memory: setups[k]!.memory,
      spans: setups[k]!.spans,
      expected: setups[k]!.expected,
      termReqs: flow.termReqs(),
      error: err === undefined ? undefined : { code: err.code, ...(err.detail.fes !== undefined ? { fes: err.detail.fes, fei: err.detail.fei! } : {}) },
      host: flow.queue.stats,
      dataBytes: streams[k]!.dataBytes,
      dataBeforeHostile: streams[k]!.dataBeforeHostile,
      hostilePdu: streams[k]!.hostilePdu,
      dataAfterHostileInFaultFrame: streams[k]!.dataAfterHostileInFaultFrame,
    };
  };
  return { hostile: result(0), clean: result(1), nic: device?.getStats() ?? newUlpDdpStats() };
}
