/**
 * NIC-side TCP checks (src/nicemu/ddp/tcp-checks.ts): what the NIC tells
 * from its own port about a segment TCP will refuse, and what that changes
 * for a forged C2HData header TCP refuses, against a NIC without them (the
 * series' NIC, which parses every frame).
 */
import { describe, expect, it } from 'vitest';
import { forgeC2HDataHeader } from '../../../src/lab/forge/segments.js';
import { NicTcpChecks } from '../../../src/nicemu/ddp/tcp-checks.js';
import type { FlowKey } from '../../../src/nicemu/flow-table.js';
import type { NicProfile } from '../../../src/nicemu/ddp/offload.js';
import { buildTcpFrame } from '../../../src/wire/frame.js';
import { TCP_ACK, TCP_SYN } from '../../../src/wire/tcp.js';
import { inOrder, readBytes, runForge, type ForgeMode, type ForgeRigOptions, type TcpFields, type WireFrame, type WireScript } from '../../support/host/ddp-forge-rig.js';
import { HOST, PEER, peerSkb } from '../../support/host/tcp-peer.js';

const KiB = 1024;
const KEY: FlowKey = { remoteIp: PEER.ip, remotePort: PEER.port, localIp: HOST.ip, localPort: HOST.port };

/** A frame the host sends to the peer. */
function hostFrame(seq: number, ack: number, flags: number, window: number, wscale?: number, payloadLen = 0): Buffer {
  return buildTcpFrame({
    srcMac: HOST.mac,
    dstMac: PEER.mac,
    srcIp: HOST.ip,
    dstIp: PEER.ip,
    srcPort: HOST.port,
    dstPort: PEER.port,
    seq,
    ack,
    flags,
    window,
    options: wscale !== undefined ? { mss: 1460, wscale, tsVal: 1, tsEcr: 0 } : { tsVal: 1, tsEcr: 0 },
    payload: Buffer.alloc(payloadLen),
  });
}

describe('NicTcpChecks', () => {
  it('takes everything of a well-formed segment before the host sent anything, and learns the timestamp', () => {
    const checks = new NicTcpChecks();
    const v = checks.verdictFor(KEY);
    expect(v(peerSkb({ seq: 100, ack: 5, flags: TCP_ACK, options: { tsVal: 1000, tsEcr: 1 }, payload: 'abcd' }))).toBe(4);
    // PAWS: older than the timestamp it let through.
    expect(v(peerSkb({ seq: 104, ack: 5, flags: TCP_ACK, options: { tsVal: 999, tsEcr: 1 }, payload: 'efgh' }))).toBe(0);
    expect(v(peerSkb({ seq: 104, ack: 5, flags: TCP_ACK, options: { tsVal: 1000, tsEcr: 1 }, payload: 'efgh' }))).toBe(4);
  });

  it('refuses no ACK flag, SYN, and an ACK past the highest sequence number the host sent', () => {
    const checks = new NicTcpChecks();
    checks.observeTx(hostFrame(1000, 0, TCP_SYN, 65_535, 7));
    checks.observeTx(hostFrame(1001, 501, TCP_ACK, 100, undefined, 200));
    const v = checks.verdictFor(KEY);
    expect(v(peerSkb({ seq: 501, ack: 1201, flags: TCP_ACK, payload: 'x' }))).toBe(1);
    expect(v(peerSkb({ seq: 501, ack: 1202, flags: TCP_ACK, payload: 'x' }))).toBe(0);
    expect(v(peerSkb({ seq: 501, ack: 1201, flags: 0, payload: 'x' }))).toBe(0);
    expect(v(peerSkb({ seq: 501, ack: 1201, flags: TCP_ACK | TCP_SYN, payload: 'x' }))).toBe(0);
  });

  it('cuts a segment at the right edge of the window the host advertised, scaled by the shift of its SYN', () => {
    const checks = new NicTcpChecks();
    checks.observeTx(hostFrame(1000, 0, TCP_SYN, 65_535, 2));
    // ACK 501, window 10 << 2 = 40 bytes: the right edge is 541.
    checks.observeTx(hostFrame(1001, 501, TCP_ACK, 10));
    const v = checks.verdictFor(KEY);
    expect(v(peerSkb({ seq: 531, ack: 1001, flags: TCP_ACK, payload: Buffer.alloc(20) }))).toBe(10);
    expect(v(peerSkb({ seq: 541, ack: 1001, flags: TCP_ACK, payload: Buffer.alloc(20) }))).toBe(0);
    // A later, smaller advertisement does not shrink what the NIC takes (TCP never shrinks its window).
    checks.observeTx(hostFrame(1001, 501, TCP_ACK, 1));
    expect(v(peerSkb({ seq: 531, ack: 1001, flags: TCP_ACK, payload: Buffer.alloc(20) }))).toBe(10);
  });

  it('makes no window check on a flow whose SYN it did not see (it cannot know the shift)', () => {
    const checks = new NicTcpChecks();
    checks.observeTx(hostFrame(1001, 501, TCP_ACK, 10));
    expect(checks.verdictFor(KEY)(peerSkb({ seq: 531, ack: 1001, flags: TCP_ACK, payload: Buffer.alloc(20) }))).toBe(20);
  });
});

/** `bytes` cut in 1448-byte forged frames from stream offset `off`. */
function forgedFrames(off: number, bytes: Buffer, tcp: TcpFields): WireFrame[] {
  const out: WireFrame[] = [];
  for (let k = 0; k < bytes.length; k += 1448) out.push({ off: off + k, bytes: bytes.subarray(k, k + 1448), tcp, forged: true });
  return out;
}

/**
 * Garbage TCP refuses where read 0's second header is (the NIC loses sync there and the host copies
 * that PDU), then at the fourth header a header TCP refuses naming read 0 at the second PDU's offset.
 */
function overwriteCopied(tcp: TcpFields, ddgst: boolean): WireScript {
  return (s) => {
    const p1 = s.pdus[1]!;
    const p3 = s.pdus[3]!;
    const hdr = forgeC2HDataHeader({ cccid: p1.cid, datao: p1.datao, datal: 16 * KiB, hdgst: s.hdgst, ddgst: s.ddgst });
    return [
      ...inOrder(s, 1448, 0, p1.start),
      { off: p1.start, bytes: Buffer.alloc(1448, 0x77), tcp, forged: true },
      ...inOrder(s, 1448, p1.start, p3.start),
      ...forgedFrames(p3.start, Buffer.concat([hdr, Buffer.alloc(16 * KiB + (ddgst ? 4 : 0), 0x66)]), tcp),
      ...inOrder(s, 1448, p3.start),
    ];
  };
}

describe('a forged C2HData header TCP refuses, after the NIC lost sync', () => {
  const cases: [TcpFields, boolean, ForgeMode, NicProfile][] = [];
  for (const tcp of ['stale-ts', 'future-ack'] as const)
    for (const ddgst of [false, true]) for (const mode of ['ddp', 'ddp-crc'] as const) for (const nic of ['hardware', 'ideal'] as const) cases.push([tcp, ddgst, mode, nic]);

  it.each(cases)('%s, data digest %s, %s, NIC %s: without checks the NIC overwrites copied data and the read completes with it; with them it does not', async (tcp, ddgst, mode, nic) => {
    const o: ForgeRigOptions = { hdgst: false, ddgst, reads: [64 * KiB, 64 * KiB], c2hBytes: 16 * KiB, nic };
    const bare = await runForge(o, mode, overwriteCopied(tcp, ddgst));
    // The series' NIC: the forged payload lands in read 0, whose digest the host had checked already.
    expect(bare.outcomes[0]).toEqual({ status: 0 });
    expect(readBytes(bare, 0).equals(bare.expected[0]!)).toBe(false);
    expect(bare.placedForged).toBe(16 * KiB);
    expect(bare.tcp.ddpPlacedRefusedBytes).toBe(16 * KiB);

    const checked = await runForge({ ...o, nicTcpChecks: true }, mode, overwriteCopied(tcp, ddgst));
    expect(checked.outcomes[0]).toEqual({ status: 0 });
    expect(readBytes(checked, 0).equals(checked.expected[0]!)).toBe(true);
    expect(checked.placedForged).toBe(0);
    expect(checked.tcp.ddpPlacedRefusedBytes).toBe(0);
    expect(checked.nic['rx-nvme-tcp-tcp-refused-bytes']).toBeGreaterThan(16 * KiB);
    expect(checked.host.ddpMisplacedBytes).toBe(0);
  });
});
