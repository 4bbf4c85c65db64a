/**
 * End-to-end goodput benchmark (`npm run bench:e2e`): for each MTU, on one
 * topology, measure kernel-to-kernel TCP throughput with iperf3 over the
 * very veth pair the run uses, then a ddplab read workload (target kernel
 * TCP → host0 → libpcap port → software NIC → userspace TCP → NVMe/TCP host,
 * every byte verified) per offload mode and data digest setting, and print
 * goodput, the ratio to the kernel, and CPU time per GiB read: the host
 * process, its host thread and NIC thread, and the target process (the
 * run report's `cpu`, docs/report.md). Prints figures; asserts nothing
 * about time.
 *
 *   npm run bench:e2e [-- --mtu 1500,9000 --size 2g --bs 128k --iodepth 32 --iperf-sec 5 --ramp 2 --offload none,ddp-crc --digest none,data --runs 3 --target-cc cubic]
 *
 * Both sides are measured in steady state, each with its tool's own lead-in:
 * iperf3 omits its first --ramp seconds (`-O`, meant to skip TCP's slow
 * start) and ddplab's workload runs --ramp seconds before counting (fio's
 * ramp_time: those reads are verified but not counted; the 2 GiB are read
 * after it). A ddplab process starts with code not yet optimised and heaps
 * still growing: its goodput climbs for about a second and a half
 * (docs/run-and-host.md), which a kernel does not have. The whole run's
 * goodput, ramp included, is in its own column; `--ramp 0` measures
 * from the first byte on both sides.
 *
 * Each row is one MTU × offload × digest cell. With --runs N each cell's
 * ddplab read runs N times and every figure of the row is the median of its
 * N values (every run is printed on stderr): on a shared machine one run's
 * CPU figure moves by 10-20%. The load average at the start and the end is
 * printed with the table. When the NIC ran in the host thread (the run
 * report's cpu.nicThread is null) a column estimates the host without the
 * NIC model: the process total less the DDP engine's own time.
 */
import { execa } from 'execa';
import { loadavg } from 'node:os';
import { benchFlags, benchUsage } from './flags.js';
import { runOnTopology, type RunReport } from '../src/lab/run.js';
import type { DigestChoice } from '../src/lab/host-run.js';
import type { CpuTime } from '../src/base/thread-cpu.js';
import { TARGET_CC } from '../src/lab/target-cc.js';
import { HOST_IF, netnsCommand, setHostKernelRx, TARGET_IP, withTopology, type Topology } from '../src/lab/topology.js';

const usage = (message: string): never => benchUsage('e2e', message);

const OPTIONS = {
  mtu: { type: 'string', default: '1500,9000' },
  size: { type: 'string', default: '2g' },
  bs: { type: 'string', default: '128k' },
  iodepth: { type: 'string', default: '32' },
  'iperf-sec': { type: 'string', default: '5' },
  ramp: { type: 'string', default: '2' },
  offload: { type: 'string', default: 'none,ddp-crc' },
  digest: { type: 'string', default: 'none,data' },
  runs: { type: 'string', default: '1' },
  'target-cc': { type: 'string', default: TARGET_CC },
} as const;
const values = benchFlags('e2e', OPTIONS);
const runs = Number(values.runs);
const ramp = Number(values.ramp);
if (values.ramp!.trim() === '' || !Number.isFinite(ramp) || ramp < 0) usage(`--ramp must be a number of seconds >= 0, not '${values.ramp}'`);
if (!Number.isInteger(runs) || runs < 1) usage(`--runs must be a positive integer, not '${values.runs}'`);
const DIGESTS: readonly DigestChoice[] = ['none', 'header', 'data', 'both'];
const digests = values.digest!.split(',').map((d) => {
  if (!(DIGESTS as readonly string[]).includes(d)) usage(`--digest: '${d}' is not one of ${DIGESTS.join(', ')}`);
  return d as DigestChoice;
});
const loadAtStart = loadavg();

/** The median of the runs that have the figure; null when none has it. */
function median(xs: readonly (number | null)[]): number | null {
  const s = xs.filter((x): x is number => x !== null).sort((a, b) => a - b);
  if (s.length === 0) return null;
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const ms = (c: CpuTime | null | undefined): number | null => (c === null || c === undefined ? null : c.userMs + c.systemMs);
const cell = (x: number | null, digits = 0): string => (x === null ? '–' : x.toFixed(digits));

/** One run's figures, per GiB read where it is CPU time. */
interface RunFigures {
  /** Goodput of the counted part (after the ramp). */
  readonly gbps: number;
  /** Goodput of the whole run, the ramp included. */
  readonly wholeGbps: number;
  readonly processMsPerGiB: number;
  readonly hostThreadMsPerGiB: number | null;
  readonly nicThreadMsPerGiB: number | null;
  readonly targetMsPerGiB: number | null;
  /** The NIC in the host thread: the process less the DDP engine's time (null when the NIC had its own thread). */
  readonly withoutNicMsPerGiB: number | null;
}

function figures(r: RunReport): RunFigures {
  // CPU time covers the whole run, the ramp's reads included.
  const rampBytes = r.workload?.ramp?.readBytes ?? 0;
  const rampMs = r.workload?.ramp?.elapsedMs ?? 0;
  const gib = (r.io.readBytes + rampBytes) / 2 ** 30;
  const perGiB = (x: number | null): number | null => (x === null ? null : x / gib);
  const processMs = ms(r.cpu)!;
  const engineMs = Number((r.nic as unknown as Record<string, number>)['rx-nvme-tcp-engine-us'] ?? 0) / 1000;
  return {
    gbps: (r.io.readBytes * 8) / (r.io.elapsedMs / 1000) / 1e9,
    wholeGbps: ((r.io.readBytes + rampBytes) * 8) / ((r.io.elapsedMs + rampMs) / 1000) / 1e9,
    processMsPerGiB: processMs / gib,
    hostThreadMsPerGiB: perGiB(ms(r.cpu.hostThread)),
    nicThreadMsPerGiB: perGiB(ms(r.cpu.nicThread)),
    targetMsPerGiB: perGiB(ms(r.cpu.target)),
    withoutNicMsPerGiB: r.cpu.nicThread === null ? (processMs - engineMs) / gib : null,
  };
}

const IPERF_HOST_ADDR = '192.0.2.3/24';

async function inNs(topo: Topology, side: 'tgt' | 'host', cmd: string[]): Promise<string> {
  const c = netnsCommand(topo.id, side, cmd);
  return (await execa(c.file, c.args, { stdin: 'ignore' })).stdout;
}

/** iperf3 from the host namespace's kernel to the target's, over host0/tgt0; Gbit/s received. */
async function iperf(topo: Topology, seconds: number, omitSeconds: number): Promise<number> {
  // host0 has no kernel address during runs (the userspace stack owns
  // 192.0.2.2); lend it one for the kernel baseline, then take it back.
  // host0 is NOARP (its kernel must not speak for the userspace stack); the
  // baseline needs its kernel to ARP, for these few seconds only.
  // Its kernel also stays out of host0's frames during runs (a tc ingress
  // drop, netns/lib.sh): let them in for the baseline.
  await setHostKernelRx(topo.id, true);
  await inNs(topo, 'host', ['ip', 'link', 'set', HOST_IF, 'arp', 'on']);
  await inNs(topo, 'host', ['ip', 'addr', 'add', IPERF_HOST_ADDR, 'dev', HOST_IF]);
  const sc = netnsCommand(topo.id, 'tgt', ['iperf3', '-s', '-1', '-B', TARGET_IP]);
  const server = execa(sc.file, sc.args, { stdin: 'ignore', reject: false });
  try {
    await new Promise((r) => setTimeout(r, 300));
    // -O: the first seconds are run and left out of the figure (iperf3 accepts whole seconds).
    const out = await inNs(topo, 'host', ['iperf3', '-c', TARGET_IP, '-t', String(seconds), '-O', String(Math.ceil(omitSeconds)), '-J', '-R']);
    const j = JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } };
    return j.end.sum_received.bits_per_second / 1e9;
  } finally {
    server.kill('SIGTERM');
    await server;
    await inNs(topo, 'host', ['ip', 'addr', 'del', IPERF_HOST_ADDR, 'dev', HOST_IF]);
    await inNs(topo, 'host', ['ip', 'link', 'set', HOST_IF, 'arp', 'off']);
    await inNs(topo, 'tgt', ['ip', 'neigh', 'flush', 'dev', 'tgt0']);
    await setHostKernelRx(topo.id, false);
  }
}

async function ddplabRead(topo: Topology, offload: 'none' | 'ddp' | 'ddp-crc', digest: DigestChoice): Promise<RunReport> {
  return runOnTopology(topo, {
    offload,
    workload: { rw: 'read', bs: values.bs!, iodepth: Number(values.iodepth), size: values.size!, seed: 7, ...(ramp > 0 ? { rampTimeSec: ramp } : {}) },
    queues: 1,
    digest,
    order: 'fifo',
    interleave: false,
    c2hSize: '0',
    profile: 'linux',
    mtu: topo.mtu,
    vethOffloads: false,
  });
}

interface Row {
  readonly mtu: number;
  readonly offload: string;
  readonly digest: DigestChoice;
  /** Per run: the iperf3 baseline of that run's round, and the run's figures. */
  readonly kernelGbps: number[];
  readonly runs: RunFigures[];
  copiedMiB: number;
  mismatches: number;
}

// Round by round: an iperf3 baseline, then one run of every cell. Each run's
// ratio is to the baseline measured just before it, so a machine whose
// kernel throughput drifts between rounds (on this VM iperf3 moved between
// 4.5 and 10.6 Gbit/s from one call to the next) moves both sides of the
// ratio together, and cells alternate instead of running back to back.
const rows: Row[] = [];
for (const mtu of values.mtu!.split(',').map(Number)) {
  await withTopology({ mtu, targetCc: values['target-cc'] }, async (topo) => {
    const cells: Row[] = [];
    for (const offload of values.offload!.split(',') as Array<'none' | 'ddp' | 'ddp-crc'>) {
      for (const digest of digests) cells.push({ mtu, offload, digest, kernelGbps: [], runs: [], copiedMiB: 0, mismatches: 0 });
    }
    for (let run = 1; run <= runs; run++) {
      const kernelGbps = await iperf(topo, Number(values['iperf-sec']), ramp);
      process.stderr.write(`MTU ${mtu} round ${run}/${runs}: iperf3 kernel→kernel ${kernelGbps.toFixed(2)} Gbit/s\n`);
      for (const c of cells) {
        const r = await ddplabRead(topo, c.offload as 'none' | 'ddp' | 'ddp-crc', c.digest);
        if (!r.ok) throw new Error(`ddplab run failed at MTU ${mtu} offload ${c.offload} digest ${c.digest}: ${r.error ?? `${r.verify.mismatches} mismatches`}`);
        const f = figures(r);
        c.runs.push(f);
        c.kernelGbps.push(kernelGbps);
        c.copiedMiB = r.host.copiedBytes / 2 ** 20;
        c.mismatches += r.verify.mismatches;
        process.stderr.write(
          `MTU ${mtu} ${c.offload} digest ${c.digest} run ${run}/${runs}: ddplab ${f.gbps.toFixed(3)} Gbit/s (${((f.gbps / kernelGbps) * 100).toFixed(1)}% of the round's iperf3; ` +
            `whole run ${f.wholeGbps.toFixed(3)}), ` +
            `CPU ms/GiB: host process ${cell(f.processMsPerGiB)}, host thread ${cell(f.hostThreadMsPerGiB)}, NIC thread ${cell(f.nicThreadMsPerGiB)}, ` +
            `target ${cell(f.targetMsPerGiB)}${f.withoutNicMsPerGiB !== null ? ` (host process without the NIC model ${cell(f.withoutNicMsPerGiB)})` : ''}\n`,
        );
      }
    }
    rows.push(...cells);
  });
}

// The in-thread estimate only where some cell's NIC shared the host thread.
const withoutNicColumn = rows.some((r) => r.runs.some((f) => f.withoutNicMsPerGiB !== null));
const med = (r: Row, k: keyof RunFigures): number | null => median(r.runs.map((f) => f[k]));
const la = (l: number[]): string => l.map((x) => x.toFixed(2)).join(' ');
process.stdout.write(
  `ddplab e2e read goodput: rw read bs ${values.bs} iodepth ${values.iodepth} size ${values.size}, 1 queue; ` +
    (ramp > 0 ? `steady state: after a ${ramp} s ramp on both sides (iperf3 -O, ddplab --ramp_time); ` : 'from the first byte (no ramp); ') +
    `each cell ${runs === 1 ? 'one run' : `the median of ${runs} runs, one per round, each round after its own iperf3 baseline (the column gives their median and range); ratio: the median of each run's ratio to its round's baseline`}; ` +
    `CPU time per GiB read; load average ${la(loadAtStart)} at the start, ${la(loadavg())} at the end\n\n`,
);
const header = [
  'MTU',
  'offload',
  'digest',
  'iperf3 kernel→kernel Gbit/s',
  'ddplab read Gbit/s',
  'ratio',
  ...(ramp > 0 ? ['ddplab whole run Gbit/s (ramp included)'] : []),
  'host process CPU ms/GiB',
  'host thread ms/GiB',
  'NIC thread ms/GiB',
  ...(withoutNicColumn ? ['host process without NIC model ms/GiB (NIC in the host thread)'] : []),
  'target ms/GiB',
  'host copied MiB',
  'mismatches',
];
process.stdout.write(`| ${header.join(' | ')} |\n|${header.map(() => '---|').join('')}\n`);
for (const r of rows) {
  const gbps = med(r, 'gbps')!;
  const kernel = median(r.kernelGbps)!;
  const ratio = median(r.runs.map((f, i) => f.gbps / r.kernelGbps[i]!))!;
  const cells = [
    String(r.mtu),
    r.offload,
    r.digest,
    r.kernelGbps.length === 1 ? kernel.toFixed(2) : `${kernel.toFixed(2)} (${Math.min(...r.kernelGbps).toFixed(2)}–${Math.max(...r.kernelGbps).toFixed(2)})`,
    gbps.toFixed(3),
    `${(ratio * 100).toFixed(1)}%`,
    ...(ramp > 0 ? [cell(med(r, 'wholeGbps'), 3)] : []),
    cell(med(r, 'processMsPerGiB')),
    cell(med(r, 'hostThreadMsPerGiB')),
    cell(med(r, 'nicThreadMsPerGiB')),
    ...(withoutNicColumn ? [cell(med(r, 'withoutNicMsPerGiB'))] : []),
    cell(med(r, 'targetMsPerGiB')),
    r.copiedMiB.toFixed(1),
    String(r.mismatches),
  ];
  process.stdout.write(`| ${cells.join(' | ')} |\n`);
}
