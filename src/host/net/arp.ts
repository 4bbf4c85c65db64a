/**
 * The host's ARP (RFC 826): it owns its IPv4 address in userspace (host0
 * has no kernel address), so it must answer requests for that address —
 * otherwise the target's kernel cannot reach it — and resolve the target's
 * MAC before the first SYN. Entries learned from any ARP packet naming a
 * sender we asked about, or that asked us, are cached (as Linux does for
 * the sender of a request addressed to it).
 */
import type { ArpRepr } from '../../wire/arp.js';
import { ARP_REPLY, ARP_REQUEST } from '../../wire/arp.js';
import { buildArpFrame } from '../../wire/frame.js';
import { ipToString } from '../../wire/ipv4.js';
import type { Clock, ClockTimer } from './clock.js';
import { DdplabError } from '../../base/errors.js';

export class ArpError extends DdplabError<'ARP_UNRESOLVED'> {
  constructor(message: string) {
    super('ARP_UNRESOLVED', message);
    this.name = 'ArpError';
  }
}

export interface ArpStats {
  requestsSent: number;
  repliesSent: number;
  requestsReceived: number;
  repliesReceived: number;
}

interface Pending {
  readonly ip: number;
  readonly waiters: Array<{ resolve: (mac: Buffer) => void; reject: (e: Error) => void }>;
  tries: number;
  readonly timer: ClockTimer;
}

export interface ArpConfig {
  readonly clock: Clock;
  readonly mac: Buffer;
  readonly ip: number;
  readonly output: (frame: Buffer) => void;
  /** Time between requests (Linux retrans_time is 1 s). */
  readonly retryMs?: number;
  /** Requests before giving up (Linux mcast_solicit is 3). */
  readonly tries?: number;
}

export class Arp {
  readonly stats: ArpStats = { requestsSent: 0, repliesSent: 0, requestsReceived: 0, repliesReceived: 0 };
  private readonly cache = new Map<number, Buffer>();
  private readonly pending = new Map<number, Pending>();
  private readonly retryMs: number;
  private readonly maxTries: number;

  constructor(private readonly cfg: ArpConfig) {
    this.retryMs = cfg.retryMs ?? 1000;
    this.maxTries = cfg.tries ?? 3;
  }

  /** The cached MAC of `ip`, if known. */
  lookup(ip: number): Buffer | undefined {
    return this.cache.get(ip);
  }

  /** Resolves `ip` to a MAC, asking on the wire if it is not cached. */
  resolve(ip: number): Promise<Buffer> {
    const known = this.cache.get(ip);
    if (known !== undefined) return Promise.resolve(known);
    return new Promise((resolve, reject) => {
      let p = this.pending.get(ip);
      if (p === undefined) {
        const timer = this.cfg.clock.createTimer(() => this.onTimeout(ip));
        p = { ip, waiters: [], tries: 0, timer };
        this.pending.set(ip, p);
        this.sendRequest(p);
      }
      p.waiters.push({ resolve, reject });
    });
  }

  /** An ARP packet from the NIC. */
  input(arp: ArpRepr): void {
    if (arp.operation === ARP_REQUEST) {
      this.stats.requestsReceived++;
      if (arp.targetIp !== this.cfg.ip) return;
      this.learn(arp.senderIp, arp.senderMac);
      this.stats.repliesSent++;
      this.cfg.output(
        buildArpFrame({
          operation: ARP_REPLY,
          senderMac: this.cfg.mac,
          senderIp: this.cfg.ip,
          targetMac: arp.senderMac,
          targetIp: arp.senderIp,
        }),
      );
      return;
    }
    this.stats.repliesReceived++;
    if (arp.targetIp === this.cfg.ip || this.pending.has(arp.senderIp)) this.learn(arp.senderIp, arp.senderMac);
  }

  /** Fails every pending resolution and stops the timers. */
  close(): void {
    for (const p of this.pending.values()) {
      p.timer.cancel();
      for (const w of p.waiters) w.reject(new ArpError(`ARP for ${ipToString(p.ip)} abandoned: host stack closed`));
    }
    this.pending.clear();
  }

  private learn(ip: number, mac: Buffer): void {
    const copy = Buffer.from(mac);
    this.cache.set(ip, copy);
    const p = this.pending.get(ip);
    if (p === undefined) return;
    this.pending.delete(ip);
    p.timer.cancel();
    for (const w of p.waiters) w.resolve(copy);
  }

  private sendRequest(p: Pending): void {
    p.tries++;
    this.stats.requestsSent++;
    this.cfg.output(buildArpFrame({ operation: ARP_REQUEST, senderMac: this.cfg.mac, senderIp: this.cfg.ip, targetIp: p.ip }));
    p.timer.arm(this.retryMs);
  }

  private onTimeout(ip: number): void {
    const p = this.pending.get(ip);
    if (p === undefined) return;
    if (p.tries < this.maxTries) {
      this.sendRequest(p);
      return;
    }
    this.pending.delete(ip);
    const e = new ArpError(`no ARP reply from ${ipToString(ip)} after ${p.tries} requests: is the target up and on this link?`);
    for (const w of p.waiters) w.reject(e);
  }
}
