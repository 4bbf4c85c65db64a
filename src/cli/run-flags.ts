/**
 * Flags several commands share with one meaning: the NVMe/TCP digests and
 * the offload mode (run, host, bench, replay), the shape of the target
 * ddplab starts (run, bench) and of the topology (run, bench, up). Declared
 * once so each reads the same in every --help and parses the same way.
 */
import { Option, type Command } from 'commander';
import type { OffloadMode } from '../host/offload-mode.js';
import type { DigestChoice } from '../lab/host-run.js';
import { UserError } from '../base/errors.js';
import { parseBytes } from './byte-flags.js';
import { DEFAULT_LBA_BYTES, DEFAULT_NAMESPACE_BYTES } from '../target/defaults.js';
import { parseSizeBytes } from '../host/workload/options.js';

/** What each mode is, for help texts. */
const MODE_HELP: Readonly<Record<OffloadMode, string>> = {
  none: 'none',
  ddp: 'ddp (direct data placement)',
  'ddp-crc': 'ddp-crc (DDP + data digest)',
  'devmem-tcp': 'devmem-tcp',
  'devmem-nvme': 'devmem-nvme (receive into device memory)',
  'zcrx-tcp': 'zcrx-tcp (io_uring zero-copy receive)',
  'zcrx-nvme': 'zcrx-nvme (io_uring zero-copy receive; the area is --devmem-pool)',
};

export function addDigestFlag(cmd: Command, defaultDigest: DigestChoice): Command {
  return cmd.option('--digest <which>', 'NVMe/TCP digests: none, header, data, both', defaultDigest);
}

/** --offload MODE, taking `modes`. */
export function addOffloadFlag(cmd: Command, modes: readonly OffloadMode[]): Command {
  return cmd.option('--offload <mode>', `NIC offload of the NVMe/TCP queues: ${modes.map((m) => MODE_HELP[m]).join(', ')}`, 'none');
}

export type CompletionOrder = 'fifo' | 'random' | 'reverse';

/** --order, --interleave, --c2h-size: how the target ddplab starts answers reads. */
export function addTargetShapeFlags(cmd: Command): Command {
  return cmd
    .option('--order <order>', 'target completion order: fifo, random, reverse', 'fifo')
    .option('--interleave', 'target interleaves the C2HData PDUs of different reads')
    .option('--c2h-size <bytes>', 'largest C2HData payload the target sends (0 = whole transfer)', '0');
}

export function parseOrder(text: string): CompletionOrder {
  if (text !== 'fifo' && text !== 'random' && text !== 'reverse') throw new UserError('BAD_FLAG', `--order: '${text}' is not one of fifo, random, reverse`);
  return text;
}

/**
 * The shape of the ddplab target a run starts, checked before anything is
 * built: --c2h-size is a byte count, and --offset lies inside its namespace
 * (1 GiB of 512-byte LBAs) on an LBA boundary.
 */
export function checkTargetShape(f: { c2hSize: string; offset?: string }): void {
  parseBytes('c2h-size', f.c2hSize);
  if (f.offset === undefined) return;
  const off = parseSizeBytes(f.offset, 'offset');
  if (off >= DEFAULT_NAMESPACE_BYTES) {
    throw new UserError('BAD_FLAG', `--offset ${f.offset} is past the end of the ddplab target's namespace (${DEFAULT_NAMESPACE_BYTES / 2 ** 30} GiB)`);
  }
  if (off % DEFAULT_LBA_BYTES !== 0) throw new UserError('BAD_FLAG', `--offset ${f.offset} is not a multiple of the target's LBA size (${DEFAULT_LBA_BYTES} bytes)`);
}

export interface VethOffloadFlags {
  vethOffloads?: boolean;
  /** The old spelling of --veth-offloads, still taken. */
  offloads?: boolean;
}

/**
 * --veth-offloads: leave the kernel's segmentation offloads (TSO/GSO/GRO)
 * on the veth pair. It was --offloads, which sat next to --offload (the
 * NIC's DDP/devmem mode) and meant something else; that spelling still
 * works, hidden from --help, with a one-line notice.
 */
export function addVethOffloadsFlag(cmd: Command, description: string): Command {
  return cmd.option('--veth-offloads', description).addOption(new Option('--offloads', 'deprecated spelling of --veth-offloads').hideHelp());
}

export function vethOffloadsFromFlags(f: VethOffloadFlags): boolean {
  if (f.offloads === true) process.stderr.write('ddplab: --offloads is deprecated, use --veth-offloads (the kernel\'s segmentation offloads on the veth pair)\n');
  return f.vethOffloads === true || f.offloads === true;
}
