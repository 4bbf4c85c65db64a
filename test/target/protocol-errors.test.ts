/**
 * Every protocol error a host can commit gets a C2HTermReq with the right
 * Fatal Error Status (and FEI for invalid header fields), then the
 * connection closes — while another association on the same target keeps
 * reading correct data.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { findPatternMismatch } from '../../src/wire/block-pattern.js';
import { buildReadWrite } from '../../src/wire/nvme-io.js';
import { sglInCapsule, sglTransportData } from '../../src/wire/nvme-sqe.js';
import { emitPduBuffer, PduType, TermReqFes, type R2TPdu } from '../../src/wire/nvme-tcp-pdu.js';
import { startTarget, type Target } from '../../src/target/listener.js';
import { Prng } from '../../src/target/scheduler.js';
import { associate, closeAssociation, TestQueue, type Association, type IcOptions } from '../support/target/pdu-client.js';

const MIB = 1024 * 1024;
const LBA = 512;
const SEED = 99;
const MAXH2CDATA = 8192;

describe('protocol errors', () => {
  let target: Target;
  let survivor: Association;
  let nextQid = 2;
  const logLines: string[] = [];

  beforeAll(async () => {
    target = await startTarget(
      { host: '127.0.0.1', port: 0, sizeBytes: 16 * MIB, seed: SEED, maxH2CDataBytes: MAXH2CDATA },
      { log: (l) => logLines.push(l) },
    );
    survivor = await associate(target.port);
  });
  afterAll(async () => {
    closeAssociation(survivor);
    await target.close();
  });
  afterEach(async () => {
    // The other association is unaffected: a read still returns the pattern.
    const r = await survivor.io[0]!.read(nextQid * 16, 63, LBA);
    expect(r.status).toBe(0);
    expect(findPatternMismatch(SEED, nextQid * 16 * LBA, r.data!)).toBe(-1);
  });

  /** A connected I/O queue on the survivor's controller. */
  async function freshIo(ic: IcOptions = {}): Promise<TestQueue> {
    const q = await TestQueue.open(target.port);
    await q.icReq(ic);
    const c = await q.connectQueue({ qid: nextQid++, cntlid: survivor.cntlid });
    expect(c.status).toBe(0);
    return q;
  }

  async function expectTermReq(q: TestQueue, fes: number, fei?: number): Promise<void> {
    await q.closed;
    expect(q.termReqs).toHaveLength(1);
    expect(q.termReqs[0]!.fes).toBe(fes);
    if (fei !== undefined) expect(q.termReqs[0]!.fei).toBe(fei);
  }

  function readCapsule(q: TestQueue, cid: number, blocks = 8): Buffer {
    const sqe = buildReadWrite({ kind: 'read', cid, nsid: 1, slba: 0, nlb: blocks - 1, dptr: sglTransportData(blocks * LBA) });
    return emitPduBuffer({ type: PduType.CapsuleCmd, sqe, data: [] }, q.emitOptions());
  }

  /** Sends a Write that needs R2T and returns the R2T the target answers with. */
  async function writeAwaitingR2T(q: TestQueue, cid: number, len: number): Promise<R2TPdu> {
    const sqe = buildReadWrite({ kind: 'write', cid, nsid: 1, slba: 64, nlb: len / LBA - 1, dptr: sglTransportData(len) });
    const next = q.nextPdu();
    q.send({ type: PduType.CapsuleCmd, sqe, data: [] });
    const f = await next;
    if (f.pdu.type !== PduType.R2T) throw new Error(`expected R2T, got ${f.pdu.type}`);
    return f.pdu;
  }

  it('unknown PDU type → FES 1, FEI 0 (type)', async () => {
    const q = await freshIo();
    const bad = readCapsule(q, 1);
    bad[0] = 0x08;
    q.sendRaw(bad);
    await expectTermReq(q, TermReqFes.InvalidHeaderField, 0);
    // The TermReq echoes the offending header.
    expect(q.termReqs[0]!.echo[0]).toBe(0x08);
  });

  it('a controller-to-host PDU type from the host → FES 1, FEI 0', async () => {
    const q = await freshIo();
    q.send({ type: PduType.R2T, cccid: 1, ttag: 0, r2to: 0, r2tl: 512 });
    await expectTermReq(q, TermReqFes.InvalidHeaderField, 0);
  });

  it('HLEN mismatch → FES 1, FEI 2 (hlen)', async () => {
    const q = await freshIo();
    const bad = readCapsule(q, 1);
    bad[2] = 71;
    q.sendRaw(bad);
    await expectTermReq(q, TermReqFes.InvalidHeaderField, 2);
  });

  it('PLEN smaller than HLEN → FES 1, FEI 4 (plen)', async () => {
    const q = await freshIo();
    const bad = readCapsule(q, 1);
    bad.writeUInt32LE(16, 4);
    q.sendRaw(bad);
    await expectTermReq(q, TermReqFes.InvalidHeaderField, 4);
  });

  it('PDO inside the header → FES 1, FEI 3 (pdo)', async () => {
    const q = await freshIo();
    const sqe = buildReadWrite({ kind: 'write', cid: 1, nsid: 1, slba: 0, nlb: 0, dptr: sglInCapsule(512) });
    const bad = emitPduBuffer({ type: PduType.CapsuleCmd, sqe, data: [Buffer.alloc(512)] }, q.emitOptions());
    bad[3] = 40;
    q.sendRaw(bad);
    await expectTermReq(q, TermReqFes.InvalidHeaderField, 3);
  });

  it('HDGSTF on a queue that did not negotiate it → FES 1, FEI 1 (flags)', async () => {
    const q = await freshIo();
    q.sendRaw(emitPduBuffer({ type: PduType.CapsuleCmd, sqe: readCapsule(q, 1).subarray(8, 72), data: [] }, { hdgst: true }));
    await expectTermReq(q, TermReqFes.InvalidHeaderField, 1);
  });

  it('header digest error → FES 3', async () => {
    const q = await freshIo({ hdgst: true });
    const bad = readCapsule(q, 1);
    bad[72] = (bad[72] as number) ^ 0x5a; // first HDGST byte
    q.sendRaw(bad);
    await expectTermReq(q, TermReqFes.HeaderDigestError);
    expect(target.stats.queues.some((s) => s.headerDigestErrors === 1)).toBe(true);
  });

  it('a second ICReq → FES 2 (PDU sequence error)', async () => {
    const q = await freshIo();
    q.send({ type: PduType.ICReq, pfv: 0, hpda: 0, hdgstEnable: false, ddgstEnable: false, maxr2t: 0 });
    await expectTermReq(q, TermReqFes.PduSequenceError);
  });

  it('a CapsuleCmd before ICReq → FES 2', async () => {
    const q = await TestQueue.open(target.port);
    q.sendRaw(readCapsule(q, 1));
    await expectTermReq(q, TermReqFes.PduSequenceError);
  });

  it('ICReq with PFV 1 → FES 6 (unsupported parameter), FEI 8 (pfv)', async () => {
    const q = await TestQueue.open(target.port);
    q.send({ type: PduType.ICReq, pfv: 1, hpda: 0, hdgstEnable: false, ddgstEnable: false, maxr2t: 0 });
    await expectTermReq(q, TermReqFes.UnsupportedParameter, 8);
  });

  it('in-capsule data past the command length → FES 4', async () => {
    const q = await freshIo();
    const sqe = buildReadWrite({ kind: 'write', cid: 1, nsid: 1, slba: 0, nlb: 0, dptr: sglInCapsule(512) });
    q.send({ type: PduType.CapsuleCmd, sqe, data: [Buffer.alloc(1024)] });
    await expectTermReq(q, TermReqFes.DataOutOfRange);
  });

  it('a PLEN beyond any transfer the target accepts → FES 5', async () => {
    const q = await freshIo();
    const bad = readCapsule(q, 1);
    bad[3] = 72; // pdo: claims in-capsule data
    bad.writeUInt32LE(0x4000_0000, 4);
    q.sendRaw(bad);
    await expectTermReq(q, TermReqFes.DataLimitExceeded);
  });

  it('H2CData with an unknown TTAG → FES 1, FEI 10 (ttag)', async () => {
    const q = await freshIo();
    const r2t = await writeAwaitingR2T(q, 7, 4096);
    q.send({ type: PduType.H2CData, cccid: 7, ttag: (r2t.ttag + 100) & 0xffff, datao: 0, datal: 512, lastPdu: false, data: [Buffer.alloc(512)] });
    await expectTermReq(q, TermReqFes.InvalidHeaderField, 10);
  });

  it('H2CData whose CCCID does not own the TTAG → FES 1, FEI 8 (cccid)', async () => {
    const q = await freshIo();
    const r2t = await writeAwaitingR2T(q, 7, 4096);
    q.send({ type: PduType.H2CData, cccid: 8, ttag: r2t.ttag, datao: 0, datal: 512, lastPdu: false, data: [Buffer.alloc(512)] });
    await expectTermReq(q, TermReqFes.InvalidHeaderField, 8);
  });

  it('H2CData past the R2T (data past the command length) → FES 4', async () => {
    const q = await freshIo();
    const r2t = await writeAwaitingR2T(q, 7, 4096);
    expect(r2t.r2tl).toBe(4096);
    q.send({ type: PduType.H2CData, cccid: 7, ttag: r2t.ttag, datao: 0, datal: 8192, lastPdu: true, data: [Buffer.alloc(8192)] });
    await expectTermReq(q, TermReqFes.DataOutOfRange);
  });

  it('H2CData above MAXH2CDATA → FES 5', async () => {
    const q = await freshIo();
    const r2t = await writeAwaitingR2T(q, 7, 4 * MAXH2CDATA);
    expect(r2t.r2tl).toBe(MAXH2CDATA); // R2T size is min(remaining, MAXH2CDATA)
    q.send({ type: PduType.H2CData, cccid: 7, ttag: r2t.ttag, datao: 0, datal: 2 * MAXH2CDATA, lastPdu: true, data: [Buffer.alloc(2 * MAXH2CDATA)] });
    await expectTermReq(q, TermReqFes.DataLimitExceeded);
  });

  it('H2CData out of order within its R2T → FES 1, FEI 12 (datao)', async () => {
    const q = await freshIo();
    const r2t = await writeAwaitingR2T(q, 7, 4096);
    q.send({ type: PduType.H2CData, cccid: 7, ttag: r2t.ttag, datao: 512, datal: 512, lastPdu: false, data: [Buffer.alloc(512)] });
    await expectTermReq(q, TermReqFes.InvalidHeaderField, 12);
  });

  it('a CID reused while outstanding → FES 1, FEI 10 (CapsuleCmd CID)', async () => {
    const q = await freshIo();
    q.sendRaw(Buffer.concat([readCapsule(q, 5), readCapsule(q, 5)]));
    await expectTermReq(q, TermReqFes.InvalidHeaderField, 10);
  });

  it('keeps MAXR2T+1 R2Ts outstanding per command, as the host asked', async () => {
    const q = await TestQueue.open(target.port);
    await q.icReq({ maxr2t: 2 });
    expect((await q.connectQueue({ qid: nextQid++, cntlid: survivor.cntlid })).status).toBe(0);
    const data = Buffer.alloc(6 * MAXH2CDATA, 0x3c);
    const before = q.arrivals.length;
    const w = await q.write(128, data, LBA, false);
    expect(w.status).toBe(0);
    const r2ts = q.arrivals.slice(before).filter((x) => x.type === PduType.R2T);
    expect(r2ts).toHaveLength(6);
    expect(r2ts.map((x) => x.datao)).toEqual([0, 1, 2, 3, 4, 5].map((i) => i * MAXH2CDATA));
    expect((await q.read(128, data.length / LBA - 1, LBA)).data!.equals(data)).toBe(true);
    q.close();
  });

  it('never has more than MAXR2T+1 R2Ts of a command outstanding', async () => {
    const q = await TestQueue.open(target.port);
    await q.icReq({ maxr2t: 2 });
    expect((await q.connectQueue({ qid: nextQid++, cntlid: survivor.cntlid })).status).toBe(0);
    const sqe = buildReadWrite({ kind: 'write', cid: 9, nsid: 1, slba: 0, nlb: (8 * MAXH2CDATA) / LBA - 1, dptr: sglTransportData(8 * MAXH2CDATA) });
    const first = [q.nextPdu(), q.nextPdu(), q.nextPdu()];
    q.send({ type: PduType.CapsuleCmd, sqe, data: [] });
    const r2ts = (await Promise.all(first)).map((f) => f.pdu as R2TPdu);
    expect(r2ts.map((r) => r.r2to)).toEqual([0, MAXH2CDATA, 2 * MAXH2CDATA]);
    expect(new Set(r2ts.map((r) => r.ttag)).size).toBe(3);
    // A read's completion on the same queue arrives after anything the
    // target sent before it: no fourth R2T may precede it.
    const before = q.arrivals.length;
    expect((await q.read(0, 7, LBA)).status).toBe(0);
    expect(q.arrivals.slice(before).some((x) => x.type === PduType.R2T)).toBe(false);
    // Answering the first R2T releases exactly one more.
    const fourth = q.nextPdu();
    q.send({ type: PduType.H2CData, cccid: 9, ttag: r2ts[0]!.ttag, datao: 0, datal: MAXH2CDATA, lastPdu: true, data: [Buffer.alloc(MAXH2CDATA)] });
    expect(((await fourth).pdu as R2TPdu).r2to).toBe(3 * MAXH2CDATA);
    q.close();
  });

  it('survives seeded garbage PDUs on many connections without an internal error', async () => {
    const fuzzSeed = 2026;
    const rng = new Prng(fuzzSeed);
    for (let i = 0; i < 40; i++) {
      const q = i % 2 === 0 ? await freshIo({ hdgst: (i & 4) !== 0, ddgst: (i & 8) !== 0 }) : await TestQueue.open(target.port);
      const pdus: Buffer[] = [];
      for (let k = 0; k < 4; k++) {
        const hlen = [8, 24, 72, 128, rng.below(256)][rng.below(5)]!;
        const len = 8 + rng.below(300);
        const b = Buffer.alloc(len);
        for (let j = 0; j < len; j++) b[j] = rng.below(256);
        b[0] = rng.below(11);
        b[1] = rng.below(16);
        b[2] = hlen;
        b[3] = rng.below(2) === 0 ? 0 : hlen + 4 * rng.below(8);
        if (len >= 8) b.writeUInt32LE(rng.below(2) === 0 ? len : rng.below(1 << 20), 4);
        pdus.push(b);
      }
      q.sendRaw(Buffer.concat(pdus));
      q.socket.end();
      await q.closed;
    }
    expect(logLines.filter((l) => l.includes('internal error')), `fuzz seed ${fuzzSeed}`).toEqual([]);
  });

  it('counts and logs protocol errors', () => {
    expect(target.stats.protocolErrors).toBeGreaterThanOrEqual(17);
    expect(logLines.some((l) => l.includes('C2HTermReq FES 4'))).toBe(true);
  });
});
