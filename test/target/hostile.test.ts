/**
 * The hostile target's corruptions as bytes: each case breaks exactly the
 * field it names (the wire codec's validator finds that field and no other
 * fault), digests it does not attack stay right, data is never copied; and
 * the hostile queue strikes the read response after `after` intact ones,
 * once, leaving every other PDU as emitted.
 */
import { describe, expect, it } from 'vitest';
import { buildCqe, cqeWith } from '../../src/wire/nvme-cqe.js';
import { WireError } from '../../src/wire/errors.js';
import {
  PduType,
  emitPdu,
  parsePdu,
  peekCommonHeader,
  validateCommonHeader,
  verifyDataDigest,
  verifyHeaderDigest,
  type C2HDataPdu,
  type EmittedPdu,
  type Pdu,
} from '../../src/wire/nvme-tcp-pdu.js';
import {
  HOSTILE_CASES,
  HostileQueue,
  HostileSpecError,
  OVERRUN_BYTES,
  corruptC2HData,
  formatHostileSpec,
  parseHostileSpec,
  type HostileCase,
} from '../../src/target/hostile.js';

function bytes(e: EmittedPdu): Buffer {
  return Buffer.concat([e.head, ...e.data, e.tail]);
}

function c2h(cccid: number, datao: number, datal: number, lastPdu: boolean, success = false): C2HDataPdu {
  const data = Buffer.alloc(datal);
  for (let i = 0; i < datal; i++) data[i] = (datao + i) * 7;
  return { type: PduType.C2HData, cccid, datao, datal, lastPdu, success, data: [data] };
}

/** Offsets where `b` differs from `a` (same length). */
function changed(a: Buffer, b: Buffer): number[] {
  return [...b.keys()].filter((i) => a[i] !== b[i]);
}

/** Only bytes of the field at [from, to) and, with a header digest, the digest itself may differ. */
function onlyIn(diff: readonly number[], from: number, to: number, hdgst: boolean): boolean {
  return diff.length > 0 && diff.every((i) => (i >= from && i < to) || (hdgst && i >= 24 && i < 28));
}

function faultOf(buf: Buffer): WireError {
  try {
    validateCommonHeader(peekCommonHeader(buf), { pda: 0 });
  } catch (e) {
    if (e instanceof WireError) return e;
    throw e;
  }
  throw new Error('header validated');
}

describe('parseHostileSpec', () => {
  it('reads CASE[@QID][:after=N] with QID 1 and after 0 by default', () => {
    expect(parseHostileSpec('bad-hlen')).toEqual({ kind: 'bad-hlen', qid: 1, after: 0 });
    expect(parseHostileSpec('bad-hdgst@2')).toEqual({ kind: 'bad-hdgst', qid: 2, after: 0 });
    expect(parseHostileSpec('c2h-after-completion@3:after=40')).toEqual({ kind: 'c2h-after-completion', qid: 3, after: 40 });
    expect(parseHostileSpec('plen-lt-hlen:after=7')).toEqual({ kind: 'plen-lt-hlen', qid: 1, after: 7 });
    for (const k of HOSTILE_CASES) expect(parseHostileSpec(formatHostileSpec({ kind: k, qid: 5, after: 9 }))).toEqual({ kind: k, qid: 5, after: 9 });
  });

  it('refuses an unknown case, the admin queue and junk, naming the cases', () => {
    expect(() => parseHostileSpec('bad-plen')).toThrow(/CASE\[@QID\]\[:after=N\] with CASE one of plen-lt-hlen, bad-hlen/);
    expect(() => parseHostileSpec('bad-hlen@0')).toThrow(HostileSpecError);
    expect(() => parseHostileSpec('bad-hlen@0')).toThrow(/QID 0 is not an I\/O queue/);
    expect(() => parseHostileSpec('bad-hlen:after=-1')).toThrow(HostileSpecError);
    expect(() => parseHostileSpec('bad-hlen@2:after=3:x')).toThrow(HostileSpecError);
  });
});

describe('corruptC2HData', () => {
  for (const hdgst of [false, true]) {
    for (const ddgst of [false, true]) {
      const opts = { hdgst, ddgst };
      const tag = `hdgst ${hdgst ? 'on' : 'off'}, ddgst ${ddgst ? 'on' : 'off'}`;
      const pdu = c2h(5, 4096, 2048, false);
      const e = emitPdu(pdu, opts);

      it(`plen-lt-hlen: PLEN 16 is the only fault (${tag})`, () => {
        const out = bytes(corruptC2HData('plen-lt-hlen', e));
        const f = faultOf(out);
        expect(f.code).toBe('PDU_PLEN_LT_HLEN');
        expect(f.detail).toMatchObject({ field: 'plen', got: 16 });
        expect(onlyIn(changed(bytes(e), out), 4, 8, hdgst)).toBe(true);
        if (hdgst) expect(verifyHeaderDigest({ headerBytes: out.subarray(0, 24), hdgst: out.readUInt32LE(24) })).toBe('ok');
      });

      it(`bad-hlen: HLEN 28 for a C2HData (${tag})`, () => {
        const out = bytes(corruptC2HData('bad-hlen', e));
        const f = faultOf(out);
        expect(f.code).toBe('PDU_HLEN_MISMATCH');
        expect(f.detail).toMatchObject({ field: 'hlen', expected: 24, got: 28 });
        expect(onlyIn(changed(bytes(e), out), 2, 3, hdgst)).toBe(true);
        if (hdgst) expect(verifyHeaderDigest({ headerBytes: out.subarray(0, 24), hdgst: out.readUInt32LE(24) })).toBe('ok');
      });

      it(`pdo-in-header: PDO 16 points into the header (${tag})`, () => {
        const out = bytes(corruptC2HData('pdo-in-header', e));
        const f = faultOf(out);
        expect(f.code).toBe('PDU_PDO_IN_HEADER');
        expect(f.detail).toMatchObject({ field: 'pdo', got: 16 });
        expect(onlyIn(changed(bytes(e), out), 3, 4, hdgst)).toBe(true);
      });

      it(`data-past-length: ${OVERRUN_BYTES} bytes more, DATAL/PLEN/digests consistent, data not copied (${tag})`, () => {
        const x = corruptC2HData('data-past-length', e);
        expect(x.data[0]).toBe(e.data[0]);
        expect(x.plen).toBe(e.plen + OVERRUN_BYTES);
        const p = parsePdu(bytes(x), { pda: 0 });
        expect(p.layout.plen).toBe(x.plen);
        if (p.pdu.type !== PduType.C2HData) throw new Error('not C2HData');
        expect(p.pdu.datao).toBe(4096);
        expect(p.pdu.datal).toBe(2048 + OVERRUN_BYTES);
        expect(verifyHeaderDigest(p)).toBe(hdgst ? 'ok' : 'absent');
        expect(verifyDataDigest(p)).toBe(ddgst ? 'ok' : 'absent');
      });

      it(`digest cases flip one bit of their digest only (${tag})`, () => {
        const h = bytes(corruptC2HData('bad-hdgst', e));
        const d = bytes(corruptC2HData('bad-ddgst', e));
        const orig = bytes(e);
        expect(changed(orig, h)).toEqual(hdgst ? [24] : []);
        expect(changed(orig, d)).toEqual(ddgst ? [orig.length - 4] : []);
        if (hdgst) expect(verifyHeaderDigest(parsePdu(h))).toBe('mismatch');
        if (ddgst) {
          const p = parsePdu(d);
          expect(verifyDataDigest(p)).toBe('mismatch');
          expect(verifyHeaderDigest(p)).toBe(hdgst ? 'ok' : 'absent');
        }
      });
    }
  }

  it('leaves the PDU of c2h-after-completion as it is (the repeat is the fault)', () => {
    const e = emitPdu(c2h(1, 0, 512, true), { hdgst: true, ddgst: true });
    expect(corruptC2HData('c2h-after-completion', e)).toBe(e);
  });
});

/** A queue's worth of PDUs: `reads` reads of `pdus` C2HData each, each followed by its CapsuleResp (or SUCCESS). */
function readResponses(reads: number, pdus: number, success: boolean): Pdu[] {
  const out: Pdu[] = [];
  for (let r = 0; r < reads; r++) {
    const cid = 10 + r;
    for (let p = 0; p < pdus; p++) out.push(c2h(cid, p * 1024, 1024, p === pdus - 1, success && p === pdus - 1));
    if (!success) out.push({ type: PduType.CapsuleResp, cqe: buildCqe(cqeWith({ cid, sqId: 1 })) });
  }
  return out;
}

function drive(kind: HostileCase, after: number, pdus: Pdu[], opts: { hdgst: boolean; ddgst: boolean }) {
  const log: string[] = [];
  const q = new HostileQueue({ kind, qid: 1, after }, (l) => log.push(l));
  const emitted = pdus.map((p) => emitPdu(p, opts));
  const written = pdus.map((p, i) => q.outgoing(p, emitted[i]!));
  return { q, log, emitted, written };
}

describe('HostileQueue', () => {
  const both = { hdgst: true, ddgst: true };

  for (const kind of ['plen-lt-hlen', 'bad-hlen', 'pdo-in-header', 'bad-hdgst', 'bad-ddgst'] as const) {
    it(`${kind}: breaks the first C2HData of read response after+1, once; every other PDU goes out as emitted`, () => {
      const pdus = readResponses(5, 3, false);
      const { q, emitted, written } = drive(kind, 2, pdus, both);
      // Read 3 (CID 12) starts at index 2 * (3 + 1).
      const victim = 8;
      written.forEach((w, i) => {
        expect(w).toHaveLength(1);
        if (i === victim) expect(bytes(w[0]!).equals(bytes(emitted[i]!))).toBe(false);
        else expect(w[0]).toBe(emitted[i]);
      });
      expect(q.forgedPdus).toBe(1);
    });
  }

  it('data-past-length: overruns the last C2HData of the victim, not its first', () => {
    const pdus = readResponses(3, 3, false);
    const { q, emitted, written } = drive('data-past-length', 1, pdus, both);
    // Read 2 (CID 11): its PDUs are 4, 5, 6; CapsuleResp 7.
    written.forEach((w, i) => {
      if (i === 6) expect(w[0]!.plen).toBe(emitted[i]!.plen + OVERRUN_BYTES);
      else expect(w).toEqual([emitted[i]]);
    });
    expect(q.forgedPdus).toBe(1);
  });

  it('c2h-after-completion: sends the victim\'s first C2HData again right after its CapsuleResp', () => {
    const pdus = readResponses(3, 2, false);
    const { q, emitted, written } = drive('c2h-after-completion', 0, pdus, both);
    // Read 1 (CID 10): PDUs 0, 1; CapsuleResp 2.
    expect(written[2]).toHaveLength(2);
    expect(written[2]![0]).toBe(emitted[2]);
    expect(bytes(written[2]![1]!).equals(bytes(emitted[0]!))).toBe(true);
    written.forEach((w, i) => {
      if (i !== 2) expect(w).toEqual([emitted[i]]);
    });
    expect(q.forgedPdus).toBe(1);
  });

  it('c2h-after-completion: after a SUCCESS C2HData when there is no CapsuleResp', () => {
    const pdus = readResponses(2, 2, true);
    const { written, emitted } = drive('c2h-after-completion', 1, pdus, both);
    // Read 2 (CID 11): PDUs 2, 3 (SUCCESS).
    expect(written[3]).toHaveLength(2);
    expect(bytes(written[3]![1]!).equals(bytes(emitted[2]!))).toBe(true);
  });

  it('leaves everything intact when the digest it would break was not negotiated, and says so', () => {
    for (const kind of ['bad-hdgst', 'bad-ddgst'] as const) {
      const pdus = readResponses(2, 1, false);
      const { q, log, emitted, written } = drive(kind, 0, pdus, { hdgst: false, ddgst: false });
      written.forEach((w, i) => expect(w).toEqual([emitted[i]]));
      expect(q.forgedPdus).toBe(0);
      expect(log).toEqual([`${kind}: no ${kind === 'bad-hdgst' ? 'header' : 'data'} digest negotiated on this connection; read response 1 (CID 10) left intact`]);
    }
  });

  it('never strikes when fewer read responses than after+1 go by', () => {
    const pdus = readResponses(3, 2, false);
    const { q, emitted, written } = drive('bad-hlen', 3, pdus, both);
    written.forEach((w, i) => expect(w).toEqual([emitted[i]]));
    expect(q.forgedPdus).toBe(0);
  });
});
