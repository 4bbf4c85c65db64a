/**
 * A "run" for the signal tests of topology.live.test.ts: builds the topology
 * of run argv[2] with withTopology, starts a long sleep inside the target
 * namespace (as a run starts its target there), prints "ready" and waits
 * forever. The tests then signal or SIGKILL it.
 */
import { execa } from 'execa';
import { netnsCommand, withTopology } from '../../../src/lab/topology.js';

const id = process.argv[2]!;
await withTopology({ id }, async () => {
  const cmd = netnsCommand(id, 'tgt', ['sleep', '3600']);
  // Detached, unawaited: it must outlive this process when that is SIGKILLed.
  execa(cmd.file, cmd.args, { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore', detached: true, reject: false }).unref();
  process.stdout.write('ready\n');
  await new Promise<void>(() => {
    setInterval(() => {}, 1 << 30);
  });
});
