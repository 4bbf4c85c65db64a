/**
 * The live reports against docs/report.schema.json (root): a real small
 * `ddplab run --json` (under loss, so the impair section is there; its CPU
 * figures per thread and of the target checked too) and a
 * real small `ddplab bench` (two points) whose report.json must validate.
 * Each run has an id of its own and leaves no namespace behind.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { REPORT_SCHEMA_VERSION } from '../../src/base/report-version.js';
import { BIN, namespacesOf } from '../support/lab/live-run-rig.js';
import { reportErrors } from './report-schema-validator.js';

const dir = mkdtempSync(join(tmpdir(), 'ddplab-schema-live-'));
const tag = Math.floor(Math.random() * 1e6).toString(36);
const runId = `sr${tag}`;
const benchId = `sb${tag}`;
const readId = `sq${tag}`;

afterAll(async () => {
  for (const id of [runId, benchId, readId]) await execa(process.execPath, [BIN, 'down', '--id', id], { reject: false });
  rmSync(dir, { recursive: true, force: true });
  // Only ours: other runs on the machine may come and go meanwhile.
  expect(namespacesOf([runId, benchId, readId])).toEqual([]);
});

describe('live reports against docs/report.schema.json', () => {
  it('ddplab run --json (4 MiB of 64 KiB randrw, ddp-crc, 1e-3 loss) validates', async () => {
    const r = await execa(
      process.execPath,
      [BIN, 'run', '--json', '--id', runId, '--offload', 'ddp-crc', '--digest', 'data', '--size', '4m', '--bs', '64k', '--drop', '1e-3', '--seed', '5'],
      { reject: false, timeout: 180_000 },
    );
    expect(r.exitCode, r.stderr.slice(-600)).toBe(0);
    const report = JSON.parse(r.stdout) as Record<string, any>;
    expect(report['schemaVersion']).toBe(REPORT_SCHEMA_VERSION);
    expect(reportErrors('run', report)).toEqual([]);
    expect(reportErrors('any', report)).toEqual([]);
    expect(report['impair']['config']['rx']).toEqual({ drop: 1e-3 });
    // CPU per thread and of the target: real figures, each thread's within its process's.
    const cpu = report['cpu'];
    const ms = (c: { userMs: number; systemMs: number }): number => c.userMs + c.systemMs;
    expect(ms(cpu.hostThread)).toBeGreaterThan(0);
    expect(ms(cpu.target)).toBeGreaterThan(0);
    expect(ms(cpu.hostThread) + (cpu.nicThread !== null ? ms(cpu.nicThread) : 0)).toBeLessThanOrEqual(ms(cpu) + 20);
    const noThread = { ...report, cpu: { ...cpu } };
    delete noThread['cpu']['hostThread'];
    expect(reportErrors('run', noThread).join('\n')).toMatch(/must have required property 'hostThread'/);
    // Strict where a regression would show: a count that became a fraction, a lost fio block.
    expect(reportErrors('run', { ...report, verify: { ...report['verify'], mismatches: 0.5 } }).join('\n')).toMatch(/mismatches must be integer/);
    const noJobs = { ...report };
    delete noJobs['jobs'];
    expect(reportErrors('run', noJobs).join('\n')).toMatch(/must have required property 'jobs'/);
  });

  it('a read-only run with a ramp (no write samples: its write latency figures are null) validates', async () => {
    const r = await execa(process.execPath, [BIN, 'run', '--json', '--id', readId, '--rw', 'randread', '--size', '2m', '--bs', '64k', '--ramp_time', '0.3'], {
      reject: false,
      timeout: 180_000,
    });
    expect(r.exitCode, r.stderr.slice(-600)).toBe(0);
    const report = JSON.parse(r.stdout) as Record<string, any>;
    expect(report['workload']['writeLatency']['samples']).toBe(0);
    expect(report['workload']['writeLatency']['p99Us']).toBeNull();
    // The ramp: reported apart, verified, and the 2 MiB counted after it.
    const ramp = report['workload']['ramp'];
    expect(ramp['reads']).toBeGreaterThan(0);
    expect(report['io']['readBytes']).toBe(2 << 20);
    expect(report['verify']['bytes']).toBe(ramp['readBytes'] + (2 << 20));
    expect(report['jobs'][0]['job options']['ramp_time']).toBe('0.3');
    expect(reportErrors('run', report)).toEqual([]);
    const extra = { ...report, workload: { ...report['workload'], ramp: { ...ramp, warm: true } } };
    expect(reportErrors('run', extra).join('\n')).toMatch(/must NOT have additional properties/);
  });

  it('ddplab bench (two points) writes a report.json that validates', async () => {
    const out = join(dir, 'bench');
    const r = await execa(
      process.execPath,
      [BIN, 'bench', '--id', benchId, '--drop', '0,1e-3', '--offload', 'ddp-crc', '--size', '4m', '--bs', '64k', '--iodepth', '16', '--seed', '2', '--out', out],
      { reject: false, timeout: 240_000 },
    );
    expect(r.exitCode, r.stderr.slice(-600)).toBe(0);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Record<string, any>;
    expect(report['schemaVersion']).toBe(REPORT_SCHEMA_VERSION);
    expect(report['runs'].length).toBe(2);
    expect(report['runs'].every((x: any) => x.report !== null)).toBe(true);
    expect(reportErrors('bench', report)).toEqual([]);
    expect(reportErrors('any', report)).toEqual([]);
    // The runs keep their report without the workload's second and third copies (workload, fio's jobs).
    expect(report['runs'][0].report).not.toHaveProperty('workload');
    expect(report['runs'][0].report).not.toHaveProperty('jobs');
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(html).not.toMatch(/https?:|<script|\ssrc=/);
  });
});
