/**
 * The series' software CRC fallback on reads answered in several C2HData
 * PDUs, reproduced on a committed capture (captures/ulp-crc-fallback-split-reads.pcap,
 * made by the command in docs/ddp.md, "ULP behaviour and limits": 64 KiB and
 * 256 KiB reads, the target sending at most 128 KiB per C2HData, data
 * digests on, a few frames toward the host reordered before the NIC).
 *
 * Prediction: with `--ulp linux` a read fails with a data digest error
 * exactly when it came in two or more PDUs and at least one of them was not
 * fully verified by the NIC (the host then compares THAT PDU's digest with a
 * CRC over the whole request); a read in one PDU is checked correctly either
 * way. `--ulp reference` checks each PDU over its own data and completes
 * every read. The data is the same in both modes.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { replayCapture } from '../../src/replay/replay.js';
import type { ReplayRead } from '../../src/replay/connection.js';

const CAPTURE = join(import.meta.dirname, '..', '..', 'captures', 'ulp-crc-fallback-split-reads.pcap');

/** What the linux ULP gives a read, from what the NIC verified of it. */
function predictedLinux(r: ReplayRead): ReplayRead['status'] {
  if (r.status !== 'ok') return r.status;
  return r.c2hPdus >= 2 && r.nicVerifiedPdus < r.c2hPdus ? 'digest-error' : 'ok';
}

describe('the series CRC fallback on reads split into several C2HData PDUs (replay --ulp linux vs reference)', () => {
  it('fails exactly the multi-PDU reads the NIC did not fully verify, with the right data, where the reference check passes them', async () => {
    const ref = await replayCapture({ path: CAPTURE, offload: 'ddp-crc', ulp: 'reference' });
    const linux = await replayCapture({ path: CAPTURE, offload: 'ddp-crc', ulp: 'linux' });
    expect(ref.options.ulp).toBe('reference');
    expect(linux.options.ulp).toBe('linux');
    expect(ref.reads.length).toBeGreaterThan(10);
    expect(ref.reads.every((r) => r.status === 'ok')).toBe(true);
    // The NIC's verdicts do not depend on the host's mode.
    expect(linux.reads.map((r) => [r.c2hPdus, r.nicVerifiedPdus])).toEqual(ref.reads.map((r) => [r.c2hPdus, r.nicVerifiedPdus]));
    expect(linux.reads.map((r) => r.status)).toEqual(ref.reads.map(predictedLinux));
    expect(linux.reads.map((r) => r.sha256)).toEqual(ref.reads.map((r) => r.sha256));
    // The capture shows the difference: some split reads fail, some split reads and some unverified one-PDU reads do not.
    const failed = linux.reads.filter((r) => r.status === 'digest-error');
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.every((r) => r.c2hPdus >= 2)).toBe(true);
    expect(linux.reads.some((r) => r.c2hPdus >= 2 && r.status === 'ok')).toBe(true);
  });

  it('without the data-digest offload (ddp) both modes hash every PDU and agree', async () => {
    const ref = await replayCapture({ path: CAPTURE, offload: 'ddp', ulp: 'reference' });
    const linux = await replayCapture({ path: CAPTURE, offload: 'ddp', ulp: 'linux' });
    expect(linux.reads.map((r) => [r.status, r.sha256])).toEqual(ref.reads.map((r) => [r.status, r.sha256]));
    expect(linux.reads.every((r) => r.status === 'ok')).toBe(true);
  });
});
