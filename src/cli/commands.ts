/**
 * Every `ddplab` command, and the program built for one command line.
 *
 * Start is lazy: the table below names every command with its one-line
 * description and the module that registers it. Only the module of the
 * command being run is imported (a dynamic import: its own chunk in
 * dist/, see scripts/build.mjs); the others appear in `ddplab --help` as
 * their name and description alone. So `ddplab --help` loads no command's
 * code, and `ddplab run --help` loads only run's flags.
 * To add a command: one row in COMMANDS (src/cli/README.md says more).
 */
import { Command } from 'commander';
import { applyHelpGroups } from './help-groups.js';
import { DDPLAB_VERSION } from '../base/version.js';

/** A module that registers one or more commands on the program. */
type Register = (program: Command) => void;

export interface CommandEntry {
  /** The command's name as typed (`ddplab NAME`). */
  readonly name: string;
  /** Its line in `ddplab --help` (the same as the module's own .description(); test/cli/commands.test.ts checks). */
  readonly description: string;
  /** Its arguments as `ddplab --help` shows them, e.g. `<file.pcap>`. */
  readonly args?: string;
  /** Imports the module and returns its register function. */
  readonly load: () => Promise<Register>;
}

export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'target',
    description:
      'Run the NVMe/TCP target emulator: one subsystem, one namespace (deterministic pattern + written overlay), ' +
      'on a kernel TCP socket, with seeded knobs that stress a receiver. Runs until SIGINT/SIGTERM.',
    load: async () => (await import('./cmd-target.js')).registerTargetCommand,
  },
  {
    name: 'up',
    description: 'build the live topology: netns ddplab-<id>-tgt (tgt0 192.0.2.1/24) and ddplab-<id>-host (host0, no address)',
    load: async () => (await import('./cmd-topology.js')).registerTopologyCommands,
  },
  {
    name: 'down',
    description: 'remove the topology of one run (--id) or of every run (--all); missing ones are no-ops',
    load: async () => (await import('./cmd-topology.js')).registerTopologyCommands,
  },
  {
    name: 'status',
    description: 'list the ddplab topologies that exist',
    load: async () => (await import('./cmd-topology.js')).registerTopologyCommands,
  },
  {
    name: 'host',
    description: 'run the userspace host (software NIC + TCP + NVMe/TCP host + workload) on an interface; prints the report as JSON',
    load: async () => (await import('./cmd-host.js')).registerHostCommand,
  },
  {
    name: 'run',
    description: 'end-to-end run: topology, target (kernel TCP) and host (software NIC + userspace stack) as two processes, verified workload, report',
    args: '[jobfile]',
    load: async () => (await import('./cmd-run.js')).registerRunCommand,
  },
  {
    name: 'bench',
    description: 'sweep verified runs over loss, reordering, offload mode and workload on one topology; writes report.md, report.html (charts inline), report.json and SVG charts',
    load: async () => (await import('./cmd-bench.js')).registerBenchCommand,
  },
  {
    name: 'replay',
    description: 'replay a capture through the software NIC and the host receive path: offline, deterministic, impairable',
    args: '<file.pcap>',
    load: async () => (await import('./cmd-replay.js')).registerReplayCommand,
  },
  {
    name: 'pattern',
    description:
      "write the expected content of a byte range of a ddplab target's namespace (unwritten blocks of a target started with --seed N) to stdout or a file, to check what any host read (e.g. with cmp)",
    load: async () => (await import('./cmd-pattern.js')).registerPatternCommand,
  },
  {
    name: 'peer',
    description: 'real Linux NVMe/TCP peers (nvmet-tcp target, nvme-tcp host) in QEMU VMs on a bridge ddplab joins',
    load: async () => (await import('./cmd-peer.js')).registerPeerCommand,
  },
  {
    name: 'devmem-check',
    description:
      "check ddplab's devmem TCP model the way the kernel's devmem selftest checks a NIC (bind-rx errors, dmabuf ids, validation pattern, DONTNEED, EFAULT/ETOOSMALL), in-process, no root",
    load: async () => (await import('./cmd-devmem-check.js')).registerDevmemCheckCommand,
  },
  {
    name: 'stream',
    description:
      "a plain TCP stream from the target namespace's kernel TCP to the userspace host, received by copy, devmem tokens or io_uring zero-copy receive, every byte checked against ncdevmem's validation pattern",
    load: async () => (await import('./cmd-stream.js')).registerStreamCommand,
  },
  {
    name: 'demo',
    description: 'the headline: the same verified reads with offload none and ddp-crc (data digest on), side by side',
    load: async () => (await import('./cmd-demo.js')).registerDemoCommand,
  },
];

/** The command a command line runs: its first word that is not an option (`help run` asks about run). */
export function commandNameOf(argv: readonly string[]): string | undefined {
  const words = argv.filter((a) => !a.startsWith('-'));
  if (words[0] === 'help') return words[1];
  return words[0];
}

/**
 * The program with `name`'s module registered for real and every other
 * command as a stub (name, description, arguments) for the command list.
 * With `name` undefined (or unknown) only stubs: commander then prints the
 * list or says the command is unknown.
 */
export async function buildProgram(name: string | undefined): Promise<Command> {
  const program = new Command();
  program
    .name('ddplab')
    .description('Testbed for receive-side zero-copy offloads of NVMe/TCP (DDP, CRC offload, resync, devmem)')
    .version(DDPLAB_VERSION)
    .exitOverride()
    .configureOutput({
      writeErr: (s) => process.stderr.write(s),
    });
  const chosen = COMMANDS.find((c) => c.name === name);
  // One module may register several commands (up, down, status): load it once.
  const register = chosen !== undefined ? await chosen.load() : undefined;
  const registered = new Set<string>();
  if (register !== undefined) {
    const before = new Set(program.commands.map((c) => c.name()));
    register(program);
    for (const c of program.commands) if (!before.has(c.name())) registered.add(c.name());
  }
  for (const entry of COMMANDS) {
    if (registered.has(entry.name)) continue;
    const stub = program.command(entry.name).description(entry.description);
    if (entry.args !== undefined) stub.arguments(entry.args);
  }
  // Keep the table's order in the command list, whichever module was loaded.
  const order = new Map(COMMANDS.map((c, i) => [c.name, i]));
  (program.commands as Command[]).sort((a, b) => (order.get(a.name()) ?? 99) - (order.get(b.name()) ?? 99));
  applyHelpGroups(program);
  return program;
}
