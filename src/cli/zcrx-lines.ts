/**
 * `--offload zcrx-nvme` on the command line: the flags of the devmem modes
 * that have no meaning for it are refused in one line, and the run's human
 * report gets its zcrx lines.
 */
import type { ZcrxRunReport } from '../lab/zcrx-host.js';
import { usesZcrx, type OffloadMode } from '../host/offload-mode.js';
import { UserError } from '../base/errors.js';

/** zcrx gives buffers back on its refill ring, always, and has no hold experiment: --devmem-return and --devmem-hold other than their defaults are refused. */
export function checkZcrxFlags(f: { devmemReturn?: string; devmemHold?: string }, offload: OffloadMode): void {
  if (!usesZcrx(offload)) return;
  if (f.devmemReturn !== undefined && f.devmemReturn !== 'dontneed') {
    throw new UserError('BAD_FLAG', `--devmem-return: ${offload} always returns buffers on its refill ring; the flag is for devmem-tcp and devmem-nvme`);
  }
  if (f.devmemHold !== undefined && f.devmemHold !== '0') throw new UserError('BAD_FLAG', `--devmem-hold: the hold experiment is for devmem-tcp and devmem-nvme, not ${offload}`);
}

function mib(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
}

/** The run report's zcrx lines. */
export function describeZcrx(z: ZcrxRunReport): string[] {
  const c = z.recvZc;
  return [
    `  zcrx     nvme split into a ${mib(z.areaBytes)} area: ${z.areaPct.toFixed(2)}% of ${mib(z.c2hDataBytes)} C2HData payload stayed in the area (${mib(z.hostDataBytes)} reached the host); ` +
      `I/O queues: host copied ${mib(z.hostCopiedBytes)}, CRC ${mib(z.hostCrcBytes)}; read in the area: headers ${mib(z.areaReads.headerBytes)}, for digests ${mib(z.areaReads.crcBytes)}, by the consumer ${mib(z.areaReads.consumerBytes)}`,
    `    CQEs ${c.cqes} (${c.zcCqes} zero-copy, ${c.copyFallbackCqes} copy fallback of ${mib(c.copyFallbackBytes)}), ENOMEM ${c.ENOMEM}, ENOSPC ${c.ENOSPC}, re-armed ${z.rearms}; ` +
      `buffers ${z.buffers.taken} taken, ${z.buffers.returned} returned on the refill ring, ${z.buffers.outstandingAfterWorkload} outstanding after the workload; ` +
      `pool ${z.pool.pages} pages, ${z.nic['rx-devmem-drops']} frames dropped for want of one`,
  ];
}
