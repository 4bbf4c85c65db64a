/**
 * What the NVMe/TCP host ULP did, counted per queue and summed per
 * controller. The byte counters are the accounting docs/design.md asks for: every
 * byte the host CPU copied out of received frags and every byte it ran
 * through CRC32C, so a run shows what DDP and CRC offload saved.
 */

export interface NvmeHostStats {
  /** Received bytes the CPU copied (PDU headers, digests and data), via the skb copy routine. */
  copiedBytes: number;
  /** Received data bytes already in place (DDP `placed` frags): not copied. */
  copySkippedBytes: number;
  /** Placed frags that did not view the destination (a DDP bug; copied anyway). */
  placedMismatches: number;
  /** Model-only audit `ddp-misplaced-bytes`: their bytes (placed where the accepted stream does not put them). */
  ddpMisplacedBytes: number;
  /** Header bytes run through CRC32C (HDGST, sent and received). */
  crcHeaderBytes: number;
  /** C2H data bytes run through CRC32C to check DDGST. */
  crcDataRxBytes: number;
  /** H2C data bytes (in-capsule and H2CData) run through CRC32C to make DDGST. */
  crcDataTxBytes: number;
  /** C2HData PDUs whose DDGST check was skipped because the NIC verified all their bytes. */
  ddgstOffloaded: number;
  /** C2HData PDUs whose DDGST did not match (the command failed with a data transfer error). */
  ddgstErrors: number;
  /** PDUs received with a bad HDGST. */
  hdgstErrors: number;

  pdusRx: number;
  pdusTx: number;
  c2hDataPdus: number;
  /** C2HData payload bytes received. */
  c2hDataBytes: number;
  r2tRx: number;
  h2cDataPdus: number;
  /** H2CData payload bytes sent. */
  h2cDataBytes: number;
  /** Writes whose data went in the command capsule. */
  inCapsuleWrites: number;
  inCapsuleBytes: number;
  capsuleResps: number;
  /** Commands completed by a C2HData with SUCCESS (no CapsuleResp). */
  successCompletions: number;

  commandsSubmitted: number;
  commandsCompleted: number;
  /** Commands that completed with a non-zero NVMe status (data digest errors included). */
  commandErrors: number;
  commandTimeouts: number;
  h2cTermReqSent: number;
  c2hTermReqRx: number;

  /** DDP hooks: setups offered and accepted, refused, teardowns done. */
  ddpSetup: number;
  ddpSetupFail: number;
  ddpTeardown: number;
}

export function newNvmeHostStats(): NvmeHostStats {
  return {
    copiedBytes: 0,
    copySkippedBytes: 0,
    placedMismatches: 0,
    ddpMisplacedBytes: 0,
    crcHeaderBytes: 0,
    crcDataRxBytes: 0,
    crcDataTxBytes: 0,
    ddgstOffloaded: 0,
    ddgstErrors: 0,
    hdgstErrors: 0,
    pdusRx: 0,
    pdusTx: 0,
    c2hDataPdus: 0,
    c2hDataBytes: 0,
    r2tRx: 0,
    h2cDataPdus: 0,
    h2cDataBytes: 0,
    inCapsuleWrites: 0,
    inCapsuleBytes: 0,
    capsuleResps: 0,
    successCompletions: 0,
    commandsSubmitted: 0,
    commandsCompleted: 0,
    commandErrors: 0,
    commandTimeouts: 0,
    h2cTermReqSent: 0,
    c2hTermReqRx: 0,
    ddpSetup: 0,
    ddpSetupFail: 0,
    ddpTeardown: 0,
  };
}

/** All bytes the host CRC'd: the `host.crcBytes` of a run report. */
export function hostBytesCrc(s: NvmeHostStats): number {
  return s.crcHeaderBytes + s.crcDataRxBytes + s.crcDataTxBytes;
}

/** Field-wise sum of several queues' stats. */
export function sumNvmeHostStats(all: readonly NvmeHostStats[]): NvmeHostStats {
  const out = newNvmeHostStats();
  const keys = Object.keys(out) as (keyof NvmeHostStats)[];
  for (const s of all) for (const k of keys) out[k] += s[k];
  return out;
}
