/**
 * Replay of synthetic captures (src/replay/synthetic-capture.ts), whose
 * ground truth — every read's SHA-256 and the stream ranges of its PDUs — is
 * known: clean sessions in every shape, then the things real captures do to
 * a replay (mid-connection start, missing frames, retransmissions, digest
 * errors, VLAN tags, 64 KiB frames with partial checksums, several
 * connections).
 */
import { describe, expect, it } from 'vitest';
import { mergeSessions, synthesizeSession, type SyntheticFrame, type SyntheticRead, type SyntheticSessionOptions } from '../../src/replay/synthetic-capture.js';
import type { ReplayReport } from '../../src/replay/report.js';
import { seqDiff } from '../../src/wire/seq.js';
import { TCP_ACK } from '../../src/wire/tcp.js';
import { readKeys, replayFrames, rewriteFrame } from '../support/replay/replay-rig.js';

const BIG = [65536, 131072, 4096, 32768];

/** Ranges [a, a+la) and [b, b+lb) of sequence space share a byte. */
function overlaps(a: number, la: number, b: number, lb: number): boolean {
  return seqDiff(a, b) < lb && seqDiff(b, a) < la;
}

function touches(read: SyntheticRead, seq: number, len: number): boolean {
  return read.pdus.some(([s, l]) => overlaps(s, l, seq, len));
}

/** Every reported read with a hash has the truth's hash, matched by SLBA. */
function expectHashesTrue(r: ReplayReport, truth: readonly SyntheticRead[]): void {
  const bySlba = new Map(truth.map((t) => [t.slba, t]));
  for (const rd of r.reads) {
    if (rd.sha256 === null || rd.status === 'digest-error') continue;
    expect(rd.sha256, `read slba ${rd.slba}`).toBe(bySlba.get(rd.slba!)!.sha256);
  }
}

function expectAllOk(r: ReplayReport, truth: readonly SyntheticRead[], conn = 0): void {
  const mine = r.reads.filter((x) => x.conn === conn);
  expect(mine.map((x) => [x.cid, x.slba, x.lenBytes, x.sha256, x.status])).toEqual(truth.map((t) => [t.cid, t.slba, t.lenBytes, t.sha256, 'ok']));
}

/** The c2h frame whose payload lies wholly inside the data of one PDU of `read` (no header, no digest). */
function dataOnlyFrame(s: { frames: SyntheticFrame[] }, read: SyntheticRead, headBytes: number): number {
  return s.frames.findIndex(
    (f) =>
      f.dir === 'c2h' &&
      f.payloadLen > 0 &&
      read.pdus.some(([ps, pl]) => seqDiff(f.seq, ps) >= headBytes && seqDiff(ps + pl - 4, f.seq + f.payloadLen) >= 0),
  );
}

describe('replay of a clean synthetic session', () => {
  const cases: [string, SyntheticSessionOptions][] = [
    ['random order, digests both, MTU 1500', { reads: 24, readBytes: [4096, 65536, 8192], hdgst: true, ddgst: true, order: 'random' }],
    ['no digests, FIFO, jumbo segments', { reads: 16, readBytes: [131072], segmentBytes: 8948, order: 'fifo' }],
    ['interleaved 8 KiB C2HData PDUs completed by SUCCESS', { reads: 12, readBytes: [65536, 4096], c2hPduBytes: 8192, interleave: true, success: true, ddgst: true }],
    ['with in-capsule writes', { reads: 10, writes: 10, readBytes: [16384], hdgst: true }],
    ['a queue depth of 1 (every CID reused at once)', { reads: 8, queueDepth: 1, readBytes: [4096] }],
  ];
  for (const [name, opts] of cases) {
    it(`gives every read the truth's SHA-256: ${name}`, async () => {
      const s = synthesizeSession({ seed: 7, ...opts });
      const r = await replayFrames(s.frames);
      expectAllOk(r, s.reads);
      expect(r.connections).toHaveLength(1);
      const c = r.connections[0]!;
      expect(c.qid).toBe(1);
      expect(c.c2h.midStream).toBe(false);
      expect(c.c2h.tcp.gaps).toBe(0);
      expect(c.c2h.syncLost).toBe(0);
      expect(c.commands.reads).toBe(s.reads.length);
      expect(c.commands.writes).toBe(s.writes);
      expect(c.commands.completed).toBe(c.commands.total);
      expect(c.bytes.c2hData).toBe(s.c2hDataBytes);
      expect(c.bytes.copied).toBe(s.c2hDataBytes);
      expect(r.notes).toEqual([]);
    });
  }

  it('is deterministic: two replays give the same report', async () => {
    const s = synthesizeSession({ seed: 3, reads: 20, readBytes: BIG, hdgst: true, ddgst: true });
    const a = await replayFrames(s.frames, { offload: 'ddp-crc' });
    const b = await replayFrames(s.frames, { offload: 'ddp-crc' });
    expect(JSON.stringify({ ...b, file: '' })).toBe(JSON.stringify({ ...a, file: '' }));
  });

  it('gives identical per-read digests with offload none, ddp and ddp-crc, and places the large reads', async () => {
    const s = synthesizeSession({ seed: 11, reads: 32, readBytes: BIG, hdgst: true, ddgst: true, c2hPduBytes: 16384, interleave: true });
    const none = await replayFrames(s.frames, { offload: 'none' });
    const ddp = await replayFrames(s.frames, { offload: 'ddp' });
    const crc = await replayFrames(s.frames, { offload: 'ddp-crc' });
    expectAllOk(none, s.reads);
    expect(readKeys(ddp.reads)).toEqual(readKeys(none.reads));
    expect(readKeys(crc.reads)).toEqual(readKeys(none.reads));
    const large = s.reads.filter((x) => x.lenBytes >= 32768);
    const largeBytes = large.reduce((n, x) => n + x.lenBytes, 0);
    expect(none.total.bytes.placed).toBe(0);
    expect(ddp.total.bytes.placed).toBe(largeBytes);
    expect(ddp.ddp!['rx-nvme-tcp-bytes']).toBe(largeBytes);
    expect(ddp.reads.filter((x) => x.ddp).length).toBe(large.length);
    // ddp without the CRC capability: the host still computes every data digest.
    expect(ddp.total.c2h.ddgst.nicVerified).toBe(0);
    expect(crc.total.c2h.ddgst.nicVerified).toBeGreaterThan(0);
    expect(crc.total.c2h.ddgst.mismatch).toBe(0);
    expect(crc.total.bytes.hostCrcData).toBeLessThan(none.total.bytes.hostCrcData);
  });
});

describe('replay of what real captures look like', () => {
  it('replays 64 KiB TSO/GRO frames with partial checksums and VLAN tags; --verify-checksums drops them', async () => {
    const s = synthesizeSession({ seed: 5, reads: 12, readBytes: [131072, 4096], segmentBytes: 65000, partialChecksums: true, vlan: 100, ddgst: true });
    expect(Math.max(...s.frames.map((f) => f.data.length))).toBeGreaterThan(65000);
    const r = await replayFrames(s.frames, { offload: 'ddp-crc' });
    expectAllOk(r, s.reads);
    expect(r.nic.rx_csum_partial).toBeGreaterThan(0);
    expect(r.nic.rx_csum_errors).toBe(0);
    const strict = await replayFrames(s.frames, { verifyChecksums: true });
    expect(strict.nic.rx_csum_errors).toBeGreaterThan(0);
    expect(strict.reads.every((x) => x.status === 'incomplete')).toBe(true);
  });

  it('finds several interleaved connections and replays each', async () => {
    const a = synthesizeSession({ seed: 1, hostPort: 40001, reads: 10, readBytes: [65536, 4096], hdgst: true, ddgst: true });
    const b = synthesizeSession({ seed: 2, hostPort: 40002, qid: 2, reads: 10, readBytes: [8192], firstLba: 10_000 });
    const c = synthesizeSession({ seed: 3, hostPort: 40003, qid: 3, reads: 10, readBytes: [131072], c2hPduBytes: 32768, interleave: true, firstLba: 20_000 });
    const frames = mergeSessions([a, b, c], 9);
    const r = await replayFrames(frames, { offload: 'ddp-crc' });
    expect(r.connections).toHaveLength(3);
    // Connections are numbered by first appearance; map them by host port.
    const byPort = new Map(r.connections.map((x) => [x.connection.split('>')[0]!.split(':')[1], x.index]));
    expectAllOk(r, a.reads, byPort.get('40001'));
    expectAllOk(r, b.reads, byPort.get('40002'));
    expectAllOk(r, c.reads, byPort.get('40003'));
    expect(r.total.commands.reads).toBe(30);
    expect(r.connections.map((x) => x.qid).sort()).toEqual([1, 2, 3]);
  });

  for (const digests of [true, false]) {
    it(`syncs a capture that starts mid-connection from the first plausible PDU header (digests ${digests ? 'on' : 'off'})`, async () => {
      const s = synthesizeSession({ seed: 21, reads: 40, readBytes: [4096, 65536, 12288], hdgst: digests, ddgst: digests });
      const cut = Math.floor(s.frames.length * 0.4);
      const kept = s.frames.slice(cut);
      const firstH2c = kept.find((f) => f.dir === 'h2c' && f.payloadLen > 0)!.seq;
      const firstC2h = kept.find((f) => f.dir === 'c2h' && f.payloadLen > 0)!.seq;
      const r = await replayFrames(kept);
      const c = r.connections[0]!;
      expect(c.c2h.midStream).toBe(true);
      expect(c.h2c.midStream).toBe(true);
      expect(c.c2h.firstPduSeq).not.toBeNull();
      expect(r.notes.some((n) => n.includes('starts mid-connection') && n.includes('target→host'))).toBe(true);
      expectHashesTrue(r, s.reads);
      // Every read issued after the cut whose PDUs all came after it is whole.
      const expected = s.reads.filter((t) => seqDiff(t.cmdSeq, firstH2c) >= 0 && t.pdus.every(([ps]) => seqDiff(ps, firstC2h) >= 0));
      expect(expected.length).toBeGreaterThan(10);
      const ok = new Set(r.reads.filter((x) => x.status === 'ok').map((x) => x.slba));
      for (const t of expected) expect(ok.has(t.slba), `read slba ${t.slba}`).toBe(true);
      // The NIC is offloaded from a PDU boundary too (digests read off a C2HData header), and changes nothing.
      const crc = await replayFrames(kept, { offload: 'ddp-crc' });
      expect(readKeys(crc.reads)).toEqual(readKeys(r.reads));
      expect(crc.connections[0]!.offloaded).toBe(true);
      expect(crc.total.bytes.placed).toBeGreaterThan(0);
    });
  }

  it('marks the read whose data frame is missing incomplete and keeps sync (the gap is inside one PDU)', async () => {
    const s = synthesizeSession({ seed: 4, reads: 16, readBytes: [65536], hdgst: true, ddgst: true, order: 'random' });
    const victim = s.reads[7]!;
    const i = dataOnlyFrame(s, victim, 24 + 4);
    expect(i).toBeGreaterThan(0);
    const gone = s.frames[i]!;
    const r = await replayFrames(s.frames.filter((_, k) => k !== i), { offload: 'ddp-crc' });
    const c = r.connections[0]!;
    expect(c.c2h.tcp.gaps).toBe(1);
    expect(c.c2h.tcp.gapBytes).toBe(gone.payloadLen);
    expect(c.c2h.syncLost).toBe(0);
    for (const rd of r.reads) {
      if (rd.slba === victim.slba) {
        expect(rd.status).toBe('incomplete');
        expect(rd.sha256).toBeNull();
        expect(rd.missingBytes).toBe(gone.payloadLen);
      } else {
        expect(rd.status).toBe('ok');
      }
    }
    expectHashesTrue(r, s.reads);
    expect(c.c2h.ddgst.unverifiable).toBe(1);
  });

  it('loses sync when a missing frame held a PDU header, finds the next PDU and keeps every other read', async () => {
    for (const digests of [true, false]) {
      const s = synthesizeSession({ seed: 8, reads: 30, readBytes: [4096, 8192], hdgst: digests, ddgst: digests });
      // A frame that holds the start of some read's PDU (its header), mid-session.
      const i = s.frames.findIndex(
        (f, k) => k > s.frames.length / 2 && f.dir === 'c2h' && f.payloadLen > 0 && s.reads.some((t) => t.pdus.some(([ps]) => overlaps(ps, 8, f.seq, f.payloadLen))),
      );
      const gone = s.frames[i]!;
      const r = await replayFrames(s.frames.filter((_, k) => k !== i));
      const c = r.connections[0]!;
      expect(c.c2h.syncLost, `digests ${digests}`).toBeGreaterThanOrEqual(1);
      expect(c.c2h.resyncs).toBeGreaterThanOrEqual(1);
      const hit = new Set(s.reads.filter((t) => touches(t, gone.seq, gone.payloadLen)).map((t) => t.slba));
      expect(hit.size).toBeGreaterThan(0);
      for (const rd of r.reads) {
        if (hit.has(rd.slba!)) expect(rd.status, `read ${rd.slba}`).toBe('incomplete');
        // A completion that was in the lost frame: the data is whole, the completion is not.
        else expect(['ok', 'no-completion'], `read ${rd.slba}`).toContain(rd.status);
      }
      expectHashesTrue(r, s.reads);
      expect(r.reads.filter((x) => x.status === 'ok').length).toBeGreaterThan(s.reads.length - 5);
    }
  });

  it('recovers a frame the capture shows lost and retransmitted, and ignores spurious duplicates', async () => {
    const s = synthesizeSession({ seed: 9, reads: 12, readBytes: [65536], ddgst: true });
    const frames = [...s.frames];
    const i = frames.findIndex((f, k) => k > 40 && f.dir === 'c2h' && f.payloadLen > 0);
    const lost = frames[i]!;
    frames.splice(i, 1);
    // The retransmission comes 10 frames later; meanwhile the host acknowledges only up to the hole.
    for (let k = i; k < i + 10; k++) {
      const f = frames[k]!;
      if (f.dir !== 'h2c') continue;
      frames[k] = { ...f, data: rewriteFrame(f.data, (p) => ({ ...p, tcp: { ...p.tcp!, ack: lost.seq, flags: TCP_ACK | p.tcp!.flags } })) };
    }
    frames.splice(i + 10, 0, lost);
    // And a spurious copy of another frame much later.
    const dup = frames.find((f, k) => k > 80 && f.dir === 'c2h' && f.payloadLen > 0)!;
    frames.push(dup);
    for (const offload of ['none', 'ddp-crc'] as const) {
      const r = await replayFrames(frames, { offload });
      expectAllOk(r, s.reads);
      const c = r.connections[0]!;
      expect(c.c2h.tcp.gaps).toBe(0);
      expect(c.c2h.tcp.ofoSegments).toBeGreaterThan(0);
      expect(c.c2h.tcp.dupBytes).toBe(dup.payloadLen);
    }
  });

  it('reports a data digest error in the capture per read, and goes on', async () => {
    const s = synthesizeSession({ seed: 12, reads: 10, readBytes: [65536], hdgst: true, ddgst: true });
    const victim = s.reads[4]!;
    const i = dataOnlyFrame(s, victim, 28);
    const frames = [...s.frames];
    frames[i] = {
      ...frames[i]!,
      data: rewriteFrame(frames[i]!.data, (p) => {
        const payload = Buffer.from(p.payload);
        payload[100] ^= 0x40;
        return { ...p, payload };
      }),
    };
    for (const offload of ['none', 'ddp-crc'] as const) {
      const r = await replayFrames(frames, { offload });
      const c = r.connections[0]!;
      expect(c.c2h.ddgst.mismatch).toBe(1);
      const bad = r.reads.find((x) => x.slba === victim.slba)!;
      expect(bad.status).toBe('digest-error');
      expect(bad.sha256).not.toBe(victim.sha256);
      expect(r.reads.filter((x) => x.status === 'ok')).toHaveLength(9);
      expect(r.notes.some((n) => n.includes('data digest mismatch'))).toBe(true);
    }
  });

  it('does not act on a PDU whose header digest fails, and stays in sync', async () => {
    const s = synthesizeSession({ seed: 13, reads: 10, readBytes: [4096], hdgst: true, segmentBytes: 8948 });
    const victim = s.reads[5]!;
    const [pduSeq] = victim.pdus[0]!;
    const i = s.frames.findIndex((f) => f.dir === 'c2h' && overlaps(f.seq, f.payloadLen, pduSeq + 12, 1));
    const frames = [...s.frames];
    frames[i] = {
      ...frames[i]!,
      data: rewriteFrame(frames[i]!.data, (p) => {
        const payload = Buffer.from(p.payload);
        // DATAO's low byte: the header no longer matches its digest, plen is untouched.
        payload[seqDiff(pduSeq + 12, p.tcp!.seq)] ^= 0x01;
        return { ...p, payload };
      }),
    };
    const r = await replayFrames(frames);
    const c = r.connections[0]!;
    expect(c.c2h.hdgst.mismatch).toBe(1);
    expect(c.untrustedPdus).toBe(1);
    expect(c.c2h.syncLost).toBe(0);
    expect(r.reads.find((x) => x.slba === victim.slba)!.status).toBe('incomplete');
    expect(r.reads.filter((x) => x.status === 'ok')).toHaveLength(9);
  });

  it('learns nothing from a missing host frame: its commands are unknown, every other read is whole', async () => {
    const s = synthesizeSession({ seed: 14, reads: 30, readBytes: [4096, 16384], hdgst: true, ddgst: true, queueDepth: 4 });
    // A host frame carrying at least one read's CapsuleCmd, mid-session.
    const i = s.frames.findIndex((f, k) => k > s.frames.length / 3 && f.dir === 'h2c' && s.reads.some((t) => overlaps(t.cmdSeq, 72, f.seq, f.payloadLen)));
    const gone = s.frames[i]!;
    const lost = new Set(s.reads.filter((t) => overlaps(t.cmdSeq, 72, gone.seq, gone.payloadLen)).map((t) => t.slba));
    expect(lost.size).toBeGreaterThan(0);
    const r = await replayFrames(s.frames.filter((_, k) => k !== i), { offload: 'ddp-crc' });
    const c = r.connections[0]!;
    expect(c.h2c.tcp.gaps).toBe(1);
    expect(c.unknownCidPdus).toBeGreaterThan(0);
    expect(r.reads.map((x) => x.slba)).toEqual(s.reads.filter((t) => !lost.has(t.slba)).map((t) => t.slba));
    expect(r.reads.every((x) => x.status === 'ok')).toBe(true);
    expectHashesTrue(r, s.reads);
  });
});
