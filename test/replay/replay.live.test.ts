/**
 * Replay against the live run that made the capture (root, namespaces):
 * `ddplab run --capture --hash-reads` records host0 and the SHA-256 of every
 * read the live host completed and verified; replaying the capture, with
 * offload none and ddp-crc, gives a SHA-256 for every read, each equal to
 * the live host's for the same LBA and length.
 */
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { compareWithLive, readReadHashes } from '../../src/replay/live-read-hashes.js';
import { replayCapture } from '../../src/replay/replay.js';
import type { RunReport } from '../../src/lab/run.js';
import { newTopologyId } from '../../src/lab/topology.js';
import { BIN, namespacesOf } from '../support/lab/live-run-rig.js';
import { tempDir } from '../support/replay/replay-rig.js';

const ids: string[] = [];
const tmp = tempDir();

afterAll(async () => {
  for (const id of ids) await execa(process.execPath, [BIN, 'down', '--id', id], { reject: false });
  tmp.remove();
  expect(namespacesOf(ids)).toEqual([]);
});

// With loss and C2H data split into PDUs, the series' CRC fallback (--ulp linux, the default) fails reads
// the NIC did not fully verify; the live run here must verify, so it uses ddplab's per-PDU check.
describe.each([
  { name: 'MTU 9000, digests, random order, interleaved C2H, live DDP-CRC and loss', args: ['--mtu', '9000', '--digest', 'both', '--order', 'random', '--interleave', '--c2h-size', '16k', '--offload', 'ddp-crc', '--drop', '0.005', '--rw', 'randrw', '--rwmixread', '80', '--bsrange', '4k-256k', '--ulp', 'reference'] },
  { name: 'offloads left on (64 KiB super-frames, partial TCP checksums)', args: ['--veth-offloads', '--digest', 'data', '--rw', 'randread', '--bs', '128k,8k'] },
])('a live run, then a replay of its capture: $name', ({ name, args }) => {
  it('gives every read the SHA-256 the live host computed, with offload none and ddp-crc', async () => {
    const id = `rp${ids.length}${newTopologyId()}`.slice(0, 8);
    ids.push(id);
    const pcap = join(tmp.dir, `${id}.pcap`);
    const hashes = join(tmp.dir, `${id}.json`);
    const r = await execa(
      process.execPath,
      [BIN, 'run', '--json', '--id', id, '--capture', pcap, '--hash-reads', hashes, '--size', '8m', '--iodepth', '16', '--seed', '7', ...args],
      { reject: false, timeout: 240_000 },
    );
    const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
    expect(line, r.stderr.slice(-400)).toBeDefined();
    const live = JSON.parse(line!) as RunReport;
    expect(live.ok, name).toBe(true);
    expect(live.verify.mismatches).toBe(0);
    const liveReads = readReadHashes(hashes);
    expect(liveReads.length).toBe(live.io.reads);
    expect(liveReads.length).toBeGreaterThan(20);
    for (const offload of ['none', 'ddp-crc'] as const) {
      const rep = await replayCapture({ path: pcap, offload });
      const cmp = compareWithLive(rep.reads, liveReads);
      expect(cmp.mismatched, offload).toEqual([]);
      expect(cmp.unmatchedLive, offload).toEqual([]);
      expect(cmp.matched).toBe(liveReads.length);
      expect(rep.reads.every((x) => x.status === 'ok')).toBe(true);
      if (offload === 'ddp-crc') expect(rep.total.bytes.placed).toBeGreaterThan(0);
      if (args.includes('--veth-offloads')) {
        expect(rep.nic.rx_csum_partial).toBeGreaterThan(0);
        expect(Math.max(...rep.connections.map((c) => c.c2h.tcp.bytes / Math.max(1, c.c2h.tcp.segments)))).toBeGreaterThan(9000);
      }
    }
  });
});
