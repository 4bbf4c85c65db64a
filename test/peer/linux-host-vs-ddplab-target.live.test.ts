/**
 * A Linux kernel NVMe/TCP host (nvme-tcp in a VM, src/peer) against
 * `ddplab target` on kernel TCP in a leg namespace of the same bridge. One
 * VM boot for the file; the target is restarted per case with that case's
 * shape, and its --json counters say what crossed the wire.
 *
 *   VM (nvme-tcp, 198.51.100.20, 2 vCPUs → 2 I/O queues)
 *     └ tap0 ─ br0 ─ ltgt ◄──► eth0 198.51.100.1/24 in ddplab-<id>-ptgt: ddplab target --seed SEED
 *
 * Reads: O_DIRECT dd's in a random order, two at a time, hashed in the guest
 * and compared with SHA-256 of `fillPattern` (what `ddplab pattern` prints)
 * for the same range. Writes: random bytes, 4 KiB (in-capsule) and 64 or
 * 128 KiB (R2T + H2CData), read back through the target. The first case is
 * captured on the bridge and replayed through `ddplab replay` with offload
 * none and ddp-crc: every read gets the same SHA-256 in both.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replayCapture } from '../../src/replay/replay.js';
import { onCleanup } from '../../src/peer/cleanup.js';
import { PeerLab, PEER_ADDR, PEER_PREFIX } from '../../src/peer/lab.js';
import type { IoRange, LinuxHostVm } from '../../src/peer/linux-host.js';
import type { QueueStats } from '../../src/target/stats.js';
import { fillPattern } from '../../src/wire/block-pattern.js';
import { BIN, closeAndCheck, PEER_SKIP } from '../support/peer/peer-rig.js';

const SEED = 1818;
const NQN = 'nqn.2026-11.io.ddplab:target';
const TARGET = `${PEER_ADDR.ddplabTarget}:4420`;
const KiB = 1024;
const MiB = 1 << 20;

let lab: PeerLab | undefined;
let host: LinuxHostVm;
let tgtNs: string;
const qemuPids: number[] = [];

interface TargetJson {
  readonly queues: readonly QueueStats[];
  readonly totals: Record<string, number>;
}

/** `ddplab target` in the target leg; stop() ends it with SIGTERM and returns its --json counters. */
async function startTarget(args: readonly string[]): Promise<{ stop: () => Promise<TargetJson> }> {
  const child: ChildProcess = spawn(
    'ip',
    ['netns', 'exec', tgtNs, process.execPath, BIN, 'target', '--listen', TARGET, '--seed', String(SEED), '--size', '64m', '--json', '--quiet', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const undo = onCleanup('ddplab target', () => child.kill('SIGKILL'));
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const ended = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`ddplab target did not listen within 20 s: ${err}`)), 20_000);
    const check = (): void => {
      if (out.includes('listening on')) {
        clearTimeout(t);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    void ended.then(() => reject(new Error(`ddplab target ended: ${err.trim()}`)));
  });
  return {
    stop: async () => {
      child.kill('SIGTERM');
      await ended;
      undo();
      const json = out.slice(out.indexOf('{'));
      return JSON.parse(json) as TargetJson;
    },
  };
}

/** A seeded shuffle of `n` reads of the given sizes at distinct 128 KiB slots of [0, 32 MiB). */
function randomReads(n: number, sizes: readonly number[], seed: number): IoRange[] {
  let x = seed >>> 0;
  const rnd = (): number => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
  const slots = Array.from({ length: (32 * MiB) / (128 * KiB) }, (_, i) => i);
  for (let i = slots.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [slots[i], slots[j]] = [slots[j]!, slots[i]!];
  }
  return slots.slice(0, n).map((s, i) => ({ offset: s * 128 * KiB, length: sizes[i % sizes.length]! }));
}

/** In-capsule write data over all queues (not among the target's summed totals). */
function inCapsule(stats: TargetJson): number {
  return stats.queues.reduce((n, q) => n + q.inCapsuleBytes, 0);
}

function patternSha(offset: number, length: number): string {
  const b = Buffer.alloc(length);
  fillPattern(SEED, offset, b);
  return createHash('sha256').update(b).digest('hex');
}

async function checkPatternReads(dev: string, reads: readonly IoRange[]): Promise<void> {
  const got = await host.readHashes(dev, reads, 2);
  for (const r of got) expect(r.sha256, `read of ${r.length} at ${r.offset}`).toBe(patternSha(r.offset, r.length));
}

/** Writes random bytes to each range, reads them back, and checks the hashes match. */
async function checkWritesReadBack(dev: string, writes: readonly IoRange[]): Promise<void> {
  const wrote = await host.writeRandom(dev, writes);
  const back = await host.readHashes(dev, writes, 1);
  expect(back.map((r) => r.sha256)).toEqual(wrote.map((w) => w.sha256));
  expect(new Set(wrote.map((w) => w.sha256)).size).toBe(writes.length);
}

describe.skipIf(PEER_SKIP !== undefined)('a Linux nvme-tcp host VM against ddplab target', () => {
  beforeAll(async () => {
    lab = PeerLab.create();
    tgtNs = lab.addLeg('tgt', { ifname: 'eth0', addr: `${PEER_ADDR.ddplabTarget}/${PEER_PREFIX}` });
    host = await lab.startLinuxHost({ cpus: 2 });
    qemuPids.push(host.vm.pid!);
  }, 240_000);

  afterAll(async () => {
    await closeAndCheck(lab, qemuPids);
  }, 60_000);

  it('linux profile, both digests, 2 I/O queues: random reads equal the pattern; in-capsule and R2T writes read back; the capture replays alike with none and ddp-crc', async () => {
    const pcap = join(lab!.dir, 'linux-host.pcap');
    // Immediate mode: tcpdump's default TPACKET_V3 ring hands over a block
    // only when it fills or times out (1 s), and SIGINT loses what is still
    // in it — the tail of the association.
    const dump = spawn('ip', ['netns', 'exec', lab!.net.bridgeNs, 'tcpdump', '-i', 'ltgt', '-s', '0', '--immediate-mode', '-U', '-w', pcap, 'tcp port 4420'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const undoDump = onCleanup('tcpdump', () => dump.kill('SIGKILL'));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('tcpdump did not start')), 10_000);
      dump.stderr!.on('data', (d: Buffer) => {
        if (d.toString().includes('listening on')) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    const target = await startTarget(['--profile', 'linux']);
    let stats: TargetJson;
    try {
      const dev = await host.connect({ target: TARGET, nqn: NQN, hdrDigest: true, dataDigest: true, ioQueues: 2 });
      expect(await host.ioQueueCount(dev)).toBe(2);
      await checkPatternReads(dev, randomReads(24, [128 * KiB, 4 * KiB, 32 * KiB], 1));
      await checkWritesReadBack(dev, [
        { offset: 48 * MiB, length: 4 * KiB },
        { offset: 49 * MiB, length: 64 * KiB },
        { offset: 50 * MiB, length: 128 * KiB },
      ]);
      await host.disconnect();
    } finally {
      stats = await target.stop();
      const dumped = new Promise<void>((resolve) => dump.once('exit', () => resolve()));
      dump.kill('SIGINT');
      await dumped;
      undoDump();
    }
    const io = stats.queues.filter((q) => q.qid > 0 && q.commands > 0);
    expect(io.length).toBe(2);
    expect(inCapsule(stats)).toBeGreaterThanOrEqual(4 * KiB);
    expect(stats.totals.r2tPdus).toBeGreaterThan(0);
    expect(stats.totals.h2cDataPdus).toBeGreaterThan(0);
    expect(stats.totals.headerDigestErrors! + stats.totals.dataDigestErrors!).toBe(0);

    // The capture of that association, replayed.
    const none = await replayCapture({ path: pcap, offload: 'none' });
    const crc = await replayCapture({ path: pcap, offload: 'ddp-crc' });
    const key = (r: { conn: number; cid: number; slba: number | null; lenBytes: number; sha256: string | null; status: string }): string =>
      `${r.slba}:${r.lenBytes}:${r.status}:${r.sha256}`;
    const reads = none.reads.filter((r) => r.lenBytes > 0 && r.slba !== null && r.slba * 512 < 32 * MiB);
    expect(reads.length).toBeGreaterThanOrEqual(24);
    expect(none.reads.filter((r) => r.status !== 'ok').map((r) => `${r.slba}:${r.lenBytes}:${r.status}`)).toEqual([]);
    expect(crc.reads.map(key).sort()).toEqual(none.reads.map(key).sort());
    for (const r of reads) expect(r.sha256, `replayed read at LBA ${r.slba}`).toBe(patternSha(r.slba! * 512, r.lenBytes));
    expect(crc.total.bytes.placed).toBeGreaterThan(0);
  }, 240_000);

  it('--order random --interleave --c2h-size 32k, data digest: reads split and interleaved still equal the pattern', async () => {
    const target = await startTarget(['--order', 'random', '--interleave', '--c2h-size', '32k', '--digest', 'both']);
    let stats: TargetJson;
    try {
      const dev = await host.connect({ target: TARGET, nqn: NQN, dataDigest: true, ioQueues: 2 });
      await checkPatternReads(dev, randomReads(24, [128 * KiB, 64 * KiB], 2));
      await host.disconnect();
    } finally {
      stats = await target.stop();
    }
    // Every 128 KiB read went out as four C2HData PDUs.
    expect(stats.totals.c2hDataPdus).toBeGreaterThan(stats.totals.reads!);
    expect(stats.totals.dataDigestErrors).toBe(0);
  }, 180_000);

  it('spdk profile, header digest: reads, 4 KiB in-capsule and 128 KiB R2T writes', async () => {
    const target = await startTarget(['--profile', 'spdk']);
    let stats: TargetJson;
    try {
      const dev = await host.connect({ target: TARGET, nqn: NQN, hdrDigest: true, ioQueues: 2, queueSize: 64 });
      await checkPatternReads(dev, randomReads(12, [128 * KiB, 8 * KiB], 3));
      await checkWritesReadBack(dev, [
        { offset: 52 * MiB, length: 4 * KiB },
        { offset: 53 * MiB, length: 128 * KiB },
      ]);
      await host.disconnect();
    } finally {
      stats = await target.stop();
    }
    expect(inCapsule(stats)).toBeGreaterThanOrEqual(4 * KiB);
    expect(stats.totals.r2tPdus).toBeGreaterThan(0);
    expect(stats.totals.headerDigestErrors).toBe(0);
  }, 180_000);
});
