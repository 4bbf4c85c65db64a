/**
 * The human report's cpu line of `ddplab run`: user+system time of the host
 * process's host thread and NIC thread, of the target process, and of the
 * host process as a whole (docs/report.md says what each covers).
 */
import type { CpuTime } from '../base/thread-cpu.js';
import type { RunCpu } from '../lab/run-report.js';

const seconds = (c: CpuTime): string => `${((c.userMs + c.systemMs) / 1000).toFixed(2)} s`;

export function describeRunCpu(c: RunCpu): string {
  const parts = [
    `host thread ${seconds(c.hostThread)}`,
    c.nicThread !== null ? `NIC thread ${seconds(c.nicThread)}` : 'NIC in the host thread',
    c.target !== null ? `target ${seconds(c.target)}` : 'target not measured',
  ];
  return `  cpu      ${parts.join(', ')} (host process ${seconds(c)})`;
}
