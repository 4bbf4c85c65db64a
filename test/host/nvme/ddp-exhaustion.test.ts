/**
 * Exhausting the DDP offload's limits end to end: more I/O
 * queues than the NIC offloads sockets, more reads in flight than a socket
 * has contexts, SGLs longer than the NIC takes. The limits' refusals as
 * such are unit-tested in test/nicemu/ddp/offload.test.ts; here every read
 * runs through NIC → TCP → NVMe/TCP queue against a controller, and the
 * checks are what a user of a run sees: every byte right (and nothing
 * written around the buffers), the fallback counted in the report, the
 * NIC's state never larger than its limit, and limits that free up again.
 */
import { describe, expect, it } from 'vitest';
import { sumNvmeHostStats } from '../../../src/host/net/host-stats.js';
import { ddpReport, type DdpReport } from '../../../src/host/nvme/ddp.js';
import type { Sgl } from '../../../src/nicemu/ddp/sgl.js';
import type { FlowKey } from '../../../src/nicemu/flow-table.js';
import { NvmeLink, type LinkQueue, type LinkRead } from '../../support/host/nvme-link-rig.js';

const KIB = 1024;

function report(link: NvmeLink, queues: readonly LinkQueue[] = link.queues): DdpReport {
  return ddpReport('ddp-crc', sumNvmeHostStats(queues.map((q) => q.queue.stats)), link.device!.getStats(), link.ddp!.stats());
}

function expectAllRight(reads: readonly LinkRead[]): void {
  for (const [i, r] of reads.entries()) {
    expect({ i, status: r.status, error: r.error, intact: r.intact, guards: r.guardsIntact }).toEqual({ i, status: 0, error: undefined, intact: true, guards: true });
  }
}

/** The most setups any socket of the device had at once, sampled at every setup call. */
function watchInflight(link: NvmeLink): () => number {
  const dev = link.device!;
  const setup = dev.setup.bind(dev);
  let peak = 0;
  dev.setup = (key: FlowKey, cid: number, sgl: Sgl) => {
    const why = setup(key, cid, sgl);
    peak = Math.max(peak, dev.engineOf(key)?.inflightSetups ?? 0);
    return why;
  };
  return () => peak;
}

describe('DDP exhaustion: more I/O queues than the NIC offloads sockets', () => {
  it('offloads the first maxSockets queues; the others read every byte right on the copy path, counted per socket and per read', async () => {
    const link = new NvmeLink({ offload: 'ddp-crc', limits: { maxSockets: 2 } });
    for (let i = 0; i < 4; i++) await link.addQueue();
    expect(link.offload()).toBe(2);
    const offloaded = link.queues.filter((q) => link.device!.engineOf(q.key) !== undefined);
    expect(offloaded.map((q) => q.qid)).toEqual([1, 2]);

    const reads = await link.readAll(link.queues.flatMap((q) => [0, 1, 2].map((k) => ({ q, slba: 1000 * q.qid + 300 * k, len: 64 * KIB }))));
    expectAllRight(reads);
    const nic = link.device!.getStats();
    expect(nic['rx-nvme-tcp-sk-add']).toBe(2);
    expect(nic['rx-nvme-tcp-sk-add-fail']).toBe(2);
    const rep = report(link);
    expect(rep.fallback).toEqual({ socketsRefused: 2, readsOverLimits: 0, readsRefusedByNic: 6 });
    expect(rep.placedBytes).toBe(6 * 64 * KIB);
    expect(rep.notPlacedBytes).toEqual({ belowThreshold: 0, limits: 6 * 64 * KIB, lostSync: 0 });
    expect(rep.placementPct).toBe(50);

    // A queue that goes away gives its socket back: the next queue is offloaded.
    link.queues[0]!.queue.abort();
    expect(link.device!.getStats()['rx-nvme-tcp-sk-del']).toBe(1);
    const fifth = await link.addQueue();
    expect(link.offload([fifth])).toBe(1);
    const more = await link.readAll([{ q: fifth, slba: 9000, len: 128 * KIB }]);
    expectAllRight(more);
    expect(link.device!.getStats()['rx-nvme-tcp-bytes']).toBe(6 * 64 * KIB + 128 * KIB);
  });
});

describe('DDP exhaustion: more reads in flight than a socket has contexts', () => {
  it('maps maxSetupsPerSocket reads, copies the rest, never holds more contexts, and maps again once they are torn down', async () => {
    const link = new NvmeLink({ offload: 'ddp-crc', limits: { maxSetupsPerSocket: 2 }, depth: 32 });
    const q = await link.addQueue();
    expect(link.offload()).toBe(1);
    const peak = watchInflight(link);

    const wave1 = await link.readAll(Array.from({ length: 16 }, (_, k) => ({ q, slba: 200 * k, len: 64 * KIB, misalign: (k % 4) * 512 })));
    expectAllRight(wave1);
    expect(peak()).toBe(2);
    expect(link.device!.engineOf(q.key)!.inflightSetups).toBe(0);
    const wave2 = await link.readAll([0, 1].map((k) => ({ q, slba: 5000 + 200 * k, len: 64 * KIB })));
    expectAllRight(wave2);

    const nic = link.device!.getStats();
    expect(nic['rx-nvme-tcp-setup']).toBe(4);
    expect(nic['rx-nvme-tcp-setup-fail']).toBe(14);
    expect(nic['rx-nvme-tcp-teardown']).toBe(4);
    const rep = report(link);
    expect(rep.fallback).toEqual({ socketsRefused: 0, readsOverLimits: 0, readsRefusedByNic: 14 });
    expect(rep.placedBytes).toBe(4 * 64 * KIB);
    expect(rep.notPlacedBytes.limits).toBe(14 * 64 * KIB);
    expect(rep.notPlacedBytes.lostSync).toBe(0);
  });
});

describe('DDP exhaustion: SGLs longer than the NIC takes', () => {
  it('maps a read of maxDdpSglLen pages, copies one a page longer and one that straddles an extra page, all with the right bytes', async () => {
    const link = new NvmeLink({ offload: 'ddp-crc', limits: { maxDdpSglLen: 8 } });
    const q = await link.addQueue();
    link.offload();
    const reads = await link.readAll([
      { q, slba: 0, len: 32 * KIB },
      // Same length, 512 bytes into its first page: 9 entries.
      { q, slba: 100, len: 32 * KIB, misalign: 512 },
      { q, slba: 200, len: 64 * KIB },
    ]);
    expectAllRight(reads);
    const nic = link.device!.getStats();
    // The ULP refuses over-long SGLs itself: the NIC is asked only for the one that fits.
    expect(nic['rx-nvme-tcp-setup']).toBe(1);
    expect(nic['rx-nvme-tcp-setup-fail']).toBe(0);
    const rep = report(link);
    expect(rep.fallback).toEqual({ socketsRefused: 0, readsOverLimits: 2, readsRefusedByNic: 0 });
    expect(rep.placedBytes).toBe(32 * KIB);
    expect(rep.notPlacedBytes.limits).toBe(96 * KIB);
  });
});
