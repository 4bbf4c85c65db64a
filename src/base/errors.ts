/**
 * The root of every error ddplab throws on purpose. Each carries a stable
 * `code` (tests, the fuzzer's finding signatures and scripts match on it;
 * the message may be reworded, the code may not), and the subclasses keep
 * their own names so a stack trace still says which layer threw.
 *
 * A subclass that takes the base's (code, message) needs no constructor of
 * its own: `override name = 'TcpError';` is the whole body.
 *
 * Turning an error into what a user sees (one line, an exit code) is the
 * entry point's business: the CLI does it, lower layers only throw.
 */
export class DdplabError<Code extends string = string> extends Error {
  readonly code: Code;

  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DdplabError';
    this.code = code;
  }
}

/**
 * A mistake the user can fix (a bad flag value, a missing privilege, a file
 * that is not a capture): the message is already the one line to show, and
 * names the fix where there is one. Any layer that checks user input throws
 * it; it used to live in the CLI, which lab and replay then had to import.
 */
export class UserError extends DdplabError {
  constructor(code: string, message: string) {
    super(code, message);
    this.name = 'UserError';
  }
}

function hasCode(e: unknown): e is Error & { code: string } {
  return e instanceof Error && typeof (e as { code?: unknown }).code === 'string';
}

/**
 * One line for any thrown value: a UserError's message as it is; another
 * error with a code (ddplab's, or Node's ENOENT and friends) with the code
 * after it; anything else is a bug and says so.
 */
export function describeError(e: unknown): string {
  if (e instanceof UserError) return e.message;
  if (hasCode(e)) return `${e.message} [${e.code}]`;
  if (e instanceof Error) return `internal error: ${e.message}`;
  return `internal error: ${String(e)}`;
}
