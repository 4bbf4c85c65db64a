/**
 * ddplab's host beside the Linux kernel host, against the same Linux
 * nvmet-tcp target VM (`npm run bench:linux`). One lab (src/peer): the
 * target VM serving the block pattern, then
 *   1. a Linux nvme-tcp host VM on the same bridge reads [0, --size) with
 *      --jobs parallel O_DIRECT dd's of --bs (busybox has no fio: each dd is
 *      queue depth 1, so --jobs is the depth), data digest on, timed in the
 *      guest; the VM is then stopped so it takes no CPU from what follows;
 *   2. `ddplab run --target` on a veth of the bridge reads the same range,
 *      data digest on, with offload none and ddp-crc, at iodepth --jobs and 32.
 * Both hosts are software: the kernel one emulated by QEMU (TCG), ddplab's in
 * Node. Every ddplab read is verified; the Linux host's reads are hashed and
 * compared with the pattern. Prints figures; asserts nothing about time.
 *
 *   npm run bench:linux [-- --size 32m --bs 128k --jobs 8 --repeat 3]
 */
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { ExternalRunReport } from '../src/lab/run-external.js';
import { PeerLab, PEER_ADDR, PEER_PREFIX, peerUnavailable } from '../src/peer/lab.js';
import { fillPattern } from '../src/wire/block-pattern.js';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '32m' },
    bs: { type: 'string', default: '128k' },
    jobs: { type: 'string', default: '8' },
    repeat: { type: 'string', default: '3' },
  },
});

function bytes(text: string): number {
  const m = /^(\d+)([kmg]?)$/i.exec(text);
  if (!m) throw new Error(`not a size: ${text}`);
  return Number(m[1]) * { '': 1, k: 1024, m: 1 << 20, g: 1 << 30 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
}

const SIZE = bytes(values.size);
const BS = bytes(values.bs);
const JOBS = Number(values.jobs);
const REPEAT = Math.max(1, Number(values.repeat));

/** Median and range of repeated figures: the emulated target is noisy. */
function summary(xs: readonly number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const med = s[Math.floor(s.length / 2)]!;
  return s.length === 1 ? med.toFixed(1) : `${med.toFixed(1)} (${s[0]!.toFixed(1)}–${s.at(-1)!.toFixed(1)})`;
}
const SEED = 77;
const BIN = fileURLToPath(new URL('../bin/ddplab.js', import.meta.url));

const why = peerUnavailable();
if (why !== undefined) {
  process.stderr.write(`${why}\n`);
  process.exit(1);
}

const lab = PeerLab.create();
const rows: string[][] = [];
try {
  const target = await lab.startLinuxTarget({ sizeBytes: Math.max(64 << 20, SIZE), seed: SEED });
  process.stderr.write(`target VM up (${target.vm.accel}, ${(target.vm.bootMs / 1000).toFixed(1)} s)\n`);

  const host = await lab.startLinuxHost({ cpus: 2 });
  const dev = await host.connect({ target: target.addr, nqn: target.nqn, dataDigest: true, ioQueues: 2 });
  // A few reads checked against the pattern first: the figure below is of correct reads.
  const probe = await host.readHashes(dev, [0, 1, 2, 3].map((i) => ({ offset: i * 5 * BS, length: BS })), 2);
  for (const p of probe) {
    const b = Buffer.alloc(p.length);
    fillPattern(SEED, p.offset, b);
    if (createHash('sha256').update(b).digest('hex') !== p.sha256) throw new Error(`Linux host read at ${p.offset} differs from the pattern`);
  }
  const linux: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const t = await host.readThroughput(dev, SIZE, BS, JOBS);
    linux.push(t.bytes / t.seconds / 1e6);
  }
  rows.push(['Linux nvme-tcp (VM, TCG, 2 vCPUs)', `${JOBS} dd's`, 'none (kernel)', summary(linux), '']);
  await host.disconnect();
  await host.stop();

  const ns = lab.addLeg('ini', { ifname: 'ext0', userspace: true });
  for (const offload of ['none', 'ddp-crc']) {
    for (const depth of [...new Set([JOBS, 32])]) {
      const mbps: number[] = [];
      let notes = '';
      for (let i = 0; i < REPEAT; i++) {
        const r = await execa(
          'ip',
          ['netns', 'exec', ns, process.execPath, BIN, 'run', '--json', '--target', target.addr, '--nqn', target.nqn, '--iface', 'ext0', '--host-ip', `${PEER_ADDR.ddplabHost}/${PEER_PREFIX}`,
            '--verify', `pattern:${SEED}`, '--rw', 'read', '--bs', values.bs, '--size', values.size, '--iodepth', String(depth), '--offload', offload, '--digest', 'data'],
          { reject: false, timeout: 600_000 },
        );
        const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
        if (line === undefined) throw new Error(`ddplab run gave no report: ${r.stderr.slice(-300)}`);
        const rep = JSON.parse(line) as ExternalRunReport;
        if (!rep.ok) throw new Error(`ddplab run failed: ${rep.error ?? 'see report'}`);
        mbps.push(rep.io.MBps);
        notes = `placed ${rep.ddp.placementPct.toFixed(0)}%, super-frames ${rep.nic.rx_super_frames}, host RTOs ${rep.tcp.rtoTimeouts}, verified ${rep.verify.bytes >> 20} MiB`;
      }
      rows.push(['ddplab host (Node)', `iodepth ${depth}`, offload, summary(mbps), notes]);
    }
  }
} finally {
  await lab.close();
}

process.stdout.write(`${values.size} of ${values.bs} sequential reads, data digest on, from one Linux nvmet-tcp VM (TCG, 1 vCPU); MB/s median of ${REPEAT} (min–max)\n`);
process.stdout.write('| host | depth | offload | MB/s | notes |\n|---|---|---|---|---|\n');
for (const r of rows) process.stdout.write(`| ${r.join(' | ')} |\n`);
