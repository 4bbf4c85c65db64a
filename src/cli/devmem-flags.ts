/**
 * The devmem flags shared by `ddplab run` and `ddplab host` (they matter
 * with `--offload devmem-tcp|devmem-nvme`; see src/lab/devmem-host.ts),
 * declared once and turned into DevmemRunOptions once (src/lab/host-argv.ts
 * turns them back into flags for the host process the orchestrator spawns).
 */
import type { Command } from 'commander';
import { DEVMEM_DEFAULTS, devmemPoolProblem, type DevmemRunOptions } from '../lab/devmem-options.js';
import type { DevmemRunReport } from '../lab/devmem-host.js';
import { blockSizesOf, parseSizeBytes, WorkloadOptionError } from '../host/workload/options.js';
import { headerSplitOf, type OffloadMode } from '../host/offload-mode.js';
import { UserError } from '../base/errors.js';

export interface DevmemFlags {
  devmemPool: string;
  devmemReturn: string;
  devmemHold: string;
}

/** The workload flags the pool check reads (the commands' flag objects carry them). */
interface PoolCheckFlags {
  rw?: string;
  bs?: string;
  bssplit?: string;
  bsrange?: string;
  iodepth?: string;
}

/** The largest read block the flags ask for, or undefined (no reads, or block flags the workload check will refuse). */
function largestReadBlock(f: PoolCheckFlags): number | undefined {
  if (f.rw !== undefined && !/read|rw/.test(f.rw)) return undefined;
  try {
    const sizes = blockSizesOf({ bs: f.bs, ...(f.bssplit !== undefined ? { bssplit: f.bssplit } : {}), ...(f.bsrange !== undefined ? { bsrange: f.bsrange } : {}) });
    return sizes.read.reduce((m, b) => Math.max(m, b.bytes), 0) || undefined;
  } catch {
    return undefined;
  }
}

const DEFAULT_POOL = `${DEVMEM_DEFAULTS.poolBytes >> 20}m`;

export function addDevmemFlags(cmd: Command): Command {
  cmd
    .option('--devmem-pool <bytes>', 'devmem: dmabuf size, carved into 4 KiB pages (keep it above queues x 4 MiB, the receive window)', DEFAULT_POOL)
    .option('--devmem-return <path>', 'devmem: how tokens go back: dontneed (SO_DEVMEM_DONTNEED, as mainline) or ring (a ddplab-only hybrid: devmem tokens through a zcrx-style refill ring; for io_uring zero-copy receive itself use --offload zcrx-nvme)', DEVMEM_DEFAULTS.returnPath)
    .option('--devmem-hold <n>', 'devmem: the application holds every token until the page pool runs empty, n times (pool-exhaustion experiment)', String(DEVMEM_DEFAULTS.holdUntilEmpty));
  return cmd;
}

/**
 * The devmem options for an --offload mode (undefined when it is not a
 * devmem one). With the workload's flags in `f` it also refuses a pool that
 * cannot hold one read (devmemPoolProblem): such a run would only end in an
 * I/O timeout.
 */
export function devmemFromFlags(f: DevmemFlags & PoolCheckFlags, offload: OffloadMode): DevmemRunOptions | undefined {
  const mode = headerSplitOf(offload);
  if (mode === undefined) return undefined;
  let poolBytes: number;
  try {
    poolBytes = parseSizeBytes(f.devmemPool, 'devmem-pool');
  } catch (e) {
    if (e instanceof WorkloadOptionError) throw new UserError('BAD_FLAG', `--devmem-pool: ${e.message}`);
    throw e;
  }
  if (poolBytes < 4096 || poolBytes % 4096 !== 0) throw new UserError('BAD_FLAG', `--devmem-pool: ${f.devmemPool} is not a positive multiple of 4 KiB`);
  const returnPath = f.devmemReturn;
  if (returnPath !== 'dontneed' && returnPath !== 'ring') throw new UserError('BAD_FLAG', `--devmem-return: '${returnPath}' is not dontneed or ring`);
  const hold = Number(f.devmemHold);
  if (!Number.isInteger(hold) || hold < 0 || hold > 1000) throw new UserError('BAD_FLAG', `--devmem-hold: '${f.devmemHold}' is not an integer in 0..1000`);
  const block = largestReadBlock(f);
  if (block !== undefined) {
    const iodepth = Number(f.iodepth ?? 1);
    const problem = devmemPoolProblem(poolBytes, block, Number.isInteger(iodepth) && iodepth > 0 ? iodepth : 1);
    if (problem !== undefined) throw new UserError('BAD_FLAG', problem);
  }
  return { mode, poolBytes, returnPath, holdUntilEmpty: hold };
}

function mib(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1 << 10 ? `${(n / (1 << 10)).toFixed(1)} KiB` : `${n} B`;
}

/** The human report's devmem lines. */
export function describeDevmem(d: DevmemRunReport): string[] {
  const t = d.tokens;
  const n = d.nic;
  return [
    `  devmem   ${d.mode} split: ${d.devicePct.toFixed(2)}% of ${mib(d.c2hDataBytes)} C2HData payload stayed in device memory (${mib(d.hostDataBytes)} reached the host); ` +
      `I/O queues: host copied ${mib(d.hostCopiedBytes)}, CRC ${mib(d.hostCrcBytes)}; read out of the device: headers ${mib(d.deviceReads.headerBytes)}, ` +
      `for digests ${mib(d.deviceReads.crcBytes)}, by the consumer ${mib(d.deviceReads.consumerBytes)}`,
    `    tokens ${t.issued} issued, ${t.returnedDontneed} by dontneed (${d.dontneedCalls} calls), ${t.returnedRing} by the refill ring (${d.ringEntries} entries, ` +
      `${d.pool['ring-consumed']} consumed by the NIC), ${t.releasedOnClose} on close, ${t.outstandingAfterWorkload} outstanding after the workload, ` +
      `at most ${t.peakPending} waiting${t.staleReturns > 0 ? `, ${t.staleReturns} stale returns (a token given back after its number was reissued)` : ''}`,
    `    pool   ${d.pool.pages} pages of ${mib(d.poolBytes)}: ${n['rx-devmem-drops']} frames dropped for want of a page (${d.pool['alloc-empty']} empty allocations), ` +
      `${d.holdEpisodes} hold episodes, ${d.pool['reclaim-scans']} reclaim scans; ${n['rx-hds-lost-sync']} lost sync, ${n['rx-hds-resync']} resyncs`,
    ...(d.poolExhausted !== undefined ? [`    reads failed with the ${d.poolExhausted}`] : []),
  ];
}
