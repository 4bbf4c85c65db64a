/**
 * docs/report.schema.json itself: it compiles in ajv's strict mode, every
 * field says what it is, and it refuses what a regression would write — a
 * report missing a required key, a count as a string, a fraction where a
 * whole number belongs, a negative count, a key it does not know, another
 * schemaVersion. The real reports are validated where they are made:
 * test/docs/report-schema.replay.test.ts (replay) and test/docs/report-schema.live.test.ts (run, bench).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { REPORT_SCHEMA_VERSION } from '../../src/base/report-version.js';
import { benchJson, summarizeBench } from '../../src/lab/bench/report.js';
import type { BenchResult, BenchRun } from '../../src/lab/bench/bench.js';
import { compileReportSchema, reportErrors, SCHEMA_PATH } from './report-schema-validator.js';
import { DDP_OFFLOAD_MODES, OFFLOAD_MODES, STREAM_OFFLOAD_MODES } from '../../src/host/offload-mode.js';
import { NIC_PROFILE_NAMES } from '../../src/nicemu/ddp/nic-profile.js';
import { ULP_MODES } from '../../src/host/nvme/ulp-mode.js';
import { WORKLOAD_RW_MODES } from '../../src/host/workload/options.js';

/** A two-run sweep as `ddplab bench` would record it (runs without their full reports: those are checked live). */
function sweep(): BenchResult {
  const run = (offload: 'none' | 'ddp-crc', drop: number, ok: boolean): BenchRun => ({
    point: { drop, reorder: 0, offload, ...(offload !== 'none' ? { nic: 'hardware' as const } : {}), rw: 'read', bs: '128k', seed: 1, sizeBytes: 1 << 24 },
    loadAvg1: 0.5,
    metrics: {
      ok,
      ...(ok ? {} : { error: 'target 192.0.2.1:4420 did not answer' }),
      mismatches: 0,
      verifiedBytes: ok ? 1 << 24 : 0,
      readBytes: ok ? 1 << 24 : 0,
      writeBytes: 0,
      elapsedMs: 812.5,
      goodputMBps: 20.6,
      hostCpuMsPerGiB: 9000.5,
      hostCpuMsPerGiBWithoutNic: 4000.25,
      hostCopiedBytes: 4096,
      hostCrcBytes: 0,
      rxFrames: 12000,
      lossEvents: drop > 0 ? 12 : 0,
      portDrops: 0,
      reorderEvents: 0,
      dupEvents: 0,
      txLossEvents: 0,
      targetRetrans: drop > 0 ? 12 : 0,
      hostOfo: 3,
      ddp:
        offload === 'none'
          ? null
          : { placementPct: 99.5, c2hDataBytes: 1 << 24, placedBytes: (1 << 24) - 65536, unplacedLostSyncBytes: 65536, unplacedBelowThresholdBytes: 0, unplacedLimitsBytes: 0, resyncRequests: 2, resyncConfirmed: 2, lostSync: 2 },
    },
    report: null,
  });
  return {
    startedAt: '2026-12-07T10:00:00.000Z',
    finishedAt: '2026-12-07T10:01:00.000Z',
    machine: { cpus: 2, cpuModel: 'test cpu', kernel: '6.1.0-test', node: 'v20.20.2' },
    topology: { id: 'b1', mtu: 1500 },
    options: {
      grid: { drop: [0, 1e-3], reorder: [0], offload: ['none', 'ddp-crc'], nic: ['hardware'], rw: ['read'], bs: ['128k'] },
      seeds: 1,
      seedBase: 1,
      size: { kind: 'fixed', bytes: 1 << 24 },
      iodepth: 32,
      queues: 1,
      digest: 'data',
      mtu: 1500,
      order: 'fifo',
      interleave: false,
      c2hSize: '0',
    },
    runs: [run('none', 0, true), run('ddp-crc', 0, true), run('none', 1e-3, true), run('ddp-crc', 1e-3, false)],
  };
}

function benchReportJson(): Record<string, unknown> {
  const r = sweep();
  return JSON.parse(benchJson('ddplab bench --drop 0,1e-3', r, summarizeBench(r.runs))) as Record<string, unknown>;
}

/** Every object schema under $defs (and nested), with its path. */
function objectSchemas(node: unknown, path: string, out: { path: string; node: Record<string, unknown> }[]): typeof out {
  if (node === null || typeof node !== 'object') return out;
  if (Array.isArray(node)) {
    node.forEach((n, k) => objectSchemas(n, `${path}/${k}`, out));
    return out;
  }
  const o = node as Record<string, unknown>;
  if (o['properties'] !== undefined) out.push({ path, node: o });
  for (const [k, v] of Object.entries(o)) objectSchemas(v, `${path}/${k}`, out);
  return out;
}

describe('docs/report.schema.json', () => {
  it('compiles (JSON Schema 2020-12, ajv strict) with one definition per report and a top-level oneOf', () => {
    const { schema } = compileReportSchema();
    const raw = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as Record<string, unknown>;
    expect(raw['$schema']).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(raw['oneOf']).toEqual([{ $ref: '#/$defs/runReport' }, { $ref: '#/$defs/replayReport' }, { $ref: '#/$defs/benchReport' }, { $ref: '#/$defs/streamReport' }]);
    for (const d of ['runReport', 'replayReport', 'benchReport', 'streamReport']) expect(schema.$defs).toHaveProperty(d);
    expect((schema.$defs['schemaVersion'] as { const: number }).const).toBe(REPORT_SCHEMA_VERSION);
  });

  it('lists the same offload modes, NIC profiles, ULP modes and I/O patterns as the code', () => {
    const defs = compileReportSchema().schema.$defs as Record<string, any>;
    expect(defs['benchPoint'].properties.offload.enum).toEqual(OFFLOAD_MODES);
    expect(defs['ddpReport'].properties.offload.enum).toEqual(OFFLOAD_MODES);
    expect(defs['replayReport'].properties.options.properties.offload.enum).toEqual(DDP_OFFLOAD_MODES);
    expect(defs['replayReport'].properties.options.properties.nic.enum).toEqual(NIC_PROFILE_NAMES);
    expect(defs['replayReport'].properties.options.properties.ulp.enum).toEqual(ULP_MODES);
    expect(defs['benchPoint'].properties.rw.enum).toEqual(WORKLOAD_RW_MODES);
    expect(defs['streamReport'].properties.mode.enum).toEqual(STREAM_OFFLOAD_MODES);
  });

  it('describes every field', () => {
    const undocumented: string[] = [];
    for (const { path, node } of objectSchemas(JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')), '#', [])) {
      for (const [k, v] of Object.entries(node['properties'] as Record<string, Record<string, unknown>>)) {
        const ok = typeof v['description'] === 'string' || typeof v['$ref'] === 'string';
        if (!ok) undocumented.push(`${path}/properties/${k}`);
      }
    }
    expect(undocumented).toEqual([]);
  });

  it('accepts a bench report.json as ddplab writes it, under its own definition and the top-level oneOf', () => {
    const r = benchReportJson();
    expect(r['schemaVersion']).toBe(REPORT_SCHEMA_VERSION);
    expect(reportErrors('bench', r)).toEqual([]);
    expect(reportErrors('any', r)).toEqual([]);
    // Not mistaken for another kind.
    expect(reportErrors('run', r).length).toBeGreaterThan(0);
    expect(reportErrors('replay', r).length).toBeGreaterThan(0);
  });

  it('accepts the partial report.json written while a sweep runs', () => {
    const r = { ...benchReportJson(), finishedAt: '(running: 2 of 4 runs)', topology: { id: '', mtu: 1500 } };
    expect(reportErrors('bench', r)).toEqual([]);
  });

  type Mutation = readonly [string, (r: any) => void, RegExp];
  const mutations: readonly Mutation[] = [
    ['a missing required key (summary)', (r) => delete r.summary, /must have required property 'summary'/],
    ['a missing schemaVersion', (r) => delete r.schemaVersion, /must have required property 'schemaVersion'/],
    ['another schemaVersion', (r) => (r.schemaVersion = REPORT_SCHEMA_VERSION + 1), /schemaVersion must be equal to constant/],
    ['a count as a string', (r) => (r.runs[0].metrics.mismatches = '0'), /metrics\/mismatches must be integer/],
    ['a fraction where a count belongs', (r) => (r.runs[2].metrics.lossEvents = 1.5), /lossEvents must be integer/],
    ['a negative count', (r) => (r.summary[0].targetRetrans = -1), /targetRetrans must be >= 0/],
    ['a placement above 100 %', (r) => (r.runs[1].metrics.ddp.placementPct = 100.5), /placementPct must be <= 100/],
    ['a key the schema does not know', (r) => (r.runs[0].metrics.goodputGbps = 1), /must NOT have additional properties.*goodputGbps/],
    ['an unknown offload mode', (r) => (r.runs[0].point.offload = 'tls'), /offload must be equal to one of the allowed values/],
    ['a missing figure as 0 instead of null', (r) => (r.summary[0].placementPct = 0), /placementPct must be object/],
    ['a start time that is not ISO 8601', (r) => (r.startedAt = 'yesterday'), /startedAt must match pattern/],
  ];
  for (const [what, mutate, error] of mutations) {
    it(`refuses ${what}`, () => {
      const r = benchReportJson();
      mutate(r);
      const errors = reportErrors('bench', r);
      expect(errors.join('\n')).toMatch(error);
      expect(reportErrors('any', r).length).toBeGreaterThan(0);
    });
  }
});
