/**
 * The command the user ran (`ddplab run`, `ddplab peer linux-host`), set by
 * the CLI before a command's action runs, so that a refusal deep in the lab
 * names what the user typed rather than the step that needed it (building
 * a topology is `ddplab up`'s work, also inside `ddplab run`). No imports:
 * the CLI sets it before loading any command's code.
 */
let invoked: string | undefined;

export function setInvokedCommand(name: string | undefined): void {
  invoked = name;
}

export function invokedCommand(): string | undefined {
  return invoked;
}

/**
 * Who to name for `step`: the step itself when it is the invoked command or
 * a more precise spelling of it (`ddplab down --all` under `ddplab down`), or
 * when no command was recorded (a library caller); else the invoked command.
 */
export function commandForMessage(step: string): string {
  if (invoked === undefined || step === invoked || step.startsWith(`${invoked} `)) return step;
  return invoked;
}
