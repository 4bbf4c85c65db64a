/**
 * The software NIC's receive and transmit path (docs/design.md, "The picture"):
 * frames from the Port are parsed (L2-L4), checked as a NIC with rx checksum
 * offload would (bad checksum → dropped and counted), steered by the flow
 * table to the host's per-connection handler as skbs, or, for ARP, handed to
 * the host's ARP handler. A flow may carry a receive offload engine (DDP),
 * which sees each checksum-valid segment of the flow in wire order — like
 * hardware, it never buffers, reorders or drops segments.
 *
 * Without an engine, the skb is plain pass-through: Ethernet/IP/TCP headers
 * in the linear part, the TCP payload one `host` frag (the rx buffer the
 * host copies from).
 */
import { ETH_HEADER_LEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_VLAN, MAC_LEN, parseEthernet } from '../wire/ethernet.js';
import { parseArp, type ArpRepr } from '../wire/arp.js';
import { IPPROTO_TCP, IPV4_MF, ipv4HeaderFields, readIpv4Header, verifyIpv4Checksum } from '../wire/ipv4.js';
import { isPartialTcpChecksum, parseTcpAt, verifyTcpChecksum } from '../wire/tcp.js';
import { WireError } from '../wire/errors.js';
import { FlowTable, type FlowEntry, type FlowKey } from './flow-table.js';
import { newNicRxStats, type NicRxStats } from './nic-stats.js';
import type { Port, RxFrame } from './port/port.js';
import type { Skb, SkbFrag } from './skb.js';

export interface NicOptions {
  /** The MAC the NIC answers to (unicast frames to other MACs are counted and ignored). */
  readonly mac: Buffer;
  /**
   * Verify IPv4 and TCP checksums (default true). Replay of captures taken
   * with checksum offload (partial checksums) turns this off.
   */
  readonly verifyChecksums?: boolean;
  /**
   * Accept a TCP checksum field that holds only the pseudo-header sum
   * (CHECKSUM_PARTIAL): what veth delivers when the sender's tx checksum
   * offload and TSO are left on (`ddplab run --veth-offloads`), and what captures
   * taken on such senders show. Counted in rx_csum_partial. Default false.
   */
  readonly acceptPartialChecksums?: boolean;
  /**
   * The link's MTU: IPv4 datagrams above it are counted in rx_super_frames
   * (and accepted). Default: none counted.
   */
  readonly mtu?: number;
}

/** Why the NIC dropped a frame (each a counter in NicRxStats). */
export type NicDropReason = 'rx_errors' | 'rx_csum_errors' | 'rx_csum_partial_dropped' | 'rx_no_flow';

/** What a drop listener learns of the dropped frame, when it parsed that far. */
export interface NicDropInfo {
  readonly srcIp?: number;
  readonly srcPort?: number;
  /** TCP flags byte (SYN 0x02, ACK 0x10, ...). */
  readonly tcpFlags?: number;
}

export type ArpHandler = (arp: ArpRepr, frame: Buffer) => void;

const NO_FRAGS: readonly SkbFrag[] = [];

export class NicEmu {
  readonly stats: NicRxStats = newNicRxStats();
  readonly mac: Buffer;
  private readonly flows = new FlowTable();
  private readonly verifyChecksums: boolean;
  private readonly acceptPartial: boolean;
  private readonly mtu: number;
  /** Told of every dropped frame (connection setup errors say what arrived and why it went). */
  onDrop: ((reason: NicDropReason, info: NicDropInfo) => void) | undefined;
  private arpHandler: ArpHandler | undefined;
  /** Offloads that watch the host's transmissions on the port (nicemu/ddp/tcp-checks.ts). */
  private readonly txTaps: ((frame: Buffer) => void)[] = [];
  private inBatch = false;
  /** Flows that got segments in the current batch (few: one per queue). */
  private readonly batchFlows: FlowEntry[] = [];
  /** The IPv4 header of the frame in hand, read in place (no view, no object per frame). */
  private readonly ip = ipv4HeaderFields();

  constructor(
    private readonly port: Port,
    opts: NicOptions,
  ) {
    this.mac = opts.mac;
    this.verifyChecksums = opts.verifyChecksums ?? true;
    this.acceptPartial = opts.acceptPartialChecksums ?? false;
    this.mtu = opts.mtu ?? Infinity;
    port.onFrames((batch) => this.rxBatch(batch));
  }

  /** Steers received segments of `key` to `entry.deliver`. */
  addFlow(entry: FlowEntry): void {
    this.flows.add(entry);
  }

  removeFlow(key: FlowKey): boolean {
    return this.flows.remove(key);
  }

  lookupFlow(key: FlowKey): FlowEntry | undefined {
    return this.flows.lookup(key.remoteIp, key.remotePort, key.localIp, key.localPort);
  }

  onArp(handler: ArpHandler): void {
    this.arpHandler = handler;
  }

  /** Lets an offload see every frame the host transmits, as hardware on the port does. */
  addTxTap(tap: (frame: Buffer) => void): void {
    this.txTaps.push(tap);
  }

  send(frame: Buffer): void {
    for (let i = 0; i < this.txTaps.length; i++) this.txTaps[i]!(frame);
    this.stats.tx_packets++;
    this.stats.tx_bytes += frame.length;
    this.port.send(frame);
  }

  close(): Promise<void> {
    return this.port.close();
  }

  /**
   * Exposed for replay and tests: one frame through the receive path.
   * `csumVerified`: the port's checksum offload verified the IPv4 and TCP
   * checksums (RxFrame.csumVerified), so they are not summed again here.
   */
  rxFrame(data: Buffer, tsUs: number, csumVerified = false): void {
    const s = this.stats;
    s.rx_packets++;
    s.rx_bytes += data.length;
    try {
      // Per-frame hot path: an untagged frame is read in place (no parsed
      // Ethernet header object, no MAC views); anything else (too short,
      // 802.1Q-tagged) goes through parseEthernet, which throws or untags.
      // Both give the same outcome and counters for every frame.
      // Headers are read where they sit in the frame: views are made only of
      // what the skb keeps (its head, the payload) and of what the rare paths
      // (ARP, summing a checksum the port did not vouch for) need.
      let ethertype = data.length >= ETH_HEADER_LEN ? (data[12]! << 8) | data[13]! : ETHERTYPE_VLAN;
      let l3Off: number;
      if (ethertype !== ETHERTYPE_VLAN) {
        // Group bit set: broadcast/multicast, which ARP requests use.
        if ((data[0]! & 1) === 0 && !this.isOurMac(data)) {
          s.rx_other_host++;
          return;
        }
        l3Off = ETH_HEADER_LEN;
      } else {
        const eth = parseEthernet(data);
        const dst = eth.dst;
        if ((dst[0]! & 1) === 0 && !dst.equals(this.mac)) {
          s.rx_other_host++;
          return;
        }
        ethertype = eth.ethertype;
        l3Off = eth.headerLen;
      }
      if (ethertype === ETHERTYPE_ARP) {
        const arp = parseArp(data.subarray(l3Off));
        s.rx_arp++;
        this.arpHandler?.(arp, data);
        return;
      }
      if (ethertype !== ETHERTYPE_IPV4) {
        s.rx_unhandled++;
        return;
      }
      const ip = this.ip;
      readIpv4Header(data, l3Off, data.length, ip);
      if (ip.protocol !== IPPROTO_TCP || (ip.flags & IPV4_MF) !== 0 || ip.fragOffsetBytes !== 0) {
        s.rx_unhandled++;
        return;
      }
      const segOff = l3Off + ip.headerLen;
      const segEnd = l3Off + ip.totalLength;
      if (this.verifyChecksums && !csumVerified) {
        // Sums the header only (its IHL, which readIpv4Header checked against the frame).
        if (!verifyIpv4Checksum(data.subarray(l3Off))) {
          s.rx_csum_errors++;
          return;
        }
        const seg = data.subarray(segOff, segEnd);
        if (!verifyTcpChecksum(ip.src, ip.dst, seg)) {
          const partial = isPartialTcpChecksum(ip.src, ip.dst, seg);
          if (partial) s.rx_csum_partial++;
          if (!partial || !this.acceptPartial) {
            s.rx_csum_errors++;
            if (partial) s.rx_csum_partial_dropped++;
            this.dropped(partial ? 'rx_csum_partial_dropped' : 'rx_csum_errors', ip.src, seg);
            return;
          }
        }
      }
      if (ip.totalLength > this.mtu) s.rx_super_frames++;
      const tcp = parseTcpAt(data, segOff, segEnd);
      const entry = this.flows.lookup(ip.src, tcp.srcPort, ip.dst, tcp.dstPort);
      if (entry === undefined) {
        s.rx_no_flow++;
        this.onDrop?.('rx_no_flow', { srcIp: ip.src, srcPort: tcp.srcPort, tcpFlags: tcp.flags });
        return;
      }
      const payload = tcp.payload;
      const headLen = segOff + tcp.headerLen;
      let skb: Skb = {
        tcp,
        srcIp: ip.src,
        dstIp: ip.dst,
        seq: tcp.seq,
        len: payload.length,
        head: data.subarray(0, headLen),
        frags: payload.length > 0 ? [{ kind: 'host', buf: payload }] : NO_FRAGS,
        ddpPlaced: false,
        ddpCrcOk: false,
        tsUs,
      };
      s.rx_tcp_segments++;
      if (entry.offload !== undefined) {
        const out = entry.offload.rx(skb);
        if (out === undefined) return;
        skb = out;
      }
      if (this.inBatch && entry.batchEnd !== undefined && !this.batchFlows.includes(entry)) {
        this.batchFlows.push(entry);
        entry.batchStart?.();
      }
      entry.deliver(skb);
    } catch (e) {
      if (e instanceof WireError) {
        s.rx_errors++;
        this.onDrop?.('rx_errors', {});
        return;
      }
      throw e;
    }
  }

  /** The frame's destination MAC (bytes 0..5) is this NIC's. */
  private isOurMac(frame: Buffer): boolean {
    const m = this.mac;
    return (
      frame[0] === m[0] && frame[1] === m[1] && frame[2] === m[2] && frame[3] === m[3] && frame[4] === m[4] && frame[5] === m[5] && m.length === MAC_LEN
    );
  }

  /** Tells the drop listener, with the TCP source and flags read straight from the header (its checksum failed). */
  private dropped(reason: NicDropReason, srcIp: number, seg: Buffer): void {
    if (this.onDrop === undefined) return;
    this.onDrop(reason, seg.length >= 14 ? { srcIp, srcPort: seg.readUInt16BE(0), tcpFlags: seg[13]! } : { srcIp });
  }

  private rxBatch(batch: readonly RxFrame[]): void {
    this.inBatch = true;
    try {
      for (let i = 0; i < batch.length; i++) {
        const f = batch[i]!;
        this.rxFrame(f.data, f.tsUs, f.csumVerified === true);
      }
    } finally {
      this.inBatch = false;
      const flows = this.batchFlows;
      for (let i = 0; i < flows.length; i++) flows[i]!.batchEnd!();
      flows.length = 0;
    }
  }
}
