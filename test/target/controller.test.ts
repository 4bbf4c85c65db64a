import { describe, expect, it, vi } from 'vitest';
import { parseIdCtrl } from '../../src/wire/nvme-identify.js';
import { NvmeReg, parseCap, parseCsts } from '../../src/wire/nvme-registers.js';
import { NvmeSc } from '../../src/wire/nvme-status.js';
import { Subsystem, type AssociationMember } from '../../src/target/controller.js';
import { PatternStore } from '../../src/target/namespace-store.js';
import { resolveTargetOptions, type TargetOptionsInput } from '../../src/target/options.js';
import { newTargetStats } from '../../src/target/stats.js';

const CC_OK = 0x1 | (6 << 16) | (4 << 20);

function subsystem(o: TargetOptionsInput = {}): Subsystem {
  const options = resolveTargetOptions({ sizeBytes: 1 << 20, ...o });
  return new Subsystem(options, new PatternStore({ sizeBytes: options.sizeBytes, lbaSize: options.lbaSize }, 1), newTargetStats(), () => undefined);
}

function csts(c: { propertyGet(o: number, s: 4 | 8): { value: bigint } }): ReturnType<typeof parseCsts> {
  return parseCsts(Number(c.propertyGet(NvmeReg.CSTS, 4).value));
}

describe('controller', () => {
  it('sets CSTS.RDY when CC.EN goes to 1 with a valid configuration, clears it on EN=0', () => {
    const ctrl = subsystem().createController('nqn.host', Buffer.alloc(16), 0)!;
    expect(csts(ctrl).rdy).toBe(false);
    expect(ctrl.propertySet(NvmeReg.CC, 4, BigInt(CC_OK)).status).toBe(0);
    expect(csts(ctrl).rdy).toBe(true);
    expect(ctrl.ready).toBe(true);
    ctrl.propertySet(NvmeReg.CC, 4, 0n);
    expect(csts(ctrl).rdy).toBe(false);
  });

  it('reports CSTS.CFS for IOSQES/IOCQES other than 64/16 bytes', () => {
    const ctrl = subsystem().createController('nqn.host', Buffer.alloc(16), 0)!;
    ctrl.propertySet(NvmeReg.CC, 4, 1n);
    expect(csts(ctrl)).toMatchObject({ rdy: false, cfs: true });
  });

  it('reports shutdown complete when CC.SHN is set', () => {
    const ctrl = subsystem().createController('nqn.host', Buffer.alloc(16), 0)!;
    ctrl.propertySet(NvmeReg.CC, 4, BigInt(CC_OK));
    ctrl.propertySet(NvmeReg.CC, 4, BigInt(CC_OK | (1 << 14)));
    expect(csts(ctrl)).toMatchObject({ rdy: false, shst: 2 });
  });

  it('sets CSTS.RDY only after the configured ready delay', async () => {
    const ctrl = subsystem({ readyDelayMs: 20 }).createController('nqn.host', Buffer.alloc(16), 0)!;
    ctrl.propertySet(NvmeReg.CC, 4, BigInt(CC_OK));
    expect(csts(ctrl).rdy).toBe(false);
    while (!csts(ctrl).rdy) await new Promise((r) => setTimeout(r, 5));
    expect(parseCap(ctrl.cap()).to).toBeGreaterThanOrEqual(1);
  });

  it('answers properties the way nvmet does: CAP only as 8 bytes, CC the only writable one', () => {
    const ctrl = subsystem({ maxQueueSize: 128 }).createController('nqn.host', Buffer.alloc(16), 0)!;
    expect(parseCap(ctrl.propertyGet(NvmeReg.CAP, 8).value).mqes).toBe(127);
    expect(ctrl.propertyGet(NvmeReg.CAP, 4).status).toBe(NvmeSc.INVALID_FIELD);
    expect(ctrl.propertyGet(NvmeReg.VS, 8).status).toBe(NvmeSc.INVALID_FIELD);
    expect(ctrl.propertySet(NvmeReg.CSTS, 4, 1n).status).toBe(NvmeSc.INVALID_FIELD);
    expect(ctrl.propertySet(NvmeReg.CC, 8, 1n).status).toBe(NvmeSc.INVALID_FIELD);
  });

  it('hands out distinct CNTLIDs and reflects options in Identify Controller', () => {
    const sub = subsystem({ inCapsuleBytes: 8192, maxIoBytes: 1 << 20, kasMs: 1000 });
    const a = sub.createController('nqn.a', Buffer.alloc(16), 0)!;
    const b = sub.createController('nqn.b', Buffer.alloc(16), 0)!;
    expect(a.cntlid).not.toBe(b.cntlid);
    const id = parseIdCtrl(b.identify(1, 0).data!);
    expect(id.cntlid).toBe(b.cntlid);
    expect(id.ioccsz).toBe((64 + 8192) / 16);
    expect(id.mdts).toBe(8);
    expect(id.kas).toBe(10);
  });

  it('ends every queue of the association when the admin queue goes', () => {
    const sub = subsystem();
    const ctrl = sub.createController('nqn.host', Buffer.alloc(16), 0)!;
    const ended: number[] = [];
    const member = (qid: number): AssociationMember => ({ qid, terminate: () => ended.push(qid) });
    const admin = member(0);
    ctrl.attach(admin);
    ctrl.attach(member(1));
    ctrl.attach(member(2));
    ctrl.detach(admin);
    expect(ended.sort()).toEqual([1, 2]);
    expect(sub.controllers.has(ctrl.cntlid)).toBe(false);
  });

  it('expires KATO without traffic, and any command on the association postpones it', () => {
    vi.useFakeTimers();
    try {
      const sub = subsystem({ kasMs: 100 });
      const ctrl = sub.createController('nqn.host', Buffer.alloc(16), 1000)!;
      const ended: string[] = [];
      ctrl.attach({ qid: 0, terminate: (r) => ended.push(r) });
      vi.advanceTimersByTime(900);
      ctrl.noteTraffic(); // e.g. a Read on an I/O queue
      vi.advanceTimersByTime(1000);
      expect(ctrl.isDestroyed).toBe(false);
      ctrl.keepAlive();
      vi.advanceTimersByTime(999);
      expect(ctrl.isDestroyed).toBe(false);
      vi.advanceTimersByTime(2);
      expect(ctrl.isDestroyed).toBe(true);
      expect(ended).toEqual(['keep-alive']);
    } finally {
      vi.useRealTimers();
    }
  });
});
