/**
 * The host queue's state machines against hand-made PDU streams: ICReq/ICResp,
 * reads into the request buffer however the stream is cut, SUCCESS,
 * R2T → H2CData, digests, protocol errors (H2CTermReq), timeouts, the crcOk
 * rule, copy skip and the DDP hook points.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/host/net/clock.js';
import { NvmeHostError } from '../../../src/host/nvme/host-error.js';
import { NvmeQueue, type NvmeQueueOptions } from '../../../src/host/nvme/queue.js';
import type { NvmeDdpHooks } from '../../../src/host/nvme/ddp-hooks.js';
import { crc32c } from '../../../src/wire/crc32c.js';
import { buildCqe, cqeWith } from '../../../src/wire/nvme-cqe.js';
import { parseReadWrite } from '../../../src/wire/nvme-io.js';
import { parseSqe } from '../../../src/wire/nvme-sqe.js';
import { NvmeSc } from '../../../src/wire/nvme-status.js';
import {
  PduType,
  TermReqFes,
  emitPduBuffer,
  type H2CDataPdu,
  type H2CTermReqPdu,
  type ICReqPdu,
  type Pdu,
  type PduEmitOptions,
} from '../../../src/wire/nvme-tcp-pdu.js';
import { prng, randomBuffer } from '../../support/wire/pdu-samples.js';
import { TestTransport } from '../../support/host/scripted-transport.js';

interface Setup {
  readonly t: TestTransport;
  readonly q: NvmeQueue;
  readonly clock: VirtualClock;
  readonly opts: PduEmitOptions;
}

type QueueOverrides = Partial<Omit<NvmeQueueOptions, 'clock'>>;

async function connected(o: QueueOverrides = {}, icresp: { cpda?: number; maxh2cdata?: number } = {}, initialSeq = 0): Promise<Setup> {
  const t = new TestTransport(initialSeq);
  const clock = new VirtualClock();
  const q = new NvmeQueue(t, { qid: 1, depth: 8, hdgst: false, ddgst: false, clock, ...o });
  const p = q.connect();
  const hdgst = o.hdgst ?? false;
  const ddgst = o.ddgst ?? false;
  t.deliver(
    emitPduBuffer({
      type: PduType.ICResp,
      pfv: 0,
      cpda: icresp.cpda ?? 0,
      hdgstEnable: hdgst,
      ddgstEnable: ddgst,
      maxh2cdata: icresp.maxh2cdata ?? 0x40_0000,
    }),
  );
  await p;
  return { t, q, clock, opts: { hdgst, ddgst, pda: 0 } };
}

function readCmd(q: NvmeQueue, buf: Buffer, slba = 0) {
  return q.submit((cid, dptr) => ({ kind: 'read', cid, nsid: 1, slba, nlb: buf.length / 512 - 1, dptr }), { dir: 'read', buf });
}

function writeCmd(q: NvmeQueue, buf: Buffer, slba = 0) {
  return q.submit((cid, dptr) => ({ kind: 'write', cid, nsid: 1, slba, nlb: buf.length / 512 - 1, dptr }), { dir: 'write', buf });
}

/** CID of the n-th CapsuleCmd the host sent. */
function sentCid(t: TestTransport, n: number): number {
  const c = t.sentOfType(PduType.CapsuleCmd)[n]!.pdu;
  if (c.type !== PduType.CapsuleCmd) throw new Error('not a capsule');
  return parseSqe(c.sqe).cid;
}

function resp(cid: number, opts: PduEmitOptions, status = 0): Buffer {
  return emitPduBuffer({ type: PduType.CapsuleResp, cqe: buildCqe(cqeWith({ cid, sqId: 1, status })) }, opts);
}

function c2h(cid: number, datao: number, data: Buffer, opts: PduEmitOptions, flags: { last?: boolean; success?: boolean } = {}): Buffer {
  const pdu: Pdu = {
    type: PduType.C2HData,
    cccid: cid,
    datao,
    datal: data.length,
    lastPdu: flags.last ?? false,
    success: flags.success ?? false,
    data: [data],
  };
  return emitPduBuffer(pdu, opts);
}

function lastTermReq(t: TestTransport): H2CTermReqPdu {
  const tr = t.sentOfType(PduType.H2CTermReq);
  expect(tr.length).toBe(1);
  return tr[0]!.pdu as H2CTermReqPdu;
}

async function rejection(p: Promise<unknown>): Promise<NvmeHostError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(NvmeHostError);
    return e as NvmeHostError;
  }
  throw new Error('expected a rejection');
}

describe('NvmeQueue connection', () => {
  it('sends ICReq with PFV 0, HPDA 0, MAXR2T 0 and the digests asked for', async () => {
    const { t, q } = await connected({ hdgst: true, ddgst: false });
    const icreq = t.sent[0]!.pdu as ICReqPdu;
    expect(icreq).toEqual({ type: PduType.ICReq, pfv: 0, hpda: 0, hdgstEnable: true, ddgstEnable: false, maxr2t: 0 });
    expect(q.live).toBe(true);
    expect(q.connectionParams).toEqual({ cpda: 0, hdgst: true, ddgst: false, maxh2cdata: 0x40_0000 });
  });

  const refusals: [string, Record<string, number | boolean>, QueueOverrides][] = [
    ['PFV 1', { pfv: 1 }, {}],
    ['CPDA above the host limit', { cpda: 1 }, { maxCpda: 0 }],
    ['a data digest not asked for', { ddgstEnable: true }, {}],
    ['a header digest refused', { hdgstEnable: false }, { hdgst: true }],
    ['MAXH2CDATA below 4096', { maxh2cdata: 1024 }, {}],
    ['MAXH2CDATA not a multiple of 4', { maxh2cdata: 8190 }, {}],
  ];
  for (const [name, fields, o] of refusals) {
    it(`refuses an ICResp with ${name}`, async () => {
      const t = new TestTransport();
      const q = new NvmeQueue(t, { qid: 0, depth: 4, hdgst: false, ddgst: false, clock: new VirtualClock(), ...o });
      const p = q.connect();
      t.deliver(
        emitPduBuffer({
          type: PduType.ICResp,
          pfv: 0,
          cpda: 0,
          hdgstEnable: o.hdgst ?? false,
          ddgstEnable: false,
          maxh2cdata: 0x1_0000,
          ...fields,
        } as Pdu),
      );
      const e = await rejection(p);
      expect(e.code).toBe('IC_REJECTED');
      expect(t.closed).toBe(true);
      expect(q.live).toBe(false);
    });
  }

  it('accepts any CPDA up to 31 by default and pads in-capsule data to it', async () => {
    const { t, q } = await connected({ inCapsuleBytes: 4096 }, { cpda: 31 });
    const data = randomBuffer(prng(1), 1024);
    const p = writeCmd(q, data);
    const cap = t.sentOfType(PduType.CapsuleCmd)[0]!;
    expect(cap.layout.pdo).toBe(128);
    expect(cap.pdu.type === PduType.CapsuleCmd && Buffer.concat(cap.pdu.data).equals(data)).toBe(true);
    expect(parseReadWrite((cap.pdu as { sqe: Buffer }).sqe).dptr).toMatchObject({ type: 0, subtype: 1, length: 1024 });
    t.deliver(resp(sentCid(t, 0), {}));
    expect((await p).status).toBe(0);
    expect(q.stats.inCapsuleWrites).toBe(1);
  });

  it('fails connect when no ICResp comes within the timeout', async () => {
    const t = new TestTransport();
    const clock = new VirtualClock();
    const q = new NvmeQueue(t, { qid: 0, depth: 4, hdgst: false, ddgst: false, clock, commandTimeoutMs: 1000 });
    const p = q.connect();
    clock.advance(1000);
    expect((await rejection(p)).code).toBe('IC_REJECTED');
    expect(t.aborted).toBe(true);
  });
});

describe('NvmeQueue reads', () => {
  for (const digest of ['none', 'header', 'data', 'both'] as const) {
    it(`places C2HData at DATAO however the stream is cut (digest ${digest})`, async () => {
      const hdgst = digest === 'header' || digest === 'both';
      const ddgst = digest === 'data' || digest === 'both';
      const rand = prng(digest.length);
      for (const chunkBytes of [1, 3, 7, 24, 25, 100, 4096, 1 << 20]) {
        const { t, q, opts } = await connected({ hdgst, ddgst });
        const want = randomBuffer(rand, 3 * 4096);
        const buf = Buffer.alloc(want.length);
        const p = readCmd(q, buf);
        const cid = sentCid(t, 0);
        const stream = Buffer.concat([
          c2h(cid, 0, want.subarray(0, 5000), opts),
          c2h(cid, 5000, want.subarray(5000, 5004), opts),
          c2h(cid, 5004, want.subarray(5004), opts, { last: true }),
          resp(cid, opts),
        ]);
        t.deliver(stream, { chunkBytes });
        const cqe = await p;
        expect(cqe.status).toBe(0);
        expect(buf.equals(want)).toBe(true);
        const s = q.stats;
        // Every received byte went through the copy routine; none were placed.
        expect(s.copiedBytes).toBe(128 + stream.length); // ICResp too
        expect(s.copySkippedBytes).toBe(0);
        expect(s.crcDataRxBytes).toBe(ddgst ? want.length : 0);
        expect(s.crcHeaderBytes).toBe(hdgst ? 3 * 24 + 24 + 72 : 0);
        expect(s.c2hDataPdus).toBe(3);
        expect(q.inflight).toBe(0);
      }
    });
  }

  it('completes a read on a C2HData with SUCCESS and no CapsuleResp', async () => {
    const { t, q, opts } = await connected({ ddgst: true });
    const want = randomBuffer(prng(2), 8192);
    const buf = Buffer.alloc(8192);
    const p = readCmd(q, buf);
    t.deliver(c2h(sentCid(t, 0), 0, want, opts, { last: true, success: true }));
    const cqe = await p;
    expect(cqe.status).toBe(0);
    expect(cqe.cid).toBe(sentCid(t, 0));
    expect(buf.equals(want)).toBe(true);
    expect(q.stats.successCompletions).toBe(1);
    expect(q.stats.capsuleResps).toBe(0);
  });

  it('fails a read whose data digest is wrong with a data transfer error and keeps the queue', async () => {
    const { t, q, opts } = await connected({ ddgst: true });
    const want = randomBuffer(prng(3), 4096);
    const buf = Buffer.alloc(4096);
    const p = readCmd(q, buf);
    const cid = sentCid(t, 0);
    const pdu = c2h(cid, 0, want, opts, { last: true });
    pdu[pdu.length - 1]! ^= 0x01; // corrupt DDGST
    t.deliver(Buffer.concat([pdu, resp(cid, opts)]), { chunkBytes: 1000 });
    const cqe = await p;
    expect(cqe.status).toBe(NvmeSc.DATA_XFER_ERROR);
    expect(q.stats.ddgstErrors).toBe(1);
    expect(q.stats.commandErrors).toBe(1);
    expect(q.live).toBe(true);
    // The next read on the same queue still works.
    const buf2 = Buffer.alloc(4096);
    const p2 = readCmd(q, buf2);
    t.deliver(Buffer.concat([c2h(sentCid(t, 1), 0, want, opts, { last: true }), resp(sentCid(t, 1), opts)]));
    expect((await p2).status).toBe(0);
    expect(buf2.equals(want)).toBe(true);
  });

  it('fails a SUCCESS completion whose data digest is wrong with a data transfer error', async () => {
    const { t, q, opts } = await connected({ ddgst: true });
    const p = readCmd(q, Buffer.alloc(512));
    const pdu = c2h(sentCid(t, 0), 0, randomBuffer(prng(4), 512), opts, { last: true, success: true });
    pdu[100]! ^= 0x80; // corrupt data
    t.deliver(pdu);
    expect((await p).status).toBe(NvmeSc.DATA_XFER_ERROR);
  });

  it('fails a successful read completed before all its data with a data transfer error', async () => {
    const { t, q, opts } = await connected();
    const p = readCmd(q, Buffer.alloc(1024));
    const cid = sentCid(t, 0);
    t.deliver(Buffer.concat([c2h(cid, 0, Buffer.alloc(512, 1), opts), resp(cid, opts)]));
    expect((await p).status).toBe(NvmeSc.DATA_XFER_ERROR);
  });

  it('keeps CIDs below the queue depth and refuses a command beyond it', async () => {
    const { t, q, opts } = await connected({ depth: 4 });
    const ps = [0, 1, 2, 3].map(() => readCmd(q, Buffer.alloc(512)));
    const cids = [0, 1, 2, 3].map((i) => sentCid(t, i));
    expect([...cids].sort()).toEqual([0, 1, 2, 3]);
    expect((await rejection(readCmd(q, Buffer.alloc(512)))).code).toBe('QUEUE_FULL');
    for (const cid of cids) t.deliver(Buffer.concat([c2h(cid, 0, Buffer.alloc(512), opts, { last: true }), resp(cid, opts)]));
    await Promise.all(ps);
    // Freed CIDs are handed out again, still below the depth.
    const p = readCmd(q, Buffer.alloc(512));
    expect(sentCid(t, 4)).toBeLessThan(4);
    t.deliver(c2h(sentCid(t, 4), 0, Buffer.alloc(512), opts, { last: true, success: true }));
    await p;
  });

  it('puts a generation counter in CID bits 15:12 when asked and refuses a completion of an old generation', async () => {
    const { t, q, opts } = await connected({ depth: 2, cidGeneration: true });
    const p1 = q.submit((cid) => ({ kind: 'flush', cid, nsid: 1 }));
    const cid1 = sentCid(t, 0);
    expect(cid1 >> 12).toBe(1);
    expect(cid1 & 0xfff).toBeLessThan(2);
    t.deliver(resp(cid1, opts));
    await p1;
    const p2 = q.submit((cid) => ({ kind: 'flush', cid, nsid: 1 }));
    const cid2 = sentCid(t, 1);
    expect(cid2 & 0xfff).toBe(cid1 & 0xfff);
    expect(cid2).not.toBe(cid1);
    t.deliver(resp(cid1, opts)); // stale
    expect((await rejection(p2)).code).toBe('PROTOCOL_ERROR');
  });
});

describe('NvmeQueue writes', () => {
  it('answers R2T with H2CData PDUs of at most MAXH2CDATA that view the write buffer', async () => {
    const { t, q, opts } = await connected({ ddgst: true, hdgst: true, inCapsuleBytes: 4096 }, { maxh2cdata: 8192, cpda: 1 });
    const data = randomBuffer(prng(5), 20480);
    const p = writeCmd(q, data);
    const cid = sentCid(t, 0);
    const sqe = (t.sentOfType(PduType.CapsuleCmd)[0]!.pdu as { sqe: Buffer }).sqe;
    expect(parseReadWrite(sqe).dptr).toMatchObject({ type: 5, subtype: 0xa, length: 20480 });
    t.deliver(emitPduBuffer({ type: PduType.R2T, cccid: cid, ttag: 7, r2to: 0, r2tl: 20480 }, opts));
    const h2c = t.sentOfType(PduType.H2CData).map((f) => f.pdu as H2CDataPdu);
    expect(h2c.map((d) => [d.datao, d.datal, d.lastPdu, d.ttag, d.cccid])).toEqual([
      [0, 8192, false, 7, cid],
      [8192, 8192, false, 7, cid],
      [16384, 4096, true, 7, cid],
    ]);
    for (const f of t.sentOfType(PduType.H2CData)) {
      expect(f.hdgstStatus).toBe('ok');
      expect(f.ddgstStatus).toBe('ok');
      expect(f.layout.pdo).toBe(32); // CPDA 1: data on 8-byte boundaries
    }
    // Zero copy: the data buffers written are views of the caller's buffer.
    const views = t.writes.flat().filter((b) => b.buffer === data.buffer);
    expect(views.map((v) => v.byteOffset - data.byteOffset)).toEqual([0, 8192, 16384]);
    t.deliver(resp(cid, opts));
    expect((await p).status).toBe(0);
    expect(q.stats.h2cDataBytes).toBe(20480);
    expect(q.stats.crcDataTxBytes).toBe(20480);
  });

  it('serves several R2Ts of one write in order', async () => {
    const { t, q, opts } = await connected({}, { maxh2cdata: 0x40_0000 });
    const data = randomBuffer(prng(6), 16384);
    const p = writeCmd(q, data);
    const cid = sentCid(t, 0);
    t.deliver(emitPduBuffer({ type: PduType.R2T, cccid: cid, ttag: 1, r2to: 0, r2tl: 4096 }, opts));
    t.deliver(emitPduBuffer({ type: PduType.R2T, cccid: cid, ttag: 2, r2to: 4096, r2tl: 12288 }, opts));
    const h2c = t.sentOfType(PduType.H2CData).map((f) => f.pdu as H2CDataPdu);
    expect(Buffer.concat(h2c.flatMap((d) => d.data)).equals(data)).toBe(true);
    expect(h2c.map((d) => d.lastPdu)).toEqual([true, true]);
    t.deliver(resp(cid, opts));
    await p;
  });

  it('waits for drain before writing more once the transport says its buffer is full', async () => {
    const { t, q, opts } = await connected();
    t.writable = false;
    const p1 = q.submit((cid) => ({ kind: 'flush', cid, nsid: 1 }));
    const p2 = q.submit((cid) => ({ kind: 'flush', cid, nsid: 1 }));
    expect(t.sentOfType(PduType.CapsuleCmd).length).toBe(1);
    t.drain();
    expect(t.sentOfType(PduType.CapsuleCmd).length).toBe(2);
    t.deliver(Buffer.concat([resp(sentCid(t, 0), opts), resp(sentCid(t, 1), opts)]));
    await Promise.all([p1, p2]);
  });
});

describe('NvmeQueue protocol errors', () => {
  async function expectTermReq(
    stream: (cid: number, opts: PduEmitOptions) => Buffer,
    fes: number,
    fei: number,
    o: QueueOverrides = {},
  ): Promise<void> {
    const { t, q, opts } = await connected(o);
    const p = readCmd(q, Buffer.alloc(4096));
    t.deliver(stream(sentCid(t, 0), opts));
    const e = await rejection(p);
    expect(e.code).toBe('PROTOCOL_ERROR');
    expect(e.detail.fes).toBe(fes);
    const tr = lastTermReq(t);
    expect(tr.fes).toBe(fes);
    expect(tr.fei).toBe(fei);
    expect(t.closed).toBe(true);
    expect(q.live).toBe(false);
    expect((await rejection(readCmd(q, Buffer.alloc(512)))).code).toBe('QUEUE_DEAD');
  }

  it('sends H2CTermReq (invalid header field, FEI = hlen) for a PDU with a bad hlen', async () => {
    await expectTermReq((cid, opts) => {
      const b = resp(cid, opts);
      b[2] = 25;
      return b;
    }, TermReqFes.InvalidHeaderField, 2);
  });

  it('echoes the offending header in the H2CTermReq', async () => {
    const { t, q, opts } = await connected();
    const p = readCmd(q, Buffer.alloc(512));
    const bad = resp(sentCid(t, 0), opts);
    bad[0] = 0x08; // unused type
    t.deliver(bad);
    await rejection(p);
    const tr = lastTermReq(t);
    expect(tr.fei).toBe(0);
    expect(Buffer.concat(tr.data).equals(bad.subarray(0, 8))).toBe(true);
  });

  it('refuses a PDU type a host never receives', async () => {
    await expectTermReq(
      (cid, opts) => emitPduBuffer({ type: PduType.H2CData, cccid: cid, ttag: 0, datao: 0, datal: 4, lastPdu: true, data: [Buffer.alloc(4)] }, opts),
      TermReqFes.InvalidHeaderField,
      0,
    );
  });

  it('refuses C2HData for a CID that is not outstanding', async () => {
    await expectTermReq((cid, opts) => c2h(cid + 1, 0, Buffer.alloc(512), opts), TermReqFes.InvalidHeaderField, 8);
  });

  it('refuses C2HData beyond the read with data transfer out of range', async () => {
    await expectTermReq((cid, opts) => c2h(cid, 4000, Buffer.alloc(512), opts), TermReqFes.DataOutOfRange, 0);
  });

  it('refuses C2HData out of order', async () => {
    await expectTermReq((cid, opts) => c2h(cid, 512, Buffer.alloc(512), opts), TermReqFes.InvalidHeaderField, 12);
  });

  it('refuses SUCCESS before the end of the data', async () => {
    await expectTermReq((cid, opts) => c2h(cid, 0, Buffer.alloc(512), opts, { last: true, success: true }), TermReqFes.InvalidHeaderField, 1);
  });

  it('refuses a header digest mismatch', async () => {
    await expectTermReq(
      (cid, opts) => {
        const b = c2h(cid, 0, Buffer.alloc(512), opts);
        b[24]! ^= 0xff;
        return b;
      },
      TermReqFes.HeaderDigestError,
      0,
      { hdgst: true },
    );
  });

  it('refuses a PDU without the negotiated header digest', async () => {
    await expectTermReq((cid) => resp(cid, {}), TermReqFes.InvalidHeaderField, 1, { hdgst: true });
  });

  it('refuses a CapsuleResp for an unknown CID', async () => {
    await expectTermReq((cid, opts) => resp(cid + 3, opts), TermReqFes.InvalidHeaderField, 20);
  });

  it('refuses an R2T for a read', async () => {
    await expectTermReq(
      (cid, opts) => emitPduBuffer({ type: PduType.R2T, cccid: cid, ttag: 0, r2to: 0, r2tl: 512 }, opts),
      TermReqFes.InvalidHeaderField,
      8,
    );
  });

  it('refuses an R2T beyond the write', async () => {
    const { t, q, opts } = await connected();
    const p = writeCmd(q, Buffer.alloc(4096));
    t.deliver(emitPduBuffer({ type: PduType.R2T, cccid: sentCid(t, 0), ttag: 0, r2to: 0, r2tl: 8192 }, opts));
    expect((await rejection(p)).code).toBe('PROTOCOL_ERROR');
    expect(lastTermReq(t).fes).toBe(TermReqFes.DataOutOfRange);
  });

  it('sends a PDU sequence error for data before ICResp and for a second ICResp', async () => {
    const t = new TestTransport();
    const q = new NvmeQueue(t, { qid: 1, depth: 4, hdgst: false, ddgst: false, clock: new VirtualClock() });
    const p = q.connect();
    t.deliver(resp(0, {}));
    expect((await rejection(p)).code).toBe('PROTOCOL_ERROR');
    expect(lastTermReq(t).fes).toBe(TermReqFes.PduSequenceError);

    const s = await connected();
    const pr = readCmd(s.q, Buffer.alloc(512));
    s.t.deliver(emitPduBuffer({ type: PduType.ICResp, pfv: 0, cpda: 0, hdgstEnable: false, ddgstEnable: false, maxh2cdata: 0x1_0000 }));
    expect((await rejection(pr)).detail.fes).toBe(TermReqFes.PduSequenceError);
  });

  it('ends the queue on C2HTermReq without answering it', async () => {
    const { t, q } = await connected();
    const p = readCmd(q, Buffer.alloc(512));
    t.deliver(emitPduBuffer({ type: PduType.C2HTermReq, fes: 2, fei: 0, data: [Buffer.alloc(24, 7)] }));
    const e = await rejection(p);
    expect(e.code).toBe('PEER_TERMINATED');
    expect(e.detail.fes).toBe(2);
    expect(t.sentOfType(PduType.H2CTermReq)).toHaveLength(0);
    expect(t.closed).toBe(true);
  });

  it('fails outstanding commands when the connection closes under them', async () => {
    const { t, q } = await connected();
    const p = readCmd(q, Buffer.alloc(512));
    let ended: NvmeHostError | undefined;
    q.onTerminated((e) => (ended = e));
    t.peerClose();
    expect((await rejection(p)).code).toBe('TRANSPORT_CLOSED');
    expect(ended?.code).toBe('TRANSPORT_CLOSED');
  });

  it('times a command out, fails it and tears the queue down', async () => {
    const { t, q, clock } = await connected({ commandTimeoutMs: 500 });
    const p = readCmd(q, Buffer.alloc(512));
    clock.advance(499);
    expect(q.live).toBe(true);
    clock.advance(1);
    const e = await rejection(p);
    expect(e.code).toBe('TIMEOUT');
    expect(e.detail.cid).toBe(sentCid(t, 0));
    expect(t.aborted).toBe(true);
    expect(q.stats.commandTimeouts).toBe(1);
  });
});

describe('NvmeQueue and the NIC (the DDP hooks)', () => {
  it('skips its data digest CRC only when every chunk of the PDU had crcOk', async () => {
    const { t, q, opts } = await connected({ ddgst: true });
    const want = randomBuffer(prng(7), 8192);
    const pdu = c2h(0, 0, want, opts, { last: true, success: true });

    const b1 = Buffer.alloc(8192);
    const p1 = readCmd(q, b1);
    t.deliver(pdu, { chunkBytes: 1500, crcOk: true });
    expect((await p1).status).toBe(0);
    expect(q.stats.ddgstOffloaded).toBe(1);
    expect(q.stats.crcDataRxBytes).toBe(0);

    // One chunk without crcOk in the middle: the whole PDU is CRC'd in software.
    const b2 = Buffer.alloc(8192);
    const p2 = readCmd(q, b2);
    const cut = [0, 3000, 4500, pdu.length];
    for (let i = 0; i < 3; i++) t.deliver(pdu.subarray(cut[i], cut[i + 1]), { crcOk: i !== 1 });
    expect((await p2).status).toBe(0);
    expect(q.stats.ddgstOffloaded).toBe(1);
    expect(q.stats.crcDataRxBytes).toBe(8192);

    // A digest arriving without crcOk also forces the software check, which catches corruption.
    const bad = Buffer.from(pdu);
    bad[100]! ^= 1;
    const b3 = Buffer.alloc(8192);
    const p3 = readCmd(q, b3);
    t.deliver(bad.subarray(0, bad.length - 2), { crcOk: true });
    t.deliver(bad.subarray(bad.length - 2), { crcOk: false });
    expect((await p3).status).toBe(NvmeSc.DATA_XFER_ERROR);
  });

  it('does not copy placed frags that already are the destination, and copies everything else', async () => {
    const { t, q, opts } = await connected({ ddgst: true });
    const want = randomBuffer(prng(8), 4096);
    const buf = Buffer.alloc(4096);
    const p = readCmd(q, buf);
    const pdu = c2h(sentCid(t, 0), 0, want, opts, { last: true, success: true });
    // What a DDP NIC hands over: header bytes as host frags, payload already in buf.
    buf.set(want.subarray(0, 3000), 0);
    const head = pdu.subarray(0, 24);
    t.deliverFrags([{ kind: 'host', buf: Buffer.from(head) }, { kind: 'placed', buf: buf.subarray(0, 3000) }], true);
    t.deliverFrags([{ kind: 'host', buf: Buffer.from(pdu.subarray(24 + 3000)) }], false);
    expect((await p).status).toBe(0);
    expect(buf.equals(want)).toBe(true);
    expect(q.stats.copySkippedBytes).toBe(3000);
    expect(q.stats.copiedBytes).toBe(128 + 24 + 1096 + 4);
    expect(q.stats.placedMismatches).toBe(0);
    // The last chunk lacked crcOk: software CRC over the whole payload, from the destination buffer.
    expect(q.stats.crcDataRxBytes).toBe(4096);
  });

  it('reports the TCP sequence number of every PDU header, across the 2^32 wrap', async () => {
    const seqs: number[] = [];
    const ddp: NvmeDdpHooks = { ioThresholdBytes: Infinity, setup: () => false, teardown: () => 'done', onPduHeaderAt: (s) => seqs.push(s) };
    const start = 0xffff_ff00;
    const { t, q, opts } = await connected({ ddp }, {}, start);
    expect(seqs).toEqual([start]); // the ICResp
    const p = readCmd(q, Buffer.alloc(1024));
    const cid = sentCid(t, 0);
    const a = c2h(cid, 0, Buffer.alloc(512, 1), opts);
    const b = c2h(cid, 512, Buffer.alloc(512, 2), opts, { last: true });
    const r = resp(cid, opts);
    t.deliver(Buffer.concat([a, b, r]), { chunkBytes: 100 });
    await p;
    const s0 = (start + 128) >>> 0;
    expect(seqs.slice(1)).toEqual([s0, (s0 + a.length) >>> 0, (s0 + a.length + b.length) >>> 0]);
    expect(seqs[3]! < start).toBe(true); // wrapped
  });

  it('offers reads at or above the threshold to setup and completes only after an asynchronous teardown', async () => {
    const setups: [number, number][] = [];
    const teardowns: number[] = [];
    const ddp: NvmeDdpHooks = {
      ioThresholdBytes: 4096,
      setup: (cid, sgl) => {
        setups.push([cid, sgl[0]!.length]);
        return true;
      },
      teardown: (cid) => {
        teardowns.push(cid);
        return 'pending';
      },
    };
    const { t, q, opts } = await connected({ ddp });
    const small = Buffer.alloc(2048);
    const big = Buffer.alloc(4096);
    const ps = readCmd(q, small);
    const pb = readCmd(q, big);
    const cs = sentCid(t, 0);
    const cb = sentCid(t, 1);
    expect(setups).toEqual([[cb, 4096]]);
    let bigDone = false;
    void pb.then(() => (bigDone = true));
    t.deliver(Buffer.concat([c2h(cs, 0, small, opts, { last: true }), resp(cs, opts), c2h(cb, 0, big, opts, { last: true }), resp(cb, opts)]));
    expect((await ps).status).toBe(0);
    expect(teardowns).toEqual([cb]);
    await Promise.resolve();
    expect(bigDone).toBe(false);
    // The CID stays taken until the NIC is done with the buffer.
    expect(q.inflight).toBe(1);
    q.ddpTeardownDone(cb);
    expect((await pb).status).toBe(0);
    expect(q.stats.ddpSetup).toBe(1);
    expect(q.stats.ddpTeardown).toBe(1);
  });
});

describe('NvmeQueue digest accounting', () => {
  it('counts header digest bytes it computes when sending', async () => {
    const { t, q, opts } = await connected({ hdgst: true });
    const p = q.submit((cid) => ({ kind: 'flush', cid, nsid: 1 }));
    expect(q.stats.crcHeaderBytes).toBe(72);
    const sent = t.sentOfType(PduType.CapsuleCmd)[0]!;
    expect(sent.hdgst).toBe(crc32c(sent.headerBytes));
    t.deliver(resp(sentCid(t, 0), opts));
    await p;
    expect(q.stats.crcHeaderBytes).toBe(72 + 24);
  });
});
