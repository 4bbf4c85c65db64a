/**
 * Fuzz target for the streaming PDU framer (src/wire/pdu-framer.ts): a byte
 * stream (part 0) pushed in chunks whose sizes come from a plan (part 1).
 * The oracle is a second, independent framing of the same stream: PDUs cut
 * one after another with parsePdu/parsePduHeader over the contiguous bytes.
 * The framer must deliver exactly those PDUs (fields, data, stream offsets,
 * digest verdicts), whatever the chunking, and fail where the reference
 * fails with the same error code, or report TRUNCATED at end() when the
 * stream stops inside a PDU; after a failure every push throws the same
 * error. Plan bits also make the consumer throw from onPdu, which must fail
 * the framer with that error.
 */
import { crc32c, crc32cFrags } from '../../wire/crc32c.js';
import { WireError } from '../../wire/errors.js';
import {
  NVME_TCP_COMMON_HEADER_LEN,
  parsePdu,
  parsePduHeader,
  pduData,
  peekCommonHeader,
  validateCommonHeader,
  type Pdu,
  type PduParseOptions,
} from '../../wire/nvme-tcp-pdu.js';
import { PduFramer, type DigestStatus, type FramedPdu } from '../../wire/pdu-framer.js';
import { havoc } from '../byte-mutator.js';
import { captureStreams } from '../capture-seeds.js';
import { pduDictionary, pduStreamSeeds } from '../emitter-seeds.js';
import { fixPduDigests, mutateOneField, pduHeaderFields, pduHeaderOffsets } from '../field-mutator.js';
import { reprDiff } from '../repr-diff.js';
import type { Rng } from '../rng.js';
import { check, FuzzViolation, tolerate, type FuzzInput, type FuzzTarget } from '../target.js';
import { DdplabError } from '../../base/errors.js';

const MAX_STREAM = 96 * 1024;

/** What the framer should deliver for one PDU. */
interface RefPdu {
  readonly pdu: Pdu;
  readonly streamOffset: number;
  readonly hdgst: DigestStatus;
  readonly ddgst: DigestStatus;
}

/** How the reference framing ends: cleanly, with a WireError code at a PDU, or inside an unfinished PDU. */
type RefEnd = { readonly kind: 'clean' } | { readonly kind: 'error'; readonly code: string; readonly at: number } | { readonly kind: 'truncated'; readonly at: number };

interface Plan {
  readonly chunks: readonly number[];
  readonly verify: boolean;
  readonly opts: PduParseOptions;
  /** Throw from onPdu at this PDU index (-1: never). */
  readonly throwAt: number;
}

function planOf(plan: Buffer | undefined, streamLen: number): Plan {
  const p = plan ?? Buffer.alloc(0);
  const flags = p[0] ?? 0;
  const chunks: number[] = [];
  let total = 0;
  for (let i = 1; total < streamLen; i++) {
    // Bytes of the plan are chunk sizes (0 → a 1-byte chunk, 255 → "the rest"); cycling when it runs out.
    const b = p.length > 1 ? p[1 + ((i - 1) % (p.length - 1))]! : 255;
    const n = b === 255 ? streamLen - total : b < 128 ? b + 1 : (b - 127) * 97;
    chunks.push(Math.min(n, streamLen - total));
    total += n;
  }
  const pdaChoice = (flags >>> 1) & 3;
  const opts: PduParseOptions = pdaChoice === 0 ? {} : pdaChoice === 1 ? { pda: 0 } : pdaChoice === 2 ? { maxPlen: 4096 } : { pda: 7 };
  return { chunks, verify: (flags & 1) !== 0, opts, throwAt: (flags & 0x80) !== 0 ? (flags >>> 3) & 0x0f : -1 };
}

function digestStatus(have: number | undefined, compute: () => number, verify: boolean): DigestStatus {
  if (have === undefined) return 'absent';
  if (!verify) return 'unchecked';
  return compute() === have ? 'ok' : 'mismatch';
}

/** Frames `stream` the simple way: whole PDUs with parsePdu, the last unfinished one judged by its header alone. */
function referenceFraming(stream: Buffer, plan: Plan): { pdus: RefPdu[]; end: RefEnd } {
  const pdus: RefPdu[] = [];
  let at = 0;
  while (at < stream.length) {
    const rest = stream.subarray(at);
    if (rest.length < NVME_TCP_COMMON_HEADER_LEN) return { pdus, end: { kind: 'truncated', at } };
    const v = tolerate(() => validateCommonHeader(peekCommonHeader(rest), plan.opts), WireError);
    if (!v.ok) return { pdus, end: { kind: 'error', code: (v.error as WireError).code, at } };
    const layout = v.value;
    if (rest.length < layout.headLen) return { pdus, end: { kind: 'truncated', at } };
    const h = tolerate(() => parsePduHeader(rest, plan.opts), WireError);
    if (!h.ok) return { pdus, end: { kind: 'error', code: (h.error as WireError).code, at } };
    if (rest.length < layout.plen) return { pdus, end: { kind: 'truncated', at } };
    const p = tolerate(() => parsePdu(rest, plan.opts), WireError);
    if (!p.ok) return { pdus, end: { kind: 'error', code: (p.error as WireError).code, at } };
    const parsed = p.value;
    pdus.push({
      pdu: parsed.pdu,
      streamOffset: at,
      hdgst: digestStatus(parsed.hdgst, () => crc32c(parsed.headerBytes), plan.verify),
      ddgst: digestStatus(parsed.ddgst, () => crc32cFrags(pduData(parsed.pdu)), plan.verify),
    });
    at += layout.plen;
  }
  return { pdus, end: { kind: 'clean' } };
}

/** The consumer's deliberate failure, to check the framer's "onPdu threw" contract. */
class ConsumerStop extends DdplabError<'CONSUMER_STOP'> {
  constructor(message: string) {
    super('CONSUMER_STOP', message);
  }
}

function joined(pdu: Pdu): unknown {
  return 'data' in pdu ? { ...pdu, data: Buffer.concat(pdu.data) } : pdu;
}

function runFramer(stream: Buffer, plan: Plan): { got: FramedPdu[]; failure: unknown; failedAt: number; endError: unknown } {
  const got: FramedPdu[] = [];
  const framer = new PduFramer(
    (p) => {
      got.push(p);
      if (got.length - 1 === plan.throwAt) throw new ConsumerStop(`consumer stops at PDU ${plan.throwAt}`);
    },
    { ...plan.opts, verifyDigests: plan.verify },
  );
  let at = 0;
  let failure: unknown;
  let failedAt = -1;
  for (const n of plan.chunks) {
    const chunk = stream.subarray(at, at + n);
    try {
      framer.push(chunk);
    } catch (e) {
      if (!(e instanceof WireError) && !(e instanceof ConsumerStop)) throw e;
      failure = e;
      failedAt = at;
      break;
    }
    at += n;
  }
  if (failure !== undefined) {
    // A failed framer keeps failing with the same error.
    try {
      framer.push(Buffer.from([0]));
    } catch (e) {
      check(e === failure, 'a failed framer threw a different error on the next push');
    }
    check(framer.failure === failure, 'framer.failure is not the error push threw');
    return { got, failure, failedAt, endError: undefined };
  }
  let endError: unknown;
  try {
    framer.end();
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
    endError = e;
  }
  check(framer.streamOffset === stream.length, `streamOffset ${framer.streamOffset} after ${stream.length} bytes`);
  return { got, failure: undefined, failedAt, endError };
}

function captureSeeds(): Buffer[] {
  return captureStreams().map((s) => s.bytes.subarray(0, 24 * 1024));
}

const dictionary = pduDictionary();

function mutateStream(stream: Buffer, rng: Rng, donor: Buffer): Buffer {
  if (rng.chance(0.5)) {
    const out = Buffer.from(stream);
    const offs = pduHeaderOffsets(out, true);
    if (offs.length > 0) {
      const p = rng.pick(offs);
      const n = 1 + rng.geometric(2);
      for (let i = 0; i < n; i++) mutateOneField(out, pduHeaderFields(out, p), rng);
      if (rng.chance(0.7)) fixPduDigests(out, p);
      return out;
    }
  }
  return havoc(stream, rng, { maxLen: MAX_STREAM, donor, dictionary });
}

export const pduFramerTarget: FuzzTarget = {
  name: 'framer',
  description: 'PduFramer over any chunking equals a parsePdu walk of the contiguous stream (PDUs, offsets, digests, error codes)',
  shape: 'bytes',
  weight: 2,
  coverageBatch: 64,
  seeds: () =>
    [...pduStreamSeeds(), ...captureSeeds()].map((s, i): FuzzInput => [s, Buffer.from([i & 7, 0, 7, 200, 255, 31, 3])]),
  mutate(parent, rng, donor) {
    const stream = parent[0]!;
    const plan = parent[1] ?? Buffer.alloc(1);
    if (rng.chance(0.25)) return [stream, havoc(plan, rng, { maxLen: 32, donor: donor[1] })];
    return [mutateStream(stream, rng, donor[0]!), plan];
  },
  execute(input) {
    const stream = input[0]!;
    const plan = planOf(input[1], stream.length);
    const ref = referenceFraming(stream, plan);
    const run = runFramer(stream, plan);
    const got = run.got;
    // Every PDU the reference frames, in order, with the same content — up to where the framer stopped.
    const stopAt = plan.throwAt >= 0 && plan.throwAt < ref.pdus.length ? plan.throwAt + 1 : ref.pdus.length;
    check(got.length <= stopAt, `framer delivered ${got.length} PDUs, the reference ${stopAt}`);
    for (let i = 0; i < got.length; i++) {
      const g = got[i]!;
      const w = ref.pdus[i]!;
      check(g.streamOffset === w.streamOffset, `PDU ${i}: streamOffset ${g.streamOffset}, reference ${w.streamOffset}`);
      const d = reprDiff(joined(g.pdu), joined(w.pdu));
      if (d !== undefined) throw new FuzzViolation('differential', `PDU ${i} at ${w.streamOffset}: framer and parsePdu differ: ${d}`);
      check(g.hdgstStatus === w.hdgst && g.ddgstStatus === w.ddgst, `PDU ${i}: digests ${g.hdgstStatus}/${g.ddgstStatus}, reference ${w.hdgst}/${w.ddgst}`);
    }
    if (run.failure instanceof ConsumerStop) {
      check(got.length === stopAt, `consumer threw at PDU ${plan.throwAt} but ${got.length} were delivered`);
      return;
    }
    check(got.length === ref.pdus.length, () => `framer delivered ${got.length} PDUs, the reference ${ref.pdus.length} (${JSON.stringify(ref.end)})`);
    const end = ref.end;
    if (end.kind === 'clean') {
      check(run.failure === undefined && run.endError === undefined, () => `framer failed on a clean stream: ${String(run.failure ?? run.endError)}`);
    } else if (end.kind === 'error') {
      check(run.failure instanceof WireError, () => `reference fails with ${end.code} at ${end.at}, framer ${run.failure === undefined ? `ends with ${String(run.endError)}` : String(run.failure)}`);
      check((run.failure as WireError).code === end.code, () => `error code ${(run.failure as WireError).code}, reference ${end.code} at ${end.at}`);
    } else {
      check(run.failure === undefined, () => `framer failed (${String(run.failure)}) where the stream only stops inside a PDU at ${end.at}`);
      check(run.endError instanceof WireError && run.endError.code === 'TRUNCATED', () => `end() inside a PDU at ${end.at}: ${String(run.endError)}`);
    }
  },
};
