/**
 * The hostile target end to end over kernel TCP on 127.0.0.1: `--hostile
 * CASE@2:after=3` breaks the fourth read response of I/O queue 2, and the
 * host (NvmeController, one association, two I/O queues, queue failures
 * isolated) answers as the transport says: an H2CTermReq with the case's
 * FES/FEI that reaches the target, the queue torn down and its read failed
 * with PROTOCOL_ERROR (for c2h-after-completion the read itself completed:
 * the repeat behind it ends the queue); or, for a data digest error, that read failed with a
 * data transfer error and the queue going on. Queue 1 reads and verifies
 * throughout; nothing else notices.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { kernelTransportFactory } from '../../src/host/nvme/kernel-transport.js';
import { NvmeController } from '../../src/host/nvme/controller.js';
import { NvmeHostError } from '../../src/host/nvme/host-error.js';
import { HOSTILE_CASES } from '../../src/target/hostile.js';
import { startTarget, type Target } from '../../src/target/listener.js';
import type { QueueStats } from '../../src/target/stats.js';
import { findPatternMismatch } from '../../src/wire/block-pattern.js';
import { NvmeSc } from '../../src/wire/nvme-status.js';
import { HOST_ANSWER } from '../support/target/hostile-cases.js';

const MIB = 1024 * 1024;
const SEED = 23;
const READ_BYTES = 32 * 1024;
const LBA = 512;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type Outcome = 'ok' | { code: string; fes?: number; fei?: number; status?: number };

async function readAndVerify(ctrl: NvmeController, queue: number, slba: number): Promise<Outcome> {
  const buf = Buffer.alloc(READ_BYTES);
  try {
    await ctrl.read(queue, slba, buf);
  } catch (e) {
    if (!(e instanceof NvmeHostError)) throw e;
    const d = e.detail;
    return { code: e.code, ...(d.fes !== undefined ? { fes: d.fes, fei: d.fei! } : {}), ...(d.status !== undefined ? { status: d.status } : {}) };
  }
  expect(findPatternMismatch(SEED, slba * LBA, buf), `queue ${queue + 1} read at LBA ${slba}`).toBe(-1);
  return 'ok';
}

async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(cond(), what).toBe(true);
}

describe('hostile target: the host answers each malformed read response as the transport says', () => {
  for (const kind of HOSTILE_CASES) {
    it(kind, async () => {
      const log: string[] = [];
      const target: Target = await startTarget(
        { host: '127.0.0.1', port: 0, sizeBytes: 16 * MIB, seed: SEED, digest: 'both', c2hSizeBytes: 8192, hostile: { kind, qid: 2, after: 3 } },
        { log: (l) => log.push(l) },
      );
      cleanups.push(() => target.close());
      const hostLog: string[] = [];
      const ctrl = await NvmeController.connect({
        transports: kernelTransportFactory({ host: '127.0.0.1', port: target.port }),
        subnqn: target.options.subsysNqn,
        ioQueues: 2,
        queueDepth: 32,
        hdgst: true,
        ddgst: true,
        // A stale CID can never match a new command: the repeat in c2h-after-completion is always "not outstanding".
        cidGeneration: true,
        ioQueueFailure: 'queue',
        log: (l) => hostLog.push(l),
      });
      cleanups.push(async () => ctrl.abort());

      // Queue 1 keeps reading while queue 2 meets the hostile response.
      let stop = false;
      const survivor = (async (): Promise<number> => {
        let n = 0;
        while (!stop || n < 8) expect(await readAndVerify(ctrl, 0, 1000 + (n++ % 64) * 64)).toBe('ok');
        return n;
      })();
      const hostile: Outcome[] = [];
      for (let i = 0; i < 6; i++) hostile.push(await readAndVerify(ctrl, 1, i * 64));
      stop = true;
      const survived = await survivor;

      const answer = HOST_ANSWER[kind];
      const qstats = (qid: number): QueueStats => target.stats.queues.find((q) => q.qid === qid)!;
      expect(hostile.slice(0, 3)).toEqual(['ok', 'ok', 'ok']);
      if ('termReq' in answer) {
        const { fes, fei } = answer.termReq;
        if (kind === 'c2h-after-completion') {
          // The read itself completed with all its data; the repeat behind its completion ends the queue.
          expect(hostile[3]).toBe('ok');
        } else {
          expect(hostile[3]).toEqual({ code: 'PROTOCOL_ERROR', fes, fei });
        }
        expect(hostile.slice(4).map((o) => (o === 'ok' ? o : o.code))).toEqual(['QUEUE_DEAD', 'QUEUE_DEAD']);
        expect(ctrl.ioQueues[1]!.live).toBe(false);
        expect(ctrl.ioQueues[1]!.error).toMatchObject({ code: 'PROTOCOL_ERROR', detail: { qid: 2, fes, fei } });
        expect(ctrl.ioQueues[1]!.stats.h2cTermReqSent).toBe(1);
        // The H2CTermReq reached the target with that FES/FEI, and the target closed the queue.
        await until('the target got the H2CTermReq', () => qstats(2).h2cTermReqsReceived === 1);
        expect(log.some((l) => l.includes(`qid 2: hostile ${kind}:`))).toBe(true);
        expect(log.filter((l) => l.includes('host sent H2CTermReq'))).toEqual([expect.stringMatching(new RegExp(`host sent H2CTermReq FES ${fes} FEI ${fei}; closing$`))]);
        expect(qstats(2).closedBy).toBe('host');
        expect(hostLog.some((l) => l.startsWith('I/O queue 2 lost'))).toBe(true);
      } else {
        expect(hostile[3]).toEqual({ code: 'NVME_STATUS', status: NvmeSc.DATA_XFER_ERROR });
        // Not fatal: the queue goes on and reads right.
        expect(hostile.slice(4)).toEqual(['ok', 'ok']);
        expect(ctrl.ioQueues[1]!.live).toBe(true);
        expect(ctrl.ioQueues[1]!.stats.ddgstErrors).toBe(1);
        expect(ctrl.ioQueues[1]!.stats.h2cTermReqSent).toBe(0);
        expect(qstats(2).h2cTermReqsReceived).toBe(0);
      }
      expect(qstats(2).hostilePdus).toBe(1);
      // Queue 1 and the association never noticed.
      expect(survived).toBeGreaterThanOrEqual(8);
      expect(ctrl.error).toBeUndefined();
      expect(ctrl.ioQueues[0]!.live).toBe(true);
      expect(ctrl.ioQueues[0]!.stats.h2cTermReqSent).toBe(0);
      expect(qstats(1)).toMatchObject({ h2cTermReqsReceived: 0, termReqsSent: {}, hostilePdus: 0, closedBy: 'open' });
      expect(target.stats.protocolErrors).toBe(0);
      await ctrl.shutdown();
    });
  }

  it('breaks nothing with the default ioQueueFailure: the whole association goes, as Linux resets the controller', async () => {
    const target = await startTarget({ host: '127.0.0.1', port: 0, sizeBytes: 16 * MIB, seed: SEED, hostile: { kind: 'bad-hlen', qid: 2, after: 0 } });
    cleanups.push(() => target.close());
    const ctrl = await NvmeController.connect({
      transports: kernelTransportFactory({ host: '127.0.0.1', port: target.port }),
      subnqn: target.options.subsysNqn,
      ioQueues: 2,
    });
    cleanups.push(async () => ctrl.abort());
    const errors: NvmeHostError[] = [];
    ctrl.onError((e) => errors.push(e));
    expect(await readAndVerify(ctrl, 1, 0)).toEqual({ code: 'PROTOCOL_ERROR', fes: 1, fei: 2 });
    expect(errors.map((e) => e.code)).toEqual(['PROTOCOL_ERROR']);
    expect(ctrl.ioQueues[0]!.live).toBe(false);
    expect(ctrl.admin.live).toBe(false);
  });
});
