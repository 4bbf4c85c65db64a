/**
 * The DDP device proxy of the NIC thread answers sk_add and setup itself
 * (nicemu/thread/ddp-client.ts). Differential check: a seeded sequence of
 * ULP calls goes to an NvmeTcpDdpDevice directly and, through the proxy, to
 * a second device standing for the NIC thread's. Every answer the proxy
 * gives must be the direct device's, and the NIC-side device must never
 * refuse what the proxy accepted — for a ULP that keeps the contract (a CID
 * is set up again only after its teardownDone; the proxy frees it then,
 * the engine a little earlier, when it unmaps).
 */
import { describe, expect, it } from 'vitest';
import { NicEmu } from '../../../src/nicemu/nic.js';
import { NvmeTcpDdpDevice, type UlpDdpOps } from '../../../src/nicemu/ddp/offload.js';
import { NicThreadDdpDevice } from '../../../src/nicemu/thread/ddp-client.js';
import type { HostOp } from '../../../src/nicemu/thread/protocol.js';
import type { FlowKey } from '../../../src/nicemu/flow-table.js';
import type { NicProfile } from '../../../src/nicemu/ddp/nic-profile.js';
import { mulberry32 } from '../../../src/base/seeded-rng.js';
import { SilentPort } from '../../support/nicemu/silent-port.js';

const MAC = Buffer.from([2, 0, 0, 0, 0, 2]);
const keys: FlowKey[] = [0, 1, 2].map((i) => ({ remoteIp: 0xc0000201, remotePort: 4420, localIp: 0xc0000202, localPort: 40000 + i }));

function run(profile: NicProfile, seed: number): { answers: number; refusedAfterAccept: number; nicSetupFails: number } {
  const next = mulberry32(seed);
  const rng = { next, int: (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1)) };
  const pendingA: (() => void)[] = [];
  const pendingB: (() => void)[] = [];
  const limits = { maxDdpSglLen: 8, maxSetupsPerSocket: 6, maxSockets: 2 };
  const mk = (pending: (() => void)[]): { nic: NicEmu; dev: NvmeTcpDdpDevice } => {
    const nic = new NicEmu(new SilentPort(), { mac: MAC });
    const dev = new NvmeTcpDdpDevice(nic, {
      limits,
      profile,
      defer: (fn) => pending.push(fn),
      schedule: (fn) => void pending.push(fn),
    });
    return { nic, dev };
  };
  const a = mk(pendingA);
  const b = mk(pendingB);
  // The proxy's link: flow ids as the NIC thread client numbers them; ops applied to device B in order.
  const flowIds = new Map<string, number>();
  const keyOf = new Map<number, FlowKey>();
  const ks = (k: FlowKey): string => `${k.localPort}`;
  const ulpB = new Map<number, UlpDdpOps>();
  let nicSetupFails = 0;
  const proxy = new NicThreadDdpDevice(
    {
      flowIdOf: (k) => flowIds.get(ks(k)),
      enqueue: (op: HostOp) => {
        if (op.op === 'skAdd') {
          const key = keyOf.get(op.flow)!;
          const why = b.dev.skAdd({ key, nextPduSeq: op.nextPduSeq }, op.config, ulpB.get(op.flow)!);
          if (why !== undefined) throw new Error(`NIC side refused sk_add: ${why}`);
        } else if (op.op === 'setup') {
          const sgl: Buffer[] = [];
          for (let i = 0; i < op.sgl.length; i += 3) sgl.push(Buffer.alloc(op.sgl[i + 2]!));
          if (b.dev.setup(keyOf.get(op.flow)!, op.cid, sgl) !== undefined) nicSetupFails++;
        } else if (op.op === 'teardown') b.dev.teardown(keyOf.get(op.flow)!, op.cid);
        else if (op.op === 'skDel') b.dev.skDel(keyOf.get(op.flow)!);
        else if (op.op === 'setCaps') b.dev.setCaps(op.caps);
      },
      ddpStats: null,
    },
    profile,
    limits,
    { 'nvme-tcp': true, 'nvme-tcp-ddgst-rx': true },
  );
  const doneA: string[] = [];
  const doneP: string[] = [];
  // The ULP's side of the contract: a CID whose teardown is not done yet is not set up again, and
  // (so that in-flight counts agree) no setup goes to a socket while any of its teardowns is pending.
  const awaiting = new Map<number, Set<number>>(keys.map((k) => [k.localPort, new Set<number>()]));
  const ulpA = (k: FlowKey): UlpDdpOps => ({
    resyncRequest: () => true,
    teardownDone: (_k, cid) => {
      doneA.push(`${k.localPort}:${cid}`);
      awaiting.get(k.localPort)!.delete(cid);
    },
  });
  const ulpP = (k: FlowKey): UlpDdpOps => ({ resyncRequest: () => true, teardownDone: (_k, cid) => doneP.push(`${k.localPort}:${cid}`) });
  // Flows 0 and 1 exist (flow 2 never does: sk_add says no-flow).
  keys.slice(0, 2).forEach((k, i) => {
    for (const d of [a, b]) d.nic.addFlow({ key: k, deliver: () => undefined });
    flowIds.set(ks(k), i + 1);
    keyOf.set(i + 1, k);
  });
  let answers = 0;
  const mem = new SharedArrayBuffer(64 * 4096);
  for (let step = 0; step < 3000; step++) {
    const k = keys[rng.int(0, 2)]!;
    const r = rng.next();
    if (r < 0.05) {
      const cfg = { pfv: 0, cpda: 0, hdgst: false, ddgst: rng.next() < 0.5, queueSize: rng.next() < 0.1 ? 0 : 16 };
      const flow = flowIds.get(ks(k));
      if (flow !== undefined) {
        // Device B answers the NIC's callbacks to the proxy, which passes them to the proxy's ULP.
        ulpB.set(flow, { resyncRequest: () => true, teardownDone: (_k, cid) => proxy.onTeardownDone(flow, cid) });
      }
      expect(proxy.skAdd({ key: k, nextPduSeq: 0 }, cfg, ulpP(k))).toBe(a.dev.skAdd({ key: k, nextPduSeq: 0 }, cfg, ulpA(k)));
      answers++;
    } else if (r < 0.08) {
      proxy.skDel(k);
      a.dev.skDel(k);
      awaiting.get(k.localPort)!.clear();
    } else if (r < 0.1) {
      const caps = { 'nvme-tcp': rng.next() < 0.8 };
      proxy.setCaps(caps);
      a.dev.setCaps(caps);
    } else if (r < 0.6) {
      if (awaiting.get(k.localPort)!.size > 0) continue;
      const cid = rng.next() < 0.05 ? 16 + rng.int(0, 3) : rng.int(0, 15);
      const n = rng.next() < 0.05 ? 0 : rng.int(1, 10);
      const at = rng.int(0, 50) * 4096;
      const sgl = Array.from({ length: n }, (_, i) => Buffer.from(mem, at + i * 4096, 4096));
      expect(proxy.setup(k, cid, sgl)).toBe(a.dev.setup(k, cid, sgl));
      answers++;
    } else if (r < 0.85) {
      const cid = rng.int(0, 15);
      const follows = a.dev.teardown(k, cid);
      expect(proxy.teardown(k, cid)).toBe(follows);
      if (follows) awaiting.get(k.localPort)!.add(cid);
      answers++;
    } else {
      // Completions (deferred teardownDone, the hardware profile's timer) run on both sides at once.
      for (const q of [pendingA, pendingB]) for (const fn of q.splice(0)) fn();
      expect(doneP).toEqual(doneA);
    }
  }
  return { answers, refusedAfterAccept: proxy.refusedAfterAccept, nicSetupFails };
}

describe('NIC thread DDP proxy', () => {
  for (const profile of ['hardware', 'ideal'] as const) {
    it(`answers sk_add, setup and teardown as the device does (${profile} profile, seeded sequences)`, () => {
      for (const seed of [1, 2, 3]) {
        const r = run(profile, seed);
        expect(r.answers).toBeGreaterThan(1000);
        expect(r.nicSetupFails).toBe(0);
      }
    });
  }

  it('refuses a buffer outside shared memory (the NIC thread could not place into it)', () => {
    const dev = new NicThreadDdpDevice(
      { flowIdOf: () => 1, enqueue: () => undefined, ddpStats: null },
      'hardware',
      undefined,
      { 'nvme-tcp': true, 'nvme-tcp-ddgst-rx': true },
    );
    const ulp: UlpDdpOps = { resyncRequest: () => true, teardownDone: () => undefined };
    expect(dev.skAdd({ key: keys[0]!, nextPduSeq: 0 }, { pfv: 0, cpda: 0, hdgst: false, ddgst: false, queueSize: 32 }, ulp)).toBeUndefined();
    expect(dev.setup(keys[0]!, 1, [Buffer.alloc(4096)])).toBe('not-shared');
    expect(dev.setup(keys[0]!, 1, [Buffer.from(new SharedArrayBuffer(4096))])).toBeUndefined();
    expect(dev.getStats()['rx-nvme-tcp-setup-fail']).toBe(1);
  });
});
