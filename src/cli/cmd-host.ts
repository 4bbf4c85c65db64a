/**
 * `ddplab host`: the host side of a run in one process — live port on an
 * interface, software NIC, userspace TCP, NVMe/TCP host, workload — against
 * a target at ADDR:PORT. `ddplab run` starts it inside the host namespace;
 * it can also be run by hand on any interface.
 *
 * Output: the report as one JSON object on stdout. With --progress-json,
 * progress lines (JSON) on stderr for the orchestrator's progress bar.
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { parseTargetAddress } from '../lab/target-address.js';
import { receivedSignal, signalExitCode, withInterrupt } from '../lab/interrupt.js';
import { RUN_OFFLOAD_MODES, parseOffloadMode } from '../host/offload-mode.js';
import { externalNextHop, parseHostAddress } from '../lab/run-external.js';
import { intFlag, parseDigest, timeoutsFromFlags, workloadFromFlags, type TimeoutFlags, type WorkloadFlags } from './workload-flags.js';
import { UserError } from '../base/errors.js';
import { addDigestFlag, addOffloadFlag } from './run-flags.js';
import { impairFromFlags, type ImpairFlags } from './impair-flags.js';
import { devmemFromFlags, type DevmemFlags } from './devmem-flags.js';
import { ddpHostFromFlags, type DdpHostFlags } from './ddp-host-flags.js';
import type { NicThreadFlag } from './host-side-flags.js';
import { addHostSideFlags } from './host-side-flags.js';

interface HostFlags extends WorkloadFlags, ImpairFlags, DevmemFlags, TimeoutFlags, DdpHostFlags, NicThreadFlag {
  iface: string;
  hostIp: string;
  hostMac?: string;
  gateway?: string;
  target: string;
  nqn: string;
  digest: string;
  offload: string;
  queueDepth?: string;
  progressJson?: boolean;
  capture?: string;
  hashReads?: string;
  acceptPartialCsum?: boolean;
  superFrames?: boolean;
  quiet?: boolean;
}

export function registerHostCommand(program: Command): void {
  const cmd = program
    .command('host')
    .description('run the userspace host (software NIC + TCP + NVMe/TCP host + workload) on an interface; prints the report as JSON')
    .option('--iface <name>', 'interface to capture on and send from', 'host0')
    .option('--host-ip <addr>', 'IPv4 address the userspace stack owns, A or A/LEN (with /LEN a target outside the subnet is reached through --gateway)', '192.0.2.2')
    .option('--gateway <addr>', 'next hop for a target outside the --host-ip A/LEN subnet')
    .option('--host-mac <mac>', "MAC the userspace stack uses (default: the interface's)")
    .option('--target <addr:port>', 'NVMe/TCP target', '192.0.2.1:4420')
    .option('--nqn <nqn>', 'subsystem NQN', 'nqn.2026-11.io.ddplab:target');
  addDigestFlag(cmd, 'none');
  addOffloadFlag(cmd, RUN_OFFLOAD_MODES)
    .option('--queue-depth <n>', 'I/O queue size (default: max(32, iodepth))')
    .option('--capture <file.pcap>', 'write every frame the NIC receives and sends to a pcap file')
    .option('--hash-reads <file>', 'write the SHA-256 of every read to a JSON file (to compare with ddplab replay of the capture)')
    .option('--accept-partial-csum', 'accept TCP checksums left partial by a sender on the same host (veth with tx-csum on); the default')
    .option('--no-accept-partial-csum', 'drop TCP segments whose checksum is partial (counted in rx_csum_partial_dropped)')
    .option('--super-frames', 'size the capture for frames above the MTU (a peer whose TSO/GSO reaches the interface unsegmented)')
    .option('--progress-json', 'write progress as JSON lines on stderr')
    .option('--quiet', 'no log lines on stderr');
  addHostSideFlags(cmd);
  cmd.action(async (flags: HostFlags) => {
    const target = parseTargetAddress(flags.target);
    const ddpSettings = ddpHostFromFlags(flags);
    const workload = workloadFromFlags(flags);
    const impair = impairFromFlags(flags, workload.seed ?? 1);
    const addr = hostAddressFromFlags(flags, target.ip);
    const offload = parseOffloadMode(flags.offload);
    // The host itself (NIC, stack, pcap) only now: --help and the flags' checks above load none of it.
    const { hostRun } = await import('../lab/host-run.js');
    // SIGINT/SIGTERM: stop the workload and still print the report (a second one quits at once).
    const interruptLog = flags.quiet === true ? { log: () => undefined } : {};
    const report = await withInterrupt(
      (interrupt) =>
        hostRun(
          {
            signal: interrupt.signal,
            iface: flags.iface,
            hostIp: addr.ip,
            ...(addr.prefixLen !== undefined ? { prefixLen: addr.prefixLen } : {}),
            ...(flags.gateway !== undefined ? { gateway: flags.gateway } : {}),
            ...(flags.hostMac !== undefined ? { hostMac: flags.hostMac } : {}),
            targetIp: target.ip,
            targetPort: target.port,
            nqn: flags.nqn,
            digest: parseDigest(flags.digest),
            offload,
            devmem: devmemFromFlags(flags, offload),
            ddpSettings,
            queues: intFlag('queues', flags.queues, 1, 128),
            ...(flags.queueDepth !== undefined ? { queueDepth: intFlag('queue-depth', flags.queueDepth, 2, 1024) } : {}),
            ...timeoutsFromFlags(flags),
            workload,
            ...(impair !== undefined ? { impair } : {}),
            acceptPartialChecksums: flags.acceptPartialCsum !== false,
            superFrames: flags.superFrames === true,
            nicThread: flags.nicThread !== false,
            gro: flags.gro !== false,
            ...(flags.hashReads !== undefined ? { hashReads: resolve(flags.hashReads) } : {}),
            ...(flags.capture !== undefined ? { capture: resolve(flags.capture) } : {}),
            ...(flags.quiet === true ? {} : { log: (line: string) => process.stderr.write(`ddplab host: ${line}\n`) }),
          },
          flags.progressJson === true ? (p) => process.stderr.write(`${JSON.stringify({ progress: p })}\n`) : undefined,
        ),
      interruptLog,
    );
    process.stdout.write(`${JSON.stringify(report)}\n`);
    if (report.interrupted === true) {
      process.exitCode = signalExitCode(receivedSignal() ?? 'SIGINT');
      return;
    }
    if (!report.ok) {
      if (report.error !== undefined) throw new UserError('HOST_FAILED', report.error);
      process.exitCode = 1;
    }
  });
}

/**
 * --host-ip A (every peer on the link, as inside the topology) or A/LEN
 * (a target outside the subnet goes through --gateway, checked here so a
 * missing route is one line before anything starts).
 */
export function hostAddressFromFlags(flags: { hostIp: string; gateway?: string }, targetIp: string): { ip: string; prefixLen?: number } {
  if (!flags.hostIp.includes('/')) {
    if (flags.gateway !== undefined) throw new UserError('BAD_FLAG', `--gateway needs --host-ip A/LEN (the subnet decides what is reached through it)`);
    return { ip: flags.hostIp };
  }
  const host = parseHostAddress(flags.hostIp);
  externalNextHop(host, targetIp, flags.gateway);
  return host;
}
