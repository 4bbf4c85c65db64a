/**
 * Runs a command as an unprivileged user (nobody, uid 65534) against this
 * checkout, wherever the checkout sits.
 *
 * A checkout in root's home (mode 0700 on Debian) or in a `mktemp -d`
 * directory (also 0700) cannot be reached by nobody: node would fail to load
 * the code before ddplab could say anything, and a test of ddplab's non-root
 * message would test the directory's mode instead. So the command runs in a
 * private mount namespace where the checkout is bind-mounted on a fresh,
 * world-searchable directory under /tmp; the files themselves keep their own
 * modes. The mount namespace dies with the process; the mount point is
 * removed afterwards.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const NOBODY_UID = 65534;

export interface UnprivilegedRun {
  /** Absolute path of the checkout (or a copy of it) to expose. */
  readonly checkout: string;
  /** The command line, given the path under which the checkout is visible to nobody. */
  readonly argv: (visibleCheckout: string) => readonly string[];
  /** Extra environment; HOME is /tmp unless set here. */
  readonly env?: NodeJS.ProcessEnv;
  /** Skip the bind mount: run straight from `checkout` (to show what a user in that place sees). */
  readonly direct?: boolean;
}

/** Spawns `argv` as nobody with the checkout as working directory; waits for it. */
export function runUnprivileged(run: UnprivilegedRun): SpawnSyncReturns<string> {
  const env = { ...process.env, HOME: '/tmp', ...run.env };
  const setpriv = ['setpriv', `--reuid=${NOBODY_UID}`, `--regid=${NOBODY_UID}`, '--clear-groups'];
  if (run.direct) {
    return spawnSync(setpriv[0]!, [...setpriv.slice(1), ...run.argv(run.checkout)], { cwd: '/', encoding: 'utf8', env });
  }
  const mountPoint = mkdtempSync(join(tmpdir(), 'ddplab-ro-'));
  try {
    chmodSync(mountPoint, 0o755);
    const script = 'mount --bind "$1" "$2" && cd "$2" && shift 2 && exec "$@"';
    return spawnSync(
      'unshare',
      ['--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'sh', run.checkout, mountPoint, ...setpriv, ...run.argv(mountPoint)],
      { encoding: 'utf8', env },
    );
  } finally {
    rmdirSync(mountPoint);
  }
}
