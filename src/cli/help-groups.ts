/**
 * `ddplab run --help` and friends in groups: one table per command, mapping
 * each option's long flag to a heading, applied after the commands register
 * (so the add*Flags files that share flags between commands need not know
 * about help). Options are shown group by group in the table's order; an
 * option missing from its command's table stays under commander's
 * "Options:" heading, which test/cli/commands.test.ts refuses for run,
 * host, bench and replay: a new flag needs a row here. A flag named here
 * that a command does not have is ignored.
 * A command without a table is left as it is.
 */
import { Option, type Command } from 'commander';

type Groups = ReadonlyArray<readonly [heading: string, flags: readonly string[]]>;

// (fio's spellings among them: --bssplit, --io_size, --time_based...)
const WORKLOAD = ['name', 'rw', 'bs', 'bssplit', 'bsrange', 'iodepth', 'queues', 'size', 'io_size', 'io_limit', 'offset', 'runtime', 'time_based', 'time', 'ramp_time', 'rwmixread', 'seed', 'no-verify'];
const OFFLOAD_NIC = ['offload', 'digest', 'nic', 'nic-tcp-oracle', 'nic-tcp-checks', 'ulp', 'no-nic-thread', 'no-gro'];
const DDP_LIMITS = ['ddp-max-sgl', 'ddp-threshold', 'ddp-full-cid-range'];
const DEVMEM = ['devmem-pool', 'devmem-return', 'devmem-hold'];
const IMPAIR = ['drop', 'burst', 'reorder', 'dup', 'corrupt', 'tx-drop', 'tx-burst', 'tx-reorder', 'tx-dup', 'tx-corrupt', 'reorder-depth', 'reorder-us'];
const TIMEOUTS = ['connect-timeout', 'io-timeout'];

/** Per command: headings in display order; `help` (-h) goes in the last group. */
export const HELP_GROUPS: Readonly<Record<string, Groups>> = {
  run: [
    ['Workload:', WORKLOAD],
    ['Target and topology (what ddplab builds):', ['profile', 'order', 'interleave', 'c2h-size', 'hostile', 'mtu', 'target-cc', 'veth-offloads', 'offloads', 'id']],
    ['Offload / NIC:', OFFLOAD_NIC],
    ['DDP limits (offload ddp, ddp-crc):', DDP_LIMITS],
    ['Devmem (offload devmem-tcp, devmem-nvme):', DEVMEM],
    ['Impairment (seeded, in the host process):', IMPAIR],
    ['Timeouts:', TIMEOUTS],
    [
      'External target (--target: no topology, a target ddplab did not start):',
      ['target', 'nqn', 'iface', 'host-ip', 'gateway', 'host-mac', 'verify', 'queue-depth', 'accept-partial-csum', 'no-accept-partial-csum'],
    ],
    ['Capture & output:', ['capture', 'hash-reads', 'output-format', 'json', 'help']],
  ],
  host: [
    ['Interface and target:', ['iface', 'host-ip', 'gateway', 'host-mac', 'target', 'nqn', 'queue-depth', 'accept-partial-csum', 'no-accept-partial-csum', 'super-frames']],
    ['Workload:', WORKLOAD],
    ['Offload / NIC:', OFFLOAD_NIC],
    ['DDP limits (offload ddp, ddp-crc):', DDP_LIMITS],
    ['Devmem (offload devmem-tcp, devmem-nvme):', DEVMEM],
    ['Impairment (seeded):', IMPAIR],
    ['Timeouts:', TIMEOUTS],
    ['Capture & output:', ['capture', 'hash-reads', 'progress-json', 'quiet', 'help']],
  ],
  bench: [
    ['Sweep (comma-separated lists: every combination runs):', ['drop', 'reorder', 'offload', 'nic', 'rw', 'bs', 'seeds', 'seed']],
    ['Run size:', ['size', 'min-loss-events', 'min-size', 'max-size']],
    ['Workload and target:', ['iodepth', 'queues', 'digest', 'order', 'interleave', 'c2h-size', 'mtu']],
    ['Impairment:', ['reorder-depth', 'reorder-us', 'burst', 'dup', 'corrupt']],
    ['Output:', ['out', 'from', 'id', 'json', 'help']],
  ],
  replay: [
    ['Offload / NIC:', ['offload', 'ulp', 'nic', 'nic-tcp-oracle', 'nic-tcp-checks']],
    ['DDP limits (offload ddp, ddp-crc):', DDP_LIMITS],
    ['Impairment (seeded):', ['drop', 'burst', 'reorder', 'reorder-depth', 'dup', 'seed']],
    ['Capture & output:', ['port', 'verify-checksums', 'json', 'help']],
  ],
};

/** Examples at the end of `--help`, per command: what it shows, then the command. */
export const HELP_EXAMPLES: Readonly<Record<string, ReadonlyArray<readonly [what: string, command: string]>>> = {
  run: [
    ['verified reads, no offload', 'ddplab run --rw read --size 256m --bs 128k --iodepth 32'],
    ['direct data placement and CRC offload, data digest on', 'ddplab run --offload ddp-crc --rw read --bs 128k --iodepth 32 --size 256m --digest data'],
    ['placement and resync under seeded loss, as JSON', 'ddplab run --offload ddp-crc --digest data --drop 1e-3 --seed 7 --json'],
    ['a capture and every read\'s SHA-256, to replay offline', 'ddplab run --size 64m --capture /tmp/run.pcap --hash-reads /tmp/run.json'],
    [
      'against a target ddplab did not start, on an interface of yours',
      'ddplab run --target 192.0.2.1:4420 --nqn nqn.2026-11.io.ddplab:target --iface eth1 --host-ip 192.0.2.2/24 --verify pattern:1',
    ],
  ],
  host: [['the host side alone, inside a topology made by ddplab up --id ID', 'ip netns exec ddplab-ID-host ddplab host --size 64m --bs 128k --iodepth 8']],
  bench: [['loss sweep without and with the offload', 'ddplab bench --drop 0,1e-4,1e-3 --offload none,ddp-crc --size 64m --out bench/out/sweep']],
  replay: [['a capture of ddplab run --capture, with the offload and seeded loss', 'ddplab replay /tmp/run.pcap --offload ddp-crc --drop 1e-3 --seed 3 --json']],
};

function flagOf(o: Option): string {
  return (o.long ?? o.short ?? '').replace(/^-+/, '');
}

/** Groups one command's options by `groups`; returns the flags it did not place. */
export function groupOptions(cmd: Command, groups: Groups): string[] {
  const where = new Map<string, number>();
  groups.forEach(([, flags], i) => flags.forEach((f) => where.set(f, i)));
  for (const o of cmd.options) {
    const i = where.get(flagOf(o));
    if (i !== undefined) o.helpGroup(groups[i]![0]);
  }
  const helpGroup = groups.findIndex(([, flags]) => flags.includes('help'));
  if (helpGroup >= 0) cmd.addHelpOption(new Option('-h, --help', 'display help for command').helpGroup(groups[helpGroup]![0]));
  // commander lists groups in the order their first option appears.
  const rank = (o: Option): number => where.get(flagOf(o)) ?? groups.length;
  const sorted = [...cmd.options].sort((a, b) => rank(a) - rank(b));
  (cmd.options as Option[]).splice(0, cmd.options.length, ...sorted);
  return cmd.options.filter((o) => !where.has(flagOf(o))).map(flagOf);
}

/** Applies the tables and examples to the program's commands that have them (registered for real, not stubs). */
export function applyHelpGroups(program: Command): void {
  for (const cmd of program.commands) {
    const groups = HELP_GROUPS[cmd.name()];
    if (groups === undefined || cmd.options.length === 0) continue;
    groupOptions(cmd, groups);
    const examples = HELP_EXAMPLES[cmd.name()];
    if (examples !== undefined) cmd.addHelpText('after', `\nExamples:\n${examples.map(([what, command]) => `  # ${what}\n  ${command}`).join('\n')}\n`);
  }
}
