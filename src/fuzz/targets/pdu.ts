/**
 * Fuzz target for the NVMe/TCP PDU codec (src/wire/nvme-tcp-pdu.ts):
 * parsePdu, parsePduHeader, validateCommonHeader, isPlausiblePduHeader and
 * the digest checks, under the parse options receivers use (no limits, a
 * PDA, a small plen cap). The oracle:
 *  - only WireError for bad bytes;
 *  - an accepted PDU's layout adds up (data offset + data + DDGST = plen,
 *    all inside the buffer; data and header bytes are views of it);
 *  - the NIC's cheap plausibility test agrees with full validation;
 *  - parsePduHeader accepts the header of every PDU parsePdu accepts and
 *    decodes the same fields;
 *  - emitPdu of the parsed repr parses back to the same repr.
 */
import { WireError } from '../../wire/errors.js';
import { PduHeaderView } from '../../wire/nvme-tcp-pdu-header.js';
import {
  emitPduBuffer,
  isPlausiblePduHeader,
  parsePdu,
  parsePduHeader,
  pduData,
  peekCommonHeader,
  validateCommonHeader,
  verifyDataDigest,
  verifyHeaderDigest,
  type Pdu,
  type PduParseOptions,
} from '../../wire/nvme-tcp-pdu.js';
import { mutateBytesInput } from '../bytes-input-mutator.js';
import { captureStreams } from '../capture-seeds.js';
import { pduDictionary, pduSeeds } from '../emitter-seeds.js';
import { fixPduDigests, pduHeaderFields } from '../field-mutator.js';
import { reprDiff } from '../repr-diff.js';
import { check, FuzzViolation, tolerate, type FuzzInput, type FuzzTarget } from '../target.js';

/** Parse options a receiver may use, chosen by the plan's first byte. */
const OPTION_SETS: readonly (PduParseOptions | undefined)[] = [undefined, { pda: 0 }, { pda: 3 }, { maxPlen: 1024 }, { pda: 31, maxPlen: 70_000 }];

function optionsOf(input: FuzzInput): PduParseOptions | undefined {
  const plan = input[1];
  return OPTION_SETS[plan === undefined || plan.length === 0 ? 0 : plan[0]! % OPTION_SETS.length];
}

function isViewOf(view: Uint8Array, buf: Uint8Array, from: number, to: number): boolean {
  return view.buffer === buf.buffer && view.byteOffset >= buf.byteOffset + from && view.byteOffset + view.length <= buf.byteOffset + to;
}

/** The repr with its data fragments joined, so differently fragmented equal data compares equal. */
function joined(pdu: Pdu): unknown {
  return 'data' in pdu ? { ...pdu, data: Buffer.concat(pdu.data) } : pdu;
}

/** First PDUs of the capture streams: real headers from live runs. */
function captureSeeds(): Buffer[] {
  const out: Buffer[] = [];
  for (const s of captureStreams()) {
    let p = 0;
    for (let k = 0; k < 6 && p + 8 <= s.bytes.length; k++) {
      const plen = new PduHeaderView(s.bytes, p).plen;
      if (plen < 8 || plen > 20_000 || p + plen > s.bytes.length) break;
      out.push(s.bytes.subarray(p, p + plen));
      p += plen;
    }
  }
  return out;
}

const dictionary = pduDictionary();

export const pduTarget: FuzzTarget = {
  name: 'pdu',
  description: 'parsePdu/parsePduHeader/isPlausiblePduHeader: typed errors only, consistent layout, emit(parse(x)) parses back the same',
  shape: 'bytes',
  weight: 2,
  coverageBatch: 256,
  seeds: () => [...pduSeeds(), ...captureSeeds()].flatMap((b, i) => [[b, Buffer.from([i % OPTION_SETS.length])] as FuzzInput]),
  mutate: (parent, rng, donor) =>
    mutateBytesInput(parent, rng, donor, {
      maxLen: 20_000,
      dictionary,
      fields: (b) => pduHeaderFields(b, 0),
      repair: (b) => fixPduDigests(b, 0),
      repairChance: 0.7,
      maxPlanLen: 4,
    }),
  execute(input) {
    const buf = input[0]!;
    const opts = optionsOf(input);
    const plausible = isPlausiblePduHeader(buf, 0, opts);
    const peek = tolerate(() => peekCommonHeader(buf), WireError);
    if (peek.ok) {
      const v = tolerate(() => validateCommonHeader(peek.value, opts), WireError);
      check(v.ok === plausible, () => `isPlausiblePduHeader says ${plausible}, validateCommonHeader ${v.ok ? 'accepts' : `throws ${v.error.message}`}`);
    } else {
      check(!plausible, 'isPlausiblePduHeader accepts fewer than 8 bytes');
    }
    const hdr = tolerate(() => parsePduHeader(buf, opts), WireError);
    const r = tolerate(() => parsePdu(buf, opts), WireError);
    if (hdr.ok) verifyHeaderDigest(hdr.value);
    if (!r.ok) return;
    const p = r.value;
    const lay = p.layout;
    verifyHeaderDigest(p);
    verifyDataDigest(p);
    check(lay.plen <= buf.length, `plen ${lay.plen} past the ${buf.length}-byte buffer`);
    check(lay.headLen === lay.hlen + lay.hdgstLen && lay.headLen <= lay.plen, `headLen ${lay.headLen} hlen ${lay.hlen} plen ${lay.plen}`);
    const data = pduData(p.pdu);
    let dataLen = 0;
    for (const d of data) {
      dataLen += d.length;
      check(isViewOf(d, buf, lay.dataOffset, lay.plen - lay.ddgstLen), 'data is not a view of [dataOffset, plen - DDGST)');
    }
    check(dataLen === lay.dataLength, `data holds ${dataLen} bytes, layout says ${lay.dataLength}`);
    if (lay.dataLength > 0) {
      check(lay.dataOffset + lay.dataLength + lay.ddgstLen === lay.plen, `dataOffset ${lay.dataOffset} + ${lay.dataLength} + ${lay.ddgstLen} != plen ${lay.plen}`);
      check(lay.dataOffset >= lay.hlen, `data at ${lay.dataOffset} inside the ${lay.hlen}-byte header`);
    }
    check(isViewOf(p.headerBytes, buf, 0, lay.hlen) && p.headerBytes.length === lay.hlen, 'headerBytes is not [0, hlen)');
    check(hdr.ok, () => `parsePduHeader refused a PDU parsePdu accepted: ${hdr.ok ? '' : hdr.error.message}`);
    const d1 = reprDiff({ ...joined(p.pdu) as object, data: undefined }, { ...(hdr.value.header as object), data: undefined });
    if (d1 !== undefined) throw new FuzzViolation('invariant', `parsePduHeader and parsePdu decode different headers: ${d1}`);
    // The repr must survive its emitter (digests as the PDU had them; padding is the emitter's choice).
    const e = tolerate(() => emitPduBuffer(p.pdu, { hdgst: lay.hdgstLen !== 0, ddgst: lay.ddgstLen !== 0 }), WireError);
    check(e.ok, () => `emitPdu refused a PDU parsePdu accepted: ${e.ok ? '' : e.error.message}`);
    const back = tolerate(() => parsePdu(e.value), WireError);
    check(back.ok, () => `parsePdu refused emitPdu's own PDU: ${back.ok ? '' : back.error.message}`);
    const d2 = reprDiff(joined(p.pdu), joined(back.value.pdu));
    if (d2 !== undefined) throw new FuzzViolation('invariant', `parse → emit → parse changed ${d2}`);
  },
};
