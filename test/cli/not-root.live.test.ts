/**
 * A user without root is refused in one line that names the command they
 * ran (not `ddplab up`, the step inside it that needs the privilege), and
 * nothing is built. Runs as nobody through test/support/unprivileged.ts.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { newTopologyId } from '../../src/lab/topology.js';
import { namespacesOf } from '../support/lab/live-run-rig.js';
import { runUnprivileged } from '../support/unprivileged.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('ddplab as a non-root user', () => {
  const cases: [string[], RegExp][] = [
    [['up'], /^ddplab: ddplab up needs root \(CAP_SYS_ADMIN.*e\.g\. sudo npm run ddplab -- up$/],
    [['run', '--size', '1m'], /^ddplab: ddplab run needs root \(CAP_SYS_ADMIN.*e\.g\. sudo npm run ddplab -- run$/],
    [['bench', '--drop', '0', '--offload', 'none', '--size', '1m'], /^ddplab: ddplab bench needs root \(CAP_SYS_ADMIN.*e\.g\. sudo npm run ddplab -- bench$/],
    [['demo'], /^ddplab: ddplab demo needs root \(CAP_SYS_ADMIN.*e\.g\. sudo npm run ddplab -- demo$/],
    [['down', '--all'], /^ddplab: ddplab down --all needs root /],
    [['host', '--iface', 'lo'], /^ddplab: ddplab host needs root \(CAP_NET_RAW.*e\.g\. sudo npm run ddplab -- host$/],
  ];
  for (const [args, line] of cases) {
    it(`ddplab ${args.join(' ')}: one line naming the command, exit 1`, () => {
      const id = newTopologyId();
      const withId = args[0] === 'run' || args[0] === 'bench' ? [...args, '--id', id] : args;
      const r = runUnprivileged({ checkout: REPO_ROOT, argv: (root) => [process.execPath, join(root, 'bin/ddplab.js'), ...withId] });
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines.at(-1)).toMatch(line);
      expect(r.status).toBe(1);
      expect(namespacesOf([id])).toEqual([]);
    }, 60_000);
  }
});
