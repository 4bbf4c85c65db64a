/**
 * Forged segments injected into a connection ("Hostile input", docs/hostile-input.md),
 * one case at a time, each run with offload none, ddp and ddp-crc:
 * whatever the host's TCP accepts first is the stream, and the application
 * sees the same completions, errors and memory in every mode; the NIC never
 * places a byte of a segment TCP discards and never writes outside the SGL
 * of a CID (the guard bytes around every read buffer stay as they were).
 *
 * Each case has its TCP-accepted form (the forged bytes arrive first with
 * fields TCP takes: they are the stream) and, where it matters, the forms
 * TCP refuses (an old timestamp, an ACK of data never sent, no ACK flag,
 * SYN): those must change nothing at all — with the NIC's TCP oracle on
 * (nicTcpOracle, not hardware), which every case here turns on; without it
 * see test/lab/forge/refused-segments.live.test.ts and docs/hostile-input.md.
 */
import { describe, expect, it } from 'vitest';
import { forgeC2HDataHeader } from '../../../src/lab/forge/segments.js';
import { NvmeSc } from '../../../src/wire/nvme-status.js';
import { TermReqFes } from '../../../src/wire/nvme-tcp-pdu.js';
import {
  guardsIntact,
  inOrder,
  readBytes,
  runForge,
  type ControllerStream,
  type ForgeMode,
  type ForgeRigOptions,
  type ForgeRun,
  type TcpFields,
  type WireFrame,
  type WireScript,
} from '../../support/host/ddp-forge-rig.js';

const MODES: readonly ForgeMode[] = ['none', 'ddp', 'ddp-crc'];
const REFUSED: readonly TcpFields[] = ['stale-ts', 'future-ack', 'no-ack', 'syn'];
const KiB = 1024;

/** Runs `script` in every mode; checks what must hold in each and that all agree with offload off. */
async function runAll(o: ForgeRigOptions, script: WireScript, tag: string): Promise<Record<ForgeMode, ForgeRun>> {
  const runs = {} as Record<ForgeMode, ForgeRun>;
  // What these cases pin is the gate: the NIC parses only what the host's TCP takes.
  for (const mode of MODES) runs[mode] = await runForge({ ...o, nicTcpOracle: true }, mode, script);
  const off = runs.none;
  for (const mode of MODES) {
    const r = runs[mode];
    const t = `${tag} ${mode}`;
    expect(r.outcomes.every((x) => !('pending' in x)), `${t}: every read finished`).toBe(true);
    expect(guardsIntact(r), `${t}: bytes outside every read buffer untouched`).toBe(true);
    expect(r.placedDiscarded, `${t}: bytes placed in segments TCP discarded`).toBe(0);
    expect(r.outcomes, `${t}: completions and errors as with offload off`).toEqual(off.outcomes);
    r.outcomes.forEach((x, i) => {
      if ('status' in x) expect(readBytes(r, i).equals(readBytes(off, i)), `${t}: read ${i} holds what it holds with offload off`).toBe(true);
    });
    expect(r.termReqs, `${t}: H2CTermReqs`).toBe(off.termReqs);
  }
  // The offload was at work, not bypassed.
  expect(runs['ddp-crc'].nic['rx-nvme-tcp-sk-add']).toBe(1);
  expect(runs['ddp-crc'].nic['rx-nvme-tcp-bytes']).toBeGreaterThan(0);
  return runs;
}

function allGood(r: ForgeRun): void {
  r.outcomes.forEach((x, i) => {
    expect(x, `read ${i}`).toEqual({ status: NvmeSc.SUCCESS });
    expect(readBytes(r, i).equals(r.expected[i]!), `read ${i} data`).toBe(true);
  });
}

/** The stream in order with `forged` frames sent just before the in-order segment that reaches `at`. */
function withForgedBefore(s: ControllerStream, at: number, forged: readonly WireFrame[]): WireFrame[] {
  const out: WireFrame[] = [];
  let done = false;
  for (const seg of inOrder(s)) {
    if (!done && seg.off + seg.bytes.length > at) {
      out.push(...forged);
      done = true;
    }
    out.push(seg);
  }
  return out;
}

/** `bytes` cut in 1448-byte forged frames from stream offset `off`. */
function forgedFrames(off: number, bytes: Buffer, tcp: TcpFields = 'ok'): WireFrame[] {
  const out: WireFrame[] = [];
  for (let k = 0; k < bytes.length; k += 1448) out.push({ off: off + k, bytes: bytes.subarray(k, k + 1448), tcp, forged: true });
  return out;
}

const TWO_READS: ForgeRigOptions = { hdgst: true, ddgst: true, reads: [64 * KiB, 96 * KiB], c2hBytes: 16 * KiB };

describe('forged segments: whatever TCP accepts first is the stream, with offload on and off alike', () => {
  it('an in-window segment with other payload, arriving before the real one: its bytes are the data (the digest fails the read) in every mode', async () => {
    // Ahead of rcv_nxt, inside a PDU whose header has not come yet: TCP queues it out of order.
    const ahead: WireScript = (s) => withForgedBefore(s, s.pdus[1]!.start, forgedFrames(s.pdus[2]!.dataStart + 1000, Buffer.alloc(3000, 0x77)));
    // At rcv_nxt, in the data of the PDU being received: the real segment with the same bytes comes right after.
    const atNext: WireScript = (s) => {
      const segs = inOrder(s);
      const k = segs.findIndex((g) => g.off > s.pdus[1]!.dataStart + 2000);
      return [...segs.slice(0, k), { off: segs[k]!.off, bytes: Buffer.alloc(segs[k]!.bytes.length, 0x77), forged: true }, ...segs.slice(k)];
    };
    for (const [tag, script] of [['ahead', ahead], ['at rcv_nxt', atNext]] as const) {
      const runs = await runAll(TWO_READS, script, `in-window ${tag}`);
      const r = runs['ddp-crc'];
      expect(r.outcomes, tag).toEqual([{ status: NvmeSc.DATA_XFER_ERROR }, { status: NvmeSc.SUCCESS }]);
      expect(readBytes(r, 1).equals(r.expected[1]!)).toBe(true);
      if (tag === 'ahead') {
        // The gap before it hides a PDU header: the NIC loses sync there and places nothing of it.
        expect(r.placedForged).toBe(0);
        expect(r.nic['rx-nvme-tcp-lost-sync']).toBeGreaterThanOrEqual(1);
      } else {
        // In sync, TCP's first copy is the NIC's too: placed as the stream's own. The real copy is an old
        // duplicate to TCP, which drops it: the engine never parses it.
        expect(r.placedForged).toBe(1448);
        expect(r.nic['rx-nvme-tcp-tcp-refused-bytes']).toBe(1448);
      }
    }
  });

  it.each(REFUSED)('the same segment with fields TCP refuses (%s) changes nothing: the NIC never parses it', async (tcp) => {
    const script: WireScript = (s) => {
      const p = s.pdus[2]!;
      return withForgedBefore(s, s.pdus[1]!.start, forgedFrames(p.dataStart + 1000, Buffer.alloc(3000, 0x77), tcp));
    };
    const runs = await runAll(TWO_READS, script, `in-window ${tcp}`);
    for (const mode of MODES) allGood(runs[mode]);
    const r = runs['ddp-crc'];
    expect(r.placedForged).toBe(0);
    expect(r.nic['rx-nvme-tcp-tcp-refused-bytes']).toBe(3000);
    // Nothing forged reached the engine: every payload byte placed, nothing lost.
    expect(r.nic['rx-nvme-tcp-bytes']).toBe(160 * KiB);
    expect(r.nic['rx-nvme-tcp-lost-sync']).toBe(0);
  });

  it('a segment across the right edge of the window: TCP keeps the part inside, the NIC parses only that part', async () => {
    const o: ForgeRigOptions = { ...TWO_READS, reads: [64 * KiB, 128 * KiB, 96 * KiB], rcvBufBytes: 64 * KiB };
    // One forged frame from 600 bytes before the window's right edge to 848 past it, then the stream.
    const straddle: WireScript = (s) => {
      const from = s.windowBytes - 600;
      return [{ off: from, bytes: Buffer.alloc(1448, 0x33), forged: true } as WireFrame, ...inOrder(s)];
    };
    const runs = await runAll(o, straddle, 'straddle');
    const r = runs['ddp-crc'];
    // TCP took the 600 bytes inside the window (they are the stream there: read 0's data, so its digest fails).
    expect(r.outcomes[0]).toEqual({ status: NvmeSc.DATA_XFER_ERROR });
    expect(r.nic['rx-nvme-tcp-tcp-refused-bytes']).toBe(848);
    expect(r.tcp.beyondWindowBytes).toBe(848);
  });

  it('an overlapping retransmission carrying different bytes: TCP keeps its first copy of the overlap and takes the rest; the NIC places none of the overlap', async () => {
    const script: WireScript = (s) => {
      const segs = inOrder(s);
      const k = 20;
      const a = segs[k]!.off; // bytes before `a` were delivered
      const forged: WireFrame = { off: a - 700, bytes: Buffer.alloc(1400, 0x44), forged: true };
      return [...segs.slice(0, k), forged, ...segs.slice(k)];
    };
    const runs = await runAll(TWO_READS, script, 'overlap');
    const r = runs['ddp-crc'];
    // The 700 new bytes are forged (read 0's data there: its digest fails); the 700 old ones were not taken.
    expect(r.outcomes).toEqual([{ status: NvmeSc.DATA_XFER_ERROR }, { status: NvmeSc.SUCCESS }]);
    expect(r.placedForged).toBe(700);
    expect(r.tcp.dupBytes).toBeGreaterThanOrEqual(700);
  });

  it('an overlapping retransmission wholly inside bytes TCP holds, rewriting data and a PDU header, changes nothing', async () => {
    const script: WireScript = (s) => {
      const segs = inOrder(s);
      const hdr = s.pdus[1]!.start; // read 0's second C2HData header
      const k = segs.findIndex((g) => g.off > hdr + 3000);
      const bytes = Buffer.from(s.bytes.subarray(hdr - 500, hdr + 2000));
      bytes.fill(0x55, 0, 500);
      bytes.writeUInt32LE(0xdead, 500 + 12); // DATAO
      bytes.fill(0x66, 600);
      return [...segs.slice(0, k), { off: hdr - 500, bytes, forged: true }, ...segs.slice(k)];
    };
    const runs = await runAll(TWO_READS, script, 'overlap-old');
    for (const mode of MODES) allGood(runs[mode]);
    const r = runs['ddp-crc'];
    expect(r.placedForged).toBe(0);
    expect(r.nic['rx-nvme-tcp-bytes']).toBe(160 * KiB);
  });
});

describe('forged C2HData headers: the host fails the queue as the transport says, the NIC writes nothing outside an SGL', () => {
  const pastBuffer = (datao: (len: number) => number, datal: (len: number) => number, tcp: TcpFields = 'ok'): WireScript => (s) => {
    // Replaces read 0's second C2HData header (arriving before it), followed by a full segment of forged data.
    const p = s.pdus[1]!;
    const len = 64 * KiB;
    const hdr = forgeC2HDataHeader({ cccid: s.cids[0]!, datao: datao(len), datal: datal(len), hdgst: s.hdgst, ddgst: s.ddgst });
    return withForgedBefore(s, p.start, forgedFrames(p.start, Buffer.concat([hdr, Buffer.alloc(8 * 1448, 0x99)]), tcp));
  };

  it.each([
    { what: 'DATAO at the end of the buffer', datao: (len: number) => len, datal: () => 4096 },
    { what: 'DATAO inside, DATAL past the end', datao: () => 16 * KiB, datal: (len: number) => len },
    { what: 'DATAO far past the end', datao: () => 0x7fff_0000, datal: () => 8192 },
  ])('a real in-flight CID with $what: H2CTermReq "data transfer out of range", every read failed, guards intact', async ({ datao, datal }) => {
    const runs = await runAll(TWO_READS, pastBuffer(datao, datal), 'past-buffer');
    for (const mode of MODES) {
      const r = runs[mode];
      expect(r.outcomes).toEqual([
        { error: 'PROTOCOL_ERROR', fes: TermReqFes.DataOutOfRange },
        { error: 'PROTOCOL_ERROR', fes: TermReqFes.DataOutOfRange },
      ]);
      expect(r.termReqs).toBe(1);
    }
    // The NIC refused the mapping (offload validation failed): nothing of the forged PDU placed.
    const r = runs['ddp-crc'];
    expect(r.nic['rx-nvme-tcp-drop']).toBeGreaterThanOrEqual(1);
    expect(r.placedForged).toBe(0);
  });

  it.each(REFUSED)('the same header with fields TCP refuses (%s) changes nothing', async (tcp) => {
    const runs = await runAll(TWO_READS, pastBuffer((len) => len, () => 4096, tcp), `past-buffer ${tcp}`);
    for (const mode of MODES) allGood(runs[mode]);
    expect(runs['ddp-crc'].nic['rx-nvme-tcp-drop']).toBe(0);
    expect(runs['ddp-crc'].nic['rx-nvme-tcp-lost-sync']).toBe(0);
  });

  it.each([
    { what: 'outside the NIC table (0xbeef)', cid: () => 0xbeef },
    { what: 'inside the table, not outstanding', cid: () => 31 },
  ])('an unknown CID $what: H2CTermReq "invalid header field", every read failed, nothing placed for it', async ({ cid }) => {
    const script: WireScript = (s) => {
      const p = s.pdus[1]!;
      const hdr = forgeC2HDataHeader({ cccid: cid(), datao: 0, datal: 8 * 1448, hdgst: s.hdgst, ddgst: s.ddgst });
      return withForgedBefore(s, p.start, forgedFrames(p.start, Buffer.concat([hdr, Buffer.alloc(8 * 1448, 0x99)])));
    };
    const runs = await runAll(TWO_READS, script, 'unknown-cid');
    for (const mode of MODES) {
      expect(runs[mode].outcomes).toEqual([
        { error: 'PROTOCOL_ERROR', fes: TermReqFes.InvalidHeaderField },
        { error: 'PROTOCOL_ERROR', fes: TermReqFes.InvalidHeaderField },
      ]);
    }
    expect(runs['ddp-crc'].placedForged).toBe(0);
  });

  it.each(REFUSED)(
    'regression: a forged header TCP refuses (%s), after the NIC lost sync, cannot overwrite data the host already copied',
    async (tcp) => {
      // Without the data digest the overwrite would go unseen; with it, the host had checked the digest before.
      for (const ddgst of [false, true]) {
        const o: ForgeRigOptions = { hdgst: false, ddgst, reads: [64 * KiB, 64 * KiB], c2hBytes: 16 * KiB };
        const script: WireScript = (s) => {
          const p1 = s.pdus[1]!;
          const p3 = s.pdus[3]!;
          // 1. Garbage TCP refuses where read 0's second header is (before the fix, the NIC lost sync on it).
          // 2. The real stream: read 0's second PDU goes by (the host copies it), the NIC resyncs on the third.
          // 3. Where the fourth header is, a header TCP refuses naming read 0 at the second PDU's offset, and data.
          const hdr = forgeC2HDataHeader({ cccid: p1.cid, datao: p1.datao, datal: 16 * KiB, hdgst: s.hdgst, ddgst: s.ddgst });
          return [
            ...inOrder(s, 1448, 0, p1.start),
            { off: p1.start, bytes: Buffer.alloc(1448, 0x77), tcp, forged: true },
            ...inOrder(s, 1448, p1.start, p3.start),
            ...forgedFrames(p3.start, Buffer.concat([hdr, Buffer.alloc(16 * KiB + (ddgst ? 4 : 0), 0x66)]), tcp),
            ...inOrder(s, 1448, p3.start),
          ];
        };
        const runs = await runAll(o, script, `overwrite ${tcp} ddgst ${ddgst}`);
        for (const mode of MODES) allGood(runs[mode]);
        expect(runs['ddp-crc'].nic['rx-nvme-tcp-tcp-refused-bytes']).toBeGreaterThan(16 * KiB);
      }
    },
  );
});
