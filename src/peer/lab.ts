/**
 * A peer lab: the Linux peer harness's unit of setup and cleanup. It checks
 * the machine, prepares the guest kernel, makes a temp dir and the peer
 * network, and starts VMs on it; close() (or any exit path, see cleanup.ts)
 * stops every VM it started and removes every namespace and file it made.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onCleanup } from './cleanup.js';
import { preparePeerKernel, type PeerKernel } from './kernel.js';
import { LinuxHostVm, type LinuxHostOptions } from './linux-host.js';
import { LinuxTargetVm, type LinuxTargetOptions } from './linux-target.js';
import { PeerNet, type LegOptions } from './net.js';
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
    return new PeerLab(kernel, busybox, net, dir);
  }

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
