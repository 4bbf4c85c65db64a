import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
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

const dir = mkdtempSync(join(tmpdir(), 'ddplab-bench-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface XmlElement {
  readonly name: string;
  readonly attrs: Record<string, string>;
  readonly children: XmlElement[];
  text: string;
}

/**
 * A strict little XML reader for what the chart writer emits: elements,
 * quoted attributes, text with the five predefined entities, an XML
 * declaration. Throws on anything not well-formed (unclosed or crossed tags,
 * a raw '<' or '&' in text, unquoted or duplicate attributes, content after
 * the root).
 */
function parseXml(src: string): XmlElement {
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(`not well-formed at ${i}: ${why}`);
  };
  const decode = (t: string): string => {
    if (/&(?!(amp|lt|gt|quot|apos);)/.test(t)) fail(`bad entity in "${t}"`);
    return t.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
  };
  if (src.startsWith('<?xml')) {
    i = src.indexOf('?>') + 2;
    if (i < 2) fail('unterminated declaration');
  }
  const skipWs = (): void => {
    while (i < src.length && /\s/.test(src[i]!)) i++;
  };
  const element = (): XmlElement => {
    if (src[i] !== '<') fail('expected <');
    i++;
    const nameM = /^[A-Za-z_][\w.:-]*/.exec(src.slice(i));
    if (nameM === null) fail('bad tag name');
    const name = nameM![0];
    i += name.length;
    const attrs: Record<string, string> = {};
    for (;;) {
      skipWs();
      if (src.startsWith('/>', i)) {
        i += 2;
        return { name, attrs, children: [], text: '' };
      }
      if (src[i] === '>') {
        i++;
        break;
      }
      const a = /^([A-Za-z_][\w.:-]*)="([^"<]*)"/.exec(src.slice(i));
      if (a === null) fail(`bad attribute in <${name}>`);
      if (a![1]! in attrs) fail(`duplicate attribute ${a![1]}`);
      attrs[a![1]!] = decode(a![2]!);
      i += a![0].length;
    }
    const el: XmlElement = { name, attrs, children: [], text: '' };
    for (;;) {
      const lt = src.indexOf('<', i);
      if (lt < 0) fail(`unclosed <${name}>`);
      el.text += decode(src.slice(i, lt));
      i = lt;
      if (src.startsWith('</', i)) {
        const close = new RegExp(`^</${name}\\s*>`).exec(src.slice(i));
        if (close === null) fail(`</...> does not close <${name}>`);
        i += close![0].length;
        return el;
      }
      el.children.push(element());
    }
  };
  skipWs();
  const root = element();
  skipWs();
  if (i !== src.length) fail('content after the root element');
  return root;
}

function all(el: XmlElement, pred: (e: XmlElement) => boolean, out: XmlElement[] = []): XmlElement[] {
  if (pred(el)) out.push(el);
  for (const c of el.children) all(c, pred, out);
  return out;
}

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
    hostBytesCopied: 1 << 26,
    hostBytesCrc: 1 << 26,
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
                    unplacedLostSync: unplaced,
                    unplacedBelowThreshold: 0,
                    unplacedLimits: 0,
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
            { ...r, point: { ...r.point, nic: 'ideal' }, metrics: { ...r.metrics, ddp: { ...r.metrics.ddp!, placementPct: 100, unplacedLostSync: 0 } } },
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
    expect(c.unplacedPerEvent).toBe(65536);
    expect(c.placementPct!.min).toBeLessThan(c.placementPct!.max);
    expect(c.goodputMBps.mean).toBeCloseTo(130 - 1 + 1.5, 9);
    const none = s.find((x) => x.drop === 1e-4 && x.offload === 'none')!;
    expect(none.placementPct).toBeNull();
    expect(none.unplacedPerEvent).toBeNull();
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
      const expected = ch.file.startsWith('unplaced') ? ['ddp-crc'] : ['none', 'ddp-crc'];
      expect(series).toEqual(expected);
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
      expect(series, f).toEqual(f.startsWith('unplaced-') ? ddp : ['none', ...ddp]);
    }
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
