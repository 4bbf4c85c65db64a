/**
 * Runs the forger (lab/forge/inject-cli.ts) inside the target's namespace of a
 * topology, as an on-path attacker next to the target: it sniffs tgt0 and
 * injects forged segments toward the host (hostile input).
 */
import { PROJECT_ROOT } from '../../base/paths.js';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { ForgeCase, ForgedC2HData } from './segments.js';
import { netnsCommand } from '../topology.js';

const CLI = fileURLToPath(new URL('./inject-cli.ts', import.meta.url));
const REPO_ROOT = PROJECT_ROOT;

/** One segment the forger sent, as it reports it. */
export interface ForgeInjectionReport {
  readonly kind: ForgeCase;
  readonly hostPort: number;
  readonly seq: number;
  readonly len: number;
  readonly what: string;
  readonly header?: ForgedC2HData;
}

export interface ForgeInjectorHandle {
  /** Resolves once the forger's capture is open (rejects if it failed to start). */
  readonly ready: Promise<void>;
  /** What it injected so far. */
  readonly injections: ForgeInjectionReport[];
  /** Stops it (if still running) and resolves with the cases it never got to inject. */
  stop(): Promise<readonly ForgeCase[]>;
}

export interface ForgeInjectorOptions {
  readonly cases: readonly ForgeCase[];
  /** Triggers (C2HData headers, read commands) between injections (default 4), and before the first (default: spacing). */
  readonly spacing?: number;
  readonly after?: number;
  /** See ForgerOptions.aim (default race). */
  readonly aim?: 'race' | 'idle';
  readonly iface?: string;
}

/** Starts the forger in ddplab-<id>-tgt. */
export function startForgeInjector(id: string, opts: ForgeInjectorOptions): ForgeInjectorHandle {
  const cmd = netnsCommand(id, 'tgt', [
    process.execPath,
    '--import',
    'tsx',
    CLI,
    '--iface',
    opts.iface ?? 'tgt0',
    '--cases',
    opts.cases.join(','),
    '--spacing',
    String(opts.spacing ?? 4),
    '--aim',
    opts.aim ?? 'race',
    ...(opts.after !== undefined ? ['--after', String(opts.after)] : []),
  ]);
  const child = execa(cmd.file, cmd.args, { stdin: 'ignore', cwd: REPO_ROOT, reject: false, buffer: false });
  const injections: ForgeInjectionReport[] = [];
  let pending: readonly ForgeCase[] | undefined;
  let stderr = '';
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    partial += chunk.toString('utf8');
    for (let nl = partial.indexOf('\n'); nl >= 0; nl = partial.indexOf('\n')) {
      const text = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      if (text.trim() === '') continue;
      const o = JSON.parse(text) as { sniffing?: string; injected?: ForgeInjectionReport; done?: { pending: ForgeCase[] } };
      if (o.sniffing !== undefined) onReady();
      if (o.injected !== undefined) injections.push(o.injected);
      if (o.done !== undefined) pending = o.done.pending;
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = child.then((r) => r);
  const readyOrDead = Promise.race([
    ready,
    exited.then((r) => {
      throw new Error(`forger in ddplab-${id}-tgt exited before sniffing (exit ${r.exitCode}): ${stderr.trim().split('\n').pop() ?? ''}`);
    }),
  ]);
  return {
    ready: readyOrDead,
    injections,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const r = await exited;
      if (r.exitCode !== 0 && pending === undefined) throw new Error(`forger failed (exit ${r.exitCode}): ${stderr.trim().split('\n').pop() ?? ''}`);
      return pending ?? opts.cases.slice(injections.length);
    },
  };
}
