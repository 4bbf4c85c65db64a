/**
 * A Linux nvmet-tcp target in a VM: the stock kernel's nvmet and nvmet-tcp
 * modules, configured through configfs, serving one namespace backed by a
 * brd ramdisk that holds a known image — ddplab's block pattern for a seed
 * (src/wire/block-pattern.ts), so `--verify pattern:SEED` and `--verify
 * file:<imagePath>` (a host-side copy written alongside) both check reads.
 *
 * The image travels in the initramfs and is copied onto /dev/ram0 at start;
 * the nvmet block-device backend then serves it as any disk.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fillPattern } from '../wire/block-pattern.js';
import { writeInitramfs } from './initramfs.js';
import type { PeerKernel } from './kernel.js';
import { PeerVm } from './vm.js';
import { PeerError } from './requirements.js';

/** Where a VM of a lab runs and what it boots. */
export interface VmPlacement {
  readonly dir: string;
  readonly kernel: PeerKernel;
  readonly busybox: string;
  readonly netns: string;
  readonly tap: string;
  readonly mac: string;
}

export interface LinuxTargetOptions {
  readonly name: string;
  readonly ip: string;
  readonly prefixLen: number;
  /** NVMe/TCP port (default 4420). */
  readonly port?: number;
  readonly nqn?: string;
  /** Namespace size in bytes, a multiple of 1 MiB (default 16 MiB). */
  readonly sizeBytes?: number;
  /** Seed of the block pattern the namespace holds (default 1). */
  readonly seed?: number;
  readonly memMiB?: number;
  readonly lab: VmPlacement;
}

export const LINUX_TARGET_NQN = 'nqn.2026-11.io.ddplab:linux-target';
const MiB = 1 << 20;

/** The pattern image in 1 MiB chunks, each also appended to a host-side file. */
function* imageChunks(seed: number, size: number, copyFd: number): Generator<Uint8Array> {
  const buf = Buffer.alloc(MiB);
  for (let off = 0; off < size; off += MiB) {
    fillPattern(seed, off, buf);
    writeSync(copyFd, buf);
    yield buf;
  }
}

export class LinuxTargetVm {
  readonly vm: PeerVm;
  readonly ip: string;
  readonly port: number;
  readonly nqn: string;
  readonly sizeBytes: number;
  readonly seed: number;
  /** Host-side copy of the image as served before any write (for --verify file:PATH). */
  readonly imagePath: string;

  private constructor(vm: PeerVm, o: LinuxTargetOptions, imagePath: string) {
    this.vm = vm;
    this.ip = o.ip;
    this.port = o.port ?? 4420;
    this.nqn = o.nqn ?? LINUX_TARGET_NQN;
    this.sizeBytes = o.sizeBytes ?? 16 * MiB;
    this.seed = o.seed ?? 1;
    this.imagePath = imagePath;
  }

  get addr(): string {
    return `${this.ip}:${this.port}`;
  }

  static async start(o: LinuxTargetOptions): Promise<LinuxTargetVm> {
    const size = o.sizeBytes ?? 16 * MiB;
    if (size <= 0 || size % MiB !== 0) throw new PeerError(`linux target: size ${size} is not a positive multiple of 1 MiB`);
    const seed = o.seed ?? 1;
    const imagePath = join(o.lab.dir, `${o.name}.img`);
    const initrd = join(o.lab.dir, `${o.name}.initrd`);
    const fd = openSync(imagePath, 'w');
    try {
      writeInitramfs(initrd, {
        busybox: o.lab.busybox,
        modules: o.lab.kernel.modules.target,
        extra: { path: '/disk.img', size, chunks: imageChunks(seed, size, fd) },
      });
    } finally {
      closeSync(fd);
    }
    // Image in the initramfs, its copy on the ramdisk, the page cache: room for three.
    const memMiB = o.memMiB ?? Math.max(384, 256 + (3 * size) / MiB);
    const vm = await PeerVm.boot({ name: o.name, netns: o.lab.netns, tap: o.lab.tap, mac: o.lab.mac, memMiB, kernel: o.lab.kernel.bootImage, initrd, dir: o.lab.dir });
    const t = new LinuxTargetVm(vm, o, imagePath);
    try {
      await vm.run(
        `set -e
for m in $(cat /etc/peer-modules); do
  if [ "$m" = brd ]; then insmod /lib/peer/brd.ko rd_nr=1 rd_size=${size / 1024} max_part=0; else insmod /lib/peer/$m.ko; fi
done
ip link set eth0 up
ip addr add ${o.ip}/${o.prefixLen} dev eth0
dd if=/disk.img of=/dev/ram0 bs=1M 2>/dev/null
rm /disk.img
mount -t configfs none /sys/kernel/config
cd /sys/kernel/config/nvmet
mkdir subsystems/${t.nqn}
echo 1 > subsystems/${t.nqn}/attr_allow_any_host
mkdir subsystems/${t.nqn}/namespaces/1
echo /dev/ram0 > subsystems/${t.nqn}/namespaces/1/device_path
echo 1 > subsystems/${t.nqn}/namespaces/1/enable
mkdir ports/1
echo tcp > ports/1/addr_trtype
echo ipv4 > ports/1/addr_adrfam
echo ${o.ip} > ports/1/addr_traddr
echo ${t.port} > ports/1/addr_trsvcid
ln -s /sys/kernel/config/nvmet/subsystems/${t.nqn} ports/1/subsystems/${t.nqn}
`,
        120_000,
      );
    } catch (e) {
      await vm.stop();
      throw e;
    }
    return t;
  }

  /** The guest's TCP counters (nstat-like lines from /proc/net/snmp and netstat). */
  async tcpCounters(): Promise<Record<string, number>> {
    const out = await this.vm.run('cat /proc/net/snmp /proc/net/netstat');
    return parseSnmp(out);
  }

  async stop(): Promise<void> {
    await this.vm.stop();
  }
}

/** /proc/net/snmp and /proc/net/netstat: header line then value line per protocol → "Tcp.RetransSegs" etc. */
export function parseSnmp(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  const lines = text.split('\n').filter((l) => l.includes(':'));
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const [proto, ...keys] = lines[i]!.trim().split(/\s+/);
    const [, ...vals] = lines[i + 1]!.trim().split(/\s+/);
    keys.forEach((k, j) => {
      out[`${proto!.replace(/:$/, '')}.${k}`] = Number(vals[j]);
    });
  }
  return out;
}
