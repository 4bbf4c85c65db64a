/**
 * The NVMe/TCP host queue on device memory, end to end offline: a scripted
 * controller on a peer TCP socket, the NIC's header split (nvme or tcp
 * mode) into a dmabuf, the devmem socket, the devmem transport and the
 * queue with its devmem hooks. Every read is verified through a device view
 * the host API never touches.
 */
import { describe, expect, it } from 'vitest';
import type { NvmeHostStats } from '../../../src/host/net/host-stats.js';
import { DevmemTokenReturn, type DevmemReturnPath } from '../../../src/host/devmem/token-return.js';
import { DevmemTransport } from '../../../src/host/devmem/transport.js';
import { DevmemResync, NvmeDevmem, newNvmeDevmemStats, type NvmeDevmemStats } from '../../../src/host/devmem/nvme-devmem.js';
import { NvmeQueue } from '../../../src/host/nvme/queue.js';
import type { HeaderSplitMode } from '../../../src/nicemu/devmem/header-split.js';
import { findPatternMismatch } from '../../../src/wire/block-pattern.js';
import { sglTransportData } from '../../../src/wire/nvme-sqe.js';
import { NvmeSc } from '../../../src/wire/nvme-status.js';
import { DevmemLink } from '../../support/host/devmem-link-rig.js';
import { MiniController, PEER_LBA, PEER_PATTERN_SEED } from '../../support/host/devmem-nvme-peer.js';

interface Scenario {
  readonly mode: HeaderSplitMode;
  readonly digest: boolean;
  readonly c2hBytes: number;
  readonly reads: readonly number[];
  readonly loss?: number;
  readonly dup?: number;
  readonly reorder?: number;
  readonly seed?: number;
  readonly path?: DevmemReturnPath;
  readonly badDdgst?: ReadonlySet<number>;
}

interface Outcome {
  readonly statuses: number[];
  /** Reads whose bytes (read through the consumer's device view) differ from the pattern. */
  readonly mismatches: number;
  readonly host: NvmeHostStats;
  readonly devmem: NvmeDevmemStats;
  readonly link: DevmemLink;
  readonly transport: DevmemTransport;
  readonly returns: DevmemTokenReturn;
  readonly dataBytes: number;
}

/** Drives the virtual clock and lets promise callbacks run in between. */
async function drive(link: DevmemLink, done: () => boolean, limitMs = 600_000): Promise<void> {
  const end = link.clock.nowMs() + limitMs;
  while (!done() && link.clock.nowMs() < end) {
    for (let i = 0; i < 20 && link.clock.step(end); i++);
    await new Promise((r) => setImmediate(r));
  }
}

async function runReads(sc: Scenario): Promise<Outcome> {
  const link = new DevmemLink({ mode: sc.mode, seed: sc.seed ?? 1, lossToHost: sc.loss ?? 0, dupToHost: sc.dup ?? 0, reorderToHost: sc.reorder ?? 0 });
  const sock = link.devmem!;
  const returns = new DevmemTokenReturn(sock, { path: sc.path ?? 'dontneed' }, link.binding.pool);
  const devmem = new NvmeDevmem(returns, link.binding.dmabuf.deviceView(), newNvmeDevmemStats());
  const transport = new DevmemTransport(sock, { mode: sc.mode, returns, deviceView: link.binding.dmabuf.deviceView() });
  const engine = link.dev.engine(link.key)!;
  const queue = new NvmeQueue(transport, {
    qid: 1,
    depth: 32,
    hdgst: sc.digest,
    ddgst: sc.digest,
    clock: link.clock,
    devmem,
    ...(sc.mode === 'nvme' ? { ddp: new DevmemResync(engine, devmem.stats) } : {}),
  });
  new MiniController(link.peer, sc.c2hBytes, sc.badDdgst);
  let connected = false;
  void queue.connect().then(() => (connected = true));
  await drive(link, () => connected);
  expect(connected).toBe(true);

  const consumer = link.binding.dmabuf.deviceView();
  const statuses: number[] = new Array<number>(sc.reads.length).fill(-1);
  let mismatches = 0;
  let slba = 0;
  let settled = 0;
  let dataBytes = 0;
  sc.reads.forEach((len, i) => {
    const buf = Buffer.alloc(len, 0xa5);
    const at = slba;
    slba += len / PEER_LBA + 3;
    dataBytes += len;
    void queue
      .submit((cid, dptr) => ({ kind: 'read', cid, nsid: 1, slba: at, nlb: len / PEER_LBA - 1, dptr: { ...dptr, ...sglTransportData(len) } }), { dir: 'read', buf })
      .then((cqe) => {
        statuses[i] = cqe.status;
        if (cqe.status === NvmeSc.SUCCESS) {
          devmem.consume(cqe.cid, buf, consumer);
          if (findPatternMismatch(PEER_PATTERN_SEED, at * PEER_LBA, buf) >= 0) mismatches++;
        } else devmem.discard(cqe.cid);
      })
      .finally(() => settled++);
  });
  await drive(link, () => settled === sc.reads.length);
  returns.flush();
  link.binding.pool.refill();
  return { statuses, mismatches, host: queue.stats, devmem: devmem.stats, link, transport, returns, dataBytes };
}

const READS = [4096, 65536, 512, 131072, 8192, 36864, 4096, 262144, 1024, 16384];

describe('NVMe/TCP host on device memory', () => {
  for (const mode of ['nvme', 'tcp'] as const) {
    for (const digest of [false, true]) {
      it(`${mode} split, digests ${digest ? 'on' : 'off'}: every read verifies through the device view and the host copies only header bytes`, async () => {
        const o = await runReads({ mode, digest, c2hBytes: 32768, reads: READS });
        expect(o.statuses.every((s) => s === NvmeSc.SUCCESS)).toBe(true);
        expect(o.mismatches).toBe(0);
        // No C2HData byte reached host memory: what the host copied is headers (and digests).
        expect(o.devmem.deviceDataBytes).toBe(o.dataBytes);
        expect(o.devmem.consumedBytes).toBe(o.dataBytes);
        expect(o.host.c2hDataBytes).toBe(o.dataBytes);
        const pdus = o.host.pdusRx;
        expect(o.host.copiedBytes).toBeLessThan(pdus * (24 + 8 + 4) + 128 + 1);
        expect(o.host.copiedBytes).toBeGreaterThan(0);
        if (mode === 'tcp') {
          // Plain devmem TCP: every one of those header bytes first had to be read out of device memory.
          expect(o.transport.split!.stats.deviceHeaderBytes).toBe(o.host.copiedBytes);
        } else {
          expect(o.link.stats.linearBytes + o.link.stats.plainBytes).toBe(o.host.copiedBytes);
        }
        if (digest) {
          if (mode === 'nvme') {
            // The NIC checked every data digest: the host CRC'd no data and read nothing back.
            expect(o.host.crcDataRxBytes).toBe(0);
            expect(o.devmem.crcReadBytes).toBe(0);
            expect(o.host.ddgstOffloaded).toBe(o.host.c2hDataPdus);
          } else {
            // Nobody checked them on the way: the host pulls all the data out of the device to CRC it.
            expect(o.devmem.crcReadBytes).toBe(o.dataBytes);
            expect(o.host.crcDataRxBytes).toBe(o.dataBytes);
          }
        }
        // Every token went back.
        expect(o.link.devmem!.tokensOutstanding).toBe(0);
        expect(o.link.binding.pool.stats['user-refs']).toBe(0);
        expect(o.returns.stats.returned).toBe(o.link.stats.tokensIssued);
      });
    }
  }

  it('returns tokens through the refill ring just as well (no dontneed call)', async () => {
    const o = await runReads({ mode: 'nvme', digest: false, c2hBytes: 65536, reads: READS, path: 'ring' });
    expect(o.mismatches).toBe(0);
    expect(o.link.stats.dontneedCalls).toBe(0);
    expect(o.link.stats.ringEntries).toBe(o.link.stats.tokensIssued);
    expect(o.link.binding.pool.stats['user-refs']).toBe(0);
  });

  it('fails a read whose data digest is wrong with DATA_XFER_ERROR (the NIC did not vouch; the host checked the device bytes)', async () => {
    for (const mode of ['nvme', 'tcp'] as const) {
      const o = await runReads({ mode, digest: true, c2hBytes: 16384, reads: [65536, 65536, 65536], badDdgst: new Set([1]) });
      expect(o.statuses, mode).toEqual([NvmeSc.SUCCESS, NvmeSc.DATA_XFER_ERROR, NvmeSc.SUCCESS]);
      expect(o.host.ddgstErrors).toBe(1);
      expect(o.devmem.readsDiscarded).toBe(1);
      expect(o.link.devmem!.tokensOutstanding).toBe(0);
    }
  });

  it('carries reads across loss toward the host: resync brings the split back and every byte still verifies', async () => {
    for (let seed = 1; seed <= 4; seed++) {
      for (const mode of ['nvme', 'tcp'] as const) {
        const o = await runReads({ mode, digest: seed % 2 === 0, c2hBytes: 8192, reads: [...READS, ...READS], loss: 0.03, seed });
        const tag = `${mode} seed ${seed}`;
        expect(o.statuses.every((s) => s === NvmeSc.SUCCESS), tag).toBe(true);
        expect(o.mismatches, tag).toBe(0);
        expect(o.link.toHost.dropped, tag).toBeGreaterThan(0);
        expect(o.link.devmem!.tokensOutstanding, tag).toBe(0);
        if (mode === 'nvme') {
          const nic = o.link.dev.stats;
          console.log(
            `${tag}: ${o.link.toHost.dropped} frames lost, lost sync ${nic['rx-hds-lost-sync']}, resync ${nic['rx-hds-resync']}/${nic['rx-hds-resync-req']}, ` +
              `device ${o.devmem.deviceDataBytes}/${o.dataBytes} data bytes, host copied ${o.host.copiedBytes}`,
          );
          // Whatever the NIC could not split reached the host and was copied there; most stayed on the device.
          expect(o.devmem.deviceDataBytes, tag).toBeLessThanOrEqual(o.dataBytes);
          expect(o.devmem.deviceDataBytes, tag).toBeGreaterThan(o.dataBytes / 2);
          expect(o.host.copiedBytes, tag).toBeGreaterThanOrEqual(o.dataBytes - o.devmem.deviceDataBytes);
        }
      }
    }
  });

  it('verifies every byte under loss, duplication and reordering toward the host, for many seeds, in both modes', async () => {
    let resyncs = 0;
    for (let seed = 11; seed <= 26; seed++) {
      for (const mode of ['nvme', 'tcp'] as const) {
        const o = await runReads({ mode, digest: seed % 3 !== 0, c2hBytes: 4096 << (seed % 4), reads: READS, loss: 0.02, dup: 0.02, reorder: 0.05, seed });
        const tag = `${mode} seed ${seed}`;
        expect(o.statuses.every((s) => s === NvmeSc.SUCCESS), tag).toBe(true);
        expect(o.mismatches, tag).toBe(0);
        expect(o.link.devmem!.tokensOutstanding, tag).toBe(0);
        expect(o.link.toHost.dropped + o.link.toHost.reordered + o.link.toHost.duplicated, tag).toBeGreaterThan(0);
        expect(o.host.c2hDataBytes, tag).toBe(o.dataBytes);
        expect(o.devmem.deviceDataBytes, tag).toBeLessThanOrEqual(o.dataBytes);
        if (mode === 'tcp') expect(o.devmem.deviceDataBytes, tag).toBe(o.dataBytes);
        resyncs += o.link.dev.stats['rx-hds-resync'];
      }
    }
    // The seeds exercise the resync path of the nvme split, not only holes inside PDU bodies.
    expect(resyncs).toBeGreaterThan(0);
  });
});
