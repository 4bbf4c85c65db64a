/**
 * The CPU time of the target process of a run. `ddplab run` starts it as
 * netns/exec.sh → `ip netns exec` → node, each exec'ing the next, so the
 * child's pid is the node process's; should a wrapper ever fork instead,
 * the first descendant running this same node binary is taken.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { processCpuOf, type CpuTime } from '../base/thread-cpu.js';

function exeOf(pid: number): string | undefined {
  try {
    return realpathSync(`/proc/${pid}/exe`);
  } catch {
    return undefined;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter((s) => s !== '').map(Number);
  } catch {
    return [];
  }
}

/** `pid` itself or its first descendant (depth 3) that runs `exe`; undefined when none does. */
export function nodePidUnder(pid: number, exe: string = process.execPath): number | undefined {
  let want: string;
  try {
    want = realpathSync(exe);
  } catch {
    want = exe;
  }
  let level = [pid];
  for (let depth = 0; depth <= 3 && level.length > 0; depth++) {
    for (const p of level) if (exeOf(p) === want) return p;
    level = level.flatMap(childrenOf);
  }
  return undefined;
}

/** The CPU time of the node process at or under `pid`; undefined when it is gone or cannot be found. */
export function nodeProcessCpu(pid: number | undefined): { readonly pid: number; readonly cpu: CpuTime } | undefined {
  if (pid === undefined) return undefined;
  const node = nodePidUnder(pid);
  if (node === undefined) return undefined;
  const cpu = processCpuOf(node);
  return cpu !== undefined ? { pid: node, cpu } : undefined;
}
