/**
 * `ddplab run` refuses what can only fail before it builds anything: one line
 * on stderr, exit 1, quickly, and no namespace of its own left or made (the
 * run id is given, so only that id is checked).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { newTopologyId } from '../../src/lab/topology.js';

const BIN = fileURLToPath(new URL('../../bin/ddplab.js', import.meta.url));

function namespacesOf(id: string): string[] {
  return spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .stdout.split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.startsWith(`ddplab-${id}-`));
}

describe('ddplab run refuses before building', () => {
  const cases: [string, string[], RegExp][] = [
    ['a block larger than the size', ['--bs', '1m', '--size', '64k'], /^ddplab: --bs 1m is larger than --size 64k: /],
    ['an old weighted mix in --bs', ['--bs', '4k:70,128k:30'], /^ddplab: --bs '4k:70,128k:30' is a weighted mix: use bssplit \(fio's syntax, e\.g\. --bssplit 4k\/70:128k\/30\)$/],
    ['an old range in --bs', ['--bs', '4k-1m'], /^ddplab: --bs '4k-1m' is a range: use bsrange \(e\.g\. --bsrange 4k-1m\)$/],
    ['three sizes in --bs', ['--bs', '4k,128k,1m'], /^ddplab: --bs '4k,128k,1m' has more than two sizes: bs is read\[,write\] as in fio \(its third, trim, has no meaning here\); for a mix use bssplit /],
    ['a bad bssplit weight', ['--bssplit', '4k/x'], /^ddplab: --bssplit weight 'x' in '4k\/x' is not a percentage 0\.\.100$/],
    ['a block larger than io_size', ['--bs', '128k', '--io_size', '64k'], /^ddplab: --bs 128k is larger than --io_size 64k: /],
    ['a bad size', ['--size', '12q'], /^ddplab: --size '12q' is not a size like /],
    ['a capture in a folder that does not exist', ['--capture', '/nonexistent-ddplab/x.pcap'], /^ddplab: --capture \/nonexistent-ddplab\/x\.pcap: the folder \/nonexistent-ddplab does not exist$/],
    ['a --c2h-size that is not a byte count', ['--c2h-size', 'foo'], /^ddplab: --c2h-size: 'foo' is not a byte count /],
    ['an --offset past the ddplab target\'s namespace', ['--offset', '2g'], /^ddplab: --offset 2g is past the end of the ddplab target's namespace \(1 GiB\)$/],
    ['an --offset off an LBA boundary', ['--offset', '1000'], /^ddplab: --offset 1000 is not a multiple of the target's LBA size \(512 bytes\)$/],
    ['read hashes in a folder that does not exist', ['--hash-reads', '/nonexistent-ddplab/h.json'], /^ddplab: --hash-reads /],
    [
      'a --verify file that does not exist (external target)',
      ['--target', '192.0.2.1:4420', '--nqn', 'nqn.x', '--iface', 'lo', '--host-ip', '192.0.2.2/24', '--verify', 'file:/nonexistent-ddplab/image'],
      /^ddplab: --verify: \/nonexistent-ddplab\/image does not exist$/,
    ],
  ];
  for (const [what, args, line] of cases) {
    it(`${what}: one line, exit 1, no namespace`, async () => {
      const id = newTopologyId();
      // External mode builds no topology and takes no --id.
      const idArgs = args.includes('--target') ? [] : ['--id', id];
      const r = await execa(process.execPath, [BIN, 'run', ...idArgs, ...args], { reject: false });
      expect(r.exitCode).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr.trim()).toMatch(line);
      expect(r.stdout).toBe('');
      expect(namespacesOf(id)).toEqual([]);
    });
  }
});
