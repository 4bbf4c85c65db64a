/**
 * The 'hardware' NIC profile against the 'ideal' one, one contract rule at a
 * time: resync under a ULP that confirms only an exact match (silence, a
 * wrong guess, a request replaced while the host parses), the confirmation's
 * latency, in-order-only placement, and the teardown that completes later.
 */
import { describe, expect, it } from 'vitest';
import type { NvmeTcpDdpDeviceOptions } from '../../../src/nicemu/ddp/offload.js';
import { c2hData, capsuleResp, DdpRig, destination, fragBytes, KEY, pattern } from '../../support/nicemu/ddp-engine-rig.js';
import { buildTcpFrame } from '../../../src/wire/frame.js';
import { TCP_ACK } from '../../../src/wire/tcp.js';

/** The host's ACK for stream offset `off`, sent through the NIC (whose transmit path the DDP device watches). */
function hostAck(rig: DdpRig, off: number): void {
  rig.nic.send(
    buildTcpFrame({
      srcMac: Buffer.from([2, 0, 0, 0, 0, 2]),
      dstMac: Buffer.from([2, 0, 0, 0, 0, 1]),
      srcIp: KEY.localIp,
      dstIp: KEY.remoteIp,
      srcPort: KEY.localPort,
      dstPort: KEY.remotePort,
      seq: 1,
      ack: rig.seq(off),
      flags: TCP_ACK,
      window: 1000,
    }),
  );
}

const HW: NvmeTcpDdpDeviceOptions = { profile: 'hardware', resyncRetryPdus: 3, resyncLatencyPackets: 2, teardownLatencyPackets: 2, teardownLatencyUs: Infinity };

/** `n` C2HData PDUs of `size` bytes for CIDs 1..n, each set up; the stream, header starts and destinations. */
function pdus(rig: DdpRig, n: number, size: number) {
  const datas = Array.from({ length: n }, (_, i) => pattern(size, i + 1));
  const bufs = datas.map(() => destination(size).buf);
  const initial = bufs.map((b) => Buffer.from(b));
  bufs.forEach((b, i) => expect(rig.setup(i + 1, b)).toBeUndefined());
  const parts = datas.map((d, i) => c2hData(i + 1, 0, d, { last: true }));
  const starts: number[] = [];
  let at = 0;
  for (const p of parts) {
    starts.push(at);
    at += p.length;
  }
  return { stream: Buffer.concat(parts), starts, datas, bufs, initial };
}

/** Sends stream[from, to) in segments of `mss`; returns the bytes placed. */
function sendAll(rig: DdpRig, stream: Buffer, from: number, to: number, mss: number): number {
  let placed = 0;
  for (let off = from; off < to; off += mss) placed += fragBytes(rig.sendRange(stream, off, Math.min(to, off + mss))).placed;
  return placed;
}

/**
 * A host ULP as the series has it: it keeps the latest request and confirms
 * it only when its in-order parser reaches a header exactly there.
 */
class ExactMatchHost {
  private pending: number | undefined;
  private asked = 0;
  constructor(
    private readonly rig: DdpRig,
    /** Stream offsets where the host's parser finds PDU headers. */
    private readonly headers: readonly number[],
  ) {}

  /** The host's in-order parser reached stream offset `upTo`: answer a pending request it passed exactly. */
  parseTo(from: number, upTo: number): void {
    this.take();
    for (const h of this.headers) {
      if (h < from || h >= upTo) continue;
      if (this.pending !== undefined && this.rig.seq(h) === this.pending) {
        this.pending = undefined;
        this.rig.device.resync(KEY, this.rig.seq(h));
      }
    }
  }

  /** Reads the NIC's requests made since the last look (the latest replaces the earlier ones). */
  take(): void {
    const reqs = this.rig.resyncRequests;
    if (reqs.length > this.asked) this.pending = reqs[reqs.length - 1];
    this.asked = reqs.length;
  }
}

describe('NIC profiles: resync with a ULP that confirms only an exact match', () => {
  it('a host that never answers: the NIC keeps passing packets unplaced, asks again every resyncRetryPdus headers, never places', () => {
    const rig = new DdpRig({ queueSize: 32, device: HW });
    const { stream, starts, bufs, initial } = pdus(rig, 12, 400);
    rig.sendRange(stream, 0, 200);
    // A gap hides the second header: lost.
    const placed = sendAll(rig, stream, starts[1]! + 10, stream.length, 300);
    expect(placed).toBe(0);
    expect(rig.device.engineOf(KEY)!.syncState).toBe('speculative');
    const st = rig.stats;
    expect(rig.resyncRequests.length).toBeGreaterThanOrEqual(3);
    // Each request is at a header the NIC walked, each after the last.
    expect(rig.resyncRequests[0]).toBe(rig.seq(starts[2]!));
    expect(rig.resyncRequests[1]).toBe(rig.seq(starts[2 + 4]!));
    expect(st['rx-nvme-tcp-resync-req']).toBe(rig.resyncRequests.length);
    expect(st['rx-nvme-tcp-resync-unanswered']).toBe(rig.resyncRequests.length - 1);
    expect(st['rx-nvme-tcp-resync']).toBe(0);
    for (let i = 1; i < bufs.length; i++) expect(bufs[i]!.equals(initial[i]!)).toBe(true);
  });

  it('does not ask again while the host has not reached the request (its ACK is behind it); once past it, asks again after resyncRetryPdus headers', () => {
    const rig = new DdpRig({ queueSize: 32, device: HW });
    const { stream, starts } = pdus(rig, 16, 400);
    rig.sendRange(stream, 0, 200);
    hostAck(rig, 200);
    // A gap hides the second header; the NIC asks about the third.
    sendAll(rig, stream, starts[1]! + 10, starts[8]!, 300);
    expect(rig.resyncRequests).toEqual([rig.seq(starts[2]!)]);
    // Six headers walked, the host still behind the hole: a new request would replace the one it will answer.
    expect(rig.device.engineOf(KEY)!.syncState).toBe('speculative');
    hostAck(rig, starts[3]!);
    sendAll(rig, stream, starts[8]!, stream.length, 300);
    expect(rig.resyncRequests.length).toBe(2);
    // Asked again at the header after resyncRetryPdus (3) more: the 4th walked once the ACK was past.
    expect(rig.resyncRequests[1]).toBe(rig.seq(starts[8 + 3]!));
  });

  it('a wrong guess (a header inside read data) is never confirmed; the NIC recovers at a later candidate once the host confirms that one', () => {
    const rig = new DdpRig({ queueSize: 32, device: HW });
    const victim = destination(8192).buf;
    const untouched = Buffer.from(victim);
    rig.setup(5, victim);
    // Read data that is itself a chain of C2HData PDUs for CID 5, ending where the carrier's data ends.
    const lure = Buffer.concat(Array.from({ length: 8 }, (_, i) => c2hData(5, i * 500, Buffer.alloc(500, 0xee))));
    const carrier = destination(lure.length).buf;
    rig.setup(1, carrier);
    const tail = Array.from({ length: 8 }, (_, i) => pattern(600, 10 + i));
    const tailBufs = tail.map(() => destination(600).buf);
    tailBufs.forEach((b, i) => rig.setup(10 + i, b));
    const parts = [c2hData(1, 0, lure, { last: true }), capsuleResp(1), ...tail.map((d, i) => c2hData(10 + i, 0, d, { last: true }))];
    const headers: number[] = [];
    let at = 0;
    for (const p of parts) {
      headers.push(at);
      at += p.length;
    }
    const stream = Buffer.concat(parts);
    const host = new ExactMatchHost(rig, headers);
    rig.sendRange(stream, 0, 10);
    // The rest of the carrier's header is lost: the next segment starts inside the lure.
    let parsed = 0;
    for (let off = 40; off < stream.length; off += 500) {
      rig.sendRange(stream, off, Math.min(stream.length, off + 500));
      host.take();
    }
    // The first guess is inside the carrier's data: the host's parser never finds a header there.
    expect(headers).not.toContain(rig.resyncRequests[0]! - rig.base);
    // The retransmission arrives; the host parses everything in order and confirms only an exact match.
    rig.sendRange(stream, 10, 40);
    host.parseTo(parsed, stream.length);
    parsed = stream.length;
    expect(rig.stats['rx-nvme-tcp-resync']).toBe(1);
    const confirmed = rig.resyncRequests[rig.resyncRequests.length - 1]! - rig.base;
    expect(headers).toContain(confirmed);
    expect(victim.equals(untouched)).toBe(true);
    // More of the stream: placing resumes after the resync latency (2 packets).
    const more = [pattern(3000, 40), pattern(3000, 41)];
    const moreBufs = more.map(() => destination(3000).buf);
    moreBufs.forEach((b, i) => rig.setup(20 + i, b));
    const next = Buffer.concat(more.map((d, i) => c2hData(20 + i, 0, d, { last: true })));
    const grown = Buffer.concat([stream, next]);
    expect(sendAll(rig, grown, stream.length, stream.length + 1000, 500)).toBe(0);
    expect(sendAll(rig, grown, stream.length + 1000, grown.length, 500)).toBeGreaterThan(0);
    expect(rig.device.engineOf(KEY)!.syncState).toBe('sync');
    expect(moreBufs[1]!.equals(more[1]!)).toBe(true);
    expect(victim.equals(untouched)).toBe(true);
  });

  it('a request replaced by a newer one while the host is parsing: the host confirms the newer one, the NIC places from there', () => {
    const rig = new DdpRig({ queueSize: 32, device: HW });
    const { stream, starts, datas, bufs } = pdus(rig, 14, 400);
    const host = new ExactMatchHost(rig, starts);
    rig.sendRange(stream, 0, 200);
    host.parseTo(0, 200);
    // A hole hides header 1: the host's parser waits at 200 for its retransmission.
    sendAll(rig, stream, starts[1]! + 10, starts[7]!, 400);
    host.take();
    expect(rig.resyncRequests.length).toBe(2);
    const [first, second] = rig.resyncRequests as [number, number];
    expect(first).toBe(rig.seq(starts[2]!));
    expect(second).toBe(rig.seq(starts[6]!));
    expect(rig.stats['rx-nvme-tcp-resync-unanswered']).toBe(1);
    // The hole is filled: the host parses past the first guess (no longer pending) and confirms the newer one.
    rig.sendRange(stream, 200, starts[1]! + 10);
    host.parseTo(200, starts[7]!);
    expect(rig.stats['rx-nvme-tcp-resync']).toBe(1);
    expect(rig.stats['rx-nvme-tcp-resync-fail']).toBe(0);
    // Two packets of resync latency, then in sync and placing.
    expect(sendAll(rig, stream, starts[7]!, starts[8]!, 250)).toBe(0);
    expect(sendAll(rig, stream, starts[8]!, stream.length, 424)).toBe(6 * 400);
    expect(rig.device.engineOf(KEY)!.syncState).toBe('sync');
    for (let i = 8; i < 14; i++) expect(bufs[i]!.equals(datas[i]!)).toBe(true);
  });
});

describe('NIC profiles: in-order placement', () => {
  for (const profile of ['hardware', 'ideal'] as const) {
    it(`a retransmission filling a hole in a PDU's data is ${profile === 'hardware' ? 'not placed' : 'placed'} ('${profile}')`, () => {
      const rig = new DdpRig({ device: { ...HW, profile } });
      const data = pattern(8000, 3);
      const { buf } = destination(8000);
      const initial = Buffer.from(buf);
      rig.setup(1, buf);
      const stream = Buffer.concat([c2hData(1, 0, data, { last: true }), capsuleResp(1)]);
      rig.sendRange(stream, 0, 1000);
      // [1000, 2000) is lost; the gap lies inside the body: the NIC knows where the next header is.
      expect(fragBytes(rig.sendRange(stream, 2000, stream.length)).placed).toBe(8000 - 1976);
      const late = fragBytes(rig.sendRange(stream, 1000, 2000)).placed;
      expect(late).toBe(profile === 'hardware' ? 0 : 1000);
      const hole = buf.subarray(976, 1976);
      expect(hole.equals(profile === 'hardware' ? initial.subarray(976, 1976) : data.subarray(976, 1976))).toBe(true);
      expect(rig.device.engineOf(KEY)!.syncState).toBe('sync');
    });
  }

  it("'hardware' does not place from a segment that starts before the expected byte, and walks its new bytes", () => {
    const rig = new DdpRig({ queueSize: 32, device: HW });
    const { stream, starts, datas, bufs } = pdus(rig, 3, 4000);
    rig.sendRange(stream, 0, 1000);
    // Re-segmented: [500, 3000) overlaps what went by.
    expect(fragBytes(rig.sendRange(stream, 500, 3000)).placed).toBe(0);
    expect(fragBytes(rig.sendRange(stream, 3000, stream.length)).placed).toBe(stream.length - 3000 - 2 * 24);
    expect(bufs[1]!.equals(datas[1]!)).toBe(true);
    expect(bufs[2]!.equals(datas[2]!)).toBe(true);
    expect(starts.length).toBe(3);
  });
});

describe('NIC profiles: teardown', () => {
  /** One PDU of 4000 bytes for CID 1, its first 1000 bytes sent, then teardown (and the audit, as a ULP completing at teardown would). */
  function tornDown(device: NvmeTcpDdpDeviceOptions) {
    const rig = new DdpRig({ device });
    const data = pattern(4000, 7);
    const { buf } = destination(4000);
    rig.setup(1, buf);
    const stream = Buffer.concat([c2hData(1, 0, data), pattern(24 * 40, 8)]);
    rig.sendRange(stream, 0, 1000);
    expect(rig.device.teardown(KEY, 1)).toBe(true);
    rig.device.auditCompleted(KEY, 1);
    return { rig, stream, buf, data };
  }

  it("'hardware': the mapping stays live after teardown until teardownDone (after teardownLatencyPackets); the audit counts writes after completion", () => {
    const { rig, stream, buf, data } = tornDown(HW);
    expect(fragBytes(rig.sendRange(stream, 1000, 2000)).placed).toBe(1000);
    expect(rig.stats['ddp-writes-after-completion']).toBeGreaterThan(0);
    expect(rig.deferred.length).toBe(0);
    rig.sendRange(stream, 2000, 3000);
    // Two packets went by: the teardown is done, its completion on its way.
    for (const fn of rig.deferred.splice(0)) fn();
    expect(rig.teardownsDone).toEqual([1]);
    const before = Buffer.from(buf);
    expect(fragBytes(rig.sendRange(stream, 3000, 4024)).placed).toBe(0);
    expect(buf.equals(before)).toBe(true);
    expect(buf.subarray(0, 2976).equals(data.subarray(0, 2976))).toBe(true);
    // A new setup may take the CID only now.
    expect(rig.setup(1, destination(100).buf)).toBeUndefined();
  });

  it("'hardware': teardownDone after teardownLatencyUs when no packet comes", async () => {
    const { rig } = tornDown({ ...HW, teardownLatencyPackets: 1000, teardownLatencyUs: 1000 });
    expect(rig.setup(1, destination(100).buf)).toBe('cid-busy');
    await new Promise((r) => setTimeout(r, 20));
    for (const fn of rig.deferred.splice(0)) fn();
    expect(rig.teardownsDone).toEqual([1]);
    expect(rig.setup(1, destination(100).buf)).toBeUndefined();
  });

  it("'ideal': teardown invalidates at once; nothing is written after it", () => {
    const { rig, stream } = tornDown({ ...HW, profile: 'ideal' });
    expect(fragBytes(rig.sendRange(stream, 1000, 2000)).placed).toBe(0);
    expect(rig.stats['ddp-writes-after-completion']).toBe(0);
  });
});

describe('the CID table and full_ccid_range', () => {
  // Linux's CID with generation bits: tag 3, generation 5 → 0x5003 (docs/protocol-facts.md, "The DDP offload series").
  const GEN_CID = (5 << 12) | 3;

  for (const profile of ['hardware', 'ideal'] as const) {
    it(`without the full CID range a CID at or above the queue size is refused at setup ('${profile}')`, () => {
      const rig = new DdpRig({ queueSize: 16, device: { ...HW, profile } });
      const { buf } = destination(4096);
      expect(rig.setup(GEN_CID, buf)).toBe('cid-range');
      expect(rig.setup(16, buf)).toBe('cid-range');
      expect(rig.setup(15, buf)).toBeUndefined();
    });

    it(`with the full CID range a CID carrying generation bits is set up and its C2HData placed ('${profile}')`, () => {
      const rig = new DdpRig({ queueSize: 16, device: { ...HW, profile, limits: { fullCcidRange: true } } });
      const data = pattern(4096, 9);
      const { buf } = destination(4096);
      expect(rig.setup(GEN_CID, buf)).toBeUndefined();
      const first = c2hData(GEN_CID, 0, data, { last: true });
      // Next on the stream: the same tag with another generation, another command: not mapped, nothing placed.
      const stream = Buffer.concat([first, c2hData((6 << 12) | 3, 0, pattern(4096, 10), { last: true })]);
      expect(sendAll(rig, stream, 0, first.length, 1448)).toBe(4096);
      expect(buf.equals(data)).toBe(true);
      expect(sendAll(rig, stream, first.length, stream.length, 1448)).toBe(0);
      expect(buf.equals(data)).toBe(true);
    });
  }
});
