import { describe, expect, it } from 'vitest';
import {
  autoSizeBytes,
  benchMetrics,
  benchOnTopology,
  benchPoints,
  payloadPerFrame,
  pointImpair,
  type BenchOptions,
  type OffloadMode,
} from '../../../src/lab/bench/bench.js';
import type { RunOptions, RunReport } from '../../../src/lab/run.js';
import type { Topology } from '../../../src/lab/topology.js';
import { newNvmeHostStats } from '../../../src/host/net/host-stats.js';
import { newNicRxStats } from '../../../src/nicemu/nic-stats.js';
import { newTcpStats } from '../../../src/host/net/tcp-stats.js';
import { newImpairStats } from '../../../src/nicemu/port/impair.js';
import { newUlpDdpStats } from '../../../src/nicemu/ddp/stats.js';
import { ddpReport, newNvmeDdpUlpStats } from '../../../src/host/nvme/ddp.js';
import { PortCounters } from '../../../src/nicemu/port/port.js';

const TOPO: Topology = {
  id: 'test',
  tgtNs: 'ddplab-test-tgt',
  hostNs: 'ddplab-test-host',
  tgtIf: 'tgt0',
  hostIf: 'host0',
  tgtMac: '02:00:00:00:00:01',
  hostMac: '02:00:00:00:00:02',
  mtu: 1500,
  targetCc: 'cubic',
  targetIp: '192.0.2.1',
  hostIp: '192.0.2.2',
  prefixLen: 24,
};

function baseOptions(over: Partial<BenchOptions> = {}): BenchOptions {
  return {
    grid: { drop: [0, 1e-4], reorder: [0], offload: ['none', 'ddp-crc'], rw: ['read'], bs: ['128k'] },
    seeds: 2,
    seedBase: 10,
    size: { kind: 'fixed', bytes: 1 << 20 },
    iodepth: 8,
    queues: 1,
    digest: 'data',
    mtu: 1500,
    order: 'fifo',
    interleave: false,
    c2hSize: '0',
    ...over,
  };
}

/** A report as a run under `o` would give, with a DDP object when offload is on. */
function fakeReport(o: RunOptions, offload: OffloadMode): RunReport {
  const drop = o.impair?.rx?.drop ?? 0;
  const frames = 100_000;
  const lost = Math.round(frames * drop);
  const rx = { ...newImpairStats(), frames, dropped: lost, passed: frames - lost };
  const c2h = 100 << 20;
  const unplaced = lost * 4096;
  const report: RunReport = {
    ok: true,
    run: { id: 'test', mtu: 1500, digest: o.digest, offload, order: o.order, interleave: o.interleave, c2hSize: o.c2hSize, profile: o.profile, queues: o.queues },
    verify: { bytes: c2h, mismatches: 0 },
    io: { reads: 800, writes: 0, readBytes: c2h, writeBytes: 0, iops: 800, MBps: offload === 'none' ? 100 : 120, elapsedMs: 1000 },
    latency: { p50Us: 1, p99Us: 2, p999Us: 3 },
    host: { ...newNvmeHostStats(), crcBytes: 0 },
    nic: { ...newNicRxStats(), ...newUlpDdpStats(), 'rx-nvme-tcp-resync-req': lost, 'rx-nvme-tcp-resync': lost, 'rx-nvme-tcp-lost-sync': lost },
    tcp: newTcpStats(),
    port: new PortCounters().snapshot(),
    ...(o.impair !== undefined ? { impair: { config: o.impair, rx, tx: newImpairStats() } } : {}),
    cpu: { userMs: 512, systemMs: 0, hostThread: { userMs: 400, systemMs: 0 }, nicThread: null, target: { userMs: 100, systemMs: 50 } },
    targetTcp: { TcpRetransSegs: lost },
    // As host-run builds it: present without offload too (nothing offered, nothing placed).
    ddp: ddpReport(
      offload === 'ddp' || offload === 'ddp-crc' ? offload : 'none',
      { ...newNvmeHostStats(), c2hDataBytes: c2h, copySkippedBytes: offload === 'none' ? 0 : c2h - unplaced },
      { ...newUlpDdpStats(), 'rx-nvme-tcp-bytes': offload === 'none' ? 0 : c2h - unplaced },
      { ...newNvmeDdpUlpStats(), bytesOffered: offload === 'none' ? 0 : c2h },
    ),
  };
  return report;
}

describe('bench grid', () => {
  it('lists every cell, the offload modes of one seed back to back', () => {
    const pts = benchPoints(baseOptions());
    expect(pts.length).toBe(2 * 2 * 2);
    expect(pts.map((p) => `${p.drop}/${p.offload}/${p.seed}`)).toEqual([
      '0/none/10',
      '0/ddp-crc/10',
      '0/none/11',
      '0/ddp-crc/11',
      '0.0001/none/10',
      '0.0001/ddp-crc/10',
      '0.0001/none/11',
      '0.0001/ddp-crc/11',
    ]);
  });

  it('sweeps NIC profiles for the modes that run the DDP engine only, back to back with the other modes', () => {
    const o = baseOptions();
    const pts = benchPoints({ ...o, grid: { ...o.grid, drop: [0], nic: ['hardware', 'ideal'] }, seeds: 1 });
    expect(pts.map((p) => `${p.offload}/${p.nic ?? '-'}`)).toEqual(['none/-', 'ddp-crc/hardware', 'ddp-crc/ideal']);
  });

  it('sizes runs so that a loss rate yields the asked-for loss events, within bounds', () => {
    const auto = { kind: 'auto', minLossEvents: 4, minBytes: 64 << 20, maxBytes: 1 << 30 } as const;
    const at = (p: number): number => autoSizeBytes(p, 1500, auto);
    expect(at(0)).toBe(64 << 20);
    expect(at(1e-3)).toBe(64 << 20);
    // 1e-5: 4 expected losses need 400k full frames.
    expect((at(1e-5) / payloadPerFrame(1500)) * 1e-5).toBeGreaterThanOrEqual(4);
    expect(at(1e-5) % (1 << 20)).toBe(0);
    expect(at(1e-7)).toBe(1 << 30);
  });

  it('gives every run of a sweep the size its smallest non-zero loss rate needs', () => {
    const auto = { kind: 'auto', minLossEvents: 4, minBytes: 64 << 20, maxBytes: 1 << 30 } as const;
    const pts = benchPoints(baseOptions({ size: auto, grid: { drop: [0, 1e-3, 1e-5], reorder: [0], offload: ['none'], rw: ['read'], bs: ['4k'] }, seeds: 1 }));
    expect(new Set(pts.map((p) => p.sizeBytes))).toEqual(new Set([autoSizeBytes(1e-5, 1500, auto)]));
    expect(pts[0]!.sizeBytes).toBeGreaterThan(64 << 20);
    const clean = benchPoints(baseOptions({ size: auto, grid: { drop: [0], reorder: [1e-3], offload: ['none'], rw: ['read'], bs: ['4k'] }, seeds: 1 }));
    expect(clean[0]!.sizeBytes).toBe(64 << 20);
  });

  it('impairs only what a point asks for, seeded by the point', () => {
    const o = baseOptions({ reorderDepth: 2, extraRx: { dup: 0.001 } });
    const [clean, lossy] = [benchPoints(o)[0]!, benchPoints(o)[6]!];
    expect(pointImpair(o, clean)).toEqual({ seed: 10, rx: { dup: 0.001 } });
    expect(pointImpair(baseOptions(), clean)).toBeUndefined();
    expect(pointImpair(o, { ...lossy, reorder: 0.01 })).toEqual({ seed: 11, rx: { dup: 0.001, drop: 1e-4, reorder: 0.01, reorderDepth: 2 } });
  });
});

describe('bench sweep', () => {
  it('runs every point once on the one topology, with its impairment, and keeps every report', async () => {
    const seen: { o: RunOptions; offload: OffloadMode; topo: string }[] = [];
    const done: number[] = [];
    const result = await benchOnTopology(
      TOPO,
      baseOptions({
        runPoint: (topo, o) => {
          seen.push({ o, offload: o.offload ?? 'none', topo: topo.id });
          return Promise.resolve(fakeReport(o, o.offload ?? 'none'));
        },
        onRunDone: (_run, k) => done.push(k),
      }),
    );
    expect(seen.length).toBe(8);
    expect(new Set(seen.map((s) => s.topo))).toEqual(new Set(['test']));
    expect(seen.map((s) => s.o.workload.seed)).toEqual([10, 10, 11, 11, 10, 10, 11, 11]);
    expect(seen.map((s) => s.offload)).toEqual(['none', 'ddp-crc', 'none', 'ddp-crc', 'none', 'ddp-crc', 'none', 'ddp-crc']);
    expect(seen[4]!.o.impair).toEqual({ seed: 10, rx: { drop: 1e-4 } });
    expect(seen[6]!.o.impair).toEqual({ seed: 11, rx: { drop: 1e-4 } });
    expect(seen[0]!.o.impair).toBeUndefined();
    expect(seen.every((s) => s.o.workload.size === 1 << 20 && s.o.digest === 'data' && s.o.workload.verify === true)).toBe(true);
    expect(done).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(result.runs.length).toBe(8);
    expect(result.runs.every((r) => r.report !== null && !('workload' in r.report))).toBe(true);
    expect(result.options).not.toHaveProperty('runPoint');
  });

  it('records a run that throws and goes on', async () => {
    let n = 0;
    const result = await benchOnTopology(
      TOPO,
      baseOptions({
        runPoint: (_t, o) => {
          n++;
          if (n === 2) return Promise.reject(new Error('target process ended mid-run'));
          return Promise.resolve(fakeReport(o, o.offload ?? 'none'));
        },
      }),
    );
    expect(result.runs.length).toBe(8);
    expect(result.runs[1]!.metrics.ok).toBe(false);
    expect(result.runs[1]!.metrics.error).toBe('target process ended mid-run');
    expect(result.runs[1]!.report).toBeNull();
    expect(result.runs.filter((r) => r.metrics.ok).length).toBe(7);
  });

  it('derives the compared figures from a report', () => {
    const o = { ...baseOptions(), workload: { rw: 'read', seed: 1 }, impair: { seed: 1, rx: { drop: 1e-3 } }, profile: 'linux', vethOffloads: false } as unknown as RunOptions;
    const m = benchMetrics(fakeReport(o, 'ddp-crc'));
    expect(m.lossEvents).toBe(100);
    expect(m.targetRetrans).toBe(100);
    expect(m.goodputMBps).toBe(120);
    expect(m.hostCpuMsPerGiB).toBeCloseTo(512 / (100 / 1024), 6);
    expect(m.ddp).not.toBeNull();
    expect(m.ddp!.unplacedLostSyncBytes).toBe(100 * 4096);
    expect(m.ddp!.resyncRequests).toBe(100);
    expect(benchMetrics(fakeReport(o, 'none')).ddp).toBeNull();
    // The DDP engine's own time (hardware's work in a real NIC) is taken out of the host's CPU.
    const r = fakeReport(o, 'ddp-crc');
    const withEngine = benchMetrics({ ...r, nic: { ...r.nic, 'rx-nvme-tcp-engine-us': 256_000 } });
    expect(withEngine.hostCpuMsPerGiB).toBeCloseTo(512 / (100 / 1024), 6);
    expect(withEngine.hostCpuMsPerGiBWithoutNic).toBeCloseTo(256 / (100 / 1024), 6);
    // On its own thread the NIC model is that thread's whole CPU (the engine is not timed there).
    const onThread = benchMetrics({ ...r, cpu: { ...r.cpu, nicThread: { userMs: 100, systemMs: 28 } } });
    expect(onThread.hostCpuMsPerGiB).toBeCloseTo(512 / (100 / 1024), 6);
    expect(onThread.hostCpuMsPerGiBWithoutNic).toBeCloseTo(384 / (100 / 1024), 6);
  });
});
