/**
 * A hostile target in a live run (root): `ddplab run --queues 2 --offload
 * ddp-crc --hostile CASE@2:after=20`, one run per case. The target breaks
 * the 21st read response of I/O queue 2; queue 1 stays correct.
 *
 * Each run ends on its own (the workload stops issuing at the first error
 * and lets what is in flight finish), and:
 *  - a fatal case names the queue and the fault in one line (the run's
 *    error, printed by the CLI) with the H2CTermReq's FES/FEI; the host sent
 *    that H2CTermReq and the target received it on queue 2; the reads the
 *    dead queue failed are counted, each naming queue 2;
 *  - bad-ddgst fails one read with a data transfer error and nothing else;
 *  - the NIC counted the fault (drop / lost-sync / crc-fail) and fell back;
 *  - queue 1 never failed: every failed I/O is listed and names queue 2,
 *    the target answered every read queue 1 sent and saw no TermReq on it,
 *    and every read verified;
 *  - no namespace is left behind.
 */
import { describe, expect, it } from 'vitest';
import { HOSTILE_CASES, type HostileCase } from '../../src/target/hostile.js';
import type { QueueStats } from '../../src/target/stats.js';
import { HOST_ANSWER } from '../support/target/hostile-cases.js';
import { liveRunIds, runJson } from '../support/lab/live-run-rig.js';

// Every run id of this file is brought down afterwards and none of its namespaces may remain (not a
// check of the whole machine: other runs may be building theirs at the same time).
const newId = liveRunIds('h');

interface TargetJson {
  readonly queues: readonly QueueStats[];
}

describe('ddplab run --offload ddp-crc against a hostile target on queue 2 of 2', () => {
  for (const kind of HOSTILE_CASES) {
    it(kind, async () => {
      const r = await runJson([
        '--id', newId(String(HOSTILE_CASES.indexOf(kind))),
        '--queues', '2', '--offload', 'ddp-crc', '--digest', 'both',
        '--rw', 'read', '--bs', '64k', '--iodepth', '4', '--size', '64m', '--c2h-size', '16k',
        '--hostile', `${kind}@2:after=20`,
        // Exact digest-error counts are ddplab's per-PDU check: the series' fallback (--ulp linux, the
        // default) recomputes over the whole read and also fails the read's other PDUs the NIC did not verify.
        '--ulp', 'reference',
      ]);
      const w = r.workload!;
      const target = r.target as TargetJson;
      const q = (qid: number): QueueStats => target.queues.find((x) => x.qid === qid)!;
      const answer = HOST_ANSWER[kind as HostileCase];

      expect(r.ok).toBe(false);
      expect(w.stoppedBy).toBe('error');
      // Each of the 2 x 4 slots fails at most once before the workload stops: every failure is listed.
      expect(w.errors.first).toHaveLength(w.errors.count);
      expect(q(2).hostilePdus).toBe(1);
      if ('termReq' in answer) {
        const { fes } = answer.termReq;
        // c2h-after-completion: in a live run the host may reuse the CID before the repeat arrives
        // (no CID generation with DDP); then the repeat is data out of order for the new read: FEI 12 (DATAO).
        const fei = kind === 'c2h-after-completion' ? '(8|12)' : String(answer.termReq.fei);
        const line = new RegExp(`^queue 2: .*\\(H2CTermReq FES ${fes}, FEI ${fei}\\)$`);
        expect(r.error).toMatch(line);
        expect(r.host.h2cTermReqSent).toBe(1);
        expect(q(2).h2cTermReqsReceived).toBe(1);
        expect(w.errors.count).toBeGreaterThanOrEqual(1);
        for (const e of w.errors.first) expect(e).toMatch(/: queue 2: /);
        expect(r.nic['rx-nvme-tcp-sk-del']).toBe(2);
      } else {
        // Not fatal: one read failed, the queue went on until the workload stopped.
        expect(r.error).toBeUndefined();
        expect(w.errors.count).toBe(1);
        expect(w.errors.first[0]).toMatch(/: queue 2 cid \d+: DATA_XFER_ERROR/);
        expect(r.host.h2cTermReqSent).toBe(0);
        expect(r.host.ddgstErrors).toBe(1);
        expect(r.nic['rx-nvme-tcp-crc-fail']).toBe(1);
        expect(q(2).h2cTermReqsReceived).toBe(0);
      }
      if (kind === 'plen-lt-hlen' || kind === 'bad-hlen' || kind === 'pdo-in-header' || kind === 'bad-hdgst') {
        expect(r.nic['rx-nvme-tcp-drop']).toBe(1);
        expect(r.nic['rx-nvme-tcp-lost-sync']).toBe(1);
      }
      if (kind === 'data-past-length') expect(r.nic['rx-nvme-tcp-drop']).toBe(1);
      // Queue 1 carried on: no failure names it, the target saw it close cleanly, what completed verified.
      expect(q(1)).toMatchObject({ h2cTermReqsReceived: 0, termReqsSent: {}, errorCompletions: 0, closedBy: 'host' });
      expect(q(1).reads).toBeGreaterThan(0);
      expect(q(1).readBytes).toBe(q(1).reads * 64 * 1024);
      expect(w.verify.mismatches).toBe(0);
      expect(w.verify.bytes).toBe(w.io.readBytes);
      expect(w.io.reads).toBeGreaterThanOrEqual(q(1).reads);
      expect(r.host.placedMismatches).toBe(0);
    });
  }
});
