/**
 * The target over kernel TCP on 127.0.0.1, driven PDU by PDU by the test
 * client: bring-up, reads and writes with every byte verified, completion
 * reordering and C2H interleaving, digests, the SPDK profile, and Connect
 * errors. Protocol errors have their own file (protocol-errors.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPatternMismatch } from '../../src/wire/block-pattern.js';
import { parseCap } from '../../src/wire/nvme-registers.js';
import { NvmeReg } from '../../src/wire/nvme-registers.js';
import { parseIdCtrl, parseIdNs, parseNsList } from '../../src/wire/nvme-identify.js';
import { connectInvalidParamFromDw0, NVMF_CNTLID_DYNAMIC, NvmfConnectDataOffset, NvmfConnectSqeOffset } from '../../src/wire/nvme-fabrics.js';
import { NvmeSc } from '../../src/wire/nvme-status.js';
import { PduType } from '../../src/wire/nvme-tcp-pdu.js';
import { Prng } from '../../src/target/scheduler.js';
import { startTarget, type Target } from '../../src/target/listener.js';
import { associate, closeAssociation, NvmeIdCns, TestQueue, type Association } from '../support/target/pdu-client.js';

const MIB = 1024 * 1024;
const LBA = 512;

function randomData(seed: number, len: number): Buffer {
  const rng = new Prng(seed);
  const b = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i += 4) b.writeUInt32LE(rng.nextU32(), i);
  return b;
}

describe('target with linux defaults', () => {
  let target: Target;
  let a: Association;
  const seed = 7;

  beforeAll(async () => {
    target = await startTarget({ host: '127.0.0.1', port: 0, sizeBytes: 64 * MIB, seed });
    a = await associate(target.port, { ioQueues: 2 });
  });
  afterAll(async () => {
    closeAssociation(a);
    await target.close();
  });

  it('brings up a controller: CAP, VS, CSTS.RDY and Identify', async () => {
    const cap = await a.admin.propertyGet(NvmeReg.CAP, 8);
    expect(cap.status).toBe(0);
    const capv = parseCap((BigInt(cap.cqe!.dw1) << 32n) | BigInt(cap.cqe!.dw0));
    expect(capv.mqes).toBe(1023);
    expect(capv.css & 1).toBe(1);
    const vs = await a.admin.propertyGet(NvmeReg.VS, 4);
    expect(vs.cqe!.dw0).toBe(0x00010300);
    const csts = await a.admin.propertyGet(NvmeReg.CSTS, 4);
    expect(csts.cqe!.dw0 & 1).toBe(1);

    const idc = await a.admin.identify(NvmeIdCns.CTRL, 0);
    expect(idc.status).toBe(0);
    const ctrl = parseIdCtrl(idc.data!);
    expect(ctrl.subnqn).toBe('nqn.2026-11.io.ddplab:target');
    expect(ctrl.cntlid).toBe(a.cntlid);
    expect(ctrl.ioccsz).toBe((64 + 16384) / 16);
    expect(ctrl.iorcsz).toBe(1);
    expect(ctrl.mdts).toBe(0);
    expect(ctrl.nn).toBe(1);
    expect(ctrl.sgls & 1).toBe(1);
    expect(ctrl.sgls & (1 << 20)).not.toBe(0);

    const idn = await a.admin.identify(NvmeIdCns.NS, 1);
    const ns = parseIdNs(idn.data!);
    expect(ns.nsze).toBe((64 * MIB) / LBA);
    expect(ns.lbaf[0]!.lbads).toBe(9);
    const list = await a.admin.identify(NvmeIdCns.NS_ACTIVE_LIST, 0);
    expect(parseNsList(list.data!)).toEqual([1]);
    const bad = await a.admin.identify(NvmeIdCns.NS, 2);
    expect(bad.status).toBe(NvmeSc.INVALID_NS);
  });

  it('answers the ICReq with the linux defaults', async () => {
    const q = await TestQueue.open(target.port);
    const r = await q.icReq({ hdgst: false, ddgst: false });
    expect(r.pdu.type).toBe(PduType.ICResp);
    expect(q.cpda).toBe(0);
    expect(q.maxh2cdata).toBe(0x400000);
    q.close();
  });

  it('reads 512 B to 1 MiB and every byte is the pattern', async () => {
    const io = a.io[0]!;
    for (const [slba, bytes] of [
      [0, 512],
      [3, 4096],
      [1001, 8192],
      [77, 16384],
      [5000, 65536],
      [20000, 128 * 1024],
      [40000, MIB],
    ] as const) {
      const c = await io.read(slba, bytes / LBA - 1, LBA);
      expect(c.status).toBe(0);
      expect(c.data!.length).toBe(bytes);
      expect(findPatternMismatch(seed, slba * LBA, c.data!)).toBe(-1);
    }
  });

  it('writes in-capsule and by R2T/H2CData, then reads back overlay and pattern', async () => {
    const io = a.io[1]!;
    let n = 0;
    for (const [slba, bytes, inCapsule] of [
      [100, 512, true],
      [200, 16384, true],
      [300, 4096, false],
      [400, 65536, false],
      [60000, MIB, false],
    ] as const) {
      const data = randomData(++n, bytes);
      const w = await io.write(slba, data, LBA, inCapsule);
      expect(w.status).toBe(0);
      // Read a window with a block of pattern on each side of the write.
      const r = await io.read(slba - 1, bytes / LBA + 1, LBA);
      expect(r.status).toBe(0);
      const got = r.data!;
      expect(findPatternMismatch(seed, (slba - 1) * LBA, got.subarray(0, LBA))).toBe(-1);
      expect(got.subarray(LBA, LBA + bytes).equals(data)).toBe(true);
      expect(findPatternMismatch(seed, (slba + bytes / LBA) * LBA, got.subarray(LBA + bytes))).toBe(-1);
    }
    const f = await io.flush();
    expect(f.status).toBe(0);
    expect(target.stats.queues.some((q) => q.r2tPdus > 0)).toBe(true);
  });

  it('refuses reads beyond the namespace and in-capsule data beyond the in-capsule size', async () => {
    const io = a.io[0]!;
    const r = await io.read((64 * MIB) / LBA - 1, 1, LBA);
    expect(r.status).toBe(NvmeSc.LBA_RANGE);
    expect(r.cqe!.dnr).toBe(true);
    const w = await io.write(10, Buffer.alloc(32768), LBA, true);
    expect(w.status).toBe(NvmeSc.SGL_INVALID_DATA);
  });

  it('answers a wrong subsystem NQN with Connect Invalid Parameters pointing at SUBNQN', async () => {
    const q = await TestQueue.open(target.port);
    await q.icReq();
    const c = await q.connectQueue({ qid: 0, cntlid: NVMF_CNTLID_DYNAMIC, subnqn: 'nqn.2026-11.io.ddplab:nope' });
    expect(c.status).toBe(NvmeSc.CONNECT_INVALID_PARAM);
    expect(c.cqe!.dnr).toBe(true);
    expect(connectInvalidParamFromDw0(c.cqe!.dw0)).toEqual({ inData: true, ipo: NvmfConnectDataOffset.SUBNQN });
    // The queue stays usable for a correct Connect.
    const ok = await q.connectQueue({ qid: 0, cntlid: NVMF_CNTLID_DYNAMIC });
    expect(ok.status).toBe(0);
    q.close();
  });

  it('refuses an SQSIZE above MQES, an unknown CNTLID and a duplicate QID', async () => {
    const q = await TestQueue.open(target.port);
    await q.icReq();
    const big = await q.connectQueue({ qid: 5, cntlid: a.cntlid, sqsize: 1024 });
    expect(big.status).toBe(NvmeSc.CONNECT_INVALID_PARAM);
    expect(connectInvalidParamFromDw0(big.cqe!.dw0)).toEqual({ inData: false, ipo: NvmfConnectSqeOffset.SQSIZE });
    const unknown = await q.connectQueue({ qid: 5, cntlid: 0x7777 });
    expect(connectInvalidParamFromDw0(unknown.cqe!.dw0)).toEqual({ inData: true, ipo: NvmfConnectDataOffset.CNTLID });
    const dup = await q.connectQueue({ qid: 1, cntlid: a.cntlid });
    expect(dup.status).toBe(NvmeSc.CMD_SEQ_ERROR);
    q.close();
  });

  it('applies backpressure to a host that stops reading and still delivers every byte', async () => {
    const io = a.io[0]!;
    io.socket.pause();
    const reads = Array.from({ length: 8 }, (_, i) => io.read(100000 + i * 2048, 2047, LBA));
    const stats = target.stats.queues.find((q) => q.qid === 1 && q.cntlid === a.cntlid)!;
    while (stats.backpressureWaits === 0) await new Promise((r) => setTimeout(r, 10));
    io.socket.resume();
    const done = await Promise.all(reads);
    done.forEach((c, i) => expect(findPatternMismatch(seed, (100000 + i * 2048) * LBA, c.data!)).toBe(-1));
    expect(stats.backpressureWaits).toBeGreaterThan(0);
  });
});

/** Submits reads in one TCP write so the target sees them in one batch. */
async function burstReads(io: TestQueue, slbas: number[], blocks: number): Promise<{ cids: number[]; data: Buffer[] }> {
  io.socket.cork();
  const cids: number[] = [];
  const ps = slbas.map((slba) => {
    const cid = io.allocCid();
    cids.push(cid);
    return io.read(slba, blocks - 1, LBA, cid);
  });
  io.socket.uncork();
  const done = await Promise.all(ps);
  return { cids, data: done.map((c) => c.data!) };
}

describe('completion order and C2H interleaving', () => {
  for (const order of ['reverse', 'random'] as const) {
    it(`answers a batch of reads in ${order} order, interleaved, still correct`, async () => {
      const seed = 11;
      const target = await startTarget({
        host: '127.0.0.1',
        port: 0,
        sizeBytes: 16 * MIB,
        seed,
        order,
        interleave: true,
        c2hSizeBytes: 4096,
      });
      const a = await associate(target.port);
      try {
        const io = a.io[0]!;
        const before = io.arrivals.length;
        const slbas = Array.from({ length: 12 }, (_, i) => 1000 + i * 97);
        const { cids, data } = await burstReads(io, slbas, 32); // 16 KiB each: 4 C2HData PDUs
        data.forEach((d, i) => expect(findPatternMismatch(seed, slbas[i]! * LBA, d)).toBe(-1));

        const arrivals = io.arrivals.slice(before);
        const respOrder = arrivals.filter((x) => x.type === PduType.CapsuleResp).map((x) => x.cid);
        expect([...respOrder].sort((x, y) => x - y)).toEqual(cids);
        expect(respOrder).not.toEqual(cids);
        if (order === 'reverse') expect(respOrder).toEqual([...cids].reverse());

        // Interleaved: some command's data PDUs are separated by another command's PDU.
        const c2h = arrivals.filter((x) => x.type === PduType.C2HData);
        expect(c2h).toHaveLength(12 * 4);
        let interleaved = false;
        const lastSeen = new Map<number, number>();
        c2h.forEach((x, i) => {
          const prev = lastSeen.get(x.cid);
          if (prev !== undefined && prev !== i - 1) interleaved = true;
          lastSeen.set(x.cid, i);
        });
        expect(interleaved).toBe(true);
        expect(target.stats.queues.find((q) => q.qid === 1)!.reorderedCompletions).toBeGreaterThan(0);
      } finally {
        closeAssociation(a);
        await target.close();
      }
    });
  }

  it('sends the same reordering for the same seed and batch', async () => {
    const orders: number[][] = [];
    for (let run = 0; run < 2; run++) {
      const target = await startTarget({ host: '127.0.0.1', port: 0, sizeBytes: 16 * MIB, seed: 5, order: 'random' });
      const a = await associate(target.port);
      try {
        const io = a.io[0]!;
        const before = io.arrivals.length;
        await burstReads(io, [10, 20, 30, 40, 50, 60, 70, 80], 8);
        orders.push(io.arrivals.slice(before).filter((x) => x.type === PduType.CapsuleResp).map((x) => x.cid));
      } finally {
        closeAssociation(a);
        await target.close();
      }
    }
    expect(orders[0]).toEqual(orders[1]);
  });
});

describe('digests', () => {
  it('uses header and data digests when the host asks, on reads and writes', async () => {
    const seed = 3;
    const target = await startTarget({ host: '127.0.0.1', port: 0, sizeBytes: 16 * MIB, seed, c2hSizeBytes: 8192 });
    const a = await associate(target.port, { hdgst: true, ddgst: true });
    try {
      const io = a.io[0]!;
      expect(io.hdgst && io.ddgst).toBe(true);
      const r = await io.read(8, 255, LBA);
      expect(findPatternMismatch(seed, 8 * LBA, r.data!)).toBe(-1);
      const data = randomData(9, 65536);
      expect((await io.write(1000, data, LBA, false)).status).toBe(0);
      expect((await io.write(2000, data.subarray(0, 4096), LBA, true)).status).toBe(0);
      expect((await io.read(1000, 127, LBA)).data!.equals(data)).toBe(true);
      expect(io.framerFailure).toBeUndefined();
    } finally {
      closeAssociation(a);
      await target.close();
    }
  });

  it('declines digests the target does not allow', async () => {
    const target = await startTarget({ host: '127.0.0.1', port: 0, sizeBytes: MIB, digest: 'header' });
    const q = await TestQueue.open(target.port);
    try {
      await q.icReq({ hdgst: true, ddgst: true });
      expect(q.hdgst).toBe(true);
      expect(q.ddgst).toBe(false);
    } finally {
      q.close();
      await target.close();
    }
  });

  it('fails a write whose H2CData digest is wrong with Transient Transport Error and keeps the queue', async () => {
    const seed = 4;
    const target = await startTarget({ host: '127.0.0.1', port: 0, sizeBytes: 16 * MIB, seed });
    const a = await associate(target.port, { hdgst: true, ddgst: true });
    try {
      const io = a.io[0]!;
      io.corruptNextH2CDigest = true;
      const w = await io.write(50, randomData(1, 8192), LBA, false);
      expect(w.status).toBe(NvmeSc.TRANSIENT_TR_ERR);
      expect(w.cqe!.dnr).toBe(false);
      // Nothing was written, and the queue still works.
      const r = await io.read(50, 15, LBA);
      expect(findPatternMismatch(seed, 50 * LBA, r.data!)).toBe(-1);
      expect(target.stats.queues.find((q) => q.qid === 1)!.dataDigestErrors).toBe(1);
    } finally {
      closeAssociation(a);
      await target.close();
    }
  });
});

describe('spdk profile', () => {
  let target: Target;
  const seed = 21;
  beforeAll(async () => {
    target = await startTarget({ host: '127.0.0.1', port: 0, sizeBytes: 16 * MIB, seed, profile: 'spdk' });
  });
  afterAll(async () => {
    await target.close();
  });

  it('completes reads with the C2HData SUCCESS flag and no CapsuleResp when SQ flow control is off', async () => {
    const a = await associate(target.port, { cattr: 0x04 });
    try {
      const io = a.io[0]!;
      expect(io.maxh2cdata).toBe(128 * 1024);
      const before = io.arrivals.length;
      const r = await io.read(64, 255, LBA); // 128 KiB: one C2HData of SPDK's 128 KiB
      expect(r.cqe).toBeUndefined();
      expect(findPatternMismatch(seed, 64 * LBA, r.data!)).toBe(-1);
      const got = io.arrivals.slice(before);
      expect(got.map((x) => x.type)).toEqual([PduType.C2HData]);
      expect(got[0]!.success && got[0]!.last).toBe(true);
      // A write still gets a CapsuleResp.
      const w = await io.write(64, randomData(2, 65536), LBA, false);
      expect(w.cqe).toBeDefined();
      expect(w.status).toBe(0);
    } finally {
      closeAssociation(a);
    }
  });

  it('sends a CapsuleResp when the host keeps SQ flow control, and enforces 4 KiB in-capsule and 128 KiB max I/O', async () => {
    const a = await associate(target.port);
    try {
      const io = a.io[0]!;
      const r = await io.read(0, 7, LBA);
      expect(r.cqe).toBeDefined();
      expect((await io.write(0, Buffer.alloc(8192), LBA, true)).status).toBe(NvmeSc.SGL_INVALID_DATA);
      expect((await io.write(0, Buffer.alloc(4096), LBA, true)).status).toBe(0);
      expect((await io.read(0, 511, LBA)).status).toBe(NvmeSc.INVALID_FIELD);
      const id = parseIdCtrl((await a.admin.identify(NvmeIdCns.CTRL, 0)).data!);
      expect(id.mdts).toBe(5);
      expect(id.ioccsz).toBe((64 + 4096) / 16);
    } finally {
      closeAssociation(a);
    }
  });
});

describe('keep-alive', () => {
  it('closes the whole association when KATO passes without a Keep Alive', async () => {
    const target = await startTarget({ host: '127.0.0.1', port: 0, sizeBytes: MIB, kasMs: 100 });
    try {
      const a = await associate(target.port, { kato: 200 });
      await Promise.all([a.admin.closed, a.io[0]!.closed]);
      while (target.stats.connectionsOpen > 0) await new Promise((r) => setTimeout(r, 5));
      expect(target.stats.queues.filter((q) => q.closedBy === 'keep-alive').length).toBeGreaterThanOrEqual(1);
    } finally {
      await target.close();
    }
  });
});

describe('PDU data alignment', () => {
  it('pads C2HData to the host HPDA and takes H2C data padded to its CPDA', async () => {
    const seed = 17;
    const target = await startTarget({ host: '127.0.0.1', port: 0, sizeBytes: 16 * MIB, seed, cpda: 7, c2hSizeBytes: 4096 });
    const a = await associate(target.port, { hpda: 31, hdgst: true, ddgst: true });
    try {
      const io = a.io[0]!;
      expect(io.cpda).toBe(7);
      const r = await io.read(10, 31, LBA);
      expect(findPatternMismatch(seed, 10 * LBA, r.data!)).toBe(-1);
      const data = randomData(5, 16384);
      expect((await io.write(500, data, LBA, false)).status).toBe(0);
      expect((await io.write(600, data.subarray(0, 4096), LBA, true)).status).toBe(0);
      expect((await io.read(500, 31, LBA)).data!.equals(data)).toBe(true);
      expect((await io.read(600, 7, LBA)).data!.equals(data.subarray(0, 4096))).toBe(true);
    } finally {
      closeAssociation(a);
      await target.close();
    }
  });

  it('refuses H2C data that ignores the advertised CPDA (FES 1, FEI 3)', async () => {
    const target = await startTarget({ host: '127.0.0.1', port: 0, sizeBytes: MIB, cpda: 3 });
    const a = await associate(target.port);
    try {
      const io = a.io[0]!;
      io.cpda = 0; // a host that pads to 4 bytes instead of 16
      await expect(io.write(0, Buffer.alloc(512), LBA, true)).rejects.toThrow(/closed/);
      expect(io.termReqs[0]).toMatchObject({ fes: 1, fei: 3 });
    } finally {
      closeAssociation(a);
      await target.close();
    }
  });
});

describe('file-backed namespace', () => {
  it('reads back what was written through the file', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'ddplab-target-'));
    const target = await startTarget({ host: '127.0.0.1', port: 0, sizeBytes: 4 * MIB, file: join(dir, 'ns.img') });
    const a = await associate(target.port);
    try {
      const io = a.io[0]!;
      expect((await io.read(0, 7, LBA)).data!.equals(Buffer.alloc(4096))).toBe(true);
      const data = randomData(8, 8192);
      expect((await io.write(8, data, LBA, true)).status).toBe(0);
      expect((await io.read(8, 15, LBA)).data!.equals(data)).toBe(true);
    } finally {
      closeAssociation(a);
      await target.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
