/**
 * A flood of tiny in-window, out-of-order segments into a live NVMe/TCP
 * queue's connection (docs/hostile-input.md, exhaustion), offline: thousands of 1-byte
 * segments, each a sequence number apart from the next, ahead of where the
 * controller's real data will reach, in both orders. The host's
 * out-of-order queue stays under its memory limit (what it cannot hold is
 * dropped and counted; nothing it queued is dropped later), the DDP NIC
 * never parses the bytes TCP dropped, and reads on the same connection,
 * with and without DDP, finish with every byte right.
 */
import { describe, expect, it } from 'vitest';
import { OFO_PIECE_OVERHEAD_BYTES } from '../../../src/host/net/tcp-rx-queue.js';
import { buildTcpFrame } from '../../../src/wire/frame.js';
import { seqAdd } from '../../../src/wire/seq.js';
import { TCP_ACK } from '../../../src/wire/tcp.js';
import { NvmeLink, type LinkQueue, type LinkRead } from '../../support/host/nvme-link-rig.js';
import { HOST, PEER } from '../../support/host/tcp-peer.js';

const KIB = 1024;
const RCVBUF = 1024 * KIB;
/** TcpSocket's default ofo limit: twice the receive buffer. */
const OFO_LIMIT = 2 * RCVBUF;
const MAX_ENTRIES = Math.floor(OFO_LIMIT / (1 + OFO_PIECE_OVERHEAD_BYTES));
/** Where the flood starts, past rcv_nxt: further than the reads' data goes, inside the window. */
const FLOOD_AHEAD = 768 * KIB;

/** One-byte segments from the controller's address at `base + FLOOD_AHEAD + 2k`, k in `order`. */
function flood(link: NvmeLink, q: LinkQueue, base: number, order: readonly number[]): void {
  const ack = q.host.info().sndNxt;
  for (const k of order) {
    link.injectToHost(
      buildTcpFrame({
        srcMac: PEER.mac,
        dstMac: HOST.mac,
        srcIp: PEER.ip,
        dstIp: q.key.localIp,
        srcPort: PEER.port,
        dstPort: q.key.localPort,
        seq: seqAdd(base, FLOOD_AHEAD + 2 * k),
        ack,
        flags: TCP_ACK,
        window: 0xffff,
        payload: Buffer.from([0x46]),
      }),
    );
  }
}

function expectAllRight(reads: readonly LinkRead[]): void {
  for (const [i, r] of reads.entries()) {
    expect({ i, status: r.status, error: r.error, intact: r.intact, guards: r.guardsIntact }).toEqual({ i, status: 0, error: undefined, intact: true, guards: true });
  }
}

describe('a flood of 1-byte out-of-order segments into an NVMe/TCP connection', () => {
  for (const offload of ['none', 'ddp-crc'] as const) {
    it(`keeps the out-of-order queue under its memory limit, counts what it drops, and the reads still verify (offload ${offload})`, async () => {
      // The refused-bytes count below is the gate's: the NIC asks the host's TCP (not hardware).
      const link = new NvmeLink({ offload, rcvBufBytes: RCVBUF, nicTcpOracle: true });
      const q = await link.addQueue();
      link.offload();
      const base = q.host.info().rcvNxt;
      expect(q.host.info().rcvWnd).toBeGreaterThan(FLOOD_AHEAD + 2 * 10_000);

      // Ascending: once the queue is full, each new piece is dropped.
      flood(link, q, base, Array.from({ length: 10_000 }, (_, k) => k));
      const s = q.host.stats;
      expect(q.host.info().ofoEntries).toBe(MAX_ENTRIES);
      expect(s.ofoMemDrops).toBe(10_000 - MAX_ENTRIES);

      const wave1 = await link.readAll(Array.from({ length: 4 }, (_, k) => ({ q, slba: 300 * k, len: 64 * KIB })));
      expectAllRight(wave1);

      // Descending, below what is queued: nothing queued makes way, the new pieces go.
      flood(link, q, base, Array.from({ length: 5_000 }, (_, k) => -1 - k));
      expect(s.ofoMemDrops).toBe(15_000 - MAX_ENTRIES);
      expect(s.ofoMemDropBytes).toBe(s.ofoMemDrops);
      expect(q.host.info().ofoEntries).toBe(MAX_ENTRIES);
      // The NIC was told TCP would not take them, and did not parse them.
      if (offload !== 'none') expect(link.device!.getStats()['rx-nvme-tcp-tcp-refused-bytes']).toBe(s.ofoMemDropBytes);
      const wave2 = await link.readAll(Array.from({ length: 4 }, (_, k) => ({ q, slba: 3000 + 300 * k, len: 64 * KIB, misalign: 512 * k })));
      expectAllRight(wave2);

      const info = q.host.info();
      expect(info.ofoTruesize).toBeLessThanOrEqual(OFO_LIMIT);
      expect(info.ofoEntries).toBeLessThanOrEqual(MAX_ENTRIES);
      expect(s.ofoPeakTruesize).toBeLessThanOrEqual(OFO_LIMIT);
      expect(s.ofoPeakEntries).toBe(MAX_ENTRIES);
      // The flood's bytes lie beyond the reads' data: the stream the queue read is the controller's.
      expect(q.host.stats.rstsOut).toBe(0);
      expect(q.queue.live).toBe(true);
    });
  }
});
