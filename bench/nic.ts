/**
 * The NIC thread's receive path without I/O (`npm run bench:nic`): what one
 * received frame costs the software NIC — NicEmu's parsing and steering, the
 * DDP engine (placement into the read buffers, the PDU walk, CRC32C of the
 * data digests), GRO, and the outbox that turns a turn's skbs into the
 * message for the host thread — on a synthetic NVMe/TCP read stream
 * (src/replay/synthetic-capture.ts: 128 KiB reads, queue depth 32, one
 * C2HData PDU per read), with no libpcap, no other thread and no scheduler
 * in the way. Frames are copied into a receive arena first, as the port's
 * read does, and a turn is 64 frames. Prints ns per frame; asserts nothing
 * about time. A live run's NIC thread also reads frames out of libpcap's
 * ring, sends the host's ACKs and posts its messages: compare with
 * bench:e2e's NIC thread column, not with this alone.
 *
 *   npm run bench:nic [-- --mib 256 --mtu 1500,9000 --offload none,ddp-crc --digest none,data --runs 5]
 *
 * Each row is an MTU × offload × data digest cell, measured in a process of
 * its own (in one process the cells measured first leave the JIT's type
 * feedback polymorphic for the later ones: ddp-crc after none measured up
 * to a third slower); each figure the median of --runs passes over the same
 * frames, after one pass to warm up.
 */
import { benchFlags, benchUsage } from './flags.js';
import { spawnSync } from 'node:child_process';
import { NicEmu } from '../src/nicemu/nic.js';
import type { Port, RxConsumer, PortStats } from '../src/nicemu/port/port.js';
import { NvmeTcpDdpDevice, type UlpDdpOps } from '../src/nicemu/ddp/offload.js';
import { sglFromBuffer } from '../src/nicemu/ddp/sgl.js';
import { Gro } from '../src/nicemu/gro.js';
import { NicOutbox, type RxArena } from '../src/nicemu/thread/outbox.js';
import { synthesizeSession, type SyntheticSession } from '../src/replay/synthetic-capture.js';
import type { FlowKey } from '../src/nicemu/flow-table.js';

const usage = (message: string): never => benchUsage('nic', message);

const OPTIONS = {
  mib: { type: 'string', default: '256' },
  mtu: { type: 'string', default: '1500,9000' },
  runs: { type: 'string', default: '5' },
  offload: { type: 'string', default: 'none,ddp-crc' },
  digest: { type: 'string', default: 'none,data' },
  /** Internal: measure one cell (MTU:offload:digest) and print its ns per pass as JSON. */
  cell: { type: 'string' },
} as const;
const values = benchFlags('nic', OPTIONS);
const mib = Number(values.mib);
const runs = Number(values.runs);
if (!Number.isInteger(mib) || mib < 1) usage(`--mib must be a positive integer, not '${values.mib}'`);
if (!Number.isInteger(runs) || runs < 1) usage(`--runs must be a positive integer, not '${values.runs}'`);
const mtus = values.mtu!.split(',').map((m) => {
  const n = Number(m);
  if (n !== 1500 && n !== 9000) usage(`--mtu: '${m}' is not 1500 or 9000`);
  return n;
});

const offloads = values.offload!.split(',').map((o) => {
  if (o !== 'none' && o !== 'ddp-crc') usage(`--offload: '${o}' is not none or ddp-crc`);
  return o as 'none' | 'ddp-crc';
});
const digests = values.digest!.split(',').map((d) => {
  if (d !== 'none' && d !== 'data') usage(`--digest: '${d}' is not none or data`);
  return d === 'data';
});

const READ_BYTES = 128 * 1024;
const DEPTH = 32;
const TURN_FRAMES = 64;
const ARENA_BYTES = 1024 * 1024;
const HOST_MAC = Buffer.from([2, 0, 0, 0, 0, 2]);
const HOST_IP = 0xc0000202;
const TARGET_IP = 0xc0000201;
const HOST_PORT = 40000;
const TARGET_PORT = 4420;
const ICRESP_BYTES = 128;

/** A port that only hands over what the benchmark gives it. */
class FeedPort implements Port {
  consumer: RxConsumer | undefined;
  readonly stats: PortStats = { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, rxKernelDrops: 0, rxQueueDrops: 0, txErrors: 0 };
  send(): void {}
  onFrames(consumer: RxConsumer): void {
    this.consumer = consumer;
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Two arenas taking turns; the outbox lends one whenever the host would need much of it (offload none). */
class BenchArena implements RxArena {
  private cur = 0;
  private readonly mem = [new ArrayBuffer(ARENA_BYTES), new ArrayBuffer(ARENA_BYTES)];
  current(): ArrayBufferLike {
    return this.mem[this.cur]!;
  }
  lend(): { readonly id: number; readonly memory: ArrayBuffer } | undefined {
    const id = this.cur;
    this.cur ^= 1;
    // The "host" gives it straight back: the benchmark keeps no message.
    return { id, memory: this.mem[id]! };
  }
  giveBack(): void {}
  rewind(): void {}
}

interface Cell {
  readonly mtu: number;
  readonly offload: 'none' | 'ddp-crc';
  readonly ddgst: boolean;
  nsPerFrame: number[];
  placedPct: number;
}

/** One pass over the session's C2H frames; returns ns per C2H frame. */
function pass(s: SyntheticSession, offload: 'none' | 'ddp-crc', ddgst: boolean): { ns: number; placedPct: number } {
  const port = new FeedPort();
  const nic = new NicEmu(port, { mac: HOST_MAC, mtu: 9000 });
  const key: FlowKey = { remoteIp: TARGET_IP, remotePort: TARGET_PORT, localIp: HOST_IP, localPort: HOST_PORT };
  const arena = new BenchArena();
  const slots = Array.from({ length: DEPTH }, () => new SharedArrayBuffer(READ_BYTES));
  const regionIds = new Map<ArrayBufferLike, number>(slots.map((m, i) => [m, i]));
  const outbox = new NicOutbox((m) => regionIds.get(m), arena);
  const gro = new Gro((flow, skb) => outbox.skb(flow, skb));
  nic.addFlow({ key, deliver: (skb) => gro.receive(0, skb) });
  let ddp: NvmeTcpDdpDevice | undefined;
  if (offload === 'ddp-crc') {
    // As the NIC thread builds it (nic-worker.ts): no per-segment clock reads, one placed frag per contiguous run.
    ddp = new NvmeTcpDdpDevice(nic, { defer: (fn) => fn(), schedule: () => undefined, timeEngine: false, pagedFrags: false });
    const ulp: UlpDdpOps = { resyncRequest: () => true, teardownDone: () => undefined };
    // sk_add after the ICResp (128 bytes), as the Linux host offloads the queue once the connection is set up.
    const why = ddp.skAdd({ key, nextPduSeq: (s.c2hStartSeq + ICRESP_BYTES) >>> 0 }, { pfv: 0, cpda: 0, hdgst: false, ddgst, queueSize: DEPTH }, ulp);
    if (why !== undefined) throw new Error(`sk_add refused: ${why}`);
  }
  // Each read's setup goes in just before the first frame of its data (the host sets up before it sends the command).
  const setupAt = new Map<number, { cid: number; slot: number }[]>();
  for (const r of s.reads) {
    const first = r.pdus[0]![0];
    const list = setupAt.get(first) ?? [];
    list.push({ cid: r.cid, slot: r.cid % DEPTH });
    setupAt.set(first, list);
  }
  const mapped = new Set<number>();
  const turn: { data: Buffer; tsUs: number; csumVerified: boolean }[] = [];
  let arenaBuf = Buffer.from(arena.current() as ArrayBuffer);
  let used = 0;
  const endTurn = (): void => {
    port.consumer!(turn);
    turn.length = 0;
    gro.flush();
    if (!outbox.empty) outbox.take();
    arenaBuf = Buffer.from(arena.current() as ArrayBuffer);
    used = 0;
  };
  let frames = 0;
  const t0 = process.hrtime.bigint();
  for (const f of s.frames) {
    if (f.dir !== 'c2h') continue;
    const setups = ddp !== undefined ? setupAt.get(f.seq) : undefined;
    if (setups !== undefined) {
      if (turn.length > 0) endTurn();
      for (const u of setups) {
        if (mapped.has(u.cid)) ddp!.teardown(key, u.cid);
        const why = ddp!.setup(key, u.cid, sglFromBuffer(Buffer.from(slots[u.slot]!)));
        if (why !== undefined) throw new Error(`setup of cid ${u.cid} refused: ${why}`);
        mapped.add(u.cid);
      }
    }
    if (used + f.data.length > ARENA_BYTES) endTurn();
    f.data.copy(arenaBuf, used);
    turn.push({ data: arenaBuf.subarray(used, used + f.data.length), tsUs: 0, csumVerified: true });
    used += f.data.length;
    frames++;
    if (turn.length === TURN_FRAMES) endTurn();
  }
  if (turn.length > 0) endTurn();
  const ns = Number(process.hrtime.bigint() - t0) / frames;
  const st = ddp?.getStats();
  const placedPct = st !== undefined ? (st['rx-nvme-tcp-bytes'] / s.c2hDataBytes) * 100 : 0;
  return { ns, placedPct };
}

function session(mtu: number, ddgst: boolean): SyntheticSession {
  return synthesizeSession({
    seed: 3,
    reads: Math.max(1, Math.floor((mib * 1024 * 1024) / READ_BYTES)),
    readBytes: [READ_BYTES],
    queueDepth: DEPTH,
    order: 'fifo',
    ddgst,
    segmentBytes: mtu - 52,
    hostIp: HOST_IP,
    targetIp: TARGET_IP,
    hostPort: HOST_PORT,
    targetPort: TARGET_PORT,
  });
}

if (values.cell !== undefined) {
  const [m, o, d] = values.cell.split(':');
  const s = session(Number(m), d === 'data');
  const offload = o as 'none' | 'ddp-crc';
  pass(s, offload, d === 'data'); // warm-up
  const ns: number[] = [];
  let placedPct = 0;
  for (let r = 0; r < runs; r++) {
    const p = pass(s, offload, d === 'data');
    ns.push(p.ns);
    placedPct = p.placedPct;
  }
  process.stdout.write(`${JSON.stringify({ ns, placedPct })}\n`);
  process.exit(0);
}

const cells: Cell[] = [];
for (const mtu of mtus) {
  for (const ddgst of digests) {
    for (const offload of offloads) {
      const r = spawnSync(
        process.execPath,
        [...process.execArgv, process.argv[1]!, '--mib', String(mib), '--runs', String(runs), '--cell', `${mtu}:${offload}:${ddgst ? 'data' : 'none'}`],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
      );
      if (r.status !== 0) usage(`the cell MTU ${mtu} ${offload} digest ${ddgst ? 'data' : 'none'} failed (exit ${r.status})`);
      const out = JSON.parse(r.stdout.trim()) as { ns: number[]; placedPct: number };
      const cell: Cell = { mtu, offload, ddgst, nsPerFrame: out.ns, placedPct: out.placedPct };
      cells.push(cell);
      process.stderr.write(`MTU ${mtu} ${offload} ddgst ${ddgst}: ${cell.nsPerFrame.map((x) => x.toFixed(0)).join(' ')} ns/frame\n`);
    }
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
process.stdout.write(
  `bench:nic: the software NIC's receive path without I/O, ${mib} MiB of 128 KiB reads, queue depth ${DEPTH}, turns of ${TURN_FRAMES} frames; each cell in its own process, the median of ${runs} passes; Node ${process.version}\n\n`,
);
process.stdout.write('| MTU | offload | data digest | ns per frame | frames/s | placed % |\n|---|---|---|---|---|---|\n');
for (const c of cells) {
  const ns = median(c.nsPerFrame);
  process.stdout.write(`| ${c.mtu} | ${c.offload} | ${c.ddgst ? 'on' : 'off'} | ${ns.toFixed(0)} | ${Math.round(1e9 / ns).toLocaleString('en-US')} | ${c.placedPct.toFixed(1)} |\n`);
}
