/**
 * End-to-end goodput benchmark (`npm run bench:e2e`): for each MTU, on one
 * topology, measure kernel-to-kernel TCP throughput with iperf3 over the
 * very veth pair the run uses, then a ddplab read workload (target kernel
 * TCP → host0 → libpcap port → software NIC → userspace TCP → NVMe/TCP host,
 * every byte verified), and print goodput, the ratio to the kernel, and the
 * host process's CPU time per GiB read. Prints figures; asserts nothing
 * about time.
 *
 *   npm run bench:e2e [-- --mtu 1500,9000 --size 512m --bs 128k --iodepth 32 --iperf-sec 5 --runs 3]
 *
 * With --runs N each ddplab read runs N times and the table gives the
 * median of each column (every run is printed on stderr): on a shared
 * machine one run's CPU figure moves by 10-20%. The load average at the
 * start and the end is printed with the table.
 */
import { execa } from 'execa';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { runOnTopology, type RunReport } from '../src/lab/run.js';
import { HOST_IF, netnsCommand, TARGET_IP, withTopology, type Topology } from '../src/lab/topology.js';

const { values } = parseArgs({
  options: {
    mtu: { type: 'string', default: '1500,9000' },
    size: { type: 'string', default: '512m' },
    bs: { type: 'string', default: '128k' },
    iodepth: { type: 'string', default: '32' },
    'iperf-sec': { type: 'string', default: '5' },
    offload: { type: 'string', default: 'none,ddp-crc' },
    runs: { type: 'string', default: '1' },
  },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, not '${values.runs}'`);
const loadAtStart = loadavg();

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const IPERF_HOST_ADDR = '192.0.2.3/24';

async function inNs(topo: Topology, side: 'tgt' | 'host', cmd: string[]): Promise<string> {
  const c = netnsCommand(topo.id, side, cmd);
  return (await execa(c.file, c.args, { stdin: 'ignore' })).stdout;
}

/** iperf3 from the host namespace's kernel to the target's, over host0/tgt0; Gbit/s received. */
async function iperf(topo: Topology, seconds: number): Promise<number> {
  // host0 has no kernel address during runs (the userspace stack owns
  // 192.0.2.2); lend it one for the kernel baseline, then take it back.
  // host0 is NOARP (its kernel must not speak for the userspace stack); the
  // baseline needs its kernel to ARP, for these few seconds only.
  await inNs(topo, 'host', ['ip', 'link', 'set', HOST_IF, 'arp', 'on']);
  await inNs(topo, 'host', ['ip', 'addr', 'add', IPERF_HOST_ADDR, 'dev', HOST_IF]);
  const sc = netnsCommand(topo.id, 'tgt', ['iperf3', '-s', '-1', '-B', TARGET_IP]);
  const server = execa(sc.file, sc.args, { stdin: 'ignore', reject: false });
  try {
    await new Promise((r) => setTimeout(r, 300));
    const out = await inNs(topo, 'host', ['iperf3', '-c', TARGET_IP, '-t', String(seconds), '-J', '-R']);
    const j = JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } };
    return j.end.sum_received.bits_per_second / 1e9;
  } finally {
    server.kill('SIGTERM');
    await server;
    await inNs(topo, 'host', ['ip', 'addr', 'del', IPERF_HOST_ADDR, 'dev', HOST_IF]);
    await inNs(topo, 'host', ['ip', 'link', 'set', HOST_IF, 'arp', 'off']);
    await inNs(topo, 'tgt', ['ip', 'neigh', 'flush', 'dev', 'tgt0']);
  }
}

async function ddplabRead(topo: Topology, offload: 'none' | 'ddp' | 'ddp-crc'): Promise<RunReport> {
  return runOnTopology(topo, {
    offload,
    workload: { rw: 'read', bs: values.bs!, iodepth: Number(values.iodepth), size: values.size!, seed: 7 },
    queues: 1,
    digest: 'none',
    order: 'fifo',
    interleave: false,
    c2hSize: '0',
    profile: 'linux',
    mtu: topo.mtu,
    vethOffloads: false,
  });
}

const rows: string[] = [];
for (const mtu of values.mtu!.split(',').map(Number)) {
  await withTopology({ mtu }, async (topo) => {
    const kernelGbps = await iperf(topo, Number(values['iperf-sec']));
    for (const offload of values.offload!.split(',') as Array<'none' | 'ddp' | 'ddp-crc'>) {
      const gbpsRuns: number[] = [];
      const cpuRuns: number[] = [];
      const hostRuns: number[] = [];
      let copiedMiB = 0;
      let mismatches = 0;
      for (let run = 1; run <= runs; run++) {
        const r = await ddplabRead(topo, offload);
        if (!r.ok) throw new Error(`ddplab run failed at MTU ${mtu} offload ${offload}: ${r.error ?? `${r.verify.mismatches} mismatches`}`);
        const gbps = (r.io.readBytes * 8) / (r.io.elapsedMs / 1000) / 1e9;
        const gib = r.io.readBytes / 2 ** 30;
        const cpuMs = r.cpu.userMs + r.cpu.systemMs;
        // The emulated NIC runs in the host process: its DDP engine time is what hardware would do.
        const engineMs = Number((r.nic as unknown as Record<string, number>)['rx-nvme-tcp-engine-us'] ?? 0) / 1000;
        gbpsRuns.push(gbps);
        cpuRuns.push(cpuMs / gib);
        hostRuns.push((cpuMs - engineMs) / gib);
        copiedMiB = r.host.copiedBytes / 2 ** 20;
        mismatches += r.verify.mismatches;
        process.stderr.write(
          `MTU ${mtu} ${offload} run ${run}/${runs}: kernel ${kernelGbps.toFixed(2)} Gbit/s, ddplab ${gbps.toFixed(3)} Gbit/s, ` +
            `host CPU ${(cpuMs / gib).toFixed(0)} ms/GiB (${((cpuMs - engineMs) / gib).toFixed(0)} without the NIC model)\n`,
        );
      }
      const gbps = median(gbpsRuns);
      rows.push(
        `| ${mtu} | ${offload} | ${kernelGbps.toFixed(2)} | ${gbps.toFixed(3)} | ${((gbps / kernelGbps) * 100).toFixed(1)}% | ${median(cpuRuns).toFixed(0)} | ${median(hostRuns).toFixed(0)} | ${copiedMiB.toFixed(1)} | ${mismatches} |`,
      );
    }
  });
}

const la = (l: number[]): string => l.map((x) => x.toFixed(2)).join(' ');
process.stdout.write(
  `ddplab e2e read goodput: rw read bs ${values.bs} iodepth ${values.iodepth} size ${values.size}, 1 queue, digests off; ` +
    `${runs === 1 ? 'one run' : `median of ${runs} runs`} per row; load average ${la(loadAtStart)} at the start, ${la(loadavg())} at the end\n\n`,
);
process.stdout.write('| MTU | offload | iperf3 kernel→kernel Gbit/s | ddplab read Gbit/s | ratio | host CPU ms/GiB | host CPU ms/GiB without NIC model | host copied MiB | mismatches |\n');
process.stdout.write('|---|---|---|---|---|---|---|---|---|\n');
for (const r of rows) process.stdout.write(`${r}\n`);
