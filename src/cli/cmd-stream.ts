/**
 * `ddplab stream --offload none|devmem-tcp|zcrx-tcp --size 256m [--validate N]
 * [--mtu B] [--json]`: a plain TCP stream from the target namespace's kernel
 * TCP to the host's userspace stack, every byte checked against ncdevmem's
 * validation pattern where it lies (src/lab/stream, src/host/stream). Exit 0
 * only when every byte arrived and matched.
 *
 * The two children it starts are the same command with a hidden role:
 * `--send-on IP:PORT` (the kernel TCP sender, in the target namespace) and
 * `--receive-from IP:PORT` (the receiver, in the host namespace).
 */
import { Option, type Command } from 'commander';
import { STREAM_OFFLOAD_MODES, parseOffloadMode } from '../host/offload-mode.js';
import { parsePatternPeriod } from '../host/stream/pattern.js';
import { parseSizeBytes } from '../host/workload/options.js';
import type { StreamRunReport } from '../lab/stream/stream-run.js';
import { UserError } from '../base/errors.js';

interface StreamFlags {
  offload: string;
  size: string;
  validate: string;
  mtu: string;
  mem?: string;
  json?: boolean;
  sendOn?: string;
  receiveFrom?: string;
  iface?: string;
  hostIp?: string;
}

export const STREAM_DESCRIPTION =
  "a plain TCP stream from the target namespace's kernel TCP to the userspace host, received by copy, devmem tokens or io_uring zero-copy receive, every byte checked against ncdevmem's validation pattern";

function size(text: string): number {
  let n: number;
  try {
    n = parseSizeBytes(text, '--size');
  } catch {
    throw new UserError('BAD_FLAG', `--size: '${text}' is not a size like 16m, 256m, 1g`);
  }
  if (n < 1) throw new UserError('BAD_FLAG', `--size: '${text}' must be at least 1 byte`);
  return n;
}

function memSize(text: string): number {
  let n: number;
  try {
    n = parseSizeBytes(text, '--mem');
  } catch {
    n = NaN;
  }
  if (!(n >= 4096) || n % 4096 !== 0) throw new UserError('BAD_FLAG', `--mem: ${text} is not a positive multiple of 4 KiB`);
  return n;
}

function mtu(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 576 || n > 65535) throw new UserError('BAD_FLAG', `--mtu: '${text}' is not an MTU in 576..65535`);
  return n;
}

function mib(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
}

/** The human report: one line per figure. */
export function formatStreamReport(r: StreamRunReport): string {
  const lines = [
    `ddplab stream: offload ${r.mode}, ${mib(r.expectBytes)} of the ncdevmem pattern (-v ${r.validate}), MTU ${r.mtu}`,
    `received        ${r.receivedBytes} B (${mib(r.receivedBytes)})`,
    `verified        ${r.verifiedBytes} B, ${r.mismatches} mismatches${r.firstMismatch >= 0 ? ` (first at byte ${r.firstMismatch})` : ''}`,
    `host copied     headers ${mib(r.host.headerBytes)} (L2-L4 of ${r.host.segments} segments, in the skb head), payload ${mib(r.host.payloadCopiedBytes)}`,
    `zero-copy       ${mib(r.zeroCopyBytes)} of payload read where the NIC put it`,
  ];
  if (r.devmem !== undefined) {
    const d = r.devmem;
    lines.push(`tokens          ${d.tokensIssued} issued, ${d.tokensReturned} returned by ${d.dontneedCalls} SO_DEVMEM_DONTNEED calls, ${d.tokensOutstanding} outstanding at the end`);
    lines.push(`linear          ${mib(d.linearBytes)} linear, ${mib(d.plainBytes)} ordinary (copied)`);
  }
  if (r.zcrx !== undefined) {
    const z = r.zcrx;
    lines.push(`CQEs            ${z.cqes} (${z.zcCqes} zero-copy, ${z.copyFallbackCqes} copy fallback), area ${mib(z.areaBytes)}, refill ring ${z.rqEntries}`);
    lines.push(`copy fallback   ${mib(z.copyFallbackBytes)} (linear ${mib(z.copyFallbackLinearBytes)}, frags ${mib(z.copyFallbackFragBytes)}); ENOMEM ${z.ENOMEM}, ENOSPC ${z.ENOSPC}, re-armed ${z.rearms}`);
    lines.push(`refill entries  ${z.refillEntries} (ring full ${z.refillFull} times)`);
  }
  if (r.pool !== undefined) lines.push(`page pool       ${r.pool.pages} pages, alloc ${r.pool.alloc}, alloc-empty ${r.pool['alloc-empty']}, ring-consumed ${r.pool['ring-consumed']}`);
  lines.push(`throughput      ${r.MBps.toFixed(1)} MB/s (${(r.elapsedMs / 1000).toFixed(2)} s; receiver CPU ${((r.cpu.userMs + r.cpu.systemMs) / 1000).toFixed(2)} s)`);
  lines.push(`result          ${r.ok ? 'PASS' : `FAIL: ${r.error ?? 'unknown'}`}`);
  return lines.join('\n');
}

export function registerStreamCommand(program: Command): void {
  program
    .command('stream')
    .description(STREAM_DESCRIPTION)
    .option('--offload <mode>', `how the host receives: ${STREAM_OFFLOAD_MODES.join(', ')}`, 'none')
    .option('--size <bytes>', 'bytes the sender sends (16m, 256m, 1g)', '256m')
    .option('--validate <N>', "ncdevmem's -v N: the pattern is the bytes 1..N-1 and a newline, repeated (2..256)", '7')
    .option('--mtu <bytes>', 'MTU of the veth pair', '1500')
    .option('--mem <bytes>', 'dmabuf / zcrx area size (default 64m)')
    .option('--json', 'print the report as JSON')
    .addOption(new Option('--send-on <ip:port>', 'child role: the kernel TCP sender').hideHelp())
    .addOption(new Option('--receive-from <ip:port>', 'child role: the receiver').hideHelp())
    .addOption(new Option('--iface <name>', 'child role: the receiver interface').default('host0').hideHelp())
    .addOption(new Option('--host-ip <ip>', "child role: the receiver's address").default('192.0.2.2').hideHelp())
    .action(async (flags: StreamFlags) => {
      const mode = parseOffloadMode(flags.offload, STREAM_OFFLOAD_MODES);
      const bytes = size(flags.size);
      const validate = parsePatternPeriod(flags.validate);
      const memBytes = flags.mem !== undefined ? memSize(flags.mem) : undefined;
      const mtuBytes = mtu(flags.mtu);
      // The lab (topology, NIC, host stack, libpcap) only now: --help and the checks above load none of it.
      const { parseTargetAddress } = await import('../lab/target-address.js');
      if (flags.sendOn !== undefined) {
        const { runStreamSender } = await import('../lab/stream/sender.js');
        const at = parseTargetAddress(flags.sendOn);
        const r = await runStreamSender({ ip: at.ip, port: at.port, size: bytes, validate }, (l) => console.log(l));
        console.log(JSON.stringify(r));
        return;
      }
      if (flags.receiveFrom !== undefined) {
        const { streamReceiverRun } = await import('../lab/stream/receiver-run.js');
        const at = parseTargetAddress(flags.receiveFrom);
        const r = await streamReceiverRun({
          mode,
          validate,
          expectBytes: bytes,
          ...(memBytes !== undefined ? { memBytes } : {}),
          iface: flags.iface ?? 'host0',
          hostIp: flags.hostIp ?? '192.0.2.2',
          targetIp: at.ip,
          targetPort: at.port,
        });
        console.log(JSON.stringify(r));
        process.exitCode = r.ok ? 0 : 1;
        return;
      }
      const { streamRun } = await import('../lab/stream/stream-run.js');
      const r = await streamRun({
        mode,
        size: bytes,
        validate,
        mtu: mtuBytes,
        ...(memBytes !== undefined ? { memBytes } : {}),
        ...(flags.json === true ? {} : { log: (l: string) => process.stderr.write(`${l}\n`) }),
      });
      console.log(flags.json === true ? JSON.stringify(r, null, 2) : formatStreamReport(r));
      process.exitCode = r.ok ? 0 : 1;
    });
}
