/**
 * Receive-path counters of the emulated NIC, named after the ethtool -S
 * counters a Linux driver exposes (rx_packets, rx_csum_errors, ...). The
 * offload engines keep their own counters (ulp-ddp names) beside these.
 */
export interface NicRxStats {
  /** Frames the port handed the NIC. */
  rx_packets: number;
  rx_bytes: number;
  /** Frames for another unicast MAC (the port is promiscuous on a veth). */
  rx_other_host: number;
  /** Frames that do not parse (truncated, bad header lengths): dropped. */
  rx_errors: number;
  /** IPv4 header or TCP checksum wrong: dropped, as a NIC with rx csum offload marks and the stack drops. */
  rx_csum_errors: number;
  /** TCP checksum left partial by the sender's offload (accepted only when configured to). */
  rx_csum_partial: number;
  /**
   * Of those, dropped because the NIC was told to refuse them (also counted
   * in rx_csum_errors, so that counter stays "every checksum drop").
   */
  rx_csum_partial_dropped: number;
  /**
   * IPv4 datagrams larger than the MTU, accepted as a NIC with LRO hands its
   * host aggregated frames: a local peer's TSO/GSO super-frames.
   */
  rx_super_frames: number;
  /** Well-formed frames that are neither ARP nor IPv4/TCP (IPv6, UDP, ICMP...): not ours to handle. */
  rx_unhandled: number;
  /** TCP segments for no registered flow. */
  rx_no_flow: number;
  /** TCP segments handed to a flow as skbs. */
  rx_tcp_segments: number;
  /** ARP frames handed to the host. */
  rx_arp: number;
  tx_packets: number;
  tx_bytes: number;
}

export function newNicRxStats(): NicRxStats {
  return {
    rx_packets: 0,
    rx_bytes: 0,
    rx_other_host: 0,
    rx_errors: 0,
    rx_csum_errors: 0,
    rx_csum_partial: 0,
    rx_csum_partial_dropped: 0,
    rx_super_frames: 0,
    rx_unhandled: 0,
    rx_no_flow: 0,
    rx_tcp_segments: 0,
    rx_arp: 0,
    tx_packets: 0,
    tx_bytes: 0,
  };
}
