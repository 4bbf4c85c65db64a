/**
 * `ddplab peer ...`: real Linux NVMe/TCP peers in QEMU VMs (src/peer).
 *
 *   ddplab peer linux-target   an nvmet-tcp target VM serving the block pattern of
 *                              --seed, and an interface for ddplab on its bridge;
 *                              runs until Ctrl-C, then removes everything
 *   ddplab peer linux-host     a Linux nvme-tcp host VM against a `ddplab target`
 *                              it starts on the same bridge: random-order reads
 *                              checked against the pattern, writes read back
 *   ddplab peer status         what peer labs exist on this machine
 *   ddplab peer down           remove labs whose process died (SIGKILL)
 *
 * Everything a command makes (VMs, namespaces with their bridge, taps and
 * veths, temp files) is removed on success, error, SIGINT and SIGTERM.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { DDPLAB_BIN } from '../base/paths.js';
import type { Command } from 'commander';
import { UserError } from '../base/errors.js';
import { onCleanup } from '../peer/cleanup.js';
import { PeerLab, PEER_ADDR, PEER_PREFIX, peerLabs, removePeerLab } from '../peer/lab.js';
import type { IoRange } from '../peer/linux-host.js';
import { fillPattern } from '../wire/block-pattern.js';
import { parseBytes, parseUint } from './cmd-target.js';


interface TargetFlags {
  size: string;
  seed: string;
  id?: string;
}

interface HostFlags {
  seed: string;
  digest: string;
  queues: string;
  reads: string;
  bs: string;
  writes: boolean;
  targetArgs?: string;
  id?: string;
}

function digestFlags(text: string): { hdr: boolean; data: boolean } {
  if (!['none', 'header', 'data', 'both'].includes(text)) throw new UserError('BAD_FLAG', `--digest: '${text}' is not one of none, header, data, both`);
  return { hdr: text === 'header' || text === 'both', data: text === 'data' || text === 'both' };
}

/**
 * Never resolves: the lab lives until SIGINT or SIGTERM, whose handler in
 * src/peer/cleanup.ts stops the VM, removes the namespaces and temp dir,
 * and exits with 130 or 143.
 */
function untilSignal(): Promise<never> {
  return new Promise<never>(() => undefined);
}

async function linuxTarget(flags: TargetFlags): Promise<void> {
  const size = parseBytes('size', flags.size);
  if (size % (1 << 20) !== 0 || size < 1 << 20 || size > 1 << 30) throw new UserError('BAD_FLAG', `--size: ${flags.size}: use whole MiB from 1m to 1g (the VM holds it in RAM)`);
  const seed = parseUint('seed', flags.seed);
  const lab = PeerLab.create(flags.id !== undefined ? { id: flags.id } : {});
  try {
    const t = await lab.startLinuxTarget({ sizeBytes: size, seed });
    const ns = lab.addLeg('ini', { ifname: 'ext0', userspace: true });
    process.stdout.write(
      [
        `linux-target up (${lab.kernel.release}, ${t.vm.accel}, booted in ${(t.vm.bootMs / 1000).toFixed(1)} s): nvmet-tcp at ${t.addr}, nqn ${t.nqn}`,
        `  namespace ${size / (1 << 20)} MiB holding \`ddplab pattern --seed ${seed}\` (a copy: ${t.imagePath})`,
        `  ddplab's interface: ext0 in namespace ${ns} (no address, ARP off; offloads as the kernel set them)`,
        `  try: ip netns exec ${ns} ddplab run --target ${t.addr} --nqn ${t.nqn} --iface ext0 --host-ip ${PEER_ADDR.ddplabHost}/${PEER_PREFIX} --verify pattern:${seed} --offload ddp-crc --digest data`,
        '  Ctrl-C stops the VM and removes the namespaces',
        '',
      ].join('\n'),
    );
    await untilSignal();
  } finally {
    await lab.close();
  }
}

/** Reads of `bs` at distinct offsets of [0, 32 MiB) in a seeded random order. */
function randomRanges(n: number, bs: number, seed: number): IoRange[] {
  let x = seed >>> 0 || 1;
  const slots = Array.from({ length: Math.floor((32 << 20) / bs) }, (_, i) => i);
  for (let i = slots.length - 1; i > 0; i--) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    const j = x % (i + 1);
    [slots[i], slots[j]] = [slots[j]!, slots[i]!];
  }
  return slots.slice(0, n).map((s) => ({ offset: s * bs, length: bs }));
}

async function linuxHost(flags: HostFlags): Promise<void> {
  const seed = parseUint('seed', flags.seed);
  const dg = digestFlags(flags.digest);
  const queues = parseUint('queues', flags.queues);
  if (queues < 1 || queues > 4) throw new UserError('BAD_FLAG', `--queues: ${queues}: use 1 to 4 (one vCPU each)`);
  const reads = parseUint('reads', flags.reads);
  const bs = parseBytes('bs', flags.bs);
  if (bs % 4096 !== 0 || bs < 4096 || bs > 1 << 20) throw new UserError('BAD_FLAG', `--bs: ${flags.bs}: use a multiple of 4k up to 1m`);
  const extra = (flags.targetArgs ?? '').split(/\s+/).filter(Boolean);
  const lab = PeerLab.create(flags.id !== undefined ? { id: flags.id } : {});
  try {
    const ns = lab.addLeg('tgt', { ifname: 'eth0', addr: `${PEER_ADDR.ddplabTarget}/${PEER_PREFIX}` });
    const addr = `${PEER_ADDR.ddplabTarget}:4420`;
    const target = spawn('ip', ['netns', 'exec', ns, process.execPath, DDPLAB_BIN, 'target', '--listen', addr, '--seed', String(seed), '--size', '64m', '--quiet', ...extra], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const undo = onCleanup('ddplab target', () => target.kill('SIGKILL'));
    try {
      await new Promise<void>((resolve, reject) => {
        target.stdout!.on('data', (d: Buffer) => {
          if (d.toString().includes('listening on')) resolve();
        });
        target.once('exit', (code) => reject(new UserError('PEER_TARGET', `ddplab target ${extra.join(' ')} ended (exit ${String(code)}) before listening`)));
      });
      const host = await lab.startLinuxHost({ cpus: queues });
      process.stderr.write(`linux-host up (${lab.kernel.release}, ${host.vm.accel}, booted in ${(host.vm.bootMs / 1000).toFixed(1)} s)\n`);
      const dev = await host.connect({ target: addr, nqn: 'nqn.2026-11.io.ddplab:target', hdrDigest: dg.hdr, dataDigest: dg.data, ioQueues: queues });
      const nq = await host.ioQueueCount(dev);
      const ranges = randomRanges(reads, bs, seed);
      const t0 = Date.now();
      const got = await host.readHashes(dev, ranges, queues);
      const ms = Date.now() - t0;
      let bad = 0;
      for (const r of got) {
        const b = Buffer.alloc(r.length);
        fillPattern(seed, r.offset, b);
        if (createHash('sha256').update(b).digest('hex') !== r.sha256) bad++;
      }
      process.stdout.write(`reads   ${got.length} x ${bs} B in random order on ${nq} I/O queues: ${got.length - bad} equal the pattern, ${bad} differ (${((reads * bs) / ms / 1000).toFixed(1)} MB/s incl. dd start-up)\n`);
      let wbad = 0;
      if (flags.writes) {
        const writes: IoRange[] = [
          { offset: 48 << 20, length: 4096 },
          { offset: 49 << 20, length: 128 << 10 },
        ];
        const wrote = await host.writeRandom(dev, writes);
        const back = await host.readHashes(dev, writes, 1);
        wbad = back.filter((b, i) => b.sha256 !== wrote[i]!.sha256).length;
        process.stdout.write(`writes  4 KiB (in-capsule) and 128 KiB (R2T): ${writes.length - wbad} read back equal, ${wbad} differ\n`);
      }
      await host.disconnect();
      if (bad + wbad > 0) throw new UserError('PEER_MISMATCH', `${bad + wbad} of the Linux host's reads differ from what the target holds`);
    } finally {
      target.kill('SIGTERM');
      undo();
    }
  } finally {
    await lab.close();
  }
}

export function registerPeerCommand(program: Command): void {
  const peer = program.command('peer').description('real Linux NVMe/TCP peers (nvmet-tcp target, nvme-tcp host) in QEMU VMs on a bridge ddplab joins');
  peer
    .command('linux-target')
    .description('boot an nvmet-tcp target VM serving the block pattern of --seed; runs until Ctrl-C')
    .option('--size <bytes>', 'namespace size, whole MiB (held in the VM\'s RAM)', '64m')
    .option('--seed <n>', 'seed of the block pattern the namespace holds', '1')
    .option('--id <id>', 'lab id, 1-8 of a-z 0-9 (default: random)')
    .action(linuxTarget);
  peer
    .command('linux-host')
    .description('boot an nvme-tcp host VM against a ddplab target it starts: random-order reads checked against the pattern, optional writes read back')
    .option('--seed <n>', 'the ddplab target\'s pattern seed', '1')
    .option('--digest <which>', 'digests the Linux host asks for: none, header, data, both', 'both')
    .option('--queues <n>', 'I/O queues (the VM gets one vCPU each), 1-4', '2')
    .option('--reads <n>', 'how many reads', '64')
    .option('--bs <bytes>', 'read size', '128k')
    .option('--writes', 'also write 4 KiB (in-capsule) and 128 KiB (R2T) of random bytes and read them back')
    .option('--target-args <args>', 'extra `ddplab target` flags, e.g. "--order random --interleave --c2h-size 32k"')
    .option('--id <id>', 'lab id, 1-8 of a-z 0-9 (default: random)')
    .action(linuxHost);
  peer
    .command('status')
    .description('peer labs on this machine: id, owner process, namespaces, qemu processes')
    .action(() => {
      const labs = peerLabs();
      if (labs.length === 0) process.stdout.write('no peer labs\n');
      for (const l of labs) {
        process.stdout.write(`${l.id}  owner ${l.owner === null ? 'unknown' : `${l.owner} (${l.ownerAlive ? 'alive' : 'gone'})`}  namespaces ${l.namespaces.join(' ')}  qemu ${l.qemuPids.join(' ') || 'none'}\n`);
      }
    });
  peer
    .command('down')
    .description('remove peer labs whose owner process is gone (a SIGKILLed run); --force: live ones too')
    .option('--id <id>', 'only this lab')
    .option('--force', 'also labs whose owner is alive')
    .action((flags: { id?: string; force?: boolean }) => {
      const labs = peerLabs().filter((l) => flags.id === undefined || l.id === flags.id);
      if (flags.id !== undefined && labs.length === 0) process.stdout.write(`no peer lab ${flags.id}\n`);
      for (const l of labs) {
        if (l.ownerAlive && flags.force !== true) {
          process.stdout.write(`kept ${l.id}: its process ${String(l.owner)} is alive (--force removes it)\n`);
          continue;
        }
        removePeerLab(l.id);
        process.stdout.write(`removed ${l.id}\n`);
      }
    });
}
