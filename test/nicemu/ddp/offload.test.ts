/**
 * The DDP device ops: limits, sk_add/sk_del, setup refusals by limit and
 * injected fault, counters, capability switches. Every refusal is counted
 * and returned, never thrown.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_DDP_LIMITS, NvmeTcpDdpDevice } from '../../../src/nicemu/ddp/offload.js';
import type { FlowKey } from '../../../src/nicemu/flow-table.js';
import { sglFromBuffer } from '../../../src/nicemu/ddp/sgl.js';
import { DdpRig, KEY } from '../../support/nicemu/ddp-engine-rig.js';

const config = { pfv: 0, cpda: 0, hdgst: false, ddgst: false, queueSize: 8 };
const ulp = { resyncRequest: () => true, teardownDone: () => undefined };

describe('NvmeTcpDdpDevice', () => {
  it('reports the limits of the last public driver by default', () => {
    const rig = new DdpRig();
    expect(rig.device.limits()).toMatchObject({ maxDdpSglLen: 128, ioThresholdBytes: 32 * 1024, fullCcidRange: false });
    expect(DEFAULT_DDP_LIMITS.maxDdpSglLen).toBe(128);
  });

  it('refuses sk_add with the capability off, without a flow, twice on one flow, past the socket cap, for a bad config, or by fault', () => {
    const rig = new DdpRig({ device: { limits: { maxSockets: 2 } } });
    const dev = rig.device;
    expect(dev.skAdd({ key: KEY, nextPduSeq: 0 }, config, ulp)).toBe('flow-busy');
    const other: FlowKey = { ...KEY, localPort: 40_001 };
    expect(dev.skAdd({ key: other, nextPduSeq: 0 }, config, ulp)).toBe('no-flow');
    rig.nic.addFlow({ key: other, deliver: () => undefined });
    expect(dev.skAdd({ key: other, nextPduSeq: 0 }, { ...config, pfv: 1 }, ulp)).toBe('bad-config');
    dev.faults.skAddFail = true;
    expect(dev.skAdd({ key: other, nextPduSeq: 0 }, config, ulp)).toBe('fault');
    dev.faults.skAddFail = false;
    dev.setCaps({ 'nvme-tcp': false });
    expect(dev.skAdd({ key: other, nextPduSeq: 0 }, config, ulp)).toBe('caps-off');
    dev.setCaps({ 'nvme-tcp': true });
    expect(dev.skAdd({ key: other, nextPduSeq: 0 }, config, ulp)).toBeUndefined();
    const third: FlowKey = { ...KEY, localPort: 40_002 };
    rig.nic.addFlow({ key: third, deliver: () => undefined });
    expect(dev.skAdd({ key: third, nextPduSeq: 0 }, config, ulp)).toBe('socket-limit');
    const s = dev.getStats();
    expect(s['rx-nvme-tcp-sk-add']).toBe(2);
    expect(s['rx-nvme-tcp-sk-add-fail']).toBe(6);
  });

  it('sk_del puts the flow back to plain receive and forgets its mappings', () => {
    const rig = new DdpRig();
    rig.setup(1, Buffer.alloc(4096));
    rig.device.skDel(KEY);
    expect(rig.nic.lookupFlow(KEY)!.offload).toBeUndefined();
    expect(rig.device.engineOf(KEY)).toBeUndefined();
    expect(rig.setup(2, Buffer.alloc(4096))).toBe('not-offloaded');
    // No completion follows a teardown on a socket that is gone.
    expect(rig.device.teardown(KEY, 1)).toBe(false);
    expect(rig.stats['rx-nvme-tcp-sk-del']).toBe(1);
  });

  it('refuses setups beyond the SGL length, CID range and in-flight cap, a busy CID, and every Nth by fault', () => {
    const rig = new DdpRig({ queueSize: 8, device: { limits: { maxSetupsPerSocket: 3 } } });
    const page = (n: number) => sglFromBuffer(Buffer.alloc(n * 4096));
    const dev = rig.device;
    expect(dev.setup(KEY, 0, page(129))).toBe('sgl-too-long');
    expect(dev.setup(KEY, 0, page(128))).toBeUndefined();
    expect(dev.setup(KEY, 0, page(1))).toBe('cid-busy');
    expect(dev.setup(KEY, 8, page(1))).toBe('cid-range');
    expect(dev.setup(KEY, 1, page(1))).toBeUndefined();
    expect(dev.setup(KEY, 2, page(1))).toBeUndefined();
    expect(dev.setup(KEY, 3, page(1))).toBe('inflight-limit');
    dev.teardown(KEY, 2);
    dev.faults.setupFailEvery = 1;
    expect(dev.setup(KEY, 3, page(1))).toBe('fault');
    dev.faults.setupFailEvery = 0;
    expect(dev.setup(KEY, 3, page(1))).toBeUndefined();
    const s = dev.getStats();
    expect(s['rx-nvme-tcp-setup']).toBe(4);
    expect(s['rx-nvme-tcp-setup-fail']).toBe(5);
    expect(s['rx-nvme-tcp-teardown']).toBe(1);
  });

  it('completes teardown through the ULP later (default: a later turn of the event loop)', async () => {
    const rig = new DdpRig();
    const done: number[] = [];
    const dev = new NvmeTcpDdpDevice(rig.nic, { profile: 'ideal' });
    rig.device.skDel(KEY);
    expect(dev.skAdd({ key: KEY, nextPduSeq: 0 }, config, { resyncRequest: () => true, teardownDone: (_k, cid) => done.push(cid) })).toBeUndefined();
    dev.setup(KEY, 4, sglFromBuffer(Buffer.alloc(8192)));
    expect(dev.teardown(KEY, 4)).toBe(true);
    expect(done).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(done).toEqual([4]);
  });
});
