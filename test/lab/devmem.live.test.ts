/**
 * Devmem receive end to end on the live topology (root): `ddplab run
 * --offload devmem-tcp|devmem-nvme`, the target on kernel TCP, every read
 * verified through the dmabuf's device view.
 */
import { describe, expect, it } from 'vitest';
import type { RunReport } from '../../src/lab/run.js';
import { liveRunIds, runJson } from '../support/lab/live-run-rig.js';

const newId = liveRunIds('dm');

/** Checks that hold for every devmem run: verified, the data stayed on the device, every token went back. */
function expectDevmemRun(r: RunReport): NonNullable<RunReport['devmem']> {
  expect(r.error).toBeUndefined();
  expect(r.ok).toBe(true);
  expect(r.verify.mismatches).toBe(0);
  const d = r.devmem!;
  expect(d).toBeDefined();
  expect(d.c2hDataBytes).toBeGreaterThan(0);
  // The consumer read exactly the data through its device view.
  expect(d.deviceReads.consumerBytes).toBe(d.deviceDataBytes);
  expect(d.tokens.outstandingAfterWorkload).toBe(0);
  expect(d.tokens.returnedDontneed + d.tokens.returnedRing).toBe(d.tokens.issued);
  expect(d.pool['user-refs']).toBe(0);
  // ddplab's own application never gives back a token it no longer holds.
  expect(d.tokens.staleReturns).toBe(0);
  return d;
}

describe('ddplab run --offload devmem-*', () => {
  it('devmem-nvme (randrw, random order, interleaved C2H, digests on): all C2HData payload stays in device memory, the host copies only PDU headers and checks no data digest', async () => {
    const r = await runJson([
      '--id', newId('n'), '--offload', 'devmem-nvme',
      '--rw', 'randrw', '--bsrange', '4k-256k', '--iodepth', '16', '--size', '96m',
      '--order', 'random', '--interleave', '--c2h-size', '32k', '--digest', 'both',
    ]);
    const d = expectDevmemRun(r);
    expect(d.mode).toBe('nvme');
    expect(d.devicePct).toBe(100);
    expect(d.hostDataBytes).toBe(0);
    // No payload in host memory: what the host copied on the I/O queues is exactly what recvmsg gave it as linear or ordinary bytes.
    expect(d.hostCopiedBytes).toBe(d.socket.linearBytes + d.socket.plainBytes);
    expect(d.hostCopiedBytes).toBeLessThan(r.io.readBytes / 100);
    // The NIC checked every data digest; the host pulled nothing out of device memory for them.
    expect(d.deviceReads.crcBytes).toBe(0);
    expect(d.deviceReads.headerBytes).toBe(0);
    expect(d.nic['rx-hds-crc-ok']).toBeGreaterThan(0);
    expect(d.nic['rx-hds-crc-fail']).toBe(0);
    expect(d.dontneedCalls).toBeGreaterThan(0);
  });

  it('devmem-tcp: payload and PDU headers land in device memory; the host reads the headers back out and copies nothing else', async () => {
    const r = await runJson(['--id', newId('t'), '--offload', 'devmem-tcp', '--rw', 'randread', '--bsrange', '4k-256k', '--iodepth', '16', '--size', '64m', '--c2h-size', '64k']);
    const d = expectDevmemRun(r);
    expect(d.mode).toBe('tcp');
    expect(d.devicePct).toBe(100);
    expect(d.hostDataBytes).toBe(0);
    expect(d.nic['rx-hds-header-bytes']).toBe(0);
    // Every header byte the host parsed came out of device memory first.
    expect(d.deviceReads.headerBytes).toBe(d.hostCopiedBytes);
    expect(d.hostCopiedBytes).toBeLessThan(r.io.readBytes / 100);
    expect(d.socket.linearBytes).toBe(0);
  });

  it('returns frags through the refill ring instead of dontneed, and the NIC consumes every entry', async () => {
    const r = await runJson(['--id', newId('r'), '--offload', 'devmem-nvme', '--devmem-return', 'ring', '--rw', 'randread', '--bs', '128k', '--iodepth', '16', '--size', '64m']);
    const d = expectDevmemRun(r);
    expect(d.dontneedCalls).toBe(0);
    expect(d.ringEntries).toBe(d.tokens.issued);
    expect(d.pool['ring-consumed']).toBe(d.ringEntries);
    expect(d.pool['ring-invalid']).toBe(0);
  });

  for (const [mode, path] of [
    ['nvme', 'dontneed'],
    ['tcp', 'ring'],
  ] as const) {
    it(`an application that holds every token until the pool is empty (devmem-${mode}, ${path}): drops and retransmissions, then full recovery with 0 mismatches`, async () => {
      const r = await runJson([
        '--id', newId(`x${mode[0]}`), '--offload', `devmem-${mode}`,
        '--devmem-pool', '8m', '--devmem-hold', '3', '--devmem-return', path,
        '--rw', 'randread', '--bs', '128k', '--iodepth', '16', '--size', '128m',
      ]);
      const d = expectDevmemRun(r);
      expect(d.holdEpisodes).toBe(3);
      expect(d.nic['rx-devmem-drops']).toBeGreaterThan(0);
      expect(d.pool['alloc-empty']).toBe(d.nic['rx-devmem-drops']);
      // The target's kernel TCP repaired what the NIC dropped.
      expect(r.targetTcp?.['TcpRetransSegs'] ?? 0).toBeGreaterThan(0);
      expect(r.io.readBytes).toBe(128 << 20);
      expect(r.verify.bytes).toBe(128 << 20);
      expect(d.hostDataBytes).toBe(0);
    });
  }
});
