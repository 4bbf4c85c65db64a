/**
 * fio job files for `ddplab run JOBFILE` (src/cli/fio-jobfile.ts): the INI
 * syntax, the supported options and what they become, refusals in one line
 * naming the option and the line, ignored options with a notice, and the
 * command line overriding the file.
 */
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { applyJobFile, parseFioJobFile } from '../../src/cli/fio-jobfile.js';
import { addWorkloadFlags, workloadFromFlags, type WorkloadFlags } from '../../src/cli/workload-flags.js';

const JOB = `; a fio job
[global]
ioengine=libaio
direct=1
rw=randread
bs=4k
iodepth = 8
# the job
[mixed]
rw=randrw
rwmixwrite=30
bssplit=4k/70:64k/30
size=32m
io_size=64m
offset=1m
runtime=2m
time_based
ramp_time=500ms
randseed=7
numjobs=1
verify=crc32c
`;

function command(): Command {
  const cmd = new Command('run').exitOverride();
  addWorkloadFlags(cmd, { rw: 'randread', bs: '4k', iodepth: '1' });
  cmd.argument('[jobfile]');
  return cmd;
}

describe('fio job files', () => {
  it('reads [global] then the job (job wins), key=value and bare keys, comments; ignores disk-access options with a notice', () => {
    const j = parseFioJobFile(JOB, 'job.fio');
    expect(j.name).toBe('mixed');
    expect(j.flags).toEqual({
      name: 'mixed',
      rw: 'randrw',
      bs: '4k',
      iodepth: '8',
      rwmixread: '70',
      bssplit: '4k/70:64k/30',
      size: '32m',
      io_size: '64m',
      offset: '1m',
      runtime: '120',
      time_based: true,
      ramp_time: '0.5',
      seed: '7',
      verify: true,
    });
    expect(j.notices).toEqual([
      "job.fio:3: ioengine=libaio ignored (ddplab's engine is its own NVMe/TCP host)",
      'job.fio:4: direct=1 ignored (there is no page cache between the workload and the NVMe/TCP host)',
    ]);
  });

  it('becomes the same workload as the flags, and flags on the command line override the file', () => {
    const file = parseFioJobFile(JOB, 'job.fio');
    const cmd = command();
    cmd.parse(['--bs', '128k', '--iodepth', '2', 'job.fio'], { from: 'user' });
    applyJobFile(cmd, file);
    const w = workloadFromFlags(cmd.opts<WorkloadFlags>());
    // --bs on the command line replaces the file's bssplit as well as its bs.
    expect(w).toMatchObject({ name: 'mixed', rw: 'randrw', bs: '128k', iodepth: 2, rwmixread: 70, size: '32m', ioSize: '64m', offset: '1m', timeSec: 120, timeBased: true, seed: 7, verify: true });
    expect(w.bssplit).toBeUndefined();

    const cmd2 = command();
    cmd2.parse(['--time', '5', 'job.fio'], { from: 'user' });
    applyJobFile(cmd2, parseFioJobFile('[j]\nruntime=60\nverify=0\n', 'j.fio'));
    expect(workloadFromFlags(cmd2.opts<WorkloadFlags>())).toMatchObject({ timeSec: 5, timeBased: true, verify: false, name: 'j' });
  });

  it('refuses what ddplab does not do, in one line naming the file, the line and the option', () => {
    const bad: [string, RegExp][] = [
      ['[j]\nrw=read\nstartdelay=5\n', /^j\.fio:3: fio option 'startdelay' is not supported by ddplab run \(supported: name, rw, /],
      ['[j]\nnumjobs=4\n', /^j\.fio:2: numjobs=4: ddplab runs one job \(for more connections to the target use --queues N\)$/],
      ['[a]\nrw=read\n[b]\nrw=write\n', /^j\.fio:3: a second job \[b\] \(after \[a\]\): ddplab runs one job$/],
      ['rw=read\n', /^j\.fio:1: 'rw=read' is outside any section/],
      ['[global]\nrw=read\n', /^j\.fio: no job section/],
      ['[j]\ntime_based=maybe\n', /^j\.fio:2: time_based=maybe is not a boolean/],
      ['[j]\nruntime=soon\n', /^j\.fio:2: runtime=soon is not a time/],
      ['[j]\nrw=randread:8\n', /modifier is not supported/],
      ['[j]\nbs\n', /^j\.fio:2: bs needs a value/],
      ['[j]\n-x=1\n', /is not key=value or a bare key/],
    ];
    for (const [text, line] of bad) {
      let msg = '';
      try {
        parseFioJobFile(text, 'j.fio');
      } catch (e) {
        msg = (e as Error).message;
        expect((e as { code?: string }).code).toBe('BAD_JOB_FILE');
      }
      expect(msg, text).toMatch(line);
      expect(msg.includes('\n')).toBe(false);
    }
  });
});
