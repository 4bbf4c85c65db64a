/**
 * A target that never answers, at each step of bring-up: the TCP
 * connection (SYN unanswered), the ICReq, the Fabrics Connect, an I/O
 * queue's ICReq. Each ends bring-up with CONNECT_TIMEOUT in one line naming
 * the target, the step and the queue, and leaves no connection open; a
 * connection that opens after its step gave up is aborted. A target that
 * stops answering later cannot hold shutdown either. Virtual time
 * where the controller is scripted; the ddplab target on loopback where the
 * admin queue must come up for real first.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/host/net/clock.js';
import { kernelTransportFactory } from '../../../src/host/nvme/kernel-transport.js';
import { DEFAULT_CONNECT_TIMEOUT_MS, NvmeController } from '../../../src/host/nvme/controller.js';
import { NvmeHostError } from '../../../src/host/nvme/host-error.js';
import type { RxChunk, StreamTransport } from '../../../src/host/nvme/stream-transport.js';
import { startTarget } from '../../../src/target/listener.js';
import { PduType, emitPduBuffer } from '../../../src/wire/nvme-tcp-pdu.js';
import { TestTransport } from '../../support/host/scripted-transport.js';

const NQN = 'nqn.2026-11.io.ddplab:target';
const ICRESP = emitPduBuffer({ type: PduType.ICResp, pfv: 0, cpda: 0, hdgstEnable: false, ddgstEnable: false, maxh2cdata: 0x40_0000 });

/** Lets promise callbacks run (the controller awaits between steps). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

/** Records how a promise ended, without awaiting it. */
function track<T>(p: Promise<T>): { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } {
  const t: { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } = { state: 'pending' };
  p.then(
    () => (t.state = 'resolved'),
    (e: unknown) => {
      t.state = 'rejected';
      t.error = e;
    },
  );
  return t;
}

function expectOneLine(e: unknown, code: string, message: string): void {
  expect(e).toBeInstanceOf(NvmeHostError);
  expect((e as NvmeHostError).code).toBe(code);
  expect((e as NvmeHostError).message).toBe(message);
  expect((e as NvmeHostError).message).not.toContain('\n');
}

describe('NvmeController bring-up against a target that never answers', () => {
  it('gives up on an unanswered TCP SYN after the default 10 s, naming the target; a connection that opens later is aborted', async () => {
    const clock = new VirtualClock(0);
    let open: ((t: StreamTransport) => void) | undefined;
    const p = track(
      NvmeController.connect({
        transports: () => new Promise<StreamTransport>((resolve) => (open = resolve)),
        subnqn: NQN,
        clock,
        targetName: '192.0.2.1:4420',
      }),
    );
    await settle();
    clock.advance(DEFAULT_CONNECT_TIMEOUT_MS - 1);
    await settle();
    expect(p.state).toBe('pending');
    clock.advance(1);
    await settle();
    expect(p.state).toBe('rejected');
    expectOneLine(p.error, 'CONNECT_TIMEOUT', 'target 192.0.2.1:4420 did not answer the TCP SYN within 10 s (admin queue)');
    const late = new TestTransport();
    open!(late);
    await settle();
    expect(late.aborted).toBe(true);
    expect(late.sent).toHaveLength(0);
  });

  it('gives up on an unanswered ICReq and resets the connection', async () => {
    const clock = new VirtualClock(0);
    const t = new TestTransport();
    const p = track(NvmeController.connect({ transports: () => Promise.resolve(t), subnqn: NQN, clock, connectTimeoutMs: 2000 }));
    await settle();
    expect(t.sentOfType(PduType.ICReq)).toHaveLength(1);
    clock.advance(2000);
    await settle();
    expectOneLine(p.error, 'CONNECT_TIMEOUT', 'the target did not answer the ICReq within 2 s (admin queue)');
    expect(t.aborted).toBe(true);
  });

  it('gives up on an unanswered Fabrics Connect after a valid ICResp', async () => {
    const clock = new VirtualClock(0);
    const t = new TestTransport();
    const p = track(NvmeController.connect({ transports: () => Promise.resolve(t), subnqn: NQN, clock, connectTimeoutMs: 1500, targetName: '192.0.2.1:4420' }));
    await settle();
    clock.advance(1000);
    t.deliver(ICRESP);
    await settle();
    expect(t.sentOfType(PduType.CapsuleCmd)).toHaveLength(1);
    // The step's clock starts at the Connect, not at the ICReq.
    clock.advance(1499);
    await settle();
    expect(p.state).toBe('pending');
    clock.advance(1);
    await settle();
    expectOneLine(p.error, 'CONNECT_TIMEOUT', 'target 192.0.2.1:4420 did not answer the Fabrics Connect within 1500 ms (admin queue)');
    expect(t.aborted).toBe(true);
  });
});

describe('NvmeController bring-up: an I/O queue that never answers', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('brings the admin queue up, then fails on I/O queue 2 whose ICReq gets no answer, and closes every connection', async () => {
    const target = await startTarget({ host: '127.0.0.1', port: 0, sizeBytes: 4 << 20 });
    cleanups.push(() => target.close());
    const kernel = kernelTransportFactory({ host: '127.0.0.1', port: target.port });
    const silent = new TestTransport();
    const p = NvmeController.connect({
      transports: (qid) => (qid === 2 ? Promise.resolve(silent) : kernel(qid)),
      subnqn: target.options.subsysNqn,
      ioQueues: 2,
      connectTimeoutMs: 300,
      targetName: `127.0.0.1:${target.port}`,
    });
    const e = await p.catch((x: unknown) => x);
    expectOneLine(e, 'CONNECT_TIMEOUT', `target 127.0.0.1:${target.port} did not answer the ICReq within 300 ms (I/O queue 2)`);
    expect(silent.aborted).toBe(true);
    // The admin queue and I/O queue 1 had connected to the real target: both are gone too.
    expect(target.stats.connectionsAccepted).toBe(2);
    for (let i = 0; i < 200 && target.stats.connectionsOpen > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(target.stats.connectionsOpen).toBe(0);
  });
});

/** A kernel connection that goes silent on `stall()`: nothing more is received, not even its end (a target frozen mid-run). */
class Freezable implements StreamTransport {
  frozen = false;
  aborted = false;
  constructor(private readonly inner: StreamTransport) {}
  write(bufs: readonly Buffer[]): boolean {
    return this.inner.write(bufs);
  }
  onDrain(cb: () => void): void {
    this.inner.onDrain(cb);
  }
  onData(cb: (chunk: RxChunk) => void): void {
    this.inner.onData((c) => {
      if (!this.frozen) cb(c);
    });
  }
  onClose(cb: (err?: Error) => void): void {
    this.inner.onClose((e) => {
      if (!this.frozen) cb(e);
    });
  }
  close(): void {
    this.inner.close();
  }
  abort(): void {
    this.aborted = true;
    this.inner.abort();
  }
}

describe('NvmeController shutdown against a target that stopped answering', () => {
  it('gives up on CC.SHN and the FINs after the connect timeout and resets every connection', async () => {
    const target = await startTarget({ host: '127.0.0.1', port: 0, sizeBytes: 4 << 20 });
    try {
      const kernel = kernelTransportFactory({ host: '127.0.0.1', port: target.port });
      const conns: Freezable[] = [];
      const lines: string[] = [];
      const ctrl = await NvmeController.connect({
        transports: async (qid) => (conns[qid] = new Freezable(await kernel(qid))),
        subnqn: target.options.subsysNqn,
        ioQueues: 2,
        connectTimeoutMs: 300,
        log: (l) => lines.push(l),
      });
      for (const c of conns) c.frozen = true;
      await ctrl.shutdown();
      expect(conns.map((c) => c.aborted)).toEqual([true, true, true]);
      expect(ctrl.admin.live).toBe(false);
      expect(lines.filter((l) => l.startsWith('shutdown:'))).toContain('shutdown: the target did not finish within 300 ms; resetting the connections');
    } finally {
      await target.close();
    }
  });
});
