/**
 * `ddplab run` speaking fio, end to end on the live topology (root): --bs
 * READ,WRITE, the per-direction results in fio's JSON layout beside
 * ddplab's own sections and in fio's normal output, and a fio job file
 * (`ddplab run JOBFILE`) run as given, or refused in one line before any
 * namespace exists.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, liveRunIds, namespacesOf, runJson } from '../support/lab/live-run-rig.js';
import { FIO_PERCENTILES, fioPercentileKey } from '../../src/host/workload/latency-histogram.js';
import { REPORT_SCHEMA_VERSION } from '../../src/base/report-version.js';

const newId = liveRunIds('f');
const dir = mkdtempSync(join(tmpdir(), 'ddplab-fio-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ddplab run in fio terms (live)', () => {
  it('--bs 4k,64k randrw: reads of 4k, writes of 64k, and jobs[0].read/write agree with io and latency', async () => {
    const r = await runJson(['--id', newId('j'), '--rw', 'randrw', '--bs', '4k,64k', '--size', '32m', '--iodepth', '8']);
    expect(r.error).toBeUndefined();
    expect(r.ok).toBe(true);
    expect(r.schemaVersion).toBe(REPORT_SCHEMA_VERSION);
    expect(r['fio version']).toMatch(/^ddplab-/);
    const j = r.jobs![0]!;
    expect(j.error).toBe(0);
    expect(j['job options']).toMatchObject({ rw: 'randrw', bs: '4096,65536', size: String(32 << 20) });
    // Each direction its own size, both as ddplab's io section counts them.
    expect(j.read.total_ios).toBe(r.io.reads);
    expect(j.write.total_ios).toBe(r.io.writes);
    expect(j.read.io_bytes).toBe(r.io.readBytes);
    expect(j.write.io_bytes).toBe(r.io.writeBytes);
    expect(j.read.io_bytes).toBe(j.read.total_ios * 4096);
    expect(j.write.io_bytes).toBe(j.write.total_ios * 65536);
    expect(j.read.io_bytes + j.write.io_bytes).toBeGreaterThanOrEqual(32 << 20);
    expect(j.read.iops + j.write.iops).toBeCloseTo(r.io.iops, 3);
    expect(j.read.bw).toBe(Math.round(j.read.bw_bytes / 1024));
    expect((j.read.bw_bytes + j.write.bw_bytes) / 1e6).toBeCloseTo(r.io.MBps, 2);
    for (const d of [j.read, j.write]) {
      expect(d.clat_ns.N).toBe(d.total_ios);
      expect(Object.keys(d.clat_ns.percentile!)).toEqual(FIO_PERCENTILES.map(fioPercentileKey));
      expect(d.clat_ns.min).toBeLessThanOrEqual(d.clat_ns.percentile!['50.000000']!);
      expect(d.clat_ns.percentile!['99.000000']!).toBeLessThanOrEqual(d.clat_ns.max * (1 + 1 / 64));
      expect(d.clat_ns.stddev).toBeGreaterThan(0);
    }
    // The overall p99 lies between the two directions' p99s.
    const p99 = [j.read, j.write].map((d) => d.clat_ns.percentile!['99.000000']! / 1000);
    expect(r.latency.p99Us).toBeGreaterThanOrEqual(Math.min(...p99) * (1 - 1 / 32));
    expect(r.latency.p99Us).toBeLessThanOrEqual(Math.max(...p99) * (1 + 1 / 32));
  });

  it("--output-format normal prints fio's read and write blocks, then ddplab's sections", async () => {
    const id = newId('n');
    const r = await execa(process.execPath, [BIN, 'run', '--id', id, '--rw', 'randrw', '--bs', '4k,64k', '--size', '8m', '--output-format', 'normal'], { reject: false, timeout: 240_000 });
    expect(r.exitCode, r.stderr.slice(-400)).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/^ddplab: \(groupid=0, jobs=1\): err= 0$/m);
    expect(out).toMatch(/^ {2}read: IOPS=\d+(\.\d+k)?, BW=[\d.]+(KiB|MiB)\/s \([\d.]+(kB|MB)\/s\)\([\d.]+(KiB|MiB)\/\d+msec\)$/m);
    expect(out).toMatch(/^ {2}write: IOPS=\d+(\.\d+k)?, BW=[\d.]+(KiB|MiB)\/s /m);
    expect(out.match(/^ {4}clat \(usec\): min=[\d.]+, max=[\d.]+, avg=[\d.]+, stdev=[\d.]+$/gm)).toHaveLength(2);
    expect(out.match(/^ {4}clat percentiles \(usec\):$/gm)).toHaveLength(2);
    expect(out).toMatch(/^ {5}\| 99\.00th=\[\s*\d+\], 99\.50th=\[\s*\d+\], 99\.90th=\[\s*\d+\], 99\.95th=\[\s*\d+\],$/m);
    expect(out.indexOf('  write: IOPS=')).toBeLessThan(out.indexOf('  verify   '));
    // fio's cpu line stays fio-shaped; ddplab's own says where the CPU went, per thread and in the target.
    expect(out).toMatch(/^ {2}cpu {10}: usr=[\d.]+%, sys=[\d.]+%/m);
    expect(out).toMatch(/^ {2}cpu {6}host thread \d+\.\d\d s, (NIC thread \d+\.\d\d s|NIC in the host thread), target \d+\.\d\d s \(host process \d+\.\d\d s\)$/m);
    expect(out).toMatch(/^ {2}result {3}PASS/m);
  });

  it('runs a fio job file as given (command-line flags over it), and refuses an unsupported option in one line with no namespace', async () => {
    const job = join(dir, 'mixed.fio');
    writeFileSync(job, '; mixed random I/O\n[global]\nioengine=libaio\ndirect=1\niodepth=4\n[mixed]\nrw=randrw\nrwmixread=70\nbssplit=4k/50:64k/50,128k\nsize=8m\nrandseed=3\n');
    const id = newId('f');
    const r = await execa(process.execPath, [BIN, 'run', '--id', id, '--json', '--iodepth', '8', job], { reject: false, timeout: 240_000 });
    expect(r.exitCode, r.stderr.slice(-400)).toBe(0);
    expect(r.stderr).toContain(`ddplab: ${job}:3: ioengine=libaio ignored`);
    const rep = JSON.parse(r.stdout.split('\n').find((l) => l.startsWith('{'))!) as Awaited<ReturnType<typeof runJson>>;
    expect(rep.ok).toBe(true);
    const j = rep.jobs![0]!;
    expect(j.jobname).toBe('mixed');
    expect(j['job options']).toMatchObject({ rw: 'randrw', iodepth: '8', rwmixread: '70', randseed: '3', size: String(8 << 20) });
    expect(j.write.io_bytes % (128 << 10)).toBe(0);
    expect(j.read.total_ios).toBeGreaterThan(j.write.total_ios);

    const bad = join(dir, 'bad.fio');
    writeFileSync(bad, '[global]\nioengine=libaio\n[j]\nrw=randread\nstartdelay=5\n');
    const badId = newId('b');
    const b = await execa(process.execPath, [BIN, 'run', '--id', badId, bad], { reject: false });
    expect(b.exitCode).toBe(1);
    expect(b.stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^ddplab: ${bad}:5: fio option 'startdelay' is not supported by ddplab run`))]);
    expect(b.stdout).toBe('');
    expect(namespacesOf([badId])).toEqual([]);
  });
});
