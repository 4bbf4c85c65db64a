/**
 * Helpers for replay tests: synthetic frames to a temporary pcap, replayed;
 * frames edited with checksums recomputed; reads reduced to what two
 * replays must agree on.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildFrame, parseFrame, type FrameHeaders, type FrameRepr } from '../../../src/wire/frame.js';
import { writePcapFileSync, type PcapFrame } from '../../../src/wire/pcap.js';
import { replayCapture, type ReplayOptions } from '../../../src/replay/replay.js';
import type { ReplayReport } from '../../../src/replay/report.js';
import type { ReplayRead } from '../../../src/replay/connection.js';
import { mulberry32 } from '../../../src/base/seeded-rng.js';

/** A temporary directory, removed by the returned function. */
export function tempDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'ddplab-replay-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes `frames` to a temporary pcap and replays it. */
export async function replayFrames(frames: readonly PcapFrame[], opts: Omit<ReplayOptions, 'path'> = {}): Promise<ReplayReport> {
  const t = tempDir();
  try {
    const path = join(t.dir, 'capture.pcap');
    writePcapFileSync(path, frames);
    return await replayCapture({ ...opts, path });
  } finally {
    t.remove();
  }
}

/** Rebuilds a frame after `edit` changed its headers or payload; IPv4 and TCP checksums are recomputed. */
export function rewriteFrame(frame: Buffer, edit: (f: FrameRepr) => FrameHeaders): Buffer {
  return buildFrame(edit(parseFrame(frame)));
}

/** What must be identical between two replays of the same data: identity, content, outcome. */
export function readKeys(reads: readonly ReplayRead[]): string[] {
  return reads.map((r) => `${r.conn}/${r.cid}/${r.slba}/${r.lenBytes}/${r.status}/${r.sha256}`);
}

/** Seeded PRNG (mulberry32) for test-side choices; failing seeds are printed by the tests. */
export const prng = mulberry32;
