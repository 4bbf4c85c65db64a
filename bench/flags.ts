/**
 * Flags of a bench script: parsed once, and a bad one is one line naming
 * it, exit status 2, before anything is measured.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Prints `bench:NAME: message` and exits with status 2. */
export function benchUsage(name: string, message: string): never {
  process.stderr.write(`bench:${name}: ${message}\n`);
  process.exit(2);
}

/** The parsed flags of bench `name` (unknown flags and missing values are refused by benchUsage). */
export function benchFlags<const O extends Options>(name: string, options: O): ReturnType<typeof parseArgs<{ options: O }>>['values'] {
  try {
    return parseArgs({ options }).values;
  } catch (e) {
    return benchUsage(name, e instanceof Error ? e.message : String(e));
  }
}
