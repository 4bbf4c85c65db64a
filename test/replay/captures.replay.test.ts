/**
 * The reference captures of captures/ (made by scripts/make-replay-captures.ts
 * from live `ddplab run --capture --hash-reads` runs) replayed with every
 * offload mode: each gives the per-read SHA-256s of its expected file, and
 * those are exactly the reads the live host completed and verified.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { NicProfile } from '../../src/nicemu/ddp/nic-profile.js';

const NIC_PROFILES_TESTED: readonly NicProfile[] = ['hardware', 'ideal'];
import { compareWithLive, type LiveReadHash } from '../../src/replay/live-read-hashes.js';
import { replayCapture } from '../../src/replay/replay.js';
import type { ReplayCommandCounts } from '../../src/replay/connection.js';

const CAPTURES = join(import.meta.dirname, '..', '..', 'captures');

interface Expected {
  readonly capture: string;
  readonly made: string;
  readonly live: {
    readonly verify: { readonly bytes: number; readonly mismatches: number };
    readonly io: { readonly reads: number; readonly writes: number; readonly readBytes: number };
    readonly reads: LiveReadHash[];
  };
  readonly replay: {
    readonly connections: number;
    readonly commands: ReplayCommandCounts;
    readonly reads: { conn: number; cid: number; slba: number | null; lenBytes: number; status: string; sha256: string | null }[];
  };
}

const expectedFiles = readdirSync(CAPTURES).filter((f) => f.endsWith('.expected.json'));

describe('reference captures', () => {
  it('are there, small, and made by a live run that verified every read', () => {
    expect(expectedFiles.length).toBeGreaterThanOrEqual(4);
    for (const f of expectedFiles) {
      const e = JSON.parse(readFileSync(join(CAPTURES, f), 'utf8')) as Expected;
      expect(readFileSync(join(CAPTURES, e.capture)).length).toBeLessThan(2 * 1024 * 1024);
      expect(e.live.verify.mismatches).toBe(0);
      expect(e.live.verify.bytes).toBe(e.live.io.readBytes);
      expect(e.live.reads).toHaveLength(e.live.io.reads);
    }
  });

  for (const f of expectedFiles) {
    const e = JSON.parse(readFileSync(join(CAPTURES, f), 'utf8')) as Expected;
    it(`${e.capture}: offload none, ddp and ddp-crc on both NIC profiles give the expected SHA-256 of every read, which the live host verified`, async () => {
      const keys: string[] = [];
      const runs = [
        { offload: 'none' },
        ...(['ddp', 'ddp-crc'] as const).flatMap((offload) => NIC_PROFILES_TESTED.map((nic) => ({ offload, nic }))),
      ] as const;
      for (const { offload, ...rest } of runs) {
        const nic = 'nic' in rest ? rest.nic : undefined;
        const r = await replayCapture({ path: join(CAPTURES, e.capture), offload, ...(nic !== undefined ? { nic } : {}) });
        const reads = r.reads.map((x) => ({ conn: x.conn, cid: x.cid, slba: x.slba, lenBytes: x.lenBytes, status: x.status, sha256: x.sha256 }));
        expect(reads, `${offload} ${nic ?? ''}`).toEqual(e.replay.reads);
        expect(r.connections).toHaveLength(e.replay.connections);
        expect(r.total.commands).toEqual(e.replay.commands);
        expect(r.reads.every((x) => x.status === 'ok')).toBe(true);
        // Every read the live host completed, with the content it verified; nothing else.
        const cmp = compareWithLive(r.reads, e.live.reads);
        expect(cmp.mismatched).toEqual([]);
        expect(cmp.unmatchedLive).toEqual([]);
        expect(cmp.matched).toBe(e.live.io.reads);
        expect(r.total.commands.writes).toBe(e.live.io.writes);
        if (offload !== 'none' && r.reads.some((x) => x.lenBytes >= 32768)) {
          expect(r.total.bytes.placed, offload).toBeGreaterThan(0);
          expect(r.ddp!['rx-nvme-tcp-bytes']).toBe(r.total.bytes.placed);
        }
        keys.push(JSON.stringify(reads));
      }
      expect(new Set(keys).size).toBe(1);
    });
  }
});
