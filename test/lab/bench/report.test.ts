import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  benchCharts,
  benchMarkdown,
  formatRate,
  lineChartSvg,
  readBenchReport,
  summarizeBench,
  writeBenchReport,
} from '../../../src/lab/bench/report.js';
import type { BenchResult, BenchRun, BenchRunMetrics, OffloadMode } from '../../../src/lab/bench/bench.js';
import { all, parseXml } from './xml-reader.js';
import { REPORT_SCHEMA_VERSION } from '../../../src/base/report-version.js';

const dir = mkdtempSync(join(tmpdir(), 'ddplab-bench-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function metrics(over: Partial<BenchRunMetrics>): BenchRunMetrics {
  return {
    ok: true,
    mismatches: 0,
    verifiedBytes: 1 << 26,
    readBytes: 1 << 26,
    writeBytes: 0,
    elapsedMs: 500,
    goodputMBps: 100,
    hostCpuMsPerGiB: 5000,
    hostCpuMsPerGiBWithoutNic: 4000,
    hostCopiedBytes: 1 << 26,
    hostCrcBytes: 1 << 26,
    rxFrames: 50_000,
    lossEvents: 0,
    portDrops: 0,
    reorderEvents: 0,
    dupEvents: 0,
    txLossEvents: 0,
    targetRetrans: 0,
    hostOfo: 0,
    ddp: null,
    ...over,
  };
}

/** A sweep as measured: drop × offload × 2 seeds, DDP losing 64 KiB per loss event. */
function sweep(): BenchResult {
  const runs: BenchRun[] = [];
  for (const drop of [0, 1e-5, 1e-4, 1e-3]) {
    for (const offload of ['none', 'ddp-crc'] as OffloadMode[]) {
      for (const seed of [1, 2]) {
        const loss = Math.round(drop * 200_000) + seed - 1;
        const c2h = 1 << 28;
        const unplaced = offload === 'none' ? 0 : loss * 65536;
        runs.push({
          point: { drop, reorder: 0, offload, rw: 'read', bs: '128k', seed, sizeBytes: 1 << 28 },
          loadAvg1: 0.5,
          metrics: metrics({
            lossEvents: loss,
            targetRetrans: loss,
            goodputMBps: (offload === 'none' ? 100 : 130) - drop * 1e4 + seed,
            ddp:
              offload === 'none'
                ? null
                : {
                    placementPct: ((c2h - unplaced) / c2h) * 100,
                    c2hDataBytes: c2h,
                    placedBytes: c2h - unplaced,
                    unplacedLostSyncBytes: unplaced,
                    unplacedBelowThresholdBytes: 0,
                    unplacedLimitsBytes: 0,
                    resyncRequests: loss,
                    resyncConfirmed: loss,
                    lostSync: loss,
                  },
          }),
          report: null,
        });
      }
    }
  }
  return {
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:10:00.000Z',
    machine: { cpus: 2, cpuModel: 'test cpu', kernel: '6.1.0', node: 'v20.0.0' },
    topology: { id: 'test', mtu: 1500 },
    options: {
      grid: { drop: [0, 1e-5, 1e-4, 1e-3], reorder: [0], offload: ['none', 'ddp-crc'], rw: ['read'], bs: ['128k'] },
      seeds: 2,
      seedBase: 1,
      size: { kind: 'fixed', bytes: 1 << 28 },
      iodepth: 32,
      queues: 1,
      digest: 'data',
      mtu: 1500,
      order: 'fifo',
      interleave: false,
      c2hSize: '0',
    },
    runs,
  };
}

describe('bench report with NIC profiles', () => {
  /** The sample sweep with every DDP run twice, once per NIC profile ('ideal' placing everything). */
  function profiled(): BenchResult {
    const base = sweep();
    const runs = base.runs.flatMap((r): BenchRun[] =>
      r.point.offload === 'none'
        ? [r]
        : [
            { ...r, point: { ...r.point, nic: 'hardware' } },
            { ...r, point: { ...r.point, nic: 'ideal' }, metrics: { ...r.metrics, ddp: { ...r.metrics.ddp!, placementPct: 100, unplacedLostSyncBytes: 0 } } },
          ],
    );
    return { ...base, options: { ...base.options, grid: { ...base.options.grid, nic: ['hardware', 'ideal'] } }, runs };
  }

  it('keeps one cell per profile and shows placement % per profile side by side', () => {
    const result = profiled();
    const summary = summarizeBench(result.runs);
    expect(summary.filter((c) => c.offload === 'ddp-crc').map((c) => c.nic)).toEqual(['hardware', 'ideal', 'hardware', 'ideal', 'hardware', 'ideal', 'hardware', 'ideal']);
    const md = benchMarkdown(result, summary, { command: 'x', charts: [] });
    expect(md).toContain('| ddp-crc hardware placement % |');
    expect(md).toContain('| ddp-crc ideal placement % |');
    const placement = benchCharts(summary).find((c) => c.file.startsWith('placement-'))!;
    expect(placement.svg).toContain('ddp-crc hardware');
    expect(placement.svg).toContain('ddp-crc ideal');
  });
});

describe('bench summaries', () => {
  it('sums loss events over seeds and divides unplaced bytes by them', () => {
    const s = summarizeBench(sweep().runs);
    expect(s.length).toBe(8);
    const c = s.find((x) => x.drop === 1e-4 && x.offload === 'ddp-crc')!;
    expect(c.runs).toBe(2);
    expect(c.lossEvents).toBe(20 + 21);
    expect(c.unplacedBytesPerEvent).toBe(65536);
    expect(c.placementPct!.min).toBeLessThan(c.placementPct!.max);
    expect(c.goodputMBps!.mean).toBeCloseTo(130 - 1 + 1.5, 9);
    const none = s.find((x) => x.drop === 1e-4 && x.offload === 'none')!;
    expect(none.placementPct).toBeNull();
    expect(none.unplacedBytesPerEvent).toBeNull();
    // No events at drop 0 (seed 2 adds one in this fake; seed 1 none): per-event is defined only with events.
    expect(s.find((x) => x.drop === 0 && x.offload === 'ddp-crc')!.lossEvents).toBe(1);
  });
});

describe('bench charts', () => {
  it('are well-formed SVG with labelled axes and one series per offload mode', () => {
    const charts = benchCharts(summarizeBench(sweep().runs));
    expect(charts.map((c) => c.file).sort()).toEqual(
      ['goodput-read-128k-reorder0.svg', 'placement-read-128k-reorder0.svg', 'unplaced-read-128k-reorder0.svg'].sort(),
    );
    for (const ch of charts) {
      const svg = parseXml(ch.svg);
      expect(svg.name).toBe('svg');
      expect(svg.attrs['xmlns']).toBe('http://www.w3.org/2000/svg');
      const text = (cls: string): string => all(svg, (e) => e.name === 'text' && e.attrs['class'] === cls)[0]?.text ?? '';
      expect(text('x-label')).toMatch(/loss rate/);
      expect(text('y-label').length).toBeGreaterThan(3);
      expect(text('title')).toBe(ch.title);
      const series = all(svg, (e) => e.name === 'g' && e.attrs['class'] === 'series').map((e) => e.attrs['data-series']);
      // Placement without offload is 0 % by definition: left out (and said so) so that the axis fits the offloaded series.
      const expected = ch.file.startsWith('goodput') ? ['none', 'ddp-crc'] : ['ddp-crc'];
      expect(series).toEqual(expected);
      const notes = all(svg, (e) => e.name === 'text' && e.attrs['class'] === 'note').map((e) => e.text);
      expect(notes).toEqual(ch.file.startsWith('placement') ? ['offload none: 0 %', '(not drawn)'] : []);
      // Every series has a line through its four loss rates, and every point is inside the plot.
      for (const g of all(svg, (e) => e.name === 'g' && e.attrs['class'] === 'series')) {
        const pts = all(g, (e) => e.name === 'circle');
        expect(pts.length).toBe(4);
        for (const p of pts) {
          expect(Number(p.attrs['cx'])).toBeGreaterThanOrEqual(72);
          expect(Number(p.attrs['cx'])).toBeLessThanOrEqual(640 - 150);
          expect(Number(p.attrs['cy'])).toBeGreaterThanOrEqual(40);
          expect(Number(p.attrs['cy'])).toBeLessThanOrEqual(400 - 56);
        }
        expect(all(g, (e) => e.name === 'polyline').length).toBe(1);
      }
      // The x axis names each loss rate, 0 included.
      const ticks = all(svg, (e) => e.name === 'g' && e.attrs['class'] === 'x-axis')[0]!.children.filter((e) => e.name === 'text').map((e) => e.text);
      expect(ticks).toEqual(['0', '1e-5', '1e-4', '1e-3']);
    }
  });

  it('draws x increasing to the right on the log axis and escapes text', () => {
    const svg = lineChartSvg({
      title: 'a < b & c',
      xLabel: 'x',
      yLabel: 'y',
      xLog: true,
      series: [{ name: 'm&m', points: [{ x: 1e-3, y: 1 }, { x: 0, y: 2 }, { x: 1e-5, y: 3 }] }],
    });
    const root = parseXml(svg);
    const cx = all(root, (e) => e.name === 'circle').map((e) => Number(e.attrs['cx']));
    expect(cx).toEqual([...cx].sort((a, b) => a - b));
    expect(all(root, (e) => e.name === 'title')[0]!.text).toBe('a < b & c');
    expect(all(root, (e) => e.name === 'g' && e.attrs['class'] === 'series')[0]!.attrs['data-series']).toBe('m&m');
  });

  it('the checker itself rejects what is not well-formed', () => {
    expect(() => parseXml('<svg><g></svg>')).toThrow();
    expect(() => parseXml('<svg>a & b</svg>')).toThrow();
    expect(() => parseXml('<svg x=1/>')).toThrow();
    expect(() => parseXml('<svg/><svg/>')).toThrow();
  });
});

describe('the committed sample (captures/bench-sample)', () => {
  const sample = fileURLToPath(new URL('../../../captures/bench-sample/', import.meta.url));
  const svgs = readdirSync(sample).filter((f) => f.endsWith('.svg'));

  it('has placement, goodput and unplaced charts, each well-formed with labelled axes and one series per offload mode', () => {
    expect(svgs.filter((f) => f.startsWith('placement-')).length).toBeGreaterThan(0);
    expect(svgs.filter((f) => f.startsWith('goodput-')).length).toBeGreaterThan(0);
    expect(svgs.filter((f) => f.startsWith('unplaced-')).length).toBeGreaterThan(0);
    for (const f of svgs) {
      const svg = parseXml(readFileSync(join(sample, f), 'utf8'));
      const text = (cls: string): string => all(svg, (e) => e.name === 'text' && e.attrs['class'] === cls)[0]?.text ?? '';
      expect(text('x-label'), f).toMatch(/loss rate/);
      expect(text('y-label').length, f).toBeGreaterThan(3);
      const series = all(svg, (e) => e.name === 'g' && e.attrs['class'] === 'series').map((e) => e.attrs['data-series']);
      // The sample sweeps both NIC profiles: a DDP series is a mode and a profile.
      const ddp = ['ddp-crc hardware', 'ddp-crc ideal'];
      expect(series, f).toEqual(f.startsWith('goodput-') ? ['none', ...ddp] : ddp);
    }
  });

  it('has a well-formed report.html with its six charts inline and nothing external', () => {
    const html = readFileSync(join(sample, 'report.html'), 'utf8');
    const root = parseXml(html);
    expect(all(root, (e) => e.name === 'svg').length).toBe(svgs.length);
    expect(svgs.length).toBe(6);
    expect(html).not.toMatch(/https?:|<script|\ssrc=|href=/);
  });

  it('verified every run', () => {
    const { result } = readBenchReport(sample);
    expect(result.runs.length).toBeGreaterThan(0);
    expect(result.runs.every((r) => r.metrics.ok && r.metrics.mismatches === 0)).toBe(true);
  });
});

describe('bench report files', () => {
  it('writes report.md with the comparison tables, report.json with every run, and the charts', () => {
    const result = sweep();
    const out = join(dir, 'r1');
    const files = writeBenchReport(out, result, 'ddplab bench --drop 0,1e-5,1e-4,1e-3 --offload none,ddp-crc --seeds 2');
    expect(readdirSync(out).sort()).toEqual([...files].sort());
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(md).toContain('ddplab bench --drop 0,1e-5,1e-4,1e-3 --offload none,ddp-crc --seeds 2');
    expect(md).toContain('**Verification: 0 mismatches in 16 runs; 0 run(s) failed.**');
    expect(md).toContain('| drop | size/run | none MB/s | ddp-crc MB/s | ddp-crc placement % | ddp-crc unplaced / event |');
    // 1e-5 row: goodput of both modes, placement and 64 KiB per event.
    const row = md.split('\n').find((l) => l.startsWith('| 1e-5 | 256.0 MiB |'))!;
    expect(row).toContain('64.0 KiB');
    expect(md).toContain('![Placement % vs loss — read bs 128k, reorder 0](placement-read-128k-reorder0.svg)');
    const json = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as { runs: unknown[]; summary: unknown[]; command: string };
    expect(json.runs.length).toBe(16);
    expect(json.summary.length).toBe(8);
    expect(json.command).toMatch(/^ddplab bench/);
    expect(benchMarkdown(result, summarizeBench(result.runs), { command: 'x', charts: [] })).not.toContain('Failed runs');
  });

  it('reads a report.json back and renders the same report again', () => {
    const out = join(dir, 'r2');
    writeBenchReport(out, sweep(), 'ddplab bench --seeds 2');
    const md1 = readFileSync(join(out, 'report.md'), 'utf8');
    const { result, command } = readBenchReport(out);
    expect(command).toBe('ddplab bench --seeds 2');
    expect(result.runs.length).toBe(16);
    expect(result).not.toHaveProperty('summary');
    writeBenchReport(out, result, command);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toBe(md1);
    expect(() => readBenchReport(join(dir, 'nowhere'))).toThrow(/cannot read/);
  });

  it('formats loss rates as powers of ten', () => {
    expect([0, 1e-5, 1e-4, 0.001, 0.01, 0.003].map(formatRate)).toEqual(['0', '1e-5', '1e-4', '1e-3', '1e-2', '0.003']);
  });
});

describe('chart axes fitted to the data', () => {
  it('spreads placement between 96.7 and 99.9 % over the plot, with labelled ticks from 96 to 100', () => {
    const svg = parseXml(
      lineChartSvg({
        title: 't',
        xLabel: 'x',
        yLabel: 'y',
        xLog: true,
        yFloor: 0,
        yCeiling: 100,
        series: [{ name: 'ddp-crc', points: [{ x: 0, y: 99.9 }, { x: 1e-4, y: 98.5 }, { x: 1e-3, y: 96.7 }] }],
      }),
    );
    const yAxis = all(svg, (e) => e.name === 'g' && e.attrs['class'] === 'y-axis')[0]!;
    expect(yAxis.children.filter((e) => e.name === 'text').map((e) => e.text)).toEqual(['96', '97', '98', '99', '100']);
    const cy = all(svg, (e) => e.name === 'circle').map((e) => Number(e.attrs['cy']));
    const plotHeight = 400 - 40 - 56;
    // 96.7 .. 99.9 covers most of the plot's height (on a 0..100 axis it would be 3 % of it).
    expect(Math.max(...cy) - Math.min(...cy)).toBeGreaterThan(plotHeight * 0.7);
  });

  it('draws a single point, or one value everywhere, inside the plot with a range around it', () => {
    for (const points of [[{ x: 1e-3, y: 42 }], [{ x: 0, y: 100 }, { x: 1e-3, y: 100 }]]) {
      const svg = parseXml(lineChartSvg({ title: 't', xLabel: 'x', yLabel: 'y', xLog: true, yCeiling: 100, series: [{ name: 'a', points }] }));
      const ticks = all(svg, (e) => e.name === 'g' && e.attrs['class'] === 'y-axis')[0]!.children.filter((e) => e.name === 'text').map((e) => Number(e.text));
      expect(ticks.length).toBeGreaterThanOrEqual(3);
      expect(new Set(ticks).size).toBe(ticks.length);
      for (const c of all(svg, (e) => e.name === 'circle')) {
        expect(Number(c.attrs['cy'])).toBeGreaterThanOrEqual(40);
        expect(Number(c.attrs['cy'])).toBeLessThanOrEqual(400 - 56);
      }
    }
  });
});

describe('runs without data', () => {
  /** The sample sweep with every ddp-crc run at the given loss rate failed before it produced a report. */
  function withFailedCell(drop: number): BenchResult {
    const base = sweep();
    return {
      ...base,
      runs: base.runs.map((r) =>
        r.point.offload === 'ddp-crc' && r.point.drop === drop ? { ...r, report: null, metrics: { ...r.metrics, ok: false, error: 'host exited', goodputMBps: 0, ddp: null } } : r,
      ),
    };
  }

  it('are missing in the summary (null), not 0', () => {
    const c = summarizeBench(withFailedCell(1e-3).runs).find((x) => x.offload === 'ddp-crc' && x.drop === 1e-3)!;
    expect(c.failed).toBe(2);
    expect(c.goodputMBps).toBeNull();
    expect(c.placementPct).toBeNull();
    expect(c.hostCpuMsPerGiB).toBeNull();
  });

  it('are a gap and an "n/a" in the charts, never a point at 0', () => {
    const summary = summarizeBench(withFailedCell(1e-5).runs);
    for (const ch of benchCharts(summary).filter((x) => !x.file.startsWith('unplaced'))) {
      const svg = parseXml(ch.svg);
      const g = all(svg, (e) => e.name === 'g' && e.attrs['data-series'] === 'ddp-crc')[0]!;
      const missing = all(g, (e) => e.name === 'text' && e.attrs['class'] === 'missing');
      expect(missing.map((e) => e.text), ch.file).toEqual(['n/a']);
      const xMissing = Number(missing[0]!.attrs['x']);
      const circles = all(g, (e) => e.name === 'circle');
      expect(circles.length, ch.file).toBe(3);
      expect(circles.some((c) => Number(c.attrs['cx']) === xMissing)).toBe(false);
      // No line crosses the missing loss rate.
      for (const pl of all(g, (e) => e.name === 'polyline')) {
        const xs = pl.attrs['points']!.split(' ').map((p) => Number(p.split(',')[0]));
        for (let k = 1; k < xs.length; k++) expect(xs[k - 1]! < xMissing && xs[k]! > xMissing, ch.file).toBe(false);
      }
      // The other series still has all four.
      if (ch.file.startsWith('goodput')) expect(all(svg, (e) => e.name === 'g' && e.attrs['data-series'] === 'none')[0]!.children.filter((e) => e.name === 'circle').length).toBe(4);
    }
  });

  it('read n/a in report.md', () => {
    const result = withFailedCell(1e-3);
    const md = benchMarkdown(result, summarizeBench(result.runs), { command: 'x', charts: [] });
    const row = md.split('\n').find((l) => l.startsWith('| 1e-3 |'))!;
    // drop | size | none MB/s | ddp-crc MB/s | placement | unplaced / event
    expect(row.split('|').map((c) => c.trim())[4]).toBe('n/a');
    expect(md).toContain('## Failed runs');
  });
});

describe('report.html', () => {
  it('is one self-contained, well-formed page with every table of report.md and every chart inline', () => {
    const out = join(dir, 'html');
    const files = writeBenchReport(out, sweep(), 'ddplab bench --drop 0,1e-5,1e-4,1e-3 --seeds 2');
    expect(files).toContain('report.html');
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    const root = parseXml(html);
    expect(root.name).toBe('html');
    const tables = all(root, (e) => e.name === 'table');
    expect(tables.length).toBe(md.split('\n').filter((l) => l.startsWith('|---')).length);
    for (const t of tables) {
      const head = all(t, (e) => e.name === 'th').length;
      expect(head).toBeGreaterThan(2);
      for (const tr of all(t, (e) => e.name === 'tbody')[0]!.children) expect(tr.children.length).toBe(head);
    }
    const svgs = all(root, (e) => e.name === 'svg');
    const charts = files.filter((f) => f.endsWith('.svg'));
    expect(svgs.length).toBe(charts.length);
    // The same charts as the files beside it, titles and all.
    expect(svgs.map((s) => s.children.find((e) => e.name === 'title')!.text).sort()).toEqual(
      charts.map((f) => parseXml(readFileSync(join(out, f), 'utf8')).children.find((e) => e.name === 'title')!.text).sort(),
    );
    expect(all(root, (e) => e.name === 'pre')[0]!.children[0]!.text).toBe('ddplab bench --drop 0,1e-5,1e-4,1e-3 --seeds 2');
    expect(all(root, (e) => e.name === 'strong')[0]!.text).toBe('Verification: 0 mismatches in 16 runs; 0 run(s) failed.');
    // Nothing fetched from anywhere: no script, no link, no image source, no URL.
    for (const bad of [/<script/i, /<link/i, /\ssrc=/i, /href=/i, /url\(/i, /https?:/i, /@import/i]) expect(html).not.toMatch(bad);
  });

  it('the checker refuses a page with a table or svg left open', () => {
    const out = join(dir, 'html2');
    writeBenchReport(out, sweep(), 'ddplab bench');
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(() => parseXml(html)).not.toThrow();
    expect(() => parseXml(html.replace('</table>', ''))).toThrow(/not well-formed/);
    expect(() => parseXml(html.replace('</svg>', ''))).toThrow(/not well-formed/);
  });
});

describe('report.json versions', () => {
  const v1Names: Record<string, string> = {
    hostCopiedBytes: 'hostBytesCopied',
    hostCrcBytes: 'hostBytesCrc',
    unplacedLostSyncBytes: 'unplacedLostSync',
    unplacedBelowThresholdBytes: 'unplacedBelowThreshold',
    unplacedLimitsBytes: 'unplacedLimits',
  };
  const toV1 = (o: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(o).map(([k, v]) => [v1Names[k] ?? k, v]));

  it('writes the current schemaVersion and reads a version-1 file (no schemaVersion, figures under their old names) under the new names', () => {
    const out = join(dir, 'v1');
    writeBenchReport(out, sweep(), 'ddplab bench');
    const current = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Record<string, any>;
    expect(current['schemaVersion']).toBe(REPORT_SCHEMA_VERSION);
    const { schemaVersion: _v, ...rest } = current;
    const v1 = { ...rest, runs: current['runs'].map((r: any) => ({ ...r, metrics: { ...toV1(r.metrics), ddp: r.metrics.ddp === null ? null : toV1(r.metrics.ddp) } })) };
    writeFileSync(join(out, 'report.json'), JSON.stringify(v1));
    const { result } = readBenchReport(out);
    const m = result.runs.find((r) => r.point.offload === 'ddp-crc' && r.point.drop === 1e-3)!.metrics as unknown as Record<string, any>;
    expect(m['hostCopiedBytes']).toBeTypeOf('number');
    expect(m).not.toHaveProperty('hostBytesCopied');
    expect(m['ddp']['unplacedLostSyncBytes']).toBeGreaterThan(0);
    expect(m['ddp']).not.toHaveProperty('unplacedLostSync');
    writeFileSync(join(out, 'report.json'), JSON.stringify({ ...current, schemaVersion: REPORT_SCHEMA_VERSION + 1 }));
    expect(() => readBenchReport(out)).toThrow(`schemaVersion ${REPORT_SCHEMA_VERSION + 1}; this ddplab reads versions 1 to ${REPORT_SCHEMA_VERSION}`);
  });
});
