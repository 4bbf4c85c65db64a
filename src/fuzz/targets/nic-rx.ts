/**
 * Fuzz target for the software NIC's receive path (src/nicemu/nic.ts) with
 * a receive offload on the flow: the NVMe/TCP DDP device
 * (nicemu/ddp/offload.ts/ddp-engine.ts) or header split into device memory
 * (nicemu/devmem/device.ts/header-split.ts, `nvme` and `tcp` modes). The input is
 * a parameter block and the frames of one connection, delivered in batches;
 * a schedule drawn from the parameters interleaves the control operations a
 * host would make (setup and teardown of reads, capability switches, resync
 * answers right and wrong, sk_del, attach/detach, the application returning
 * device memory).
 *
 * There is no TCP and no NVMe host here, so nothing above the NIC can be
 * trusted or checked for meaning; the oracle is what the NIC promises
 * whatever the bytes and whatever the ULP answers:
 *  - only typed errors (the NIC swallows WireError itself, so: nothing);
 *  - a segment is never changed, and the skb's frags hold exactly its
 *    payload (placed frags read from the destination, dmabuf frags through
 *    the device view);
 *  - DDP writes only inside the SGL of a CID that is set up and not torn
 *    down, never the same destination byte twice, and never without saying
 *    so in a placed frag (the destination arena with its guard bytes equals
 *    a shadow built from placed frags alone);
 *  - header split puts dmabuf frags inside the binding's dmabuf and never
 *    hands out device memory an skb the application holds still points to;
 *  - the counters agree with what was delivered.
 */
import { NvmeTcpDdpDevice } from '../../nicemu/ddp/offload.js';
import { DevmemDevice } from '../../nicemu/devmem/device.js';
import { Dmabuf, type DmabufBinding } from '../../nicemu/devmem/dmabuf.js';
import type { FlowKey } from '../../nicemu/flow-table.js';
import type { HeaderSplitEngine } from '../../nicemu/devmem/header-split.js';
import { NicEmu } from '../../nicemu/nic.js';
import { DMABUF_CHUNK_BYTES } from '../../nicemu/devmem/page-pool.js';
import { sglFromBuffer } from '../../nicemu/ddp/sgl.js';
import type { Skb } from '../../nicemu/skb.js';
import { buildTcpFrame } from '../../wire/frame.js';
import { emitPduBuffer, PduType } from '../../wire/nvme-tcp-pdu.js';
import { PduHeaderView } from '../../wire/nvme-tcp-pdu-header.js';
import { seqAdd, seqDiff } from '../../wire/seq.js';
import { TCP_ACK, TCP_PSH, TCP_SYN } from '../../wire/tcp.js';
import { captureStreams } from '../capture-seeds.js';
import { controllerStream, pduDictionary, SEED_HOST, SEED_TARGET, type StreamRead } from '../emitter-seeds.js';
import { frameLayout } from '../field-mutator.js';
import { mutateFrameSeq } from '../frame-seq-mutator.js';
import { buildParams, ParamBlock } from '../param-block.js';
import { Rng } from '../rng.js';
import { ScriptPort } from '../script-port.js';
import { segmentStream, type FrameEnds } from '../segmenter.js';
import { check, FuzzViolation, type FuzzInput, type FuzzTarget } from '../target.js';

// Parameter block layout (little-endian; a short block reads as defaults).
const P_FLAGS = 0;
const F_HDGST = 0;
const F_DDGST = 1;
const F_VERIFY_CSUM = 2;
const F_RESYNC_YES = 3;
const F_DDGST_CAPS = 4;
const F_PARTIAL_CSUM = 5;
const F_ATTACH = 6;
/** Offload: MODES[byte % 3]. */
const P_MODE = 1;
/** u32: TCP sequence number of the next PDU header at sk_add (DDP). */
const P_START_SEQ = 2;
/** u16: the host's TCP port (the flow key). */
const P_HOST_PORT = 6;
/** u16: seed of the control schedule (setups, teardowns, caps, resync answers, releases). */
const P_CONTROL_SEED = 8;
/** Bits 0-5: queue size - 1 (the CID table); bits 6-7: the device's SGL entry limit (1, 61, 121 or 181). */
const P_QUEUE = 10;
/** Frames per rx batch, (byte % 8) + 1. */
const P_BATCH = 11;
/** CIDs set up at the start (at most MAX_CIDS). */
const P_CIDS = 12;
/** u16 per CID: its buffer length in 64-byte units. */
const P_CID_LEN = 13;
const MAX_CIDS = 16;
const PARAMS_LEN = P_CID_LEN + 2 * MAX_CIDS;

const MODES = ['ddp', 'hs-nvme', 'hs-tcp'] as const;
type NicMode = (typeof MODES)[number];

/** Destination memory for all setups of one input, with guard bytes everywhere nothing is registered. */
const ARENA_BYTES = 4 << 20;
const DMABUF_BYTES = 4 << 20;
const GUARD = 0xa5;
const MAX_FRAMES = 160;

const dictionary = pduDictionary();

/** One registered destination: where it is in the arena, and whether the device may still write it. */
interface Region {
  readonly cid: number;
  readonly start: number;
  readonly end: number;
  live: boolean;
}

interface Setup {
  readonly p: ParamBlock;
  readonly mode: NicMode;
  readonly key: FlowKey;
  readonly hdgst: boolean;
  readonly ddgst: boolean;
}

function setupOf(params: Buffer): Setup {
  const p = new ParamBlock(params);
  return {
    p,
    mode: MODES[p.u8(P_MODE) % MODES.length]!,
    key: { remoteIp: SEED_TARGET.ip, remotePort: SEED_TARGET.port, localIp: SEED_HOST.ip, localPort: p.u16(P_HOST_PORT, SEED_HOST.port) },
    hdgst: p.bit(P_FLAGS, F_HDGST),
    ddgst: p.bit(P_FLAGS, F_DDGST),
  };
}

/** Each frame in its own memory, so an skb tells which frame it came from (its head views that memory). */
function ownCopies(frames: readonly Buffer[]): Buffer[] {
  return frames.map((f) => {
    const b = Buffer.alloc(f.length);
    f.copy(b);
    return b;
  });
}

/** Checks common to every offload: the frame is untouched and the frags are exactly its payload. */
function checkFrags(skb: Skb, readDmabuf: (offset: number, size: number) => Buffer): void {
  let total = 0;
  const parts: Buffer[] = [];
  for (const f of skb.frags) {
    if (f.kind === 'dmabuf') {
      total += f.size;
      parts.push(readDmabuf(f.offset, f.size));
    } else {
      total += f.buf.length;
      parts.push(f.buf);
    }
  }
  check(total === skb.len, () => `skb.len ${skb.len} but its frags hold ${total} bytes`);
  check(skb.tcp.payload.length === skb.len, () => `skb.len ${skb.len} but the segment carries ${skb.tcp.payload.length}`);
  check(Buffer.concat(parts).equals(skb.tcp.payload), 'the skb frags do not hold the segment payload');
}

class NicHarness {
  readonly port = new ScriptPort();
  readonly nic: NicEmu;
  readonly rng: Rng;
  private readonly held: Skb[] = [];
  // DDP.
  private device: NvmeTcpDdpDevice | undefined;
  private arena: Buffer | undefined;
  private shadow: Buffer | undefined;
  private written: Uint8Array | undefined;
  private arenaAt = 0;
  private readonly regions: Region[] = [];
  private readonly cidLen: number[] = [];
  private pendingResync: number | undefined;
  private placedSeen = 0;
  private skDeleted = false;
  // Header split.
  private hs: HeaderSplitEngine | undefined;
  private binding: DmabufBinding | undefined;
  private owner: Uint8Array | undefined;
  private pendingHsResync: number | undefined;

  constructor(private readonly s: Setup) {
    const p = s.p;
    this.rng = new Rng(p.u16(P_CONTROL_SEED), 'nic-control');
    this.nic = new NicEmu(this.port, {
      mac: SEED_HOST.mac,
      verifyChecksums: p.bit(P_FLAGS, F_VERIFY_CSUM),
      acceptPartialChecksums: p.bit(P_FLAGS, F_PARTIAL_CSUM),
    });
    if (s.mode === 'ddp') this.initDdp();
    else this.initHeaderSplit(s.mode === 'hs-nvme' ? 'nvme' : 'tcp');
  }

  private initDdp(): void {
    const { p, key } = this.s;
    this.arena = Buffer.alloc(ARENA_BYTES, GUARD);
    this.shadow = Buffer.alloc(ARENA_BYTES, GUARD);
    this.written = new Uint8Array(ARENA_BYTES);
    const device = new NvmeTcpDdpDevice(this.nic, {
      limits: { maxDdpSglLen: 1 + (p.u8(P_QUEUE) >>> 6) * 60, ioThresholdBytes: 0 },
      caps: { 'nvme-tcp': true, 'nvme-tcp-ddgst-rx': p.bit(P_FLAGS, F_DDGST_CAPS, true) },
      defer: (fn) => fn(),
    });
    this.device = device;
    this.nic.addFlow({ key, deliver: (skb) => this.deliverDdp(skb) });
    const queueSize = 1 + (p.u8(P_QUEUE, 31) & 0x3f);
    const why = device.skAdd(
      { key, nextPduSeq: p.u32(P_START_SEQ) },
      { pfv: 0, cpda: 0, hdgst: this.s.hdgst, ddgst: this.s.ddgst, queueSize },
      {
        resyncRequest: (_k, seq) => {
          this.pendingResync = seq;
          return p.bit(P_FLAGS, F_RESYNC_YES, true);
        },
        teardownDone: () => undefined,
      },
    );
    check(why === undefined, () => `sk_add refused a fresh flow: ${why}`);
    const n = Math.min(MAX_CIDS, p.u8(P_CIDS, 4));
    for (let cid = 0; cid < n; cid++) {
      this.cidLen[cid] = Math.max(1, p.u16(P_CID_LEN + 2 * cid, 64) * 64);
      this.setupCid(cid);
    }
  }

  private initHeaderSplit(mode: 'nvme' | 'tcp'): void {
    const { p, key } = this.s;
    const dev = new DevmemDevice({ queues: ['off', mode] });
    const id = dev.bindRx({ queues: [1], dmabuf: new Dmabuf(DMABUF_BYTES) });
    const binding = dev.binding(id)!;
    this.binding = binding;
    this.owner = new Uint8Array(DMABUF_BYTES);
    dev.steering.addRule(key, 1);
    const engine = dev.engineFor(key);
    check(engine !== undefined, 'no header-split engine for a flow steered to a bound queue');
    this.hs = engine;
    binding.pool.addHolder({
      markHeld: (mark) => {
        for (const skb of this.held) {
          for (const f of skb.frags) {
            if (f.kind !== 'dmabuf') continue;
            for (let c = Math.floor(f.offset / DMABUF_CHUNK_BYTES); c * DMABUF_CHUNK_BYTES < f.offset + f.size; c++) mark(c);
          }
        }
      },
    });
    this.nic.addFlow({ key, deliver: (skb) => this.deliverHs(skb), offload: engine });
    if (p.bit(P_FLAGS, F_ATTACH, true)) engine.attach();
    engine.setUlp({
      resyncRequest: (seq) => {
        this.pendingHsResync = seq;
        return p.bit(P_FLAGS, F_RESYNC_YES, true);
      },
    });
  }

  /** Registers `cid` on a fresh piece of the arena at a random sub-page offset; false when the arena is used up. */
  private setupCid(cid: number): boolean {
    const len = this.cidLen[cid] ?? 0;
    const start = this.arenaAt + 64 + this.rng.below(4096);
    if (len === 0 || start + len + 64 > ARENA_BYTES) return false;
    this.arenaAt = start + len;
    const buf = this.arena!.subarray(start, start + len);
    const why = this.device!.setup(this.s.key, cid, sglFromBuffer(buf));
    if (why === undefined) this.regions.push({ cid, start, end: start + len, live: true });
    return why === undefined;
  }

  private teardownCid(cid: number): void {
    for (const r of this.regions) if (r.cid === cid && r.live) r.live = false;
    this.device!.teardown(this.s.key, cid);
  }

  /** What a host would do between two batches, drawn from the control schedule. */
  control(): void {
    const r = this.rng;
    const key = this.s.key;
    if (this.device !== undefined) {
      const d = this.device;
      if (r.chance(0.05)) {
        const live = this.regions.filter((x) => x.live);
        if (live.length > 0) this.teardownCid(r.pick(live).cid);
      }
      if (r.chance(0.05) && this.cidLen.length > 0) {
        const cid = r.below(this.cidLen.length);
        if (!this.regions.some((x) => x.cid === cid && x.live)) this.setupCid(cid);
      }
      if (r.chance(0.02)) d.setCaps({ 'nvme-tcp': !d.getCaps()['nvme-tcp'] });
      if (r.chance(0.02)) d.setCaps({ 'nvme-tcp-ddgst-rx': !d.getCaps()['nvme-tcp-ddgst-rx'] });
      if (this.pendingResync !== undefined && r.chance(0.4)) {
        // Mostly the truth, sometimes a header the ULP found elsewhere.
        const seq = r.chance(0.75) ? this.pendingResync : seqAdd(this.pendingResync, r.range(-64, 64));
        this.pendingResync = undefined;
        d.resync(key, seq);
      }
      if (r.chance(0.004) && !this.skDeleted) {
        d.skDel(key);
        this.skDeleted = true;
        for (const x of this.regions) x.live = false;
      }
    } else {
      const e = this.hs!;
      if (this.pendingHsResync !== undefined && r.chance(0.4)) {
        const seq = r.chance(0.75) ? this.pendingHsResync : seqAdd(this.pendingHsResync, r.range(-64, 64));
        this.pendingHsResync = undefined;
        e.resync(seq);
      }
      if (r.chance(0.02)) {
        if (e.attached) e.detach();
        else e.attach();
      }
      // The application consumes some skbs (their device memory may be recycled from now on).
      while (this.held.length > 0 && r.chance(0.3)) this.release(this.held.splice(r.below(this.held.length), 1)[0]!);
    }
  }

  private release(skb: Skb): void {
    const owner = this.owner!;
    for (const f of skb.frags) if (f.kind === 'dmabuf') owner.fill(0, f.offset, f.offset + f.size);
    this.binding!.pool.noteReleased();
  }

  private deliverDdp(skb: Skb): void {
    const arena = this.arena!;
    checkFrags(skb, () => {
      throw new FuzzViolation('invariant', 'a dmabuf frag from the DDP engine');
    });
    for (const f of skb.frags) {
      if (f.kind !== 'placed') continue;
      check(f.buf.buffer === arena.buffer, 'a placed frag outside the destination arena');
      const off = f.buf.byteOffset - arena.byteOffset;
      const end = off + f.buf.length;
      const region = this.regions.find((r) => r.live && off >= r.start && end <= r.end);
      if (region === undefined) {
        const any = this.regions.find((r) => off < r.end && end > r.start);
        throw new FuzzViolation(
          'invariant',
          any === undefined ? `placed ${f.buf.length} bytes at arena ${off}, outside every SGL` : `placed ${f.buf.length} bytes into cid ${any.cid}'s SGL ${any.live ? 'past its end' : 'after its teardown'}`,
        );
      }
      const w = this.written!;
      for (let i = off; i < end; i++) {
        if (w[i] !== 0) throw new FuzzViolation('invariant', `cid ${region.cid}: destination byte ${i - region.start} placed twice`);
        w[i] = 1;
      }
      f.buf.copy(this.shadow!, off);
      this.placedSeen += f.buf.length;
    }
  }

  private deliverHs(skb: Skb): void {
    const b = this.binding!;
    const view = b.dmabuf.deviceView();
    const owner = this.owner!;
    checkFrags(skb, (offset, size) => {
      check(offset >= 0 && size > 0 && offset + size <= b.dmabuf.sizeBytes, () => `dmabuf frag [${offset}, +${size}) outside the dmabuf`);
      return view.read(offset, size);
    });
    let dev = 0;
    for (const f of skb.frags) {
      if (f.kind === 'placed') throw new FuzzViolation('invariant', 'a placed frag from header split');
      if (f.kind !== 'dmabuf') continue;
      dev++;
      check(f.dmabufId === b.id, () => `dmabuf frag of binding ${f.dmabufId}, the flow's is ${b.id}`);
      for (let i = f.offset; i < f.offset + f.size; i++) {
        if (owner[i] !== 0) throw new FuzzViolation('invariant', `dmabuf byte ${i} handed out again while an skb the application holds points to it`);
        owner[i] = 1;
      }
    }
    if (dev > 0) this.held.push(skb);
  }

  /** End of input: nothing wrote the arena but placed frags, and the counters agree. */
  finish(): void {
    if (this.device !== undefined) {
      const arena = this.arena!;
      const shadow = this.shadow!;
      if (!arena.equals(shadow)) {
        let at = 0;
        while (arena[at] === shadow[at]) at++;
        const r = this.regions.find((x) => at >= x.start && at < x.end);
        throw new FuzzViolation('invariant', `destination arena byte ${at} written without a placed frag (${r === undefined ? 'a guard byte' : `cid ${r.cid} offset ${at - r.start}`})`);
      }
      const placed = this.device.getStats()['rx-nvme-tcp-bytes'];
      check(placed === this.placedSeen, () => `rx-nvme-tcp-bytes ${placed}, placed frags delivered ${this.placedSeen}`);
    }
  }
}

/** Frames of a connection: SYN-ACK, ICResp, then `stream`, cut and lightly disordered. */
function connectionFrames(stream: Buffer, o: { hdgst: boolean; ddgst: boolean; iss: number; hostPort: number; maxSeg: number; disorder: boolean }, rng: Rng): Buffer[] {
  const ends: FrameEnds = {
    srcMac: SEED_TARGET.mac,
    dstMac: SEED_HOST.mac,
    srcIp: SEED_TARGET.ip,
    dstIp: SEED_HOST.ip,
    srcPort: SEED_TARGET.port,
    dstPort: o.hostPort,
  };
  const synAck = buildTcpFrame({ ...ends, seq: o.iss, ack: 1, flags: TCP_SYN | TCP_ACK, window: 0xffff, options: { mss: 1460 } });
  const icresp = emitPduBuffer({ type: PduType.ICResp, pfv: 0, cpda: 0, hdgstEnable: o.hdgst, ddgstEnable: o.ddgst, maxh2cdata: 0x40_0000 });
  const ic = buildTcpFrame({ ...ends, seq: seqAdd(o.iss, 1), ack: 1, flags: TCP_ACK | TCP_PSH, window: 0xffff, payload: icresp });
  const data = segmentStream(
    stream,
    ends,
    { startSeq: seqAdd(o.iss, 1 + icresp.length), ack: 1, maxSeg: o.maxSeg, ...(o.disorder ? { late: 0.1, dup: 0.05, lost: 0.03 } : {}) },
    rng,
  );
  return [synAck, ic, ...data];
}

function nicParams(o: { hdgst: boolean; ddgst: boolean; mode: number; startSeq: number; hostPort: number; control: number; reads: readonly StreamRead[]; resync?: boolean }): Buffer {
  const flags = (o.hdgst ? 1 << F_HDGST : 0) | (o.ddgst ? 1 << F_DDGST : 0) | ((o.resync ?? true) ? 1 << F_RESYNC_YES : 0) | (1 << F_DDGST_CAPS) | (1 << F_ATTACH);
  const fields: [number, 1 | 2 | 4, number][] = [
    [P_FLAGS, 1, flags],
    [P_MODE, 1, o.mode],
    [P_START_SEQ, 4, o.startSeq],
    [P_HOST_PORT, 2, o.hostPort],
    [P_CONTROL_SEED, 2, o.control],
    [P_QUEUE, 1, 0xc0 | 31],
    [P_BATCH, 1, 3],
    [P_CIDS, 1, Math.min(MAX_CIDS, o.reads.length)],
  ];
  o.reads.slice(0, MAX_CIDS).forEach((r, cid) => fields.push([P_CID_LEN + 2 * cid, 2, Math.ceil(r.len / 64)]));
  return buildParams(PARAMS_LEN, fields);
}

function generatedSeeds(): FuzzInput[] {
  const out: FuzzInput[] = [];
  const rng = new Rng(7, 'nic-seeds');
  let k = 0;
  for (const hdgst of [false, true]) {
    for (const ddgst of [false, true]) {
      for (let mode = 0; mode < MODES.length; mode++) {
        k++;
        const reads: StreamRead[] = Array.from({ length: 4 }, (_, cid) => ({ cid, len: 512 * (1 + rng.below(24)) }));
        const stream = controllerStream({ hdgst, ddgst, reads, seed: k, pda: k % 3 === 0 ? 3 : 0 });
        const iss = rng.u32();
        const frames = connectionFrames(stream, { hdgst, ddgst, iss, hostPort: SEED_HOST.port, maxSeg: rng.pick([536, 1448, 4000]), disorder: k % 2 === 0 }, rng);
        out.push([nicParams({ hdgst, ddgst, mode, startSeq: seqAdd(iss, 1 + 128), hostPort: SEED_HOST.port, control: k, reads }), ...frames]);
      }
    }
  }
  return out;
}

/**
 * Windows of the target→host frames of each captured I/O queue: 48 frames
 * from the first data segment (past the start) that begins at a PDU header,
 * the NIC set up from there, for each offload mode.
 */
function captureSeeds(): FuzzInput[] {
  const out: FuzzInput[] = [];
  for (const s of captureStreams()) {
    if (s.srcPort !== SEED_TARGET.port || s.bytes.length < 256 * 1024) continue;
    const boundaries = new Set<number>();
    for (let at = 0; at + 8 <= s.bytes.length; ) {
      boundaries.add(at);
      const plen = new PduHeaderView(s.bytes, at).plen;
      if (plen < 8) break;
      at += plen;
    }
    let first = -1;
    let seq = 0;
    for (let i = 20; i < s.frames.length && first < 0; i++) {
      const f = s.frames[i]!;
      const lay = frameLayout(f);
      if (lay.l4 < 0 || lay.payloadEnd <= lay.payloadStart) continue;
      seq = f.readUInt32BE(lay.l4 + 4);
      if (boundaries.has(seqDiff(seq, s.startSeq))) first = i;
    }
    if (first < 0) continue;
    const digest = s.bytes[11]!;
    const reads: StreamRead[] = Array.from({ length: MAX_CIDS }, (_, cid) => ({ cid, len: 128 * 1024 }));
    // Addressed to the MAC this harness's NIC has (captures come from runs with their own MACs).
    const frames = s.frames.slice(first, first + 48).map((f) => {
      const b = Buffer.from(f);
      SEED_HOST.mac.copy(b, 0);
      return b;
    });
    for (let mode = 0; mode < MODES.length; mode++) {
      out.push([nicParams({ hdgst: (digest & 1) !== 0, ddgst: (digest & 2) !== 0, mode, startSeq: seq, hostPort: s.dstPort, control: mode + 1, reads }), ...frames]);
    }
  }
  return out;
}

export const nicRxTarget: FuzzTarget = {
  name: 'nic',
  description: 'NicEmu rx with DDP or header split on mutated frame sequences: frags are the payload, writes only inside live SGLs, once, reported',
  shape: 'frames',
  weight: 3,
  coverageBatch: 8,
  seeds: () => [...generatedSeeds(), ...captureSeeds()],
  mutate: (parent, rng, donor) => mutateFrameSeq(parent, rng, donor, { maxFrames: MAX_FRAMES, maxParams: PARAMS_LEN, dictionary }),
  execute(input) {
    const s = setupOf(input[0] ?? Buffer.alloc(0));
    const h = new NicHarness(s);
    const originals = input.slice(1, 1 + MAX_FRAMES);
    const frames = ownCopies(originals);
    const batch = 1 + (s.p.u8(P_BATCH, 3) % 8);
    for (let i = 0; i < frames.length; i += batch) {
      h.control();
      h.port.deliver(frames.slice(i, i + batch));
    }
    for (let i = 0; i < frames.length; i++) check(frames[i]!.equals(originals[i]!), `frame ${i} was changed by the NIC`);
    h.finish();
  },
};
