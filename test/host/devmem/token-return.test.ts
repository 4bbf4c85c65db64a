import { describe, expect, it } from 'vitest';
import type { DmabufDescriptor } from '../../../src/host/devmem/socket.js';
import { DevmemTokenReturn } from '../../../src/host/devmem/token-return.js';
import { pattern } from '../../support/nicemu/header-split-rig.js';
import { DevmemLink } from '../../support/host/devmem-link-rig.js';

function received(link: DevmemLink, bytes: number): DmabufDescriptor[] {
  link.peer.write([pattern(bytes)]);
  link.runUntil(() => link.host.readableLength >= bytes, 10_000);
  const r = link.devmem!.recvmsg({ devmem: true, maxDescriptors: 100_000 });
  return r.descriptors.filter((d): d is DmabufDescriptor => d.kind === 'dmabuf');
}

describe('devmem token return', () => {
  it('returns a token only when its last user lets go', () => {
    const link = new DevmemLink({ mode: 'tcp' });
    const [d] = received(link, 1000);
    const ret = new DevmemTokenReturn(link.devmem!, { path: 'dontneed' });
    ret.hold(d!);
    ret.hold(d!);
    ret.release(d!.token);
    ret.flush();
    expect(link.devmem!.tokensOutstanding).toBe(1);
    ret.release(d!.token);
    ret.release(d!.token); // one too many: ignored
    ret.flush();
    expect(link.devmem!.tokensOutstanding).toBe(0);
    expect(ret.stats.returned).toBe(1);
  });

  it('coalesces tokens into ranges and keeps each dontneed call within 128 ranges and 1024 tokens', () => {
    const link = new DevmemLink({ mode: 'tcp', mtu: 9000 });
    const ds = received(link, 700 * 8960);
    expect(ds.length).toBeGreaterThan(1024 + 300);
    const ret = new DevmemTokenReturn(link.devmem!, { path: 'dontneed' });
    for (const d of ds) ret.hold(d);
    // Every other token of the first 600 (300 one-token ranges), then all the rest (one long run).
    for (let i = 0; i < 600; i += 2) ret.release(ds[i]!.token);
    for (let i = 600; i < ds.length; i++) ret.release(ds[i]!.token);
    ret.flush();
    // 300 single ranges need 3 calls; the long run needs ceil((n - 600) / 1024) more at most.
    expect(link.stats.dontneedCalls).toBeLessThanOrEqual(3 + Math.ceil((ds.length - 600) / 1024));
    expect(link.stats.dontneedRanges / link.stats.dontneedCalls).toBeLessThanOrEqual(128);
    expect(link.devmem!.tokensOutstanding).toBe(300);
    expect(ret.stats.returned).toBe(ds.length - 300);
  });

  it('withholds every token until the pool reports empty, then gives all back, for the number of episodes asked', () => {
    const link = new DevmemLink({ mode: 'tcp' });
    const deferred: (() => void)[] = [];
    const pool = link.binding.pool;
    const ret = new DevmemTokenReturn(link.devmem!, { path: 'dontneed', holdUntilEmpty: 1, defer: (fn) => deferred.push(fn) }, pool);
    const ds = received(link, 8000);
    for (const d of ds) {
      ret.hold(d);
      ret.release(d.token);
    }
    ret.flush();
    expect(ret.withholding).toBe(true);
    expect(link.devmem!.tokensOutstanding).toBe(ds.length);
    // The NIC finds no page: the application reacts (after the NIC's poll).
    pool.carve(pool.chunks * 4096 + 1, []);
    expect(deferred.length).toBe(1);
    deferred.shift()!();
    expect(link.devmem!.tokensOutstanding).toBe(0);
    expect(ret.withholding).toBe(false);
    expect(ret.stats.holdEpisodes).toBe(1);
  });
});
