/**
 * Captures written by dumpcap on a live run (root, namespaces): `ddplab up`
 * builds the topology, two dumpcaps capture host0 in the host namespace
 * (pcapng, dumpcap's default), and `ddplab target` and `ddplab host
 * --hash-reads` read over it; the first dumpcap is stopped with SIGINT a
 * second after the host ends, then the topology goes. The second dumpcap is killed with SIGKILL part-way, as a
 * capture stopped the hard way: its file ends where its last write did,
 * mostly inside a record, sometimes between two (a flush of whole records).
 * `ddplab replay --json` of the first gives every read the SHA-256 the live
 * host verified; of the killed one, every read it completed has the live
 * host's SHA-256, and a file that ends inside a record (the killed one, or
 * else the killed one less its last 5 bytes) replays with one warning line.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { compareWithLive, readReadHashes } from '../../src/replay/live-read-hashes.js';
import type { ReplayReport } from '../../src/replay/report.js';
import { BIN, liveRunIds } from '../support/lab/live-run-rig.js';
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
  it('its pcapng replays to the live host\'s digests; a dumpcap killed with SIGKILL leaves a capture that replays what it holds, with one warning when it ends inside a record', async () => {
    const id = runId('d');
    const up = await execa(process.execPath, [BIN, 'up', '--id', id], { reject: false });
    expect(up.exitCode, up.stderr).toBe(0);
    const ns = `ddplab-${id}-host`;
    const whole = join(tmp.dir, 'dumpcap.pcapng');
    const killed = join(tmp.dir, 'killed.pcapng');
    const hashes = join(tmp.dir, 'hashes.json');
    // `ip netns exec` execs dumpcap: the pid is dumpcap's. A 64 MiB capture buffer (dumpcap's default is 2 MiB).
    const dc1 = execa('ip', ['netns', 'exec', ns, 'dumpcap', '-B', '64', '-i', 'host0', '-w', whole], { reject: false });
    const dc2 = execa('ip', ['netns', 'exec', ns, 'dumpcap', '-B', '64', '-i', 'host0', '-w', killed], { reject: false });
    // The target and the host by hand (not `ddplab run`, which removes the topology as it ends): the kernel hands
    // dumpcap its frames a block at a time, a block when full or when its timeout passes, and an interface
    // removed before that took the run's last frames with it (in two full `npm test` runs the capture lacked
    // one or two reads of 64; alone it never did).
    const tgt = execa('ip', ['netns', 'exec', `ddplab-${id}-tgt`, process.execPath, BIN, 'target', '--listen', '192.0.2.1:4420', '--seed', '3', '--quiet'], { reject: false });
    let killedAt = 0;
    let hostReport = '';
    try {
      await Promise.all([stderrSays(dc1, "Capturing on 'host0'", 30_000), stderrSays(dc2, "Capturing on 'host0'", 30_000)]);
      // The target is up when it listens on its port.
      for (let i = 0; i < 300; i++) {
        const r = await execa('ip', ['netns', 'exec', `ddplab-${id}-tgt`, 'ss', '-Hltn', 'sport = :4420'], { reject: false });
        if (r.stdout.trim() !== '') break;
        await new Promise((res) => setTimeout(res, 100));
      }
      const host = execa(
        'ip',
        ['netns', 'exec', ns, process.execPath, BIN, 'host', '--iface', 'host0', '--host-ip', '192.0.2.2', '--target', '192.0.2.1:4420', '--hash-reads', hashes,
          '--size', '8m', '--digest', 'data', '--offload', 'ddp-crc', '--rw', 'randread', '--bs', '128k', '--seed', '3', '--quiet'],
        { reject: false },
      );
      let done = false;
      void host.finally(() => (done = true)).catch(() => undefined);
      while (!done && killedAt === 0) {
        if (sizeOf(killed) > 1_000_000) {
          dc2.kill('SIGKILL');
          killedAt = sizeOf(killed);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      const h = await host;
      expect(h.exitCode, h.stderr).toBe(0);
      hostReport = h.stdout;
      // Past the block timeout, then an orderly stop: dumpcap writes what it holds and closes the file.
      await new Promise((r) => setTimeout(r, 1000));
      dc1.kill('SIGINT');
      await Promise.race([dc1, new Promise((r) => setTimeout(r, 20_000))]);
    } finally {
      dc1.kill('SIGKILL');
      dc2.kill('SIGKILL');
      tgt.kill('SIGINT');
      await Promise.allSettled([dc1, dc2, tgt]);
      await execa(process.execPath, [BIN, 'down', '--id', id], { reject: false });
    }
    const live = JSON.parse(hostReport) as { ok: boolean; workload: { verify: { mismatches: number } } };
    expect(live.ok).toBe(true);
    expect(live.workload.verify.mismatches).toBe(0);
    expect(killedAt, 'the run ended before the second dumpcap had written 1 MB').toBeGreaterThan(0);
    // dumpcap says what it lost on exit: "Packets received/dropped on interface 'host0': N/D (pcap:..)".
    const dropped = /received\/dropped on interface '[^']*': \d+\/(\d+)/.exec((await dc1).stderr ?? '');
    expect(dropped, 'dumpcap printed no drop count').not.toBeNull();
    expect(Number(dropped![1]), 'dumpcap dropped frames: the capture cannot replay every read').toBe(0);
    const liveReads = readReadHashes(hashes);
    expect(liveReads.length).toBe(64);

    const a = replayCli(whole);
    expect(a.status, a.stderr).toBe(0);
    expect(a.stderr).toBe('');
    expect(a.report.truncated).toBeNull();
    const all = compareWithLive(a.report.reads, liveReads);
    expect(all.mismatched).toEqual([]);
    expect(all.matched).toBe(liveReads.length);

    // SIGKILL stops dumpcap wherever its last write ended: mostly inside a record (stdio writes whole
    // buffers), but when that write was a flush of whole records the file ends between two records.
    // Both are replayed as they are; a capture ending between records replays without a warning.
    const b = replayCli(killed);
    expect(b.status, b.stderr).toBe(0);
    const some = compareWithLive(b.report.reads, liveReads);
    expect(some.mismatched).toEqual([]);
    expect(some.matched).toBeGreaterThan(0);
    expect(some.matched).toBeLessThan(liveReads.length);
    let cut = killed;
    if (b.report.truncated === null) {
      expect(b.stderr).toBe('');
      // The cut-short path on this very capture, then: its last record loses its last 5 bytes (a pcapng record is at least 12).
      cut = join(tmp.dir, 'cut.pcapng');
      const bytes = readFileSync(killed);
      writeFileSync(cut, bytes.subarray(0, bytes.length - 5));
    }
    const c = cut === killed ? b : replayCli(cut);
    expect(c.status, c.stderr).toBe(0);
    const lines = c.stderr.trimEnd().split('\n');
    expect(lines, c.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^ddplab: warning: .*(killed|cut)\.pcapng is cut short: it ends \d+ bytes into a pcapng .* at byte \d+; replayed the \d+ whole records before it$/);
    expect(c.report.truncated).not.toBeNull();
    expect(c.report.truncated!.atByte + c.report.truncated!.bytes).toBe(sizeOf(cut));
    const cutReads = compareWithLive(c.report.reads, liveReads);
    expect(cutReads.mismatched).toEqual([]);
    expect(cutReads.matched).toBeGreaterThan(0);
    expect(cutReads.matched).toBeLessThan(liveReads.length);
  }, 300_000);
});
