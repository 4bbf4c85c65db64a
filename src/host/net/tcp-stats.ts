/**
 * Per-connection TCP counters, flat so that a report can print them or put
 * them in JSON as they are. Names follow the Linux SNMP/netstat MIB
 * (`nstat -a`: TcpInSegs, TcpExtTCPOFOQueue, ...) in camelCase, with the
 * Linux name in each comment; counters Linux lacks say so.
 */
export interface TcpStats {
  /** TcpInSegs: skbs handed to the socket (including ones then dropped); as in Linux, a packet GRO merged counts once. */
  inSegs: number;
  /** TcpOutSegs: segments sent, retransmissions included. */
  outSegs: number;
  /** tcpi_bytes_received: payload bytes accepted into the stream (each byte once). */
  inBytes: number;
  /** tcpi_bytes_sent: payload bytes sent, retransmissions included. */
  outBytes: number;
  /** tcpi_bytes_acked: payload bytes the peer acknowledged. */
  ackedBytes: number;
  /** TcpRetransSegs: segments retransmitted for any reason (SYN and FIN included). */
  retransSegs: number;
  /** tcpi_bytes_retrans: payload bytes retransmitted. */
  retransBytes: number;
  /** TCPFastRetrans: retransmissions triggered by duplicate ACKs / SACK (not by the timer). */
  fastRetrans: number;
  /** TCPSlowStartRetrans-ish: segments retransmitted after an RTO. */
  timeoutRetrans: number;
  /** TCPTimeouts: retransmission timer expiries (SYN included). */
  rtoTimeouts: number;
  /** TCPRenoRecovery + TCPSackRecovery: fast-recovery episodes entered. */
  fastRecoveries: number;
  /** TCPSYNRetrans: SYNs (or SYN-ACKs) retransmitted. */
  synRetrans: number;
  /** Duplicate ACKs received (RFC 5681 definition). Linux has no direct counter. */
  dupAcksIn: number;
  /** SACK blocks received that advanced the scoreboard. Linux: TCPSACKBlocks-ish. */
  sackBlocksIn: number;

  /** TCPOFOQueue: segments (or pieces) queued out of order. */
  ofoQueue: number;
  /** TCPOFODrop: out-of-order data dropped because it lay beyond the window. */
  ofoDrop: number;
  /**
   * Model-only audit `ddp-placed-refused-bytes` (no Linux counter): bytes the
   * NIC placed from segments this TCP then refused (PAWS, ACK, window, flags).
   * A NIC that parses every frame, as the DDP series' does, writes them into
   * a read buffer although they are not the stream.
   */
  ddpPlacedRefusedBytes: number;
  /** TCPOFOMerge: out-of-order pieces coalesced into a neighbour. */
  ofoMerge: number;
  /** TCPOFODrop's memory half: out-of-order pieces dropped because the ofo queue was at its memory limit, and their bytes (Linux would prune queued data first; ours never drops what it queued, see tcp-rx-queue.ts). */
  ofoMemDrops: number;
  ofoMemDropBytes: number;
  /** Most any one connection's ofo queue was charged at once (payload + per-piece overhead), and most entries it held; gauges, ours. */
  ofoPeakTruesize: number;
  ofoPeakEntries: number;
  /** Segments whose data had all been received already (TCPDSACKOldSent + TCPDSACKOfoSent without needing SACK). */
  dupSegs: number;
  /** Segments that partly overlapped received data and were trimmed (TCPPartialUndo has no equivalent; ours). */
  partialDupSegs: number;
  /** Bytes discarded because they duplicated accepted bytes (whatever was accepted first stays). */
  dupBytes: number;
  /** Data trimmed at the right edge of our window (bytes). */
  beyondWindowBytes: number;
  /** Segments failing the RFC 9293 acceptability test (answered with an ACK). Linux: TCPOutOfWindowIcmps-ish, ours. */
  outOfWindowSegs: number;
  /** PAWSEstab: segments dropped by PAWS (RFC 7323 §5). */
  pawsDrops: number;
  /** TcpInCsumErrors: segments the caller marked as failing the checksum. */
  csumErrors: number;

  /** ACKs sent immediately because of a hole, a duplicate or a hole fill (TCPQuickAck-ish). */
  quickAcks: number;
  /** DelayedACKs: ACKs sent by the delayed-ACK timer. */
  delayedAcks: number;
  /** ACKs we sent that repeated rcv_nxt because of out-of-order or duplicate data (what the peer counts as dup ACKs). */
  dupAcksSent: number;
  /** SACK blocks carried by our ACKs (D-SACK blocks included). */
  sackBlocksSent: number;
  /** TCPDSACKOldSent + TCPDSACKOfoSent: D-SACK blocks sent. */
  dsackSent: number;
  /** Pure window updates sent because the application read (TCPWantZeroWindowAdv has no equivalent; ours). */
  windowUpdatesSent: number;
  /** TCPToZeroWindowAdv: times we advertised a zero window. */
  zeroWindowOurs: number;
  /** TCPFromZeroWindowAdv: times we reopened a zero window. */
  zeroWindowReopened: number;
  /** Window probes from the peer answered while our window was zero (ours). */
  winProbesAnswered: number;

  /** Times the peer's advertised window dropped to zero (ours). */
  zeroWindowPeer: number;
  /** TCPWinProbe: zero-window probes we sent. */
  winProbesSent: number;

  /** TCPChallengeACK: challenge ACKs sent (RFC 5961). */
  challengeAcks: number;
  /** TcpInRsts / TCPAbortOnData-ish: RSTs received that were acted on. */
  rstsIn: number;
  /** TcpOutRsts: RSTs sent. */
  rstsOut: number;
}

export function newTcpStats(): TcpStats {
  return {
    inSegs: 0,
    outSegs: 0,
    inBytes: 0,
    outBytes: 0,
    ackedBytes: 0,
    retransSegs: 0,
    retransBytes: 0,
    fastRetrans: 0,
    timeoutRetrans: 0,
    rtoTimeouts: 0,
    fastRecoveries: 0,
    synRetrans: 0,
    dupAcksIn: 0,
    sackBlocksIn: 0,
    ofoQueue: 0,
    ofoDrop: 0,
    ddpPlacedRefusedBytes: 0,
    ofoMerge: 0,
    ofoMemDrops: 0,
    ofoMemDropBytes: 0,
    ofoPeakTruesize: 0,
    ofoPeakEntries: 0,
    dupSegs: 0,
    partialDupSegs: 0,
    dupBytes: 0,
    beyondWindowBytes: 0,
    outOfWindowSegs: 0,
    pawsDrops: 0,
    csumErrors: 0,
    quickAcks: 0,
    delayedAcks: 0,
    dupAcksSent: 0,
    sackBlocksSent: 0,
    dsackSent: 0,
    windowUpdatesSent: 0,
    zeroWindowOurs: 0,
    zeroWindowReopened: 0,
    winProbesAnswered: 0,
    zeroWindowPeer: 0,
    winProbesSent: 0,
    challengeAcks: 0,
    rstsIn: 0,
    rstsOut: 0,
  };
}

/** The gauges among the counters: totals take their maximum, not their sum. */
const PEAK_KEYS: ReadonlySet<keyof TcpStats> = new Set(['ofoPeakTruesize', 'ofoPeakEntries']);

/** Adds every counter of `from` into `into` (to total several connections). */
export function addTcpStats(into: TcpStats, from: Readonly<TcpStats>): TcpStats {
  for (const k of Object.keys(into) as (keyof TcpStats)[]) into[k] = PEAK_KEYS.has(k) ? Math.max(into[k], from[k]) : into[k] + from[k];
  return into;
}
