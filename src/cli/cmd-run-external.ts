/**
 * The flags of `ddplab run --target ADDR:PORT` (external-target mode, see
 * src/lab/run-external.ts) and what `ddplab run` does when --target is
 * given: no topology, no target of ours; the host runs in this process on
 * --iface. The workload, digest, offload, impairment, devmem, capture and
 * hash flags are the run's own; the flags that shape the target ddplab
 * would start (--order, --profile...) and the topology (--mtu, --id...)
 * are refused with --target.
 */
import type { Command } from 'commander';
import { parseTargetAddress } from '../lab/target-address.js';
import { parseOffloadMode } from '../host/offload-mode.js';
import { checkInputFile, checkOutputPath } from './path-flags.js';
import { parseHostAddress, parseVerifySource, runExternal, type ExternalRunReport, type VerifySource } from '../lab/run-external.js';
import { outputFormatFromFlags } from './fio-normal.js';
import type { RunReport } from '../lab/run.js';
import { receivedSignal, signalExitCode } from '../lab/interrupt.js';
import type { WorkloadProgress } from '../host/workload/workload.js';
import { devmemFromFlags, type DevmemFlags } from './devmem-flags.js';
import { impairFromFlags, type ImpairFlags } from './impair-flags.js';
import { UserError } from '../base/errors.js';
import { intFlag, parseDigest, timeoutsFromFlags, workloadFromFlags, type TimeoutFlags, type WorkloadFlags } from './workload-flags.js';

export interface ExternalFlags {
  nicThread?: boolean;
  gro?: boolean;
  target?: string;
  nqn?: string;
  iface?: string;
  hostIp?: string;
  gateway?: string;
  hostMac?: string;
  queueDepth?: string;
  acceptPartialCsum?: boolean;
}

interface ExternalRunFlags extends ExternalFlags, WorkloadFlags, ImpairFlags, DevmemFlags, TimeoutFlags {
  digest: string;
  offload: string;
  capture?: string;
  hashReads?: string;
  json?: boolean;
  outputFormat?: string;
}

/**
 * Flags only external mode takes (commander attribute names). --verify
 * SOURCE shares its attribute with the workload's --no-verify: the value is
 * true (neither given), false (--no-verify) or the SOURCE string.
 */
const EXTERNAL_ONLY = ['nqn', 'iface', 'hostIp', 'gateway', 'hostMac', 'queueDepth', 'acceptPartialCsum'] as const;
/** Flags of the topology and of the target ddplab starts: meaningless against someone else's target. */
const TOPOLOGY_ONLY = ['order', 'interleave', 'c2hSize', 'profile', 'mtu', 'targetCc', 'vethOffloads', 'offloads', 'id', 'hostile'] as const;

function flagName(attr: string): string {
  return `--${attr.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

export function addExternalFlags(cmd: Command): Command {
  cmd
    .option('--target <addr:port>', 'external-target mode: run against this NVMe/TCP target (not started by ddplab; no topology), with --nqn --iface --host-ip --verify; reads only (randread) unless --rw or --verify readback asks for writes')
    .option('--nqn <nqn>', '--target: subsystem NQN (a ddplab target serves nqn.2026-11.io.ddplab:target)')
    .option('--iface <name>', '--target: interface the host captures on and sends from (no kernel address on it, ARP off)')
    .option('--host-ip <addr/len>', '--target: IPv4 address/prefix the userspace stack owns, e.g. 192.0.2.2/24')
    .option('--gateway <addr>', '--target: next hop when the target is outside the --host-ip subnet')
    .option('--host-mac <mac>', "--target: MAC the userspace stack uses (default: the interface's)")
    .option('--verify <source>', '--target: expected content: pattern:SEED (ddplab target --seed SEED), file:PATH (target serving that image), readback (write, then read back), none')
    .option('--queue-depth <n>', '--target: I/O queue size asked for (default: max(32, iodepth))')
    .option('--accept-partial-csum', '--target: accept TCP checksums left partial by a sender on the same host (a veth or tap whose peer has tx-csum on); the default')
    .option('--no-accept-partial-csum', '--target: drop TCP segments whose checksum is partial (counted in rx_csum_partial_dropped)');
  return cmd;
}

/** Checks the mode's flags: external ones only with --target, topology ones never with it. */
export function checkExternalFlags(cmd: Command): void {
  const given = (attr: string): boolean => cmd.getOptionValueSource(attr) === 'cli';
  const external = cmd.getOptionValue('target') !== undefined;
  const verifySource: unknown = cmd.getOptionValue('verify');
  if (!external) {
    const stray = typeof verifySource === 'string' ? 'verify' : EXTERNAL_ONLY.find(given);
    if (stray !== undefined) throw new UserError('BAD_FLAG', `${flagName(stray)} belongs to external-target mode: give --target ADDR:PORT too`);
    return;
  }
  const topo = TOPOLOGY_ONLY.find(given);
  if (topo !== undefined) {
    throw new UserError('BAD_FLAG', `${flagName(topo)} shapes the topology or target ddplab builds; with --target neither is ours`);
  }
  for (const [attr, what] of [
    ['nqn', 'the subsystem NQN the target serves'],
    ['iface', 'the interface to run on'],
    ['hostIp', 'our address/prefix, e.g. 192.0.2.2/24'],
  ] as const) {
    if (cmd.getOptionValue(attr) === undefined) throw new UserError('BAD_FLAG', `--target needs ${flagName(attr)} (${what})`);
  }
  if (verifySource === true) throw new UserError('BAD_FLAG', '--target needs --verify (what the namespace holds: pattern:SEED, file:PATH, readback or none)');
}

/** --verify SOURCE, or none for --no-verify (checkExternalFlags has refused neither). */
function verifyFromFlags(cmd: Command): VerifySource {
  const v: unknown = cmd.getOptionValue('verify');
  return typeof v === 'string' ? parseVerifySource(v) : { kind: 'none' };
}

export interface ExternalCommandUi {
  readonly progress: { update: (p: WorkloadProgress) => void; done: () => void };
  readonly humanReport: (r: RunReport) => string;
}

/** The human report of a topology run with a first line that says what was run against what. */
export function externalHumanReport(r: ExternalRunReport, base: (r: RunReport) => string): string {
  const lines = base(r).split('\n');
  const w = r.workload;
  const e = r.external;
  lines[0] =
    `ddplab run --target ${e.target} (${e.nqn}) on ${e.iface} as ${e.hostIp}${e.gateway !== undefined ? ` via ${e.gateway}` : ''}: ` +
    `${w ? `${w.job.rw} iodepth ${w.job.iodepth} ` : ''}queues ${r.run.queues}, digest ${r.run.digest}, offload ${r.run.offload}, verify ${e.verify}, MTU ${r.run.mtu}`;
  if (w?.prefill !== undefined) {
    lines.splice(1, 0, `  prefill  ${w.prefill.writes} writes (${(w.prefill.writeBytes / (1 << 20)).toFixed(1)} MiB) in ${(w.prefill.elapsedMs / 1000).toFixed(2)} s before the job`);
  }
  return lines.join('\n');
}

/** `ddplab run --target ...`: runs, prints the report (human or --json), and fails in one line. */
export async function runExternalCommand(cmd: Command, ui: ExternalCommandUi): Promise<void> {
  checkExternalFlags(cmd);
  const flags = cmd.opts<ExternalRunFlags>();
  const target = parseTargetAddress(flags.target!);
  const format = outputFormatFromFlags(flags);
  const workload = workloadFromFlags({ ...flags, verify: true });
  // Against someone else's disk, ddplab writes only when asked to (--rw, or rw= in a job file).
  const rwSource = cmd.getOptionValueSource('rw');
  const rw = rwSource === 'cli' || rwSource === 'config' ? workload.rw : 'randread';
  const impair = impairFromFlags(flags, workload.seed ?? 1);
  const verify = verifyFromFlags(cmd);
  if (verify.kind === 'file') checkInputFile('--verify', verify.path);
  if (flags.capture !== undefined) checkOutputPath('--capture', flags.capture);
  const offload = parseOffloadMode(flags.offload);
  const report = await runExternal({
    targetIp: target.ip,
    targetPort: target.port,
    nqn: flags.nqn!,
    iface: flags.iface!,
    host: parseHostAddress(flags.hostIp!),
    ...(flags.gateway !== undefined ? { gateway: flags.gateway } : {}),
    ...(flags.hostMac !== undefined ? { hostMac: flags.hostMac } : {}),
    queues: intFlag('queues', flags.queues, 1, 128),
    ...(flags.queueDepth !== undefined ? { queueDepth: intFlag('queue-depth', flags.queueDepth, 2, 1024) } : {}),
    digest: parseDigest(flags.digest),
    offload,
    devmem: devmemFromFlags(flags, offload),
    workload: { ...workload, rw },
    verify,
    ...timeoutsFromFlags(flags),
    ...(impair !== undefined ? { impair } : {}),
    ...(flags.capture !== undefined ? { capture: flags.capture } : {}),
    ...(flags.hashReads !== undefined ? { hashReads: flags.hashReads } : {}),
    ...(flags.nicThread === false ? { nicThread: false } : {}),
    ...(flags.gro === false ? { gro: false } : {}),
    acceptPartialChecksums: flags.acceptPartialCsum !== false,
    onProgress: ui.progress.update,
  });
  ui.progress.done();
  if (format === 'json') process.stdout.write(`${JSON.stringify(report)}\n`);
  // A run that never reached I/O (no ARP answer, refused Connect...) is its error line alone.
  else if (report.ok || report.workload !== undefined) process.stdout.write(`${externalHumanReport(report, ui.humanReport)}\n`);
  // Interrupted (SIGINT/SIGTERM): the partial report, and the signal's exit code (130, 143).
  if (report.interrupted === true) process.exitCode = signalExitCode(receivedSignal() ?? 'SIGINT');
  else if (!report.ok) {
    process.exitCode = 1;
    if (report.error !== undefined) throw new UserError('RUN_FAILED', report.error);
  }
}
