/**
 * DDP on the live topology (root): `ddplab run --offload ...` with the
 * target on kernel TCP and the host's software NIC placing C2HData payload.
 *
 * With the wire in order, every C2HData payload byte of the I/O queues is
 * placed: the host copies only PDU headers, padding and digests, and with
 * `ddp-crc` computes no data digest. The admin queue is never offloaded
 * (as in Linux), so its Identify data at bring-up is the only C2HData the
 * host copies and CRCs.
 *
 * No pinning: a veth hands each frame to the backlog of the CPU that sent
 * it, and the target's TCP sends from its process and from softirq on the
 * CPU that took the host's ACK, so two backlogs could race and deliver a
 * flow's frames out of order (a reordered gap that hides a PDU header costs
 * a resync). netns/up.sh steers host0's receive to one CPU with RPS, as a
 * NIC queue has one interrupt CPU, so the wire stays in order and
 * "placement 100%" is a fact the test can check on an unpinned run.
 * Loss and reordering are the subject of the second test, impaired on purpose.
 */
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import type { RunReport } from '../../src/lab/run.js';
import { BIN, liveRunIds } from '../support/lab/live-run-rig.js';

const newId = liveRunIds('d');

async function runJson(args: string[]): Promise<RunReport> {
  const r = await execa(process.execPath, [BIN, 'run', '--json', ...args], { reject: false, timeout: 240_000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  if (line === undefined) throw new Error(`no JSON report (exit ${r.exitCode}): ${r.stderr.slice(-400)}`);
  return JSON.parse(line) as RunReport;
}

describe.each([
  { digest: 'data', order: 'fifo', interleave: false, c2h: '0' },
  { digest: 'both', order: 'fifo', interleave: false, c2h: '0' },
  { digest: 'data', order: 'random', interleave: true, c2h: '32k' },
])('ddplab run --offload ddp-crc, read 64m bs 128k iodepth 32 (digest $digest, order $order, c2h-size $c2h)', ({ digest, order, interleave, c2h }) => {
  it('places every C2HData payload byte of the I/O queues: the host copies headers only and CRCs no data', async () => {
    const r = await runJson(
      [
        '--id', newId(`${digest[0]}${order[0]}`),
        '--offload', 'ddp-crc', '--rw', 'read', '--bs', '128k', '--iodepth', '32', '--size', '64m',
        '--digest', digest, '--order', order, ...(interleave ? ['--interleave'] : []), '--c2h-size', c2h,
      ],
    );
    expect(r.error).toBeUndefined();
    expect(r.ok).toBe(true);
    expect(r.verify).toEqual({ bytes: 64 * 2 ** 20, mismatches: 0 });
    expect(r.run.offload).toBe('ddp-crc');
    // The wire was in order (see the file comment): nothing to resync.
    expect(r.tcp.ofoQueue).toBe(0);
    expect(r.nic['rx-nvme-tcp-lost-sync']).toBe(0);
    const d = r.ddp;
    expect(d.c2hDataBytes).toBe(64 * 2 ** 20);
    expect(d.placementPct).toBe(100);
    expect(d.inPlaceBytes).toBe(d.c2hDataBytes);
    expect(d.notPlacedBytes).toEqual({ belowThreshold: 0, limits: 0, lostSync: 0 });
    expect(d.hostCrcDataBytes).toBe(0);
    expect(r.nic['rx-nvme-tcp-bytes']).toBe(d.c2hDataBytes);
    expect(r.nic['rx-nvme-tcp-setup']).toBe(512);
    expect(r.nic['rx-nvme-tcp-teardown']).toBe(512);
    expect(r.nic['rx-nvme-tcp-crc-ok']).toBe(r.host.ddgstOffloaded);
    // Host-wide, only the admin queue's bring-up reads are C2HData the host copied and CRC'd.
    const adminData = r.host.c2hDataBytes - d.c2hDataBytes;
    expect(adminData).toBeLessThanOrEqual(16 * 1024);
    expect(r.host.copySkippedBytes).toBe(d.c2hDataBytes);
    expect(r.host.crcDataRxBytes).toBe(adminData);
    // What the host copied is the rest of the stream: PDU headers, padding, digests and the admin data.
    expect(r.host.copiedBytes).toBeLessThan(r.host.pdusRx * 160 + adminData);
  });
});

describe('ddplab run with loss and reordering toward the host, offload none / ddp / ddp-crc, same seed', () => {
  // Three runs of 64 MiB with loss: counts are asserted, not time, and a loaded machine needs more than the default.
  it('verifies the same bytes in every mode; with DDP the NIC loses sync, resyncs and still places most payload', { timeout: 300_000 }, async () => {
    const common = [
      '--rw', 'randrw', '--bsrange', '4k-256k', '--iodepth', '16', '--size', '64m', '--seed', '5',
      '--order', 'random', '--interleave', '--c2h-size', '8k', '--digest', 'data',
      '--drop', '1e-3', '--reorder', '1e-2',
      // The invariant is about ddplab's reference ULP: the series' own fallback (--ulp linux, the
      // default) fails split reads the NIC did not fully verify (test/replay/ulp-crc-fallback.replay.test.ts).
      '--ulp', 'reference',
    ];
    const reports: Record<string, RunReport> = {};
    for (const mode of ['none', 'ddp', 'ddp-crc']) {
      reports[mode] = await runJson(['--id', newId(`i${mode.length}`), '--offload', mode, ...common]);
    }
    const none = reports['none']!;
    for (const [mode, r] of Object.entries(reports)) {
      expect(r.error, mode).toBeUndefined();
      expect(r.ok, mode).toBe(true);
      expect(r.verify, mode).toEqual(none.verify);
      expect({ reads: r.io.reads, writes: r.io.writes, readBytes: r.io.readBytes, writeBytes: r.io.writeBytes }, mode).toEqual({
        reads: none.io.reads,
        writes: none.io.writes,
        readBytes: none.io.readBytes,
        writeBytes: none.io.writeBytes,
      });
    }
    expect(none.verify.mismatches).toBe(0);
    expect(none.nic['rx-nvme-tcp-bytes']).toBe(0);
    for (const mode of ['ddp', 'ddp-crc']) {
      const r = reports[mode]!;
      expect(r.nic['rx-nvme-tcp-lost-sync'], mode).toBeGreaterThan(0);
      expect(r.nic['rx-nvme-tcp-resync'], mode).toBeGreaterThan(0);
      expect(r.nic['rx-nvme-tcp-resync'], mode).toBeLessThanOrEqual(r.nic['rx-nvme-tcp-resync-req']);
      expect(r.ddp.placementPct, mode).toBeGreaterThan(50);
      expect(r.ddp.inPlaceBytes, mode).toBe(r.host.copySkippedBytes);
    }
    // Only ddp-crc takes data digest work off the host.
    expect(reports['ddp-crc']!.ddp.hostCrcDataBytes).toBeLessThan(reports['ddp']!.ddp.hostCrcDataBytes);
  });
});
