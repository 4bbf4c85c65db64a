import { describe, expect, it } from 'vitest';
import { DevmemDevice } from '../../../src/nicemu/devmem/device.js';
import { DevmemBindError, Dmabuf } from '../../../src/nicemu/devmem/dmabuf.js';
import { NetlinkHandle } from '../../../src/nicemu/devmem/netlink.js';
import { RxQueueSteering } from '../../../src/nicemu/rx-queue-steering.js';
import { HsRig, KEY, pattern } from '../../support/nicemu/header-split-rig.js';

function bindError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof DevmemBindError) return `${e.code} ${e.reason}`;
    throw e;
  }
  return 'no error';
}

describe('dmabuf binding (bind-rx)', () => {
  it('binds a dmabuf to header-split queues and returns ids that descriptors will carry', () => {
    const dev = new DevmemDevice({ queues: ['off', 'tcp', 'nvme', 'tcp'] });
    const a = dev.bindRx({ queues: [1, 3], dmabuf: new Dmabuf(1 << 16) });
    const b = dev.bindRx({ queues: [2], dmabuf: new Dmabuf(1 << 16) });
    expect(a).not.toBe(b);
    expect(dev.binding(a)!.queues).toEqual([1, 3]);
    expect(dev.binding(b)!.pool.chunks).toBe(16);
  });

  it('refuses as mainline: no queue and header split off EINVAL, a queue out of range ERANGE, a queue already bound EEXIST', () => {
    const dev = new DevmemDevice({ queues: ['off', 'tcp'] });
    const dmabuf = new Dmabuf(1 << 16);
    expect(bindError(() => dev.bindRx({ queues: [], dmabuf }))).toBe('EINVAL NO_QUEUES');
    expect(bindError(() => dev.bindRx({ queues: [7], dmabuf }))).toBe('ERANGE NO_SUCH_QUEUE');
    expect(bindError(() => dev.bindRx({ queues: [2], dmabuf }))).toBe('ERANGE NO_SUCH_QUEUE');
    expect(bindError(() => dev.bindRx({ queues: [0], dmabuf }))).toBe('EINVAL NO_HEADER_SPLIT');
    expect(bindError(() => dev.bindRx({ queues: [1, 0], dmabuf }))).toBe('EINVAL NO_HEADER_SPLIT');
    // A refusal binds nothing: queue 1 is still free.
    const id = dev.bindRx({ queues: [1], dmabuf });
    expect(bindError(() => dev.bindRx({ queues: [1], dmabuf: new Dmabuf(4096) }))).toBe('EEXIST QUEUE_BOUND');
    expect(bindError(() => dev.setHeaderSplit(1, 'off'))).toBe('EINVAL BOUND');
    expect(bindError(() => dev.setHdsThresh(256))).toBe('EINVAL BOUND');
    expect(bindError(() => dev.unbind(99))).toBe('ENOENT NO_SUCH_BINDING');
    expect(bindError(() => new Dmabuf(5000))).toBe('EINVAL BAD_DMABUF');
    dev.unbind(id);
    dev.setHdsThresh(256);
    expect(bindError(() => dev.bindRx({ queues: [1], dmabuf }))).toBe('EINVAL HDS_THRESH');
    dev.setHdsThresh(0);
    expect(dev.bindRx({ queues: [1], dmabuf })).toBeGreaterThan(id);
  });

  it('a netlink handle owns its bindings: closing it unbinds them, and a closed handle binds nothing', () => {
    const dev = new DevmemDevice({ queues: ['off', 'tcp', 'tcp'] });
    const nl = new NetlinkHandle(dev);
    const a = nl.bindRx({ queues: [1], dmabuf: new Dmabuf(4096) });
    const other = new NetlinkHandle(dev);
    const b = other.bindRx({ queues: [2], dmabuf: new Dmabuf(4096) });
    expect(nl.bindings).toEqual([a]);
    nl.close();
    expect(dev.binding(a)).toBeUndefined();
    expect(dev.binding(b)).toBeDefined();
    expect(() => nl.bindRx({ queues: [1], dmabuf: new Dmabuf(4096) })).toThrow(/closed netlink handle/);
    // The queue is free again for another handle.
    expect(other.bindRx({ queues: [1], dmabuf: new Dmabuf(4096) })).toBeGreaterThan(b);
    other.close();
    expect(dev.bindings()).toEqual([]);
  });

  it('unbind retires the binding: held frags stay valid and come back later; the pool is released with the last one', () => {
    const rig = new HsRig({ mode: 'tcp', poolBytes: 4 * 4096 });
    rig.synAck();
    const skb = rig.send(0, pattern(6000))!;
    const pool = rig.binding.pool;
    const offsets = skb.frags.flatMap((f) => (f.kind === 'dmabuf' ? [f.offset] : []));
    for (const o of offsets) pool.getUserRef(o);
    expect(pool.freeChunks).toBe(2);
    let releasedEvents = 0;
    pool.onReleased(() => releasedEvents++);
    rig.dev.unbind(rig.binding.id);
    expect(rig.dev.binding(rig.binding.id)).toBeUndefined();
    expect(rig.binding.live).toBe(false);
    // The application still holds its frags: nothing is recycled under it, nothing released.
    expect(pool.freeChunks).toBe(2);
    expect(pool.stats['user-refs']).toBe(offsets.length);
    expect(rig.binding.released).toBe(false);
    // The queue's flows go to host memory now.
    const after = rig.send(6000, pattern(1000))!;
    expect(after.frags.map((f) => f.kind)).toEqual(['host']);
    // The frags come back to the retired pool (nowhere to allocate from): no crash, no leak.
    for (const o of offsets) expect(pool.putUserRef(o)).toBe(true);
    expect(pool.stats['user-refs']).toBe(0);
    expect(pool.freeChunks).toBe(4);
    expect(rig.binding.released).toBe(true);
    expect(releasedEvents).toBe(1);
    // The queue can be bound again.
    expect(rig.dev.bindRx({ queues: [1], dmabuf: new Dmabuf(4096) })).toBeGreaterThan(rig.binding.id);
  });

  it('makes an engine only for flows a 5-tuple rule steers to a bound queue', () => {
    const dev = new DevmemDevice({ queues: ['off', 'nvme'] });
    expect(dev.engineFor(KEY)).toBeUndefined();
    dev.steering.addRule(KEY, 1);
    expect(dev.engineFor(KEY)).toBeUndefined(); // queue 1 not bound yet
    dev.bindRx({ queues: [1], dmabuf: new Dmabuf(4096) });
    const e = dev.engineFor(KEY)!;
    expect(e.mode).toBe('nvme');
    expect(dev.engine(KEY)).toBe(e);
    expect(dev.engineFor({ ...KEY, localPort: KEY.localPort + 1 })).toBeUndefined();
  });
});

describe('rx queue steering', () => {
  it('matches the whole tuple, lets a later rule replace an earlier one, and defaults to queue 0', () => {
    const s = new RxQueueSteering(['off', 'tcp', 'tcp']);
    const r1 = s.addRule(KEY, 1);
    expect(s.queueFor(KEY)).toBe(1);
    expect(s.queueFor({ ...KEY, remotePort: 4421 })).toBe(0);
    s.addRule(KEY, 2);
    expect(s.queueFor(KEY)).toBe(2);
    expect(s.removeRule(r1)).toBe(false);
    expect(() => s.addRule(KEY, 3)).toThrow(RangeError);
  });
});

describe('dmabuf device view', () => {
  it('reads what the NIC wrote and counts every byte that leaves device memory', () => {
    const d = new Dmabuf(8192);
    d.dmaWrite(100, Buffer.from('devmem'));
    const v = d.deviceView();
    const w = d.deviceView();
    expect(v.read(100, 6).toString()).toBe('devmem');
    const dst = Buffer.alloc(8);
    w.copyTo(102, 4, dst, 1);
    expect(dst.subarray(1, 5).toString()).toBe('vmem');
    expect([v.bytesRead, w.bytesRead, d.readStats.bytesRead]).toEqual([6, 4, 10]);
    expect(() => v.read(8190, 4)).toThrow(RangeError);
    expect(() => d.dmaWrite(8190, Buffer.alloc(4))).toThrow(RangeError);
  });
});
