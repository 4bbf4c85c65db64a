/**
 * Ctrl-C (SIGINT) and SIGTERM during a run: the first one asks the run to
 * stop and report what it did (an AbortSignal the run watches); a second one
 * — or a run that has not wound down within `limitMs` — runs the registered
 * cleanups (synchronously: remove the topology, kill the children) and
 * exits at once with 128 + the signal's number, without a report.
 *
 * withTopology (topology.ts) registers its removal here when it runs inside
 * a scope, instead of removing the topology on the first signal.
 */
import { constants } from 'node:os';

/** The signals a scope turns into a stop; others (SIGHUP) keep their own handling. */
export const INTERRUPT_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

/** The exit code of a process ended by `signal`, as a shell reports it: 130 for SIGINT, 143 for SIGTERM. */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}

export interface Interrupt {
  /** Aborted at the first signal. */
  readonly signal: AbortSignal;
  /** The first signal received, if any. */
  readonly received: NodeJS.Signals | undefined;
  /** Runs `cleanup` (synchronous) before a hard exit; returns its removal. */
  onHardExit(cleanup: () => void): () => void;
}

export interface InterruptOptions {
  /** Longest wind-down after the first signal before the hard exit (default 60 s). */
  readonly limitMs?: number;
  /** Where the scope says what it does (default: stderr with the `ddplab: ` prefix). */
  readonly log?: (line: string) => void;
}

let active: Interrupt | undefined;
let lastReceived: NodeJS.Signals | undefined;

/** The scope the caller runs in, if any. */
export function activeInterrupt(): Interrupt | undefined {
  return active;
}

/** The signal that interrupted the last scope of this process (for the exit code). */
export function receivedSignal(): NodeJS.Signals | undefined {
  return lastReceived;
}

/**
 * Runs `fn` with SIGINT/SIGTERM turned into `interrupt.signal`. Nested
 * calls share the outer scope.
 */
export async function withInterrupt<T>(fn: (interrupt: Interrupt) => Promise<T>, opts: InterruptOptions = {}): Promise<T> {
  if (active !== undefined) return fn(active);
  const log = opts.log ?? ((line: string) => process.stderr.write(`ddplab: ${line}\n`));
  const controller = new AbortController();
  const cleanups: Array<() => void> = [];
  let received: NodeJS.Signals | undefined;
  let watchdog: NodeJS.Timeout | undefined;
  const hardExit = (why: string): never => {
    log(why);
    for (const c of cleanups.splice(0).reverse()) {
      try {
        c();
      } catch {
        // the next cleanup still runs
      }
    }
    process.exit(signalExitCode(received ?? 'SIGINT'));
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (received !== undefined) hardExit(`${signal} again: cleaning up and quitting without a report`);
    received = signal;
    lastReceived = signal;
    log(`${signal}: stopping the run (in-flight I/O gets a moment), then the report; ${signal === 'SIGINT' ? 'Ctrl-C' : signal} again quits at once`);
    controller.abort(signal);
    const limitMs = opts.limitMs ?? 60_000;
    watchdog = setTimeout(() => hardExit(`the run did not stop within ${limitMs / 1000} s of ${signal}: cleaning up and quitting`), limitMs);
    watchdog.unref();
  };
  const scope: Interrupt = {
    signal: controller.signal,
    get received() {
      return received;
    },
    onHardExit(cleanup) {
      cleanups.push(cleanup);
      return () => {
        const i = cleanups.indexOf(cleanup);
        if (i >= 0) cleanups.splice(i, 1);
      };
    },
  };
  for (const s of INTERRUPT_SIGNALS) process.on(s, onSignal);
  active = scope;
  try {
    return await fn(scope);
  } finally {
    active = undefined;
    clearTimeout(watchdog);
    for (const s of INTERRUPT_SIGNALS) process.off(s, onSignal);
  }
}
