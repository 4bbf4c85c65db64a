/**
 * The host's network stack (docs/design.md, "HostStack"): it owns an IPv4 address
 * in userspace on a NIC that has no kernel address, answers ARP for it,
 * resolves the peer, and opens TCP connections whose segments the NIC steers
 * to them by 4-tuple.
 */
import type { NicLink } from '../../nicemu/nic-link.js';
import type { FlowKey, RxOffloadEngine } from '../../nicemu/flow-table.js';
import { Arp } from './arp.js';
import type { Clock } from './clock.js';
import { newTcpStats, type TcpStats } from './tcp-stats.js';
import { TcpSocket } from './tcp-socket.js';
import { TcpTransport } from '../nvme/tcp-transport.js';
import { ipToString } from '../../wire/ipv4.js';
import { DdplabError } from '../../base/errors.js';

export interface HostStackConfig {
  readonly nic: NicLink;
  readonly clock: Clock;
  /** Our IPv4 address (u32). */
  readonly ip: number;
  readonly mtu?: number;
  /** Per-socket receive buffer (default 4 MiB). */
  readonly rcvBufBytes?: number;
  readonly sndBufBytes?: number;
  /** First ephemeral port (Linux ip_local_port_range starts at 32768). */
  readonly firstPort?: number;
  /** Length of our subnet's prefix; without it every peer is taken to be on the link. */
  readonly prefixLen?: number;
  /** Next hop (u32) for peers outside our subnet, as a default route. */
  readonly gateway?: number;
}

export class HostStackError extends DdplabError<'NO_ROUTE'> {
  constructor(message: string) {
    super('NO_ROUTE', message);
    this.name = 'HostStackError';
  }
}

export interface HostConnection {
  readonly socket: TcpSocket;
  readonly transport: TcpTransport;
  readonly key: FlowKey;
}

export class HostStack {
  readonly arp: Arp;
  /** TCP counters summed over every connection of this stack. */
  readonly tcpStats: TcpStats = newTcpStats();
  private nextPort: number;
  private readonly conns = new Set<HostConnection>();

  constructor(private readonly cfg: HostStackConfig) {
    this.nextPort = cfg.firstPort ?? 32768 + Math.floor(Math.random() * 16384);
    this.arp = new Arp({ clock: cfg.clock, mac: cfg.nic.mac, ip: cfg.ip, output: (f) => cfg.nic.send(f) });
    cfg.nic.onArp((arp) => this.arp.input(arp));
  }

  /**
   * Opens a TCP connection to remoteIp:remotePort and returns it once
   * established. `offload`, when given, is installed on the NIC flow before
   * the SYN leaves, so the engine sees the stream from its first byte.
   */
  async connect(remoteIp: number, remotePort: number, offload?: (key: FlowKey) => RxOffloadEngine | undefined): Promise<HostConnection> {
    const mac = await this.arp.resolve(this.nextHop(remoteIp));
    const localPort = this.allocPort();
    const key: FlowKey = { remoteIp, remotePort, localIp: this.cfg.ip, localPort };
    const socket = new TcpSocket({
      clock: this.cfg.clock,
      output: (f) => this.cfg.nic.send(f),
      local: { mac: this.cfg.nic.mac, ip: this.cfg.ip, port: localPort },
      remote: { mac, ip: remoteIp, port: remotePort },
      mtu: this.cfg.mtu ?? 1500,
      rcvBufBytes: this.cfg.rcvBufBytes,
      sndBufBytes: this.cfg.sndBufBytes,
      stats: this.tcpStats,
    });
    const transport = new TcpTransport(socket);
    const conn: HostConnection = { socket, transport, key };
    this.cfg.nic.addFlow({
      key,
      deliver: (skb) => socket.input(skb),
      offload: offload?.(key),
      batchStart: () => socket.beginRxBatch(),
      batchEnd: () => socket.endRxBatch(),
      unshare: (memory) => socket.unshare(memory),
    });
    this.conns.add(conn);
    const prevClose = socket.handlers.onClose;
    socket.handlers.onClose = (err) => {
      this.cfg.nic.removeFlow(key);
      this.conns.delete(conn);
      prevClose?.(err);
    };
    try {
      await socket.connect();
    } catch (e) {
      this.cfg.nic.removeFlow(key);
      this.conns.delete(conn);
      throw e;
    }
    return conn;
  }

  /**
   * Ends every connection: waits up to `graceMs` for those closing in
   * order to finish their FIN exchange, then drops what is in TIME_WAIT and
   * aborts (RST) what is still open. Stops ARP.
   */
  async close(graceMs = 2000): Promise<void> {
    const deadline = this.cfg.clock.nowMs() + graceMs;
    const busy = (): boolean => [...this.conns].some((c) => c.socket.state !== 'TIME_WAIT' && c.socket.state !== 'CLOSED' && c.socket.state !== 'ESTABLISHED' && c.socket.state !== 'CLOSE_WAIT');
    while (busy() && this.cfg.clock.nowMs() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (const c of [...this.conns]) c.socket.dispose();
    this.arp.close();
  }

  /**
   * Whose MAC frames to `ip` carry: the peer itself when it is on our
   * subnet (or no prefix was given), else the gateway. Throws
   * HostStackError when the peer is off-subnet and there is no gateway.
   */
  nextHop(ip: number): number {
    const len = this.cfg.prefixLen;
    if (len === undefined || sameSubnet(ip, this.cfg.ip, len)) return ip;
    if (this.cfg.gateway !== undefined) return this.cfg.gateway;
    throw new HostStackError(`no route to ${ipToString(ip)}: not in ${ipToString((this.cfg.ip & prefixMask(len)) >>> 0)}/${len} and no gateway`);
  }

  private allocPort(): number {
    const p = this.nextPort;
    this.nextPort = this.nextPort >= 60999 ? 32768 : this.nextPort + 1;
    return p;
  }
}

/** The netmask of a prefix length 0..32, as a u32. */
export function prefixMask(prefixLen: number): number {
  return prefixLen === 0 ? 0 : (0xffff_ffff << (32 - prefixLen)) >>> 0;
}

/** Whether two u32 addresses share their first `prefixLen` bits. */
export function sameSubnet(a: number, b: number, prefixLen: number): boolean {
  return ((a ^ b) & prefixMask(prefixLen)) >>> 0 === 0;
}
