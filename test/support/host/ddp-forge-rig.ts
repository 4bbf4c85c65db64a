/**
 * Test support for forged segments: one NVMe/TCP I/O queue on
 * ddplab's receive path — frames → NicEmu (with or without the DDP device)
 * → userspace TcpSocket → TcpTransport → NvmeQueue (+ NvmeDdp) — fed a
 * scripted controller stream plus frames a forger slips in, each with the
 * TCP fields the test chooses: right (the host's TCP takes the bytes if
 * they come first) or wrong in one way the host's TCP refuses (an old
 * timestamp, an ACK of data never sent, no ACK flag, RST, SYN, beyond the
 * window). The connection uses timestamps, so PAWS is live.
 *
 * Unlike ddp-queue-rig.ts (seeded, impaired at random), every frame here is put
 * where a case needs it, and the run reports, besides what the application
 * sees, how many bytes the NIC placed in segments the host's TCP then
 * discarded.
 */
import { VirtualClock } from '../../../src/host/net/clock.js';
import type { NvmeHostStats } from '../../../src/host/net/host-stats.js';
import { NvmeHostError } from '../../../src/host/nvme/host-error.js';
import { NvmeDdp } from '../../../src/host/nvme/ddp.js';
import { NvmeQueue } from '../../../src/host/nvme/queue.js';
import { TcpSocket } from '../../../src/host/net/tcp-socket.js';
import type { TcpStats } from '../../../src/host/net/tcp-stats.js';
import { TcpTransport } from '../../../src/host/nvme/tcp-transport.js';
import { NvmeTcpDdpDevice, type NicProfile } from '../../../src/nicemu/ddp/offload.js';
import { newUlpDdpStats, type UlpDdpStats } from '../../../src/nicemu/ddp/stats.js';
import type { FlowKey } from '../../../src/nicemu/flow-table.js';
import { NicEmu } from '../../../src/nicemu/nic.js';
import type { Skb } from '../../../src/nicemu/skb.js';
import { parseFrame } from '../../../src/wire/frame.js';
import { buildCqe, cqeWith } from '../../../src/wire/nvme-cqe.js';
import { emitPdu, emitPduBuffer, PduType } from '../../../src/wire/nvme-tcp-pdu.js';
import { seqAdd, seqGt } from '../../../src/wire/seq.js';
import { TCP_ACK, TCP_PSH, TCP_RST, TCP_SYN } from '../../../src/wire/tcp.js';
import { HOST, PEER, peerFrame, prng } from './tcp-peer.js';
import { SilentPort } from '../nicemu/silent-port.js';

export type ForgeMode = 'none' | 'ddp' | 'ddp-crc';

export interface ForgeRigOptions {
  readonly hdgst: boolean;
  readonly ddgst: boolean;
  /** Read lengths (each ≥ the 32 KiB threshold is offloaded). */
  readonly reads: readonly number[];
  /** Largest C2HData payload per PDU. */
  readonly c2hBytes: number;
  /** The host's receive buffer (its window). */
  readonly rcvBufBytes?: number;
  /** The NIC asks the host's TCP before parsing a segment (not hardware; default off). */
  readonly nicTcpOracle?: boolean;
  /** The NIC checks PAWS, ACK and window from what it saw on its port (nicemu/ddp/tcp-checks.ts; default off). */
  readonly nicTcpChecks?: boolean;
  /** The NIC profile (default: the device's default). */
  readonly nic?: NicProfile;
}

/** One PDU of the controller's stream; positions are stream offsets (0 = first byte after ICResp). */
export interface StreamPdu {
  readonly kind: 'data' | 'resp';
  readonly read: number;
  readonly cid: number;
  readonly start: number;
  readonly dataStart: number;
  readonly dataEnd: number;
  readonly end: number;
  readonly datao: number;
}

export interface ControllerStream {
  readonly bytes: Buffer;
  readonly pdus: readonly StreamPdu[];
  readonly cids: readonly number[];
  readonly hdgst: boolean;
  readonly ddgst: boolean;
  /** The host's receive window at the start (bytes past rcv_nxt it accepts). */
  readonly windowBytes: number;
}

/**
 * How the host's TCP must judge a frame: 'ok' fields are right; the others
 * are each one reason RFC 9293 / RFC 7323 give a receiver to drop a segment
 * whatever its sequence number.
 */
export type TcpFields = 'ok' | 'stale-ts' | 'future-ack' | 'no-ack' | 'rst' | 'syn';

/** One frame toward the host: stream offset and payload, its TCP fields, and whether a forger sent it. */
export interface WireFrame {
  readonly off: number;
  readonly bytes: Buffer;
  readonly tcp?: TcpFields;
  readonly forged?: boolean;
}

/** What the application sees for one read. */
export type ReadOutcome = { readonly status: number } | { readonly error: string; readonly fes?: number } | { readonly pending: true };

export interface ForgeRun {
  readonly outcomes: readonly ReadOutcome[];
  /** Memory holding every read buffer and the guard bytes around them. */
  readonly memory: Buffer;
  readonly spans: readonly (readonly [number, number])[];
  /** What each read should hold when the real stream is what TCP kept. */
  readonly expected: readonly Buffer[];
  readonly stream: ControllerStream;
  readonly nic: UlpDdpStats;
  readonly tcp: TcpStats;
  readonly host: NvmeHostStats;
  /** H2CTermReqs the host sent. */
  readonly termReqs: number;
  /** Bytes the NIC placed in skbs of forged frames, and of those the host's TCP did not take as new bytes. */
  readonly placedForged: number;
  readonly placedDiscarded: number;
}

export const GUARD_BYTE = 0xa5;
const LBA = 512;
const GUARD_BEFORE = [16, 100, 2000, 4095, 777];

function fill(seed: number, len: number): Buffer {
  const r = prng(seed);
  const out = Buffer.alloc(len);
  for (let i = 0; i < len; i++) out[i] = Math.floor(r() * 256);
  return out;
}

function controllerStream(o: ForgeRigOptions, cids: readonly number[], expected: readonly Buffer[], windowBytes: number): ControllerStream {
  const parts: Buffer[] = [];
  const pdus: StreamPdu[] = [];
  let pos = 0;
  o.reads.forEach((len, read) => {
    for (let datao = 0; datao < len; datao += o.c2hBytes) {
      const datal = Math.min(o.c2hBytes, len - datao);
      const e = emitPdu(
        { type: PduType.C2HData, cccid: cids[read]!, datao, datal, lastPdu: datao + datal === len, success: false, data: [expected[read]!.subarray(datao, datao + datal)] },
        { hdgst: o.hdgst, ddgst: o.ddgst },
      );
      const b = Buffer.concat([e.head, ...e.data, e.tail]);
      pdus.push({ kind: 'data', read, cid: cids[read]!, start: pos, dataStart: pos + e.head.length, dataEnd: pos + e.head.length + datal, end: pos + b.length, datao });
      parts.push(b);
      pos += b.length;
    }
    const resp = emitPduBuffer({ type: PduType.CapsuleResp, cqe: buildCqe(cqeWith({ cid: cids[read]!, sqId: 1 })) }, { hdgst: o.hdgst });
    pdus.push({ kind: 'resp', read, cid: cids[read]!, start: pos, dataStart: pos, dataEnd: pos, end: pos + resp.length, datao: 0 });
    parts.push(resp);
    pos += resp.length;
  });
  return { bytes: Buffer.concat(parts), pdus, cids, hdgst: o.hdgst, ddgst: o.ddgst, windowBytes };
}

/** The stream in order, cut in `mss`-byte segments. */
export function inOrder(s: ControllerStream, mss = 1448, from = 0, to = s.bytes.length): WireFrame[] {
  const out: WireFrame[] = [];
  for (let off = from; off < to; off += mss) out.push({ off, bytes: s.bytes.subarray(off, Math.min(to, off + mss)) });
  return out;
}

/** A script: the frames toward the host, given the controller's stream. */
export type WireScript = (s: ControllerStream) => readonly WireFrame[];

function placedBytes(skb: Skb): number {
  let n = 0;
  for (const f of skb.frags) if (f.kind === 'placed') n += f.buf.length;
  return n;
}

/** Runs `script` with offload `mode`. */
export async function runForge(o: ForgeRigOptions, mode: ForgeMode, script: WireScript): Promise<ForgeRun> {
  const clock = new VirtualClock(0);
  const nic = new NicEmu(new SilentPort(), { mac: HOST.mac as Buffer, verifyChecksums: true });
  const device = mode === 'none' ? undefined : new NvmeTcpDdpDevice(nic, { caps: { 'nvme-tcp': true, 'nvme-tcp-ddgst-rx': mode === 'ddp-crc' }, defer: (fn) => fn(), nicTcpOracle: o.nicTcpOracle ?? false, nicTcpChecks: o.nicTcpChecks ?? false, ...(o.nic !== undefined ? { profile: o.nic } : {}) });
  const hostTx: Buffer[] = [];
  const rcvBufBytes = o.rcvBufBytes ?? 4 * 1024 * 1024;
  const socket = new TcpSocket({ clock, output: (f) => hostTx.push(f), local: HOST, remote: PEER, iss: 1000, mtu: 1500, rcvBufBytes, tsOffset: 0 });
  const key: FlowKey = { remoteIp: PEER.ip, remotePort: PEER.port, localIp: HOST.ip, localPort: HOST.port };
  let forgedNow = false;
  let placedForged = 0;
  let placedDiscarded = 0;
  nic.addFlow({
    key,
    deliver: (skb) => {
      const placed = placedBytes(skb);
      const before = socket.stats.inBytes;
      socket.input(skb);
      if (forgedNow) placedForged += placed;
      const taken = socket.stats.inBytes - before;
      if (placed > taken) placedDiscarded += placed - taken;
    },
  });
  let hostSndNxt = 1001;
  let termReqs = 0;
  const noteHostTx = (): void => {
    for (const f of hostTx.splice(0)) {
      nic.send(f); // on its way out through the NIC, which sees it
      const tcp = parseFrame(f).tcp!;
      const end = seqAdd(tcp.seq, tcp.payload.length + ((tcp.flags & TCP_SYN) !== 0 ? 1 : 0));
      if (seqGt(end, hostSndNxt)) hostSndNxt = end;
      if (tcp.payload.length > 0 && tcp.payload[0] === PduType.H2CTermReq) termReqs++;
    }
  };
  let peerTs = 50_000;
  const peerIss = 0xfff0_0000;
  const forgedFrame = (seq: number, fields: TcpFields, flags: number, payload?: Buffer): Buffer => {
    peerTs++;
    let f = flags;
    if (fields === 'no-ack') f &= ~TCP_ACK;
    if (fields === 'rst') f |= TCP_RST;
    if (fields === 'syn') f |= TCP_SYN;
    return peerFrame({
      seq,
      ack: fields === 'future-ack' ? seqAdd(hostSndNxt, 100_000) : hostSndNxt,
      flags: f,
      options:
        (flags & TCP_SYN) !== 0
          ? { mss: 1460, wscale: 7, sackPermitted: true, tsVal: peerTs, tsEcr: 1 }
          : { tsVal: fields === 'stale-ts' ? peerTs - 10_000 : peerTs, tsEcr: 1 },
      payload,
    });
  };

  const connected = socket.connect();
  noteHostTx();
  nic.rxFrame(forgedFrame(peerIss, 'ok', TCP_SYN | TCP_ACK), 0);
  await connected;
  noteHostTx();

  const ddp = device === undefined ? undefined : new NvmeDdp(device);
  const queue = new NvmeQueue(new TcpTransport(socket), { qid: 1, depth: 32, hdgst: o.hdgst, ddgst: o.ddgst, clock, ...(ddp !== undefined ? { ddp } : {}) });
  const ic = queue.connect();
  noteHostTx();
  let peerSeq = seqAdd(peerIss, 1);
  const icresp = emitPduBuffer({ type: PduType.ICResp, pfv: 0, cpda: 0, hdgstEnable: o.hdgst, ddgstEnable: o.ddgst, maxh2cdata: 0x40_0000 });
  nic.rxFrame(forgedFrame(peerSeq, 'ok', TCP_ACK | TCP_PSH, icresp), 0);
  peerSeq = seqAdd(peerSeq, icresp.length);
  await ic;
  noteHostTx();
  ddp?.attach(queue, { key, socket });

  let total = 0;
  const spans: [number, number][] = [];
  o.reads.forEach((len, i) => {
    total += GUARD_BEFORE[i % GUARD_BEFORE.length]!;
    spans.push([total, total + len]);
    total += len;
  });
  total += 4096;
  const memory = Buffer.alloc(total, GUARD_BYTE);
  const expected = o.reads.map((len, i) => fill(i + 1, len));
  const outcomes: ReadOutcome[] = o.reads.map(() => ({ pending: true }));
  const cids: number[] = [];
  o.reads.forEach((len, i) => {
    const buf = memory.subarray(spans[i]![0], spans[i]![1]);
    queue
      .submit(
        (cid, dptr) => {
          cids[i] = cid;
          return { kind: 'read', cid, nsid: 1, slba: i * 4096, nlb: Math.ceil(len / LBA) - 1, dptr };
        },
        { dir: 'read', buf },
      )
      .then(
        (cqe) => (outcomes[i] = { status: cqe.status }),
        (e: unknown) =>
          (outcomes[i] =
            e instanceof NvmeHostError ? { error: e.code, ...(e.detail.fes !== undefined ? { fes: e.detail.fes } : {}) } : { error: String(e) }),
      );
  });
  noteHostTx();

  const stream = controllerStream(o, cids, expected, socket.info().rcvWnd);
  for (const w of script(stream)) {
    forgedNow = w.forged === true;
    nic.rxFrame(forgedFrame(seqAdd(peerSeq, w.off), w.tcp ?? 'ok', TCP_ACK | TCP_PSH, w.bytes), 0);
    forgedNow = false;
    noteHostTx();
    await Promise.resolve();
  }
  await new Promise((res) => setImmediate(res));
  noteHostTx();

  return {
    outcomes,
    memory,
    spans,
    expected,
    stream,
    nic: device?.getStats() ?? newUlpDdpStats(),
    tcp: { ...socket.stats },
    host: queue.stats,
    termReqs,
    placedForged,
    placedDiscarded,
  };
}

/** The bytes of read `i` in `run`'s memory. */
export function readBytes(run: ForgeRun, i: number): Buffer {
  const [a, b] = run.spans[i]!;
  return run.memory.subarray(a, b);
}

/** True when every byte outside the read buffers still holds the guard pattern. */
export function guardsIntact(run: ForgeRun): boolean {
  let at = 0;
  for (const [a, b] of [...run.spans, [run.memory.length, run.memory.length] as const]) {
    for (let k = at; k < a; k++) if (run.memory[k] !== GUARD_BYTE) return false;
    at = b;
  }
  return true;
}
