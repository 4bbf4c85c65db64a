import { describe, expect, it } from 'vitest';
import { DevmemError, type DevmemDescriptor, type DmabufDescriptor, type RecvmsgResult } from '../../../src/host/devmem/socket.js';
import { DevmemTokenReturn } from '../../../src/host/devmem/token-return.js';
import { DevmemLink } from '../../support/host/devmem-link-rig.js';
import { c2hData, capsuleResp, icResp, pattern } from '../../support/nicemu/header-split-rig.js';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof DevmemError) return e.code;
    throw e;
  }
  return 'no error';
}

function dmabufDescs(r: RecvmsgResult): DmabufDescriptor[] {
  return r.descriptors.filter((d): d is DmabufDescriptor => d.kind === 'dmabuf');
}

/** The stream bytes of a result: linear bytes from `bytes`, dmabuf bytes read through a device view. */
function contentOf(link: DevmemLink, r: RecvmsgResult): Buffer {
  if (r.descriptors.length === 0) return r.bytes;
  const view = link.binding.dmabuf.deviceView();
  const parts: Buffer[] = [];
  let at = 0;
  for (const d of r.descriptors) {
    if (d.kind === 'linear') {
      parts.push(r.bytes.subarray(at, at + d.size));
      at += d.size;
    } else parts.push(view.read(d.offset, d.size));
  }
  return Buffer.concat(parts);
}

function send(link: DevmemLink, data: Buffer): void {
  link.peer.write([data]);
  link.runUntil(() => link.host.readableLength >= data.length && link.peer.bufferedBytes === 0, 10_000);
}

describe('devmem socket: recvmsg', () => {
  it('returns dmabuf descriptors with the binding id and one token per frag; the device holds the bytes', () => {
    const link = new DevmemLink({ mode: 'tcp' });
    const data = pattern(20_000, 3);
    send(link, data);
    const r = link.devmem!.recvmsg({ devmem: true });
    expect(r.len).toBe(20_000);
    expect(r.bytes.length).toBe(0);
    const ds = dmabufDescs(r);
    expect(ds.length).toBe(r.descriptors.length);
    expect(ds.every((d) => d.dmabufId === link.binding.id)).toBe(true);
    expect(new Set(ds.map((d) => d.token)).size).toBe(ds.length);
    expect(ds.every((d) => d.token >= 0 && d.token < 2 ** 31)).toBe(true);
    expect(contentOf(link, r).equals(data)).toBe(true);
    expect(link.devmem!.tokensOutstanding).toBe(ds.length);
    expect(link.binding.pool.stats['user-refs']).toBe(ds.length);
    expect(link.host.readableLength).toBe(0);
  });

  it('fails with EFAULT on devmem data without the flag and leaves the data queued', () => {
    const link = new DevmemLink({ mode: 'tcp' });
    send(link, pattern(3000));
    expect(code(() => link.devmem!.recvmsg())).toBe('EFAULT');
    expect(link.host.readableLength).toBe(3000);
    expect(link.stats.efault).toBe(1);
    expect(link.stats.tokensIssued).toBe(0);
    expect(link.devmem!.recvmsg({ devmem: true }).len).toBe(3000);
  });

  it('fails with ETOOSMALL when no descriptor fits, consuming nothing and making no token; returns what fits otherwise', () => {
    const link = new DevmemLink({ mode: 'tcp' });
    const data = pattern(10_000, 5);
    send(link, data);
    expect(code(() => link.devmem!.recvmsg({ devmem: true, maxDescriptors: 0 }))).toBe('ETOOSMALL');
    expect(link.host.readableLength).toBe(10_000);
    expect(link.stats.tokensIssued).toBe(0);
    expect(link.binding.pool.stats['user-refs']).toBe(0);
    const first = link.devmem!.recvmsg({ devmem: true, maxDescriptors: 1 });
    expect(first.descriptors.length).toBe(1);
    expect(link.host.readableLength).toBe(10_000 - first.len);
    const rest = link.devmem!.recvmsg({ devmem: true });
    expect(Buffer.concat([contentOf(link, first), contentOf(link, rest)]).equals(data)).toBe(true);
  });

  it('never mixes ordinary and devmem data in one call, with or without the flag', () => {
    const link = new DevmemLink({ mode: 'tcp', attach: false });
    const plain = pattern(4000, 1);
    send(link, plain);
    // The socket takes the flow over: what was queued stays ordinary, what comes next lands in the dmabuf.
    const sock = link.attach();
    const dev = pattern(4000, 2);
    send(link, dev);
    expect(link.host.readableLength).toBe(8000);
    const a = sock.recvmsg({ devmem: true });
    expect(a.descriptors).toEqual([]);
    expect(a.bytes.equals(plain)).toBe(true);
    const b = sock.recvmsg({ devmem: true });
    expect(contentOf(link, b).equals(dev)).toBe(true);
    expect(b.descriptors.every((d) => d.kind === 'dmabuf')).toBe(true);
    expect([link.stats.recvmsgPlain, link.stats.recvmsgDevmem]).toEqual([1, 1]);
    // Without the flag: the ordinary part reads fine and the call stops before the devmem part.
    const link2 = new DevmemLink({ mode: 'tcp', attach: false });
    send(link2, plain);
    const sock2 = link2.attach();
    send(link2, dev);
    expect(sock2.recvmsg().bytes.equals(plain)).toBe(true);
    expect(code(() => sock2.recvmsg())).toBe('EFAULT');
  });

  it('in nvme mode returns PDU headers as linear bytes and C2HData payload as dmabuf descriptors, in stream order', () => {
    const link = new DevmemLink({ mode: 'nvme' });
    const data = pattern(6000, 4);
    const stream = Buffer.concat([icResp(), c2hData(0, 0, data, { last: true }), capsuleResp(0)]);
    send(link, stream);
    const all: DevmemDescriptor[] = [];
    const parts: Buffer[] = [];
    while (link.host.readableLength > 0) {
      const r = link.devmem!.recvmsg({ devmem: true });
      all.push(...r.descriptors);
      parts.push(contentOf(link, r));
    }
    expect(Buffer.concat(parts).equals(stream)).toBe(true);
    const linear = all.filter((d) => d.kind === 'linear').reduce((n, d) => n + d.size, 0);
    const device = all.filter((d) => d.kind === 'dmabuf').reduce((n, d) => n + d.size, 0);
    expect(device).toBe(6000);
    // Headers that shared a segment with payload are linear; the host copied every header byte and nothing else.
    expect(linear).toBeGreaterThanOrEqual(24);
    expect(link.stats.linearBytes).toBe(linear);
    expect(link.stats.linearBytes + link.stats.plainBytes).toBe(stream.length - 6000);
  });
});

describe('devmem socket: token return', () => {
  it('dontneed refuses more than 128 ranges or a range that is not two u32s (EINVAL)', () => {
    const link = new DevmemLink({ mode: 'tcp' });
    const ranges = Array.from({ length: 129 }, (_, i) => ({ tokenStart: i, tokenCount: 1 }));
    expect(code(() => link.devmem!.dontneed(ranges))).toBe('EINVAL');
    expect(code(() => link.devmem!.dontneed([{ tokenStart: -1, tokenCount: 1 }]))).toBe('EINVAL');
    expect(code(() => link.devmem!.dontneed([{ tokenStart: 0, tokenCount: 2 ** 32 }]))).toBe('EINVAL');
    expect(link.devmem!.dontneed(ranges.slice(0, 128))).toBe(0);
    expect(link.stats.einval).toBe(3);
  });

  it('frees what it is given, ignores unknown and already-freed tokens, and the pool gets the pages back', () => {
    const link = new DevmemLink({ mode: 'tcp' });
    send(link, pattern(30_000));
    const r = link.devmem!.recvmsg({ devmem: true });
    const tokens = dmabufDescs(r).map((d) => d.token);
    const n = tokens.length;
    const lo = Math.min(...tokens);
    expect(link.devmem!.dontneed([{ tokenStart: lo, tokenCount: 3 }, { tokenStart: 0x7000_0000, tokenCount: 5 }])).toBe(3);
    expect(link.devmem!.dontneed([{ tokenStart: lo, tokenCount: 3 }])).toBe(0);
    expect(link.devmem!.dontneed([{ tokenStart: lo, tokenCount: n + 10 }])).toBe(n - 3);
    expect(link.devmem!.tokensOutstanding).toBe(0);
    expect(link.stats.dontneedUnknown).toBe(5 + 3 + 3 + 10);
    const pool = link.binding.pool;
    expect(pool.stats['user-refs']).toBe(0);
    pool.reclaim();
    // Everything but the NIC's current chunk is free again.
    expect(pool.freeChunks).toBe(pool.chunks - 1);
  });

  it('looks at no more than 1024 token numbers per call', () => {
    const link = new DevmemLink({ mode: 'tcp', mtu: 9000 });
    // 9000-byte segments over 4 KiB chunks: three frags each.
    send(link, pattern(400 * 8960));
    const r = link.devmem!.recvmsg({ devmem: true, maxDescriptors: 2000 });
    const n = dmabufDescs(r).length;
    expect(n).toBeGreaterThan(1024);
    const lo = Math.min(...dmabufDescs(r).map((d) => d.token));
    expect(link.devmem!.dontneed([{ tokenStart: lo, tokenCount: n }])).toBe(1024);
    // Token numbers already freed count toward the limit too, as in the kernel: start past them.
    expect(link.devmem!.dontneed([{ tokenStart: lo, tokenCount: n }])).toBe(0);
    expect(link.devmem!.dontneed([{ tokenStart: lo + 1024, tokenCount: n - 1024 }])).toBe(n - 1024);
    expect(link.devmem!.tokensOutstanding).toBe(0);
  });

  it('allocates tokens as mainline does: from 1, the lowest free number, a returned one reissued at once', () => {
    const link = new DevmemLink({ mode: 'tcp' });
    send(link, pattern(5000));
    const a = dmabufDescs(link.devmem!.recvmsg({ devmem: true })).map((d) => d.token);
    expect(a).toEqual(a.map((_, i) => i + 1));
    // Give back the second one only: it is the lowest free number now.
    expect(link.devmem!.dontneed([{ tokenStart: a[1]!, tokenCount: 1 }])).toBe(1);
    send(link, pattern(5000, 2));
    const b = dmabufDescs(link.devmem!.recvmsg({ devmem: true })).map((d) => d.token);
    expect(b[0]).toBe(a[1]);
    expect(b.slice(1)).toEqual(b.slice(1).map((_, i) => a.length + 1 + i));
  });

  it('a token returned twice frees the newer frag that reissued its number: the kernel returns 1, ddplab counts a stale return', () => {
    const link = new DevmemLink({ mode: 'tcp' });
    const sock = link.devmem!;
    const pool = link.binding.pool;
    send(link, pattern(1000));
    const [first] = dmabufDescs(sock.recvmsg({ devmem: true }));
    // The consumer's own ledger: the issue (generation) of each token it holds.
    const mine = new Map<number, number>([[first!.token, first!.gen]]);
    const held = (t: number): number | undefined => mine.get(t);
    expect(sock.dontneed([{ tokenStart: first!.token, tokenCount: 1 }], held)).toBe(1);
    expect(link.stats.staleTokenReturns).toBe(0);
    // The consumer forgets to drop it from its ledger; the number goes to the next frag.
    send(link, pattern(1000, 9));
    const [second] = dmabufDescs(sock.recvmsg({ devmem: true }));
    expect(second!.token).toBe(first!.token);
    expect(second!.gen).not.toBe(first!.gen);
    const refs = pool.stats['user-refs'];
    // Returned again: the kernel frees the frag that holds the number now (the newer one) and says 1.
    expect(sock.dontneed([{ tokenStart: first!.token, tokenCount: 1 }], held)).toBe(1);
    expect(pool.stats['user-refs']).toBe(refs - 1);
    expect(sock.tokensOutstanding).toBe(0);
    expect(link.stats.staleTokenReturns).toBe(1);
    // Returning the right issue is not stale.
    send(link, pattern(1000, 10));
    const [third] = dmabufDescs(sock.recvmsg({ devmem: true }));
    mine.set(third!.token, third!.gen);
    expect(sock.dontneed([{ tokenStart: third!.token, tokenCount: 1 }], held)).toBe(1);
    expect(link.stats.staleTokenReturns).toBe(1);
  });

  it('close gives every outstanding token back; the closed socket refuses recvmsg and dontneed (EBADF)', () => {
    const link = new DevmemLink({ mode: 'tcp' });
    send(link, pattern(12_000));
    const r = link.devmem!.recvmsg({ devmem: true });
    expect(link.devmem!.tokensOutstanding).toBeGreaterThan(0);
    link.devmem!.close();
    expect(link.devmem!.tokensOutstanding).toBe(0);
    expect(link.stats.tokensFreedClose).toBe(dmabufDescs(r).length);
    expect(link.binding.pool.stats['user-refs']).toBe(0);
    expect(code(() => link.devmem!.recvmsg({ devmem: true }))).toBe('EBADF');
    expect(code(() => link.devmem!.dontneed([]))).toBe('EBADF');
  });

  it('returns frags through the refill ring: the user reference goes when the NIC consumes the entry', () => {
    const link = new DevmemLink({ mode: 'tcp' });
    send(link, pattern(9000));
    const ds = dmabufDescs(link.devmem!.recvmsg({ devmem: true }));
    expect(link.devmem!.returnViaRing(ds)).toBe(ds.length);
    expect(link.devmem!.tokensOutstanding).toBe(0);
    const pool = link.binding.pool;
    expect(pool.stats['user-refs']).toBe(ds.length);
    // A descriptor returned twice (no longer outstanding) writes nothing.
    expect(link.devmem!.returnViaRing(ds)).toBe(0);
    expect(link.binding.refillRing.pending).toBe(ds.length);
    pool.refill();
    expect(pool.stats['user-refs']).toBe(0);
    expect(pool.stats['ring-consumed']).toBe(ds.length);
    expect(link.stats.tokensFreedRing).toBe(ds.length);
    expect(link.stats.dontneedCalls).toBe(0);
  });
});

describe('devmem socket: page pool exhaustion', () => {
  for (const path of ['dontneed', 'ring'] as const) {
    it(`an application holding every page makes the NIC drop, TCP retransmits, and nothing is lost (${path})`, () => {
      // 16 pages; the receive window (32 KiB) can never pin the whole pool by itself.
      const link = new DevmemLink({ mode: 'tcp', poolBytes: 16 * 4096, rcvBufBytes: 32 * 1024, seed: 5 });
      const sock = link.devmem!;
      const pool = link.binding.pool;
      const deferred: (() => void)[] = [];
      const ret = new DevmemTokenReturn(sock, { path, holdUntilEmpty: 3, defer: (fn) => deferred.push(fn) }, pool);
      const data = pattern(600_000, 11);
      const got: Buffer[] = [];
      let received = 0;
      link.host.handlers.onReadable = () => {
        while (link.host.readableLength > 0) {
          const r = sock.recvmsg({ devmem: true });
          got.push(contentOf(link, r));
          received += r.len;
          for (const d of dmabufDescs(r)) {
            ret.hold(d);
            ret.release(d.token);
          }
          ret.flush();
        }
      };
      let written = 0;
      const pump = (): void => {
        while (written < data.length) {
          const n = Math.min(64 * 1024, data.length - written);
          const more = link.peer.write([data.subarray(written, written + n)]);
          written += n;
          if (!more) return;
        }
      };
      link.peer.handlers.onDrain = pump;
      pump();
      link.runUntil(() => {
        // The application reacts to an empty pool after the NIC's poll, as setImmediate would.
        while (deferred.length > 0) deferred.shift()!();
        return received >= data.length;
      });
      expect(received).toBe(data.length);
      expect(Buffer.concat(got).equals(data)).toBe(true);
      expect(link.dev.stats['rx-devmem-drops']).toBeGreaterThan(0);
      expect(ret.stats.holdEpisodes).toBe(3);
      expect(link.peer.stats.retransSegs).toBeGreaterThan(0);
      ret.flush();
      pool.refill();
      expect(sock.tokensOutstanding).toBe(0);
      expect(pool.stats['user-refs']).toBe(0);
      if (path === 'ring') expect(link.stats.ringEntries).toBeGreaterThan(0);
      else expect(link.stats.dontneedCalls).toBeGreaterThan(0);
    });
  }
});

describe('devmem: header split belongs to the queue, not to a socket', () => {
  it('a flow the host stack holds on a bound queue lands in the dmabuf before any devmem socket exists; reading it without MSG_SOCK_DEVMEM is EFAULT', () => {
    const link = new DevmemLink({ mode: 'tcp', attach: false });
    // The host stack registers the flow's TCP socket (what HostStack's owner does right after connect).
    link.dev.holdFlow(link.key, link.host);
    send(link, pattern(8000, 6));
    const kinds = new Set<string>();
    link.host.forEachQueuedFrag((f) => kinds.add(f.kind));
    expect([...kinds]).toEqual(['dmabuf']);
    const sock = link.attach();
    expect(code(() => sock.recvmsg())).toBe('EFAULT');
    const r = sock.recvmsg({ devmem: true });
    expect(r.len).toBe(8000);
    expect(contentOf(link, r).equals(pattern(8000, 6))).toBe(true);
  });

  it('the TCP socket is the page holder: pages its queues reference survive a reclaim, and come back once read and returned', () => {
    const link = new DevmemLink({ mode: 'tcp', attach: false, poolBytes: 16 * 4096 });
    link.dev.holdFlow(link.key, link.host);
    send(link, pattern(20_000, 7));
    const pool = link.binding.pool;
    pool.noteReleased();
    pool.reclaim();
    const used = pool.chunks - pool.freeChunks;
    expect(used).toBeGreaterThanOrEqual(5);
    const sock = link.attach();
    const r = sock.recvmsg({ devmem: true });
    expect(contentOf(link, r).equals(pattern(20_000, 7))).toBe(true);
    sock.dontneed([{ tokenStart: 1, tokenCount: sock.tokensOutstanding }]);
    pool.reclaim();
    // Only the NIC's current page is still out.
    expect(pool.chunks - pool.freeChunks).toBeLessThanOrEqual(1);
    // Closing releases the flow: its holder leaves the pool.
    sock.close();
    link.dev.releaseFlow(link.key);
  });
});
