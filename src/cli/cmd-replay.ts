/**
 * `ddplab replay FILE.pcap`: the software NIC and the host receive path over
 * a capture (src/replay/replay.ts) — no network, deterministic, and
 * impairable with a seed. Prints the human report, or with --json one
 * object (with every read's SHA-256).
 */
import type { Command } from 'commander';
import { replayCapture } from '../replay/replay.js';
import { checkReplayFile, truncationWarning } from '../replay/capture-file.js';
import { DEFAULT_NIC_PROFILE } from '../nicemu/ddp/nic-profile.js';
import { DDP_OFFLOAD_MODES, parseOffloadMode } from '../host/offload-mode.js';
import { formatReplayReport, replayReportJson } from '../replay/report.js';
import type { ImpairSpec } from '../nicemu/port/impair.js';
import { parseBurst, parseProbability } from './impair-flags.js';
import { UserError } from '../base/errors.js';
import { intFlag } from './workload-flags.js';
import { addOffloadFlag } from './run-flags.js';
import { addDdpHostFlags, ddpHostFromFlags, type DdpHostFlags } from './ddp-host-flags.js';

interface ReplayFlags extends DdpHostFlags {
  offload: string;
  port: string;
  drop?: string;
  burst?: string;
  reorder?: string;
  reorderDepth?: string;
  dup?: string;
  seed: string;
  json?: boolean;
  verifyChecksums?: boolean;
}

function impairSpec(f: ReplayFlags): ImpairSpec {
  let reorderDepth: number | undefined;
  if (f.reorderDepth !== undefined) {
    reorderDepth = Number(f.reorderDepth);
    if (!Number.isInteger(reorderDepth) || reorderDepth < 1) {
      throw new UserError('BAD_FLAG', `--reorder-depth: '${f.reorderDepth}' is not a whole number of frames >= 1`);
    }
  }
  return {
    ...(f.drop !== undefined ? { drop: parseProbability('drop', f.drop) } : {}),
    ...(f.burst !== undefined ? { burst: parseBurst('burst', f.burst) } : {}),
    ...(f.reorder !== undefined ? { reorder: parseProbability('reorder', f.reorder) } : {}),
    ...(reorderDepth !== undefined ? { reorderDepth } : {}),
    ...(f.dup !== undefined ? { dup: parseProbability('dup', f.dup) } : {}),
  };
}

export function registerReplayCommand(program: Command): void {
  const cmd = program
    .command('replay')
    .description('replay a capture through the software NIC and the host receive path: offline, deterministic, impairable')
    .argument('<file.pcap>', 'pcap or pcapng capture of NVMe/TCP traffic, Ethernet (e.g. from ddplab run --capture, tcpdump -w, dumpcap, tshark -w)');
  addOffloadFlag(cmd, DDP_OFFLOAD_MODES)
    .option('--port <n>', 'TCP port of the NVMe/TCP target', '4420')
    .option('--drop <p>', 'drop frames toward the host with probability p (seeded)')
    .option('--burst <pgb,pbg[,lossbad[,lossgood]]>', 'bursty loss toward the host (Gilbert-Elliott)')
    .option('--reorder <p>', 'hold frames toward the host back with probability p')
    .option('--reorder-depth <k>', 'a reordered frame leaves after k later frames (default 3)')
    .option('--dup <p>', 'duplicate frames toward the host with probability p')
    .option('--seed <n>', 'seed of the impairment decisions', '1')
    .option('--verify-checksums', 'drop frames whose TCP checksum is only partial (default: accept them, as captures taken with checksum offload show them)')
    .option('--json', 'print one JSON object on stdout instead of the human report');
  addDdpHostFlags(cmd).action(async (file: string, flags: ReplayFlags) => {
    const ddp = ddpHostFromFlags(flags);
    // Replay's host reassembles the capture without a TCP to ask, and its NIC is not shown the host's frames.
    if (ddp.nicTcp !== undefined) throw new UserError('BAD_FLAG', '--nic-tcp-oracle, --nic-tcp-checks: live runs only (run, host), not replay');
    const opts = {
      path: file,
      port: intFlag('port', flags.port, 1, 65535),
      offload: parseOffloadMode(flags.offload, DDP_OFFLOAD_MODES),
      impair: impairSpec(flags),
      seed: intFlag('seed', flags.seed, 0, 0xffff_ffff),
      verifyChecksums: flags.verifyChecksums === true,
      ulp: ddp.ulp,
      limits: ddp.limits,
      nic: ddp.nic ?? DEFAULT_NIC_PROFILE,
    };
    // Missing, unreadable, empty, not pcap/pcapng, not Ethernet: one line before anything is built.
    checkReplayFile(file);
    const report = await replayCapture(opts);
    process.stdout.write(flags.json === true ? `${JSON.stringify(replayReportJson(report))}\n` : `${formatReplayReport(report)}\n`);
    if (report.truncated !== null) process.stderr.write(`ddplab: ${truncationWarning(file, report.truncated)}\n`);
  });
}
