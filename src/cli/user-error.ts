/**
 * What a user of the CLI sees when something goes wrong: one line naming the
 * problem and, where there is one, the fix. Code that knows the user's
 * mistake throws UserError; typed errors from lower layers (WireError and
 * friends, which carry a `code`) are turned into one line too. Only a bug
 * gets a stack trace, and only with DDPLAB_DEBUG=1.
 */
export class UserError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'UserError';
    this.code = code;
  }
}

function hasCode(e: unknown): e is Error & { code: string } {
  return e instanceof Error && typeof (e as { code?: unknown }).code === 'string';
}

/** One line for the user; never a stack unless DDPLAB_DEBUG is set. */
export function describeError(e: unknown): string {
  if (e instanceof UserError) return e.message;
  if (hasCode(e)) return `${e.message} [${e.code}]`;
  if (e instanceof Error) return `internal error: ${e.message}`;
  return `internal error: ${String(e)}`;
}

export function reportAndExit(e: unknown, exitCode = 1): never {
  process.stderr.write(`ddplab: ${describeError(e)}\n`);
  if (process.env.DDPLAB_DEBUG && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  process.exit(exitCode);
}
