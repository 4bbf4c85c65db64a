/**
 * Where a failure leaves the `ddplab` command: one line on stderr naming the
 * problem (describeError in src/base/errors.ts: a UserError's message, any
 * other error with its code) and an exit code. Only a bug gets a stack
 * trace, and only with DDPLAB_DEBUG=1. Lower layers never come here: they
 * throw errors with a code.
 */
import { describeError } from '../base/errors.js';

// UserError lives in src/base/errors.ts (every layer throws it); tests that
// still import it from here get the same class.
export { UserError } from '../base/errors.js';

/** Every failure exits 1; commander's own errors keep the code it chose (see main.ts). */
export function reportAndExit(e: unknown, exitCode = 1): never {
  process.stderr.write(`ddplab: ${describeError(e)}\n`);
  if (process.env.DDPLAB_DEBUG && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  process.exit(exitCode);
}
