/**
 * A segment the host's TCP refuses, carrying a C2HData header, injected at
 * the expected sequence number of a live run (root, namespaces): what a NIC
 * that follows the DDP series does with it — it sees only the frame, so it
 * parses and places it — and what reaches the application, with offload
 * ddp and ddp-crc, without and with the NIC-side TCP checks
 * (--nic-tcp-checks, nicemu/ddp/tcp-checks.ts). docs/hostile-input.md
 * ("Segments TCP refuses") has the table these runs print.
 *
 * The forger in the target's namespace waits for a read command while the
 * target holds its answers 100 ms (--delay-us; 20 ms was not always enough
 * for the forger, a process behind a capture), so the forged segment is first at
 * the boundary where the read's C2HData will start: a header naming that
 * read's CID, DATAO 0, and 1 KiB of other bytes, with a TSval older than the
 * target's (PAWS) or an ACK of data the host never sent. TCP drops it; the
 * target's real answer follows at the same sequence number.
 *
 * What each run checks: the forged segment reached the host (it is in the
 * capture); per-read SHA-256 of what the application got against the
 * target's pattern; the NIC wrote no buffer after its command completed;
 * and the model-only audits: bytes the NIC placed from segments TCP
 * refused (ddp-placed-refused-bytes: the forged 1 KiB without checks, 0
 * with them) and bytes placed where the accepted stream does not put them
 * (ddp-misplaced-bytes).
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { startForgeInjector, type ForgeInjectionReport } from '../../../src/lab/forge/inject.js';
import { FORGED_IP_ID, REFUSED_DATA_BYTES, type RefusedForgeCase } from '../../../src/lab/forge/segments.js';
import { readReadHashes } from '../../../src/replay/live-read-hashes.js';
import { runOnTopology, type RunReport } from '../../../src/lab/run.js';
import { withTopology } from '../../../src/lab/topology.js';
import { fillPattern } from '../../../src/wire/block-pattern.js';
import { parseFrame } from '../../../src/wire/frame.js';
import { readPcapFileSync } from '../../../src/wire/pcap.js';
import { liveRunIds } from '../../support/lab/live-run-rig.js';
import { tempDir } from '../../support/replay/replay-rig.js';

const isRoot = process.getuid?.() === 0;
// Eight runs to bring down after the file, each a `ddplab down` process: more than the default minute on a busy machine.
vi.setConfig({ hookTimeout: 180_000 });
const tmp = tempDir();
afterAll(() => tmp.remove());

const SEED = 11;
const LBA = 512;
const SIZE = 8 * 2 ** 20;

/** Forged frames of `injected` in the host's capture. */
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

/** Reads whose SHA-256 is not the pattern's at their LBA. */
function readsOffPattern(hashesPath: string): { reads: number; off: number } {
  const live = readReadHashes(hashesPath);
  let off = 0;
  for (const r of live) {
    const want = Buffer.alloc(r.lenBytes);
    fillPattern(SEED, r.slba * LBA, want);
    if (createHash('sha256').update(want).digest('hex') !== r.sha256) off++;
  }
  return { reads: live.length, off };
}

describe.skipIf(!isRoot)('a forged C2HData header in a segment TCP refuses, at the expected sequence number of a live run', () => {
  const newId = liveRunIds('rf');
  const cases: { kind: RefusedForgeCase; offload: 'ddp' | 'ddp-crc'; checks: boolean }[] = [];
  for (const kind of ['refused-stale-ts', 'refused-bad-ack'] as const)
    for (const offload of ['ddp', 'ddp-crc'] as const) for (const checks of [false, true]) cases.push({ kind, offload, checks });

  it.each(cases)('$kind, offload $offload, nic-tcp-checks $checks', { timeout: 120_000 }, async ({ kind, offload, checks }) => {
    const id = newId(`${kind === 'refused-stale-ts' ? 't' : 'a'}${offload === 'ddp' ? 'd' : 'c'}${checks ? 'k' : 'n'}`);
    const capture = join(tmp.dir, `${id}.pcap`);
    const hashes = join(tmp.dir, `${id}.json`);
    let report: RunReport | undefined;
    let injected: ForgeInjectionReport[] = [];
    let pending: readonly string[] = [];
    await withTopology({ id }, async (topo) => {
      const forger = startForgeInjector(topo.id, { cases: [kind], after: 6, spacing: 1, aim: 'idle' });
      try {
        await forger.ready;
        report = await runOnTopology(topo, {
          workload: { rw: 'read', bs: '256k', iodepth: 1, size: '8m', seed: SEED },
          queues: 1,
          digest: 'data',
          offload,
          ddpSettings: { ulp: 'linux', limits: {}, nicTcp: { oracle: false, checks } },
          order: 'fifo',
          interleave: false,
          c2hSize: '0',
          profile: 'linux',
          mtu: 1500,
          vethOffloads: false,
          capture,
          hashReads: hashes,
          targetArgs: ['--delay-us', '100000'],
        });
      } finally {
        pending = await forger.stop();
        injected = [...forger.injections];
      }
    });
    const r = report!;
    const sha = readsOffPattern(hashes);
    const why = [r.error ?? '', ...(r.workload?.errors.first ?? [])].join(' | ');
    process.stdout.write(
      `refused ${kind} ${offload} checks ${checks}: injected ${injected.map((i) => i.what).join('; ') || 'nothing'}; ` +
        `run ${r.ok ? 'ok' : `failed: ${why}`}; verify ${r.verify.bytes} B ${r.verify.mismatches} mismatches; reads ${sha.reads}, off pattern ${sha.off}; ` +
        `ddp-placed-refused-bytes ${r.tcp.ddpPlacedRefusedBytes} ddp-misplaced-bytes ${r.host.ddpMisplacedBytes} ` +
        `ddp-writes-after-completion ${r.nic['ddp-writes-after-completion']} nic-refused ${r.nic['rx-nvme-tcp-tcp-refused-bytes']} ` +
        `crc-fail ${r.nic['rx-nvme-tcp-crc-fail']} lost-sync ${r.nic['rx-nvme-tcp-lost-sync']} ddgst-errors ${r.host.ddgstErrors}\n`,
    );

    expect(pending).toEqual([]);
    expect(injected.map((i) => i.kind)).toEqual([kind]);
    expect(forgedInCapture(capture, injected)).toBe(1);
    // The real answer follows the forged bytes at the same sequence number, and TCP takes only it.
    expect(r.ok, why).toBe(true);
    expect(r.verify.mismatches).toBe(0);
    expect(r.verify.bytes).toBe(SIZE);
    expect(sha).toEqual({ reads: SIZE / (256 * 1024), off: 0 });
    expect(r.nic['ddp-writes-after-completion']).toBe(0);
    expect(r.host.ddpMisplacedBytes).toBe(0);
    if (checks) {
      // The NIC kept the segment from its engine: nothing of it placed.
      expect(r.tcp.ddpPlacedRefusedBytes).toBe(0);
      expect(r.nic['rx-nvme-tcp-tcp-refused-bytes']).toBe(injected[0]!.len);
    } else {
      // The series' NIC parsed it and placed its data; TCP refused it.
      expect(r.tcp.ddpPlacedRefusedBytes).toBe(REFUSED_DATA_BYTES);
      expect(r.nic['rx-nvme-tcp-tcp-refused-bytes']).toBe(0);
    }
  });
});
