/**
 * An empty token pool that stays empty (docs/hostile-input.md, exhaustion): an NVMe/TCP
 * host on device memory whose consumer never takes its reads, so their
 * tokens are never given back. The pool held until-empty-then-returned is
 * tested in test/host/devmem/socket.test.ts and devmem.live.test.ts; here nothing
 * comes back. The pool stays its size (the NIC drops what it cannot place
 * and counts it), the reads that got pages completed with the right bytes,
 * the ones that could not fail with the I/O timeout in one line instead of
 * waiting for ever, and when the queue goes every token and page is back.
 */
import { describe, expect, it } from 'vitest';
import { DevmemTokenReturn } from '../../../src/host/devmem/token-return.js';
import { DevmemTransport } from '../../../src/host/devmem/transport.js';
import { DevmemResync, NvmeDevmem, newNvmeDevmemStats } from '../../../src/host/devmem/nvme-devmem.js';
import { NvmeHostError } from '../../../src/host/nvme/host-error.js';
import { NvmeQueue } from '../../../src/host/nvme/queue.js';
import { findPatternMismatch } from '../../../src/wire/block-pattern.js';
import { sglTransportData } from '../../../src/wire/nvme-sqe.js';
import { DevmemLink } from '../../support/host/devmem-link-rig.js';
import { MiniController, PEER_LBA, PEER_PATTERN_SEED } from '../../support/host/devmem-nvme-peer.js';

const KIB = 1024;
const POOL = 128 * KIB;

describe('devmem: a consumer that never gives its tokens back', () => {
  it('keeps the pool at its size, drops and counts what it cannot place, completes what fit, and fails the rest with the I/O timeout', async () => {
    const link = new DevmemLink({ mode: 'nvme', poolBytes: POOL, rcvBufBytes: 32 * KIB, seed: 3 });
    const pool = link.binding.pool;
    const pages = pool.stats.pages;
    const returns = new DevmemTokenReturn(link.devmem!, { path: 'dontneed' }, pool);
    const devmem = new NvmeDevmem(returns, link.binding.dmabuf.deviceView(), newNvmeDevmemStats());
    const transport = new DevmemTransport(link.devmem!, { mode: 'nvme', returns, deviceView: link.binding.dmabuf.deviceView() });
    const queue = new NvmeQueue(transport, {
      qid: 1,
      depth: 32,
      hdgst: false,
      ddgst: false,
      clock: link.clock,
      commandTimeoutMs: 2000,
      devmem,
      ddp: new DevmemResync(link.dev.engine(link.key)!, devmem.stats),
    });
    new MiniController(link.peer, 16 * KIB);
    let connected = false;
    void queue.connect().then(() => (connected = true));
    let peakUserRefs = 0;
    const drive = async (done: () => boolean): Promise<void> => {
      const end = link.clock.nowMs() + 60_000;
      while (!done() && link.clock.nowMs() < end) {
        for (let i = 0; i < 20 && link.clock.step(end); i++) peakUserRefs = Math.max(peakUserRefs, pool.stats['user-refs']);
        await new Promise((r) => setImmediate(r));
      }
    };
    await drive(() => connected);

    const reads = Array.from({ length: 8 }, (_, k) => ({ slba: 1000 * k, len: 64 * KIB }));
    const outcome: ({ cid: number } | { error: NvmeHostError })[] = [];
    let settled = 0;
    reads.forEach((r, i) => {
      void queue
        .submit((cid, dptr) => ({ kind: 'read', cid, nsid: 1, slba: r.slba, nlb: r.len / PEER_LBA - 1, dptr: { ...dptr, ...sglTransportData(r.len) } }), {
          dir: 'read',
          buf: Buffer.alloc(r.len),
        })
        // The consumer looks at nothing and gives nothing back.
        .then(
          (cqe) => (outcome[i] = { cid: cqe.cid }),
          (e: unknown) => (outcome[i] = { error: e as NvmeHostError }),
        )
        .finally(() => settled++);
    });
    await drive(() => settled === reads.length);
    expect(settled).toBe(reads.length);

    const done = outcome.flatMap((o, i) => ('cid' in o ? [{ i, cid: o.cid }] : []));
    const failed = outcome.flatMap((o) => ('error' in o ? [o.error] : []));
    // What fit in the pool completed, with the target's bytes (read through a device view, tokens still held).
    expect(done.length).toBeGreaterThanOrEqual(1);
    expect(done.length * 64 * KIB).toBeLessThanOrEqual(POOL);
    for (const d of done) {
      const bytes = Buffer.alloc(64 * KIB);
      devmem.fillFromDevice(d.cid, bytes, 0, bytes.length);
      expect(findPatternMismatch(PEER_PATTERN_SEED, reads[d.i]!.slba * PEER_LBA, bytes)).toBe(-1);
    }
    // The rest waited on a pool that never refilled, and the I/O timeout ended the wait.
    expect(failed.length).toBe(reads.length - done.length);
    expect(new Set(failed.map((e) => e.code))).toEqual(new Set(['TIMEOUT']));
    expect(failed.every((e) => !e.message.includes('\n'))).toBe(true);
    expect(queue.stats.commandTimeouts).toBe(1);

    // Bounded: the pool never grew, the NIC dropped (and counted) every frame it had no page for.
    expect(pool.stats.pages).toBe(pages);
    // The consumer's hoard is what emptied it: frags it held references to, the whole pool at most.
    expect(peakUserRefs).toBeGreaterThan(0);
    expect(peakUserRefs).toBeLessThanOrEqual(pool.stats['user-refs-taken']);
    expect(pool.stats.free).toBe(0);
    expect(link.dev.stats['rx-devmem-drops']).toBeGreaterThan(0);
    expect(pool.stats['alloc-empty']).toBe(link.dev.stats['rx-devmem-drops']);
    expect(link.peer.stats.retransSegs).toBeGreaterThan(0);

    // The queue died of it and let its references go: once the NIC next takes pages, the pool is whole again.
    devmem.releaseAll();
    pool.refill();
    expect(link.devmem!.tokensOutstanding).toBe(0);
    expect(pool.stats['user-refs']).toBe(0);
    expect(pool.stats['user-refs-put']).toBe(pool.stats['user-refs-taken']);
  });
});
