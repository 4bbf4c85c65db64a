/**
 * Fuzz target for the whole receive path of one NVMe/TCP I/O queue, as
 * `ddplab host` runs it: frames → NicEmu (with or without the DDP device) →
 * userspace TcpSocket → TcpTransport → NvmeQueue (+ NvmeDdp). The harness
 * opens the connection itself (SYN-ACK, ICResp), submits the reads the
 * parameter block asks for into one block of memory with guard bytes around
 * every buffer, then feeds the input's frames in batches, with virtual time
 * moving between them and teardown completions arriving at once or later.
 *
 * The oracle is the invariant that tests everything (docs/design.md): offload is
 * a pure optimisation. The same input runs with offload `none`, `ddp` and
 * `ddp-crc` (and, when the parameters say so, `devmem-nvme` and
 * `devmem-tcp`: header split into a dmabuf, the devmem socket and
 * transport, the reads' data taken out of device memory by the consumer on
 * completion); what the application sees — every read's completion status
 * or error, the bytes of every read that completed (with device memory:
 * that succeeded), every guard byte — must be the same. The one difference
 * the design allows (as the DDP series does):
 * a read whose completion arrived while its NIC teardown was still pending
 * when the queue died fails with the queue's error. Besides: only typed
 * errors (nothing may throw out of the NIC), the host's copy routine never
 * meets a placed frag that is not where the destination is, and the socket
 * never queues more than its receive buffer.
 */
import { VirtualClock } from '../../host/net/clock.js';
import { headerSplitOf, usesCrcOffload, usesDdpEngine, usesDevmem, type OffloadMode } from '../../host/offload-mode.js';
import { DevmemSocket } from '../../host/devmem/socket.js';
import { DevmemTokenReturn } from '../../host/devmem/token-return.js';
import { DevmemTransport } from '../../host/devmem/transport.js';
import { NvmeDdp } from '../../host/nvme/ddp.js';
import { DevmemResync, NvmeDevmem } from '../../host/devmem/nvme-devmem.js';
import { NvmeHostError } from '../../host/nvme/host-error.js';
import { NvmeQueue } from '../../host/nvme/queue.js';
import { TcpSocket, type TcpEndpoint } from '../../host/net/tcp-socket.js';
import type { StreamTransport } from '../../host/nvme/stream-transport.js';
import { TcpTransport } from '../../host/nvme/tcp-transport.js';
import { NvmeTcpDdpDevice } from '../../nicemu/ddp/offload.js';
import { DevmemDevice } from '../../nicemu/devmem/device.js';
import { Dmabuf } from '../../nicemu/devmem/dmabuf.js';
import type { FlowKey } from '../../nicemu/flow-table.js';
import { NicEmu } from '../../nicemu/nic.js';
import { buildTcpFrame } from '../../wire/frame.js';
import { buildCqe, cqeWith } from '../../wire/nvme-cqe.js';
import { emitPdu, emitPduBuffer, PduType, type PduEmitOptions } from '../../wire/nvme-tcp-pdu.js';
import { seqAdd } from '../../wire/seq.js';
import { TCP_ACK, TCP_PSH, TCP_SYN } from '../../wire/tcp.js';
import { pduDictionary, SEED_HOST, SEED_TARGET } from '../emitter-seeds.js';
import { mutateFrameSeq } from '../frame-seq-mutator.js';
import { buildParams, ParamBlock } from '../param-block.js';
import { reprDiff } from '../repr-diff.js';
import { Rng } from '../rng.js';
import { ScriptPort } from '../script-port.js';
import { segmentStream, type FrameEnds } from '../segmenter.js';
import { check, FuzzViolation, type FuzzInput, type FuzzTarget } from '../target.js';
import { xorshift32Bytes } from '../../base/seeded-rng.js';

// Parameter block layout.
const P_FLAGS = 0;
const F_HDGST = 0;
const F_DDGST = 1;
const F_VERIFY_CSUM = 2;
const F_ASYNC_TEARDOWN = 3;
const F_SETUP_FAULTS = 4;
const F_SMALL_SGL = 5;
const F_CAPS_SWITCH = 6;
/** Also run the two device-memory modes (header split into a dmabuf) and compare them. */
const F_DEVMEM = 7;
/** Reads: (byte % MAX_READS) + 1, CIDs 0..n-1 in submission order. */
const P_READS = 1;
/** u32: the peer's and the host's initial sequence numbers. */
const P_PEER_ISS = 2;
const P_HOST_ISS = 6;
/** u16: seed of the control schedule (time steps, teardown flushes, capability switches). */
const P_CONTROL = 10;
/** Frames per rx batch, (byte % 6) + 1. */
const P_BATCH = 12;
/** Queue depth: DEPTHS[byte % 4], at least the number of reads. */
const P_DEPTH = 13;
/** Per read: length u16 (256-byte units), then guard bytes before it u16. */
const P_READ = 14;
const MAX_READS = 8;
/** The socket's receive buffer in 16 KiB units (0: the default 2 MiB) and its out-of-order memory cap in 2 KiB units (0: twice the buffer). */
const P_RCVBUF = P_READ + 4 * MAX_READS;
const P_OFO_LIMIT = P_RCVBUF + 1;
/** Peer timestamps (RFC 7323) when non-zero: tsVal of the first data frame. */
const P_TS = P_OFO_LIMIT + 1;
const PARAMS_LEN = P_TS + 4;

const HOST: TcpEndpoint = SEED_HOST;
const PEER: TcpEndpoint = SEED_TARGET;
const KEY: FlowKey = { remoteIp: PEER.ip, remotePort: PEER.port, localIp: HOST.ip, localPort: HOST.port };
const GUARD = 0xa5;
const LBA = 512;
const MAX_FRAMES = 200;
/** The socket's default receive buffer. */
const RCV_BUF = 2 << 20;
const DEPTHS = [8, 16, 32, 128];
/** Reads this long or longer are offered to the NIC (below the mlx5-like 32 KiB default, so small reads are placed too). */
const IO_THRESHOLD = 4096;

const DDP_MODES: readonly OffloadMode[] = ['ddp', 'ddp-crc'];
const DEVMEM_MODES: readonly OffloadMode[] = ['devmem-nvme', 'devmem-tcp'];
/** The dmabuf of the devmem modes: room for a whole input's payload, so the pool never runs dry (a drop would need the sender's retransmission). */
const DMABUF_BYTES = 4 << 20;

interface Scenario {
  readonly p: ParamBlock;
  readonly hdgst: boolean;
  readonly ddgst: boolean;
  readonly reads: readonly { readonly len: number; readonly guard: number }[];
  readonly peerIss: number;
  readonly hostIss: number;
  readonly depth: number;
  readonly rcvBufBytes: number;
  readonly ofoLimitBytes: number;
  /** tsVal the peer starts from (timestamps negotiated), or undefined. */
  readonly tsVal: number | undefined;
}

function scenarioOf(params: Buffer): Scenario {
  const p = new ParamBlock(params);
  const n = 1 + (p.u8(P_READS, 2) % MAX_READS);
  const reads = Array.from({ length: n }, (_, i) => ({
    len: Math.max(1, Math.min(512 * 1024, p.u16(P_READ + 4 * i, 64) * 256)),
    guard: 16 + (p.u16(P_READ + 4 * i + 2, 100) % 5000),
  }));
  return {
    p,
    hdgst: p.bit(P_FLAGS, F_HDGST),
    ddgst: p.bit(P_FLAGS, F_DDGST),
    reads,
    peerIss: p.u32(P_PEER_ISS, 1000),
    hostIss: p.u32(P_HOST_ISS, 5000),
    depth: Math.max(n, DEPTHS[p.u8(P_DEPTH) % DEPTHS.length]!),
    rcvBufBytes: p.u8(P_RCVBUF) === 0 ? RCV_BUF : p.u8(P_RCVBUF) * 16384,
    ofoLimitBytes: p.u8(P_OFO_LIMIT) === 0 ? 2 * (p.u8(P_RCVBUF) === 0 ? RCV_BUF : p.u8(P_RCVBUF) * 16384) : p.u8(P_OFO_LIMIT) * 2048,
    tsVal: p.u32(P_TS) === 0 ? undefined : p.u32(P_TS),
  };
}

/** TCP sequence number right after the host's ICReq and read capsules: what the peer's frames acknowledge. */
function hostSndNxtOf(sc: Scenario): number {
  const capsule = 72 + (sc.hdgst ? 4 : 0);
  return seqAdd(sc.hostIss, 1 + 128 + sc.reads.length * capsule);
}

/** What the application sees for one read. */
type ReadOutcome = { readonly status: number } | { readonly error: string } | { readonly pending: true };

export interface ReceivePathRun {
  readonly outcomes: readonly ReadOutcome[];
  readonly memory: Buffer;
  readonly spans: readonly (readonly [number, number])[];
  readonly teardownsAbandoned: number;
  /** The error code that ended the queue, if it died. */
  readonly queueError: string | undefined;
  /** C2HData payload bytes the NIC placed (0 without offload). */
  readonly placedBytes: number;
  /** C2HData payload bytes that arrived in device memory (devmem modes). */
  readonly deviceBytes: number;
}
type RunResult = ReceivePathRun;

const PEER_ENDS: FrameEnds = {
  srcMac: PEER.mac,
  dstMac: HOST.mac,
  srcIp: PEER.ip,
  dstIp: HOST.ip,
  srcPort: PEER.port,
  dstPort: HOST.port,
};

/** Settles promise callbacks: two turns of the event loop, as a live host would get between polls. */
async function settle(): Promise<void> {
  await new Promise((res) => setImmediate(res));
  await new Promise((res) => setImmediate(res));
}

/** One run of an input with offload `mode` (what the target runs three times; for tests and investigation). */
export function runReceivePath(input: FuzzInput, mode: OffloadMode, log?: (line: string) => void): Promise<ReceivePathRun> {
  return runMode(scenarioOf(input[0] ?? Buffer.alloc(0)), input.slice(1, 1 + MAX_FRAMES), mode, log);
}

/** One run of the scenario and frames with offload `mode`. */
async function runMode(sc: Scenario, frames: readonly Buffer[], mode: OffloadMode, log?: (line: string) => void): Promise<RunResult> {
  const p = sc.p;
  const control = new Rng(p.u16(P_CONTROL), 'stack-control');
  const clock = new VirtualClock(0);
  const port = new ScriptPort();
  const nic = new NicEmu(port, { mac: HOST.mac as Buffer, verifyChecksums: p.bit(P_FLAGS, F_VERIFY_CSUM) });
  const asyncTeardown = p.bit(P_FLAGS, F_ASYNC_TEARDOWN);
  const deferred: (() => void)[] = [];
  const device =
    !usesDdpEngine(mode)
      ? undefined
      : new NvmeTcpDdpDevice(nic, {
          limits: { ioThresholdBytes: IO_THRESHOLD, ...(p.bit(P_FLAGS, F_SMALL_SGL) ? { maxDdpSglLen: 8 } : {}) },
          caps: { 'nvme-tcp': true, 'nvme-tcp-ddgst-rx': usesCrcOffload(mode) },
          defer: asyncTeardown ? (fn) => deferred.push(fn) : (fn) => fn(),
        });
  if (device !== undefined && p.bit(P_FLAGS, F_SETUP_FAULTS)) device.faults.setupFailEvery = 3;
  const flush = (): void => {
    while (deferred.length > 0) deferred.shift()!();
  };

  const socket = new TcpSocket({
    clock,
    output: () => undefined,
    local: HOST,
    remote: PEER,
    iss: sc.hostIss,
    mtu: 1500,
    rcvBufBytes: sc.rcvBufBytes,
    ofoLimitBytes: sc.ofoLimitBytes,
    tsOffset: 0,
  });
  // Device memory: the flow steered to a queue with header split, bound to a dmabuf (as `ddplab host --offload devmem-*` sets it up).
  const hsMode = headerSplitOf(mode);
  const devmemDev = hsMode === undefined ? undefined : new DevmemDevice({ queues: ['off', hsMode] });
  const binding = devmemDev?.binding(devmemDev.bindRx({ queues: [1], dmabuf: new Dmabuf(DMABUF_BYTES) }));
  devmemDev?.steering.addRule(KEY, 1);
  const hsEngine = devmemDev?.engineFor(KEY);
  nic.addFlow({
    key: KEY,
    deliver: (skb) => socket.input(skb),
    offload: hsEngine,
    batchStart: () => socket.beginRxBatch(),
    batchEnd: () => socket.endRxBatch(),
  });
  const ts = sc.tsVal;
  const frame = (seq: number, ack: number, flags: number, payload?: Buffer): Buffer =>
    buildTcpFrame({
      ...PEER_ENDS,
      seq,
      ack,
      flags,
      window: 0xffff,
      options: (flags & TCP_SYN) !== 0 ? { mss: 1460, wscale: 7, sackPermitted: true, ...(ts !== undefined ? { tsVal: (ts - 2) >>> 0, tsEcr: 0 } : {}) } : ts !== undefined ? { tsVal: (ts - 1) >>> 0, tsEcr: 0 } : undefined,
      payload,
    });

  const connected = socket.connect();
  port.deliver([frame(sc.peerIss, seqAdd(sc.hostIss, 1), TCP_SYN | TCP_ACK)]);
  await connected;
  const ddp = device === undefined ? undefined : new NvmeDdp(device, log !== undefined ? { log } : {});
  let transport: StreamTransport = new TcpTransport(socket);
  let devmem: NvmeDevmem | undefined;
  let devmemResync: DevmemResync | undefined;
  if (devmemDev !== undefined && binding !== undefined && hsMode !== undefined) {
    const sock = new DevmemSocket(socket, devmemDev, KEY);
    const returns = new DevmemTokenReturn(sock, { path: 'dontneed', defer: (fn) => fn() }, binding.pool);
    devmem = new NvmeDevmem(returns, binding.dmabuf.deviceView());
    transport = new DevmemTransport(sock, { mode: hsMode, returns, deviceView: binding.dmabuf.deviceView() });
    if (hsMode === 'nvme' && hsEngine !== undefined) devmemResync = new DevmemResync(hsEngine, devmem.stats);
  }
  const hooks = ddp ?? devmemResync;
  const queue = new NvmeQueue(transport, {
    qid: 1,
    depth: sc.depth,
    hdgst: sc.hdgst,
    ddgst: sc.ddgst,
    clock,
    ...(hooks !== undefined ? { ddp: hooks } : {}),
    ...(devmem !== undefined ? { devmem } : {}),
    ...(log !== undefined ? { log } : {}),
  });
  const ic = queue.connect();
  const icresp = emitPduBuffer({ type: PduType.ICResp, pfv: 0, cpda: 0, hdgstEnable: sc.hdgst, ddgstEnable: sc.ddgst, maxh2cdata: 0x40_0000 });
  port.deliver([frame(seqAdd(sc.peerIss, 1), seqAdd(sc.hostIss, 1 + 128), TCP_ACK | TCP_PSH, icresp)]);
  await ic;
  ddp?.attach(queue, { key: KEY, socket });

  let total = 0;
  const spans: [number, number][] = [];
  for (const rd of sc.reads) {
    total += rd.guard;
    spans.push([total, total + rd.len]);
    total += rd.len;
  }
  const memory = Buffer.alloc(total + 4096, GUARD);
  const outcomes: ReadOutcome[] = sc.reads.map(() => ({ pending: true }));
  /** A read failed with something that is not an NvmeHostError: rethrown as the finding once the run settles. */
  let untyped: unknown;
  sc.reads.forEach((rd, i) => {
    const buf = memory.subarray(spans[i]![0], spans[i]![1]);
    queue
      .submit((cid, dptr) => ({ kind: 'read', cid, nsid: 1, slba: i * 8192, nlb: Math.ceil(rd.len / LBA) - 1, dptr }), { dir: 'read', buf })
      .then(
        (cqe) => {
          outcomes[i] = { status: cqe.status };
          // The consumer takes the data out of device memory (devmem modes; a no-op for the others).
          if (devmem !== undefined && binding !== undefined) {
            if (cqe.status === 0) devmem.consume(cqe.cid, buf, binding.dmabuf.deviceView());
            else devmem.discard(cqe.cid);
          }
        },
        (e: unknown) => {
          if (e instanceof NvmeHostError) outcomes[i] = { error: e.code };
          else untyped ??= e;
        },
      );
  });

  const batch = 1 + (p.u8(P_BATCH, 2) % 6);
  const capsSwitch = device !== undefined && p.bit(P_FLAGS, F_CAPS_SWITCH);
  for (let i = 0; i < frames.length; i += batch) {
    // Frames in their own memory: the host keeps views of what it queues.
    port.deliver(frames.slice(i, i + batch).map((f) => Buffer.from(f)));
    if (capsSwitch && control.chance(0.05)) device.setCaps({ 'nvme-tcp': !device.getCaps()['nvme-tcp'] });
    if (capsSwitch && usesCrcOffload(mode) && control.chance(0.05)) device.setCaps({ 'nvme-tcp-ddgst-rx': !device.getCaps()['nvme-tcp-ddgst-rx'] });
    if (control.chance(0.6)) flush();
    clock.advance(control.chance(0.1) ? 50 : control.below(3));
    const info = socket.info();
    check(info.bufferedBytes + info.ofoBytes <= sc.rcvBufBytes + 65536, () => `socket holds ${info.bufferedBytes} + ${info.ofoBytes} out-of-order bytes, receive buffer ${sc.rcvBufBytes}`);
  }
  flush();
  await settle();
  flush();
  await settle();
  if (untyped !== undefined) throw untyped;
  const stats = queue.stats;
  check(stats.placedMismatches === 0, () => `${mode}: the host copied ${stats.placedMismatches} placed frags that were not where the destination is`);
  return {
    outcomes,
    memory,
    spans,
    teardownsAbandoned: ddp?.stats.teardownsAbandoned ?? 0,
    queueError: queue.error?.code,
    placedBytes: device?.getStats()['rx-nvme-tcp-bytes'] ?? 0,
    deviceBytes: devmem?.stats.deviceDataBytes ?? 0 };
}

/** The differential verdict: `on` shows the application what `off` shows it (see the file comment). */
function compareRuns(off: RunResult, on: RunResult, mode: OffloadMode): void {
  check(off.queueError === on.queueError, () => `the queue ended with ${off.queueError ?? 'no error'} with offload none, ${on.queueError ?? 'no error'} with ${mode}`);
  let abandoned = 0;
  for (let i = 0; i < off.outcomes.length; i++) {
    const a = off.outcomes[i]!;
    const b = on.outcomes[i]!;
    if (reprDiff(a, b) === undefined) continue;
    // Completed, but the NIC's teardown was still pending when the queue died (it died in both runs, of the same error).
    if ('status' in a && 'error' in b && b.error === on.queueError) {
      abandoned++;
      continue;
    }
    throw new FuzzViolation('differential', `read ${i}: offload none → ${JSON.stringify(a)}, ${mode} → ${JSON.stringify(b)}`);
  }
  if (abandoned > on.teardownsAbandoned) {
    throw new FuzzViolation('differential', `${mode}: ${abandoned} reads failed by the dead queue, only ${on.teardownsAbandoned} had a teardown pending`);
  }
  // Guards: every byte outside the read buffers.
  let at = 0;
  for (let i = 0; i <= off.spans.length; i++) {
    const end = i < off.spans.length ? off.spans[i]![0] : off.memory.length;
    if (!on.memory.subarray(at, end).equals(off.memory.subarray(at, end))) {
      throw new FuzzViolation('differential', `${mode}: guard bytes before read ${i} differ from offload none (written outside a buffer)`);
    }
    if (i < off.spans.length) at = off.spans[i]![1];
  }
  // Contents of every read that completed alike (with device memory: that succeeded; a failed read's data stays in the device).
  const devmem = usesDevmem(mode);
  for (let i = 0; i < off.spans.length; i++) {
    const a = off.outcomes[i]!;
    if (!('status' in a) || reprDiff(a, on.outcomes[i]) !== undefined || (devmem && a.status !== 0)) continue;
    const [s, e] = off.spans[i]!;
    const x = off.memory.subarray(s, e);
    const y = on.memory.subarray(s, e);
    if (!x.equals(y)) {
      let k = 0;
      while (x[k] === y[k]) k++;
      throw new FuzzViolation('differential', `read ${i} (status ${a.status}): byte ${k} is ${x[k]} with offload none, ${y[k]} with ${mode}`);
    }
  }
}

/**
 * A frame of the controller's stream for the input whose parameter block is
 * `params`: `payload` at stream offset `off` (0 = the first byte after
 * ICResp), acknowledging the host's commands.
 */
export function receivePathFrame(params: Buffer, off: number, payload: Buffer, flags = TCP_ACK | TCP_PSH): Buffer {
  const sc = scenarioOf(params);
  return buildTcpFrame({ ...PEER_ENDS, seq: seqAdd(sc.peerIss, 1 + 128 + off), ack: hostSndNxtOf(sc), flags, window: 0xffff, payload });
}

// ------------------------------------------------------------------ seeds

function pattern(len: number, rng: Rng): Buffer {
  return xorshift32Bytes(len, rng.u32() | 1);
}

/**
 * The controller's stream for the scenario's reads (CIDs 0..n-1 in
 * submission order): C2HData of random sizes and padding, reads started in
 * random order and interleaved, completions by CapsuleResp (a little after
 * the last data) or by SUCCESS.
 */
function controllerStream(sc: Scenario, rng: Rng): Buffer {
  const n = sc.reads.length;
  const data = sc.reads.map((r) => pattern(r.len, rng));
  const sent = new Array<number>(n).fill(0);
  const waiting = [...Array(n).keys()];
  const active: number[] = [];
  const out: Buffer[] = [];
  const later: Buffer[] = [];
  while (waiting.length > 0 || active.length > 0) {
    if (waiting.length > 0 && (active.length === 0 || rng.chance(0.4))) active.push(waiting.splice(rng.below(waiting.length), 1)[0]!);
    const k = rng.below(active.length);
    const i = active[k]!;
    const len = sc.reads[i]!.len;
    const datao = sent[i]!;
    const datal = Math.min(len - datao, 1 + rng.below(rng.chance(0.5) ? 4096 : 40_000));
    const last = datao + datal === len;
    const success = last && rng.chance(0.3);
    const opts: PduEmitOptions = { hdgst: sc.hdgst, ddgst: sc.ddgst, pda: rng.chance(0.2) ? rng.below(8) : 0 };
    const e = emitPdu({ type: PduType.C2HData, cccid: i, datao, datal, lastPdu: last, success, data: [data[i]!.subarray(datao, datao + datal)] }, opts);
    out.push(e.head, ...e.data, e.tail);
    sent[i] = datao + datal;
    if (last) {
      active.splice(k, 1);
      if (!success) later.push(emitPduBuffer({ type: PduType.CapsuleResp, cqe: buildCqe(cqeWith({ cid: i, sqId: 1 })) }, { hdgst: sc.hdgst }));
    }
    if (later.length > 0 && rng.chance(0.5)) out.push(later.shift()!);
  }
  out.push(...later);
  return Buffer.concat(out);
}

/** The parameter block of a receive-path input (what the seeds use; tests build directed inputs with it). */
export function receivePathParams(o: {
  hdgst: boolean;
  ddgst: boolean;
  verifyChecksums?: boolean;
  /** Teardown completions come later (when the harness flushes), not inside teardown(). */
  asyncTeardown?: boolean;
  /** Every third setup refused by the device. */
  setupFaults?: boolean;
  /** The device takes SGLs of at most 8 entries. */
  smallSgl?: boolean;
  /** The harness switches the device's capabilities while frames arrive. */
  capsSwitch?: boolean;
  /** Also run and compare the device-memory modes. */
  devmem?: boolean;
  reads: readonly { len: number; guard: number }[];
  peerIss: number;
  hostIss: number;
  control: number;
  batch: number;
  depth: number;
  rcvBuf16k?: number;
  ofoLimit2k?: number;
  tsVal?: number;
}): Buffer {
  const bit = (on: boolean | undefined, b: number): number => (on === true ? 1 << b : 0);
  const flags =
    bit(o.hdgst, F_HDGST) |
    bit(o.ddgst, F_DDGST) |
    bit(o.verifyChecksums, F_VERIFY_CSUM) |
    bit(o.asyncTeardown, F_ASYNC_TEARDOWN) |
    bit(o.setupFaults, F_SETUP_FAULTS) |
    bit(o.smallSgl, F_SMALL_SGL) |
    bit(o.capsSwitch, F_CAPS_SWITCH) |
    bit(o.devmem, F_DEVMEM);
  const fields: [number, 1 | 2 | 4, number][] = [
    [P_FLAGS, 1, flags],
    [P_READS, 1, o.reads.length - 1],
    [P_PEER_ISS, 4, o.peerIss],
    [P_HOST_ISS, 4, o.hostIss],
    [P_CONTROL, 2, o.control],
    [P_BATCH, 1, o.batch],
    [P_DEPTH, 1, o.depth],
  ];
  o.reads.forEach((r, i) => fields.push([P_READ + 4 * i, 2, Math.ceil(r.len / 256)], [P_READ + 4 * i + 2, 2, r.guard]));
  fields.push([P_RCVBUF, 1, o.rcvBuf16k ?? 0], [P_OFO_LIMIT, 1, o.ofoLimit2k ?? 0], [P_TS, 4, o.tsVal ?? 0]);
  return buildParams(PARAMS_LEN, fields);
}

/** Valid sessions: digests on and off, async teardowns, tight limits, sequence numbers near the wrap, mild disorder. */
function seeds(): FuzzInput[] {
  const out: FuzzInput[] = [];
  const rng = new Rng(11, 'stack-seeds');
  for (let k = 0; k < 16; k++) {
    const hdgst = (k & 1) !== 0;
    const ddgst = (k & 2) !== 0;
    const n = 1 + rng.below(5);
    const reads = Array.from({ length: n }, () => ({ len: 256 * (1 + rng.below(rng.chance(0.5) ? 40 : 400)), guard: 16 + rng.below(3000) }));
    const peerIss = k % 3 === 0 ? (0xffff_ffff - rng.below(100_000)) >>> 0 : rng.u32();
    const small = k % 4 === 2;
    const params = receivePathParams({
      hdgst,
      ddgst,
      asyncTeardown: (k & 4) !== 0,
      smallSgl: (k & 8) !== 0,
      setupFaults: k % 5 === 0,
      capsSwitch: k % 7 === 3,
      devmem: k % 2 === 0,
      reads,
      peerIss,
      hostIss: rng.u32(),
      control: k,
      batch: k % 4,
      depth: k % 4,
      ...(small ? { rcvBuf16k: 8, ofoLimit2k: 6 } : {}),
      ...(k % 4 === 1 ? { tsVal: 1 + rng.below(0x7fff_ffff) } : {}),
    });
    const sc = scenarioOf(params);
    const stream = controllerStream(sc, rng);
    const frames = segmentStream(
      stream,
      PEER_ENDS,
      {
        startSeq: seqAdd(sc.peerIss, 1 + 128),
        ack: hostSndNxtOf(sc),
        maxSeg: rng.pick([536, 1448, 1448, 8948]),
        ...(k % 3 === 1 || small ? { late: 0.08, dup: 0.05, lost: 0.04 } : {}),
        ...(sc.tsVal !== undefined ? { tsVal: sc.tsVal } : {}),
      },
      rng,
    );
    out.push([params, ...frames.slice(0, MAX_FRAMES)]);
  }
  return out;
}

const dictionary = pduDictionary();

export const receivePathTarget: FuzzTarget = {
  name: 'stack',
  description: 'frames → NIC → TCP → NvmeQueue, offload none vs ddp, ddp-crc (and devmem-nvme/-tcp): completions, errors, read bytes, guards identical',
  shape: 'frames',
  weight: 6,
  coverageBatch: 2,
  seeds,
  mutate: (parent, rng, donor) => mutateFrameSeq(parent, rng, donor, { maxFrames: MAX_FRAMES, maxParams: PARAMS_LEN, dictionary }),
  async execute(input) {
    const sc = scenarioOf(input[0] ?? Buffer.alloc(0));
    const frames = input.slice(1, 1 + MAX_FRAMES);
    const off = await runMode(sc, frames, 'none');
    const modes = sc.p.bit(P_FLAGS, F_DEVMEM) ? [...DDP_MODES, ...DEVMEM_MODES] : DDP_MODES;
    for (const mode of modes) compareRuns(off, await runMode(sc, frames, mode), mode);
  },
};
