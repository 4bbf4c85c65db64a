/**
 * What a devmem run is asked for (`--offload devmem-tcp|devmem-nvme`, the
 * --devmem-* flags), the defaults, and the check that refuses a pool too
 * small for one read: without the devmem stack (devmem-host.ts re-exports
 * all of it), so the CLI's flags load none of it for --help or a refusal.
 */
import type { DevmemReturnPath } from '../host/devmem/token-return.js';

/** The page pool's page size (nicemu/devmem/page-pool.ts DMABUF_CHUNK_BYTES). */
const DMABUF_CHUNK_BYTES = 4096;

export type DevmemSplitMode = 'tcp' | 'nvme';

export interface DevmemRunOptions {
  readonly mode: DevmemSplitMode;
  /** dmabuf size: the page pool is this many bytes of 4 KiB pages. */
  readonly poolBytes: number;
  readonly returnPath: DevmemReturnPath;
  /** Pool-empty episodes the application holds every token through (0: return promptly). */
  readonly holdUntilEmpty: number;
}

/** A dmabuf with room for 16 I/O queues' 4 MiB receive windows, tokens given back by dontneed at once. */
export const DEVMEM_DEFAULTS: Omit<DevmemRunOptions, 'mode'> = { poolBytes: 64 << 20, returnPath: 'dontneed', holdUntilEmpty: 0 };

/** 64 MiB, 32 KiB or 1000 bytes: a size in a refusal line. */
export function sizeText(n: number): string {
  return n >= 1 << 20 && n % (1 << 20) === 0 ? `${n >> 20} MiB` : n >= 1024 && n % 1024 === 0 ? `${n >> 10} KiB` : `${n} bytes`;
}

/**
 * The least pool a read of `blockBytes` can complete in: the read's payload
 * plus the two pages it may share with its neighbours (frags are packed and
 * never cross a page, and a page comes back only when every read in it was
 * consumed).
 */
export function devmemPoolNeeded(blockBytes: number): number {
  return Math.ceil(blockBytes / DMABUF_CHUNK_BYTES) * DMABUF_CHUNK_BYTES + 2 * DMABUF_CHUNK_BYTES;
}

/**
 * Why a pool of `poolBytes` cannot serve reads of up to `blockBytes`
 * (`iodepth` of them in flight), or undefined when it can. One line, for a
 * refusal before anything is built.
 */
export function devmemPoolProblem(poolBytes: number, blockBytes: number, iodepth: number): string | undefined {
  const need = devmemPoolNeeded(blockBytes);
  if (poolBytes >= need) return undefined;
  return (
    `--devmem-pool ${sizeText(poolBytes)} cannot hold one ${sizeText(blockBytes)} read: its frags stay held until the whole read arrived, ` +
    `so the page pool runs dry and the read never completes; it needs at least ${sizeText(need)} (${sizeText(Math.max(need, blockBytes * iodepth))} for --iodepth ${iodepth} reads at once)`
  );
}
