/**
 * `ddplab run --target ADDR:PORT`: external-target mode. The software NIC,
 * the userspace host stack and the NVMe/TCP host run on an interface the
 * user names (a physical NIC, a veth, a tap bridged to a VM) against a
 * target ddplab did not start — Linux nvmet-tcp, SPDK, or a ddplab target
 * somewhere else. No topology is built or torn down: this is `ddplab host`
 * (hostRun) in this process, plus the choice of what the target's
 * namespace is expected to hold, and the same report as a topology run.
 *
 * What the namespace holds is the user's to say (--verify):
 *   pattern:SEED  a ddplab target started with --seed SEED: unwritten blocks
 *                 hold src/wire/block-pattern.ts for SEED;
 *   file:PATH     a target serving a known image: unwritten blocks hold
 *                 PATH's bytes at the same offset;
 *   readback      unknown content: the host first writes the job's range,
 *                 then the job reads it back (every read checks bytes this
 *                 run wrote);
 *   none          reads are not checked.
 * Blocks the run itself writes are checked against what it wrote, in every
 * mode but none.
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { resolve } from 'node:path';
import type { BlockImage, WorkloadOptions } from '../host/workload/options.js';
import type { WorkloadProgress } from '../host/workload/workload.js';
import type { ImpairConfig } from '../nicemu/port/impair.js';
import { ipToString, parseIpv4Addr } from '../wire/ipv4.js';
import { UserError } from '../base/errors.js';
import type { OffloadMode } from '../host/offload-mode.js';
import type { DevmemRunOptions } from './devmem-host.js';
import type { DigestChoice, HostRunReport } from './host-run.js';
import { prefixMask, sameSubnet } from './target-address.js';
import { runReportFromHost, type RunReport } from './run-report.js';
import { withInterrupt } from './interrupt.js';

/** Where the expected content of the target's namespace comes from. */
export type VerifySource =
  | { readonly kind: 'pattern'; readonly seed: number }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'readback' }
  | { readonly kind: 'none' };

const VERIFY_HELP = 'pattern:SEED (a ddplab target started with --seed SEED), file:PATH (a target serving that image), readback (write, then read back) or none';

/** The --verify flag. */
export function parseVerifySource(text: string): VerifySource {
  if (text === 'readback') return { kind: 'readback' };
  if (text === 'none') return { kind: 'none' };
  const pattern = /^pattern:(\d+|0x[0-9a-f]+)$/i.exec(text);
  if (pattern !== null) {
    const seed = Number(pattern[1]);
    if (!Number.isSafeInteger(seed) || seed > 0xffff_ffff) throw new UserError('BAD_FLAG', `--verify ${text}: the seed is not a u32`);
    return { kind: 'pattern', seed };
  }
  if (text.startsWith('file:') && text.length > 'file:'.length) return { kind: 'file', path: text.slice('file:'.length) };
  throw new UserError('BAD_FLAG', `--verify: '${text}' is not one of ${VERIFY_HELP}`);
}

export function describeVerifySource(v: VerifySource): string {
  switch (v.kind) {
    case 'pattern':
      return `pattern:${v.seed}`;
    case 'file':
      return `file:${v.path}`;
    case 'readback':
    case 'none':
      return v.kind;
  }
}

/** Our address on the link with its prefix length ("192.0.2.2/24"). */
export interface HostAddress {
  readonly ip: string;
  readonly prefixLen: number;
}

/** The --host-ip flag of external mode: A.B.C.D/LEN (the prefix decides whether the target is reached directly or through the gateway). */
export function parseHostAddress(text: string): HostAddress {
  const m = /^(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?$/.exec(text.trim());
  if (m === null) throw new UserError('BAD_FLAG', `--host-ip: '${text}' is not A.B.C.D/LEN`);
  if (m[2] === undefined) {
    throw new UserError('BAD_FLAG', `--host-ip ${text} has no prefix length: give A.B.C.D/LEN, e.g. ${text}/24 (it tells whether the target is on the link or behind --gateway)`);
  }
  const prefixLen = Number(m[2]);
  if (prefixLen > 32) throw new UserError('BAD_FLAG', `--host-ip ${text}: prefix length ${prefixLen} is not in 0..32`);
  checkIpv4('host-ip', m[1]!);
  return { ip: m[1]!, prefixLen };
}

function checkIpv4(flag: string, text: string): number {
  try {
    return parseIpv4Addr(text);
  } catch {
    throw new UserError('BAD_FLAG', `--${flag}: '${text}' is not an IPv4 address`);
  }
}

/**
 * The next hop toward `targetIp`: the target itself on our subnet, else the
 * gateway, which must be on our subnet. UserError when there is none.
 */
export function externalNextHop(host: HostAddress, targetIp: string, gateway: string | undefined): string {
  const self = checkIpv4('host-ip', host.ip);
  const subnet = `${ipToString((self & prefixMask(host.prefixLen)) >>> 0)}/${host.prefixLen}`;
  if (gateway !== undefined && !sameSubnet(checkIpv4('gateway', gateway), self, host.prefixLen)) {
    throw new UserError('BAD_FLAG', `--gateway ${gateway} is not in ${subnet}, the subnet of --host-ip`);
  }
  if (sameSubnet(checkIpv4('target', targetIp), self, host.prefixLen)) return targetIp;
  if (gateway === undefined) throw new UserError('NO_ROUTE', `target ${targetIp} is not in ${subnet} and no --gateway was given`);
  return gateway;
}

/** A file as the expected content of the namespace (read on demand, never loaded whole). */
export interface FileImage extends BlockImage {
  close(): void;
}

export function openFileImage(path: string): FileImage {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new UserError('VERIFY_FILE', `--verify file:${path}: cannot open it (${code})`);
  }
  const st = fstatSync(fd);
  if (!st.isFile() && !st.isBlockDevice()) {
    closeSync(fd);
    throw new UserError('VERIFY_FILE', `--verify file:${path}: not a regular file or block device`);
  }
  return {
    name: `file:${path}`,
    sizeBytes: st.size,
    read(byteOffset: number, out: Buffer): void {
      let done = 0;
      while (done < out.length) {
        const n = readSync(fd, out, done, out.length - done, byteOffset + done);
        if (n === 0) break;
        done += n;
      }
      // Past the end of the image (resolveWorkload refuses a short image; this is the file shrinking under us).
      if (done < out.length) out.fill(0, done);
    },
    close: () => closeSync(fd),
  };
}

/**
 * The workload with the verification `verify` asks for. Readback bounds the
 * range to the job size (it is written once before the job), so it needs a
 * size.
 */
export function workloadForVerify(w: WorkloadOptions, verify: VerifySource, image?: BlockImage): WorkloadOptions {
  switch (verify.kind) {
    case 'pattern':
      return { ...w, verify: true, patternSeed: verify.seed, baseline: { kind: 'pattern' } };
    case 'file':
      if (image === undefined) throw new Error('workloadForVerify: file verification without its image');
      return { ...w, verify: true, baseline: { kind: 'image', image } };
    case 'readback':
      if (w.size === undefined) throw new UserError('BAD_FLAG', '--verify readback needs --size: the range it writes first, then reads back');
      return { ...w, verify: true, baseline: { kind: 'unknown' }, prefill: true, range: w.range ?? w.size };
    case 'none':
      return { ...w, verify: false };
  }
}

export interface ExternalRunOptions {
  readonly targetIp: string;
  readonly targetPort: number;
  readonly nqn: string;
  readonly iface: string;
  readonly host: HostAddress;
  readonly gateway?: string;
  readonly hostMac?: string;
  readonly queues: number;
  readonly queueDepth?: number;
  readonly digest: DigestChoice;
  readonly offload?: OffloadMode;
  readonly devmem?: DevmemRunOptions;
  readonly workload: WorkloadOptions;
  readonly verify: VerifySource;
  readonly impair?: ImpairConfig;
  readonly capture?: string;
  readonly hashReads?: string;
  /** The software NIC on its own thread (default true). */
  readonly nicThread?: boolean;
  /** Linux's GRO on the NIC thread (default true). */
  readonly gro?: boolean;
  /** Accept TCP checksums left partial by a sender's offloads (a veth or tap whose peer has tx-csum on); default true. */
  readonly acceptPartialChecksums?: boolean;
  /** How long the host waits for the target: each bring-up step, each I/O command (default: hostRun's). */
  readonly connectTimeoutMs?: number;
  readonly ioTimeoutMs?: number;
  readonly onProgress?: (p: WorkloadProgress) => void;
  readonly log?: (line: string) => void;
  /** Stops the run with a report (default: SIGINT/SIGTERM, interrupt.ts). */
  readonly signal?: AbortSignal;
}

/** What external mode adds to the run report (the target's own stats are not ours to read). */
export interface ExternalTargetInfo {
  readonly target: string;
  readonly nqn: string;
  readonly iface: string;
  readonly hostIp: string;
  readonly gateway?: string;
  /** The address ARP resolved: the target, or the gateway. */
  readonly nextHop: string;
  readonly verify: string;
}

/** A topology run's report without target/targetTcp, plus `external`. */
export interface ExternalRunReport extends RunReport {
  readonly external: ExternalTargetInfo;
}

/** Runs the host against an external target; connection failures come back as ok:false with one-line `error` (and no workload). */
export async function runExternal(o: ExternalRunOptions): Promise<ExternalRunReport> {
  // The user's mistakes first (they need no privilege to be found), then what the machine lacks.
  // (privileges.js reaches the libpcap port module: loaded only when a run starts, not for --help.)
  const { requireInterface, requireNetRaw } = await import('./privileges.js');
  requireInterface(o.iface, 'external mode runs on an existing interface (see ip link)');
  const nextHop = externalNextHop(o.host, o.targetIp, o.gateway);
  requireNetRaw('ddplab run --target');
  // libpcap is checked by the host as it starts its NIC (the addon loads once per process, in the NIC's thread).
  const mtu = Number(readFileSync(`/sys/class/net/${o.iface}/mtu`, 'utf8').trim());
  const image = o.verify.kind === 'file' ? openFileImage(o.verify.path) : undefined;
  // The host itself (NIC, stack, pcap) only now: the flags' checks above import none of it.
  const { hostRun } = await import('./host-run.js');
  let hr: HostRunReport;
  try {
    const workload = workloadForVerify(o.workload, o.verify, image);
    // SIGINT/SIGTERM stop the workload with a report (no topology here to remove; a second signal quits at once).
    hr = await withInterrupt((interrupt) =>
      hostRun(
        {
          signal: o.signal ?? interrupt.signal,
          iface: o.iface,
          hostIp: o.host.ip,
          prefixLen: o.host.prefixLen,
          ...(o.gateway !== undefined ? { gateway: o.gateway } : {}),
          ...(o.hostMac !== undefined ? { hostMac: o.hostMac } : {}),
          targetIp: o.targetIp,
          targetPort: o.targetPort,
          nqn: o.nqn,
          queues: o.queues,
          ...(o.queueDepth !== undefined ? { queueDepth: o.queueDepth } : {}),
          digest: o.digest,
          offload: o.offload ?? 'none',
          ...(o.devmem !== undefined ? { devmem: o.devmem } : {}),
          workload,
          ...(o.impair !== undefined ? { impair: o.impair } : {}),
          ...(o.hashReads !== undefined ? { hashReads: resolve(o.hashReads) } : {}),
          ...(o.capture !== undefined ? { capture: resolve(o.capture) } : {}),
          acceptPartialChecksums: o.acceptPartialChecksums ?? true,
          // Someone else's peer: its TSO/GSO super-frames may reach the interface whole.
          superFrames: true,
          ...(o.nicThread === false ? { nicThread: false } : {}),
          ...(o.gro === false ? { gro: false } : {}),
          ...(o.connectTimeoutMs !== undefined ? { connectTimeoutMs: o.connectTimeoutMs } : {}),
          ...(o.ioTimeoutMs !== undefined ? { ioTimeoutMs: o.ioTimeoutMs } : {}),
          ...(o.log !== undefined ? { log: o.log } : {}),
        },
        o.onProgress,
      ),
    );
  } finally {
    image?.close();
  }
  return {
    ...runReportFromHost(hr, {
      id: 'external',
      mtu,
      digest: o.digest,
      offload: o.offload ?? 'none',
      // Properties of a target ddplab starts; an external target's are its own.
      order: 'external',
      interleave: false,
      c2hSize: 'external',
      profile: 'external',
      queues: o.queues,
    }),
    external: {
      target: `${o.targetIp}:${o.targetPort}`,
      nqn: o.nqn,
      iface: o.iface,
      hostIp: `${o.host.ip}/${o.host.prefixLen}`,
      ...(o.gateway !== undefined ? { gateway: o.gateway } : {}),
      nextHop,
      verify: describeVerifySource(o.verify),
    },
  };
}
