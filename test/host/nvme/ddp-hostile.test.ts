/**
 * Malformed PDUs from a hostile target on the host's receive path, with the
 * software NIC's DDP engine in front (offload none, ddp, ddp-crc): one test
 * per hostile case. Queue 1 gets the target's broken read response (the
 * bytes of src/target/hostile.ts), queue 2 on the same NIC a correct stream.
 *
 * The host answers as the NVMe/TCP transport says: the H2CTermReq on the
 * wire carries the case's FES/FEI and echoes the offending header, the
 * queue is torn down, the broken read and every read still outstanding fail
 * with PROTOCOL_ERROR; a data digest error fails only its read, with a data
 * transfer error, and the queue goes on. The NIC counts (rx-nvme-tcp-drop
 * for a header it refuses or a PDU its SGL cannot take, crc-fail for the
 * digest) and falls back: it places no byte of the broken PDU, nothing past
 * a header it refused, never writes outside a registered buffer, and the
 * application's view — completions, errors, TermReqs, memory — is identical
 * with offload on and off. Queue 2 completes and verifies every read, placed.
 */
import { describe, expect, it } from 'vitest';
import { NvmeSc } from '../../../src/wire/nvme-status.js';
import { HOSTILE_CASES, type HostileCase } from '../../../src/target/hostile.js';
import { HOST_ANSWER } from '../../support/target/hostile-cases.js';
import type { OffloadMode } from '../../support/host/ddp-queue-rig.js';
import { runHostileScenario, type HostileRunResult, type HostileScenario, type QueueResult } from '../../support/host/hostile-queue-rig.js';

const MODES: readonly OffloadMode[] = ['none', 'ddp', 'ddp-crc'];
/** Cases that break the header itself: the NIC refuses it, as the host does. */
const HEADER_CASES: ReadonlySet<HostileCase> = new Set(['plen-lt-hlen', 'bad-hlen', 'pdo-in-header', 'bad-hdgst']);

const VARIANTS = [
  { name: 'digests on, CapsuleResp, 16 KiB C2HData, MSS 1448', hdgst: true, ddgst: true, success: false, c2hBytes: 16 * 1024, mss: 1448 },
  { name: 'data digest only, C2H SUCCESS, 8 KiB C2HData, MSS 8960', hdgst: false, ddgst: true, success: true, c2hBytes: 8 * 1024, mss: 8960 },
  { name: 'no digests, CapsuleResp, whole-read C2HData, MSS 1448', hdgst: false, ddgst: false, success: false, c2hBytes: 64 * 1024, mss: 1448 },
] as const;

function scenario(kind: HostileCase | undefined, v: (typeof VARIANTS)[number], seed: number): HostileScenario {
  return { kind, after: 2, hdgst: v.hdgst, ddgst: v.ddgst, reads: 6, readBytes: 64 * 1024, c2hBytes: v.c2hBytes, success: v.success, mss: v.mss, seed };
}

function span(q: QueueResult, i: number): Buffer {
  const [a, b] = q.spans[i]!;
  return q.memory.subarray(a, b);
}

/** Which case applies to this variant (the digest cases need their digest). */
function applies(kind: HostileCase, v: (typeof VARIANTS)[number]): boolean {
  return (kind !== 'bad-hdgst' || v.hdgst) && (kind !== 'bad-ddgst' || v.ddgst);
}

function expectCleanQueue(q: QueueResult, mode: OffloadMode): void {
  expect(q.outcomes, `${mode}: queue 2`).toEqual(q.expected.map(() => ({ status: NvmeSc.SUCCESS })));
  q.expected.forEach((want, i) => expect(span(q, i).equals(want), `${mode}: queue 2 read ${i} data`).toBe(true));
  expect(q.termReqs).toEqual([]);
  expect(q.error).toBeUndefined();
}

function expectHostAnswer(kind: HostileCase, r: HostileRunResult, mode: OffloadMode): void {
  const q = r.hostile;
  const answer = HOST_ANSWER[kind];
  const tag = `${kind} ${mode}`;
  // The victim is read 2 (after = 2); reads 0 and 1 went through intact.
  expect(q.outcomes.slice(0, 2), tag).toEqual([{ status: NvmeSc.SUCCESS }, { status: NvmeSc.SUCCESS }]);
  if ('termReq' in answer) {
    const { fes, fei } = answer.termReq;
    expect(q.termReqs.map((t) => ({ fes: t.fes, fei: t.fei })), tag).toEqual([{ fes, fei }]);
    // The echo is the offending header as far as the host had read it: at least its common header.
    const echo = q.termReqs[0]!.echo;
    expect(echo.length, tag).toBeGreaterThanOrEqual(8);
    expect(q.hostilePdu!.subarray(0, echo.length).equals(echo), `${tag}: echoed header`).toBe(true);
    expect(q.error, tag).toEqual({ code: 'PROTOCOL_ERROR', fes, fei });
    expect(q.host.h2cTermReqSent).toBe(1);
    const failed = { error: 'PROTOCOL_ERROR', fes, fei };
    if (kind === 'c2h-after-completion') {
      // The victim itself completed with its data; the repeat after it ended the queue.
      expect(q.outcomes[2], tag).toEqual({ status: NvmeSc.SUCCESS });
      expect(span(q, 2).equals(q.expected[2]!), `${tag}: victim data`).toBe(true);
      expect(q.outcomes.slice(3), tag).toEqual([failed, failed, failed]);
    } else {
      expect(q.outcomes.slice(2), tag).toEqual([failed, failed, failed, failed]);
    }
  } else {
    // A data digest error is not fatal to the connection: only that read fails.
    expect(q.outcomes, tag).toEqual([0, 0, NvmeSc.DATA_XFER_ERROR, 0, 0, 0].map((status) => ({ status })));
    expect(q.termReqs).toEqual([]);
    expect(q.error).toBeUndefined();
    expect(q.host.ddgstErrors).toBe(1);
    q.expected.forEach((want, i) => {
      if (i !== 2) expect(span(q, i).equals(want), `${tag}: read ${i} data`).toBe(true);
    });
  }
}

function expectNic(kind: HostileCase, r: HostileRunResult, mode: OffloadMode, ddgst: boolean): void {
  const n = r.nic;
  const tag = `${kind} ${mode}`;
  // Every byte before the broken (or repeated) PDU is placed, on both queues, and none of it. After it:
  // nothing once the NIC refused a header (sync lost); with the framing intact, only what shared a frame
  // with the broken PDU's header (the NIC walked that frame before the host read it and tore the offload down).
  const fatal = kind !== 'bad-ddgst';
  const after = HEADER_CASES.has(kind) ? 0 : r.hostile.dataAfterHostileInFaultFrame;
  expect(n['rx-nvme-tcp-bytes'], `${tag}: bytes placed`).toBe(r.clean.dataBytes + (fatal ? r.hostile.dataBeforeHostile + after : r.hostile.dataBytes));
  expect(r.clean.host.copySkippedBytes, `${tag}: queue 2 placed`).toBe(r.clean.dataBytes);
  if (HEADER_CASES.has(kind)) {
    // A header that does not validate: counted, sync lost at it, nothing mapped from it.
    expect(n['rx-nvme-tcp-drop'], tag).toBe(1);
    expect(n['rx-nvme-tcp-lost-sync'], tag).toBe(1);
  } else if (kind === 'data-past-length') {
    // A valid header whose DATAO+DATAL run past the registered buffer: refused, sync kept.
    expect(n['rx-nvme-tcp-drop'], tag).toBe(1);
    expect(n['rx-nvme-tcp-lost-sync'], tag).toBe(0);
  } else if (kind === 'c2h-after-completion') {
    // The CID's completion went by first: no mapping takes the repeat.
    expect(n['rx-nvme-tcp-drop'], tag).toBe(0);
    expect(n['rx-nvme-tcp-no-sgl-bytes'], tag).toBeGreaterThan(0);
  } else {
    expect(n['rx-nvme-tcp-drop'], tag).toBe(0);
    const pdus = (q: QueueResult): number => q.host.c2hDataPdus;
    if (mode === 'ddp-crc' && ddgst) {
      // The NIC checked every PDU's digest: one wrong.
      expect(n['rx-nvme-tcp-crc-fail'], tag).toBe(1);
      expect(n['rx-nvme-tcp-crc-ok'], tag).toBe(pdus(r.clean) + pdus(r.hostile) - 1);
      // The host trusted none of the bad PDU (nor a PDU sharing an skb with its digest) and recomputed it over the buffer.
      expect(r.hostile.host.ddgstOffloaded, tag).toBeLessThan(pdus(r.hostile));
      expect(r.hostile.host.crcDataRxBytes, tag).toBeGreaterThanOrEqual(Math.min(r.hostile.expected[2]!.length, 8 * 1024));
      expect(r.clean.host.ddgstOffloaded, tag).toBe(pdus(r.clean));
    }
  }
  // The torn-down queue left the offload; the other stays.
  expect(n['rx-nvme-tcp-sk-add'], tag).toBe(2);
  expect(n['rx-nvme-tcp-sk-del'], tag).toBe(fatal ? 1 : 0);
}

/**
 * Everything the application and the wire can tell, the same in every mode:
 * completions, errors, TermReqs, and memory — every byte (buffers and
 * guards) after a refused header; otherwise every byte but the buffers of
 * reads the dead queue failed, which have no defined contents (the NIC may
 * have placed data for them before the host read the fault).
 */
function expectSameAsSoftware(kind: HostileCase, off: HostileRunResult, on: HostileRunResult, tag: string): void {
  for (const k of ['hostile', 'clean'] as const) {
    expect(on[k].outcomes, `${tag} ${k}: completions and errors`).toEqual(off[k].outcomes);
    expect(on[k].termReqs, `${tag} ${k}: H2CTermReqs`).toEqual(off[k].termReqs);
    expect(on[k].error, `${tag} ${k}: queue error`).toEqual(off[k].error);
    const a = on[k].memory;
    const b = off[k].memory;
    if (k === 'clean' || HEADER_CASES.has(kind) || kind === 'bad-ddgst') {
      const at = a.findIndex((x, i) => x !== b[i]);
      expect(at, `${tag} ${k}: first differing memory byte`).toBe(-1);
      continue;
    }
    let from = 0;
    on[k].spans.forEach(([s, e], i) => {
      expect(a.subarray(from, s).equals(b.subarray(from, s)), `${tag} ${k}: guard before read ${i}`).toBe(true);
      if ('status' in off[k].outcomes[i]!) expect(a.subarray(s, e).equals(b.subarray(s, e)), `${tag} ${k}: read ${i}`).toBe(true);
      from = e;
    });
    expect(a.subarray(from).equals(b.subarray(from)), `${tag} ${k}: guard after the last read`).toBe(true);
  }
}

describe('hostile target PDUs through the NIC and the host, offload none / ddp / ddp-crc', () => {
  for (const v of VARIANTS) {
    describe(v.name, () => {
      for (const kind of HOSTILE_CASES) {
        if (!applies(kind, v)) continue;
        it(kind, async () => {
          const sc = scenario(kind, v, 1 + HOSTILE_CASES.indexOf(kind));
          const runs = new Map<OffloadMode, HostileRunResult>();
          for (const mode of MODES) runs.set(mode, await runHostileScenario(sc, mode));
          const off = runs.get('none')!;
          for (const mode of MODES) {
            const r = runs.get(mode)!;
            expectHostAnswer(kind, r, mode);
            expectCleanQueue(r.clean, mode);
            if (mode !== 'none') {
              expectNic(kind, r, mode, v.ddgst);
              expectSameAsSoftware(kind, off, r, `${kind} ${mode}`);
            }
          }
        });
      }
    });
  }

  it('without a hostile case both queues verify and every C2HData byte is placed (the rig itself)', async () => {
    const sc = scenario(undefined, VARIANTS[0], 99);
    const r = await runHostileScenario(sc, 'ddp-crc');
    expectCleanQueue(r.clean, 'ddp-crc');
    expectCleanQueue(r.hostile, 'ddp-crc');
    expect(r.nic['rx-nvme-tcp-bytes']).toBe(r.clean.dataBytes + r.hostile.dataBytes);
    expect(r.nic['rx-nvme-tcp-drop']).toBe(0);
    expect(r.nic['rx-nvme-tcp-crc-fail']).toBe(0);
  });
});
