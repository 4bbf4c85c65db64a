/**
 * The host's timeout flags (--connect-timeout, --io-timeout): seconds in,
 * milliseconds out, one-line refusals, and the same values handed on to
 * `ddplab host` by `ddplab run`.
 */
import { describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { addWorkloadFlags, parseTimeoutSeconds, timeoutsFromFlags, workloadFromFlags, type WorkloadFlags } from '../../src/cli/workload-flags.js';
import { timeoutArgs } from '../../src/lab/host-argv.js';
import { workloadHostArgs } from '../../src/host/workload/options.js';
import { outputFormatFromFlags } from '../../src/cli/fio-normal.js';

/** The workload flags as commander parses them from `args`. */
function parsed(args: string[]): WorkloadFlags {
  const cmd = new Command('run').exitOverride();
  addWorkloadFlags(cmd, { rw: 'randread', bs: '4k', iodepth: '1' });
  cmd.parse(args, { from: 'user' });
  return cmd.opts<WorkloadFlags>();
}

function refusal(args: string[]): string {
  try {
    workloadFromFlags(parsed(args));
  } catch (e) {
    return (e as Error).message;
  }
  return 'accepted';
}

describe('timeout flags', () => {
  it('take seconds, fractions too, and give milliseconds', () => {
    expect(timeoutsFromFlags({ connectTimeout: '10', ioTimeout: '2.5' })).toEqual({ connectTimeoutMs: 10_000, ioTimeoutMs: 2500 });
    expect(parseTimeoutSeconds('io-timeout', '0.25')).toBe(250);
  });

  it('refuse what is not a duration in (0, 3600] in one line naming the flag', () => {
    for (const bad of ['0', '-1', 'soon', '', '3601', 'Infinity']) {
      expect(() => parseTimeoutSeconds('connect-timeout', bad)).toThrow(`--connect-timeout: '${bad}' is not a number of seconds in (0, 3600]`);
    }
  });

  it('hand the same values on as ddplab host arguments', () => {
    const t = timeoutsFromFlags({ connectTimeout: '2.5', ioTimeout: '30' });
    expect(timeoutArgs(t)).toEqual(['--connect-timeout', '2.5', '--io-timeout', '30']);
    expect(timeoutsFromFlags({ connectTimeout: timeoutArgs(t)[1]!, ioTimeout: timeoutArgs(t)[3]! })).toEqual(t);
    expect(timeoutArgs(undefined)).toEqual([]);
  });
});

describe("workload flags in fio's terms", () => {
  it('take bs per direction, bssplit, bsrange, size, io_size (io_limit), offset, runtime, time_based, name', () => {
    expect(workloadFromFlags(parsed(['--rw', 'randrw', '--bs', '4k,128k', '--size', '32m', '--io_size', '1g', '--offset', '64m', '--name', 'j1']))).toMatchObject({
      name: 'j1',
      rw: 'randrw',
      bs: '4k,128k',
      size: '32m',
      ioSize: '1g',
      offset: '64m',
    });
    expect(workloadFromFlags(parsed(['--bssplit', '4k/70:128k/30']))).toMatchObject({ bssplit: '4k/70:128k/30' });
    expect(workloadFromFlags(parsed(['--bsrange', '4k-1m']))).toMatchObject({ bsrange: '4k-1m' });
    expect(workloadFromFlags(parsed(['--io_limit', '8m']))).toMatchObject({ ioSize: '8m' });
    const rt = workloadFromFlags(parsed(['--runtime', '30']));
    expect(rt.timeSec).toBe(30);
    expect(rt.timeBased).toBeUndefined();
    expect(workloadFromFlags(parsed(['--runtime', '30', '--time_based']))).toMatchObject({ timeSec: 30, timeBased: true });
    expect(workloadFromFlags(parsed(['--time', '5']))).toMatchObject({ timeSec: 5, timeBased: true });
    expect(workloadFromFlags(parsed(['--ramp_time', '1.5']))).toMatchObject({ rampTimeSec: 1.5 });
    expect(workloadFromFlags(parsed([])).rampTimeSec).toBeUndefined();
  });

  it('refuse the old mixes in --bs naming the fio flag, and contradictions, in one line', () => {
    expect(refusal(['--bs', '4k:70,128k:30'])).toBe("--bs '4k:70,128k:30' is a weighted mix: use bssplit (fio's syntax, e.g. --bssplit 4k/70:128k/30)");
    expect(refusal(['--bs', '4k-1m'])).toBe("--bs '4k-1m' is a range: use bsrange (e.g. --bsrange 4k-1m)");
    expect(refusal(['--bs', '4k,128k,1m'])).toMatch(/^--bs '4k,128k,1m' has more than two sizes: bs is read\[,write\] as in fio \(its third, trim, has no meaning here\); for a mix use bssplit/);
    expect(refusal(['--bs', '4k,8k,16k,trim'])).toMatch(/more than two sizes/);
    expect(refusal(['--bssplit', '4k/60:8k/60'])).toMatch(/^--bssplit '4k\/60:8k\/60': the percentages add up to 120, more than 100$/);
    expect(refusal(['--time', '5', '--runtime', '5'])).toBe('--time is --runtime with --time_based: give one of them');
    expect(refusal(['--time_based'])).toBe('--time_based needs --runtime SECONDS (or give --time SECONDS)');
    expect(refusal(['--io_size', '1m', '--io_limit', '1m'])).toBe('--io_limit is --io_size: give one of them');
    expect(refusal(['--bs', '1m', '--size', '64k'])).toMatch(/^--bs 1m is larger than --size 64k: /);
    expect(refusal(['--bssplit', '4k/50:1m/50', '--io_size', '512k'])).toMatch(/^--bssplit 4k\/50:1m\/50 is larger than --io_size 512k: /);
    // Only the sizes of directions the job issues count: a read job with a 1m write size fits a 64k size.
    expect(refusal(['--rw', 'read', '--bs', '4k,1m', '--size', '64k'])).toBe('accepted');
    expect(refusal(['--offset', '12q'])).toMatch(/^--offset '12q' is not a size/);
    expect(refusal(['--ramp_time', '-1'])).toBe("--ramp_time: '-1' is not a number of seconds >= 0");
    expect(refusal(['--ramp_time', 'soon'])).toBe("--ramp_time: 'soon' is not a number of seconds >= 0");
  });

  it("hand the same job to ddplab host (run's argv) as they were given", () => {
    for (const args of [
      ['--rw', 'randrw', '--bs', '4k,64k', '--size', '32m', '--io_size', '64m', '--offset', '1m', '--runtime', '10', '--name', 'x', '--seed', '9', '--no-verify'],
      ['--rw', 'read', '--bssplit', '4k/25:64k/75,128k', '--time', '3', '--ramp_time', '0.5'],
      ['--rw', 'randwrite', '--bsrange', '4k-16k', '--iodepth', '4', '--rwmixread', '30'],
    ]) {
      const w = workloadFromFlags(parsed(args));
      const back = workloadFromFlags(parsed(workloadHostArgs(w)));
      expect({ ...back, queues: w.queues }).toEqual(w);
    }
  });

  it('--output-format normal|json, --json is json', () => {
    expect(outputFormatFromFlags({})).toBe('normal');
    expect(outputFormatFromFlags({ outputFormat: 'json' })).toBe('json');
    expect(outputFormatFromFlags({ json: true })).toBe('json');
    expect(outputFormatFromFlags({ json: true, outputFormat: 'json' })).toBe('json');
    expect(() => outputFormatFromFlags({ outputFormat: 'terse' })).toThrow("--output-format: 'terse' is not normal or json");
    expect(() => outputFormatFromFlags({ json: true, outputFormat: 'normal' })).toThrow(/cannot go with --output-format normal/);
  });
});
