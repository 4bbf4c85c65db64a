/**
 * NVMe/TCP over io_uring zero-copy receive end to end (root): `ddplab run
 * --offload zcrx-nvme`, the target on kernel TCP, every read verified after
 * the consumer read it in the zcrx area.
 */
import { describe, expect, it } from 'vitest';
import { liveRunIds, runJson } from '../support/lab/live-run-rig.js';

const newId = liveRunIds('zc');

describe('ddplab run --offload zcrx-nvme', () => {
  it('randread 128k with data digests: all C2HData payload in the area, PDU headers through the copy fallback, the host CRCs the data in the area, every buffer back', async () => {
    const r = await runJson(['--id', newId('n'), '--offload', 'zcrx-nvme', '--rw', 'randread', '--bs', '128k', '--iodepth', '16', '--size', '32m', '--digest', 'data']);
    expect(r.error).toBeUndefined();
    expect(r.ok).toBe(true);
    expect(r.verify.mismatches).toBe(0);
    const z = r.zcrx!;
    expect(z).toBeDefined();
    expect(z.c2hDataBytes).toBe(32 << 20);
    expect(z.areaPct).toBe(100);
    expect(z.hostDataBytes).toBe(0);
    // The consumer read exactly the data in the area.
    expect(z.areaReads.consumerBytes).toBe(z.areaDataBytes);
    // A completion cannot carry "digest checked": the host CRC'd every data byte, read in the area.
    expect(z.areaReads.crcBytes).toBe(32 << 20);
    // The NIC split the PDU headers into the skb head; RECV_ZC copied them into fresh niovs.
    expect(z.recvZc.copyFallbackLinearBytes).toBe(z.nic['rx-hds-header-bytes']);
    expect(z.recvZc.copyFallbackBytes).toBeGreaterThan(0);
    expect(z.recvZc.zcBytes).toBe(z.nic['rx-devmem-bytes']);
    expect(z.buffers.outstandingAfterWorkload).toBe(0);
    expect(z.buffers.returned).toBe(z.buffers.taken);
    expect(z.recvZc.refillEntries).toBe(z.recvZc.cqes);
  });
});
