/**
 * fio's normal output (`--output-format normal`) of a run's job: the group
 * line, then per direction
 *
 *   read: IOPS=1234, BW=4.82MiB/s (5.05MB/s)(48.2MiB/10001msec)
 *     clat (usec): min=50, max=1703, avg=800.12, stdev=90.34
 *     clat percentiles (usec):
 *      |  1.00th=[  652],  5.00th=[  685], 10.00th=[  701], 20.00th=[  725],
 *      ...
 *
 * and the CPU line. Units are always written: latencies in µs ("usec"), rates
 * in binary units with the decimal rate beside them, as fio does.
 */
import type { FioDirJson, FioJobJson } from '../host/workload/fio-json.js';
import { UserError } from '../base/errors.js';

/** fio's short numbers: 4801, 10.3k, 103k, 1.20M. */
export function fioShortNumber(n: number): string {
  if (n < 10_000) return String(Math.round(n));
  const units = ['k', 'M', 'G', 'T'];
  let v = n;
  let u = -1;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)}${units[u]}`;
}

/** Three significant digits in the largest unit below the value: 4.82MiB, 19.7MB. */
function scaled(bytes: number, base: 1024 | 1000): string {
  const units = base === 1024 ? ['B', 'KiB', 'MiB', 'GiB', 'TiB'] : ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let u = 0;
  while (v >= base && u < units.length - 1) {
    v /= base;
    u++;
  }
  const text = u === 0 ? v.toFixed(0) : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  return `${text}${units[u]}`;
}

function usec(ns: number): string {
  return (ns / 1000).toFixed(2);
}

function percentileLines(p: Readonly<Record<string, number>>): string[] {
  const cells = Object.entries(p).map(([k, ns]) => `${Number(k).toFixed(2).padStart(5)}th=[${String(Math.round(ns / 1000)).padStart(5)}]`);
  const lines: string[] = [];
  for (let i = 0; i < cells.length; i += 4) {
    const row = cells.slice(i, i + 4).join(', ');
    lines.push(`     | ${row}${i + 4 < cells.length ? ',' : ''}`);
  }
  return lines;
}

function dirBlock(name: 'read' | 'write', d: FioDirJson): string[] {
  const c = d.clat_ns;
  const lines = [
    `  ${name}: IOPS=${fioShortNumber(d.iops)}, BW=${scaled(d.bw_bytes, 1024)}/s (${scaled(d.bw_bytes, 1000)}/s)(${scaled(d.io_bytes, 1024)}/${d.runtime}msec)`,
    `    clat (usec): min=${usec(c.min)}, max=${usec(c.max)}, avg=${usec(c.mean)}, stdev=${usec(c.stddev)}`,
  ];
  if (c.percentile !== undefined) lines.push('    clat percentiles (usec):', ...percentileLines(c.percentile));
  return lines;
}

/** The job's block of fio's normal output: directions that did I/O (both for a mixed job), then CPU. */
export function fioNormalLines(j: FioJobJson, rw: string | undefined): string[] {
  const lines = [`${j.jobname}: (groupid=${j.groupid}, jobs=1): err=${String(j.error).padStart(2)}`];
  const mixed = rw === 'randrw';
  if (j.read.total_ios > 0 || mixed || rw === 'read' || rw === 'randread') lines.push(...dirBlock('read', j.read));
  if (j.write.total_ios > 0 || mixed || rw === 'write' || rw === 'randwrite') lines.push(...dirBlock('write', j.write));
  lines.push(`  cpu          : usr=${j.usr_cpu.toFixed(2)}%, sys=${j.sys_cpu.toFixed(2)}% (the host process, NIC model included)`);
  return lines;
}

export type OutputFormat = 'normal' | 'json';

/** --output-format normal|json (fio's names; --json is json). */
export function outputFormatFromFlags(f: { outputFormat?: string; json?: boolean }): OutputFormat {
  const given = f.outputFormat;
  if (given !== undefined && given !== 'normal' && given !== 'json') {
    throw new UserError('BAD_FLAG', `--output-format: '${given}' is not normal or json (fio's terse and json+ are not supported)`);
  }
  if (f.json === true && given === 'normal') throw new UserError('BAD_FLAG', '--json is --output-format json: it cannot go with --output-format normal');
  return f.json === true ? 'json' : (given ?? 'normal');
}
