import { describe, expect, it } from 'vitest';
import { crc32c } from '../../src/wire/crc32c.js';
import { WireError, type WireErrorCode } from '../../src/wire/errors.js';
import {
  emitPdu,
  emitPduBuffer,
  isPduType,
  isPlausiblePduHeader,
  NVME_TCP_MAX_PLEN,
  parsePdu,
  parsePduHeader,
  pduData,
  pduHeaderLength,
  PduFlags,
  PduType,
  peekCommonHeader,
  validateCommonHeader,
  verifyDataDigest,
  verifyHeaderDigest,
  type Pdu,
  type PduEmitOptions,
} from '../../src/wire/nvme-tcp-pdu.js';
import { normalizePdu, onePduOfEachType, prng, randomBuffer } from '../support/wire/pdu-samples.js';

/** Runs `fn`, expects a WireError with `code` and returns it for detail checks. */
function wireError(fn: () => unknown, code: WireErrorCode): WireError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(WireError);
    const we = e as WireError;
    expect(we.code, we.message).toBe(code);
    expect(we.detail.field).toBeTypeOf('string');
    expect(we.detail.expected).toBeDefined();
    expect(we.detail.got).toBeDefined();
    return we;
  }
  throw new Error(`expected WireError ${code}, nothing thrown`);
}

/** Patches bytes of an emitted PDU. */
function patched(buf: Buffer, edits: Array<[offset: number, value: number]>, plen?: number): Buffer {
  const b = Buffer.from(buf);
  for (const [off, v] of edits) b[off] = v;
  if (plen !== undefined) b.writeUInt32LE(plen, 4);
  return b;
}

const DIGEST_MODES: ReadonlyArray<PduEmitOptions> = [
  {},
  { hdgst: true },
  { ddgst: true },
  { hdgst: true, ddgst: true },
];

describe('NVMe/TCP PDU header lengths', () => {
  it('has the transport hlen of every type and knows the nine type codes', () => {
    expect(pduHeaderLength(PduType.ICReq)).toBe(128);
    expect(pduHeaderLength(PduType.ICResp)).toBe(128);
    expect(pduHeaderLength(PduType.H2CTermReq)).toBe(24);
    expect(pduHeaderLength(PduType.C2HTermReq)).toBe(24);
    expect(pduHeaderLength(PduType.CapsuleCmd)).toBe(72);
    expect(pduHeaderLength(PduType.CapsuleResp)).toBe(24);
    expect(pduHeaderLength(PduType.H2CData)).toBe(24);
    expect(pduHeaderLength(PduType.C2HData)).toBe(24);
    expect(pduHeaderLength(PduType.R2T)).toBe(24);
    const known = [];
    for (let t = 0; t < 256; t++) if (isPduType(t)) known.push(t);
    expect(known).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 9]);
  });
});

describe('NVMe/TCP PDU parsing of hand-built bytes', () => {
  it('parses an R2T', () => {
    const b = Buffer.from('09001800' + '18000000' + '3412' + '0100' + '00100000' + '00200000' + '00000000', 'hex');
    const p = parsePdu(b);
    expect(p.pdu).toEqual({ type: PduType.R2T, cccid: 0x1234, ttag: 1, r2to: 0x1000, r2tl: 0x2000 });
    expect(p.hdgst).toBeUndefined();
    expect(p.ddgst).toBeUndefined();
    expect(emitPduBuffer(p.pdu).equals(b)).toBe(true);
  });

  it('parses an ICReq with both digests requested', () => {
    const b = Buffer.alloc(128);
    b.set([0x00, 0x00, 0x80, 0x00, 0x80, 0, 0, 0, 0x00, 0x00, 0x02, 0x03, 0x07, 0, 0, 0]);
    const p = parsePdu(b);
    expect(p.pdu).toEqual({ type: PduType.ICReq, pfv: 0, hpda: 2, hdgstEnable: true, ddgstEnable: true, maxr2t: 7 });
    expect(emitPduBuffer(p.pdu, { hdgst: true, ddgst: true }).equals(b)).toBe(true);
  });

  it('reads FEI as four bytes at offset 10 of a TermReq and the echoed header after byte 24', () => {
    const echoed = Buffer.from('0700ff00', 'hex');
    const b = Buffer.alloc(24 + echoed.length);
    b.set([0x03, 0x00, 24, 0x00, b.length, 0, 0, 0, 0x01, 0x00, 0x02, 0x00, 0x00, 0x80]);
    echoed.copy(b, 24);
    const p = parsePdu(b);
    expect(p.pdu.type).toBe(PduType.C2HTermReq);
    if (p.pdu.type !== PduType.C2HTermReq) return;
    expect(p.pdu.fes).toBe(1);
    expect(p.pdu.fei).toBe(0x8000_0002);
    expect(Buffer.concat(p.pdu.data).equals(echoed)).toBe(true);
    expect(p.layout.pdo).toBe(0);
    expect(emitPduBuffer(p.pdu).equals(b)).toBe(true);
  });

  it('parses a C2HData with HDGST, DDGST, LAST_PDU and SUCCESS', () => {
    const data = Buffer.from('hello');
    const b = Buffer.alloc(24 + 4 + 5 + 4);
    b.set([0x07, 0x0f, 24, 28]);
    b.writeUInt32LE(b.length, 4);
    b.writeUInt16LE(42, 8);
    b.writeUInt32LE(4096, 12);
    b.writeUInt32LE(5, 16);
    b.writeUInt32LE(crc32c(b.subarray(0, 24)), 24);
    data.copy(b, 28);
    b.writeUInt32LE(crc32c(data), 33);
    const p = parsePdu(b);
    expect(normalizePdu(p.pdu)).toEqual({
      type: PduType.C2HData,
      cccid: 42,
      datao: 4096,
      datal: 5,
      lastPdu: true,
      success: true,
      data: data.toString('hex'),
    });
    expect(p.layout).toMatchObject({ hlen: 24, hdgstLen: 4, headLen: 28, pdo: 28, dataOffset: 28, dataLength: 5, ddgstLen: 4, plen: 37 });
    expect(verifyHeaderDigest(p)).toBe('ok');
    expect(verifyDataDigest(p)).toBe('ok');
    expect(emitPduBuffer(p.pdu, { hdgst: true, ddgst: true }).equals(b)).toBe(true);
  });
});

describe('NVMe/TCP PDU emit → parse → emit', () => {
  for (const pda of [0, 2, 31]) {
    for (const opts of DIGEST_MODES) {
      it(`round-trips all nine types byte-identically (pda ${pda}, hdgst ${!!opts.hdgst}, ddgst ${!!opts.ddgst})`, () => {
        const o: PduEmitOptions = { ...opts, pda };
        for (const pdu of onePduOfEachType(prng(pda * 10 + DIGEST_MODES.indexOf(opts)))) {
          const wire = emitPduBuffer(pdu, o);
          const p = parsePdu(wire, { pda });
          const what = `type ${pdu.type}`;
          expect(normalizePdu(p.pdu), what).toEqual(normalizePdu(pdu));
          expect(emitPduBuffer(p.pdu, o).equals(wire), what).toBe(true);
          expect(p.layout.plen, what).toBe(wire.length);

          const digestable = pdu.type >= PduType.CapsuleCmd;
          const hasData = pduData(pdu).length > 0 && pdu.type >= PduType.CapsuleCmd;
          expect(p.hdgst !== undefined, what).toBe(!!opts.hdgst && digestable);
          expect(p.ddgst !== undefined, what).toBe(!!opts.ddgst && hasData);
          expect(verifyHeaderDigest(p), what).toBe(p.hdgst === undefined ? 'absent' : 'ok');
          expect(verifyDataDigest(p), what).toBe(p.ddgst === undefined ? 'absent' : 'ok');
          if (hasData) {
            const align = (pda + 1) * 4;
            expect(p.layout.pdo % align, what).toBe(0);
            expect(p.layout.pdo, what).toBeGreaterThanOrEqual(p.layout.headLen);
            expect(p.layout.pdo - p.layout.headLen, what).toBeLessThan(align);
            expect(wire.subarray(p.layout.headLen, p.layout.pdo).every((x) => x === 0), what).toBe(true);
          }
        }
      });
    }
  }

  it('places in-capsule data at 80 for CPDA 3 with a header digest (72 + 4 rounded to 16)', () => {
    const pdu: Pdu = { type: PduType.CapsuleCmd, sqe: Buffer.alloc(64, 1), data: [Buffer.from('abc')] };
    const e = emitPdu(pdu, { hdgst: true, ddgst: true, pda: 3 });
    expect(e.head.length).toBe(80);
    expect(e.head[3]).toBe(80);
    expect(e.head[1]).toBe(PduFlags.HDGSTF | PduFlags.DDGSTF);
    expect(e.plen).toBe(80 + 3 + 4);
    expect(e.tail.readUInt32LE(0)).toBe(crc32c(Buffer.from('abc')));
  });

  it('puts no data digest and PDO 0 on PDUs without data, even when digests are negotiated', () => {
    const cmd = emitPduBuffer({ type: PduType.CapsuleCmd, sqe: Buffer.alloc(64), data: [] }, { hdgst: true, ddgst: true, pda: 5 });
    expect(cmd.length).toBe(76);
    expect(cmd[1]).toBe(PduFlags.HDGSTF);
    expect(cmd[3]).toBe(0);
    const ic = emitPduBuffer({ type: PduType.ICResp, pfv: 0, cpda: 0, hdgstEnable: true, ddgstEnable: true, maxh2cdata: 8192 }, { hdgst: true, ddgst: true });
    expect(ic.length).toBe(128);
    expect(ic[1]).toBe(0);
  });

  it('emits a 1 MiB C2HData without copying its data', () => {
    const big = Buffer.alloc(1 << 20, 0x5a);
    const pdu: Pdu = { type: PduType.C2HData, cccid: 1, datao: 0, datal: big.length, lastPdu: true, success: false, data: [big] };
    const e = emitPdu(pdu, { hdgst: true, ddgst: true });
    expect(e.data[0]).toBe(big);
    expect(e.head.length).toBe(28);
    expect(e.tail.readUInt32LE(0)).toBe(crc32c(big));
    expect(e.plen).toBe(28 + big.length + 4);
  });

  it('parses data as a view into the input buffer', () => {
    const wire = emitPduBuffer({ type: PduType.H2CData, cccid: 1, ttag: 2, datao: 0, datal: 300, lastPdu: false, data: [Buffer.alloc(300, 7)] });
    const p = parsePdu(wire);
    const frag = pduData(p.pdu)[0]!;
    expect(frag.buffer).toBe(wire.buffer);
    expect(frag.byteOffset).toBe(wire.byteOffset + 24);
    frag[0] = 9;
    expect(wire[24]).toBe(9);
  });

  it('ignores bytes past plen', () => {
    const one = emitPduBuffer({ type: PduType.CapsuleResp, cqe: Buffer.alloc(16, 3) });
    const p = parsePdu(Buffer.concat([one, Buffer.from('garbage')]));
    expect(p.layout.plen).toBe(24);
    expect(p.pdu.type).toBe(PduType.CapsuleResp);
  });

  it('parses a header without its data', () => {
    const wire = emitPduBuffer(
      { type: PduType.C2HData, cccid: 5, datao: 512, datal: 1000, lastPdu: true, success: false, data: [Buffer.alloc(1000)] },
      { hdgst: true, pda: 7 },
    );
    const h = parsePduHeader(wire.subarray(0, 28));
    expect(h.header).toEqual({ type: PduType.C2HData, cccid: 5, datao: 512, datal: 1000, lastPdu: true, success: false });
    expect(h.layout).toMatchObject({ dataOffset: 32, dataLength: 1000, plen: 1032 });
    expect(verifyHeaderDigest(h)).toBe('ok');
    wireError(() => parsePduHeader(wire.subarray(0, 27)), 'TRUNCATED');
  });
});

describe('NVMe/TCP PDU digests', () => {
  it('reports a corrupted header or data as a digest mismatch', () => {
    const wire = emitPduBuffer(
      { type: PduType.H2CData, cccid: 1, ttag: 2, datao: 0, datal: 64, lastPdu: true, data: [randomBuffer(prng(1), 64)] },
      { hdgst: true, ddgst: true },
    );
    const badHead = patched(wire, [[8, wire[8]! ^ 1]]);
    expect(verifyHeaderDigest(parsePdu(badHead))).toBe('mismatch');
    expect(verifyDataDigest(parsePdu(badHead))).toBe('ok');
    const badData = patched(wire, [[40, wire[40]! ^ 0x80]]);
    expect(verifyHeaderDigest(parsePdu(badData))).toBe('ok');
    expect(verifyDataDigest(parsePdu(badData))).toBe('mismatch');
  });
});

describe('NVMe/TCP PDU validation', () => {
  const r2t = emitPduBuffer({ type: PduType.R2T, cccid: 1, ttag: 1, r2to: 0, r2tl: 4096 });
  const c2h = emitPduBuffer({ type: PduType.C2HData, cccid: 1, datao: 0, datal: 16, lastPdu: false, success: false, data: [Buffer.alloc(16, 1)] });
  const c2hDigests = emitPduBuffer(
    { type: PduType.C2HData, cccid: 1, datao: 0, datal: 16, lastPdu: false, success: false, data: [Buffer.alloc(16, 1)] },
    { hdgst: true, ddgst: true },
  );

  it('rejects an unknown type', () => {
    for (const t of [0x08, 0x0a, 0xff]) {
      const e = wireError(() => parsePdu(patched(r2t, [[0, t]])), 'PDU_TYPE_UNKNOWN');
      expect(e.detail).toMatchObject({ field: 'type', got: t });
    }
  });

  it('rejects an hlen that does not match the type', () => {
    const e = wireError(() => parsePdu(patched(r2t, [[2, 28]])), 'PDU_HLEN_MISMATCH');
    expect(e.detail).toEqual({ field: 'hlen', expected: 24, got: 28 });
    wireError(() => parsePdu(patched(c2h, [[0, PduType.CapsuleCmd]])), 'PDU_HLEN_MISMATCH');
  });

  it('rejects plen smaller than hlen', () => {
    const e = wireError(() => parsePdu(patched(r2t, [], 20)), 'PDU_PLEN_LT_HLEN');
    expect(e.detail).toMatchObject({ field: 'plen', got: 20 });
  });

  it('rejects a PDO pointing inside the header or its digest', () => {
    const e = wireError(() => parsePdu(patched(c2h, [[3, 20]])), 'PDU_PDO_IN_HEADER');
    expect(e.detail).toMatchObject({ field: 'pdo', got: 20 });
    // With HDGST the header ends at 28: PDO 24 would overlap the digest.
    wireError(() => parsePdu(patched(c2hDigests, [[3, 24]])), 'PDU_PDO_IN_HEADER');
  });

  it('rejects datal inconsistent with plen, pdo and digests', () => {
    const bad = Buffer.from(c2h);
    bad.writeUInt32LE(15, 16);
    const e = wireError(() => parsePdu(bad), 'PDU_LEN_INCONSISTENT');
    expect(e.detail).toEqual({ field: 'datal', expected: 16, got: 15 });
    // Dropping DDGSTF makes the digest count as data: 20 bytes, datal says 16.
    wireError(() => parsePdu(patched(c2hDigests, [[1, PduFlags.HDGSTF]])), 'PDU_LEN_INCONSISTENT');
    // PDO set but no byte of data left before the digest.
    wireError(() => parsePdu(patched(c2hDigests, [], 32)), 'PDU_LEN_INCONSISTENT');
    // R2T and CapsuleResp carry no data: plen must end at the header (+HDGST).
    wireError(() => parsePdu(Buffer.concat([patched(r2t, [], 28), Buffer.alloc(4)])), 'PDU_LEN_INCONSISTENT');
    // PDO 0 means no data: plen must end at the header.
    wireError(() => parsePdu(patched(c2h, [[3, 0]])), 'PDU_LEN_INCONSISTENT');
  });

  it('rejects plen above the cap, and TermReq plen above 152', () => {
    const e = wireError(() => parsePdu(patched(c2h, [], 0xffff_ffff)), 'PDU_TOO_LARGE');
    expect(e.detail).toMatchObject({ field: 'plen', got: 0xffff_ffff });
    wireError(() => parsePdu(patched(c2h, [], NVME_TCP_MAX_PLEN + 1)), 'PDU_TOO_LARGE');
    wireError(() => parsePdu(c2h, { maxPlen: 32 }), 'PDU_TOO_LARGE');
    const term = emitPduBuffer({ type: PduType.H2CTermReq, fes: 1, fei: 0, data: [Buffer.alloc(128)] });
    expect(parsePdu(term).layout.plen).toBe(152);
    wireError(() => parsePdu(patched(Buffer.concat([term, Buffer.alloc(1)]), [], 153)), 'PDU_TOO_LARGE');
  });

  it('rejects truncated input', () => {
    const e = wireError(() => parsePdu(c2h.subarray(0, 7)), 'TRUNCATED');
    expect(e.detail).toMatchObject({ expected: 8, got: 7 });
    const e2 = wireError(() => parsePdu(c2h.subarray(0, c2h.length - 1)), 'TRUNCATED');
    expect(e2.detail).toEqual({ field: 'plen', expected: c2h.length, got: c2h.length - 1 });
  });

  it('rejects flags the type does not allow', () => {
    wireError(() => parsePdu(patched(r2t, [[1, PduFlags.LAST_PDU]])), 'BAD_FIELD');
    wireError(() => parsePdu(patched(r2t, [[1, PduFlags.DDGSTF]])), 'BAD_FIELD');
    const ic = emitPduBuffer({ type: PduType.ICReq, pfv: 0, hpda: 0, hdgstEnable: false, ddgstEnable: false, maxr2t: 0 });
    wireError(() => parsePdu(patched(ic, [[1, PduFlags.HDGSTF]])), 'BAD_FIELD');
    wireError(() => parsePdu(patched(c2h, [[1, 0x10]])), 'BAD_FIELD');
    const e = wireError(() => parsePdu(patched(c2h, [[1, PduFlags.SUCCESS]])), 'BAD_FIELD');
    expect(e.detail.field).toBe('flags');
    // DDGSTF on a PDU without data.
    const resp = emitPduBuffer({ type: PduType.CapsuleCmd, sqe: Buffer.alloc(64), data: [] });
    wireError(() => parsePdu(patched(resp, [[1, PduFlags.DDGSTF]], 76)), 'BAD_FIELD');
  });

  it('rejects a PDO on a type without data and a PDO off the receiver alignment', () => {
    const e = wireError(() => parsePdu(patched(r2t, [[3, 24]])), 'BAD_FIELD');
    expect(e.detail).toEqual({ field: 'pdo', expected: 0, got: 24 });
    const aligned = emitPduBuffer(
      { type: PduType.H2CData, cccid: 0, ttag: 0, datao: 0, datal: 8, lastPdu: true, data: [Buffer.alloc(8)] },
      { pda: 1 },
    );
    expect(parsePdu(aligned, { pda: 1 }).layout.pdo).toBe(24);
    const e2 = wireError(() => parsePdu(aligned, { pda: 3 }), 'BAD_FIELD');
    expect(e2.detail).toEqual({ field: 'pdo', expected: 'multiple of 16', got: 24 });
  });

  it('rejects HPDA/CPDA above 31', () => {
    const ic = emitPduBuffer({ type: PduType.ICResp, pfv: 0, cpda: 31, hdgstEnable: false, ddgstEnable: false, maxh2cdata: 4096 });
    expect(parsePdu(ic).pdu).toMatchObject({ cpda: 31 });
    const e = wireError(() => parsePdu(patched(ic, [[10, 32]])), 'BAD_FIELD');
    expect(e.detail).toEqual({ field: 'cpda', expected: '<= 31', got: 32 });
  });

  it('refuses to emit inconsistent or out-of-range reprs', () => {
    wireError(
      () => emitPdu({ type: PduType.C2HData, cccid: 1, datao: 0, datal: 10, lastPdu: true, success: false, data: [Buffer.alloc(9)] }),
      'PDU_LEN_INCONSISTENT',
    );
    wireError(() => emitPdu({ type: PduType.CapsuleCmd, sqe: Buffer.alloc(63), data: [] }), 'BAD_FIELD');
    wireError(() => emitPdu({ type: PduType.CapsuleResp, cqe: Buffer.alloc(17) }), 'BAD_FIELD');
    wireError(() => emitPdu({ type: PduType.R2T, cccid: 0x1_0000, ttag: 0, r2to: 0, r2tl: 1 }), 'BAD_FIELD');
    wireError(() => emitPdu({ type: PduType.R2T, cccid: 1, ttag: 0, r2to: -1, r2tl: 1 }), 'BAD_FIELD');
    wireError(() => emitPdu({ type: PduType.R2T, cccid: 1, ttag: 0, r2to: 0, r2tl: 1 }, { pda: 32 }), 'BAD_FIELD');
    wireError(() => emitPdu({ type: PduType.ICReq, pfv: 0, hpda: 40, hdgstEnable: false, ddgstEnable: false, maxr2t: 0 }), 'BAD_FIELD');
    wireError(() => emitPdu({ type: PduType.C2HTermReq, fes: 1, fei: 0, data: [Buffer.alloc(129)] }), 'PDU_TOO_LARGE');
  });
});

describe('NVMe/TCP common header checks for resync', () => {
  it('finds a plausible header exactly at each PDU start of a stream', () => {
    const rand = prng(7);
    const wires = onePduOfEachType(rand).map((p) => emitPduBuffer(p, { hdgst: true, ddgst: true }));
    const stream = Buffer.concat(wires);
    const starts = new Set<number>();
    let off = 0;
    for (const w of wires) {
      starts.add(off);
      off += w.length;
    }
    for (const s of starts) {
      expect(isPlausiblePduHeader(stream, s), `offset ${s}`).toBe(true);
      const layout = validateCommonHeader(peekCommonHeader(stream, s));
      expect(isPduType(layout.type)).toBe(true);
    }
    let falsePositives = 0;
    for (let i = 0; i < stream.length; i++) if (!starts.has(i) && isPlausiblePduHeader(stream, i)) falsePositives++;
    // Random payload bytes rarely look like a header: known type, exact hlen, sane flags/pdo/plen.
    expect(falsePositives).toBeLessThan(3);
    expect(isPlausiblePduHeader(stream, stream.length - 7)).toBe(false);
    expect(isPlausiblePduHeader(Buffer.alloc(64), 0)).toBe(false);
  });

  it('peeks the raw common header without validating it', () => {
    const ch = peekCommonHeader(Buffer.from('0aff7f0101020304', 'hex'));
    expect(ch).toEqual({ type: 0x0a, flags: 0xff, hlen: 0x7f, pdo: 1, plen: 0x04030201 });
    wireError(() => peekCommonHeader(Buffer.alloc(12), 5), 'TRUNCATED');
  });
});
