/**
 * src/base/thread-cpu.ts on this machine's /proc: a thread's figure is its
 * own (a busy worker_thread raises the worker's, not the main thread's,
 * while the process's rises by as much), and processCpuOf agrees with
 * process.cpuUsage() to a tick. The busy loops run until the figure under
 * test has moved, not for a fixed time: a loaded machine only makes them
 * take longer.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { buildSync } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import {
  clockTicksPerSecond,
  cpuTimeSince,
  parseSchedstatNs,
  parseStatTicks,
  processCpuOf,
  splitByTicks,
  threadCpuUsage,
  tryThreadCpuUsage,
  type CpuTime,
} from '../../src/base/thread-cpu.js';

const total = (c: CpuTime): number => c.userMs + c.systemMs;
const processMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Spins in this thread until its own figure rose by `ms` (or 20 s of wall time pass). */
function spinThread(ms: number): CpuTime {
  const t0 = threadCpuUsage();
  const deadline = Date.now() + 20_000;
  let x = 0;
  for (;;) {
    for (let i = 0; i < 200_000; i++) x = (x * 31 + i) | 0;
    const d = cpuTimeSince(t0, threadCpuUsage());
    if (total(d) >= ms || Date.now() > deadline) return d;
  }
}

// The worker needs the module as JavaScript: bundled once, to a folder of our own.
const dir = mkdtempSync(join(tmpdir(), 'ddplab-thread-cpu-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function bundledModuleUrl(): string {
  const out = join(dir, 'thread-cpu.mjs');
  buildSync({ entryPoints: [fileURLToPath(new URL('../../src/base/thread-cpu.ts', import.meta.url))], bundle: true, format: 'esm', platform: 'node', outfile: out, logLevel: 'silent' });
  return pathToFileURL(out).href;
}

/** A worker that spins until its own figure rose by `ms`, and says what its figure and the module said. */
function busyWorker(moduleUrl: string, ms: number): Promise<{ start: CpuTime; end: CpuTime }> {
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    import(workerData.url).then(({ threadCpuUsage }) => {
      const start = threadCpuUsage();
      let x = 0;
      const deadline = Date.now() + 20000;
      for (;;) {
        for (let i = 0; i < 200000; i++) x = (x * 31 + i) | 0;
        const now = threadCpuUsage();
        if (now.userMs + now.systemMs - start.userMs - start.systemMs >= workerData.ms || Date.now() > deadline) {
          parentPort.postMessage({ start, end: now, x });
          return;
        }
      }
    });`;
  return new Promise((resolve, reject) => {
    const w = new Worker(source, { eval: true, workerData: { url: moduleUrl, ms } });
    w.once('message', (m: { start: CpuTime; end: CpuTime }) => {
      void w.terminate();
      resolve(m);
    });
    w.once('error', reject);
  });
}

describe('threadCpuUsage', () => {
  it('a busy loop in the calling thread raises its own figure, and the process figure by at least as much', () => {
    const p0 = processMs();
    const d = spinThread(150);
    const p = processMs() - p0;
    expect(total(d)).toBeGreaterThanOrEqual(150);
    // A thread is part of its process: its rise cannot exceed the process's (one tick of rounding each way).
    expect(total(d)).toBeLessThanOrEqual(p + 1000 / clockTicksPerSecond());
  });

  it('a busy worker_thread raises its own figure, not the main thread\'s (the process figure counts both)', async () => {
    const url = bundledModuleUrl();
    const main0 = threadCpuUsage();
    const p0 = processMs();
    const w = await busyWorker(url, 300);
    const main = cpuTimeSince(main0, threadCpuUsage());
    const p = processMs() - p0;
    const worker = cpuTimeSince(w.start, w.end);
    expect(total(worker)).toBeGreaterThanOrEqual(300);
    // The main thread only started the worker and waited: a small fraction of the worker's time.
    expect(total(main)).toBeLessThan(total(worker) / 3);
    // process.cpuUsage() cannot tell them apart: it rose by the worker's time too.
    expect(p).toBeGreaterThanOrEqual(total(worker) - 1000 / clockTicksPerSecond());
    // And the worker's figure is not the process's: the worker started at a few ms, not at this process's total.
    expect(total(w.start)).toBeLessThan(p0);
  });

  it('tryThreadCpuUsage gives the same kind of figure, and the total never steps back', () => {
    const a = tryThreadCpuUsage();
    expect(a).not.toBeInstanceOf(Error);
    const b = threadCpuUsage();
    expect(total(b)).toBeGreaterThanOrEqual(total(a as CpuTime));
    expect(b.userMs).toBeGreaterThanOrEqual(0);
    expect(b.systemMs).toBeGreaterThanOrEqual(0);
  });
});

describe('processCpuOf', () => {
  it('agrees with process.cpuUsage() for this process within one tick', () => {
    spinThread(50); // something to measure
    const tick = 1000 / clockTicksPerSecond();
    const before = process.cpuUsage();
    const mine = processCpuOf(process.pid);
    const after = process.cpuUsage();
    expect(mine).toBeDefined();
    // /proc truncates each part to whole ticks: at most one tick below the figure before, never above the one after.
    expect(mine!.userMs).toBeGreaterThan(before.user / 1000 - tick);
    expect(mine!.userMs).toBeLessThanOrEqual(after.user / 1000);
    expect(mine!.systemMs).toBeGreaterThan(before.system / 1000 - tick);
    expect(mine!.systemMs).toBeLessThanOrEqual(after.system / 1000);
  });

  it('is undefined for a process that is gone, and for a pid that cannot be one', () => {
    const r = spawnSync('true');
    expect(r.pid).toBeGreaterThan(0);
    expect(processCpuOf(r.pid!)).toBeUndefined();
    expect(processCpuOf(0)).toBeUndefined();
    expect(processCpuOf(-5)).toBeUndefined();
    expect(processCpuOf(1.5)).toBeUndefined();
  });
});

describe('parsing', () => {
  it('CLK_TCK is what getconf says', () => {
    expect(clockTicksPerSecond()).toBe(Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()));
  });

  it('finds utime and stime after a command name holding spaces and parentheses', () => {
    const stat = '4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 120 0 0 0 317 45 0 0 20 0 3 0 9 1 2 3';
    expect(parseStatTicks(stat)).toEqual({ utime: 317, stime: 45 });
    expect(parseStatTicks('4242 no-parens S 1')).toBeUndefined();
    expect(parseStatTicks('4242 (x) S 1 2')).toBeUndefined();
  });

  it('reads schedstat nanoseconds and splits a total in the ticks\' ratio', () => {
    expect(parseSchedstatNs('3155292 0 1\n')).toBe(3155292);
    expect(parseSchedstatNs('garbage')).toBeUndefined();
    expect(splitByTicks(400e6, 3, 1)).toEqual({ userMs: 300, systemMs: 100 });
    // No tick yet: all of it as user time.
    expect(splitByTicks(4e6, 0, 0)).toEqual({ userMs: 4, systemMs: 0 });
  });

  it('cpuTimeSince clamps a part that stepped back at 0', () => {
    expect(cpuTimeSince({ userMs: 10, systemMs: 5 }, { userMs: 30, systemMs: 4 })).toEqual({ userMs: 20, systemMs: 0 });
  });
});
