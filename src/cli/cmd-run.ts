/**
 * `ddplab run`: an end-to-end run on a fresh live topology (see
 * src/lab/run.ts), with a progress bar on stderr and a human report — or,
 * with --json, one JSON object on stdout. Exit code 0 only when every read
 * verified and no I/O failed.
 */
import type { NicThreadFlag } from './host-side-flags.js';
import type { Command } from 'commander';
import type { RunReport } from '../lab/run.js';
import { describeRunCpu } from './cpu-line.js';
import { receivedSignal, signalExitCode } from '../lab/interrupt.js';
import { RUN_OFFLOAD_MODES, parseOffloadMode, usesCrcOffload, usesDdpEngine } from '../host/offload-mode.js';
import type { WorkloadProgress } from '../host/workload/workload.js';
import type { ResolvedWorkload } from '../host/workload/options.js';
import { fioNormalLines, outputFormatFromFlags } from './fio-normal.js';
import { applyJobFile, readFioJobFile } from './fio-jobfile.js';
import { UserError } from '../base/errors.js';
import { describeImpairSpec, describeImpairStats, impairFromFlags, type ImpairFlags } from './impair-flags.js';
import { intFlag, parseDigest, timeoutsFromFlags, workloadFromFlags, type TimeoutFlags, type WorkloadFlags } from './workload-flags.js';
import { describeDevmem, devmemFromFlags, type DevmemFlags } from './devmem-flags.js';
import { checkZcrxFlags, describeZcrx } from './zcrx-lines.js';
import { ddpHostFromFlags, type DdpHostFlags } from './ddp-host-flags.js';
import { addHostSideFlags } from './host-side-flags.js';
import { DDP_PAGE_BYTES } from '../nicemu/ddp/sgl.js';
import { addExternalFlags, checkExternalFlags, runExternalCommand } from './cmd-run-external.js';
import { checkOutputPath } from './path-flags.js';
import { TARGET_CC } from '../lab/target-cc.js';
import { nicDropLines, passNote } from './nic-drops.js';
import { addDigestFlag, addOffloadFlag, addTargetShapeFlags, addVethOffloadsFlag, checkTargetShape, parseOrder, vethOffloadsFromFlags, type VethOffloadFlags } from './run-flags.js';
import { HOSTILE_CASES, HostileSpecError, formatHostileSpec, parseHostileSpec } from '../target/hostile-spec.js';

interface RunFlags extends WorkloadFlags, ImpairFlags, DevmemFlags, TimeoutFlags, VethOffloadFlags, DdpHostFlags, NicThreadFlag {
  digest: string;
  offload: string;
  order: string;
  interleave?: boolean;
  c2hSize: string;
  profile: string;
  mtu: string;
  targetCc?: string;
  capture?: string;
  hashReads?: string;
  id?: string;
  hostile?: string;
  json?: boolean;
  outputFormat?: string;
}

function progressBar(): { update: (p: WorkloadProgress) => void; done: () => void } {
  const tty = process.stderr.isTTY === true;
  let lastPct = -1;
  let lastPrintMs = 0;
  return {
    update: (p) => {
      const pct = Math.min(100, Math.floor(p.fraction * 100));
      const mb = p.bytes / 1e6;
      const rate = p.elapsedMs > 0 ? mb / (p.elapsedMs / 1000) : 0;
      if (tty) {
        const width = 30;
        const fill = Math.round((pct / 100) * width);
        process.stderr.write(
          `\r[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${String(pct).padStart(3)}% ${mb.toFixed(0)} MB ${rate.toFixed(0)} MB/s ${p.ios} I/Os${p.mismatches > 0 ? ` ${p.mismatches} MISMATCHES` : ''}   `,
        );
      } else if (lastPct < 0 || pct >= lastPct + 25 || p.elapsedMs >= lastPrintMs + 10_000) {
        // Without a terminal: the first report (I/O is flowing), every
        // quarter, and at least every 10 s on long time-bound runs.
        lastPct = pct - (pct % 25);
        lastPrintMs = p.elapsedMs;
        process.stderr.write(`progress ${pct}% ${mb.toFixed(0)} MB ${rate.toFixed(0)} MB/s\n`);
      }
    },
    done: () => {
      if (tty) process.stderr.write('\n');
    },
  };
}

function fmtBytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(2)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

/** "bs 4 KiB" or "bs 4 KiB (reads), 64 KiB (writes)", or the mix of sizes. */
function blockSizesText(b: ResolvedWorkload['bsByDir']): string {
  const one = (list: readonly { bytes: number }[]): string => (list.length <= 4 ? list.map((c) => fmtBytes(c.bytes)).join('/') : `${fmtBytes(list[0]!.bytes)}..${fmtBytes(list[list.length - 1]!.bytes)}`);
  const r = one(b.read);
  const w = one(b.write);
  return r === w ? `bs ${r}` : `bs ${r} (reads), ${w} (writes)`;
}

function flat(obj: object, keys?: readonly string[]): string {
  const entries = Object.entries(obj).filter(([k, v]) => typeof v === 'number' && v !== 0 && (keys === undefined || keys.includes(k)));
  return entries.map(([k, v]) => `${k}=${v as number}`).join(' ');
}

/** The target kernel's TCP repair work during the run (nstat names). */
function targetRetrans(r: RunReport): string {
  const t = r.targetTcp;
  if (t === undefined) return '';
  const n = (k: string): number => t[k] ?? 0;
  return (
    `; target kernel retransmitted ${n('TcpRetransSegs')} (${n('TcpExtTCPFastRetrans')} fast, ${n('TcpExtTCPTimeouts')} RTOs, ` +
    `${n('TcpExtTCPLossProbes')} TLPs, ${n('TcpExtTCPSpuriousRTOs')} spurious RTOs), ${n('TcpInCsumErrors')} bad checksums in`
  );
}

export function humanReport(r: RunReport): string {
  const lines: string[] = [];
  const w = r.workload;
  lines.push(
    `ddplab run ${r.run.id}: ${w ? `${w.job.rw} ${blockSizesText(w.job.bsByDir)} iodepth ${w.job.iodepth}` : ''} queues ${r.run.queues}, ` +
      `digest ${r.run.digest}, offload ${r.run.offload}, target ${r.run.profile} order ${r.run.order}${r.run.interleave ? ' interleaved' : ''} c2h-size ${r.run.c2hSize}, MTU ${r.run.mtu}${r.run.targetCc !== undefined ? `, target TCP ${r.run.targetCc}` : ''}`,
  );
  const job = r.jobs?.[0];
  if (job !== undefined) lines.push(...fioNormalLines(job, w?.job.rw));
  lines.push(
    `  io       ${r.io.reads} reads (${fmtBytes(r.io.readBytes)}) ${r.io.writes} writes (${fmtBytes(r.io.writeBytes)}) in ${(r.io.elapsedMs / 1000).toFixed(2)} s: ` +
      `${r.io.MBps.toFixed(1)} MB/s, ${r.io.iops.toFixed(0)} IOPS`,
  );
  const ramp = r.workload?.ramp;
  if (ramp !== undefined) {
    lines.push(
      `  ramp     ${ramp.reads} reads (${fmtBytes(ramp.readBytes)}) ${ramp.writes} writes (${fmtBytes(ramp.writeBytes)}) in ${(ramp.elapsedMs / 1000).toFixed(2)} s before counting (ramp_time): verified, not in io or latency`,
    );
  }
  lines.push(`  latency  p50 ${Math.round(r.latency.p50Us)} us  p99 ${Math.round(r.latency.p99Us)} us  p99.9 ${Math.round(r.latency.p999Us)} us`);
  lines.push(`  verify   ${fmtBytes(r.verify.bytes)} verified, ${r.verify.mismatches} mismatches`);
  lines.push(describeRunCpu(r.cpu));
  lines.push(`  host     copied ${fmtBytes(r.host.copiedBytes)}, CRC ${fmtBytes(r.host.crcBytes)}, copy skipped ${fmtBytes(r.host.copySkippedBytes)}`);
  lines.push(`  tcp      ${flat(r.tcp)}`);
  lines.push(`  nic      ${flat(r.nic)}`);
  if (r.devmem !== undefined) lines.push(...describeDevmem(r.devmem));
  if (r.zcrx !== undefined) lines.push(...describeZcrx(r.zcrx));
  if (usesDdpEngine(r.run.offload)) {
    const d = r.ddp;
    const n = d.notPlacedBytes;
    lines.push(
      `  ddp      placed ${d.placementPct.toFixed(2)}% of ${fmtBytes(d.c2hDataBytes)} C2HData payload; copied: below threshold ${fmtBytes(n.belowThreshold)}, ` +
        `limits ${fmtBytes(n.limits)}, lost sync ${fmtBytes(n.lostSync)}; DDGST checked by the NIC for ${d.ddgstOffloadedPdus} PDUs, host data CRC ${fmtBytes(d.hostCrcDataBytes)}`,
    );
    const l = d.limits;
    lines.push(
      `  limits   max SGL ${l.maxDdpSglLen} pages (${fmtBytes(l.maxDdpSglLen * DDP_PAGE_BYTES)} per command), threshold ${fmtBytes(l.ioThresholdBytes)}, ` +
        `CIDs ${l.fullCcidRange ? 'full range (generation bits)' : 'below the queue size'}; nic ${d.nic}; ulp ${d.ulp}; split: ${d.split.reads} reads into ${d.split.commands} commands`,
    );
    const f = d.fallback;
    if (f.socketsRefused + f.readsOverLimits + f.readsRefusedByNic > 0) {
      lines.push(
        `  fallback ${f.socketsRefused} queues not offloaded (sk_add refused), ${f.readsOverLimits} reads over the NIC's limits, ${f.readsRefusedByNic} reads refused at setup: all on the copy path`,
      );
    }
  }
  lines.push(`  port     ${flat(r.port)}`);
  if (r.rxArenas !== undefined) {
    const a = r.rxArenas;
    lines.push(`  arenas   ${a.givenBack} rx arenas lent to the host thread and given back, ${fmtBytes(a.copiedBytes)} copied out to give them back${a.kept > 0 ? `, ${a.kept} kept` : ''}`);
  }
  lines.push(...nicDropLines(r.nic, r.port));
  if (r.impair !== undefined) {
    lines.push(`  impair   seed ${r.impair.config.seed}; toward host: ${describeImpairSpec(r.impair.config.rx)}; from host: ${describeImpairSpec(r.impair.config.tx)}`);
    if (r.impair.config.rx !== undefined) lines.push(`    rx     ${describeImpairStats(r.impair.rx)}`);
    if (r.impair.config.tx !== undefined) lines.push(`    tx     ${describeImpairStats(r.impair.tx)}`);
  }
  if (r.impair !== undefined || (r.targetTcp?.['TcpRetransSegs'] ?? 0) > 0) {
    lines.push(
      `  loss     host: ${r.tcp.ofoQueue} out-of-order, ${r.tcp.dupSegs} duplicate segs, ${r.nic.rx_csum_errors} bad checksums, ` +
        `${r.tcp.dupAcksSent} dup ACKs sent, retransmitted ${r.tcp.retransSegs} (${r.tcp.fastRetrans} fast, ${r.tcp.rtoTimeouts} RTOs)${targetRetrans(r)}`,
    );
    if (usesDdpEngine(r.run.offload)) {
      const n = r.nic;
      lines.push(
        `  resync   lost sync ${n['rx-nvme-tcp-lost-sync']} times; ${n['rx-nvme-tcp-resync-req']} requests, ${n['rx-nvme-tcp-resync']} confirmed, ` +
          `${n['rx-nvme-tcp-resync-unanswered']} unanswered; ${fmtBytes(n['rx-nvme-tcp-unsynced-bytes'])} went by unsynced, ${fmtBytes(r.ddp.notPlacedBytes.lostSync)} of mapped reads not placed`,
      );
    }
  }
  lines.push(r.interrupted === true ? interruptedLine(r) : r.ok ? `  result   PASS${passNote(r.nic, r.port)}` : `  result   FAIL${failReason(r)}`);
  return lines.join('\n');
}

/** An interrupted run's result line: what was done before the signal, neither PASS nor FAIL. */
function interruptedLine(r: RunReport): string {
  const errs = r.workload?.errors.count ?? 0;
  return (
    `  result   INTERRUPTED after ${(r.io.elapsedMs / 1000).toFixed(2)} s: ${r.io.reads + r.io.writes} I/Os, ${fmtBytes(r.verify.bytes)} verified, ` +
    `${r.verify.mismatches} mismatches${errs > 0 ? `, ${errs} I/O errors (commands cut at the stop count too)` : ''}${r.error !== undefined ? `; ${r.error}` : ''}`
  );
}

/**
 * Why a run failed, in its result line: the run's error, else the I/O errors
 * the workload met. A data transfer error under the series' CRC fallback
 * (--ulp linux) with the NIC checking digests is most likely that fallback
 * failing a read answered in several C2HData PDUs (docs/ddp.md).
 */
function failReason(r: RunReport): string {
  if (r.error !== undefined) return `: ${r.error}`;
  const errs = r.workload?.errors;
  if (errs === undefined || errs.count === 0) return '';
  const first = errs.first[0] ?? '';
  const series =
    usesCrcOffload(r.run.offload) && r.ddp.ulp === 'linux' && errs.first.some((e) => /DATA_XFER_ERROR/.test(e))
      ? " (--ulp linux: the series' data-digest fallback fails reads split into several C2HData PDUs that the NIC did not fully verify; --ulp reference checks per PDU: docs/ddp.md)"
      : '';
  return `: ${errs.count} I/O error${errs.count === 1 ? '' : 's'}, first: ${first}${series}`;
}

/** --hostile, checked here so a bad spec is one line before any namespace exists. */
function hostileFromFlag(text: string | undefined, queues: number): string | undefined {
  if (text === undefined) return undefined;
  let spec;
  try {
    spec = parseHostileSpec(text);
  } catch (e) {
    if (e instanceof HostileSpecError) throw new UserError('BAD_FLAG', `--hostile: ${e.message}`);
    throw e;
  }
  if (spec.qid > queues) throw new UserError('BAD_FLAG', `--hostile: I/O queue ${spec.qid}, but the run has ${queues} (--queues)`);
  return formatHostileSpec(spec);
}

export function registerRunCommand(program: Command): void {
  const cmd = program
    .command('run')
    .description('end-to-end run: topology, target (kernel TCP) and host (software NIC + userspace stack) as two processes, verified workload, report');
  addDigestFlag(cmd, 'none');
  addOffloadFlag(cmd, RUN_OFFLOAD_MODES);
  addTargetShapeFlags(cmd)
    .option('--profile <name>', 'target profile: linux or spdk', 'linux')
    .option('--mtu <bytes>', 'MTU of the veth pair', '1500')
    .option('--target-cc <name>', `the target kernel's TCP congestion control towards the host (default ${TARGET_CC}, stock Linux's; e.g. bbr, reno)`);
  addVethOffloadsFlag(cmd, "leave the kernel's TSO/GSO/GRO on the veth pair (host0 then sees super-frames)")
    .option('--capture <file.pcap>', 'capture host0 (both directions) to a pcap file')
    .option('--hash-reads <file>', 'the host writes the SHA-256 of every read to a JSON file (to compare with ddplab replay of the capture)')
    .option('--id <id>', 'run id for the namespaces (default random)')
    .option(
      '--hostile <case[@qid][:after=N]>',
      `hostile target: break one read response on I/O queue QID (default 1) after N intact ones; CASE: ${HOSTILE_CASES.join(', ')}`,
    )
    .option('--output-format <format>', "normal (the report for people, with fio's per-direction blocks) or json (one object: ddplab's sections and fio's layout)")
    .option('--json', 'the same as --output-format json');
  addHostSideFlags(cmd);
  addExternalFlags(cmd);
  cmd.argument('[jobfile]', "a fio job file ([global] + one job; the options ddplab has: docs/run-and-host.md); flags given here override it");
  cmd.action(async (jobfile: string | undefined) => {
    if (jobfile !== undefined) {
      const job = readFioJobFile(jobfile);
      for (const n of job.notices) process.stderr.write(`ddplab: ${n}\n`);
      applyJobFile(cmd, job);
    }
    const flags = cmd.opts<RunFlags>();
    checkExternalFlags(cmd);
    if (cmd.getOptionValue('target') !== undefined) return runExternalCommand(cmd, { progress: progressBar(), humanReport });
    const format = outputFormatFromFlags(flags);
    const order = parseOrder(flags.order);
    const profile = flags.profile;
    if (profile !== 'linux' && profile !== 'spdk') throw new UserError('BAD_FLAG', `--profile: '${profile}' is not linux or spdk`);
    const workload = workloadFromFlags(flags);
    checkTargetShape(flags);
    if (flags.capture !== undefined) checkOutputPath('--capture', flags.capture);
    if (flags.hashReads !== undefined) checkOutputPath('--hash-reads', flags.hashReads);
    const impair = impairFromFlags(flags, workload.seed ?? 1);
    const queues = intFlag('queues', flags.queues, 1, 128);
    const hostile = hostileFromFlag(flags.hostile, queues);
    const offload = parseOffloadMode(flags.offload);
    checkZcrxFlags(flags, offload);
    const ddpSettings = ddpHostFromFlags(flags);
    const bar = progressBar();
    // The run itself (topology, children, the NIC's settings) only now: --help and the checks above load none of it.
    const { run } = await import('../lab/run.js');
    const report = await run({
      workload,
      ...(impair !== undefined ? { impair } : {}),
      queues,
      digest: parseDigest(flags.digest),
      offload,
      devmem: devmemFromFlags(flags, offload),
      ddpSettings,
      ...(flags.nicThread === false ? { nicThread: false } : {}),
      ...(flags.gro === false ? { gro: false } : {}),
      order,
      interleave: flags.interleave === true,
      c2hSize: flags.c2hSize,
      profile,
      mtu: intFlag('mtu', flags.mtu, 576, 65535),
      vethOffloads: vethOffloadsFromFlags(flags),
      ...(flags.targetCc !== undefined ? { targetCc: flags.targetCc } : {}),
      ...(flags.capture !== undefined ? { capture: flags.capture } : {}),
      ...(flags.hashReads !== undefined ? { hashReads: flags.hashReads } : {}),
      ...(flags.id !== undefined ? { id: flags.id } : {}),
      ...(hostile !== undefined ? { targetArgs: ['--hostile', hostile] } : {}),
      timeouts: timeoutsFromFlags(flags),
      onProgress: bar.update,
    });
    bar.done();
    if (format === 'json') process.stdout.write(`${JSON.stringify(report)}\n`);
    else process.stdout.write(`${humanReport(report)}\n`);
    // Interrupted (SIGINT/SIGTERM): the partial report, and the signal's exit code (130, 143).
    if (report.interrupted === true) process.exitCode = signalExitCode(receivedSignal() ?? 'SIGINT');
    else if (!report.ok) {
      if (format !== 'json' || report.error === undefined) process.exitCode = 1;
      if (report.error !== undefined) throw new UserError('RUN_FAILED', report.error);
    }
  });
}
