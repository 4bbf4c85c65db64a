/**
 * What `ddplab bench` writes: report.json (every run, every counter; its
 * layout is docs/report.schema.json's benchReport), report.md (tables per
 * cell of the grid), report.html (the same page with the charts inline,
 * html.ts) and line charts as SVG (line-chart.ts: y axes fitted to the
 * values, a value no run produced drawn missing) — three kinds per workload
 * and reordering rate, x = loss rate toward the host, one series per offload
 * mode (per offload mode and NIC profile when the sweep has several profiles):
 *   placement-*.svg  placement % (bytes the NIC placed / C2HData bytes)
 *   goodput-*.svg    read+write goodput, MB/s
 *   unplaced-*.svg   C2HData bytes of offered reads not placed, per
 *                    impairment event (loss or reorder) — DDP modes only
 * Points are the mean over seeds; whiskers span min..max.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchCell, BenchResult, BenchRun, BenchRunMetrics, BenchRunReport, OffloadMode } from './bench.js';
import { usesAnyOffload } from '../../host/offload-mode.js';
import { benchMetrics, cellKey } from './bench.js';
import { UserError } from '../../base/errors.js';
import { REPORT_SCHEMA_VERSION } from '../../base/report-version.js';
import { formatRate, lineChartSvg, type ChartPoint, type ChartSeries } from './line-chart.js';
import { benchHtml } from './html.js';

// ------------------------------------------------------------ summaries

export interface Spread {
  readonly mean: number;
  readonly min: number;
  readonly max: number;
}

export interface BenchCellSummary extends BenchCell {
  readonly runs: number;
  readonly failed: number;
  readonly mismatches: number;
  readonly sizeBytes: number;
  readonly rxFrames: number;
  /** Summed over the cell's runs. */
  readonly lossEvents: number;
  readonly portDrops: number;
  readonly reorderEvents: number;
  readonly targetRetrans: number;
  /** null (like the four means below) when no run of the cell produced figures: missing, not 0. */
  readonly goodputMBps: Spread | null;
  readonly hostCpuMsPerGiB: number | null;
  readonly hostCpuMsPerGiBWithoutNic: number | null;
  /** Mean per run. */
  readonly hostCopiedBytes: number | null;
  readonly hostCrcBytes: number | null;
  /** null without a DDP report (offload none, or a build without DDP). */
  readonly placementPct: Spread | null;
  readonly c2hDataBytes: number;
  /** C2HData bytes not placed, by cause (summed): reads below io_threshold, reads over the limits, lost sync. */
  readonly unplacedBelowThresholdBytes: number;
  readonly unplacedLimitsBytes: number;
  readonly unplacedLostSyncBytes: number | null;
  /** unplacedLostSyncBytes / (loss + port drops + reorder events); null without events, without a DDP report, or when no read was mapped. */
  readonly unplacedBytesPerEvent: number | null;
  readonly resyncRequests: number;
  readonly resyncConfirmed: number;
  /** Times a socket lost PDU sync (rx-nvme-tcp-lost-sync), summed. */
  readonly lostSync: number;
  /** unplacedLostSyncBytes / lostSync: what one loss of sync cost; null without losses of sync. */
  readonly unplacedBytesPerLostSync: number | null;
  readonly errors: readonly string[];
}

function spread(values: readonly number[]): Spread {
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { mean: sum / values.length, min, max };
}

/** One summary per cell of the grid, in run order. */
export function summarizeBench(runs: readonly BenchRun[]): BenchCellSummary[] {
  const groups = new Map<string, BenchRun[]>();
  for (const r of runs) {
    const k = cellKey(r.point);
    const g = groups.get(k);
    if (g === undefined) groups.set(k, [r]);
    else g.push(r);
  }
  const out: BenchCellSummary[] = [];
  for (const g of groups.values()) {
    const p = g[0]!.point;
    // Runs that ended with a report (passed or not); a run that threw has no figures.
    const ok = g.filter((r) => r.report !== null || r.metrics.ok);
    const ms = ok.map((r) => r.metrics);
    const ddp = ms.map((m) => m.ddp).filter((d) => d !== null);
    const sum = (f: (m: (typeof ms)[number]) => number): number => ms.reduce((a, m) => a + f(m), 0);
    const lossEvents = sum((m) => m.lossEvents);
    const reorderEvents = sum((m) => m.reorderEvents);
    // Older report.json files (before portDrops was recorded) read as 0.
    const portDrops = sum((m) => m.portDrops ?? 0);
    const unplaced = ddp.length > 0 ? ddp.reduce((a, d) => a + d.unplacedLostSyncBytes, 0) : null;
    const c2h = ddp.reduce((a, d) => a + d.c2hDataBytes, 0);
    const belowThreshold = ddp.reduce((a, d) => a + d.unplacedBelowThresholdBytes, 0);
    const limits = ddp.reduce((a, d) => a + d.unplacedLimitsBytes, 0);
    // Bytes of reads the NIC was given buffers for: only those can be lost to lost sync.
    const mapped = c2h - belowThreshold - limits;
    const events = lossEvents + portDrops + reorderEvents;
    const lostSync = ddp.reduce((a, d) => a + d.lostSync, 0);
    out.push({
      drop: p.drop,
      reorder: p.reorder,
      offload: p.offload,
      ...(p.nic !== undefined ? { nic: p.nic } : {}),
      rw: p.rw,
      bs: p.bs,
      runs: g.length,
      failed: g.filter((r) => !r.metrics.ok).length,
      mismatches: g.reduce((a, r) => a + r.metrics.mismatches, 0),
      sizeBytes: p.sizeBytes,
      rxFrames: sum((m) => m.rxFrames),
      lossEvents,
      portDrops,
      reorderEvents,
      targetRetrans: sum((m) => m.targetRetrans),
      goodputMBps: ms.length > 0 ? spread(ms.map((m) => m.goodputMBps)) : null,
      hostCpuMsPerGiB: ms.length > 0 ? sum((m) => m.hostCpuMsPerGiB) / ms.length : null,
      hostCpuMsPerGiBWithoutNic: ms.length > 0 ? sum((m) => m.hostCpuMsPerGiBWithoutNic ?? m.hostCpuMsPerGiB) / ms.length : null,
      hostCopiedBytes: ms.length > 0 ? sum((m) => m.hostCopiedBytes) / ms.length : null,
      hostCrcBytes: ms.length > 0 ? sum((m) => m.hostCrcBytes) / ms.length : null,
      placementPct: ddp.length > 0 ? spread(ddp.map((d) => d.placementPct)) : null,
      c2hDataBytes: c2h,
      unplacedBelowThresholdBytes: belowThreshold,
      unplacedLimitsBytes: limits,
      unplacedLostSyncBytes: unplaced,
      unplacedBytesPerEvent: unplaced !== null && events > 0 && mapped > 0 ? unplaced / events : null,
      resyncRequests: ddp.reduce((a, d) => a + d.resyncRequests, 0),
      resyncConfirmed: ddp.reduce((a, d) => a + d.resyncConfirmed, 0),
      lostSync,
      unplacedBytesPerLostSync: unplaced !== null && lostSync > 0 && mapped > 0 ? unplaced / lostSync : null,
      errors: g.filter((r) => r.metrics.error !== undefined).map((r) => `seed ${r.point.seed}: ${r.metrics.error!}`),
    });
  }
  return out;
}

// ------------------------------------------------------------ SVG line charts (line-chart.ts)

export { formatRate, lineChartSvg, type ChartPoint, type ChartSeries, type LineChart } from './line-chart.js';

// ------------------------------------------------------------ the bench's charts

export interface BenchChart {
  readonly file: string;
  readonly title: string;
  readonly svg: string;
}

interface Panel {
  readonly rw: string;
  readonly bs: string;
  readonly reorder: number;
  readonly cells: readonly BenchCellSummary[];
}

function panels(summary: readonly BenchCellSummary[]): Panel[] {
  const m = new Map<string, BenchCellSummary[]>();
  for (const c of summary) {
    const k = `${c.rw}|${c.bs}|${c.reorder}`;
    const g = m.get(k);
    if (g === undefined) m.set(k, [c]);
    else g.push(c);
  }
  return [...m.values()].map((cells) => ({ rw: cells[0]!.rw, bs: cells[0]!.bs, reorder: cells[0]!.reorder, cells }));
}

/** A line of a chart, a column of a table: an offload mode, with the NIC profile when the DDP engine ran. */
interface Series {
  readonly name: string;
  readonly offload: OffloadMode;
}

/** The series name of a cell: "ddp-crc hardware", or the bare mode without a profile (offload none, older reports). */
export function seriesName(c: Pick<BenchCell, 'offload' | 'nic'>): string {
  return c.nic !== undefined ? `${c.offload} ${c.nic}` : c.offload;
}

function modes(cells: readonly BenchCellSummary[]): Series[] {
  const seen: Series[] = [];
  for (const c of cells) {
    const name = seriesName(c);
    if (!seen.some((x) => x.name === name)) seen.push({ name, offload: c.offload });
  }
  return seen;
}

const ddpSeries = (ms: readonly Series[]): Series[] => ms.filter((m) => usesAnyOffload(m.offload));

function panelName(p: Panel): string {
  return `${p.rw}-${p.bs}-reorder${formatRate(p.reorder)}`;
}

function panelTitle(p: Panel): string {
  return `${p.rw} bs ${p.bs}, reorder ${formatRate(p.reorder)}`;
}

export function benchCharts(summary: readonly BenchCellSummary[]): BenchChart[] {
  const out: BenchChart[] = [];
  const xLabel = 'loss rate toward the host (drop probability per frame)';
  for (const p of panels(summary)) {
    const ms = modes(p.cells);
    // Every series has a point at every loss rate of the panel: one without a value (no run, a failed
    // run, no DDP report) is drawn missing, never as 0.
    const drops = [...new Set(p.cells.map((c) => c.drop))];
    const series = (mode: Series, y: (c: BenchCellSummary) => Omit<ChartPoint, 'x'> | null): ChartSeries => ({
      name: mode.name,
      points: drops.map((drop) => {
        const c = p.cells.find((x) => x.drop === drop && seriesName(x) === mode.name);
        const v = c !== undefined ? y(c) : null;
        return v !== null ? { x: drop, ...v } : { x: drop, y: null };
      }),
    });
    const placementTitle = `Placement % vs loss — ${panelTitle(p)}`;
    out.push({
      file: `placement-${panelName(p)}.svg`,
      title: placementTitle,
      svg: lineChartSvg({
        title: placementTitle,
        xLabel,
        yLabel: 'C2HData bytes placed by the NIC (%)',
        xLog: true,
        yFloor: 0,
        yCeiling: 100,
        // Without offload nothing is placed by definition: drawn at 0 % it would stretch the axis to 0..100 and
        // flatten the offloaded series (96.7-99.9 % in 3 % of the plot); the chart says so instead.
        series: ddpSeries(ms).map((m) =>
          series(m, (c) => (c.placementPct !== null ? { y: c.placementPct.mean, yMin: c.placementPct.min, yMax: c.placementPct.max } : null)),
        ),
        ...(ms.some((m) => !usesAnyOffload(m.offload)) ? { notes: ['offload none: 0 %', '(not drawn)'] } : {}),
      }),
    });
    const goodputTitle = `Goodput vs loss — ${panelTitle(p)}`;
    out.push({
      file: `goodput-${panelName(p)}.svg`,
      title: goodputTitle,
      svg: lineChartSvg({
        title: goodputTitle,
        xLabel,
        yLabel: 'goodput (MB/s)',
        xLog: true,
        yFloor: 0,
        series: ms.map((m) => series(m, (c) => (c.goodputMBps !== null ? { y: c.goodputMBps.mean, yMin: c.goodputMBps.min, yMax: c.goodputMBps.max } : null))),
      }),
    });
    const ddpModes = ddpSeries(ms);
    const withUnplaced = ddpModes.filter((m) => p.cells.some((c) => seriesName(c) === m.name && c.unplacedBytesPerEvent !== null));
    if (withUnplaced.length > 0) {
      const unplacedTitle = `Bytes unplaced per loss/reorder event — ${panelTitle(p)}`;
      out.push({
        file: `unplaced-${panelName(p)}.svg`,
        title: unplacedTitle,
        svg: lineChartSvg({
          title: unplacedTitle,
          xLabel,
          yLabel: 'C2HData bytes not placed per event',
          xLog: true,
          yFloor: 0,
          series: withUnplaced.map((m) => series(m, (c) => (c.unplacedBytesPerEvent !== null ? { y: c.unplacedBytesPerEvent } : null))),
        }),
      });
    }
  }
  return out;
}

// ------------------------------------------------------------ markdown

function fmtBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  if (n >= 2 ** 10) return `${(n / 2 ** 10).toFixed(1)} KiB`;
  return `${Math.round(n)} B`;
}

function fmtSpread(s: Spread | null, digits: number): string {
  if (s === null) return 'n/a';
  if (s.min === s.max) return s.mean.toFixed(digits);
  return `${s.mean.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
}

export interface BenchMarkdownContext {
  /** The command line that made the sweep, shown verbatim. */
  readonly command: string;
  readonly charts: readonly BenchChart[];
}

export function benchMarkdown(result: BenchResult, summary: readonly BenchCellSummary[], ctx: BenchMarkdownContext): string {
  const o = result.options;
  const runs = result.runs;
  const failed = runs.filter((r) => !r.metrics.ok).length;
  const mismatches = runs.reduce((a, r) => a + r.metrics.mismatches, 0);
  const lines: string[] = [];
  lines.push(`# ddplab bench`);
  lines.push('');
  lines.push('```sh');
  lines.push(ctx.command);
  lines.push('```');
  lines.push('');
  lines.push(
    `${runs.length} runs from ${result.startedAt} to ${result.finishedAt} on one topology (MTU ${result.topology.mtu}); ` +
      `digest ${o.digest}, iodepth ${o.iodepth}, ${o.queues} queue(s), target order ${o.order}${o.interleave ? ' interleaved' : ''}, ` +
      `c2h-size ${o.c2hSize}, ${o.seeds} seed(s) per point from ${o.seedBase}.`,
  );
  lines.push('');
  const loads = runs.map((r) => r.loadAvg1);
  lines.push(
    `Machine: ${result.machine.cpus} × ${result.machine.cpuModel}, Linux ${result.machine.kernel}, Node ${result.machine.node}; ` +
      `1-minute load average at the start of each run ${loads.length > 0 ? `${Math.min(...loads).toFixed(2)}–${Math.max(...loads).toFixed(2)}` : 'n/a'} ` +
      '(each run keeps two processes busy: target and host).',
  );
  lines.push('');
  lines.push(
    `**Verification: ${mismatches} mismatches in ${runs.length} runs; ${failed} run(s) failed.** ` +
      'Loss events = frames toward the host the impairment stage dropped or corrupted (the NIC drops a corrupted frame on its TCP checksum), summed over the seeds of a point; ' +
      'the target kernel repaired them (TcpRetransSegs). Unplaced = C2HData bytes of reads set up for DDP that the NIC did not place (lost sync until resync); ' +
      'Port drops = frames the host lost before the impairment stage (capture ring or rx queue full; not asked for, but TCP and DDP see them as loss). ' +
      'Per event = unplaced / (loss events + port drops + reorder events); per lost sync = unplaced / times the NIC lost PDU sync (rx-nvme-tcp-lost-sync).',
  );
  lines.push('');
  lines.push(
    'The software NIC runs in the host process: its placement copies and CRC work count in the same CPU time and slow the same event loop, ' +
      'so goodput compares the whole model, not a host beside real hardware. What an offload takes off the host is in ' +
      "\"host copied\", \"host CRC'd\" (payload placed by the NIC is not copied; digests the NIC checked are not recomputed) " +
      'and the CPU time without the NIC model (process CPU minus the NIC thread\'s when the NIC ran on one, else minus rx-nvme-tcp-engine-us, the DDP engine\'s own time).',
  );
  lines.push('');
  for (const p of panels(summary)) lines.push(...panelMarkdown(p, runs, ctx));
  const errors = summary.flatMap((c) => c.errors.map((e) => `- ${c.rw} ${c.bs} reorder ${formatRate(c.reorder)} drop ${formatRate(c.drop)} ${seriesName(c)}, ${e}`));
  if (errors.length > 0) {
    lines.push('## Failed runs');
    lines.push('');
    lines.push(...errors);
    lines.push('');
  }
  return lines.join('\n');
}

/** One panel (rw, bs, reorder): the modes side by side per loss rate, every cell in detail, its charts. */
function panelMarkdown(p: Panel, runs: BenchResult['runs'], ctx: BenchMarkdownContext): string[] {
  const lines: string[] = [];
  const ms = modes(p.cells);
  lines.push(`## ${panelTitle(p)}`);
  lines.push('');
  const panelLoads = runs
    .filter((r) => r.point.rw === p.rw && r.point.bs === p.bs && r.point.reorder === p.reorder)
    .map((r) => r.loadAvg1);
  if (panelLoads.length > 0) {
    lines.push(`Load average at the start of these runs: ${Math.min(...panelLoads).toFixed(2)}–${Math.max(...panelLoads).toFixed(2)}.`);
    lines.push('');
  }
  // The comparison first: goodput of each mode side by side per loss rate.
  const drops = [...new Set(p.cells.map((c) => c.drop))];
  const ddpModes = ddpSeries(ms);
  const head = ['drop', 'size/run', ...ms.map((m) => `${m.name} MB/s`), ...ddpModes.flatMap((m) => [`${m.name} placement %`, `${m.name} unplaced / event`])];
  lines.push(`| ${head.join(' | ')} |`);
  lines.push(`|${head.map(() => '---').join('|')}|`);
  for (const d of drops) {
    const at = (m: Series): BenchCellSummary | undefined => p.cells.find((c) => c.drop === d && seriesName(c) === m.name);
    const row = [formatRate(d), fmtBytes(at(ms[0]!)?.sizeBytes ?? 0)];
    for (const m of ms) row.push(at(m) !== undefined ? fmtSpread(at(m)!.goodputMBps, 1) : 'n/a');
    for (const m of ddpModes) {
      const c = at(m);
      row.push(c?.placementPct != null ? fmtSpread(c.placementPct, 2) : 'n/a');
      row.push(
        c?.unplacedBytesPerEvent != null
          ? fmtBytes(c.unplacedBytesPerEvent)
          : c !== undefined && c.placementPct !== null && c.unplacedBelowThresholdBytes === c.c2hDataBytes
            ? 'n/a: reads below io_threshold'
            : '—',
      );
    }
    lines.push(`| ${row.join(' | ')} |`);
  }
  lines.push('');
  const detail = [
    'drop',
    'offload',
    'runs',
    'frames → host',
    'loss events',
    'port drops',
    'reorder events',
    'target retrans',
    'goodput MB/s',
    'host copied / run',
    "host CRC'd / run",
    'CPU ms/GiB: process / without NIC model',
    'placement %',
    'not placed: below threshold / limits / lost sync',
    'lost sync',
    'unplaced / lost sync',
    'resync req / confirmed',
    'mismatches',
    'failed',
  ];
  lines.push(`| ${detail.join(' | ')} |`);
  lines.push(`|${detail.map(() => '---').join('|')}|`);
  for (const c of p.cells) {
    lines.push(
      `| ${[
        formatRate(c.drop),
        seriesName(c),
        c.runs,
        c.rxFrames,
        c.lossEvents,
        c.portDrops,
        c.reorderEvents,
        c.targetRetrans,
        fmtSpread(c.goodputMBps, 1),
        c.hostCopiedBytes !== null ? fmtBytes(c.hostCopiedBytes) : 'n/a',
        c.hostCrcBytes !== null ? fmtBytes(c.hostCrcBytes) : 'n/a',
        c.hostCpuMsPerGiB !== null && c.hostCpuMsPerGiBWithoutNic !== null ? `${Math.round(c.hostCpuMsPerGiB)} / ${Math.round(c.hostCpuMsPerGiBWithoutNic)}` : 'n/a',
        c.placementPct !== null ? fmtSpread(c.placementPct, 2) : 'n/a',
        c.unplacedLostSyncBytes !== null ? `${fmtBytes(c.unplacedBelowThresholdBytes)} / ${fmtBytes(c.unplacedLimitsBytes)} / ${fmtBytes(c.unplacedLostSyncBytes)}` : 'n/a',
        c.placementPct !== null ? c.lostSync : 'n/a',
        c.unplacedBytesPerLostSync !== null ? fmtBytes(c.unplacedBytesPerLostSync) : '—',
        c.placementPct !== null ? `${c.resyncRequests} / ${c.resyncConfirmed}` : 'n/a',
        c.mismatches,
        c.failed,
      ].join(' | ')} |`,
    );
  }
  lines.push('');
  for (const ch of ctx.charts.filter((x) => x.file.endsWith(`-${panelName(p)}.svg`))) lines.push(`![${ch.title}](${ch.file})`);
  lines.push('');
  return lines;
}

/** The whole result as JSON, one run and one summary row per line (diffable, and small enough to commit). */
export function benchJson(command: string, result: BenchResult, summary: readonly BenchCellSummary[]): string {
  const { runs, ...head } = result;
  const lines = (xs: readonly unknown[]): string => xs.map((x) => JSON.stringify(x)).join(',\n');
  const headJson = JSON.stringify({ schemaVersion: REPORT_SCHEMA_VERSION, command, ...head });
  return `${headJson.slice(0, -1)},\n"runs": [\n${lines(runs)}\n],\n"summary": [\n${lines(summary)}\n]}\n`;
}

/** Writes report.json, report.md, report.html and the charts into `dir` (created); returns the files written. */
export function writeBenchReport(dir: string, result: BenchResult, command: string): string[] {
  mkdirSync(dir, { recursive: true });
  const summary = summarizeBench(result.runs);
  const charts = benchCharts(summary);
  const files: string[] = [];
  const put = (name: string, text: string): void => {
    writeFileSync(join(dir, name), text);
    files.push(name);
  };
  const md = `${benchMarkdown(result, summary, { command, charts })}\n`;
  put('report.json', benchJson(command, result, summary));
  put('report.md', md);
  put('report.html', benchHtml(md, charts));
  for (const c of charts) put(c.file, c.svg);
  return files;
}

/** Version 1's names of the figures that version 2 ends in Bytes. */
const V1_NAMES: Readonly<Record<string, string>> = {
  hostBytesCopied: 'hostCopiedBytes',
  hostBytesCrc: 'hostCrcBytes',
  unplacedLostSync: 'unplacedLostSyncBytes',
  unplacedBelowThreshold: 'unplacedBelowThresholdBytes',
  unplacedLimits: 'unplacedLimitsBytes',
};

function renamedV1(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [V1_NAMES[k] ?? k, v]));
}

/** Versions 1 and 2's names of the run report's keys that version 3 ends in their unit, per section. */
const V2_RUN_NAMES: Readonly<Record<string, string>> = {
  bytesCopied: 'copiedBytes',
  bytesCopySkipped: 'copySkippedBytes',
  bytesCrc: 'crcBytes',
  bytesCrcHeader: 'crcHeaderBytes',
  bytesCrcDataRx: 'crcDataRxBytes',
  bytesCrcDataTx: 'crcDataTxBytes',
  bytesIn: 'inBytes',
  bytesOut: 'outBytes',
  bytesAcked: 'ackedBytes',
  bytesRetrans: 'retransBytes',
  p50us: 'p50Us',
  p90us: 'p90Us',
  p99us: 'p99Us',
  p999us: 'p999Us',
};

function renamedKeys(o: unknown, names: Readonly<Record<string, string>>): unknown {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return o;
  return Object.fromEntries(Object.entries(o as Record<string, unknown>).map(([k, v]) => [names[k] ?? k, v]));
}

/** A run report stored by version 1 or 2 under version 3's names (host, tcp, latency sections). */
function runReportFromV2(r: BenchRunReport): BenchRunReport {
  const o = { ...(r as unknown as Record<string, unknown>) };
  for (const section of ['host', 'tcp', 'latency']) if (section in o) o[section] = renamedKeys(o[section], V2_RUN_NAMES);
  const w = o['workload'];
  if (w !== null && typeof w === 'object') {
    const wl = { ...(w as Record<string, unknown>) };
    for (const section of ['latency', 'readLatency', 'writeLatency']) if (section in wl) wl[section] = renamedKeys(wl[section], V2_RUN_NAMES);
    o['workload'] = wl;
  }
  return o as unknown as BenchRunReport;
}

/** A version-1 run's stored figures (kept only when the run made no report) under version 2's names. */
function metricsFromV1(m: BenchRunMetrics): BenchRunMetrics {
  const out = renamedV1(m as unknown as Record<string, unknown>);
  const ddp = out['ddp'];
  if (ddp !== null && typeof ddp === 'object') out['ddp'] = renamedV1(ddp as Record<string, unknown>);
  return out as unknown as BenchRunMetrics;
}

/**
 * Reads a sweep back from its report.json, with every run's figures
 * recomputed from its stored report by the current code (so a report can be
 * rendered again after the report format grew); returns it with the command
 * that made it.
 */
export function readBenchReport(dir: string): { result: BenchResult; command: string } {
  const path = join(dir, 'report.json');
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UserError('BAD_REPORT', `cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const o = parsed as Partial<BenchResult> & { command?: unknown };
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray(o.runs) || typeof o.command !== 'string' || o.options === undefined) {
    throw new UserError('BAD_REPORT', `${path} is not a ddplab bench report`);
  }
  // Files from before schemaVersion have none (version 1). Versions 1 and 2 differ only in the names of the
  // figures (metrics, summary), which are recomputed here from the stored run reports; another version may
  // hold fields this code would misread.
  const version = (parsed as { schemaVersion?: unknown }).schemaVersion;
  if (version !== undefined && version !== 1 && version !== 2 && version !== REPORT_SCHEMA_VERSION) {
    throw new UserError('BAD_REPORT', `${path} has schemaVersion ${JSON.stringify(version)}; this ddplab reads versions 1 to ${REPORT_SCHEMA_VERSION}`);
  }
  const old = version !== REPORT_SCHEMA_VERSION;
  const runs = o.runs.map((r) => {
    if (r.report !== null) {
      const report = old ? runReportFromV2(r.report) : r.report;
      return { ...r, report, metrics: benchMetrics(report) };
    }
    return version === undefined || version === 1 ? { ...r, metrics: metricsFromV1(r.metrics) } : r;
  });
  const { summary: _summary, command, schemaVersion: _version, ...rest } = parsed as BenchResult & { summary?: unknown; command: string; schemaVersion?: unknown };
  return { result: { ...rest, runs }, command };
}
