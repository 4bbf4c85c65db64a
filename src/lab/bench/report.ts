/**
 * What `ddplab bench` writes: report.json (every run, every counter),
 * report.md (tables per cell of the grid) and line charts as SVG, written as
 * text — three kinds per workload and reordering rate, x = loss rate toward
 * the host, one series per offload mode (per offload mode and NIC profile
 * when the sweep has several profiles):
 *   placement-*.svg  placement % (bytes the NIC placed / C2HData bytes)
 *   goodput-*.svg    read+write goodput, MB/s
 *   unplaced-*.svg   C2HData bytes of offered reads not placed, per
 *                    impairment event (loss or reorder) — DDP modes only
 * Points are the mean over seeds; whiskers span min..max.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchCell, BenchResult, BenchRun, OffloadMode } from './bench.js';
import { usesAnyOffload } from '../../host/offload-mode.js';
import { benchMetrics, cellKey } from './bench.js';
import { UserError } from '../../base/errors.js';
import { REPORT_SCHEMA_VERSION } from '../../base/report-version.js';

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
  readonly goodputMBps: Spread;
  readonly hostCpuMsPerGiB: number;
  readonly hostCpuMsPerGiBWithoutNic: number;
  /** Mean per run. */
  readonly hostBytesCopied: number;
  readonly hostBytesCrc: number;
  /** null without a DDP report (offload none, or a build without DDP). */
  readonly placementPct: Spread | null;
  readonly c2hDataBytes: number;
  /** C2HData bytes not placed, by cause (summed): reads below io_threshold, reads over the limits, lost sync. */
  readonly unplacedBelowThreshold: number;
  readonly unplacedLimits: number;
  readonly unplacedLostSync: number | null;
  /** unplacedLostSync / (loss + port drops + reorder events); null without events, without a DDP report, or when no read was mapped. */
  readonly unplacedPerEvent: number | null;
  readonly resyncRequests: number;
  readonly resyncConfirmed: number;
  /** Times a socket lost PDU sync (rx-nvme-tcp-lost-sync), summed. */
  readonly lostSync: number;
  /** unplacedLostSync / lostSync: what one loss of sync cost; null without losses of sync. */
  readonly unplacedPerLostSync: number | null;
  readonly errors: readonly string[];
}

function spread(values: readonly number[]): Spread {
  if (values.length === 0) return { mean: 0, min: 0, max: 0 };
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
    const unplaced = ddp.length > 0 ? ddp.reduce((a, d) => a + d.unplacedLostSync, 0) : null;
    const c2h = ddp.reduce((a, d) => a + d.c2hDataBytes, 0);
    const belowThreshold = ddp.reduce((a, d) => a + d.unplacedBelowThreshold, 0);
    const limits = ddp.reduce((a, d) => a + d.unplacedLimits, 0);
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
      goodputMBps: spread(ms.map((m) => m.goodputMBps)),
      hostCpuMsPerGiB: ms.length > 0 ? sum((m) => m.hostCpuMsPerGiB) / ms.length : 0,
      hostCpuMsPerGiBWithoutNic: ms.length > 0 ? sum((m) => m.hostCpuMsPerGiBWithoutNic ?? m.hostCpuMsPerGiB) / ms.length : 0,
      hostBytesCopied: ms.length > 0 ? sum((m) => m.hostBytesCopied) / ms.length : 0,
      hostBytesCrc: ms.length > 0 ? sum((m) => m.hostBytesCrc) / ms.length : 0,
      placementPct: ddp.length > 0 ? spread(ddp.map((d) => d.placementPct)) : null,
      c2hDataBytes: c2h,
      unplacedBelowThreshold: belowThreshold,
      unplacedLimits: limits,
      unplacedLostSync: unplaced,
      unplacedPerEvent: unplaced !== null && events > 0 && mapped > 0 ? unplaced / events : null,
      resyncRequests: ddp.reduce((a, d) => a + d.resyncRequests, 0),
      resyncConfirmed: ddp.reduce((a, d) => a + d.resyncConfirmed, 0),
      lostSync,
      unplacedPerLostSync: unplaced !== null && lostSync > 0 && mapped > 0 ? unplaced / lostSync : null,
      errors: g.filter((r) => r.metrics.error !== undefined).map((r) => `seed ${r.point.seed}: ${r.metrics.error!}`),
    });
  }
  return out;
}

// ------------------------------------------------------------ SVG line charts

export interface ChartPoint {
  readonly x: number;
  readonly y: number;
  readonly yMin?: number;
  readonly yMax?: number;
}

export interface ChartSeries {
  readonly name: string;
  readonly points: readonly ChartPoint[];
}

export interface LineChart {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  /** Log x axis; x = 0 is drawn one decade left of the smallest positive x, labelled "0". */
  readonly xLog: boolean;
  readonly series: readonly ChartSeries[];
  /** Fixed y range top (e.g. 100 for percentages); default: a round number above the data. */
  readonly yMax?: number;
}

const SERIES_COLORS: Readonly<Record<string, string>> = { none: '#7f7f7f', ddp: '#1f77b4', 'ddp-crc': '#d62728' };
const FALLBACK_COLORS = ['#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** 0, 1e-5, 0.001 → "0", "1e-5", "1e-3"; others plainly. */
export function formatRate(p: number): string {
  if (p === 0) return '0';
  const e = Math.log10(p);
  if (Math.abs(e - Math.round(e)) < 1e-9) return `1e${Math.round(e)}`;
  return String(p);
}

function niceCeil(v: number): number {
  if (!(v > 0)) return 1;
  const mag = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= v) return m * mag;
  return 10 * mag;
}

function fmtTick(v: number): string {
  if (v === 0) return '0';
  if (Math.abs(v) >= 1e6) return `${(v / 1e6).toFixed(v % 1e6 === 0 ? 0 : 1)}M`;
  if (Math.abs(v) >= 1e4) return `${(v / 1e3).toFixed(v % 1e3 === 0 ? 0 : 1)}k`;
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

/** A line chart as a standalone SVG document: axes with labels and ticks, one polyline per series, a legend. */
export function lineChartSvg(c: LineChart): string {
  const W = 640;
  const H = 400;
  const L = 72;
  const R = 150;
  const T = 40;
  const B = 56;
  const pw = W - L - R;
  const ph = H - T - B;
  const xs = c.series.flatMap((s) => s.points.map((p) => p.x));
  const positive = xs.filter((x) => x > 0);
  const logMin = positive.length > 0 ? Math.floor(Math.log10(Math.min(...positive))) : 0;
  const logMax = positive.length > 0 ? Math.ceil(Math.log10(Math.max(...positive))) : 1;
  const hasZero = xs.some((x) => x === 0);
  // Log axis: decades logMin..logMax, plus one slot left of them for x = 0.
  const lo = c.xLog ? (hasZero ? logMin - 1 : logMin) : Math.min(0, ...xs);
  const hi = c.xLog ? Math.max(logMax, lo + 1) : Math.max(...xs, lo + 1);
  const xPos = (x: number): number => {
    const v = c.xLog ? (x > 0 ? Math.log10(x) : lo) : x;
    return L + ((v - lo) / (hi - lo)) * pw;
  };
  const ys = c.series.flatMap((s) => s.points.map((p) => p.yMax ?? p.y));
  const yTop = c.yMax ?? niceCeil(Math.max(0, ...ys) * 1.05);
  const yPos = (y: number): number => T + ph - (Math.max(0, Math.min(y, yTop)) / yTop) * ph;
  const out: string[] = [];
  out.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<title>${xmlEscape(c.title)}</title>`);
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text class="title" x="${L + pw / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${xmlEscape(c.title)}</text>`);
  // Grid and ticks.
  out.push(`<g class="y-axis" stroke="#dddddd">`);
  for (let k = 0; k <= 5; k++) {
    const v = (yTop * k) / 5;
    const y = yPos(v);
    out.push(`<line x1="${L}" y1="${y.toFixed(1)}" x2="${L + pw}" y2="${y.toFixed(1)}"/>`);
    out.push(`<text x="${L - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end" stroke="none" fill="#333333">${fmtTick(v)}</text>`);
  }
  out.push(`</g>`);
  out.push(`<g class="x-axis" stroke="#dddddd">`);
  const xTicks: { x: number; label: string }[] = [];
  if (c.xLog) {
    if (hasZero) xTicks.push({ x: 0, label: '0' });
    for (let d = hasZero ? lo + 1 : lo; d <= hi; d++) xTicks.push({ x: 10 ** d, label: `1e${d}` });
  } else {
    for (let k = 0; k <= 5; k++) {
      const v = lo + ((hi - lo) * k) / 5;
      xTicks.push({ x: v, label: fmtTick(v) });
    }
  }
  for (const t of xTicks) {
    const x = xPos(t.x);
    out.push(`<line x1="${x.toFixed(1)}" y1="${T}" x2="${x.toFixed(1)}" y2="${T + ph}"/>`);
    out.push(`<text x="${x.toFixed(1)}" y="${T + ph + 16}" text-anchor="middle" stroke="none" fill="#333333">${xmlEscape(t.label)}</text>`);
  }
  out.push(`</g>`);
  out.push(`<rect x="${L}" y="${T}" width="${pw}" height="${ph}" fill="none" stroke="#333333"/>`);
  out.push(`<text class="x-label" x="${L + pw / 2}" y="${H - 14}" text-anchor="middle">${xmlEscape(c.xLabel)}</text>`);
  out.push(
    `<text class="y-label" x="16" y="${T + ph / 2}" text-anchor="middle" transform="rotate(-90 16 ${T + ph / 2})">${xmlEscape(c.yLabel)}</text>`,
  );
  // Series.
  c.series.forEach((s, k) => {
    const color = SERIES_COLORS[s.name] ?? FALLBACK_COLORS[k % FALLBACK_COLORS.length]!;
    const pts = [...s.points].sort((a, b) => a.x - b.x);
    out.push(`<g class="series" data-series="${xmlEscape(s.name)}" stroke="${color}" fill="${color}">`);
    if (pts.length > 1) {
      out.push(`<polyline fill="none" stroke-width="2" points="${pts.map((p) => `${xPos(p.x).toFixed(1)},${yPos(p.y).toFixed(1)}`).join(' ')}"/>`);
    }
    for (const p of pts) {
      const x = xPos(p.x).toFixed(1);
      if (p.yMin !== undefined && p.yMax !== undefined && p.yMax > p.yMin) {
        out.push(`<line class="whisker" x1="${x}" y1="${yPos(p.yMin).toFixed(1)}" x2="${x}" y2="${yPos(p.yMax).toFixed(1)}" stroke-width="1"/>`);
      }
      out.push(`<circle cx="${x}" cy="${yPos(p.y).toFixed(1)}" r="3"><title>${xmlEscape(`${s.name}: x=${formatRate(p.x)} y=${p.y.toPrecision(4)}`)}</title></circle>`);
    }
    out.push(`</g>`);
  });
  // Legend.
  out.push(`<g class="legend">`);
  c.series.forEach((s, k) => {
    const color = SERIES_COLORS[s.name] ?? FALLBACK_COLORS[k % FALLBACK_COLORS.length]!;
    const y = T + 10 + k * 20;
    out.push(`<line x1="${L + pw + 14}" y1="${y}" x2="${L + pw + 38}" y2="${y}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${L + pw + 44}" y="${y + 4}">${xmlEscape(s.name)}</text>`);
  });
  out.push(`</g>`);
  out.push(`</svg>`);
  return `${out.join('\n')}\n`;
}

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
    const series = (mode: Series, y: (c: BenchCellSummary) => ChartPoint | null): ChartSeries => ({
      name: mode.name,
      points: p.cells
        .filter((c) => seriesName(c) === mode.name)
        .map(y)
        .filter((v): v is ChartPoint => v !== null),
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
        yMax: 100,
        // Without offload nothing is placed: 0 %, a real value, not a missing one.
        series: ms.map((m) =>
          series(m, (c) =>
            c.placementPct !== null
              ? { x: c.drop, y: c.placementPct.mean, yMin: c.placementPct.min, yMax: c.placementPct.max }
              : !usesAnyOffload(m.offload)
                ? { x: c.drop, y: 0 }
                : null,
          ),
        ),
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
        series: ms.map((m) => series(m, (c) => ({ x: c.drop, y: c.goodputMBps.mean, yMin: c.goodputMBps.min, yMax: c.goodputMBps.max }))),
      }),
    });
    const ddpModes = ddpSeries(ms);
    const withUnplaced = ddpModes.filter((m) => p.cells.some((c) => seriesName(c) === m.name && c.unplacedPerEvent !== null));
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
          series: withUnplaced.map((m) => series(m, (c) => (c.unplacedPerEvent !== null ? { x: c.drop, y: c.unplacedPerEvent } : null))),
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

function fmtSpread(s: Spread, digits: number): string {
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
      'and the CPU time without the NIC model (process CPU minus rx-nvme-tcp-engine-us, the DDP engine\'s own time).',
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
    for (const m of ms) row.push(at(m) !== undefined ? fmtSpread(at(m)!.goodputMBps, 1) : '');
    for (const m of ddpModes) {
      const c = at(m);
      row.push(c?.placementPct != null ? fmtSpread(c.placementPct, 2) : 'n/a');
      row.push(
        c?.unplacedPerEvent != null
          ? fmtBytes(c.unplacedPerEvent)
          : c !== undefined && c.placementPct !== null && c.unplacedBelowThreshold === c.c2hDataBytes
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
        fmtBytes(c.hostBytesCopied),
        fmtBytes(c.hostBytesCrc),
        `${Math.round(c.hostCpuMsPerGiB)} / ${Math.round(c.hostCpuMsPerGiBWithoutNic)}`,
        c.placementPct !== null ? fmtSpread(c.placementPct, 2) : 'n/a',
        c.unplacedLostSync !== null ? `${fmtBytes(c.unplacedBelowThreshold)} / ${fmtBytes(c.unplacedLimits)} / ${fmtBytes(c.unplacedLostSync)}` : 'n/a',
        c.placementPct !== null ? c.lostSync : 'n/a',
        c.unplacedPerLostSync !== null ? fmtBytes(c.unplacedPerLostSync) : '—',
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

/** Writes report.json, report.md and the charts into `dir` (created); returns the files written. */
export function writeBenchReport(dir: string, result: BenchResult, command: string): string[] {
  mkdirSync(dir, { recursive: true });
  const summary = summarizeBench(result.runs);
  const charts = benchCharts(summary);
  const files: string[] = [];
  const put = (name: string, text: string): void => {
    writeFileSync(join(dir, name), text);
    files.push(name);
  };
  put('report.json', benchJson(command, result, summary));
  put('report.md', `${benchMarkdown(result, summary, { command, charts })}\n`);
  for (const c of charts) put(c.file, c.svg);
  return files;
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
  // Files from before schemaVersion have none (version 1's shape); a newer version may mean fields this code would misread.
  const version = (parsed as { schemaVersion?: unknown }).schemaVersion;
  if (version !== undefined && version !== REPORT_SCHEMA_VERSION) {
    throw new UserError('BAD_REPORT', `${path} has schemaVersion ${JSON.stringify(version)}; this ddplab reads version ${REPORT_SCHEMA_VERSION}`);
  }
  const runs = o.runs.map((r) => (r.report !== null ? { ...r, metrics: benchMetrics(r.report) } : r));
  const { summary: _summary, command, schemaVersion: _version, ...rest } = parsed as BenchResult & { summary?: unknown; command: string; schemaVersion?: unknown };
  return { result: { ...rest, runs }, command };
}
