/**
 * A peer lab: the Linux peer harness's unit of setup and cleanup. It checks
 * the machine, prepares the guest kernel, makes a temp dir and the peer
 * network, and starts VMs on it; close() (or any exit path, see cleanup.ts)
 * stops every VM it started and removes every namespace and file it made.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onCleanup } from './cleanup.js';
import { preparePeerKernel, type PeerKernel } from './kernel.js';
import { LinuxHostVm, type LinuxHostOptions } from './linux-host.js';
import { LinuxTargetVm, type LinuxTargetOptions } from './linux-target.js';
import { PEER_NS_RE, PeerNet, peerNamespaces, removeNamespace, type LegOptions } from './net.js';
import { missingPeerRequirements, PeerMissing, staticBusybox } from './requirements.js';

/** The peer network's subnet (TEST-NET-2, inside the lab's namespaces only). */
export const PEER_SUBNET = '198.51.100.0/24';
export const PEER_PREFIX = 24;
export const PEER_ADDR = {
  /** `ddplab target` (kernel TCP) in its leg namespace. */
  ddplabTarget: '198.51.100.1',
  /** ddplab's userspace host stack (`ddplab run --target`). */
  ddplabHost: '198.51.100.2',
  linuxTarget: '198.51.100.10',
  linuxHost: '198.51.100.20',
} as const;

/** One line saying why the harness cannot run here, or undefined (kernel package included). */
export function peerUnavailable(): string | undefined {
  const m = missingPeerRequirements();
  if (m !== undefined) return `linux peer: ${m}`;
  try {
    preparePeerKernel();
  } catch (e) {
    return (e as Error).message;
  }
  return undefined;
}

export class PeerLab {
  readonly kernel: PeerKernel;
  readonly busybox: string;
  readonly net: PeerNet;
  readonly dir: string;
  private readonly vms: (LinuxTargetVm | LinuxHostVm)[] = [];
  private readonly undoDir: () => void;
  private vmCount = 0;
  private readonly macBase = randomBytes(2);

  private constructor(kernel: PeerKernel, busybox: string, net: PeerNet, dir: string) {
    this.kernel = kernel;
    this.busybox = busybox;
    this.net = net;
    this.dir = dir;
    this.undoDir = onCleanup(`peer temp dir ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  }

  static create(opts: { id?: string } = {}): PeerLab {
    const m = missingPeerRequirements();
    if (m !== undefined) throw new PeerMissing(m);
    const kernel = preparePeerKernel();
    const busybox = staticBusybox()!;
    const dir = mkdtempSync(join(tmpdir(), 'ddplab-peer-'));
    let net: PeerNet;
    try {
      net = PeerNet.create(opts.id);
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    const lab = new PeerLab(kernel, busybox, net, dir);
    lab.undoOwner = recordOwner(net.id, dir);
    return lab;
  }

  private undoOwner: () => void = () => undefined;

  get id(): string {
    return this.net.id;
  }

  /** A namespace for ddplab joined to the bridge (see PeerNet.addLeg). */
  addLeg(role: string, opts: LegOptions): string {
    return this.net.addLeg(role, opts);
  }

  /** MACs 52:54:00:<random>:<random>:<n> (QEMU's prefix): unique on the lab's bridge. */
  private nextMac(): string {
    const n = ++this.vmCount;
    return `52:54:00:${this.macBase[0]!.toString(16).padStart(2, '0')}:${this.macBase[1]!.toString(16).padStart(2, '0')}:${n.toString(16).padStart(2, '0')}`;
  }

  async startLinuxTarget(opts: Partial<LinuxTargetOptions> = {}): Promise<LinuxTargetVm> {
    const n = this.vmCount + 1;
    const vm = await LinuxTargetVm.start({
      name: `linux-target${n}`,
      ip: PEER_ADDR.linuxTarget,
      prefixLen: PEER_PREFIX,
      ...opts,
      lab: { dir: this.dir, kernel: this.kernel, busybox: this.busybox, netns: this.net.bridgeNs, tap: this.net.addTap(), mac: this.nextMac() },
    });
    this.vms.push(vm);
    return vm;
  }

  async startLinuxHost(opts: Partial<LinuxHostOptions> = {}): Promise<LinuxHostVm> {
    const n = this.vmCount + 1;
    const vm = await LinuxHostVm.start({
      name: `linux-host${n}`,
      ip: PEER_ADDR.linuxHost,
      prefixLen: PEER_PREFIX,
      ...opts,
      lab: { dir: this.dir, kernel: this.kernel, busybox: this.busybox, netns: this.net.bridgeNs, tap: this.net.addTap(), mac: this.nextMac() },
    });
    this.vms.push(vm);
    return vm;
  }

  /** Stops every VM, removes the network and the temp dir. */
  async close(): Promise<void> {
    try {
      await Promise.allSettled(this.vms.map((v) => v.stop()));
    } finally {
      this.net.destroy();
      this.undoDir();
      this.undoOwner();
    }
  }
}

/** Runs fn with a lab and closes it on every path. */
export async function withPeerLab<T>(fn: (lab: PeerLab) => Promise<T>, opts: { id?: string } = {}): Promise<T> {
  const lab = PeerLab.create(opts);
  try {
    return await fn(lab);
  } finally {
    await lab.close();
  }
}

/**
 * Who owns a lab: /run/ddplab-peer/<id>.json {pid, dir}, so that `ddplab
 * peer down` can tell a lab whose process was SIGKILLed (remove it, its temp
 * dir too) from one that is running (leave it).
 */
const OWNER_DIR = '/run/ddplab-peer';

function recordOwner(id: string, dir: string): () => void {
  mkdirSync(OWNER_DIR, { recursive: true });
  const file = join(OWNER_DIR, `${id}.json`);
  writeFileSync(file, JSON.stringify({ pid: process.pid, dir }));
  return onCleanup(`peer owner record ${id}`, () => rmSync(file, { force: true }));
}

export interface PeerLabStatus {
  readonly id: string;
  readonly owner: number | null;
  readonly ownerAlive: boolean;
  readonly dir: string | null;
  readonly namespaces: readonly string[];
  readonly qemuPids: readonly number[];
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Every peer lab on the machine, from its namespaces and owner records. */
export function peerLabs(): PeerLabStatus[] {
  const byId = new Map<string, string[]>();
  for (const ns of peerNamespaces()) {
    const id = PEER_NS_RE.exec(ns)![1]!;
    byId.set(id, [...(byId.get(id) ?? []), ns]);
  }
  return [...byId.entries()].map(([id, namespaces]) => {
    let owner: number | null = null;
    let dir: string | null = null;
    const file = join(OWNER_DIR, `${id}.json`);
    if (existsSync(file)) {
      const rec = JSON.parse(readFileSync(file, 'utf8')) as { pid: number; dir: string };
      owner = rec.pid;
      dir = rec.dir;
    }
    let qemuPids: number[] = [];
    try {
      qemuPids = execFileSync('ip', ['netns', 'pids', `ddplab-${id}-pbr`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
        .split(/\s+/)
        .filter(Boolean)
        .map(Number);
    } catch {
      // no bridge namespace
    }
    return { id, owner, ownerAlive: owner !== null && pidAlive(owner), dir, namespaces, qemuPids };
  });
}

/** Removes a lab left behind: processes in its namespaces, the namespaces, its temp dir and owner record. */
export function removePeerLab(id: string): void {
  const lab = peerLabs().find((l) => l.id === id);
  if (lab === undefined) return;
  for (const ns of [...lab.namespaces].reverse()) removeNamespace(ns);
  if (lab.dir !== null && lab.dir.startsWith(join(tmpdir(), 'ddplab-peer-'))) rmSync(lab.dir, { recursive: true, force: true });
  rmSync(join(OWNER_DIR, `${id}.json`), { force: true });
}
