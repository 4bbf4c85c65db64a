/**
 * Test support for DDP: one NVMe/TCP I/O queue on ddplab's receive path —
 * frames → NicEmu (with or without the DDP device) → userspace TcpSocket →
 * TcpTransport → NvmeQueue (+ NvmeDdp) — against a scripted controller whose
 * whole byte stream is generated from a seed, cut into segments and impaired
 * (drops with later retransmission, re-segmented and overlapping
 * retransmissions, duplicates, reordering, forged bytes in overlaps of bytes
 * already delivered), then followed by an in-order retransmission of the
 * whole stream so every read can finish.
 *
 * The same scenario runs with offload 'none', 'ddp' and 'ddp-crc' and yields
 * everything the application can see (completions, errors, the memory
 * holding every destination buffer and the guard bytes around them), so
 * differential tests compare runs byte for byte.
 */
import { VirtualClock } from '../../../src/host/net/clock.js';
import type { NvmeHostStats } from '../../../src/host/net/host-stats.js';
import { NvmeHostError } from '../../../src/host/nvme/host-error.js';
import { NvmeDdp, newNvmeDdpUlpStats, type NvmeDdpUlpStats } from '../../../src/host/nvme/ddp.js';
import { NvmeQueue } from '../../../src/host/nvme/queue.js';
import { TcpSocket } from '../../../src/host/net/tcp-socket.js';
import { TcpTransport } from '../../../src/host/nvme/tcp-transport.js';
import { NvmeTcpDdpDevice, type NicProfile, type NvmeTcpDdpLimits } from '../../../src/nicemu/ddp/offload.js';
import { newUlpDdpStats, type UlpDdpStats } from '../../../src/nicemu/ddp/stats.js';
import type { FlowKey } from '../../../src/nicemu/flow-table.js';
import { NicEmu } from '../../../src/nicemu/nic.js';
import { buildCqe, cqeWith } from '../../../src/wire/nvme-cqe.js';
import { NvmeSc } from '../../../src/wire/nvme-status.js';
import { PduType, emitPdu, emitPduBuffer, type Pdu } from '../../../src/wire/nvme-tcp-pdu.js';
import { parseFrame } from '../../../src/wire/frame.js';
import { seqAdd, seqGt } from '../../../src/wire/seq.js';
import { TCP_ACK, TCP_PSH, TCP_SYN } from '../../../src/wire/tcp.js';
import { RangeSet } from '../../../src/nicemu/range-set.js';
import { HOST, PEER, peerFrame, prng } from './tcp-peer.js';
import { SilentPort } from '../nicemu/silent-port.js';
import { xorshift32Step } from '../../../src/base/seeded-rng.js';

export type OffloadMode = 'none' | 'ddp' | 'ddp-crc';

export interface ReadSpec {
  readonly len: number;
  /** Bytes of guard before the buffer in the shared memory (moves the buffer's page offset). */
  readonly guardBefore: number;
}

/** One segment on the wire: stream offset (0 = first data byte after ICResp) and its bytes. */
interface WireSeg {
  readonly off: number;
  readonly bytes: Buffer;
}

export interface DdpScenario {
  readonly seed: number;
  readonly hdgst: boolean;
  readonly ddgst: boolean;
  readonly depth: number;
  readonly cidGeneration: boolean;
  readonly reads: readonly ReadSpec[];
  readonly peerIss: number;
  readonly hostIss: number;
  readonly limits: Partial<NvmeTcpDdpLimits>;
  readonly setupFailEvery: number;
  /** How teardown completions run: inside the call, after each frame, or every few frames. */
  readonly teardown: 'sync' | 'per-frame' | 'batched';
  /** Frame indexes at which caps are switched (nvme-tcp off, later on; ddgst off/on). */
  readonly capsOffAt: number;
  readonly capsOnAt: number;
  readonly ddgstOffAt: number;
  readonly ddgstOnAt: number;
  /** Reads whose data digest is corrupted in one PDU (they must fail with DATA_XFER_ERROR). */
  readonly badDdgstReads: ReadonlySet<number>;
  /** Corrupt one PDU's header digest (the queue dies at that header in every mode). */
  readonly badHdgst: boolean;
  /** Reads whose content is itself a chain of well-formed PDU headers: bait for the NIC's resync search. */
  readonly lureReads: ReadonlySet<number>;
  readonly impair: {
    readonly drop: number;
    readonly dup: number;
    readonly reorder: number;
    readonly forge: number;
    /** Chance that the first copy of a segment carries a flipped C2HData payload byte (TCP keeps it: the read is corrupt). */
    readonly corruptFirst: number;
    readonly maxSeg: number;
  };
}

/** What the application sees for one read. */
export type ReadOutcome = { readonly status: number } | { readonly error: string } | { readonly pending: true };

export interface DdpRunResult {
  readonly outcomes: readonly ReadOutcome[];
  /** The memory holding every read buffer and the guards around them. */
  readonly memory: Buffer;
  /** [start, end) of each read's buffer in `memory`. */
  readonly spans: readonly (readonly [number, number])[];
  /** The bytes each read should hold when it succeeds. */
  readonly expected: readonly Buffer[];
  readonly host: NvmeHostStats;
  readonly nic: UlpDdpStats;
  readonly ulp: NvmeDdpUlpStats;
  readonly frames: number;
  /** Reads whose data reached the host corrupted (a flipped byte in the first copy of a segment). */
  readonly corruptedReads: ReadonlySet<number>;
  /** Bytes the controller sent after ICResp (each counted once). */
  readonly streamBytes: number;
}

const GUARD_BYTE = 0xa5;
const LBA = 512;

/** A scenario from a seed; `scale` bounds the stream size (1 = CI sized). */
export function ddpScenario(seed: number, scale = 1): DdpScenario {
  const r = prng(seed * 2654435761 + 17);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const nReads = 1 + Math.floor(r() * 8 * scale);
  const reads: ReadSpec[] = [];
  for (let i = 0; i < nReads; i++) {
    const kind = r();
    let len: number;
    if (kind < 0.25) len = 512 * (1 + Math.floor(r() * 16)); // below the 32 KiB threshold
    else if (kind < 0.93) len = 32 * 1024 + Math.floor(r() * 160 * 1024 * scale);
    else len = 520 * 1024 + Math.floor(r() * 64 * 1024); // more than 128 pages: over the SGL limit
    if (r() < 0.7) len = Math.ceil(len / LBA) * LBA;
    reads.push({ len, guardBefore: 16 + Math.floor(r() * 5000) });
  }
  const ddgst = r() < 0.6;
  const badDdgstReads = new Set<number>();
  if (ddgst) for (let i = 0; i < nReads; i++) if (r() < 0.15) badDdgstReads.add(i);
  const nearWrap = r() < 0.3;
  const impaired = r() < 0.85;
  return {
    seed,
    hdgst: r() < 0.5,
    ddgst,
    depth: pick([16, 32, 128]),
    cidGeneration: r() < 0.05,
    reads,
    peerIss: nearWrap ? (0xffff_ffff - Math.floor(r() * 200_000)) >>> 0 : Math.floor(r() * 0x1_0000_0000) >>> 0,
    hostIss: Math.floor(r() * 0x1_0000_0000) >>> 0,
    limits: {
      maxDdpSglLen: r() < 0.15 ? 8 : 128,
      maxSetupsPerSocket: r() < 0.1 ? 2 : 1024,
    },
    setupFailEvery: r() < 0.1 ? 3 : 0,
    teardown: pick(['sync', 'per-frame', 'batched'] as const),
    capsOffAt: r() < 0.15 ? Math.floor(r() * 200) : -1,
    capsOnAt: Math.floor(r() * 400),
    ddgstOffAt: r() < 0.15 ? Math.floor(r() * 200) : -1,
    ddgstOnAt: Math.floor(r() * 400),
    badDdgstReads,
    badHdgst: r() < 0.03,
    lureReads: new Set([...Array(nReads).keys()].filter(() => r() < 0.15)),
    impair: impaired
      ? {
          drop: r() * 0.15,
          dup: r() * 0.1,
          reorder: r() * 0.2,
          forge: r() < 0.5 ? 0.5 : 0,
          corruptFirst: r() < 0.2 ? 0.01 : 0,
          maxSeg: pick([536, 1448, 4000, 9000]),
        }
      : { drop: 0, dup: 0, reorder: 0, forge: 0, corruptFirst: 0, maxSeg: pick([1448, 9000]) },
  };
}

function fill(r: () => number, len: number): Buffer {
  const words = new Uint32Array(Math.ceil(len / 4));
  let x = Math.floor(r() * 0xffff_ffff) | 1;
  for (let i = 0; i < words.length; i++) {
    x = xorshift32Step(x);
    words[i] = x;
  }
  return Buffer.from(words.buffer, 0, len);
}

/**
 * The controller's byte stream for the reads, in CID order of `cids`: C2HData
 * PDUs of random sizes and PDO padding, reads started in random order and
 * interleaved, each completed by a CapsuleResp (somewhere after its data) or
 * by SUCCESS on its last C2HData.
 */
/** Where each C2HData payload sits in the controller's stream. */
interface DataRegion {
  readonly start: number;
  readonly end: number;
  readonly read: number;
}

/**
 * Read content that is itself an NVMe/TCP stream: C2HData and CapsuleResp
 * PDUs with valid headers (and digests, as the connection has them) for
 * CIDs that exist. A NIC searching for a header may take it for the real
 * framing; only the ULP's confirmation tells it apart.
 */
function lureContent(sc: DdpScenario, len: number, r: () => number): Buffer {
  const parts: Buffer[] = [];
  let n = 0;
  while (n < len) {
    const cid = Math.floor(r() * sc.depth);
    const pdu: Pdu =
      r() < 0.7
        ? { type: PduType.C2HData, cccid: cid, datao: 0, datal: 1 + Math.floor(r() * 3000), lastPdu: false, success: false, data: [] }
        : { type: PduType.CapsuleResp, cqe: buildCqe(cqeWith({ cid, sqId: 1 })) };
    const b =
      pdu.type === PduType.C2HData
        ? emitPduBuffer({ ...pdu, data: [fill(r, pdu.datal)] }, { hdgst: sc.hdgst, ddgst: sc.ddgst })
        : emitPduBuffer(pdu, { hdgst: sc.hdgst });
    parts.push(b);
    n += b.length;
  }
  return Buffer.concat(parts).subarray(0, len);
}

function controllerStream(
  sc: DdpScenario,
  cids: readonly number[],
  data: readonly Buffer[],
  r: () => number,
): { stream: Buffer; regions: DataRegion[] } {
  const regions: DataRegion[] = [];
  let pos = 0;
  const n = sc.reads.length;
  const order = [...Array(n).keys()].sort(() => r() - 0.5);
  const sent = new Array<number>(n).fill(0);
  const active: number[] = [];
  const out: Buffer[] = [];
  const respLater: { at: number; buf: Buffer }[] = [];
  const pdusOf = new Array<number>(n).fill(0);
  let hdgstCorrupted = !sc.badHdgst;
  let next = 0;
  while (next < n || active.length > 0) {
    if (next < n && (active.length === 0 || r() < 0.35)) active.push(order[next++]!);
    const k = Math.floor(r() * active.length);
    const i = active[k]!;
    const len = sc.reads[i]!.len;
    const chunk = Math.min(len - sent[i]!, 1 + Math.floor(r() * (r() < 0.5 ? 8192 : 70_000)));
    const datao = sent[i]!;
    const last = datao + chunk === len;
    // A read with a bad data digest gets it in its first PDU.
    const bad = sc.badDdgstReads.has(i) && pdusOf[i] === 0;
    const success = last && !bad && r() < 0.3;
    const pdu: Pdu = {
      type: PduType.C2HData,
      cccid: cids[i]!,
      datao,
      datal: chunk,
      lastPdu: last,
      success,
      data: [data[i]!.subarray(datao, datao + chunk)],
    };
    const e = emitPdu(pdu, { hdgst: sc.hdgst, ddgst: sc.ddgst, pda: r() < 0.3 ? Math.floor(r() * 32) : 0 });
    const head = Buffer.from(e.head);
    if (!hdgstCorrupted && sc.hdgst && r() < 0.2) {
      head[24]! ^= 0x10;
      hdgstCorrupted = true;
    }
    const tail = Buffer.from(e.tail);
    if (bad) tail[Math.floor(r() * 4)]! ^= 1 << Math.floor(r() * 8);
    out.push(head, Buffer.from(data[i]!.subarray(datao, datao + chunk)), tail);
    regions.push({ start: pos + head.length, end: pos + head.length + chunk, read: i });
    pos += head.length + chunk + tail.length;
    pdusOf[i]!++;
    sent[i] = datao + chunk;
    if (last) {
      active.splice(k, 1);
      if (!success) {
        const resp = emitPduBuffer({ type: PduType.CapsuleResp, cqe: buildCqe(cqeWith({ cid: cids[i]!, sqId: 1 })) }, { hdgst: sc.hdgst });
        respLater.push({ at: out.length + Math.floor(r() * 6), buf: resp });
      }
    }
    for (let j = respLater.length - 1; j >= 0; j--) {
      if (respLater[j]!.at <= out.length) {
        out.push(respLater[j]!.buf);
        pos += respLater[j]!.buf.length;
        respLater.splice(j, 1);
      }
    }
  }
  for (const x of respLater) out.push(x.buf);
  return { stream: Buffer.concat(out), regions };
}

/** Cuts the stream into segments and impairs them; ends with an in-order retransmission of everything. */
function impairedSegments(
  sc: DdpScenario,
  stream: Buffer,
  regions: readonly DataRegion[],
  r: () => number,
  corrupted: Set<number>,
): WireSeg[] {
  const imp = sc.impair;
  const segs: WireSeg[] = [];
  for (let off = 0; off < stream.length; ) {
    const n = Math.min(stream.length - off, 1 + Math.floor(r() * imp.maxSeg));
    segs.push({ off, bytes: stream.subarray(off, off + n) });
    off += n;
  }
  const wire: WireSeg[] = [];
  const later: { due: number; seg: WireSeg }[] = [];
  const delivered = new RangeSet(1 << 20);
  const gaps: number[] = [];
  const emit = (seg: WireSeg): void => {
    // Bytes already on the wire before may be forged in this copy: TCP keeps the first, so the stream stays right.
    let bytes = seg.bytes;
    if (imp.forge > 0 && r() < imp.forge && delivered.intersects(seg.off, seg.off + bytes.length)) {
      bytes = Buffer.from(bytes);
      const end = seg.off + bytes.length;
      const fresh = delivered.uncovered(seg.off, end, gaps);
      let at = seg.off;
      for (let i = 0; i <= fresh.length; i += 2) {
        const stop = i < fresh.length ? fresh[i]! : end;
        for (let p = at + Math.floor(r() * 64); p < stop; p += 1 + Math.floor(r() * 64)) bytes[p - seg.off]! ^= 0xff;
        if (i < fresh.length) at = fresh[i + 1]!;
      }
    }
    if (imp.corruptFirst > 0 && r() < imp.corruptFirst) {
      // A payload byte of C2HData that no earlier copy carried: what TCP keeps, so the read is corrupt.
      const at = seg.off + Math.floor(r() * bytes.length);
      const region = regions.find((g) => at >= g.start && at < g.end);
      if (region !== undefined && !delivered.intersects(at, at + 1)) {
        if (bytes === seg.bytes) bytes = Buffer.from(bytes);
        bytes[at - seg.off]! ^= 0x40;
        corrupted.add(region.read);
      }
    }
    wire.push({ off: seg.off, bytes });
    delivered.add(seg.off, seg.off + bytes.length);
  };
  const release = (now: number): void => {
    for (let j = 0; j < later.length; ) {
      if (later[j]!.due <= now) {
        emit(later[j]!.seg);
        later.splice(j, 1);
      } else j++;
    }
  };
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!;
    const x = r();
    if (x < imp.drop) {
      // Lost; retransmitted later, maybe re-cut with neighbours (overlapping what was delivered).
      const from = Math.max(0, s.off - (r() < 0.5 ? Math.floor(r() * 3000) : 0));
      const to = Math.min(stream.length, s.off + s.bytes.length + (r() < 0.5 ? Math.floor(r() * 3000) : 0));
      const cut = r() < 0.5 ? from + Math.floor(r() * (to - from)) : to;
      const due = i + 1 + Math.floor(r() * 12);
      if (cut > from) later.push({ due, seg: { off: from, bytes: stream.subarray(from, cut) } });
      if (to > cut) later.push({ due: due + Math.floor(r() * 4), seg: { off: cut, bytes: stream.subarray(cut, to) } });
    } else if (x < imp.drop + imp.reorder) {
      later.push({ due: i + 1 + Math.floor(r() * 6), seg: s });
    } else {
      emit(s);
      if (r() < imp.dup) later.push({ due: i + Math.floor(r() * 8), seg: s });
    }
    release(i);
  }
  release(Infinity);
  // Recovery: the whole stream again, in order, as a sender would after timeouts.
  for (let off = 0; off < stream.length; off += 1448) {
    const n = Math.min(1448, stream.length - off);
    wire.push({ off, bytes: stream.subarray(off, off + n) });
  }
  return wire;
}

interface Generated {
  readonly segs: WireSeg[];
  readonly corruptedReads: Set<number>;
  readonly streamBytes: number;
  readonly frames: (Buffer | undefined)[];
  readonly acks: number[];
}

/** Per scenario: the expected read contents and, per CID assignment, the wire (generated once for all modes). */
const cache = new WeakMap<DdpScenario, { expected: Buffer[]; wires: Map<string, Generated> }>();

function cachedExpected(sc: DdpScenario, r: () => number): Buffer[] {
  let c = cache.get(sc);
  if (c === undefined) {
    c = { expected: sc.reads.map((rd, i) => (sc.lureReads.has(i) ? lureContent(sc, rd.len, r) : fill(r, rd.len))), wires: new Map() };
    cache.set(sc, c);
  }
  return c.expected;
}

function generated(sc: DdpScenario, cids: readonly number[], expected: readonly Buffer[], r: () => number): Generated {
  const c = cache.get(sc)!;
  const k = cids.join(',');
  let g = c.wires.get(k);
  if (g === undefined) {
    const { stream, regions } = controllerStream(sc, cids, expected, r);
    const corruptedReads = new Set<number>();
    const segs = impairedSegments(sc, stream, regions, r, corruptedReads);
    g = { segs, corruptedReads, streamBytes: stream.length, frames: new Array<Buffer | undefined>(segs.length).fill(undefined), acks: new Array<number>(segs.length).fill(-1) };
    c.wires.set(k, g);
  }
  return g;
}

/** Runs the scenario with the given offload mode. */
export async function runDdpScenario(sc: DdpScenario, mode: OffloadMode, profile: NicProfile = 'ideal'): Promise<DdpRunResult> {
  const r = prng(sc.seed * 40503 + 7);
  const clock = new VirtualClock(0);
  const nic = new NicEmu(new SilentPort(), { mac: HOST.mac as Buffer, verifyChecksums: false });
  const deferred: (() => void)[] = [];
  // The NIC's timers (teardown latency) fire when the frames are all in: the rig's time passes only then.
  const timers: (() => void)[] = [];
  const device =
    mode === 'none'
      ? undefined
      : new NvmeTcpDdpDevice(nic, {
          limits: sc.limits,
          caps: { 'nvme-tcp': true, 'nvme-tcp-ddgst-rx': mode === 'ddp-crc' },
          defer: sc.teardown === 'sync' ? (fn) => fn() : (fn) => deferred.push(fn),
          profile,
          schedule: (fn) => void timers.push(fn),
        });
  if (device !== undefined) device.faults.setupFailEvery = sc.setupFailEvery;
  const flushDeferred = (): void => {
    while (deferred.length > 0) deferred.shift()!();
  };

  // The host's socket and flow, as HostStack.connect makes them.
  const hostTx: Buffer[] = [];
  const socket = new TcpSocket({
    clock,
    output: (f) => hostTx.push(f),
    local: HOST,
    remote: PEER,
    iss: sc.hostIss,
    mtu: 1500,
    rcvBufBytes: 8 * 1024 * 1024,
  });
  const key: FlowKey = { remoteIp: PEER.ip, remotePort: PEER.port, localIp: HOST.ip, localPort: HOST.port };
  nic.addFlow({ key, deliver: (skb) => socket.input(skb) });
  let hostSndNxt = seqAdd(sc.hostIss, 1);
  const noteHostTx = (): void => {
    for (const f of hostTx.splice(0)) {
      const tcp = parseFrame(f).tcp!;
      const end = seqAdd(tcp.seq, tcp.payload.length + ((tcp.flags & TCP_SYN) !== 0 ? 1 : 0));
      if (seqGt(end, hostSndNxt)) hostSndNxt = end;
    }
  };
  const frameToHost = (seq: number, flags: number, payload?: Buffer): Buffer =>
    peerFrame({ seq, ack: hostSndNxt, flags, options: (flags & TCP_SYN) !== 0 ? { mss: 1460, wscale: 7, sackPermitted: true } : undefined, payload });

  const connected = socket.connect();
  noteHostTx();
  nic.rxFrame(frameToHost(sc.peerIss, TCP_SYN | TCP_ACK), 0);
  await connected;
  noteHostTx();

  const ddp = device === undefined ? undefined : new NvmeDdp(device);
  const queue = new NvmeQueue(new TcpTransport(socket), {
    qid: 1,
    depth: sc.depth,
    hdgst: sc.hdgst,
    ddgst: sc.ddgst,
    clock,
    cidGeneration: sc.cidGeneration,
    ...(ddp !== undefined ? { ddp } : {}),
  });
  const ic = queue.connect();
  noteHostTx();
  let peerSeq = seqAdd(sc.peerIss, 1);
  const icresp = emitPduBuffer({ type: PduType.ICResp, pfv: 0, cpda: 0, hdgstEnable: sc.hdgst, ddgstEnable: sc.ddgst, maxh2cdata: 0x40_0000 });
  nic.rxFrame(frameToHost(peerSeq, TCP_ACK | TCP_PSH, icresp), 0);
  peerSeq = seqAdd(peerSeq, icresp.length);
  await ic;
  noteHostTx();
  ddp?.attach(queue, { key, socket });

  // Destination memory: every read buffer with guard bytes around it.
  let total = 0;
  const spans: [number, number][] = [];
  for (const rd of sc.reads) {
    total += rd.guardBefore;
    spans.push([total, total + rd.len]);
    total += rd.len;
  }
  total += 4096;
  const memory = Buffer.alloc(total, GUARD_BYTE);
  const expected = cachedExpected(sc, r);
  const outcomes: ReadOutcome[] = sc.reads.map(() => ({ pending: true }));
  const cids: number[] = [];
  sc.reads.forEach((rd, i) => {
    const buf = memory.subarray(spans[i]![0], spans[i]![1]);
    queue
      .submit(
        (cid, dptr) => {
          cids[i] = cid;
          return { kind: 'read', cid, nsid: 1, slba: i * 4096, nlb: Math.ceil(rd.len / LBA) - 1, dptr };
        },
        { dir: 'read', buf },
      )
      .then(
        (cqe) => (outcomes[i] = { status: cqe.status }),
        (e: unknown) => (outcomes[i] = { error: e instanceof NvmeHostError ? e.code : String(e) }),
      );
  });
  noteHostTx();

  const gen = generated(sc, cids, expected, r);
  const wire = gen.segs;
  let i = 0;
  for (const seg of wire) {
    if (device !== undefined) {
      if (i === sc.capsOffAt) device.setCaps({ 'nvme-tcp': false });
      if (i === sc.capsOnAt && sc.capsOffAt >= 0 && i > sc.capsOffAt) device.setCaps({ 'nvme-tcp': true });
      if (mode === 'ddp-crc') {
        if (i === sc.ddgstOffAt) device.setCaps({ 'nvme-tcp-ddgst-rx': false });
        if (i === sc.ddgstOnAt && sc.ddgstOffAt >= 0 && i > sc.ddgstOffAt) device.setCaps({ 'nvme-tcp-ddgst-rx': true });
      }
    }
    // Frames are the same in every mode (the host sends the same bytes): build each once.
    let frame = gen.frames[i];
    if (frame === undefined || gen.acks[i] !== hostSndNxt) {
      frame = frameToHost(seqAdd(peerSeq, seg.off), TCP_ACK | TCP_PSH, seg.bytes);
      gen.frames[i] = frame;
      gen.acks[i] = hostSndNxt;
    }
    nic.rxFrame(frame, 0);
    if (sc.teardown === 'per-frame' || (sc.teardown === 'batched' && i % 7 === 6)) flushDeferred();
    i++;
  }
  while (timers.length > 0) timers.shift()!();
  flushDeferred();
  await new Promise((res) => setImmediate(res));
  flushDeferred();
  await new Promise((res) => setImmediate(res));

  return {
    outcomes,
    memory,
    spans,
    expected,
    host: queue.stats,
    nic: device?.getStats() ?? newUlpDdpStats(),
    ulp: ddp?.stats ?? newNvmeDdpUlpStats(),
    frames: wire.length,
    corruptedReads: gen.corruptedReads,
    streamBytes: gen.streamBytes,
  };
}

/** Status a read with a corrupted data digest completes with. */
export const DATA_XFER_ERROR = NvmeSc.DATA_XFER_ERROR;
