/**
 * `ddplab bench` end to end (root): a two-point sweep on one topology writes
 * its folder, every run verifies, and the namespaces are gone afterwards.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import type { BenchResult } from '../../../src/lab/bench/bench.js';
import type { BenchCellSummary } from '../../../src/lab/bench/report.js';
import { BIN, namespacesOf } from '../../support/lab/live-run-rig.js';

const dir = mkdtempSync(join(tmpdir(), 'ddplab-bench-live-'));

const id = `b${process.pid % 1000}`;

afterAll(async () => {
  await execa(process.execPath, [BIN, 'down', '--id', id], { reject: false });
  rmSync(dir, { recursive: true, force: true });
  // Only ours: other runs on the machine may come and go meanwhile.
  expect(namespacesOf([id])).toEqual([]);
});

describe('ddplab bench', () => {
  it('sweeps two loss rates × two offload modes on one topology, verifies every run and writes report.md, report.json and the charts', async () => {
    const out = join(dir, 'sweep');
    const r = await execa(
      process.execPath,
      [BIN, 'bench', '--id', id, '--drop', '0,1e-3', '--offload', 'none,ddp-crc', '--size', '16m', '--bs', '64k', '--iodepth', '16', '--seed', '4', '--out', out],
      { reject: false, timeout: 240_000 },
    );
    expect(r.exitCode, r.stderr.slice(-600)).toBe(0);
    expect(r.stderr).toMatch(/\[1\/4\] drop 0 reorder 0 none read 64k seed 4: PASS/);
    // Runs of the DDP engine name the NIC profile too (bench's default: hardware).
    expect(r.stderr).toMatch(/\[4\/4\] drop 1e-3 reorder 0 ddp-crc hardware read 64k seed 4: PASS/);
    expect(readdirSync(out).sort()).toEqual([
      'goodput-read-64k-reorder0.svg',
      'placement-read-64k-reorder0.svg',
      'report.html',
      'report.json',
      'report.md',
      'unplaced-read-64k-reorder0.svg',
    ]);
    const json = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as BenchResult & { summary: BenchCellSummary[] };
    expect(json.runs.length).toBe(4);
    // One topology for the sweep: every run reports its id.
    expect(json.runs.map((x) => x.report!.run.id)).toEqual([id, id, id, id]);
    expect(json.runs.map((x) => x.report!.run.offload)).toEqual(['none', 'ddp-crc', 'none', 'ddp-crc']);
    expect(json.runs.every((x) => x.metrics.ok && x.metrics.mismatches === 0)).toBe(true);
    // 64k reads are above io_threshold (32 KiB): with ddp-crc the NIC placed C2HData, without offload nothing is placed.
    expect(json.runs[1]!.metrics.ddp!.placedBytes).toBeGreaterThan(0);
    expect(json.runs[0]!.metrics.ddp).toBeNull();
    const lossy = json.runs[2]!;
    expect(lossy.report!.impair!.config).toEqual({ seed: 4, rx: { drop: 1e-3 } });
    expect(lossy.metrics.lossEvents).toBeGreaterThan(0);
    expect(lossy.metrics.targetRetrans).toBeGreaterThan(0);
    expect(json.runs[0]!.report!.impair).toBeUndefined();
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(md).toContain('**Verification: 0 mismatches in 4 runs; 0 run(s) failed.**');
  });
});
