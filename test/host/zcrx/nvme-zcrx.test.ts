import { describe, expect, it } from 'vitest';
import { ZcrxBufferHolds, ZcrxNvmeHooks, type ZcrxFrag } from '../../../src/host/zcrx/nvme-zcrx.js';
import { IORING_CQE_F_MORE, type ZcrxCqe } from '../../../src/host/zcrx/recv-zc.js';
import { ZcrxLink } from '../../support/host/zcrx-link-rig.js';
import { pattern } from '../../support/nicemu/header-split-rig.js';

function cqesOf(link: ZcrxLink, bytes: number): ZcrxCqe[] {
  link.send(pattern(bytes, 11));
  link.zc!.arm();
  link.zc!.issue();
  return link.cq.reap().filter((c) => (c.flags & IORING_CQE_F_MORE) !== 0);
}

describe('zcrx-nvme: buffer holds', () => {
  it('a buffer goes back on the refill ring once, when its last user lets go', () => {
    const link = new ZcrxLink();
    const [a, b] = cqesOf(link, 3000);
    const holds = new ZcrxBufferHolds(link.zc!);
    const ia = holds.add(a!);
    const ib = holds.add(b!);
    // Two reads share buffer a (the tail of one, the head of the next).
    holds.hold(ia);
    holds.hold(ia);
    holds.release(ia);
    holds.release(ib);
    holds.flush();
    expect(link.ifq.refillRing.pending).toBe(1);
    holds.release(ia);
    holds.flush();
    expect(link.ifq.refillRing.pending).toBe(1);
    expect(holds.outstanding).toBe(1);
    holds.release(ia);
    holds.flush();
    expect(link.ifq.refillRing.pending).toBe(2);
    expect(holds.outstanding).toBe(0);
    expect(holds.stats).toEqual({ taken: 2, returned: 2, ringFull: 0 });
  });

  it('keeps what the full ring refuses and writes it at the next flush', () => {
    const link = new ZcrxLink({ rqEntries: 2 });
    const cqes = cqesOf(link, 6000);
    expect(cqes.length).toBeGreaterThanOrEqual(4);
    const holds = new ZcrxBufferHolds(link.zc!);
    for (const c of cqes) holds.release(holds.add(c));
    holds.flush();
    expect(link.ifq.refillRing.pending).toBe(2);
    expect(holds.outstanding).toBe(cqes.length - 2);
    expect(holds.stats.ringFull).toBe(1);
    link.ifq.pool.refill();
    holds.flush();
    expect(holds.stats.returned).toBe(4);
  });
});

describe('zcrx-nvme: the queue hooks', () => {
  it('keep a read’s extents in the area, fill a digest range from it, and let the consumer read them', () => {
    const link = new ZcrxLink();
    const data = pattern(3000, 11);
    const cqes = cqesOf(link, 3000);
    const holds = new ZcrxBufferHolds(link.zc!);
    const hooks = new ZcrxNvmeHooks(holds, link.ifq.binding.dmabuf.deviceView());
    let datao = 0;
    for (const c of cqes) {
      const id = holds.add(c);
      const f: ZcrxFrag = { kind: 'dmabuf', dmabufId: link.ifq.binding.id, offset: Number(c.off & 0xffff_ffff_ffffn), size: c.res, cqeId: id };
      hooks.onDeviceData(7, datao, f);
      holds.release(id);
      datao += c.res;
    }
    expect(holds.outstanding).toBe(cqes.length);
    const crc = Buffer.alloc(3000);
    hooks.fillFromDevice(7, crc, 100, 2000);
    expect(crc.subarray(100, 2000).equals(data.subarray(100, 2000))).toBe(true);
    expect(hooks.stats.crcReadBytes).toBe(1900);
    const dst = Buffer.alloc(3000);
    expect(hooks.consume(7, dst, link.ifq.binding.dmabuf.deviceView())).toBe(3000);
    expect(dst.equals(data)).toBe(true);
    expect(holds.outstanding).toBe(0);
    expect(link.ifq.refillRing.pending).toBe(cqes.length);
    expect(() => hooks.onDeviceData(8, 0, { kind: 'dmabuf', dmabufId: 1, offset: 0, size: 10 })).toThrow(/not from a zcrx completion/);
  });
});
