/**
 * `ddplab devmem-check`: the kernel devmem selftest's checks (ncdevmem,
 * devmem.py) against ddplab's model of devmem TCP — bind-rx refusals and
 * errnos, descriptors naming the binding, the validation pattern, tokens
 * and SO_DEVMEM_DONTNEED, EFAULT and ETOOSMALL, wrong steering, unbind
 * with frags held, loss and duplicates (src/lab/devmem-check/). One line per
 * check, `ok` or `FAIL` and what was seen; exit 1 when any failed.
 *
 * It runs in-process over an in-memory link (ddplab's TCP as the sender,
 * the software NIC and host stack as the receiver, virtual time): no root,
 * no namespace, nothing left behind. It does not use the live topology.
 */
import type { Command } from 'commander';
import { runDevmemChecks } from '../lab/devmem-check/checks.js';
import { parseSizeBytes, WorkloadOptionError } from '../host/workload/options.js';
import { UserError } from '../base/errors.js';

export const DEVMEM_CHECK_DESCRIPTION =
  "check ddplab's devmem TCP model the way the kernel's devmem selftest checks a NIC (bind-rx errors, dmabuf ids, validation pattern, DONTNEED, EFAULT/ETOOSMALL), in-process, no root";

interface DevmemCheckFlags {
  size: string;
  seed: string;
  json?: boolean;
}

export function registerDevmemCheckCommand(program: Command): void {
  program
    .command('devmem-check')
    .description(DEVMEM_CHECK_DESCRIPTION)
    .option('--size <bytes>', 'bytes the main receive check moves (at most 64m)', '1m')
    .option('--seed <n>', 'seed of the link (TCP timing and the loss check)', '1')
    .option('--json', 'print the checks as JSON instead of lines')
    .addHelpText(
      'after',
      '\nRuns in-process over an in-memory link (ddplab TCP sender -> software NIC -> host stack, virtual time):\n' +
        'no root, no namespaces. It checks the model, not a kernel or the live topology.\n',
    )
    .action((f: DevmemCheckFlags) => {
      let bytes: number;
      try {
        bytes = parseSizeBytes(f.size, 'size');
      } catch (e) {
        if (e instanceof WorkloadOptionError) throw new UserError('BAD_FLAG', `--size: ${e.message}`);
        throw e;
      }
      if (bytes < 1 || bytes > 64 << 20) throw new UserError('BAD_FLAG', `--size: ${f.size} is not between 1 byte and 64m`);
      const seed = Number(f.seed);
      if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) throw new UserError('BAD_FLAG', `--seed: '${f.seed}' is not an integer in 0..4294967295`);
      const lines = runDevmemChecks({ bytes, seed });
      const failed = lines.filter((l) => !l.ok).length;
      if (f.json === true) process.stdout.write(`${JSON.stringify({ ok: failed === 0, checks: lines }, null, 2)}\n`);
      else {
        for (const l of lines) process.stdout.write(`${l.ok ? 'ok  ' : 'FAIL'} ${l.name}: ${l.seen}\n`);
        process.stdout.write(`${lines.length - failed} of ${lines.length} checks passed\n`);
      }
      if (failed > 0) process.exitCode = 1;
    });
}
