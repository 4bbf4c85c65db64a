/**
 * The `ddplab` command: builds the program for this command line (only the
 * module of the command being run is loaded: src/cli/commands.ts) and turns
 * failures into one line.
 */
import { CommanderError } from 'commander';
import { reportAndExit } from './user-error.js';
import { setInvokedCommand } from '../lab/invoked-command.js';
import { receivedSignal, signalExitCode } from '../lab/interrupt.js';
import { buildProgram, COMMANDS, commandNameOf } from './commands.js';

const name = commandNameOf(process.argv.slice(2));
// Refusals deep in the lab name the command the user ran (src/lab/invoked-command.ts).
if (name !== undefined && COMMANDS.some((c) => c.name === name)) setInvokedCommand(`ddplab ${name}`);
const program = await buildProgram(name);
try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // commander already printed its one-line message (or help / version).
    process.exit(e.exitCode);
  }
  // A run stopped by SIGINT/SIGTERM before it had a report exits as the signal would have (130, 143).
  const signal = receivedSignal();
  reportAndExit(e, signal !== undefined ? signalExitCode(signal) : 1);
}
