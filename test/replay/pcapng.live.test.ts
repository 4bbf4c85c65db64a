/**
 * Captures written by dumpcap on a live run (root, namespaces): `ddplab up`
 * builds the topology, two dumpcaps capture host0 in the host namespace
 * (pcapng, dumpcap's default), and `ddplab run --hash-reads` reads over it
 * (the run reuses the topology and removes it at the end, which ends the
 * first dumpcap). The second dumpcap is killed with SIGKILL part-way, as a
 * capture stopped the hard way: its file ends where its last buffer did.
 * `ddplab replay --json` of the first gives every read the SHA-256 the live
 * host verified; of the killed one, one warning line, and every read it
 * completed has the live host's SHA-256.
 */
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { compareWithLive, readReadHashes } from '../../src/replay/live-read-hashes.js';
import type { ReplayReport } from '../../src/replay/report.js';
import { BIN, liveRunIds, runJson } from '../support/lab/live-run-rig.js';
import { tempDir } from '../support/replay/replay-rig.js';

const runId = liveRunIds('png');
const tmp = tempDir();
afterAll(() => tmp.remove());

/** Resolves when `text` appears on the process's stderr; rejects after `ms` or when it exits first. */
function stderrSays(p: ResultPromise, text: string, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no "${text}" within ${ms} ms: ${seen}`)), ms);
    p.stderr!.on('data', (d: Buffer) => {
      seen += d.toString();
      if (seen.includes(text)) {
        clearTimeout(timer);
        resolve();
      }
    });
    p.then(
      (r) => reject(new Error(`exited ${r.exitCode} before "${text}": ${seen}`)),
      (e: unknown) => reject(e as Error),
    );
  });
}

function replayCli(path: string): { status: number | null; report: ReplayReport; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'replay', path, '--json', '--offload', 'ddp-crc'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { status: r.status, report: JSON.parse(r.stdout || 'null') as ReplayReport, stderr: r.stderr };
}

const sizeOf = (path: string): number => {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
};

describe('dumpcap on a live run', () => {
  it('its pcapng replays to the live host\'s digests; a dumpcap killed with SIGKILL leaves a cut capture that replays with one warning', async () => {
    const id = runId('d');
    const up = await execa(process.execPath, [BIN, 'up', '--id', id], { reject: false });
    expect(up.exitCode, up.stderr).toBe(0);
    const ns = `ddplab-${id}-host`;
    const whole = join(tmp.dir, 'dumpcap.pcapng');
    const killed = join(tmp.dir, 'killed.pcapng');
    const hashes = join(tmp.dir, 'hashes.json');
    // `ip netns exec` execs dumpcap: the pid is dumpcap's. A 64 MiB capture buffer (dumpcap's default is 2 MiB):
    // on a loaded machine a run at a few Gbit/s overflowed the default while dumpcap waited for a CPU, and a
    // capture missing frames cannot replay every read (checked below from dumpcap's own drop count).
    const dc1 = execa('ip', ['netns', 'exec', ns, 'dumpcap', '-B', '64', '-i', 'host0', '-w', whole], { reject: false });
    const dc2 = execa('ip', ['netns', 'exec', ns, 'dumpcap', '-B', '64', '-i', 'host0', '-w', killed], { reject: false });
    let killedAt = 0;
    try {
      await Promise.all([stderrSays(dc1, "Capturing on 'host0'", 30_000), stderrSays(dc2, "Capturing on 'host0'", 30_000)]);
      const run = runJson(['--id', id, '--hash-reads', hashes, '--size', '8m', '--digest', 'data', '--offload', 'ddp-crc', '--rw', 'randread', '--bs', '128k', '--seed', '3']);
      let done = false;
      void run.finally(() => (done = true)).catch(() => undefined);
      while (!done && killedAt === 0) {
        if (sizeOf(killed) > 1_000_000) {
          dc2.kill('SIGKILL');
          killedAt = sizeOf(killed);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      const live = await run;
      expect(live.ok).toBe(true);
      expect(live.verify.mismatches).toBe(0);
      // The run removed the topology: dumpcap saw host0 go (or was ended by the removal) and closed its file.
      await Promise.race([dc1, new Promise((r) => setTimeout(r, 20_000))]);
    } finally {
      dc1.kill('SIGKILL');
      dc2.kill('SIGKILL');
      await Promise.allSettled([dc1, dc2]);
    }
    expect(killedAt, 'the run ended before the second dumpcap had written 1 MB').toBeGreaterThan(0);
    // dumpcap says what it lost on exit: "Packets received/dropped on interface 'host0': N/D (pcap:..)".
    const dropped = /received\/dropped on interface '[^']*': \d+\/(\d+)/.exec((await dc1).stderr ?? '');
    if (dropped !== null) expect(Number(dropped[1]), 'dumpcap dropped frames: the capture cannot replay every read').toBe(0);
    const liveReads = readReadHashes(hashes);
    expect(liveReads.length).toBe(64);

    const a = replayCli(whole);
    expect(a.status, a.stderr).toBe(0);
    expect(a.stderr).toBe('');
    expect(a.report.truncated).toBeNull();
    const all = compareWithLive(a.report.reads, liveReads);
    expect(all.mismatched).toEqual([]);
    expect(all.matched).toBe(liveReads.length);

    const b = replayCli(killed);
    expect(b.status, b.stderr).toBe(0);
    const lines = b.stderr.trimEnd().split('\n');
    expect(lines, b.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^ddplab: warning: .*killed\.pcapng is cut short: it ends \d+ bytes into a pcapng .* at byte \d+; replayed the \d+ whole records before it$/);
    expect(b.report.truncated).not.toBeNull();
    expect(b.report.truncated!.atByte + b.report.truncated!.bytes).toBe(sizeOf(killed));
    const some = compareWithLive(b.report.reads, liveReads);
    expect(some.mismatched).toEqual([]);
    expect(some.matched).toBeGreaterThan(0);
    expect(some.matched).toBeLessThan(liveReads.length);
  }, 300_000);
});
