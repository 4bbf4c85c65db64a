/**
 * The live topology of one run (docs/design.md, "The picture"), driven through
 * the root scripts in netns/ — they are the single source of truth; this
 * module only calls them and reads what they report.
 *
 *   netns ddplab-<id>-tgt   tgt0  192.0.2.1/24  ◄── veth ──►  host0 (no address)  netns ddplab-<id>-host
 *
 * withTopology() is how commands and tests use it: the topology is removed
 * on success, on error, on SIGINT/SIGTERM and on process.exit(). Only
 * SIGKILL escapes; `ddplab down --all` cleans up after that, and leaves the
 * topologies of runs still alive (each records its owner pid) alone.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { execa, execaSync, ExecaError } from 'execa';
import { UserError } from '../base/errors.js';
import { TARGET_CC } from './target-cc.js';
import { requireNetAdmin } from './privileges.js';
import { activeInterrupt, INTERRUPT_SIGNALS } from './interrupt.js';

/** The target's kernel address (on tgt0). */
export const TARGET_IP = '192.0.2.1';
/** The address ddplab's userspace host stack owns on host0. */
export const HOST_IP = '192.0.2.2';
export const PREFIX_LEN = 24;
export const TGT_IF = 'tgt0';
export const HOST_IF = 'host0';

/** Same rule as netns/lib.sh: short, so derived names stay valid. */
const ID_RE = /^[a-z0-9]{1,8}$/;

const NETNS_DIR = fileURLToPath(new URL('../../netns/', import.meta.url));

export type TopologySide = 'tgt' | 'host';

export interface TopologyOptions {
  /** Run id, [a-z0-9]{1,8}; default: a fresh random one. */
  readonly id?: string;
  /** MTU of both veth ends (default 1500). */
  readonly mtu?: number;
  /** Leave the kernel's TSO/GSO/GRO on the veth pair (default false: host0 sees wire-sized frames). */
  readonly vethOffloads?: boolean;
  /** Leave tx checksum offload on on tgt0 (default false: frames carry full checksums). */
  readonly txChecksum?: boolean;
  /**
   * The target kernel's TCP congestion control towards the host, set on
   * tgt0's subnet route (default TARGET_CC, stock Linux's default, whatever
   * the machine's own default is): any the kernel has registered.
   */
  readonly targetCc?: string;
  /**
   * The process running with this topology: while it lives, `down --all`
   * leaves the topology alone. Default: this process (so a topology a test
   * or a benchmark builds is not taken for a crashed run's by another run's
   * `down --all`). 'manual': built by hand (`ddplab up`) for later commands,
   * kept by `down --all` until `down --id` or `--all --force`.
   */
  readonly ownerPid?: number | 'manual';
}

export interface Topology {
  readonly id: string;
  readonly tgtNs: string;
  readonly hostNs: string;
  readonly tgtIf: string;
  readonly hostIf: string;
  /** MAC of tgt0, as the kernel chose it. */
  readonly tgtMac: string;
  /** MAC of host0: the one the userspace host stack uses by default. */
  readonly hostMac: string;
  readonly mtu: number;
  readonly targetIp: string;
  readonly hostIp: string;
  readonly prefixLen: number;
  /** The target kernel's congestion control towards the host (TopologyOptions.targetCc). */
  readonly targetCc: string;
}

/** What netns/status.sh --json reports per side. */
export interface TopologySideStatus {
  readonly ns: string;
  readonly exists: boolean;
  /** Processes running inside the namespace. */
  readonly pids: number;
  readonly link: { readonly name: string; readonly mac: string; readonly mtu: number; readonly up: boolean } | null;
}

export interface TopologyStatus {
  readonly id: string;
  /** Both namespaces and both veth ends exist. */
  readonly complete: boolean;
  /** Pid of the run that made it, if it recorded one. */
  readonly owner: number | null;
  /** That run is still alive (so `down --all` keeps the topology). */
  readonly ownerAlive: boolean;
  /** Built by hand (`ddplab up`): `down --all` keeps it. */
  readonly manual: boolean;
  readonly tgt: TopologySideStatus;
  readonly host: TopologySideStatus;
}

/** A fresh run id: 6 random base-36 characters. */
export function newTopologyId(): string {
  const bytes = randomBytes(6);
  let id = '';
  for (const b of bytes) id += (b % 36).toString(36);
  return id;
}

export function checkTopologyId(id: string): void {
  if (!ID_RE.test(id)) throw new UserError('BAD_ID', `bad run id "${id}": use 1 to 8 characters from [a-z0-9]`);
}

export function namespaceName(id: string, side: TopologySide): string {
  return `ddplab-${id}-${side}`;
}

/** Path of a script in netns/. */
export function netnsScript(name: 'up.sh' | 'down.sh' | 'status.sh' | 'exec.sh' | 'host-kernel-rx.sh'): string {
  return `${NETNS_DIR}${name}`;
}

/**
 * The command line that runs `command` inside one namespace of run `id`
 * (through netns/exec.sh), for execa or child_process: `execa(c.file, c.args)`.
 */
export function netnsCommand(id: string, side: TopologySide, command: readonly string[]): { file: string; args: string[] } {
  checkTopologyId(id);
  return { file: netnsScript('exec.sh'), args: [id, side, '--', ...command] };
}

/** Runs a netns/ script; a failure becomes one UserError line with the script's own message. */
async function runScript(name: 'up.sh' | 'down.sh' | 'status.sh' | 'host-kernel-rx.sh', args: readonly string[]): Promise<string> {
  try {
    const r = await execa(netnsScript(name), args, { stdin: 'ignore' });
    return r.stdout;
  } catch (e) {
    throw scriptError(name, e);
  }
}

function scriptError(name: string, e: unknown): Error {
  if (e instanceof ExecaError) {
    const stderr: unknown = e.stderr;
    const text = typeof stderr === 'string' ? stderr.trim() : '';
    const last = text.split('\n').filter((l: string) => l.trim() !== '').pop();
    return new UserError('NETNS_FAILED', `netns/${name} failed: ${last ?? e.shortMessage}`);
  }
  return e instanceof Error ? e : new Error(String(e));
}

/** Builds (or finds, if already complete) the topology of a run. Needs root. */
export async function topologyUp(opts: TopologyOptions = {}): Promise<Topology> {
  const id = opts.id ?? newTopologyId();
  checkTopologyId(id);
  const mtu = opts.mtu ?? 1500;
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
    throw new UserError('BAD_MTU', `bad MTU ${mtu}: use 68..65535 (1500 by default, 9000 for jumbo frames)`);
  }
  const targetCc = opts.targetCc ?? TARGET_CC;
  if (!/^[a-z0-9_]{1,15}$/.test(targetCc)) {
    throw new UserError('BAD_CC', `bad congestion control "${targetCc}": a name such as cubic, reno or bbr`);
  }
  requireNetAdmin('ddplab up');
  await runScript('up.sh', [
    id,
    '--mtu',
    String(mtu),
    '--offloads',
    opts.vethOffloads ? 'on' : 'off',
    '--tx-csum',
    opts.txChecksum ? 'on' : 'off',
    '--target-cc',
    targetCc,
    '--owner',
    String(opts.ownerPid ?? process.pid),
  ]);
  const [status] = await topologyStatus(id);
  if (status === undefined || !status.complete || status.tgt.link === null || status.host.link === null) {
    throw new UserError('NETNS_FAILED', `netns/up.sh ${id} finished but the topology is incomplete (see: ddplab status)`);
  }
  return {
    id,
    tgtNs: status.tgt.ns,
    hostNs: status.host.ns,
    tgtIf: TGT_IF,
    hostIf: HOST_IF,
    tgtMac: status.tgt.link.mac,
    hostMac: status.host.link.mac,
    mtu: status.host.link.mtu,
    targetIp: TARGET_IP,
    hostIp: HOST_IP,
    prefixLen: PREFIX_LEN,
    targetCc,
  };
}

/**
 * Whether the host namespace's kernel receives host0's frames. `up` keeps
 * it out of them (a tc ingress drop after the packet taps, netns/lib.sh):
 * the userspace stack owns host0, and the kernel would only climb its IPv4
 * path to drop each frame. On for a kernel lent an address (bench:e2e's
 * iperf3 baseline), off again after.
 */
export async function setHostKernelRx(id: string, on: boolean): Promise<void> {
  checkTopologyId(id);
  requireNetAdmin('ddplab host-kernel-rx');
  await runScript('host-kernel-rx.sh', [id, on ? 'on' : 'off']);
}

/** Removes the topology of run `id` (and ends processes left inside it); no-op if absent. Returns the namespaces removed. */
export async function topologyDown(id: string): Promise<string[]> {
  checkTopologyId(id);
  requireNetAdmin('ddplab down');
  return removedNamespaces(await runScript('down.sh', [id]));
}

/**
 * Removes every ddplab-<id>-tgt|host namespace whose run is gone (killed with
 * SIGKILL, crashed); with `force`, live runs' and hand-built ones too.
 * Returns the namespaces removed, the ids kept because their run lives, and
 * those kept because `ddplab up` built them by hand (somebody's, on purpose).
 */
export async function topologyDownAll(force = false): Promise<{ removed: string[]; kept: string[]; keptManual: string[] }> {
  requireNetAdmin('ddplab down --all');
  const stdout = await runScript('down.sh', force ? ['--all', '--force'] : ['--all']);
  const kept: string[] = [];
  const keptManual: string[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^kept ddplab-([a-z0-9]+) \((built by ddplab up)?/.exec(line.trim());
    if (m) (m[2] !== undefined ? keptManual : kept).push(m[1]!);
  }
  return { removed: removedNamespaces(stdout), kept, keptManual };
}

function removedNamespaces(stdout: string): string[] {
  const out: string[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^removed (\S+)$/.exec(line.trim());
    if (m) out.push(m[1]!);
  }
  return out;
}

/** What exists now, per run id (all runs, or one). */
export async function topologyStatus(id?: string): Promise<TopologyStatus[]> {
  if (id !== undefined) checkTopologyId(id);
  requireNetAdmin('ddplab status');
  const stdout = await runScript('status.sh', id === undefined ? ['--json'] : [id, '--json']);
  return parseStatus(stdout);
}

/** Narrows status.sh's JSON once, at the boundary. */
export function parseStatus(text: string): TopologyStatus[] {
  const data: unknown = JSON.parse(text);
  if (!Array.isArray(data)) throw new Error('netns/status.sh --json: expected an array');
  return data.map((entry: unknown): TopologyStatus => {
    const e = entry as Record<string, unknown>;
    if (typeof e.id !== 'string' || typeof e.complete !== 'boolean' || typeof e.ownerAlive !== 'boolean') {
      throw new Error('netns/status.sh --json: entry without id/complete/ownerAlive');
    }
    const owner = typeof e.owner === 'number' ? e.owner : null;
    return { id: e.id, complete: e.complete, owner, ownerAlive: e.ownerAlive, manual: e.manual === true, tgt: parseSide(e.tgt), host: parseSide(e.host) };
  });
}

function parseSide(value: unknown): TopologySideStatus {
  const s = value as Record<string, unknown>;
  if (typeof s.ns !== 'string' || typeof s.exists !== 'boolean' || typeof s.pids !== 'number') {
    throw new Error('netns/status.sh --json: bad side entry');
  }
  let link: TopologySideStatus['link'] = null;
  if (s.link !== null && typeof s.link === 'object') {
    const l = s.link as Record<string, unknown>;
    if (typeof l.name !== 'string' || typeof l.mac !== 'string' || typeof l.mtu !== 'number' || typeof l.up !== 'boolean') {
      throw new Error('netns/status.sh --json: bad link entry');
    }
    link = { name: l.name, mac: l.mac, mtu: l.mtu, up: l.up };
  }
  return { ns: s.ns, exists: s.exists, pids: s.pids, link };
}

const EXIT_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Builds a topology, runs `fn` with it, and removes it however `fn` ends:
 * resolve, reject, SIGINT/SIGTERM/SIGHUP (removed synchronously, then the
 * signal is raised again so the process dies of it as it would have), or a
 * process.exit() inside `fn`.
 *
 * Inside an interrupt scope (interrupt.ts, `ddplab run`) SIGINT and SIGTERM
 * are the scope's: the first asks `fn` to stop and report, and the topology
 * goes when `fn` returns, as on any other return; a second signal (or a run
 * that does not stop in time) removes it synchronously before the scope
 * exits. SIGHUP and process.exit() remove it as above.
 */
export async function withTopology<T>(opts: TopologyOptions, fn: (topo: Topology) => Promise<T>): Promise<T> {
  const id = opts.id ?? newTopologyId();
  checkTopologyId(id);
  requireNetAdmin('ddplab up');
  let removed = false;
  const removeSync = (): void => {
    if (removed) return;
    removed = true;
    try {
      execaSync(netnsScript('down.sh'), [id], { stdin: 'ignore', stdout: 'ignore' });
    } catch {
      // nothing more can be done on the way out; `ddplab down --all` remains
    }
  };
  const interrupt = activeInterrupt();
  const ownSignals = EXIT_SIGNALS.filter((s) => interrupt === undefined || !INTERRUPT_SIGNALS.includes(s));
  const onSignal = (signal: NodeJS.Signals): void => {
    uninstall();
    removeSync();
    process.kill(process.pid, signal);
  };
  const onExit = (): void => removeSync();
  const offHardExit = interrupt?.onHardExit(removeSync);
  const uninstall = (): void => {
    for (const s of ownSignals) process.off(s, onSignal);
    process.off('exit', onExit);
    offHardExit?.();
  };
  for (const s of ownSignals) process.on(s, onSignal);
  process.on('exit', onExit);
  // The handlers stay until the removal is done: a signal during the
  // (asynchronous) removal still removes the topology, synchronously.
  let result: T;
  try {
    const topo = await topologyUp({ ...opts, id, ownerPid: process.pid });
    result = await fn(topo);
  } catch (e) {
    // The first error is the one to report; a failing removal must not hide it.
    if (!removed) await topologyDown(id).catch(() => undefined);
    removed = true;
    uninstall();
    throw e;
  }
  try {
    if (!removed) await topologyDown(id);
    removed = true;
  } finally {
    uninstall();
  }
  return result;
}
