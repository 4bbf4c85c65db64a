/**
 * Counters of what the target saw and sent, per connection (one NVMe/TCP
 * queue) and summed over the target. Plain data, so `ddplab target --json`
 * can print it as it is.
 */

export interface QueueStats {
  /** Connection index in accept order, for log lines. */
  readonly conn: number;
  remote: string;
  /** Set once Fabrics Connect succeeded; -1 before. */
  qid: number;
  cntlid: number;
  pdusRx: number;
  pdusTx: number;
  bytesRx: number;
  bytesTx: number;
  commands: number;
  reads: number;
  writes: number;
  flushes: number;
  adminCommands: number;
  readBytes: number;
  writeBytes: number;
  inCapsuleBytes: number;
  c2hDataPdus: number;
  r2tPdus: number;
  h2cDataPdus: number;
  /** Commands completed with a non-zero status. */
  errorCompletions: number;
  /** Reads completed by a C2HData SUCCESS flag instead of a CapsuleResp. */
  successFlagCompletions: number;
  headerDigestErrors: number;
  dataDigestErrors: number;
  /** C2HTermReqs sent, by Fatal Error Status. */
  termReqsSent: Record<string, number>;
  h2cTermReqsReceived: number;
  /** Completions released in a different order than they became ready. */
  reorderedCompletions: number;
  /** Times socket.write() asked us to wait for 'drain'. */
  backpressureWaits: number;
  /** PDUs the hostile mode (hostile.ts) sent broken or added on this connection. */
  hostilePdus: number;
  closedBy: 'open' | 'host' | 'target-error' | 'keep-alive' | 'shutdown' | 'association';
}

export function newQueueStats(conn: number, remote: string): QueueStats {
  return {
    conn,
    remote,
    qid: -1,
    cntlid: -1,
    pdusRx: 0,
    pdusTx: 0,
    bytesRx: 0,
    bytesTx: 0,
    commands: 0,
    reads: 0,
    writes: 0,
    flushes: 0,
    adminCommands: 0,
    readBytes: 0,
    writeBytes: 0,
    inCapsuleBytes: 0,
    c2hDataPdus: 0,
    r2tPdus: 0,
    h2cDataPdus: 0,
    errorCompletions: 0,
    successFlagCompletions: 0,
    headerDigestErrors: 0,
    dataDigestErrors: 0,
    termReqsSent: {},
    h2cTermReqsReceived: 0,
    reorderedCompletions: 0,
    backpressureWaits: 0,
    hostilePdus: 0,
    closedBy: 'open',
  };
}

export interface TargetStats {
  connectionsAccepted: number;
  connectionsOpen: number;
  controllersCreated: number;
  protocolErrors: number;
  /** Every queue that ever connected, closed ones included. */
  queues: QueueStats[];
}

export function newTargetStats(): TargetStats {
  return { connectionsAccepted: 0, connectionsOpen: 0, controllersCreated: 0, protocolErrors: 0, queues: [] };
}

type NumericKey = { [K in keyof QueueStats]: QueueStats[K] extends number ? K : never }[keyof QueueStats];

const SUMMED: readonly NumericKey[] = [
  'pdusRx',
  'pdusTx',
  'bytesRx',
  'bytesTx',
  'commands',
  'reads',
  'writes',
  'flushes',
  'readBytes',
  'writeBytes',
  'c2hDataPdus',
  'r2tPdus',
  'h2cDataPdus',
  'errorCompletions',
  'successFlagCompletions',
  'headerDigestErrors',
  'dataDigestErrors',
  'reorderedCompletions',
  'backpressureWaits',
];

/** Totals over all queues of the numeric counters. */
export function sumQueueStats(queues: readonly QueueStats[]): Record<NumericKey, number> {
  const out = Object.fromEntries(SUMMED.map((k) => [k, 0])) as Record<NumericKey, number>;
  for (const q of queues) for (const k of SUMMED) out[k] += q[k];
  return out;
}
