/**
 * The software NIC on its own thread (the default for offload none, ddp,
 * ddp-crc) against the NIC in the host's thread (--no-nic-thread), on the
 * live topology: the application must get the same bytes — the same
 * SHA-256 for every read — with the same placement and the same host
 * copies, and the report must say where the NIC ran (cpu.nicThread).
 * Offload is a pure optimisation, and so is a thread.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { liveRunIds, runJson } from '../../support/lab/live-run-rig.js';
import { readReadHashes } from '../../../src/replay/live-read-hashes.js';

const newId = liveRunIds('nt');
const dir = mkdtempSync(join(tmpdir(), 'ddplab-nic-thread-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each([
  { offload: 'none', digest: 'none' },
  { offload: 'ddp-crc', digest: 'data' },
])('ddplab run --offload $offload --digest $digest, on the NIC thread and in the host thread', ({ offload, digest }) => {
  it('gives every read the same bytes and the same placement; cpu.nicThread says where the NIC ran', async () => {
    const common = ['--rw', 'randread', '--bs', '128k', '--iodepth', '16', '--size', '32m', '--seed', '5', '--offload', offload, '--digest', digest];
    const onThread = await runJson([...common, '--id', newId('a'), '--hash-reads', join(dir, `${offload}-thread.json`)]);
    const inThread = await runJson([...common, '--id', newId('b'), '--no-nic-thread', '--hash-reads', join(dir, `${offload}-host.json`)]);
    for (const r of [onThread, inThread]) {
      expect(r.error).toBeUndefined();
      expect(r.ok).toBe(true);
      expect(r.verify.mismatches).toBe(0);
      expect(r.verify.bytes).toBe(32 << 20);
    }
    // Completion order may differ between two runs; the set of (LBA, length, SHA-256) may not.
    const reads = (name: string): string[] =>
      readReadHashes(join(dir, name))
        .map((h) => `${h.slba}:${h.lenBytes}:${h.sha256}`)
        .sort();
    const a = reads(`${offload}-thread.json`);
    expect(a.length).toBe(256);
    expect(reads(`${offload}-host.json`)).toEqual(a);
    expect(onThread.cpu.nicThread).not.toBeNull();
    expect(onThread.cpu.nicThread!.userMs + onThread.cpu.nicThread!.systemMs).toBeGreaterThan(0);
    expect(inThread.cpu.nicThread).toBeNull();
    expect(onThread.ddp.placementPct).toBe(inThread.ddp.placementPct);
    if (offload === 'ddp-crc') {
      expect(onThread.ddp.placementPct).toBe(100);
      expect(onThread.ddp.hostCrcDataBytes).toBe(inThread.ddp.hostCrcDataBytes);
    }
    // The NIC thread's counters reach the report. GRO (on by default, as in Linux) hands TCP fewer, larger
    // packets than the NIC received segments; in the host's thread every segment goes up on its own.
    expect(onThread.port.rxFrames).toBeGreaterThan(0);
    expect(onThread.tcp.inSegs * 4).toBeLessThan(onThread.nic.rx_tcp_segments);
    expect(inThread.tcp.inSegs).toBe(inThread.nic.rx_tcp_segments);
    // Receive arenas: lent and given back on the NIC thread (with offload none the payload crosses in
    // them), none kept; no arenas in the host's thread.
    expect(onThread.rxArenas).toBeDefined();
    expect(onThread.rxArenas!.kept).toBe(0);
    if (offload === 'none') expect(onThread.rxArenas!.givenBack).toBeGreaterThan(0);
    expect(inThread.rxArenas).toBeUndefined();
  });
});

describe('ddplab run --no-gro', () => {
  it('hands TCP every segment the NIC thread received, and the reads the same bytes', async () => {
    const common = ['--rw', 'randread', '--bs', '128k', '--iodepth', '16', '--size', '16m', '--seed', '6', '--offload', 'ddp-crc', '--digest', 'data'];
    const gro = await runJson([...common, '--id', newId('g'), '--hash-reads', join(dir, 'gro.json')]);
    const noGro = await runJson([...common, '--id', newId('n'), '--no-gro', '--hash-reads', join(dir, 'nogro.json')]);
    for (const r of [gro, noGro]) {
      expect(r.error).toBeUndefined();
      expect(r.verify.mismatches).toBe(0);
      expect(r.verify.bytes).toBe(16 << 20);
      expect(r.cpu.nicThread).not.toBeNull();
      expect(r.ddp.placementPct).toBe(100);
    }
    // Every segment on its own — but for the few the NIC thread steered after the host had closed the
    // connection and before its flow removal reached the thread (the FIN exchange at the end).
    expect(noGro.tcp.inSegs).toBeLessThanOrEqual(noGro.nic.rx_tcp_segments);
    expect(noGro.tcp.inSegs).toBeGreaterThanOrEqual(noGro.nic.rx_tcp_segments - 4);
    expect(gro.tcp.inSegs * 4).toBeLessThan(gro.nic.rx_tcp_segments);
    const reads = (name: string): string[] =>
      readReadHashes(join(dir, name))
        .map((h) => `${h.slba}:${h.lenBytes}:${h.sha256}`)
        .sort();
    expect(reads('nogro.json')).toEqual(reads('gro.json'));
  });
});
