/**
 * Replay with DDP on a capture whose target→host stream holds bytes beyond
 * the host's read position when the offload is added — found by the fuzzer
 * (`npm run fuzz`, target replay, seed 1, iteration 437; minimized input in
 * captures/fuzz-replay-held-bytes.pcap). The ICResp's 128 bytes come again
 * at a wrong sequence number, inside the data of the read that follows;
 * the host keeps that first copy of those bytes and copies it into the
 * read's buffer. The NIC, added afterwards, had never seen them: it placed
 * a later, different copy of their tail over what the host had copied, and
 * the read's SHA-256 differed with offload on. Now sk_add tells the NIC what
 * the stream already holds (heldEndSeq) and it leaves those bytes alone.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { replayCapture } from '../../src/replay/replay.js';

const CAPTURE = join(import.meta.dirname, '..', '..', 'captures', 'fuzz-replay-held-bytes.pcap');
/** The read's data with the host's first copy of every byte (what offload none gives). */
const SHA256 = '838c71d68ab65c29bf5b3f0be67c11b8175e833778d56f30dfe762f48e4e70ad';

describe('replay with DDP: bytes the stream held before sk_add', () => {
  it('gives every read the same bytes with offload none, ddp and ddp-crc, and still places what it can', async () => {
    const none = await replayCapture({ path: CAPTURE, offload: 'none' });
    expect(none.reads.map((r) => r.sha256)).toEqual([SHA256]);
    for (const offload of ['ddp', 'ddp-crc'] as const) {
      const r = await replayCapture({ path: CAPTURE, offload });
      expect(r.reads.map((x) => ({ status: x.status, sha256: x.sha256, missingBytes: x.missingBytes })), offload).toEqual(
        none.reads.map((x) => ({ status: x.status, sha256: x.sha256, missingBytes: x.missingBytes })),
      );
      expect(r.reads[0]!.ddp, offload).toBe(true);
      expect(r.ddp!['rx-nvme-tcp-bytes'], offload).toBeGreaterThan(0);
    }
  });
});
