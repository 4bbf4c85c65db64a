/**
 * `ddplab demo`: the project's headline in one command. The same verified
 * workload runs twice on one topology, once with the NIC offload off and
 * once with direct data placement and data-digest offload on, and the two
 * reports are printed side by side: what the host CPU copied and CRC'd,
 * what the NIC placed, how many resyncs it took, and the goodput.
 */
import type { Command } from 'commander';
import { UserError } from '../base/errors.js';
import { parseSizeBytes, WorkloadOptionError } from '../host/workload/options.js';
import type { OffloadMode } from '../host/offload-mode.js';
import { runOnTopology, type RunOptions, type RunReport } from '../lab/run.js';
import { withTopology } from '../lab/topology.js';

const MODES: readonly OffloadMode[] = ['none', 'ddp-crc'];

interface DemoFlags {
  readonly size: string;
  readonly bs: string;
  readonly iodepth: string;
  readonly json?: boolean;
}

/** Bytes with a binary unit, as the run report prints them. */
function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** The rows of the side-by-side table: a label and one cell per run. */
export function demoRows(reports: readonly RunReport[]): [string, ...string[]][] {
  const row = (label: string, cell: (r: RunReport) => string): [string, ...string[]] => [label, ...reports.map(cell)];
  return [
    row('goodput', (r) => `${(r.io.readBytes / 1e6 / Math.max(r.io.elapsedMs / 1000, 1e-9)).toFixed(1)} MB/s`),
    row('host copied', (r) => bytes(r.host.copiedBytes)),
    row("host CRC'd", (r) => bytes(r.host.crcBytes)),
    row('copy skipped (placed)', (r) => bytes(r.host.copySkippedBytes)),
    row('placed by the NIC', (r) => (r.ddp !== undefined ? `${r.ddp.placementPct.toFixed(2)}%` : '0.00%')),
    row('resyncs', (r) => String(r.nic['rx-nvme-tcp-resync'] ?? 0)),
    row('host thread CPU', (r) => `${((r.cpu.hostThread.userMs + r.cpu.hostThread.systemMs) / 1000).toFixed(2)} s`),
    row('NIC thread CPU', (r) => (r.cpu.nicThread !== null ? `${((r.cpu.nicThread.userMs + r.cpu.nicThread.systemMs) / 1000).toFixed(2)} s` : 'in the host thread')),
    row('verified', (r) => `${bytes(r.verify.bytes)}, ${r.verify.mismatches} mismatches`),
    row('result', (r) => (r.ok ? 'PASS' : `FAIL: ${r.error ?? 'see the report'}`)),
  ];
}

export function formatDemo(reports: readonly RunReport[], title: string): string {
  const rows: [string, ...string[]][] = [['', ...reports.map((r) => `offload ${r.run.offload}`)], ...demoRows(reports)];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const lines = rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]! + 3))).join('').trimEnd());
  return [title, '', ...lines].join('\n');
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('the headline: the same verified reads with offload none and ddp-crc (data digest on), side by side')
    .option('--size <bytes>', 'bytes read by each of the two runs', '128m')
    .option('--bs <bytes>', 'block size', '128k')
    .option('--iodepth <n>', 'commands in flight', '32')
    .option('--json', 'print both run reports as one JSON object instead')
    .action(async (f: DemoFlags) => {
      let size: number;
      let bs: number;
      try {
        size = parseSizeBytes(f.size, '--size');
        bs = parseSizeBytes(f.bs, '--bs');
      } catch (e) {
        if (e instanceof WorkloadOptionError) throw new UserError('BAD_FLAG', e.message);
        throw e;
      }
      const iodepth = Number(f.iodepth);
      if (!Number.isInteger(iodepth) || iodepth < 1 || iodepth > 1024) throw new UserError('BAD_FLAG', `--iodepth: '${f.iodepth}' is not a whole number from 1 to 1024`);
      if (bs > size) throw new UserError('BAD_FLAG', `--bs ${f.bs} is larger than --size ${f.size}: nothing would be read`);
      const base: Omit<RunOptions, 'offload'> = {
        workload: { rw: 'read', bs, iodepth, size },
        queues: 1,
        digest: 'data',
        order: 'fifo',
        interleave: false,
        c2hSize: '0',
        profile: 'linux',
        mtu: 1500,
        vethOffloads: false,
      };
      const reports = await withTopology({ mtu: 1500, vethOffloads: false }, async (topo) => {
        const out: RunReport[] = [];
        for (const offload of MODES) {
          process.stderr.write(`demo: ${bytes(size)} of ${bytes(bs)} reads, data digest on, offload ${offload}...\n`);
          out.push(await runOnTopology(topo, { ...base, offload }));
        }
        return out;
      });
      if (f.json === true) process.stdout.write(`${JSON.stringify({ demo: reports })}\n`);
      else process.stdout.write(`${formatDemo(reports, `ddplab demo: ${bytes(size)} of ${bytes(bs)} reads at iodepth ${iodepth}, data digest on, without and with the NIC offload`)}\n`);
      if (!reports.every((r) => r.ok)) process.exitCode = 1;
    });
}
