/**
 * `ddplab run` under seeded impairment on the live topology (root): loss,
 * reordering, duplication and corruption toward the host are repaired by the
 * target kernel's TCP, the host's own transmissions by the userspace TCP;
 * every read still verifies.
 */
import { describe, expect, it } from 'vitest';
import { liveRunIds, runJson } from '../support/lab/live-run-rig.js';

const newId = liveRunIds('i');

describe('ddplab run under impairment', () => {
  it('verifies every read with drop 0.01, reorder 0.01, dup 0.005, corrupt 0.005 toward the host, and reports the repairs', async () => {
    const r = await runJson([
      '--id', newId('rx'),
      '--rw', 'randrw', '--bsrange', '4k-256k', '--iodepth', '16', '--size', '64m', '--seed', '7',
      '--drop', '0.01', '--reorder', '0.01', '--dup', '0.005', '--corrupt', '0.005',
    ]);
    expect(r.error).toBeUndefined();
    expect(r.ok).toBe(true);
    expect(r.verify.mismatches).toBe(0);
    expect(r.verify.bytes).toBeGreaterThan(16 * 2 ** 20);
    const im = r.impair!;
    expect(im.config.seed).toBe(7);
    expect(im.config.rx).toEqual({ drop: 0.01, reorder: 0.01, dup: 0.005, corrupt: 0.005 });
    expect(im.config.tx).toBeUndefined();
    for (const k of ['dropped', 'reordered', 'duplicated', 'corrupted'] as const) expect(im.rx[k]).toBeGreaterThan(0);
    expect(im.rx.held).toBe(0);
    expect(im.tx.frames).toBe(0);
    // What the stage did is what the NIC saw: every frame it passed (duplicates
    // included) arrived, and every corrupted copy failed the TCP checksum.
    expect(r.nic.rx_packets).toBe(im.rx.passed);
    expect(r.nic.rx_csum_errors).toBeGreaterThanOrEqual(im.rx.corrupted);
    // The target kernel repaired the losses; the host saw the holes and the duplicates.
    expect(r.targetTcp!['TcpRetransSegs']!).toBeGreaterThan(0);
    expect(r.tcp.ofoQueue).toBeGreaterThan(0);
    expect(r.tcp.dupSegs).toBeGreaterThan(0);
    expect(r.tcp.rstsOut).toBe(0);
  });

  it('verifies every read with loss and corruption on the host transmissions, which the userspace TCP retransmits', async () => {
    const r = await runJson([
      '--id', newId('tx'),
      '--rw', 'randrw', '--bsrange', '4k-128k', '--iodepth', '16', '--size', '32m', '--seed', '3',
      '--tx-drop', '0.01', '--tx-corrupt', '0.005', '--tx-reorder', '0.01', '--reorder-depth', '2',
    ]);
    expect(r.error).toBeUndefined();
    expect(r.ok).toBe(true);
    expect(r.verify.mismatches).toBe(0);
    const im = r.impair!;
    expect(im.config.rx).toBeUndefined();
    expect(im.tx.dropped).toBeGreaterThan(0);
    expect(im.tx.corrupted).toBeGreaterThan(0);
    expect(im.tx.reordered).toBeGreaterThan(0);
    expect(im.rx.frames).toBe(0);
    expect(r.tcp.retransSegs).toBeGreaterThan(0);
    // The target's kernel dropped the corrupted segments on their checksum.
    expect(r.targetTcp!['TcpInCsumErrors']!).toBeGreaterThan(0);
  });

  it('verifies every read under Gilbert-Elliott burst loss toward the host', async () => {
    const r = await runJson([
      '--id', newId('ge'),
      '--rw', 'read', '--bs', '128k', '--iodepth', '16', '--size', '64m', '--seed', '5',
      '--burst', '0.002,0.3',
    ]);
    expect(r.ok).toBe(true);
    expect(r.verify.mismatches).toBe(0);
    const rx = r.impair!.rx;
    expect(rx.burstEpisodes).toBeGreaterThan(0);
    // Bursts lose more than one frame each on average (mean burst 1/0.3 frames).
    expect(rx.burstDropped).toBeGreaterThan(rx.burstEpisodes);
    expect(r.targetTcp!['TcpRetransSegs']!).toBeGreaterThan(0);
  });
});
