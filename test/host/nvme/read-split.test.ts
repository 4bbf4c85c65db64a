/**
 * Limits as Linux's host applies them: while a queue is offloaded, a read
 * larger than max_ddp_sgl_len pages goes out as several commands (the block
 * layer's split at the queue limits) and completes as one; the split waits
 * for CIDs rather than failing when it needs more than are free; CIDs carry
 * generation bits only with the full CID range. Against ddplab's target over
 * kernel TCP on 127.0.0.1.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { NvmeDdpHooks } from '../../../src/host/nvme/ddp-hooks.js';
import { kernelTransportFactory } from '../../../src/host/nvme/kernel-transport.js';
import { NvmeController, type NvmeControllerOptions } from '../../../src/host/nvme/controller.js';
import { findPatternMismatch } from '../../../src/wire/block-pattern.js';
import { startTarget } from '../../../src/target/listener.js';

const SEED = 5;
const KIB = 1024;

/** Hooks of a queue offloaded with `maxReadBytes` per command: they record the CIDs offered and the splits. */
class RecordingHooks implements NvmeDdpHooks {
  readonly ioThresholdBytes = 4 * KIB;
  readonly cids: number[] = [];
  readonly splits: number[] = [];
  constructor(private readonly maxBytes: number | undefined) {}
  setup(cid: number): boolean {
    this.cids.push(cid);
    return false;
  }
  teardown(): 'done' {
    return 'done';
  }
  maxReadBytes(): number | undefined {
    return this.maxBytes;
  }
  onReadSplit(commands: number): void {
    this.splits.push(commands);
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function connect(hooks: RecordingHooks, o: Partial<NvmeControllerOptions> = {}): Promise<NvmeController> {
  const target = await startTarget({ host: '127.0.0.1', port: 0, sizeBytes: 16 * 1024 * KIB, seed: SEED });
  cleanups.push(() => target.close());
  const ctrl = await NvmeController.connect({
    transports: kernelTransportFactory({ host: '127.0.0.1', port: target.port }),
    subnqn: target.options.subsysNqn,
    ioQueues: 1,
    queueDepth: 32,
    ddp: () => hooks,
    ...o,
  });
  cleanups.push(async () => ctrl.abort());
  return ctrl;
}

describe('reads split at the DDP limits', () => {
  it('a 1 MiB read on a queue taking 256 KiB per command goes out as 4 commands and completes as one read with the right bytes', async () => {
    const hooks = new RecordingHooks(256 * KIB);
    const ctrl = await connect(hooks);
    const before = ctrl.ioQueues[0]!.stats.commandsSubmitted;
    const buf = Buffer.alloc(1024 * KIB);
    await ctrl.read(0, 8, buf);
    expect(findPatternMismatch(SEED, 8 * 512, buf)).toBe(-1);
    expect(ctrl.ioQueues[0]!.stats.commandsSubmitted - before).toBe(4);
    expect(hooks.splits).toEqual([4]);
    // Each command is offered on its own, each within the limit.
    expect(hooks.cids).toHaveLength(4);
  });

  it('a read within the limit, and any read on a queue that is not offloaded, is one command', async () => {
    const hooks = new RecordingHooks(256 * KIB);
    const ctrl = await connect(hooks);
    await ctrl.read(0, 0, Buffer.alloc(256 * KIB));
    expect(hooks.splits).toEqual([]);
    const off = new RecordingHooks(undefined);
    const ctrl2 = await connect(off);
    const before = ctrl2.ioQueues[0]!.stats.commandsSubmitted;
    await ctrl2.read(0, 0, Buffer.alloc(1024 * KIB));
    expect(ctrl2.ioQueues[0]!.stats.commandsSubmitted - before).toBe(1);
    expect(off.splits).toEqual([]);
  });

  it('a split needing more commands than the queue has CIDs waits for them instead of failing', async () => {
    const hooks = new RecordingHooks(16 * KIB);
    const ctrl = await connect(hooks, { queueDepth: 4 });
    const bufs = [Buffer.alloc(256 * KIB), Buffer.alloc(128 * KIB)];
    await Promise.all([ctrl.read(0, 0, bufs[0]!), ctrl.read(0, 1024, bufs[1]!)]);
    expect(findPatternMismatch(SEED, 0, bufs[0]!)).toBe(-1);
    expect(findPatternMismatch(SEED, 1024 * 512, bufs[1]!)).toBe(-1);
    expect(hooks.splits).toEqual([16, 8]);
    expect(hooks.cids.every((c) => c < 4)).toBe(true);
  });
});

describe('CIDs and the full CID range', () => {
  it('without it CIDs stay below the queue size; with it they carry a 4-bit generation in bits 15:12', async () => {
    const plain = new RecordingHooks(undefined);
    const c1 = await connect(plain, { queueDepth: 8 });
    for (let i = 0; i < 3; i++) await c1.read(0, 0, Buffer.alloc(8 * KIB));
    expect(plain.cids.every((c) => c < 8)).toBe(true);
    const gen = new RecordingHooks(undefined);
    const c2 = await connect(gen, { queueDepth: 8, cidGeneration: true });
    for (let i = 0; i < 3; i++) await c2.read(0, 0, Buffer.alloc(8 * KIB));
    expect(gen.cids.every((c) => c >= 0x1000)).toBe(true);
    expect(gen.cids.map((c) => c & 0xfff).every((t) => t < 8)).toBe(true);
    expect(new Set(gen.cids.map((c) => c >> 12)).size).toBeGreaterThan(1);
  });
});
