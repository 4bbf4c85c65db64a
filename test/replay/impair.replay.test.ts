/**
 * Impaired replay of the reference captures: deterministic per seed, and a
 * dropped frame acts exactly like a frame missing from the capture — the
 * reads whose PDUs it carried lose data (and are reported incomplete, with
 * no SHA-256), every other read keeps the SHA-256 of the unimpaired replay,
 * with offload none and ddp-crc alike.
 *
 * "Whose data is in the capture" is computed here independently of the
 * replay: the impairment stage's decisions are replayed on the capture's
 * frames toward the host (same spec, same seed, same order), the stream
 * bytes of the dropped frames that no kept frame carries (a retransmission)
 * are the missing bytes, and a read is intact when none of its C2HData PDUs
 * (header and data; the data digest alone may go) lies on a missing byte.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { replayCapture } from '../../src/replay/replay.js';
import type { ReplayReport } from '../../src/replay/report.js';
import { ImpairStage, type ImpairSpec } from '../../src/nicemu/port/impair.js';
import { ETHERTYPE_IPV4, parseEthernet } from '../../src/wire/ethernet.js';
import { ipToString, parseIpv4, IPPROTO_TCP } from '../../src/wire/ipv4.js';
import { readPcapFileSync } from '../../src/wire/pcap.js';
import { seqDiff } from '../../src/wire/seq.js';
import { parseTcp } from '../../src/wire/tcp.js';
import { synthesizeSession } from '../../src/replay/synthetic-capture.js';
import { readKeys, replayFrames } from '../support/replay/replay-rig.js';

const CAPTURES = join(import.meta.dirname, '..', '..', 'captures');
const captures = readdirSync(CAPTURES)
  .filter((f) => f.endsWith('.expected.json'))
  .map((f) => join(CAPTURES, (JSON.parse(readFileSync(join(CAPTURES, f), 'utf8')) as { capture: string }).capture));

interface C2hFrame {
  /** host ip:port of its connection. */
  readonly host: string;
  readonly seq: number;
  readonly len: number;
  readonly data: Buffer;
  readonly tsUs: number;
}

/** The frames toward the host of NVMe/TCP connections, in capture order: what the replay impairs. */
function framesToHost(path: string): C2hFrame[] {
  const out: C2hFrame[] = [];
  for (const rec of readPcapFileSync(path).records) {
    const eth = parseEthernet(rec.data);
    if (eth.ethertype !== ETHERTYPE_IPV4) continue;
    const ip = parseIpv4(eth.payload);
    if (ip.protocol !== IPPROTO_TCP) continue;
    const tcp = parseTcp(ip.payload);
    if (tcp.srcPort !== 4420) continue;
    out.push({ host: `${ipToString(ip.dst)}:${tcp.dstPort}`, seq: tcp.seq, len: tcp.payload.length, data: rec.data, tsUs: rec.tsSec * 1e6 + rec.tsNsec / 1000 });
  }
  return out;
}

/** Per connection (host ip:port), the stream bytes no delivered frame carried, as [start, end) offsets from `base`. */
function missingBytes(frames: readonly C2hFrame[], spec: ImpairSpec, seed: number): Map<string, { base: number; gaps: [number, number][] }> {
  const stage = new ImpairStage(spec, seed, 'rx', () => undefined, false);
  const kept = new Map<string, { base: number; ranges: [number, number][]; lost: [number, number][] }>();
  for (const f of frames) {
    let c = kept.get(f.host);
    if (c === undefined) {
      c = { base: f.seq, ranges: [], lost: [] };
      kept.set(f.host, c);
    }
    const lostBefore = stage.stats.dropped + stage.stats.burstDropped;
    stage.push(f.data, f.tsUs, f.tsUs);
    // Held (reordered) frames arrive later: only a drop loses bytes.
    const passed = stage.stats.dropped + stage.stats.burstDropped === lostBefore;
    if (f.len === 0) continue;
    const at = seqDiff(f.seq, c.base);
    (passed ? c.ranges : c.lost).push([at, at + f.len]);
  }
  const out = new Map<string, { base: number; gaps: [number, number][] }>();
  for (const [host, c] of kept) {
    const gaps: [number, number][] = [];
    for (const [a, b] of c.lost) {
      // What of [a, b) no kept frame (e.g. a retransmission) covers.
      let pieces: [number, number][] = [[a, b]];
      for (const [x, y] of c.ranges) {
        pieces = pieces.flatMap(([p, q]): [number, number][] => {
          if (y <= p || x >= q) return [[p, q]];
          const left: [number, number][] = [];
          if (x > p) left.push([p, x]);
          if (y < q) left.push([y, q]);
          return left;
        });
      }
      gaps.push(...pieces);
    }
    out.set(host, { base: c.base, gaps });
  }
  return out;
}

function expectDropsActLikeMissingFrames(base: ReplayReport, hurt: ReplayReport, missing: ReturnType<typeof missingBytes>, why: string): number {
  expect(hurt.reads.length, why).toBe(base.reads.length);
  let intact = 0;
  for (let i = 0; i < base.reads.length; i++) {
    const b = base.reads[i]!;
    const h = hurt.reads[i]!;
    expect([h.conn, h.cid, h.slba], why).toEqual([b.conn, b.cid, b.slba]);
    const conn = base.connections[b.conn]!;
    const m = missing.get(conn.connection.split('>')[0]!)!;
    const ddgst = conn.ddgst === true ? 4 : 0;
    const lost = b.pdus!.some(([seq, plen]) => {
      const s = seqDiff(seq, m.base);
      const e = s + plen - ddgst;
      return m.gaps.some(([x, y]) => x < e && y > s);
    });
    if (lost) {
      expect(h.status, `${why} read ${i}`).toBe('incomplete');
      expect(h.sha256).toBeNull();
    } else {
      intact++;
      expect(h.sha256, `${why} read ${i} (status ${h.status})`).toBe(b.sha256);
      expect(['ok', 'no-completion'], `${why} read ${i}`).toContain(h.status);
    }
  }
  return intact;
}

describe('impaired replay', () => {
  it('is deterministic per seed', async () => {
    const path = captures[0]!;
    for (const offload of ['none', 'ddp-crc'] as const) {
      const a = await replayCapture({ path, offload, impair: { drop: 0.03, reorder: 0.05 }, seed: 5 });
      const b = await replayCapture({ path, offload, impair: { drop: 0.03, reorder: 0.05 }, seed: 5 });
      expect(JSON.stringify(b)).toBe(JSON.stringify(a));
      expect(a.impair!['dropped']).toBeGreaterThan(0);
      expect(a.impair!['reordered']).toBeGreaterThan(0);
    }
  });

  for (const path of captures) {
    it(`${path.split('/').pop()}: dropped frames lose exactly the reads whose PDUs they carried; every other read keeps its SHA-256`, async () => {
      const base = await replayCapture({ path, recordPduRanges: true });
      const frames = framesToHost(path);
      let lostSomething = false;
      for (const [seed, spec] of [1, 2, 3, 4, 5].flatMap((n) => [[n, { drop: 0.03 }] as const, [n + 100, { drop: 0.1 }] as const])) {
        const missing = missingBytes(frames, spec, seed);
        const none = await replayCapture({ path, impair: spec, seed });
        const crc = await replayCapture({ path, impair: spec, seed, offload: 'ddp-crc' });
        expect(none.impair!['dropped'], `seed ${seed}`).toBeGreaterThan(0);
        const intact = expectDropsActLikeMissingFrames(base, none, missing, `seed ${seed} none`);
        expectDropsActLikeMissingFrames(base, crc, missing, `seed ${seed} ddp-crc`);
        // Offload is a pure optimisation under loss too.
        expect(readKeys(crc.reads), `seed ${seed}`).toEqual(readKeys(none.reads));
        if (intact < base.reads.length) lostSomething = true;
      }
      expect(lostSomething).toBe(true);
    });
  }

  it('loses nothing to reordering and duplication: every read as unimpaired, the NIC resyncs', async () => {
    let nicResyncs = 0;
    for (const path of captures) {
      const base = await replayCapture({ path });
      for (let seed = 1; seed <= 3; seed++) {
        for (const offload of ['none', 'ddp-crc'] as const) {
          const r = await replayCapture({ path, offload, impair: { reorder: 0.1, dup: 0.02 }, seed });
          const why = `${path} seed ${seed} ${offload}`;
          expect(readKeys(r.reads), why).toEqual(readKeys(base.reads));
          expect(r.total.c2h.tcp.gaps, why).toBe(0);
          expect(r.total.c2h.tcp.ofoSegments, why).toBeGreaterThan(0);
          expect(r.total.c2h.tcp.dupBytes, why).toBeGreaterThan(0);
          if (offload === 'ddp-crc') nicResyncs += r.ddp!['rx-nvme-tcp-resync']!;
        }
      }
    }
    // Reordering that delays a PDU header makes the NIC lose sync; the host's parser confirms where it resumes.
    expect(nicResyncs).toBeGreaterThan(0);
  });

  it('keeps the truth for every intact read of 60 seeded synthetic sessions under loss, bursts and reordering (CIDs reused, completions lost)', async () => {
    for (let seed = 1; seed <= 60; seed++) {
      const digests = seed % 2 === 0;
      const s = synthesizeSession({
        seed,
        reads: 40,
        writes: 5,
        queueDepth: 4,
        readBytes: [4096, 65536, 20480],
        c2hPduBytes: seed % 3 === 0 ? 8192 : 0,
        interleave: seed % 3 === 0,
        success: seed % 4 === 1,
        hdgst: digests,
        ddgst: digests,
      });
      const spec: ImpairSpec = seed % 7 === 0 ? { burst: { pGoodToBad: 0.02, pBadToGood: 0.3 } } : seed % 5 === 0 ? { drop: 0.05, reorder: 0.05 } : { drop: 0.05 };
      const frames: C2hFrame[] = s.frames
        .filter((f) => f.dir === 'c2h')
        .map((f) => ({ host: '192.0.2.2:40000', seq: f.seq, len: f.payloadLen, data: f.data, tsUs: f.tsMs * 1000 }));
      const m = missingBytes(frames, spec, seed).get('192.0.2.2:40000')!;
      for (const offload of ['none', 'ddp-crc'] as const) {
        const r = await replayFrames(s.frames, { impair: spec, seed, offload });
        const why = `seed ${seed} ${offload}`;
        expect(r.reads, why).toHaveLength(s.reads.length);
        s.reads.forEach((t, i) => {
          const h = r.reads[i]!;
          const lost = t.pdus.some(([seq, plen]) => {
            const a = seqDiff(seq, m.base);
            const e = a + plen - (digests ? 4 : 0);
            return m.gaps.some(([x, y]) => x < e && y > a);
          });
          if (lost) expect(h.status, `${why} read ${i}`).toBe('incomplete');
          else expect(h.sha256, `${why} read ${i} (${h.status})`).toBe(t.sha256);
        });
      }
    }
  });
});
