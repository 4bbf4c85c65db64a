import { describe, expect, it } from 'vitest';
import { WireError } from '../../src/wire/errors.js';
import {
  emitPdu,
  emitPduBuffer,
  pduData,
  PduType,
  type Pdu,
  type PduEmitOptions,
} from '../../src/wire/nvme-tcp-pdu.js';
import { PduFramer, type FramedPdu, type PduFramerOptions } from '../../src/wire/pdu-framer.js';
import { normalizePdu, pduConversation, prng } from '../support/wire/pdu-samples.js';

interface Stream {
  readonly pdus: Pdu[];
  readonly wires: Buffer[];
  readonly bytes: Buffer;
}

function buildStream(seed: number, opts: PduEmitOptions): Stream {
  const pdus = pduConversation(prng(seed));
  const wires = pdus.map((p) => emitPduBuffer(p, opts));
  return { pdus, wires, bytes: Buffer.concat(wires) };
}

function frame(chunks: readonly Buffer[], opts?: PduFramerOptions): FramedPdu[] {
  const out: FramedPdu[] = [];
  const f = new PduFramer((p) => out.push(p), opts);
  for (const c of chunks) f.push(c);
  f.end();
  return out;
}

/** A comparable summary of what came out: fields, data bytes, digests, position. */
function summary(framed: readonly FramedPdu[]): unknown[] {
  return framed.map((f) => ({
    pdu: normalizePdu(f.pdu),
    hdgst: f.hdgst,
    ddgst: f.ddgst,
    hdgstStatus: f.hdgstStatus,
    ddgstStatus: f.ddgstStatus,
    streamOffset: f.streamOffset,
    plen: f.layout.plen,
    header: f.headerBytes.toString('hex'),
  }));
}

/** Cuts `bytes` at the given offsets (fresh copies, so no chunk aliases another). */
function cut(bytes: Buffer, at: readonly number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let prev = 0;
  for (const a of [...at, bytes.length]) {
    chunks.push(Buffer.from(bytes.subarray(prev, a)));
    prev = a;
  }
  return chunks;
}

const MODES: ReadonlyArray<{ name: string; emit: PduEmitOptions }> = [
  { name: 'digests off', emit: {} },
  { name: 'digests on, pda 3', emit: { hdgst: true, ddgst: true, pda: 3 } },
];

describe('PduFramer', () => {
  for (const mode of MODES) {
    describe(mode.name, () => {
      const s = buildStream(mode.emit.hdgst ? 2 : 1, mode.emit);
      const reference = frame([s.bytes], { verifyDigests: true });

      it('frames a stream of all nine types in one chunk', () => {
        expect(new Set(s.pdus.map((p) => p.type)).size).toBe(9);
        expect(reference.map((f) => normalizePdu(f.pdu))).toEqual(s.pdus.map(normalizePdu));
        let off = 0;
        for (let i = 0; i < reference.length; i++) {
          expect(reference[i]!.streamOffset).toBe(off);
          off += s.wires[i]!.length;
          const digested = reference[i]!.hdgst !== undefined;
          expect(reference[i]!.hdgstStatus).toBe(digested ? 'ok' : 'absent');
        }
        expect(reference.some((f) => f.ddgstStatus === 'ok')).toBe(!!mode.emit.ddgst);
        expect(reference.some((f) => f.hdgstStatus === 'ok')).toBe(!!mode.emit.hdgst);
      });

      it('gives identical PDUs for a two-chunk split at every byte boundary', () => {
        const want = summary(reference);
        for (let at = 0; at <= s.bytes.length; at++) {
          const got = summary(frame(cut(s.bytes, [at]), { verifyDigests: true }));
          if (JSON.stringify(got) !== JSON.stringify(want)) expect(got, `split at ${at}`).toEqual(want);
        }
      });

      it('gives identical PDUs for random multi-chunk splits', () => {
        const want = summary(reference);
        for (let seed = 1; seed <= 300; seed++) {
          const rand = prng(seed);
          const at: number[] = [];
          // Mostly tiny chunks (headers split everywhere), some segment-sized ones.
          for (let off = 0; ; ) {
            off += rand() < 0.7 ? 1 + Math.floor(rand() * 12) : 1 + Math.floor(rand() * 1500);
            if (off >= s.bytes.length) break;
            at.push(off);
          }
          const got = summary(frame(cut(s.bytes, at), { verifyDigests: true }));
          if (JSON.stringify(got) !== JSON.stringify(want)) {
            expect(got, `PRNG seed ${seed} (cuts ${at.join(',')})`).toEqual(want);
          }
        }
      });

      it('reports present digests as unchecked when verification is off', () => {
        const got = frame([s.bytes]);
        for (const f of got) {
          expect(f.hdgstStatus).toBe(f.hdgst === undefined ? 'absent' : 'unchecked');
          expect(f.ddgstStatus).toBe(f.ddgst === undefined ? 'absent' : 'unchecked');
        }
      });
    });
  }

  it('delivers a PDU wholly inside one chunk as views of that chunk', () => {
    const data = Buffer.alloc(1000, 0xab);
    const wire = emitPduBuffer(
      { type: PduType.C2HData, cccid: 3, datao: 0, datal: 1000, lastPdu: true, success: false, data: [data] },
      { hdgst: true, ddgst: true },
    );
    const chunk = Buffer.concat([Buffer.alloc(0), wire]);
    const [f] = frame([chunk]);
    const frags = pduData(f!.pdu);
    expect(frags.length).toBe(1);
    expect(frags[0]!.buffer).toBe(chunk.buffer);
    expect(frags[0]!.byteOffset).toBe(chunk.byteOffset + 28);
    expect(f!.headerBytes.buffer).toBe(chunk.buffer);
    expect(f!.headerBytes.byteOffset).toBe(chunk.byteOffset);
  });

  it('delivers data spanning chunks as one view per chunk, never a copy', () => {
    const data = Buffer.alloc(3000, 0xcd);
    const wire = emitPduBuffer({ type: PduType.H2CData, cccid: 1, ttag: 2, datao: 0, datal: 3000, lastPdu: true, data: [data] });
    const chunks = cut(wire, [10, 1000, 2000]); // header split, then data in three pieces
    const [f] = frame(chunks);
    const frags = pduData(f!.pdu);
    expect(frags.map((x) => x.length)).toEqual([1000 - 24, 1000, wire.length - 2000]);
    expect(frags[0]!.buffer).toBe(chunks[1]!.buffer);
    expect(frags[1]!.buffer).toBe(chunks[2]!.buffer);
    expect(frags[2]!.buffer).toBe(chunks[3]!.buffer);
    expect(Buffer.concat(frags).equals(data)).toBe(true);
  });

  it('detects and reports a data digest error on that PDU only, and keeps framing', () => {
    const s = buildStream(5, { hdgst: true, ddgst: true });
    const victim = s.pdus.findIndex((p) => p.type === PduType.C2HData && p.datal > 10);
    let off = 0;
    for (let i = 0; i < victim; i++) off += s.wires[i]!.length;
    const bad = Buffer.from(s.bytes);
    bad[off + 28 + 5]! ^= 0x01; // a data byte of the victim (hlen 24 + HDGST 4, pda 0)
    const got = frame(cut(bad, [off + 30, off + 31]), { verifyDigests: true });
    expect(got.length).toBe(s.pdus.length);
    got.forEach((f, i) => {
      const want = f.ddgst === undefined ? 'absent' : i === victim ? 'mismatch' : 'ok';
      expect(f.ddgstStatus, `PDU ${i}`).toBe(want);
      expect(f.hdgstStatus, `PDU ${i}`).toBe(f.hdgst === undefined ? 'absent' : 'ok');
    });
  });

  it('detects and reports a header digest error', () => {
    const wire = emitPduBuffer({ type: PduType.R2T, cccid: 1, ttag: 2, r2to: 0, r2tl: 512 }, { hdgst: true });
    const bad = Buffer.from(wire);
    bad[12]! ^= 0x40; // r2to: still a well-formed header, wrong digest
    const [f] = frame([bad], { verifyDigests: true });
    expect(f!.hdgstStatus).toBe('mismatch');
    expect(f!.pdu).toMatchObject({ type: PduType.R2T, r2to: 0x40 });
  });

  it('throws on a malformed header after delivering the PDUs before it, then stays failed', () => {
    const good = emitPduBuffer({ type: PduType.CapsuleResp, cqe: Buffer.alloc(16, 1) });
    const garbage = Buffer.from('08001800180000000000000000000000', 'hex');
    const out: FramedPdu[] = [];
    const f = new PduFramer((p) => out.push(p));
    let first: unknown;
    try {
      f.push(Buffer.concat([good, good, garbage]));
    } catch (e) {
      first = e;
    }
    expect(first).toBeInstanceOf(WireError);
    expect((first as WireError).code).toBe('PDU_TYPE_UNKNOWN');
    expect(out.length).toBe(2);
    expect(() => f.push(good)).toThrow(first as Error);
    try {
      f.push(good);
    } catch (e) {
      expect(e).toBe(first);
    }
    expect(() => f.end()).toThrow(first as Error);
    expect(out.length).toBe(2);
    expect(f.failure).toBe(first);
  });

  it('detects a malformed header split across chunks as soon as its common header is whole', () => {
    const r2t = emitPduBuffer({ type: PduType.R2T, cccid: 1, ttag: 2, r2to: 0, r2tl: 1 });
    const bad = Buffer.from(r2t);
    bad[2] = 23; // hlen
    const f = new PduFramer(() => undefined);
    for (let i = 0; i < 7; i++) f.push(bad.subarray(i, i + 1));
    expect(() => f.push(bad.subarray(7, 8))).toThrow(WireError);
    expect(f.failure).toMatchObject({ code: 'PDU_HLEN_MISMATCH' });
  });

  it('enforces the plen cap and receiver alignment it is given', () => {
    const c2h = emitPduBuffer({ type: PduType.C2HData, cccid: 1, datao: 0, datal: 100, lastPdu: true, success: false, data: [Buffer.alloc(100)] });
    expect(() => new PduFramer(() => undefined, { maxPlen: 64 }).push(c2h)).toThrow(expect.objectContaining({ code: 'PDU_TOO_LARGE' }));
    expect(() => new PduFramer(() => undefined, { pda: 1 }).push(c2h)).not.toThrow();
    expect(() => new PduFramer(() => undefined, { pda: 3 }).push(c2h)).toThrow(expect.objectContaining({ code: 'BAD_FIELD' }));
  });

  it('reports a stream ending inside a PDU as TRUNCATED, and accepts one ending at a boundary', () => {
    const wire = emitPduBuffer({ type: PduType.CapsuleResp, cqe: Buffer.alloc(16) });
    const f = new PduFramer(() => undefined);
    f.push(wire);
    expect(f.idle).toBe(true);
    expect(() => f.end()).not.toThrow();
    const g = new PduFramer(() => undefined);
    g.push(wire.subarray(0, 30 - 10));
    expect(g.idle).toBe(false);
    expect(g.streamOffset).toBe(20);
    expect(() => g.end()).toThrow(expect.objectContaining({ code: 'TRUNCATED', detail: { field: 'plen', expected: 24, got: 20 } }));
  });

  it('fails with the error thrown by onPdu, since the rest of the chunk is lost', () => {
    const wire = emitPduBuffer({ type: PduType.CapsuleResp, cqe: Buffer.alloc(16) });
    const boom = new Error('consumer failed');
    const f = new PduFramer(() => {
      throw boom;
    });
    expect(() => f.push(Buffer.concat([wire, wire]))).toThrow(boom);
    expect(() => f.push(wire)).toThrow(boom);
  });

  it('refuses a push from inside onPdu', () => {
    const wire = emitPduBuffer({ type: PduType.CapsuleResp, cqe: Buffer.alloc(16) });
    let inner: unknown;
    const f: PduFramer = new PduFramer(() => {
      try {
        f.push(wire);
      } catch (e) {
        inner = e;
      }
    });
    f.push(wire);
    expect(inner).toBeInstanceOf(Error);
  });

  it('frames a stream emitted as head/data/tail parts without joining them', () => {
    const pdus = pduConversation(prng(11));
    const parts: Buffer[] = [];
    for (const p of pdus) {
      const e = emitPdu(p, { hdgst: true, ddgst: true });
      parts.push(e.head, ...e.data, e.tail);
    }
    const got = frame(parts.filter((b) => b.length > 0), { verifyDigests: true });
    expect(got.map((f) => normalizePdu(f.pdu))).toEqual(pdus.map(normalizePdu));
    expect(got.every((f) => f.ddgstStatus !== 'mismatch' && f.hdgstStatus !== 'mismatch')).toBe(true);
  });
});
