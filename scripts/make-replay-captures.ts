/**
 * Makes the reference captures of captures/ that the replay tests replay
 * (test/replay/captures.replay.test.ts): each is a live `ddplab run
 * --capture` (root, namespaces) with `--hash-reads`, kept small, plus
 * captures/<name>.expected.json holding what the live run verified (its
 * verify counts and the SHA-256 of every read it completed) and what a
 * replay of the capture gave (every read by connection, CID and LBA).
 *
 *   sudo npx tsx scripts/make-replay-captures.ts [name ...]
 *
 * A capture is only written when the replay's hashes equal the live host's.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareWithLive, readReadHashes } from '../src/replay/live-read-hashes.js';
import { replayCapture } from '../src/replay/replay.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const BIN = join(ROOT, 'bin', 'ddplab.js');

/** name → `ddplab run` flags. */
export const REFERENCE_CAPTURES: Readonly<Record<string, readonly string[]>> = {
  'mtu1500-random-digests': ['--mtu', '1500', '--digest', 'both', '--order', 'random', '--rw', 'randrw', '--rwmixread', '70', '--bssplit', '4k/:64k/', '--iodepth', '8', '--size', '1m', '--seed', '11'],
  'mtu9000-interleave-digests': [
    '--mtu', '9000', '--digest', 'both', '--order', 'random', '--interleave', '--c2h-size', '16k',
    '--rw', 'randrw', '--rwmixread', '70', '--bssplit', '32k/:128k/', '--iodepth', '8', '--size', '1m', '--seed', '12',
  ],
  'mtu1500-2queues-nodigest': ['--mtu', '1500', '--queues', '2', '--digest', 'none', '--order', 'random', '--rw', 'randrw', '--rwmixread', '80', '--bsrange', '4k-128k', '--iodepth', '4', '--size', '1m', '--seed', '13'],
  'mtu1500-drop-retransmit': ['--mtu', '1500', '--digest', 'both', '--order', 'random', '--rw', 'randread', '--bs', '64k', '--iodepth', '8', '--size', '1m', '--drop', '0.01', '--seed', '14'],
};

async function make(name: string, flags: readonly string[]): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'ddplab-capture-'));
  try {
    const pcap = join(ROOT, 'captures', `${name}.pcap`);
    const hashes = join(tmp, 'hashes.json');
    const args = ['run', '--json', '--capture', pcap, '--hash-reads', hashes, ...flags];
    const out = execFileSync(process.execPath, [BIN, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const live = JSON.parse(out) as {
      ok: boolean;
      verify: { bytes: number; mismatches: number };
      io: { reads: number; writes: number; readBytes: number; writeBytes: number };
    };
    if (!live.ok || live.verify.mismatches !== 0) throw new Error(`${name}: the live run failed`);
    const liveReads = readReadHashes(hashes);
    const replay = await replayCapture({ path: pcap });
    const cmp = compareWithLive(replay.reads, liveReads);
    if (cmp.mismatched.length > 0 || cmp.unmatchedLive.length > 0 || cmp.matched !== liveReads.length) {
      throw new Error(`${name}: replay and live disagree (${cmp.matched} matched, ${cmp.mismatched.length} mismatched, ${cmp.unmatchedLive.length} live reads unmatched)`);
    }
    const expected = {
      capture: `${name}.pcap`,
      made: `ddplab ${args.filter((a) => a !== hashes && a !== pcap).join(' ').replace('--capture --hash-reads', `--capture captures/${name}.pcap --hash-reads FILE`)}`,
      live: {
        verify: live.verify,
        io: { reads: live.io.reads, writes: live.io.writes, readBytes: live.io.readBytes, writeBytes: live.io.writeBytes },
        reads: liveReads,
      },
      replay: {
        connections: replay.connections.length,
        commands: replay.total.commands,
        c2hPdus: replay.total.c2h.pdus,
        h2cPdus: replay.total.h2c.pdus,
        reads: replay.reads.map((r) => ({ conn: r.conn, cid: r.cid, slba: r.slba, lenBytes: r.lenBytes, status: r.status, sha256: r.sha256 })),
      },
    };
    writeFileSync(join(ROOT, 'captures', `${name}.expected.json`), `${JSON.stringify(expected, null, 1)}\n`);
    process.stdout.write(`${name}: ${statSync(pcap).size} bytes, ${replay.reads.length} reads, ${replay.total.commands.writes} writes, replay = live\n`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

const wanted = process.argv.slice(2);
for (const [name, flags] of Object.entries(REFERENCE_CAPTURES)) {
  if (wanted.length === 0 || wanted.includes(name)) await make(name, flags);
}

