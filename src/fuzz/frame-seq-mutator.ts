/**
 * Mutations of a frame sequence (a parameter block, then Ethernet frames):
 * what a hostile network or peer does to a TCP connection, at the level of
 * whole segments — loss, duplication, reordering, re-segmentation,
 * overlapping retransmissions that carry different bytes, sequence numbers
 * moved, PDU headers forged into a payload — and at the level of bytes and
 * fields inside one frame (headers, TCP payload, NVMe/TCP PDU headers found
 * in the payload), repairing checksums and digests most of the time so the
 * damage reaches past the NIC's checksum check and the PDU digest checks.
 */
import { WireError } from '../wire/errors.js';
import { buildFrame, parseFrame, type FrameRepr } from '../wire/frame.js';
import { seqAdd } from '../wire/seq.js';
import { havoc } from './byte-mutator.js';
import {
  fixFrameChecksums,
  fixPduDigests,
  frameFields,
  frameLayout,
  mutateOneField,
  pduHeaderFields,
  pduHeaderOffsets,
  type Field,
} from './field-mutator.js';
import type { Rng } from './rng.js';
import type { FuzzInput } from './target.js';

export interface FrameSeqMutation {
  /** Most frames in one input. */
  readonly maxFrames: number;
  /** Longest params block. */
  readonly maxParams: number;
  /** PDU headers worth forging into payloads. */
  readonly dictionary?: readonly Buffer[];
  /** Probability that a byte-level edit repairs checksums (default 0.9). */
  readonly repairChance?: number;
}

function parsed(frame: Buffer): FrameRepr | undefined {
  try {
    const f = parseFrame(frame);
    return f.tcp !== undefined && f.ip !== undefined ? f : undefined;
  } catch (e) {
    if (e instanceof WireError) return undefined;
    throw e;
  }
}

/** The same segment with another sequence number and payload (lengths and checksums recomputed). */
function rebuilt(f: FrameRepr, seq: number, payload: Buffer): Buffer | undefined {
  try {
    return buildFrame({ eth: f.eth, ip: f.ip, tcp: { ...f.tcp!, seq: seq >>> 0, rawOptions: undefined }, payload });
  } catch (e) {
    if (e instanceof WireError) return undefined;
    throw e;
  }
}

/** Field-aware edit of one frame: its L2–L4 fields or a PDU header field inside its payload. */
function fieldEdit(frame: Buffer, rng: Rng, repair: number): Buffer {
  const out = Buffer.from(frame);
  const lay = frameLayout(out);
  let pduAt = -1;
  let fields: Field[];
  if (lay.payloadStart >= 0 && lay.payloadEnd > lay.payloadStart && rng.chance(0.6)) {
    const payload = out.subarray(lay.payloadStart, lay.payloadEnd);
    const offs = pduHeaderOffsets(payload, true, 16);
    if (offs.length > 0) {
      pduAt = rng.pick(offs);
      fields = pduHeaderFields(payload, pduAt).map((f) => ({ ...f, at: f.at + lay.payloadStart }));
    } else fields = frameFields(out);
  } else fields = frameFields(out);
  const n = 1 + rng.geometric(2);
  for (let i = 0; i < n; i++) mutateOneField(out, fields, rng);
  if (pduAt >= 0 && rng.chance(0.7)) fixPduDigests(out.subarray(lay.payloadStart, lay.payloadEnd), pduAt);
  if (rng.chance(repair)) fixFrameChecksums(out);
  return out;
}

/** A sequence number delta a hostile peer might use. */
function seqDelta(rng: Rng): number {
  const d = rng.pick([1, 4, 8, 24, 100, 536, 1448, 4096, 65535, 0x10_0000, 0x4000_0000, 0x7fff_ffff, 0x8000_0000]);
  return rng.chance(0.5) ? d : -d;
}

/** A mutant of `parent` ([params, ...frames]); never modifies it. */
export function mutateFrameSeq(parent: FuzzInput, rng: Rng, donor: FuzzInput, m: FrameSeqMutation): FuzzInput {
  const params = parent[0] ?? Buffer.alloc(0);
  const frames: Buffer[] = parent.slice(1);
  const repair = m.repairChance ?? 0.9;
  const edits = 1 + rng.geometric(3);
  let p = params;
  for (let e = 0; e < edits; e++) {
    const n = frames.length;
    const i = rng.below(n);
    const op = rng.below(100);
    if (op < 3 || n === 0) {
      p = havoc(p, rng, { maxLen: m.maxParams, donor: donor[0], maxStackLog2: 1 });
      continue;
    }
    const frame = frames[i]!;
    if (op < 28) {
      frames[i] = fieldEdit(frame, rng, repair);
    } else if (op < 40) {
      // Bytes of the TCP payload, headers kept.
      const f = parsed(frame);
      if (f === undefined) {
        frames[i] = havoc(frame, rng, { maxLen: 9100, dictionary: m.dictionary });
        continue;
      }
      const payload = havoc(f.payload, rng, { maxLen: 9000, dictionary: m.dictionary, maxStackLog2: 2 });
      const b = rebuilt(f, f.tcp!.seq, payload);
      if (b !== undefined) frames[i] = b;
    } else if (op < 44) {
      const b = havoc(frame, rng, { maxLen: 9100, maxStackLog2: 2 });
      if (rng.chance(repair)) fixFrameChecksums(b);
      frames[i] = b;
    } else if (op < 52) {
      frames.splice(i, 1);
    } else if (op < 60) {
      if (n < m.maxFrames) frames.splice(i + rng.below(n - i + 1), 0, frame);
    } else if (op < 68) {
      frames.splice(i, 1);
      frames.splice(rng.below(n), 0, frame);
    } else if (op < 76) {
      // Re-segmentation: one segment becomes two.
      const f = parsed(frame);
      if (f === undefined || f.payload.length < 2 || n >= m.maxFrames) continue;
      const cut = 1 + rng.below(f.payload.length - 1);
      const a = rebuilt(f, f.tcp!.seq, f.payload.subarray(0, cut));
      const b = rebuilt(f, seqAdd(f.tcp!.seq, cut), f.payload.subarray(cut));
      if (a !== undefined && b !== undefined) frames.splice(i, 1, ...(rng.chance(0.3) ? [b, a] : [a, b]));
    } else if (op < 80) {
      // Coalescing: two adjacent segments that continue each other become one.
      if (i + 1 >= n) continue;
      const f = parsed(frame);
      const g = parsed(frames[i + 1]!);
      if (f === undefined || g === undefined || seqAdd(f.tcp!.seq, f.payload.length) !== g.tcp!.seq) continue;
      const b = rebuilt(f, f.tcp!.seq, Buffer.concat([f.payload, g.payload]));
      if (b !== undefined && b.length <= 9100) frames.splice(i, 2, b);
    } else if (op < 88) {
      // An overlapping retransmission with other bytes: only TCP's first copy may count.
      const f = parsed(frame);
      if (f === undefined || n >= m.maxFrames) continue;
      const back = rng.below(Math.min(4096, f.payload.length + 64) + 1);
      const len = 1 + rng.below(Math.max(1, f.payload.length + back));
      const forged = havoc(Buffer.alloc(Math.min(len, 9000), rng.below(256)), rng, { maxLen: 9000, dictionary: m.dictionary, donor: donor[1] });
      const b = rebuilt(f, seqAdd(f.tcp!.seq, -back), forged);
      if (b !== undefined) frames.splice(i + 1 + rng.below(n - i), 0, b);
    } else if (op < 93) {
      const f = parsed(frame);
      if (f === undefined) continue;
      const b = rebuilt(f, seqAdd(f.tcp!.seq, seqDelta(rng)), f.payload);
      if (b !== undefined) frames[i] = b;
    } else if (op < 97) {
      // A PDU header forged into the payload (digests made right).
      const f = parsed(frame);
      const dict = m.dictionary;
      if (f === undefined || dict === undefined || dict.length === 0 || f.payload.length === 0) continue;
      const payload = Buffer.from(f.payload);
      const token = rng.pick(dict);
      const at = rng.below(payload.length);
      token.copy(payload, at);
      fixPduDigests(payload, at);
      const b = rebuilt(f, f.tcp!.seq, payload);
      if (b !== undefined) frames[i] = b;
    } else {
      // Splice: our frames up to i, then the donor's from somewhere.
      const theirs = donor.slice(1);
      if (theirs.length === 0) continue;
      const from = rng.below(theirs.length);
      frames.splice(i, n - i, ...theirs.slice(from, from + (m.maxFrames - i)));
    }
  }
  return [p, ...frames.slice(0, m.maxFrames)];
}
