/**
 * src/lab/target-cpu.ts: the node process at or under a child's pid (the
 * target of a run is started through exec.sh and `ip netns exec`), and its
 * CPU time.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { nodePidUnder, nodeProcessCpu } from '../../src/lab/target-cpu.js';

describe('target-cpu', () => {
  it('finds this node process itself, and nothing for another binary', () => {
    expect(nodePidUnder(process.pid)).toBe(process.pid);
    expect(nodePidUnder(process.pid, '/nonexistent/binary')).toBeUndefined();
    const own = nodeProcessCpu(process.pid);
    expect(own?.pid).toBe(process.pid);
    expect(own!.cpu.userMs + own!.cpu.systemMs).toBeGreaterThan(0);
    expect(nodeProcessCpu(undefined)).toBeUndefined();
  });

  it('finds a node process a shell forked (not exec\'d)', async () => {
    // '; exit' keeps the shell from exec'ing node in its own place.
    const sh = spawn('/bin/sh', ['-c', `"${process.execPath}" -e "setTimeout(() => {}, 20000)"; exit 0`], { stdio: 'ignore', detached: true });
    try {
      let found: number | undefined;
      for (let i = 0; i < 200 && found === undefined; i++) {
        const p = nodePidUnder(sh.pid!);
        if (p !== undefined && p !== sh.pid) found = p;
        else await new Promise((r) => setTimeout(r, 25));
      }
      expect(found).toBeDefined();
      expect(found).not.toBe(sh.pid);
      expect(nodeProcessCpu(sh.pid)?.pid).toBe(found);
    } finally {
      process.kill(-sh.pid!, 'SIGKILL');
    }
  });
});
