/**
 * The peer network of one harness run: a namespace holding a Linux bridge,
 * one tap per VM on it, and veth legs into namespaces where ddplab runs.
 *
 *   ddplab-<id>-pbr:  br0 ─┬─ tap<n> ◄── qemu (a VM's virtio-net)
 *                          ├─ tap<m> ◄── qemu
 *                          └─ l<role> ◄── veth ──► <ifname> in ddplab-<id>-p<role>
 *
 * Nothing is routed anywhere: no namespace gets a default route, IPv6 is off,
 * and addresses are the documentation ranges inside these namespaces only.
 * Taps and legs keep the kernel's default offloads: a VM's TSO super-frames
 * and partial checksums reach ddplab as they would from a user's VM.
 *
 * The names (ddplab-<id>-pbr, ddplab-<id>-p<role>) never match the topology
 * pattern of netns/ (…-tgt, …-host), so `ddplab down --all` leaves them
 * alone; `ddplab peer down` removes them.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { UserError } from '../base/errors.js';
import { onCleanup } from './cleanup.js';
import { PeerError } from './requirements.js';

const ID_RE = /^[a-z0-9]{1,8}$/;
export const PEER_NS_RE = /^ddplab-([a-z0-9]{1,8})-p(br|[a-z]{1,6})$/;

export function newPeerId(): string {
  return `p${randomBytes(3).toString('hex')}`;
}

function ip(args: readonly string[]): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string };
    throw new PeerError(`ip ${args.join(' ')}: ${String(err.stderr ?? e).trim()}`);
  }
}

function nsSh(ns: string, script: string): void {
  execFileSync('ip', ['netns', 'exec', ns, 'sh', '-c', script], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Every namespace on the machine whose name says it is a peer harness's. */
export function peerNamespaces(): string[] {
  const out = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => PEER_NS_RE.test(n));
}

/** Kills every process inside a namespace (only ours live there) and deletes it. */
export function removeNamespace(ns: string): void {
  let pids: string[] = [];
  try {
    pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split(/\s+/).filter(Boolean);
  } catch {
    return; // gone already
  }
  for (const p of pids) {
    try {
      process.kill(Number(p), 'SIGKILL');
    } catch {
      // exited meanwhile
    }
  }
  try {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  } catch {
    // gone already
  }
}

export interface LegOptions {
  /** Interface name inside the leg's namespace. */
  readonly ifname: string;
  /** A kernel address (A/LEN) for a kernel TCP endpoint such as `ddplab target`. */
  readonly addr?: string;
  /** No kernel address and ARP off: ddplab's userspace host stack owns the address. */
  readonly userspace?: boolean;
}

export class PeerNet {
  readonly id: string;
  readonly bridgeNs: string;
  private readonly namespaces: string[] = [];
  private readonly undo: () => void;
  private taps = 0;

  private constructor(id: string) {
    this.id = id;
    this.bridgeNs = `ddplab-${id}-pbr`;
    this.undo = onCleanup(`peer network ${id}`, () => this.removeAll());
  }

  /** Creates the bridge namespace; removed by destroy() or on any exit path. */
  static create(id: string = newPeerId()): PeerNet {
    if (!ID_RE.test(id)) throw new UserError('BAD_FLAG', `peer id ${id}: use 1-8 of a-z 0-9`);
    if (peerNamespaces().some((n) => n.startsWith(`ddplab-${id}-`))) throw new UserError('PEER_EXISTS', `peer lab ${id} exists already (ddplab peer status; ddplab peer down --id ${id})`);
    const net = new PeerNet(id);
    try {
      net.addNamespace(net.bridgeNs);
      ip(['-n', net.bridgeNs, 'link', 'add', 'br0', 'type', 'bridge']);
      // No STP delay: ports forward as soon as they are up.
      ip(['-n', net.bridgeNs, 'link', 'set', 'br0', 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0']);
      ip(['-n', net.bridgeNs, 'link', 'set', 'br0', 'up']);
    } catch (e) {
      net.destroy();
      throw e;
    }
    return net;
  }

  private addNamespace(ns: string): void {
    ip(['netns', 'add', ns]);
    this.namespaces.push(ns);
    nsSh(ns, 'sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1; ip link set lo up');
  }

  /** A tap on the bridge for one VM (qemu opens it by name inside bridgeNs). */
  addTap(): string {
    const tap = `tap${this.taps++}`;
    ip(['-n', this.bridgeNs, 'tuntap', 'add', 'dev', tap, 'mode', 'tap']);
    ip(['-n', this.bridgeNs, 'link', 'set', tap, 'master', 'br0', 'up']);
    // One CPU receives what the VM sends, so its segments cannot be
    // reordered by backlogs on two CPUs before they reach ddplab's port.
    nsSh(this.bridgeNs, `echo 1 > /sys/class/net/${tap}/queues/rx-0/rps_cpus`);
    return tap;
  }

  /** A namespace ddplab-<id>-p<role> joined to the bridge by a veth; returns the namespace name. */
  addLeg(role: string, opts: LegOptions): string {
    if (!/^[a-z]{1,6}$/.test(role) || role === 'br') throw new PeerError(`peer leg role ${role}: use 1-6 of a-z`);
    const ns = `ddplab-${this.id}-p${role}`;
    this.addNamespace(ns);
    const leg = `l${role}`;
    ip(['-n', this.bridgeNs, 'link', 'add', leg, 'type', 'veth', 'peer', 'name', opts.ifname, 'netns', ns]);
    ip(['-n', this.bridgeNs, 'link', 'set', leg, 'master', 'br0', 'up']);
    if (opts.addr !== undefined) ip(['-n', ns, 'addr', 'add', opts.addr, 'dev', opts.ifname]);
    if (opts.userspace === true) {
      ip(['-n', ns, 'link', 'set', opts.ifname, 'arp', 'off', 'promisc', 'on']);
      nsSh(ns, `echo 1 > /sys/class/net/${opts.ifname}/queues/rx-0/rps_cpus`);
    }
    ip(['-n', ns, 'link', 'set', opts.ifname, 'up']);
    return ns;
  }

  /** Namespaces this run created (bridge first). */
  get ownNamespaces(): readonly string[] {
    return this.namespaces;
  }

  private removeAll(): void {
    for (const ns of [...this.namespaces].reverse()) removeNamespace(ns);
    this.namespaces.length = 0;
  }

  /** Removes every namespace (and with them the bridge, taps, legs and any process left inside). */
  destroy(): void {
    this.undo();
  }
}
