/**
 * The live side of "a replay gives what the live run verified": with
 * `ddplab run --hash-reads FILE` (or `ddplab host --hash-reads FILE`) the
 * live host writes the SHA-256 of every read's data as it completed — the
 * bytes its workload then verified — and a replay of the run's capture is
 * compared with them.
 *
 * The two sides name a read differently (the live workload knows its queue
 * and LBA, the replay knows the connection and CID), so they are compared
 * as multisets of (SLBA, length, SHA-256): every read the replay could
 * hash must be one the live host read with that content, and the other way
 * round when the replay lost nothing.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import type { WorkloadDevice } from '../host/workload/workload.js';
import type { ReplayRead } from './connection.js';

/** One read as the live host completed it. */
export interface LiveReadHash {
  /** Workload queue index (0-based: I/O queue qid - 1). */
  readonly queue: number;
  readonly slba: number;
  readonly lenBytes: number;
  readonly sha256: string;
}

/** `dev` with every successful read's data hashed into `out`, in completion order. */
export function withReadHashes(dev: WorkloadDevice, out: LiveReadHash[]): WorkloadDevice {
  return {
    queues: dev.queues,
    queueDepth: dev.queueDepth,
    lbaSizeBytes: dev.lbaSizeBytes,
    nsSizeBytes: dev.nsSizeBytes,
    maxTransferBytes: dev.maxTransferBytes,
    read: async (queue, slba, buf) => {
      const r = await dev.read(queue, slba, buf);
      // Hashed at completion, before the workload looks at (or reuses) the buffer.
      out.push({ queue, slba, lenBytes: buf.length, sha256: createHash('sha256').update(buf).digest('hex') });
      return r;
    },
    write: (queue, slba, buf) => dev.write(queue, slba, buf),
  };
}

export function writeReadHashes(path: string, hashes: readonly LiveReadHash[]): void {
  writeFileSync(path, `${JSON.stringify({ reads: hashes })}\n`);
}

export function readReadHashes(path: string): LiveReadHash[] {
  const v = JSON.parse(readFileSync(path, 'utf8')) as { reads?: LiveReadHash[] };
  return v.reads ?? [];
}

/** How a replay's reads compare with the live host's. */
export interface LiveComparison {
  /** Replay reads with a SHA-256 that the live host read with the same content. */
  readonly matched: number;
  /** Replay reads with a SHA-256 the live host never read (a different content): must be 0. */
  readonly mismatched: readonly ReplayRead[];
  /** Live reads the replay has no hash for (lost in the capture or the replay). */
  readonly unmatchedLive: readonly LiveReadHash[];
}

export function compareWithLive(replay: readonly ReplayRead[], live: readonly LiveReadHash[]): LiveComparison {
  const key = (slba: number | null, len: number, sha: string): string => `${slba ?? '?'}/${len}/${sha}`;
  const pool = new Map<string, LiveReadHash[]>();
  for (const l of live) {
    const k = key(l.slba, l.lenBytes, l.sha256);
    const list = pool.get(k);
    if (list === undefined) pool.set(k, [l]);
    else list.push(l);
  }
  let matched = 0;
  const mismatched: ReplayRead[] = [];
  for (const r of replay) {
    if (r.sha256 === null) continue;
    const list = pool.get(key(r.slba, r.lenBytes, r.sha256));
    if (list !== undefined && list.length > 0) {
      list.pop();
      matched++;
    } else {
      mismatched.push(r);
    }
  }
  const unmatchedLive: LiveReadHash[] = [];
  for (const list of pool.values()) unmatchedLive.push(...list);
  return { matched, mismatched, unmatchedLive };
}
