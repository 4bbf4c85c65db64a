/**
 * A child process of a run (the target or the host, each inside its
 * namespace through netns/exec.sh), with its output read line by line and
 * its end as a promise that never rejects: a run decides what an exit means.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export class RunChild {
  readonly proc: ChildProcess;
  readonly exited: Promise<ChildExit>;
  /** The last lines of stderr, for the error a failed child becomes. */
  readonly stderrTail: string[] = [];
  readonly stdoutLines: string[] = [];
  private ended = false;

  constructor(
    readonly name: string,
    file: string,
    args: readonly string[],
    handlers: { onStdoutLine?: (line: string) => void; onStderrLine?: (line: string) => void } = {},
    /**
     * Its own process group: a Ctrl-C at the terminal reaches only the
     * orchestrator, which decides what each child is told (the host: stop
     * and report; the target: stop) instead of every process hearing it at
     * once. The child still dies with its namespace (netns/down.sh).
     */
    opts: { ownProcessGroup?: boolean } = {},
  ) {
    this.proc = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: opts.ownProcessGroup === true });
    createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      this.stdoutLines.push(line);
      handlers.onStdoutLine?.(line);
    });
    createInterface({ input: this.proc.stderr! }).on('line', (line) => {
      this.stderrTail.push(line);
      if (this.stderrTail.length > 20) this.stderrTail.shift();
      handlers.onStderrLine?.(line);
    });
    this.exited = new Promise((resolve) => {
      this.proc.on('error', (e) => {
        this.stderrTail.push(e.message);
        this.ended = true;
        resolve({ code: 127, signal: null });
      });
      this.proc.on('close', (code, signal) => {
        this.ended = true;
        resolve({ code, signal });
      });
    });
  }

  get running(): boolean {
    return !this.ended;
  }

  /** Sends `signal` (if it still runs); for a stop with a deadline, see stop(). */
  signal(signal: NodeJS.Signals): void {
    if (!this.ended) this.proc.kill(signal);
  }

  /** Resolves with its exit, or undefined if it still runs after `ms`. */
  async exitWithin(ms: number): Promise<ChildExit | undefined> {
    let t: NodeJS.Timeout | undefined;
    const r = await Promise.race([this.exited, new Promise<undefined>((resolve) => (t = setTimeout(() => resolve(undefined), ms)))]);
    clearTimeout(t);
    return r;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it is gone. */
  async stop(graceMs = 3000): Promise<ChildExit> {
    if (this.ended) return this.exited;
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    const r = await this.exited;
    clearTimeout(t);
    return r;
  }

  /** How it ended, in words: "exit code 1", "killed by SIGKILL". */
  static describeExit(e: ChildExit): string {
    return e.signal !== null ? `killed by ${e.signal}` : `exit code ${e.code}`;
  }

  lastError(): string {
    for (let i = this.stderrTail.length - 1; i >= 0; i--) {
      const l = this.stderrTail[i]!.trim();
      if (l !== '' && !l.startsWith('{')) return l;
    }
    return '';
  }
}
