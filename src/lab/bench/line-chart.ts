/**
 * A line chart as SVG text: a log or linear x axis, a y axis fitted to the
 * values (axis.ts), one polyline per series with min..max whiskers, and a
 * legend. A point without a value (y null: no run produced the figure) is
 * drawn as a gap in its line and an "n/a" mark at its x, never as 0.
 */
import { fitAxis, formatTick } from './axis.js';

export interface ChartPoint {
  readonly x: number;
  /** null: no value at this x (shown as missing). */
  readonly y: number | null;
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
  /** The y axis never extends past these (e.g. 0 and 100 for a percentage). */
  readonly yFloor?: number;
  readonly yCeiling?: number;
  /** Lines of text under the legend (e.g. a series left out and why). */
  readonly notes?: readonly string[];
}

/** The plot's geometry, in SVG user units (the tests check points against it). */
export const CHART_BOX = { width: 640, height: 400, left: 72, right: 150, top: 40, bottom: 56 } as const;

const SERIES_COLORS: Readonly<Record<string, string>> = { none: '#7f7f7f', ddp: '#1f77b4', 'ddp-crc': '#d62728' };
const FALLBACK_COLORS = ['#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

export function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** 0, 1e-5, 0.001 → "0", "1e-5", "1e-3"; others plainly. */
export function formatRate(p: number): string {
  if (p === 0) return '0';
  const e = Math.log10(p);
  if (Math.abs(e - Math.round(e)) < 1e-9) return `1e${Math.round(e)}`;
  return String(p);
}

function colorOf(name: string, k: number): string {
  return SERIES_COLORS[name] ?? FALLBACK_COLORS[k % FALLBACK_COLORS.length]!;
}

/** A line chart as a standalone SVG document: axes with labels and ticks, one polyline per series, a legend. */
export function lineChartSvg(c: LineChart): string {
  const { width: W, height: H, left: L, right: R, top: T, bottom: B } = CHART_BOX;
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
  const ys = c.series.flatMap((s) => s.points.flatMap((p) => (p.y === null ? [] : [p.y, p.yMin ?? p.y, p.yMax ?? p.y])));
  const axis = fitAxis(ys, { ...(c.yFloor !== undefined ? { floor: c.yFloor } : {}), ...(c.yCeiling !== undefined ? { ceiling: c.yCeiling } : {}) });
  const yPos = (y: number): number => T + ph - ((Math.max(axis.lo, Math.min(y, axis.hi)) - axis.lo) / (axis.hi - axis.lo)) * ph;
  const out: string[] = [];
  out.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<title>${xmlEscape(c.title)}</title>`);
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text class="title" x="${L + pw / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${xmlEscape(c.title)}</text>`);
  // Grid and ticks: the y axis's range is the data's, so its labels say where it starts.
  out.push(`<g class="y-axis" stroke="#dddddd" data-lo="${axis.lo}" data-hi="${axis.hi}">`);
  for (const v of axis.ticks) {
    const y = yPos(v);
    out.push(`<line x1="${L}" y1="${y.toFixed(1)}" x2="${L + pw}" y2="${y.toFixed(1)}"/>`);
    out.push(`<text x="${L - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end" stroke="none" fill="#333333">${formatTick(v, axis.decimals)}</text>`);
  }
  out.push(`</g>`);
  out.push(`<g class="x-axis" stroke="#dddddd">`);
  const xTicks: { x: number; label: string }[] = [];
  if (c.xLog) {
    if (hasZero) xTicks.push({ x: 0, label: '0' });
    for (let d = hasZero ? lo + 1 : lo; d <= hi; d++) xTicks.push({ x: 10 ** d, label: `1e${d}` });
  } else {
    const xa = fitAxis([lo, hi]);
    for (const v of xa.ticks) if (v >= lo && v <= hi) xTicks.push({ x: v, label: formatTick(v, xa.decimals) });
  }
  for (const t of xTicks) {
    const x = xPos(t.x);
    out.push(`<line x1="${x.toFixed(1)}" y1="${T}" x2="${x.toFixed(1)}" y2="${T + ph}"/>`);
    out.push(`<text x="${x.toFixed(1)}" y="${T + ph + 16}" text-anchor="middle" stroke="none" fill="#333333">${xmlEscape(t.label)}</text>`);
  }
  out.push(`</g>`);
  out.push(`<rect x="${L}" y="${T}" width="${pw}" height="${ph}" fill="none" stroke="#333333"/>`);
  out.push(`<text class="x-label" x="${L + pw / 2}" y="${H - 14}" text-anchor="middle">${xmlEscape(c.xLabel)}</text>`);
  out.push(`<text class="y-label" x="16" y="${T + ph / 2}" text-anchor="middle" transform="rotate(-90 16 ${T + ph / 2})">${xmlEscape(c.yLabel)}</text>`);
  c.series.forEach((s, k) => {
    const color = colorOf(s.name, k);
    const pts = [...s.points].sort((a, b) => a.x - b.x);
    out.push(`<g class="series" data-series="${xmlEscape(s.name)}" stroke="${color}" fill="${color}">`);
    // One polyline per run of consecutive points with a value: a missing point leaves a gap.
    let run: string[] = [];
    const flush = (): void => {
      if (run.length > 1) out.push(`<polyline fill="none" stroke-width="2" points="${run.join(' ')}"/>`);
      run = [];
    };
    for (const p of pts) {
      if (p.y === null) flush();
      else run.push(`${xPos(p.x).toFixed(1)},${yPos(p.y).toFixed(1)}`);
    }
    flush();
    for (const p of pts) {
      const x = xPos(p.x).toFixed(1);
      if (p.y === null) {
        // Stacked per series above the x axis, so that several missing series stay readable.
        const y = T + ph - 6 - k * 14;
        out.push(`<text class="missing" x="${x}" y="${y}" text-anchor="middle" stroke="none" font-size="11">n/a<title>${xmlEscape(`${s.name}: x=${formatRate(p.x)} no value (no run produced it)`)}</title></text>`);
        continue;
      }
      if (p.yMin !== undefined && p.yMax !== undefined && p.yMax > p.yMin) {
        out.push(`<line class="whisker" x1="${x}" y1="${yPos(p.yMin).toFixed(1)}" x2="${x}" y2="${yPos(p.yMax).toFixed(1)}" stroke-width="1"/>`);
      }
      out.push(`<circle cx="${x}" cy="${yPos(p.y).toFixed(1)}" r="3"><title>${xmlEscape(`${s.name}: x=${formatRate(p.x)} y=${p.y.toPrecision(4)}`)}</title></circle>`);
    }
    out.push(`</g>`);
  });
  out.push(`<g class="legend">`);
  c.series.forEach((s, k) => {
    const y = T + 10 + k * 20;
    out.push(`<line x1="${L + pw + 14}" y1="${y}" x2="${L + pw + 38}" y2="${y}" stroke="${colorOf(s.name, k)}" stroke-width="2"/>`);
    out.push(`<text x="${L + pw + 44}" y="${y + 4}">${xmlEscape(s.name)}</text>`);
  });
  (c.notes ?? []).forEach((n, k) => {
    out.push(`<text class="note" x="${L + pw + 14}" y="${T + 10 + (c.series.length + 0.5 + k * 0.8) * 20}" font-size="11" fill="#555555">${xmlEscape(n)}</text>`);
  });
  out.push(`</g>`);
  out.push(`</svg>`);
  return `${out.join('\n')}\n`;
}
