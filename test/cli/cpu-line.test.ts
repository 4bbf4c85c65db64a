import { describe, expect, it } from 'vitest';
import { describeRunCpu } from '../../src/cli/cpu-line.js';
import { runCpu } from '../../src/lab/run-report.js';

describe("ddplab run's cpu line", () => {
  it('gives each thread, the target and the host process in seconds of user+system time', () => {
    const host = { userMs: 1900, systemMs: 310, hostThread: { userMs: 1100, systemMs: 130 }, nicThread: { userMs: 800, systemMs: 180 } };
    const line = describeRunCpu(runCpu(host, { userMs: 500, systemMs: 270 }));
    expect(line).toBe('  cpu      host thread 1.23 s, NIC thread 0.98 s, target 0.77 s (host process 2.21 s)');
  });

  it('says where the NIC ran and what was not measured', () => {
    const inThread = runCpu({ userMs: 1000, systemMs: 4, hostThread: { userMs: 990, systemMs: 4 }, nicThread: null }, null);
    expect(describeRunCpu(inThread)).toBe('  cpu      host thread 0.99 s, NIC in the host thread, target not measured (host process 1.00 s)');
  });
});
