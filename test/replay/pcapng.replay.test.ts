/**
 * Captures as the tools write them, through `ddplab replay --json` (the CLI):
 * reference captures of captures/ rewritten as pcapng by editcap, by
 * tshark and by dumpcap's own capture loop (reading the pcap as a pipe
 * interface) give the same per-read SHA-256s as the pcap — the reads the
 * live host verified (its --hash-reads file, kept in the .expected.json) —
 * and a copy cut in the middle of a record or block, as a killed capture
 * leaves it, replays up to the cut with one warning line on stderr and the
 * same digests for every read completed before the cut.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compareWithLive, type LiveReadHash } from '../../src/replay/live-read-hashes.js';
import type { ReplayRead } from '../../src/replay/connection.js';
import type { ReplayReport } from '../../src/replay/report.js';
import { decodeCapture } from '../../src/wire/capture-reader.js';
import { tempDir } from '../support/replay/replay-rig.js';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'ddplab.js');
const CAPTURES = join(ROOT, 'captures');
const tmp = tempDir();
afterAll(() => tmp.remove());

interface Expected {
  readonly capture: string;
  readonly live: { readonly reads: LiveReadHash[] };
}

/** `ddplab replay FILE --json --offload ddp-crc`: the report and stderr (exit 0 required). */
function replayCli(path: string): { report: ReplayReport; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'replay', path, '--json', '--offload', 'ddp-crc'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  expect(r.status, `${path}: ${r.stderr}`).toBe(0);
  return { report: JSON.parse(r.stdout) as ReplayReport, stderr: r.stderr };
}

const digests = (reads: readonly ReplayRead[]): (string | null)[] => reads.map((x) => x.sha256);
const asLive = (reads: readonly ReplayRead[]): LiveReadHash[] =>
  reads.filter((x) => x.sha256 !== null).map((x) => ({ queue: 0, slba: x.slba ?? -1, lenBytes: x.lenBytes, sha256: x.sha256! }));

/** Byte offset in `file` where each record's data ends (inside its pcap record or pcapng block). */
function dataEnds(file: Buffer): number[] {
  return decodeCapture(file).records.map((r) => r.data.byteOffset - file.byteOffset + r.data.length);
}

const cases = ['mtu1500-random-digests.expected.json', 'mtu9000-interleave-digests.expected.json'];

describe('pcapng and cut captures replay like the pcap', () => {
  for (const name of cases) {
    const e = JSON.parse(readFileSync(join(CAPTURES, name), 'utf8')) as Expected;
    it(`${e.capture}: as pcapng from editcap, tshark and dumpcap, the same per-read digests as the pcap and the live host`, () => {
      const pcap = join(CAPTURES, e.capture);
      const byEditcap = join(tmp.dir, `${e.capture}.editcap.pcapng`);
      const byTshark = join(tmp.dir, `${e.capture}.tshark.pcapng`);
      execFileSync('editcap', ['-F', 'pcapng', pcap, byEditcap], { stdio: 'ignore' });
      execFileSync('tshark', ['-r', pcap, '-F', 'pcapng', '-w', byTshark], { stdio: 'ignore' });
      const byDumpcap = join(tmp.dir, `${e.capture}.dumpcap.pcapng`);
      execFileSync('dumpcap', ['-q', '-i', '-', '-w', byDumpcap], { input: readFileSync(pcap), stdio: ['pipe', 'ignore', 'ignore'] });
      const base = replayCli(pcap);
      expect(base.report.truncated).toBeNull();
      expect(base.stderr).toBe('');
      const live = compareWithLive(base.report.reads, e.live.reads);
      expect(live.mismatched).toHaveLength(0);
      expect(live.matched).toBe(e.live.reads.length);
      for (const ng of [byEditcap, byTshark, byDumpcap]) {
        expect(readFileSync(ng).readUInt32BE(0), ng).toBe(0x0a0d0d0a);
        const r = replayCli(ng);
        expect(r.stderr, ng).toBe('');
        expect(r.report.truncated).toBeNull();
        expect(r.report.frames).toEqual(base.report.frames);
        expect(digests(r.report.reads), ng).toEqual(digests(base.report.reads));
        expect(compareWithLive(r.report.reads, e.live.reads).matched, ng).toBe(e.live.reads.length);
      }
    });

    it(`${e.capture}: cut in the middle of a record (pcap) and of a block (pcapng), replays to the cut with one warning and the same digests`, () => {
      const pcap = join(CAPTURES, e.capture);
      const full = replayCli(pcap).report;
      const ng = join(tmp.dir, `${e.capture}.cut-src.pcapng`);
      execFileSync('tshark', ['-r', pcap, '-F', 'pcapng', '-w', ng], { stdio: 'ignore' });
      for (const [src, what] of [
        [pcap, 'pcap record'],
        [ng, 'pcapng Enhanced Packet Block'],
      ] as const) {
        const bytes = readFileSync(src);
        const ends = dataEnds(bytes);
        // In the middle of the data of the record 60% of the way through the file.
        const k = Math.floor(ends.length * 0.6);
        const at = ends[k]! - 20;
        const cutPath = join(tmp.dir, `cut-${src.endsWith('ng') ? 'ng' : 'pcap'}-${e.capture}`);
        writeFileSync(cutPath, bytes.subarray(0, at));
        const { report, stderr } = replayCli(cutPath);
        const lines = stderr.trimEnd().split('\n');
        expect(lines, stderr).toHaveLength(1);
        expect(lines[0]).toMatch(new RegExp(`^ddplab: warning: .* is cut short: it ends \\d+ bytes into a ${what} at byte \\d+; replayed the ${k} whole records before it$`));
        expect(report.truncated).toMatchObject({ records: k, what });
        expect(report.frames.total).toBe(k);
        // Every read the cut capture completed has the digest the whole capture gives it.
        const cmp = compareWithLive(report.reads, asLive(full.reads));
        expect(cmp.mismatched).toHaveLength(0);
        expect(cmp.matched).toBeGreaterThan(0);
        expect(cmp.matched).toBeLessThan(full.reads.length);
      }
    });
  }
});
