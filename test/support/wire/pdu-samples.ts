/**
 * Test-only PDU builders shared by the PDU codec and framer tests: one or
 * more PDUs of every type, with data of awkward lengths, from a seeded PRNG.
 */
import { PduType, pduData, type Pdu } from '../../../src/wire/nvme-tcp-pdu.js';
import { mulberry32 } from '../../../src/base/seeded-rng.js';

/** mulberry32: small seeded PRNG, deterministic across runs. */
export const prng = mulberry32;

export function randomBuffer(rand: () => number, len: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

/** One PDU of each of the nine types (data PDUs with data). */
export function onePduOfEachType(rand: () => number): Pdu[] {
  const sqe = randomBuffer(rand, 64);
  const cqe = randomBuffer(rand, 16);
  const d1 = randomBuffer(rand, 513);
  const d2 = randomBuffer(rand, 4096);
  return [
    { type: PduType.ICReq, pfv: 0, hpda: 3, hdgstEnable: true, ddgstEnable: false, maxr2t: 0 },
    { type: PduType.ICResp, pfv: 0, cpda: 31, hdgstEnable: false, ddgstEnable: true, maxh2cdata: 0x40_0000 },
    { type: PduType.H2CTermReq, fes: 1, fei: 3, data: [randomBuffer(rand, 24)] },
    { type: PduType.C2HTermReq, fes: 3, fei: 0xa1b2c3d4, data: [randomBuffer(rand, 128)] },
    { type: PduType.CapsuleCmd, sqe, data: [d1.subarray(0, 100), d1.subarray(100)] },
    { type: PduType.CapsuleResp, cqe },
    { type: PduType.H2CData, cccid: 0x1234, ttag: 0xbeef, datao: 8192, datal: 513, lastPdu: true, data: [d1] },
    { type: PduType.C2HData, cccid: 7, datao: 0, datal: 4096, lastPdu: true, success: true, data: [d2] },
    { type: PduType.R2T, cccid: 0xffff, ttag: 1, r2to: 0x1000, r2tl: 0x10_0000 },
  ];
}

/** A connection's worth of PDUs in a plausible order, all nine types, varied data sizes. */
export function pduConversation(rand: () => number): Pdu[] {
  const pdus: Pdu[] = [
    { type: PduType.ICReq, pfv: 0, hpda: 0, hdgstEnable: true, ddgstEnable: true, maxr2t: 3 },
    { type: PduType.ICResp, pfv: 0, cpda: 0, hdgstEnable: true, ddgstEnable: true, maxh2cdata: 0x2000 },
  ];
  for (let cid = 0; cid < 6; cid++) {
    const write = cid % 2 === 1;
    const icd = write && cid === 3 ? randomBuffer(rand, 1 + Math.floor(rand() * 300)) : undefined;
    pdus.push({ type: PduType.CapsuleCmd, sqe: randomBuffer(rand, 64), data: icd ? [icd] : [] });
    if (write && icd === undefined) {
      const len = 1 + Math.floor(rand() * 700);
      pdus.push({ type: PduType.R2T, cccid: cid, ttag: cid + 100, r2to: 0, r2tl: len });
      pdus.push({ type: PduType.H2CData, cccid: cid, ttag: cid + 100, datao: 0, datal: len, lastPdu: true, data: [randomBuffer(rand, len)] });
    }
    if (!write) {
      // A read answered in 1..3 C2HData PDUs, the last one sometimes with SUCCESS.
      const n = 1 + (cid % 3);
      let datao = 0;
      for (let i = 0; i < n; i++) {
        const len = i === 0 && cid === 0 ? 1 : 1 + Math.floor(rand() * 900);
        const last = i === n - 1;
        pdus.push({ type: PduType.C2HData, cccid: cid, datao, datal: len, lastPdu: last, success: last && cid === 2, data: [randomBuffer(rand, len)] });
        datao += len;
      }
      if (cid === 2) continue;
    }
    pdus.push({ type: PduType.CapsuleResp, cqe: randomBuffer(rand, 16) });
  }
  pdus.push({ type: PduType.H2CData, cccid: 9, ttag: 9, datao: 0, datal: 0, lastPdu: false, data: [] });
  pdus.push({ type: PduType.C2HTermReq, fes: 2, fei: 0, data: [randomBuffer(rand, 72)] });
  pdus.push({ type: PduType.H2CTermReq, fes: 6, fei: 0, data: [] });
  return pdus;
}

/** A comparable form of a PDU: data fragments joined, byte fields as hex. */
export function normalizePdu(pdu: Pdu): Record<string, unknown> {
  const out: Record<string, unknown> = { ...pdu };
  if ('data' in pdu) out['data'] = Buffer.concat(pduData(pdu)).toString('hex');
  if ('sqe' in pdu) out['sqe'] = pdu.sqe.toString('hex');
  if ('cqe' in pdu) out['cqe'] = pdu.cqe.toString('hex');
  return out;
}
