/**
 * Fuzz target for offline replay (src/replay/): a capture — both
 * directions of NVMe/TCP connections, the host's commands included — made
 * from the input's frames, replayed through the NIC with offload `none`,
 * `ddp` and `ddp-crc`. Replay learns the commands from the host's frames and
 * runs the host ULP over the target's, so mutated commands, completions,
 * data and TCP segments all reach it. The oracle: nothing but typed errors
 * escapes, and every read ends the same way with every offload (status,
 * NVMe status, SHA-256 of its data, bytes missing), as the replay
 * reference tests require of the committed captures.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../../base/errors.js';
import { replayCapture } from '../../replay/replay.js';
import { DDP_OFFLOAD_MODES } from '../../host/offload-mode.js';
import { synthesizeSession } from '../../replay/synthetic-capture.js';
import { WireError } from '../../wire/errors.js';
import { buildPcapFile } from '../../wire/pcap.js';
import { captureFiles } from '../capture-seeds.js';
import { pduDictionary } from '../emitter-seeds.js';
import { mutateFrameSeq } from '../frame-seq-mutator.js';
import { ParamBlock } from '../param-block.js';
import { reprDiff } from '../repr-diff.js';
import { FuzzViolation, type FuzzInput, type FuzzTarget } from '../target.js';

const P_FLAGS = 0;
const F_STRICT_CSUM = 0;
const MAX_FRAMES = 160;
const MODES = DDP_OFFLOAD_MODES;

const dictionary = pduDictionary();

let scratchDir: string | undefined;
/** replayCapture reads a file: one scratch file per process, rewritten for every run. */
function scratchFile(): string {
  scratchDir ??= mkdtempSync(join(tmpdir(), 'ddplab-fuzz-replay-'));
  return join(scratchDir, 'input.pcap');
}

/** What a read came to, without what only offload changes (whether the NIC placed it). */
function outcome(r: { cid: number; slba: number | null; lenBytes: number; status: string; nvmeStatus: number | null; sha256: string | null; missingBytes: number }): unknown {
  return { cid: r.cid, slba: r.slba, lenBytes: r.lenBytes, status: r.status, nvmeStatus: r.nvmeStatus, sha256: r.sha256, missingBytes: r.missingBytes };
}

function seeds(): FuzzInput[] {
  const out: FuzzInput[] = [];
  const variants = [
    { seed: 1, reads: 6, readBytes: [4096, 65536], c2hPduBytes: 16384, interleave: true },
    { seed: 2, reads: 4, readBytes: [131072], hdgst: true, ddgst: true, queueDepth: 4 },
    { seed: 3, reads: 8, readBytes: [512, 8192], writes: 2, success: true, order: 'fifo' as const },
    { seed: 4, reads: 3, readBytes: [40960], handshake: false, ddgst: true, c2hPduBytes: 8192 },
    { seed: 5, reads: 5, readBytes: [65536], segmentBytes: 8948, partialChecksums: true, hdgst: true },
  ];
  for (const v of variants) {
    const s = synthesizeSession(v);
    out.push([Buffer.from([0]), ...s.frames.slice(0, MAX_FRAMES).map((f) => f.data)]);
  }
  for (const f of captureFiles()) out.push([Buffer.from([0]), ...f.frames.slice(0, MAX_FRAMES)]);
  return out;
}

export const replayTarget: FuzzTarget = {
  name: 'replay',
  description: 'ddplab replay of a mutated capture (commands and data), offload none vs ddp, ddp-crc: every read ends alike',
  shape: 'frames',
  weight: 2,
  coverageBatch: 2,
  seeds,
  mutate: (parent, rng, donor) => mutateFrameSeq(parent, rng, donor, { maxFrames: MAX_FRAMES, maxParams: 4, dictionary }),
  async execute(input) {
    const p = new ParamBlock(input[0] ?? Buffer.alloc(0));
    const frames = input.slice(1, 1 + MAX_FRAMES);
    const path = scratchFile();
    writeFileSync(path, buildPcapFile(frames.map((data, i) => ({ data, tsMs: 1_700_000_000_000 + i * 0.01 }))));
    const results: unknown[][] = [];
    for (const offload of MODES) {
      let reads: unknown[];
      try {
        const r = await replayCapture({ path, offload, verifyChecksums: p.bit(P_FLAGS, F_STRICT_CSUM) });
        reads = r.reads.map(outcome);
      } catch (e) {
        // A capture replay refuses (no NVMe/TCP in it, a bad file) is answered in one typed line; the same in every mode.
        if (!(e instanceof UserError) && !(e instanceof WireError)) throw e;
        reads = [`refused: ${e.code}`];
      }
      results.push(reads);
    }
    for (let m = 1; m < MODES.length; m++) {
      const d = reprDiff(results[0], results[m]);
      if (d !== undefined) throw new FuzzViolation('differential', `replay with offload ${MODES[m]} differs from none: ${d}`);
    }
  },
};
