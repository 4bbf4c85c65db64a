/**
 * Kernel to kernel, then through ddplab offline: a Linux nvme-tcp host VM
 * reads from (and writes to) a Linux nvmet-tcp target VM on the peer bridge,
 * both with the offloads QEMU gives them (TSO super-frames, partial
 * checksums) and both digests; tcpdump on the host VM's tap captures the
 * association, and `ddplab replay` of that capture with offload none and
 * ddp-crc gives every read the same SHA-256 — equal to what the guest hashed
 * and to the block pattern the target serves.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onCleanup } from '../../src/peer/cleanup.js';
import { PeerLab } from '../../src/peer/lab.js';
import type { LinuxHostVm } from '../../src/peer/linux-host.js';
import type { LinuxTargetVm } from '../../src/peer/linux-target.js';
import { replayCapture } from '../../src/replay/replay.js';
import { fillPattern } from '../../src/wire/block-pattern.js';
import { closeAndCheck, PEER_SKIP } from '../support/peer/peer-rig.js';

const SEED = 2718;
const KiB = 1024;
const MiB = 1 << 20;

let lab: PeerLab | undefined;
let target: LinuxTargetVm;
let host: LinuxHostVm;
const qemuPids: number[] = [];

function patternSha(offset: number, length: number): string {
  const b = Buffer.alloc(length);
  fillPattern(SEED, offset, b);
  return createHash('sha256').update(b).digest('hex');
}

describe.skipIf(PEER_SKIP !== undefined)('a Linux host and a Linux nvmet-tcp target, captured and replayed', () => {
  beforeAll(async () => {
    lab = PeerLab.create();
    target = await lab.startLinuxTarget({ sizeBytes: 16 * MiB, seed: SEED });
    qemuPids.push(target.vm.pid!);
    host = await lab.startLinuxHost({ cpus: 2 });
    qemuPids.push(host.vm.pid!);
  }, 240_000);

  afterAll(async () => {
    await closeAndCheck(lab, qemuPids);
  }, 60_000);

  it('every read replays with the same SHA-256 with offload none and ddp-crc', async () => {
    const pcap = join(lab!.dir, 'pair.pcap');
    // tap1 is the host VM's port on the bridge (tap0 the target's).
    // Immediate mode: tcpdump's default TPACKET_V3 ring hands over a block
    // only when it fills or times out (1 s), and SIGINT loses what is still
    // in it — the tail of the association.
    const dump = spawn('ip', ['netns', 'exec', lab!.net.bridgeNs, 'tcpdump', '-i', 'tap1', '-s', '0', '--immediate-mode', '-U', '-w', pcap, 'tcp port 4420'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const undo = onCleanup('tcpdump', () => dump.kill('SIGKILL'));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('tcpdump did not start')), 10_000);
      dump.stderr!.on('data', (d: Buffer) => {
        if (d.toString().includes('listening on')) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    const reads = [5, 0, 9, 2, 13, 7, 1, 11].map((i, k) => ({ offset: i * 128 * KiB, length: k % 2 === 0 ? 128 * KiB : 16 * KiB }));
    let guest: { offset: number; length: number; sha256: string }[];
    try {
      const dev = await host.connect({ target: target.addr, nqn: target.nqn, hdrDigest: true, dataDigest: true, ioQueues: 2 });
      guest = await host.readHashes(dev, reads, 2);
      const wrote = await host.writeRandom(dev, [{ offset: 8 * MiB, length: 64 * KiB }]);
      const back = await host.readHashes(dev, [{ offset: 8 * MiB, length: 64 * KiB }], 1);
      expect(back[0]!.sha256).toBe(wrote[0]!.sha256);
      await host.disconnect();
    } finally {
      const done = new Promise<void>((resolve) => dump.once('exit', () => resolve()));
      dump.kill('SIGINT');
      await done;
      undo();
    }
    for (const g of guest) expect(g.sha256, `guest read at ${g.offset}`).toBe(patternSha(g.offset, g.length));

    const none = await replayCapture({ path: pcap, offload: 'none' });
    const crc = await replayCapture({ path: pcap, offload: 'ddp-crc' });
    const key = (r: { slba: number | null; lenBytes: number; status: string; sha256: string | null }): string => `${r.slba}:${r.lenBytes}:${r.status}:${r.sha256}`;
    expect(none.reads.filter((r) => r.status !== 'ok').map(key)).toEqual([]);
    expect(crc.reads.map(key).sort()).toEqual(none.reads.map(key).sort());
    // The guest's reads are among the replayed ones, with the same digests.
    for (const g of guest) {
      const r = none.reads.find((x) => x.slba !== null && x.slba * 512 === g.offset && x.lenBytes === g.length);
      expect(r?.sha256, `replayed read at ${g.offset}`).toBe(g.sha256);
    }
    expect(none.nic.rx_csum_partial).toBeGreaterThan(0);
    expect(crc.total.bytes.placed).toBeGreaterThan(0);
  }, 240_000);
});
