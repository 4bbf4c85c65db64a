/**
 * What `ddplab replay` reports: per connection and in total, what the
 * capture held (PDUs by type, commands), what the replayed host did with it
 * (bytes placed by the NIC vs copied, digests, lost sync and resyncs, gaps)
 * and one SHA-256 per read, so that two replays — or a replay and the live
 * run that made the capture — can be compared command by command.
 */
import type { UlpMode } from '../host/nvme/ulp-mode.js';
import { REPORT_SCHEMA_VERSION } from '../base/report-version.js';
import type { NicProfile } from '../nicemu/ddp/nic-profile.js';
import { pduTypeName } from '../wire/nvme-tcp-pdu.js';
import type { NicRxStats } from '../nicemu/nic-stats.js';
import type { PduStream } from './pdu-stream.js';
import { newReplayCommandCounts, type ReplayCommandCounts, type ReplayConnection, type ReplayRead } from './connection.js';
import type { ReplayStream, ReplayStreamStats } from './stream.js';

/** One direction of a connection. */
export interface ReplayDirectionReport {
  /** The capture began after this direction's first byte. */
  readonly midStream: boolean;
  /** Sequence number of the first PDU boundary (null: none found), and bytes passed over to find it. */
  readonly firstPduSeq: number | null;
  readonly skippedBytes: number;
  readonly tcp: ReplayStreamStats;
  /** PDUs by type name (types that occurred). */
  readonly pdus: Record<string, number>;
  readonly hdgst: { readonly ok: number; readonly mismatch: number };
  readonly ddgst: { readonly ok: number; readonly mismatch: number; readonly nicVerified: number; readonly unverifiable: number };
  /** Sync lost (a gap over a PDU header, a header that did not validate), boundaries found again by hunting, bytes passed over meanwhile. */
  readonly syncLost: number;
  readonly resyncs: number;
  readonly huntSkippedBytes: number;
  readonly badHeaders: number;
  /** PDUs cut by a gap before their header was whole, and by the end of the capture. */
  readonly headerlessPdus: number;
  readonly truncatedPdus: number;
}

export interface ReplayByteCounts {
  /** C2HData payload bytes in the target's stream. */
  readonly c2hData: number;
  /** Payload bytes the host found already in their destination (placed by the NIC): copy skipped. */
  readonly placed: number;
  /** Payload bytes the host copied into their destination. */
  readonly copied: number;
  /** Payload bytes that had no destination (unknown CID, out of range, untrusted header). */
  readonly unplaced: number;
  /** PDU header and digest bytes copied. */
  readonly headersCopied: number;
  /** Bytes the host CRC'd itself: data (digests not verified by the NIC) and headers. */
  readonly hostCrcData: number;
  readonly hostCrcHeader: number;
}

export interface ReplayConnectionReport {
  readonly index: number;
  /** host:port>target:port */
  readonly connection: string;
  readonly qid: number | null;
  /** Digests as negotiated (null: the capture has no ICReq/ICResp). */
  readonly hdgst: boolean | null;
  readonly ddgst: boolean | null;
  readonly c2h: ReplayDirectionReport;
  readonly h2c: ReplayDirectionReport;
  readonly commands: ReplayCommandCounts;
  readonly bytes: ReplayByteCounts;
  /** PDUs for a CID with no current command. */
  readonly unknownCidPdus: number;
  readonly outOfRangePdus: number;
  readonly untrustedPdus: number;
  /** The offload took this connection (sk_add). */
  readonly offloaded: boolean;
  /** FES of a C2HTermReq, null without one. */
  readonly terminatedFes: number | null;
}

/** The numeric sections of a connection, summed over all of them. */
export interface ReplayTotals {
  readonly connections: number;
  readonly commands: ReplayCommandCounts;
  readonly bytes: ReplayByteCounts;
  readonly c2h: ReplayDirectionTotals;
  readonly h2c: ReplayDirectionTotals;
}

export type ReplayDirectionTotals = Omit<ReplayDirectionReport, 'midStream' | 'firstPduSeq'>;

export interface ReplayFrameCounts {
  total: number;
  /** Frames of the NVMe/TCP connections, each way. */
  toTarget: number;
  toHost: number;
  /** Host → target frames dropped for a bad TCP checksum. */
  toTargetBadChecksum: number;
  /** TCP frames on other ports, other IPv4, non-IPv4, frames that did not parse. */
  otherTcp: number;
  otherIp: number;
  nonIp: number;
  malformed: number;
}

export interface ReplayOptionsReport {
  readonly port: number;
  readonly offload: string;
  readonly drop: number;
  readonly reorder: number;
  readonly seed: number;
  readonly verifyChecksums: boolean;
  /** The host's data-digest fallback, and the NIC's limits in force. */
  readonly ulp: UlpMode;
  /** Which NIC the software NIC stood for (docs/ddp.md, "NIC profiles"). */
  readonly nic: NicProfile;
  readonly limits: { readonly maxDdpSglLen: number; readonly ioThresholdBytes: number; readonly fullCcidRange: boolean };
}

export interface ReplayReport {
  readonly file: string;
  readonly options: ReplayOptionsReport;
  readonly frames: ReplayFrameCounts;
  readonly connections: ReplayConnectionReport[];
  readonly total: ReplayTotals;
  /** Every read, in the order the hosts sent them (by connection, then CapsuleCmd order). */
  readonly reads: ReplayRead[];
  /** The NIC's receive counters (summed when the capture has several hosts). */
  readonly nic: NicRxStats;
  /** The DDP offload's counters (ulp-ddp names), null without offload. */
  readonly ddp: Record<string, number> | null;
  /** What the impairment stage did to frames toward the host, null without impairment. */
  readonly impair: Record<string, number> | null;
  /** One line per thing worth knowing: mid-connection starts, gaps, digest errors, a capture cut short. */
  readonly notes: string[];
  /** The capture ends inside a record or block (its writer killed): where, what and how much; null when it ends cleanly. */
  readonly truncated: { readonly atByte: number; readonly bytes: number; readonly records: number; readonly what: string } | null;
}

/** What `ddplab replay --json` prints: the report with the version of its schema (docs/report.schema.json) first. */
export function replayReportJson(r: ReplayReport): { readonly schemaVersion: number } & ReplayReport {
  return { schemaVersion: REPORT_SCHEMA_VERSION, ...r };
}

export function directionReport(stream: ReplayStream, pdus: PduStream): ReplayDirectionReport {
  const s = pdus.stats;
  const byType: Record<string, number> = {};
  for (let t = 0; t < s.pdus.length; t++) if (s.pdus[t]! > 0) byType[pduTypeName(t)] = s.pdus[t]!;
  const first = pdus.firstSync;
  return {
    midStream: stream.midStream,
    firstPduSeq: first?.seq ?? null,
    skippedBytes: first?.skipped ?? 0,
    tcp: { ...stream.stats },
    pdus: byType,
    hdgst: { ok: s.hdgstOk, mismatch: s.hdgstMismatch },
    ddgst: { ok: s.ddgstOk, mismatch: s.ddgstMismatch, nicVerified: s.ddgstNicVerified, unverifiable: s.ddgstUnverifiable },
    syncLost: s.syncLost,
    // The first boundary found in a mid-connection capture is a sync, not a resync.
    resyncs: Math.max(0, s.syncs - (stream.midStream && first !== undefined ? 1 : 0)),
    huntSkippedBytes: s.huntSkippedBytes,
    badHeaders: s.badHeaders,
    headerlessPdus: s.headerlessPdus,
    truncatedPdus: s.truncatedPdus,
  };
}

export function connectionReport(conn: ReplayConnection): ReplayConnectionReport {
  const c2h = conn.c2hPdus.stats;
  const u = conn.ulp.stats;
  return {
    index: conn.index,
    connection: conn.label,
    qid: conn.qid ?? null,
    hdgst: conn.params.hdgst ?? null,
    ddgst: conn.params.ddgst ?? null,
    c2h: directionReport(conn.c2h, conn.c2hPdus),
    h2c: directionReport(conn.h2c, conn.h2cPdus),
    commands: { ...conn.counts },
    bytes: {
      c2hData: u.c2hDataBytes,
      placed: c2h.dataCopy.bytesSkipped,
      copied: c2h.dataCopy.copiedBytes,
      unplaced: u.unplacedDataBytes,
      headersCopied: c2h.headerCopy.copiedBytes,
      hostCrcData: c2h.bytesCrcData,
      hostCrcHeader: c2h.crcHeaderBytes,
    },
    unknownCidPdus: u.unknownCidPdus,
    outOfRangePdus: u.outOfRangePdus,
    untrustedPdus: u.untrustedPdus + conn.learner.stats.untrustedPdus,
    offloaded: conn.offloadAttached,
    terminatedFes: conn.terminatedFes ?? null,
  };
}

/**
 * Field-by-field sum of records of counts, over the keys of `zero` only: a
 * number the zero does not name (a direction's firstPduSeq, a sequence
 * number) is not a count and has no total.
 */
function sumCounts<T extends object>(list: readonly T[], zero: T): T {
  const out = { ...zero } as Record<string, number>;
  for (const item of list) {
    for (const [k, v] of Object.entries(item)) if (typeof v === 'number' && k in out) out[k] = out[k]! + v;
  }
  return out as T;
}

function directionTotals(list: readonly ReplayDirectionReport[]): ReplayDirectionTotals {
  const pdus: Record<string, number> = {};
  for (const d of list) for (const [k, v] of Object.entries(d.pdus)) pdus[k] = (pdus[k] ?? 0) + v;
  const scalars = sumCounts<Pick<ReplayDirectionReport, 'skippedBytes' | 'syncLost' | 'resyncs' | 'huntSkippedBytes' | 'badHeaders' | 'headerlessPdus' | 'truncatedPdus'>>(list, {
    skippedBytes: 0,
    syncLost: 0,
    resyncs: 0,
    huntSkippedBytes: 0,
    badHeaders: 0,
    headerlessPdus: 0,
    truncatedPdus: 0,
  });
  return {
    ...scalars,
    tcp: sumCounts(
      list.map((d) => d.tcp),
      { segments: 0, bytes: 0, dupBytes: 0, ofoSegments: 0, gaps: 0, gapBytes: 0, beforeSyncBytes: 0 },
    ),
    pdus,
    hdgst: sumCounts(
      list.map((d) => d.hdgst),
      { ok: 0, mismatch: 0 },
    ),
    ddgst: sumCounts(
      list.map((d) => d.ddgst),
      { ok: 0, mismatch: 0, nicVerified: 0, unverifiable: 0 },
    ),
  };
}

export function totalsOf(conns: readonly ReplayConnectionReport[]): ReplayTotals {
  return {
    connections: conns.length,
    commands: sumCounts(
      conns.map((c) => c.commands),
      newReplayCommandCounts(),
    ),
    bytes: sumCounts(
      conns.map((c) => c.bytes),
      { c2hData: 0, placed: 0, copied: 0, unplaced: 0, headersCopied: 0, hostCrcData: 0, hostCrcHeader: 0 },
    ),
    c2h: directionTotals(conns.map((c) => c.c2h)),
    h2c: directionTotals(conns.map((c) => c.h2c)),
  };
}

function fmtBytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(2)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

function fmtPdus(p: Record<string, number>): string {
  const parts = Object.entries(p).map(([k, v]) => `${k} ${v}`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}

function fmtDigests(d: ReplayDirectionTotals): string {
  const parts: string[] = [];
  if (d.hdgst.ok + d.hdgst.mismatch > 0) parts.push(`HDGST ${d.hdgst.ok} ok${d.hdgst.mismatch > 0 ? ` ${d.hdgst.mismatch} MISMATCH` : ''}`);
  const g = d.ddgst;
  if (g.ok + g.mismatch + g.nicVerified + g.unverifiable > 0) {
    parts.push(
      `DDGST ${g.ok} ok` +
        (g.nicVerified > 0 ? `, ${g.nicVerified} by the NIC` : '') +
        (g.mismatch > 0 ? `, ${g.mismatch} MISMATCH` : '') +
        (g.unverifiable > 0 ? `, ${g.unverifiable} unverifiable` : ''),
    );
  }
  return parts.length > 0 ? parts.join('; ') : 'no digests';
}

function fmtDirection(name: string, d: ReplayDirectionTotals): string {
  const tcp = d.tcp;
  let line = `    ${name} ${fmtBytes(tcp.bytes)} in ${tcp.segments} segments`;
  if (tcp.ofoSegments > 0) line += `, ${tcp.ofoSegments} out of order`;
  if (tcp.dupBytes > 0) line += `, ${fmtBytes(tcp.dupBytes)} duplicate`;
  if (tcp.gaps > 0) line += `, ${tcp.gaps} gaps (${fmtBytes(tcp.gapBytes)} lost)`;
  line += `; PDUs ${fmtPdus(d.pdus)}; ${fmtDigests(d)}`;
  if (d.syncLost > 0 || d.resyncs > 0) line += `; sync lost ${d.syncLost}, found again ${d.resyncs} (${fmtBytes(d.huntSkippedBytes)} passed over)`;
  return line;
}

function fmtCommands(c: ReplayCommandCounts): string {
  let line = `    commands     ${c.total} (${c.reads} reads, ${c.writes} writes, ${c.other} other): ${c.completed} completed`;
  if (c.errors > 0) line += `, ${c.errors} with an error status`;
  if (c.readsIncomplete > 0) line += `, ${c.readsIncomplete} reads incomplete`;
  if (c.notCompleted > 0) line += `, ${c.notCompleted} without completion`;
  return line;
}

function fmtBytesLine(b: ReplayByteCounts): string {
  return (
    `    C2HData      ${fmtBytes(b.c2hData)}: placed by the NIC ${fmtBytes(b.placed)}, copied ${fmtBytes(b.copied)}` +
    (b.unplaced > 0 ? `, no destination ${fmtBytes(b.unplaced)}` : '') +
    `; host CRC ${fmtBytes(b.hostCrcData)}`
  );
}

/** The human report (`ddplab replay` without --json). */
export function formatReplayReport(r: ReplayReport): string {
  const o = r.options;
  const lines: string[] = [];
  const impair = o.drop > 0 || o.reorder > 0 ? `, impaired (drop ${o.drop}, reorder ${o.reorder}, seed ${o.seed})` : '';
  lines.push(
    `ddplab replay ${r.file}: ${r.frames.total} frames, ${r.connections.length} NVMe/TCP connection${r.connections.length === 1 ? '' : 's'} on port ${o.port}, offload ${o.offload}${impair}`,
  );
  for (const c of r.connections) {
    const dg = c.hdgst === null ? 'digests unknown' : `digests ${[c.hdgst ? 'header' : '', c.ddgst ? 'data' : ''].filter((x) => x).join('+') || 'none'}`;
    lines.push(`  connection ${c.index} ${c.connection} qid ${c.qid ?? '?'}, ${dg}${c.offloaded ? ', offloaded' : ''}`);
    lines.push(fmtDirection('target→host', c.c2h));
    lines.push(fmtDirection('host→target', c.h2c));
    lines.push(fmtCommands(c.commands));
    lines.push(fmtBytesLine(c.bytes));
  }
  if (r.connections.length > 1) {
    lines.push(`  total`);
    lines.push(fmtDirection('target→host', r.total.c2h));
    lines.push(fmtDirection('host→target', r.total.h2c));
    lines.push(fmtCommands(r.total.commands));
    lines.push(fmtBytesLine(r.total.bytes));
  }
  if (r.ddp !== null) {
    const d = r.ddp;
    const l = o.limits;
    lines.push(
      `  ulp          ${o.ulp}; nic ${o.nic}; limits: max SGL ${l.maxDdpSglLen} pages, threshold ${fmtBytes(l.ioThresholdBytes)}, CIDs ${l.fullCcidRange ? 'full range' : 'below the queue size'}`,
    );
    lines.push(
      `  ddp          setup ${d['rx-nvme-tcp-setup'] ?? 0} (fail ${d['rx-nvme-tcp-setup-fail'] ?? 0}), placed ${fmtBytes(d['rx-nvme-tcp-bytes'] ?? 0)}, ` +
        `crc ok ${d['rx-nvme-tcp-crc-ok'] ?? 0}, lost sync ${d['rx-nvme-tcp-lost-sync'] ?? 0}, resync requests ${d['rx-nvme-tcp-resync-req'] ?? 0}, resyncs ${d['rx-nvme-tcp-resync'] ?? 0}`,
    );
  }
  if (r.impair !== null) {
    const i = r.impair;
    lines.push(`  impairment   ${i['frames'] ?? 0} frames toward the host: ${i['dropped'] ?? 0} dropped, ${i['reordered'] ?? 0} reordered`);
  }
  const byStatus = new Map<string, number>();
  for (const rd of r.reads) byStatus.set(rd.status, (byStatus.get(rd.status) ?? 0) + 1);
  const st = [...byStatus.entries()].map(([k, v]) => `${v} ${k}`).join(', ');
  lines.push(`  reads        ${r.reads.length}${st ? `: ${st}` : ''} (SHA-256 of each with --json)`);
  for (const n of r.notes) lines.push(`  note: ${n}`);
  return lines.join('\n');
}
