/**
 * The host ULP's side of DDP: what a clean stream costs the host with DDP
 * and DDGST offload (only PDU headers and digests copied, no data CRC),
 * which reads stay on the copy path and why, the pending-resync
 * bookkeeping, and teardown completing the request only at teardownDone.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/host/net/clock.js';
import { NvmeDdp, ddpReport } from '../../../src/host/nvme/ddp.js';
import { NvmeQueue } from '../../../src/host/nvme/queue.js';
import { NvmeTcpDdpDevice, ULP_DDP_RESYNC_PENDING, type DdpSocket, type NvmeTcpDdpDeviceOptions, type NvmeTcpSkConfig, type SkAddRefusal, type UlpDdpOps } from '../../../src/nicemu/ddp/offload.js';
import type { FlowKey } from '../../../src/nicemu/flow-table.js';
import { NicEmu } from '../../../src/nicemu/nic.js';
import { NvmeSc } from '../../../src/wire/nvme-status.js';
import { PduType, emitPduBuffer } from '../../../src/wire/nvme-tcp-pdu.js';
import { ddpScenario, runDdpScenario, type DdpScenario } from '../../support/host/ddp-queue-rig.js';
import { TestTransport } from '../../support/host/scripted-transport.js';
import { c2hData, capsuleResp } from '../../support/nicemu/ddp-engine-rig.js';
import { SilentPort } from '../../support/nicemu/silent-port.js';

function clean(base: DdpScenario, reads: { len: number; guardBefore: number }[]): DdpScenario {
  return {
    ...base,
    hdgst: true,
    ddgst: true,
    depth: 32,
    cidGeneration: false,
    reads,
    limits: {},
    setupFailEvery: 0,
    capsOffAt: -1,
    ddgstOffAt: -1,
    badDdgstReads: new Set(),
    badHdgst: false,
    lureReads: new Set(),
    impair: { drop: 0, dup: 0, reorder: 0, forge: 0, corruptFirst: 0, maxSeg: 1448 },
  };
}

describe('NvmeDdp on a clean stream', () => {
  const reads = [128, 64, 32, 256, 100, 128].map((k, i) => ({ len: k * 1024, guardBefore: 37 + i * 1000 }));
  const sc = clean(ddpScenario(3), reads);

  it('with ddp-crc the host copies only PDU headers and digests and CRCs no data: placement 100%', async () => {
    const r = await runDdpScenario(sc, 'ddp-crc');
    expect(r.outcomes.every((o) => 'status' in o && o.status === NvmeSc.SUCCESS)).toBe(true);
    const dataBytes = reads.reduce((n, x) => n + x.len, 0);
    expect(r.host.c2hDataBytes).toBe(dataBytes);
    expect(r.host.copySkippedBytes).toBe(dataBytes);
    // Everything received that is not C2HData payload: ICResp, headers, HDGSTs, padding, DDGSTs.
    expect(r.host.copiedBytes).toBe(128 + r.streamBytes - dataBytes);
    expect(r.host.crcDataRxBytes).toBe(0);
    expect(r.host.ddgstOffloaded).toBe(r.host.c2hDataPdus);
    expect(r.nic['rx-nvme-tcp-crc-ok']).toBe(r.host.c2hDataPdus);
    expect(r.ulp.readsOffloaded).toBe(reads.length);
    const rep = ddpReport('ddp-crc', r.host, r.nic, r.ulp);
    expect(rep.placementPct).toBe(100);
    expect(rep.notPlacedBytes).toEqual({ belowThreshold: 0, limits: 0, lostSync: 0 });
  });

  it('with ddp alone the data is placed but the host still CRCs every data byte', async () => {
    const r = await runDdpScenario(sc, 'ddp');
    const dataBytes = reads.reduce((n, x) => n + x.len, 0);
    expect(r.host.copySkippedBytes).toBe(dataBytes);
    expect(r.host.crcDataRxBytes).toBe(dataBytes);
    expect(r.host.ddgstOffloaded).toBe(0);
  });

  it('without offload the host copies and CRCs everything', async () => {
    const r = await runDdpScenario(sc, 'none');
    expect(r.host.copySkippedBytes).toBe(0);
    expect(r.host.copiedBytes).toBe(128 + r.streamBytes);
  });
});

describe('NvmeDdp: reads that stay on the copy path', () => {
  it('counts reads below the threshold and over the SGL limit, and the report splits the copied bytes by cause', async () => {
    const reads = [
      { len: 8 * 1024, guardBefore: 100 },
      { len: 1024 * 1024, guardBefore: 100 },
      { len: 64 * 1024, guardBefore: 100 },
    ];
    const sc = clean(ddpScenario(4), reads);
    const r = await runDdpScenario(sc, 'ddp-crc');
    expect(r.outcomes.every((o) => 'status' in o && o.status === NvmeSc.SUCCESS)).toBe(true);
    expect(r.ulp).toMatchObject({ readsOffered: 2, readsOverLimits: 1, readsOffloaded: 1, bytesRefused: 1024 * 1024 });
    const rep = ddpReport('ddp-crc', r.host, r.nic, r.ulp);
    expect(rep.notPlacedBytes).toEqual({ belowThreshold: 8 * 1024, limits: 1024 * 1024, lostSync: 0 });
    expect(rep.placedBytes).toBe(64 * 1024);
    // The NIC still checks the digests of PDUs it does not place.
    expect(r.host.crcDataRxBytes).toBe(0);
  });

  it('offers nothing when CIDs carry a generation counter (the NIC has no full CID range)', async () => {
    const sc = { ...clean(ddpScenario(5), [{ len: 64 * 1024, guardBefore: 10 }]), cidGeneration: true };
    const r = await runDdpScenario(sc, 'ddp');
    expect(r.ulp.readsOverLimits).toBe(1);
    expect(r.nic['rx-nvme-tcp-setup']).toBe(0);
    expect(r.host.copySkippedBytes).toBe(0);
  });
});

/** A device that records the ULP ops it was given and the resync answers it gets. */
class SpyDevice extends NvmeTcpDdpDevice {
  ops: UlpDdpOps | undefined;
  sk: DdpSocket | undefined;
  readonly answers: number[] = [];
  override skAdd(sk: DdpSocket, config: NvmeTcpSkConfig, ulp: UlpDdpOps): SkAddRefusal | undefined {
    this.ops = ulp;
    this.sk = sk;
    return super.skAdd(sk, config, ulp);
  }
  override resync(key: FlowKey, seq: number): void {
    this.answers.push(seq);
    super.resync(key, seq);
  }
}

const KEY: FlowKey = { remoteIp: 1, remotePort: 4420, localIp: 2, localPort: 40_000 };

async function queueWithDdp(opts: NvmeTcpDdpDeviceOptions = {}) {
  const nic = new NicEmu(new SilentPort(), { mac: Buffer.from([2, 0, 0, 0, 0, 2]) });
  nic.addFlow({ key: KEY, deliver: () => undefined });
  const dev = new SpyDevice(nic, opts);
  const ddp = new NvmeDdp(dev);
  const t = new TestTransport(5000);
  const q = new NvmeQueue(t, { qid: 1, depth: 8, hdgst: false, ddgst: false, clock: new VirtualClock(), ddp });
  const p = q.connect();
  t.deliver(emitPduBuffer({ type: PduType.ICResp, pfv: 0, cpda: 0, hdgstEnable: false, ddgstEnable: false, maxh2cdata: 0x40_0000 }));
  await p;
  expect(ddp.attach(q, { key: KEY, socket: { readSeq: t.rcvNxt } })).toBeUndefined();
  return { dev, ddp, t, q };
}

describe('NvmeDdp: resync and teardown bookkeeping', () => {
  it("hands sk_add the socket's read position and the end of what it already holds (out-of-order data included)", async () => {
    const nic = new NicEmu(new SilentPort(), { mac: Buffer.from([2, 0, 0, 0, 0, 2]) });
    nic.addFlow({ key: KEY, deliver: () => undefined });
    const dev = new SpyDevice(nic);
    const ddp = new NvmeDdp(dev);
    const t = new TestTransport(5000);
    const q = new NvmeQueue(t, { qid: 1, depth: 8, hdgst: false, ddgst: false, clock: new VirtualClock(), ddp });
    const p = q.connect();
    t.deliver(emitPduBuffer({ type: PduType.ICResp, pfv: 0, cpda: 0, hdgstEnable: false, ddgstEnable: false, maxh2cdata: 0x40_0000 }));
    await p;
    expect(ddp.attach(q, { key: KEY, socket: { readSeq: t.rcvNxt, heldEndSeq: t.rcvNxt + 3000 } })).toBeUndefined();
    expect(dev.sk).toMatchObject({ nextPduSeq: t.rcvNxt, heldEndSeq: t.rcvNxt + 3000 });
  });

  it('confirms a pending request only at a PDU header starting exactly at it, once', async () => {
    const { dev, ddp } = await queueWithDdp();
    expect(dev.ops!.resyncRequest(KEY, 0x10, ULP_DDP_RESYNC_PENDING)).toBe(true);
    ddp.onPduHeaderAt(0xffff_ff00);
    // A header past the request is no answer (the series has no negative one): the request stays pending.
    ddp.onPduHeaderAt(0x40);
    expect(dev.answers).toEqual([]);
    // After the wrap of the sequence space, the exact header confirms it.
    ddp.onPduHeaderAt(0x10);
    ddp.onPduHeaderAt(0x10);
    expect(dev.answers).toEqual([0x10]);
    expect(ddp.stats).toMatchObject({ resyncRequests: 1, resyncResponses: 1 });
  });

  it('stays silent on a wrong guess: a request in the middle of the data gets no answer from the stream that follows', async () => {
    const { dev, t, q } = await queueWithDdp({ defer: (fn) => fn() });
    const p = q.submit((cid, dptr) => ({ kind: 'read', cid, nsid: 1, slba: 0, nlb: 7, dptr }), { dir: 'read', buf: Buffer.alloc(4096) });
    const data = c2hData(0, 0, Buffer.alloc(4096, 1), { last: true });
    const at = t.rcvNxt;
    // The NIC guesses a header in the middle of the data; the parser's next header is the CapsuleResp, past it.
    dev.ops!.resyncRequest(KEY, at + 100, ULP_DDP_RESYNC_PENDING);
    t.deliver(Buffer.concat([data, capsuleResp(0)]), { chunkBytes: 1000 });
    expect(dev.answers).toEqual([]);
    expect((await p).status).toBe(0);
  });

  it('confirms from the queue parser at the stream sequence number of the exact header', async () => {
    const { dev, t, q } = await queueWithDdp({ defer: (fn) => fn() });
    const p = q.submit((cid, dptr) => ({ kind: 'read', cid, nsid: 1, slba: 0, nlb: 7, dptr }), { dir: 'read', buf: Buffer.alloc(4096) });
    const data = c2hData(0, 0, Buffer.alloc(4096, 1), { last: true });
    const at = t.rcvNxt;
    dev.ops!.resyncRequest(KEY, at + data.length, ULP_DDP_RESYNC_PENDING);
    t.deliver(Buffer.concat([data, capsuleResp(0)]), { chunkBytes: 1000 });
    expect(dev.answers).toEqual([at + data.length]);
    expect((await p).status).toBe(0);
  });

  it('keeps only the latest request: one replaced while the parser is inside a PDU is not confirmed at its header', async () => {
    const { dev, t, q, ddp } = await queueWithDdp({ defer: (fn) => fn() });
    const p = q.submit((cid, dptr) => ({ kind: 'read', cid, nsid: 1, slba: 0, nlb: 7, dptr }), { dir: 'read', buf: Buffer.alloc(4096) });
    const data = c2hData(0, 0, Buffer.alloc(4096, 1), { last: true });
    const resp = capsuleResp(0);
    const at = t.rcvNxt;
    dev.ops!.resyncRequest(KEY, at + data.length, ULP_DDP_RESYNC_PENDING);
    t.deliver(data.subarray(0, 1000));
    // Mid-PDU the NIC asks again further on: the CapsuleResp header it first named no longer answers anything.
    dev.ops!.resyncRequest(KEY, at + data.length + resp.length, ULP_DDP_RESYNC_PENDING);
    t.deliver(Buffer.concat([data.subarray(1000), resp]));
    expect(dev.answers).toEqual([]);
    expect(ddp.stats).toMatchObject({ resyncRequests: 2, resyncResponses: 0 });
    expect((await p).status).toBe(0);
  });

  it('completes a read only when the NIC reports its teardown done', async () => {
    const deferred: (() => void)[] = [];
    const { dev, t, q, ddp } = await queueWithDdp({ defer: (fn) => deferred.push(fn) });
    const buf = Buffer.alloc(64 * 1024);
    let settled = false;
    const p = q.submit((cid, dptr) => ({ kind: 'read', cid, nsid: 1, slba: 0, nlb: 127, dptr }), { dir: 'read', buf }).then((c) => {
      settled = true;
      return c;
    });
    expect(dev.getStats()['rx-nvme-tcp-setup']).toBe(1);
    t.deliver(Buffer.concat([c2hData(0, 0, Buffer.alloc(64 * 1024, 7), { last: true }), capsuleResp(0)]));
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    expect(ddp.stats.teardownsAsync).toBe(1);
    deferred.splice(0).forEach((fn) => fn());
    const cqe = await p;
    expect(cqe.status).toBe(0);
    expect(buf.every((b) => b === 7)).toBe(true);
  });

  it('completes at once when the NIC finishes the teardown inside the call', async () => {
    const { q, t, ddp } = await queueWithDdp({ defer: (fn) => fn() });
    const buf = Buffer.alloc(32 * 1024);
    const p = q.submit((cid, dptr) => ({ kind: 'read', cid, nsid: 1, slba: 0, nlb: 63, dptr }), { dir: 'read', buf });
    t.deliver(Buffer.concat([c2hData(0, 0, Buffer.alloc(32 * 1024, 9), { last: true }), capsuleResp(0)]));
    expect((await p).status).toBe(0);
    expect(ddp.stats.teardownsAsync).toBe(0);
  });
});
