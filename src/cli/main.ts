/**
 * The `ddplab` command. Each subcommand lives in its own file and registers
 * itself on the program; this file only wires them up and turns failures
 * into one line.
 */
import { Command, CommanderError } from 'commander';
import { reportAndExit } from './user-error.js';
import { registerTargetCommand } from './cmd-target.js';
import { registerTopologyCommands } from './cmd-topology.js';
import { registerHostCommand } from './cmd-host.js';
import { registerRunCommand } from './cmd-run.js';
import { registerBenchCommand } from './cmd-bench.js';
import { registerReplayCommand } from './cmd-replay.js';
import { registerPatternCommand } from './cmd-pattern.js';
import { registerPeerCommand } from './cmd-peer.js';
import { registerDemoCommand } from './cmd-demo.js';

const program = new Command();
program
  .name('ddplab')
  .description('Testbed for receive-side zero-copy offloads of NVMe/TCP (DDP, CRC offload, resync, devmem)')
  .version('0.1.0')
  .exitOverride()
  .configureOutput({
    writeErr: (s) => process.stderr.write(s),
  });

// Subcommands (one file each) register here.
const registrations: Array<(p: Command) => void> = [];
registrations.push(registerTargetCommand);
registrations.push(registerTopologyCommands);
registrations.push(registerHostCommand);
registrations.push(registerRunCommand);
registrations.push(registerBenchCommand);
registrations.push(registerReplayCommand);
registrations.push(registerPatternCommand);
registrations.push(registerPeerCommand);
registrations.push(registerDemoCommand);

for (const register of registrations) register(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // commander already printed its one-line message (or help / version).
    process.exit(e.exitCode);
  }
  reportAndExit(e);
}
