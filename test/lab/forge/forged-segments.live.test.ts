/**
 * Forged segments injected into a live run (root, namespaces; docs/hostile-input.md):
 * a forger in the target's namespace sniffs tgt0 with libpcap, learns each
 * connection's sequence numbers, ACK, timestamps and PDU boundaries, and
 * sends forged segments toward the host through a raw IPv4 socket while
 * `ddplab run --offload ddp-crc` reads with the host's capture on.
 *
 * Who wins a race is the wire's business, so the test accepts either end
 * and checks that it is a sane one: the run verifies every byte (the forged
 * bytes came too late, or TCP held the real ones already), or the host
 * failed with the error the forged bytes call for (a data digest error for
 * other payload, an H2CTermReq for a C2HData past its buffer or for an
 * unknown CID) — never a crash or a hang. The NIC never places more than
 * the host received as C2HData on its I/O queues. Every forged segment
 * reached the host (it is in the capture), and replaying the capture —
 * forged frames included — through the NIC and host with offload none and
 * ddp-crc gives the same reads, byte for byte (SHA-256), and the same
 * statuses; when the run verified, the same as the live host's (when live
 * TCP refused no forged segment but the overlap: replay keeps no window and
 * no timestamps, so it would take one the live host dropped).
 *
 * The deterministic proof, one case at a time, is test/host/nvme/ddp-forged.test.ts.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startForgeInjector, type ForgeInjectionReport } from '../../../src/lab/forge/inject.js';
import { FORGED_IP_ID, type ForgeCase } from '../../../src/lab/forge/segments.js';
import { compareWithLive, readReadHashes } from '../../../src/replay/live-read-hashes.js';
import { replayCapture } from '../../../src/replay/replay.js';
import { runOnTopology, type RunReport } from '../../../src/lab/run.js';
import { withTopology } from '../../../src/lab/topology.js';
import { parseFrame } from '../../../src/wire/frame.js';
import { readPcapFileSync } from '../../../src/wire/pcap.js';
import { liveRunIds } from '../../support/lab/live-run-rig.js';
import { tempDir } from '../../support/replay/replay-rig.js';

const isRoot = process.getuid?.() === 0;
const tmp = tempDir();
afterAll(() => tmp.remove());

/** What the run may fail with when a forged segment won its race, by case. */
const CLEAR_ERRORS: Record<ForgeCase, RegExp> = {
  overlap: /(?!)/, // TCP held the overlapped bytes already: it never wins
  'in-window': /DATA_XFER_ERROR/,
  'past-buffer': /beyond its \d+ bytes.*H2CTermReq FES 4/,
  'unknown-cid': /cid 48879, which is no outstanding read.*H2CTermReq FES 1/,
  // Not injected here: test/lab/forge/refused-segments.live.test.ts.
  'refused-stale-ts': /(?!)/,
  'refused-bad-ack': /(?!)/,
};

/** Forged frames in the host's capture (the forger's IP identification, a sequence number and length it reported). */
function forgedInCapture(path: string, injected: readonly ForgeInjectionReport[]): number {
  let n = 0;
  for (const rec of readPcapFileSync(path).records) {
    const f = parseFrame(rec.data);
    const tcp = f.tcp;
    if (f.ip?.id !== FORGED_IP_ID || tcp === undefined) continue;
    if (injected.some((i) => i.seq === tcp.seq && i.len === tcp.payload.length && i.hostPort === tcp.dstPort)) n++;
  }
  return n;
}

describe.skipIf(!isRoot)('forged segments injected into a live ddplab run (forger in the target namespace)', () => {
  const newId = liveRunIds('fg');

  it.each([
    {
      tag: 'd',
      name: 'racing the target: an overlapping retransmission with other bytes, then other payload in window',
      cases: ['overlap', 'in-window'] as ForgeCase[],
      aim: 'race' as const,
      after: 3,
      spacing: 3,
      digest: 'data' as const,
      iodepth: 4,
      targetArgs: [] as string[],
    },
    ...(['past-buffer', 'unknown-cid'] as const).map((c) => ({
      // The target holds each answer 100 ms: the forger sees the read command and gets its header in first (20 ms was
      // not always enough on a busy machine: the forger is a process behind a capture).
      tag: c[0]!,
      name: `ahead of a held answer: a C2HData header ${c === 'past-buffer' ? 'past its buffer' : 'for an unknown CID'}`,
      cases: [c] as ForgeCase[],
      aim: 'idle' as const,
      after: 6,
      spacing: 1,
      digest: 'both' as const,
      iodepth: 1,
      targetArgs: ['--delay-us', '100000'],
    })),
  ])('$name: a sane end, no placement beyond what the host received, replay none = ddp-crc', { timeout: 120_000 }, async ({ tag, cases, aim, after, spacing, digest, iodepth, targetArgs }) => {
    const id = newId(tag);
    const capture = join(tmp.dir, `${id}.pcap`);
    const hashes = join(tmp.dir, `${id}.json`);
    let report: RunReport | undefined;
    let injected: ForgeInjectionReport[] = [];
    let pending: readonly ForgeCase[] = [];
    await withTopology({ id }, async (topo) => {
      const forger = startForgeInjector(topo.id, { cases, after, spacing, aim });
      try {
        await forger.ready;
        report = await runOnTopology(topo, {
          workload: { rw: 'read', bs: '256k', iodepth, size: '32m', seed: 11 },
          queues: 2,
          digest,
          offload: 'ddp-crc',
          order: 'fifo',
          interleave: false,
          c2hSize: '0',
          profile: 'linux',
          mtu: 1500,
          vethOffloads: false,
          capture,
          hashReads: hashes,
          targetArgs,
        });
      } finally {
        pending = await forger.stop();
        injected = [...forger.injections];
      }
    });
    const r = report!;
    // The run's error, and each failed I/O's (a queue that died fails its own I/O; the others carry on).
    const why = [r.error ?? '', ...(r.workload?.errors.first ?? [])].join(' | ');
    process.stdout.write(
      `forged ${cases.join('+')}: injected ${injected.map((i) => i.what).join('; ') || 'nothing'}; pending ${pending.join(',') || '-'}; ` +
        `run ${r.ok ? 'ok' : `failed: ${why}`}; nic drop ${r.nic['rx-nvme-tcp-drop']} lost-sync ${r.nic['rx-nvme-tcp-lost-sync']} tcp-refused ${r.nic['rx-nvme-tcp-tcp-refused-bytes']}\n`,
    );

    // The first case always goes in. Racing, a later one may find the target ahead of the forger every
    // time (nothing left to aim at); ahead of a held answer, every case goes in.
    expect(injected.length).toBeGreaterThanOrEqual(1);
    expect(injected[0]!.kind).toBe(cases[0]);
    if (aim === 'idle') expect(pending).toEqual([]);
    // Every forged segment reached the host: it is in the host's capture.
    expect(forgedInCapture(capture, injected)).toBe(injected.length);

    // A sane end: verified, or failed with what a forged segment that won calls for.
    if (r.ok) {
      expect(r.verify.mismatches).toBe(0);
      expect(r.verify.bytes).toBe(32 * 2 ** 20);
    } else {
      expect(
        injected.some((i) => CLEAR_ERRORS[i.kind].test(why)),
        `run failed with "${why}", which no injected case explains`,
      ).toBe(true);
      if (/H2CTermReq/.test(why)) expect(r.nic['rx-nvme-tcp-drop']).toBeGreaterThanOrEqual(1);
    }
    if (aim === 'idle') {
      // Sure to come first: the host failed that queue as the transport says, and the NIC refused the mapping.
      expect(r.ok).toBe(false);
      expect(injected.map((i) => i.kind)).toEqual(cases);
      expect(r.error).toMatch(CLEAR_ERRORS[cases[0]!]);
      expect(r.nic['rx-nvme-tcp-drop']).toBeGreaterThanOrEqual(1);
    }
    // The NIC placed nothing beyond what the host received as C2HData on its offloaded queues.
    expect(r.nic['rx-nvme-tcp-bytes']).toBeLessThanOrEqual(r.ddp.c2hDataBytes);
    expect(r.nic['rx-nvme-tcp-bytes']).toBeGreaterThan(0);

    // Replay the capture, forged frames and all: offload none and ddp-crc agree on every read.
    const none = await replayCapture({ path: capture, offload: 'none' });
    const crc = await replayCapture({ path: capture, offload: 'ddp-crc' });
    const reads = (rep: typeof none) => rep.reads.map((x) => ({ conn: x.conn, cid: x.cid, slba: x.slba, len: x.lenBytes, status: x.status, nvme: x.nvmeStatus, sha: x.sha256 }));
    expect(reads(crc)).toEqual(reads(none));
    expect(crc.total.bytes.placed).toBeGreaterThan(0);
    expect(crc.frames).toEqual(none.frames);
    // When the live host's TCP refused nothing but the overlap (old bytes), replay — which keeps no
    // window and no timestamps, and so would take a segment the live host dropped — took what it took.
    const refusedOther = r.nic['rx-nvme-tcp-tcp-refused-bytes'] - injected.filter((i) => i.kind === 'overlap').reduce((n, i) => n + i.len, 0);
    if (r.ok && refusedOther === 0) {
      const live = readReadHashes(hashes);
      const cmp = compareWithLive(none.reads, live);
      expect(cmp.mismatched).toEqual([]);
      expect(cmp.matched).toBe(live.length);
    }
  });
});
