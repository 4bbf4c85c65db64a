/**
 * The workload engine (src/host/workload/workload.ts) on an in-memory device that
 * completes I/O in a seeded random order: verification of reads against the
 * pattern and against this run's writes, serialization of overlapping I/O,
 * mismatch and error reporting, stop conditions and progress.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/host/net/clock.js';
import { runWorkload, type WorkloadDevice } from '../../../src/host/workload/workload.js';
import { blockSizesOf, parseBs, parseBsRange, parseBsSplit, parseSizeBytes, resolveWorkload, WorkloadOptionError } from '../../../src/host/workload/options.js';
import { fillPattern } from '../../../src/wire/block-pattern.js';
import { prng } from '../../support/wire/pdu-samples.js';

const KIB = 1024;
const MIB = 1024 * KIB;

interface Pending {
  readonly run: () => void;
}

/** A namespace in memory whose commands complete in a random order, checking that overlapping writes never run concurrently with other I/O. */
class MemoryDevice implements WorkloadDevice {
  readonly queues = 2;
  readonly queueDepth = 64;
  readonly lbaSizeBytes = 512;
  readonly maxTransferBytes = 1 * MIB;
  readonly data: Buffer;
  readonly overlapViolations: string[] = [];
  maxInflight = 0;
  /** Corrupt byte `at` (absolute) of every read that covers it. */
  corruptAt: number | undefined;
  /** Fail writes that cover this byte. */
  failWriteAt: number | undefined;
  /** Reads numbered here (1 = the first) complete successfully without writing a byte into the buffer. */
  readonly silentReads = new Set<number>();
  private readsSeen = 0;
  /** Called as each command completes (tests move a virtual clock here). */
  onComplete: (() => void) | undefined;
  private readonly inflight: { start: number; end: number; write: boolean }[] = [];
  private pending: Pending[] = [];
  private scheduled = false;
  private readonly rand: () => number;

  constructor(
    readonly nsSizeBytes: number,
    patternSeed: number,
    seed: number,
  ) {
    this.data = Buffer.alloc(nsSizeBytes);
    fillPattern(patternSeed, 0, this.data);
    this.rand = prng(seed);
  }

  /** [byte offset, length] of every read, in the order issued. */
  readonly readLog: [number, number][] = [];

  read(queue: number, slba: number, buf: Buffer): Promise<unknown> {
    this.readLog.push([slba * 512, buf.length]);
    const silent = this.silentReads.has(++this.readsSeen);
    return this.op(false, slba * 512, buf, () => {
      if (silent) return;
      this.data.copy(buf, 0, slba * 512, slba * 512 + buf.length);
      const at = this.corruptAt;
      if (at !== undefined && at >= slba * 512 && at < slba * 512 + buf.length) buf[at - slba * 512]! ^= 0x40;
      void queue;
    });
  }

  write(queue: number, slba: number, buf: Buffer): Promise<unknown> {
    const at = this.failWriteAt;
    const fails = at !== undefined && at >= slba * 512 && at < slba * 512 + buf.length;
    return this.op(
      true,
      slba * 512,
      buf,
      () => {
        // A failed write lands half its data: the content is unknown afterwards.
        const n = fails ? buf.length / 2 : buf.length;
        buf.copy(this.data, slba * 512, 0, n);
        void queue;
      },
      fails,
    );
  }

  private op(write: boolean, start: number, buf: Buffer, action: () => void, fail = false): Promise<unknown> {
    const me = { start, end: start + buf.length, write };
    for (const o of this.inflight) {
      if ((o.write || write) && o.start < me.end && start < o.end) {
        this.overlapViolations.push(`${write ? 'write' : 'read'} [${start}, ${me.end}) overlaps in-flight ${o.write ? 'write' : 'read'} [${o.start}, ${o.end})`);
      }
    }
    this.inflight.push(me);
    this.maxInflight = Math.max(this.maxInflight, this.inflight.length);
    return new Promise((resolve, reject) => {
      this.pending.push({
        run: () => {
          this.onComplete?.();
          action();
          this.inflight.splice(this.inflight.indexOf(me), 1);
          if (fail) reject(new Error('injected write failure'));
          else resolve(undefined);
        },
      });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      // Complete a random subset, in random order.
      const batch = this.pending;
      this.pending = [];
      for (let i = batch.length - 1; i > 0; i--) {
        const j = Math.floor(this.rand() * (i + 1));
        [batch[i], batch[j]] = [batch[j]!, batch[i]!];
      }
      const n = Math.max(1, Math.floor(batch.length * this.rand()));
      for (let i = 0; i < batch.length; i++) {
        if (i < n) batch[i]!.run();
        else this.pending.push(batch[i]!);
      }
      if (this.pending.length > 0) this.schedule();
    });
  }
}

describe('workload options', () => {
  it('parses sizes with binary suffixes', () => {
    expect(parseSizeBytes('4k')).toBe(4096);
    expect(parseSizeBytes('1m')).toBe(MIB);
    expect(parseSizeBytes('256M')).toBe(256 * MIB);
    expect(parseSizeBytes('4KiB')).toBe(4096);
    expect(parseSizeBytes('512')).toBe(512);
    expect(parseSizeBytes('1g')).toBe(1024 * MIB);
    expect(() => parseSizeBytes('4q')).toThrow(WorkloadOptionError);
  });

  it("parses block sizes as fio does: bs per direction, bssplit percentages, bsrange multiples", () => {
    const one = [{ bytes: 4096, weight: 1 }];
    expect(parseBs('4k')).toEqual({ read: one, write: one });
    expect(parseBs('4k,128k')).toEqual({ read: one, write: [{ bytes: 131072, weight: 1 }] });
    expect(parseBs('4k,')).toEqual({ read: one, write: one });
    expect(parseBsSplit('4k/30:128k/70')).toEqual({
      read: [
        { bytes: 4096, weight: 30 },
        { bytes: 131072, weight: 70 },
      ],
      write: [
        { bytes: 4096, weight: 30 },
        { bytes: 131072, weight: 70 },
      ],
    });
    // Blank percentages share what the others leave; a second list is the writes'.
    const s = parseBsSplit('4k/50:64k/:1m/,128k');
    expect(s.read).toEqual([
      { bytes: 4096, weight: 50 },
      { bytes: 65536, weight: 25 },
      { bytes: MIB, weight: 25 },
    ]);
    expect(s.write).toEqual([{ bytes: 131072, weight: 100 }]);
    expect(parseBsRange('4k-16k').read.map((b) => b.bytes)).toEqual([4096, 8192, 12288, 16384]);
    expect(parseBsRange('4k-8k,64k-128k').write.map((b) => b.bytes)).toEqual([65536, 131072]);
    expect(blockSizesOf({ bs: '4k', bssplit: '8k/100', bsrange: '16k-32k' }).read).toEqual([{ bytes: 8192, weight: 100 }]);
  });

  it('refuses the old mixes in bs, naming the fio option, and bad splits, in one line each', () => {
    expect(() => parseBs('4k:70,128k:30')).toThrow("bs '4k:70,128k:30' is a weighted mix: use bssplit (fio's syntax, e.g. --bssplit 4k/70:128k/30)");
    expect(() => parseBs('4k-1m')).toThrow("bs '4k-1m' is a range: use bsrange (e.g. --bsrange 4k-1m)");
    expect(() => parseBs('4k,128k,1m')).toThrow(/^bs '4k,128k,1m' has more than two sizes: .*--bssplit 4k\/:128k\/:1m\/\)$/);
    expect(parseBsSplit('4k/:128k/:1m/').read.map((b) => b.weight)).toEqual([100 / 3, 100 / 3, 100 / 3]);
    expect(() => parseBsSplit('4k/70:128k/20')).toThrow(/add up to 90, not 100/);
    expect(() => parseBsSplit('4k/70:128k/40')).toThrow(/more than 100/);
    expect(() => parseBsSplit('4k/x')).toThrow(/not a percentage/);
    expect(() => parseBsSplit('4k/50:64k/50,8k/100,1m/100')).toThrow(/trim/);
    expect(() => parseBsRange('64k-4k')).toThrow(/smaller to a larger/);
    expect(() => parseBs('0')).toThrow(/larger than 0/);
  });

  it('refuses what the device cannot do', () => {
    const dev = { queues: 2, queueDepth: 32, lbaSizeBytes: 512, nsSizeBytes: 64 * MIB, maxTransferBytes: 128 * KIB };
    expect(() => resolveWorkload({ rw: 'randread', bs: '1m' }, dev)).toThrow(/largest transfer/);
    expect(() => resolveWorkload({ rw: 'randread', bs: '1000' }, dev)).toThrow(/multiple of the 512-byte LBA/);
    expect(() => resolveWorkload({ rw: 'randread', iodepth: 33 }, dev)).toThrow(/iodepth/);
    expect(() => resolveWorkload({ rw: 'randread', queues: 3 }, dev)).toThrow(/queues/);
    expect(() => resolveWorkload({ rw: 'randrw', rwmixread: 101 }, dev)).toThrow(/rwmixread/);
    const j = resolveWorkload({ rw: 'randrw', bs: '4k,64k' }, dev);
    expect(j).toMatchObject({ readPct: 50, iodepth: 1, queues: 2, sizeBytes: 64 * MIB, rangeBytes: 64 * MIB, alignBytes: 4096, verify: true });
    expect(j.bsByDir.read.map((b) => b.bytes)).toEqual([4096]);
    expect(j.bsByDir.write.map((b) => b.bytes)).toEqual([65536]);
    // A write-only job is not bounded by the reads' size.
    expect(() => resolveWorkload({ rw: 'write', bs: '1m,4k' }, dev)).not.toThrow();
  });

  it("takes size as fio's region and amount, io_size as the amount, offset as the region's start", () => {
    const dev = { queues: 1, queueDepth: 32, lbaSizeBytes: 512, nsSizeBytes: 64 * MIB, maxTransferBytes: 128 * KIB };
    expect(resolveWorkload({ rw: 'randread', size: '8m' }, dev)).toMatchObject({ offsetBytes: 0, rangeBytes: 8 * MIB, sizeBytes: 8 * MIB });
    expect(resolveWorkload({ rw: 'randread', size: '8m', ioSize: '32m', offset: '1m' }, dev)).toMatchObject({ offsetBytes: MIB, rangeBytes: 8 * MIB, sizeBytes: 32 * MIB });
    // Past the end of the namespace the region stops at it (fio on a block device); the amount is still what was asked.
    expect(resolveWorkload({ rw: 'read', size: '1g', offset: '60m' }, dev)).toMatchObject({ rangeBytes: 4 * MIB, sizeBytes: 1024 * MIB });
    expect(resolveWorkload({ rw: 'read', size: '1m', timeSec: 2, timeBased: true }, dev)).toMatchObject({ sizeBytes: Infinity, timeMs: 2000, timeBased: true });
    expect(resolveWorkload({ rw: 'read', size: '1m', timeSec: 2 }, dev)).toMatchObject({ sizeBytes: MIB, timeMs: 2000, timeBased: false });
    expect(() => resolveWorkload({ rw: 'read', timeBased: true }, dev)).toThrow(/time_based needs a runtime/);
    expect(() => resolveWorkload({ rw: 'read', bs: '64k', size: '32k' }, dev)).toThrow(/larger than the region/);
  });
});

describe('runWorkload on a reordering in-memory device', () => {
  it('verifies randrw with mixed sizes, serializing overlapping I/O (seeded)', async () => {
    for (const seed of [1, 2, 3]) {
      const dev = new MemoryDevice(4 * MIB, 77, seed);
      const progress: number[] = [];
      const r = await runWorkload(
        dev,
        { rw: 'randrw', bssplit: '512/:4k/:64k/:256k/', iodepth: 16, size: '24m', seed, patternSeed: 77, blockAlign: 512 },
        { onProgress: (p) => progress.push(p.fraction), progressIntervalMs: 0 },
      );
      expect(dev.overlapViolations, `seed ${seed}`).toEqual([]);
      expect(r.ok, `seed ${seed}: ${JSON.stringify(r.verify.first)}`).toBe(true);
      expect(r.stoppedBy).toBe('size');
      expect(r.io.readBytes + r.io.writeBytes).toBeGreaterThanOrEqual(24 * MIB);
      expect(r.io.reads).toBeGreaterThan(0);
      expect(r.io.writes).toBeGreaterThan(0);
      expect(r.verify.bytes).toBe(r.io.readBytes);
      expect(r.verify.mismatches).toBe(0);
      expect(r.latency.samples).toBe(r.io.reads + r.io.writes);
      expect(dev.maxInflight).toBeGreaterThan(8);
      expect(progress.at(-1)).toBe(1);
    }
  });

  it('reports the first mismatching byte with its LBA', async () => {
    const dev = new MemoryDevice(1 * MIB, 5, 1);
    dev.corruptAt = 300_000;
    const r = await runWorkload(dev, { rw: 'read', bs: '64k', iodepth: 4, size: '1m', seed: 5 });
    expect(r.ok).toBe(false);
    expect(r.verify.mismatches).toBe(1);
    const m = r.verify.first[0]!;
    expect(m.byteOffset).toBe(300_000);
    expect(m.lba).toBe(Math.floor(300_000 / 512));
    expect(m.ioOffset).toBe(Math.floor(300_000 / 65536) * 65536);
    expect(m.content).toBe('pattern');
    expect(m.got).toBe(m.expected ^ 0x40);
    expect(r.verify.bytes).toBe(MIB - 65536);
  });

  it('finds one flipped byte anywhere in a 128 KiB read, at its exact offset', async () => {
    const rand = prng(17);
    const spots = [0, 1, 131071, 131072, 65535, 65536, 2 * MIB - 1];
    for (let k = 0; k < 12; k++) spots.push(Math.floor(rand() * 2 * MIB));
    for (const at of spots) {
      const dev = new MemoryDevice(2 * MIB, 6, 4);
      dev.corruptAt = at;
      const r = await runWorkload(dev, { rw: 'read', bs: '128k', iodepth: 4, size: '2m', seed: 6 });
      expect(r.verify.mismatches, `byte ${at}`).toBe(1);
      const m = r.verify.first[0]!;
      expect(m.byteOffset).toBe(at);
      expect(m.ioOffset).toBe(at - (at % 131072));
      expect(m.got).toBe(m.expected ^ 0x40);
      expect(r.verify.bytes).toBe(2 * MIB - 131072);
    }
  });

  it('fails a read that completes without delivering its data, even when the buffer held the right bytes before', async () => {
    const dev = new MemoryDevice(1 * MIB, 8, 5);
    // One slot reads the same 64 KiB twice: the second read leaves the buffer alone.
    dev.silentReads.add(2);
    const r = await runWorkload(dev, { rw: 'read', bs: '64k', iodepth: 1, size: '128k', range: '64k', seed: 8 });
    expect(r.io.reads).toBe(2);
    expect(r.verify.mismatches).toBe(1);
    const m = r.verify.first[0]!;
    expect(m.byteOffset).toBe(0);
    expect(m.got).toBe(0xa5); // the poison
    expect(m.expected).not.toBe(0xa5);
  });

  it('fails a read of another offset that delivers nothing: the buffer keeps the last range, whose pattern differs everywhere', async () => {
    const dev = new MemoryDevice(1 * MIB, 8, 5);
    // One slot: 64 KiB at 0 (verified, so no poison before the next read), then 64 KiB at 64 KiB that leaves the buffer alone.
    dev.silentReads.add(2);
    const r = await runWorkload(dev, { rw: 'read', bs: '64k', iodepth: 1, queues: 1, size: '128k', range: '128k', seed: 8 });
    expect(r.io.reads).toBe(2);
    expect(r.verify.mismatches).toBe(1);
    const m = r.verify.first[0]!;
    expect(m.ioOffset).toBe(65536);
    expect(m.byteOffset).toBe(65536);
    expect(m.got).toBe(dev.data[0]); // the first read's byte, still in the buffer
    expect(r.verify.bytes).toBe(65536);
  });

  it('poisons again before a read longer than the range the buffer holds', async () => {
    // One slot: 8 KiB at 0, 4 KiB at 8 KiB, then a silent 8 KiB at 0 (the sequential cursor wraps) — the
    // buffer's second 4 KiB still holds the first read's bytes, which are right for the third read.
    let seen = 0;
    for (let seed = 1; seed <= 64; seed++) {
      const dev = new MemoryDevice(1 * MIB, 8, 5);
      dev.silentReads.add(3);
      const r = await runWorkload(dev, { rw: 'read', bssplit: '4k/50:8k/50', iodepth: 1, queues: 1, size: '20k', range: '16k', seed, patternSeed: 8 });
      if (JSON.stringify(dev.readLog.slice(0, 3)) !== JSON.stringify([[0, 8192], [8192, 4096], [0, 8192]])) continue;
      seen++;
      expect(r.verify.mismatches).toBe(1);
      expect(r.verify.first[0]!.got).toBe(0xa5);
    }
    expect(seen).toBeGreaterThan(0);
  });

  it('flags blocks that differ from the pattern when this run did not write them', async () => {
    const dev = new MemoryDevice(1 * MIB, 5, 2);
    // Reads see stale data for one block: as if the target dropped a write.
    const r0 = await runWorkload(dev, { rw: 'write', bs: '4k', iodepth: 1, size: '8k', seed: 9, patternSeed: 5 });
    expect(r0.ok).toBe(true);
    dev.data.fill(0, 4096, 8192);
    const r = await runWorkload(dev, { rw: 'read', bs: '4k', iodepth: 1, size: '8k', seed: 9, patternSeed: 5 });
    // A fresh run does not know the first run's writes: it expects the pattern, and finds the first block's write.
    expect(r.verify.mismatches).toBe(2);
    expect(r.verify.first.map((m) => m.ioOffset)).toEqual([0, 4096]);
  });

  it('leaves the range of a failed write unverified and goes on without stopOnError', async () => {
    const dev = new MemoryDevice(256 * KIB, 3, 3);
    dev.failWriteAt = 0;
    const r = await runWorkload(dev, { rw: 'randrw', bs: '4k', iodepth: 8, size: '4m', seed: 3, patternSeed: 3, stopOnError: false, range: '64k' });
    expect(dev.overlapViolations).toEqual([]);
    expect(r.errors.count).toBeGreaterThan(0);
    expect(r.errors.first[0]).toMatch(/write of 4096 bytes at 0: injected write failure/);
    expect(r.verify.mismatches).toBe(0);
    expect(r.verify.unverifiableBytes).toBeGreaterThan(0);
    expect(r.ok).toBe(false);
    expect(r.stoppedBy).toBe('size');
  });

  it('stops at the first error with stopOnError', async () => {
    const dev = new MemoryDevice(256 * KIB, 3, 4);
    dev.failWriteAt = 0;
    const r = await runWorkload(dev, { rw: 'write', bs: '4k', iodepth: 4, size: '100m', seed: 3, range: '64k' });
    expect(r.stoppedBy).toBe('error');
    expect(r.errors.count).toBeGreaterThanOrEqual(1);
    expect(r.io.writeBytes).toBeLessThan(MIB);
  });

  it('reads sequentially through the range and wraps', async () => {
    const dev = new MemoryDevice(1 * MIB, 8, 5);
    const seen: number[] = [];
    const orig = dev.read.bind(dev);
    dev.read = (q, slba, buf) => {
      seen.push(slba);
      return orig(q, slba, buf);
    };
    const r = await runWorkload(dev, { rw: 'read', bs: '64k', iodepth: 1, size: '320k', offset: '128k', range: '192k', seed: 8 });
    expect(r.ok).toBe(true);
    expect(seen).toEqual([256, 384, 512, 256, 384]);
  });

  it('runs for a time bound and measures latency on the clock it is given', async () => {
    const dev = new MemoryDevice(1 * MIB, 8, 7);
    const clock = new VirtualClock();
    dev.onComplete = () => clock.advance(2); // every command takes 2 ms
    const r = await runWorkload(dev, { rw: 'randread', bs: '4k', iodepth: 1, queues: 1, timeSec: 0.1, seed: 8 }, { clock });
    expect(r.stoppedBy).toBe('time');
    expect(r.io.reads).toBe(50);
    expect(r.elapsedMs).toBe(100);
    expect(r.io.iops).toBe(500);
    expect(r.latency.p50Us).toBe(2000);
    expect(r.latency.p999Us).toBe(2000);
    expect(r.ok).toBe(true);
  });

  it('stops issuing when aborted', async () => {
    const dev = new MemoryDevice(1 * MIB, 8, 6);
    const ac = new AbortController();
    let ios = 0;
    const r = await runWorkload(dev, { rw: 'randread', bs: '4k', iodepth: 4, size: '1g', seed: 8 }, {
      signal: ac.signal,
      progressIntervalMs: 0,
      onProgress: (p) => {
        ios = p.ios;
        if (ios >= 100) ac.abort();
      },
    });
    expect(r.stoppedBy).toBe('aborted');
    expect(r.io.reads).toBeLessThan(200);
    expect(r.ok).toBe(true);
  });
  it("ramp_time: the lead-in is verified but not counted; the amount and the rates start after it", async () => {
    const dev = new MemoryDevice(1 * MIB, 8, 7);
    const clock = new VirtualClock();
    // A slow ramp: the first 10 commands take 10 ms each, later ones 2 ms (a JIT warming up, in miniature).
    let done = 0;
    dev.onComplete = () => clock.advance(++done <= 10 ? 10 : 2);
    const r = await runWorkload(dev, { rw: 'read', bs: '4k', iodepth: 1, queues: 1, size: '1m', ioSize: '64k', rampTimeSec: 0.1, seed: 8 }, { clock });
    expect(r.ok).toBe(true);
    expect(r.stoppedBy).toBe('size');
    // The ramp: 10 reads of 10 ms (100 ms), reported apart.
    expect(r.ramp).toEqual({ reads: 10, writes: 0, readBytes: 40 * KIB, writeBytes: 0, elapsedMs: 100 });
    // Counted: the whole amount after the ramp, at the steady 2 ms a read.
    expect(r.io.readBytes).toBe(64 * KIB);
    expect(r.io.reads).toBe(16);
    expect(r.elapsedMs).toBe(32);
    expect(r.io.iops).toBe(500);
    expect(r.latency.p999Us).toBe(2000);
    // Every byte read was verified, the ramp's included; the sequential cursor went on past it.
    expect(r.verify.bytes).toBe(104 * KIB);
    expect(dev.readLog.map(([at]) => at)).toEqual(Array.from({ length: 26 }, (_, i) => i * 4 * KIB));
    expect(r.job.rampMs).toBe(100);
  });

  it('ramp_time with many in flight: the counted part is exactly the amount, whatever completes around the ramp end', async () => {
    for (const seed of [1, 2, 3]) {
      const dev = new MemoryDevice(4 * MIB, 8, seed);
      const clock = new VirtualClock();
      dev.onComplete = () => clock.advance(1);
      const r = await runWorkload(dev, { rw: 'read', bs: '4k', iodepth: 16, queues: 2, size: '4m', ioSize: '512k', rampTimeSec: 0.05, seed: 8 }, { clock });
      expect(r.ok).toBe(true);
      expect(r.io.readBytes).toBe(512 * KIB);
      expect(r.ramp!.readBytes).toBeGreaterThan(0);
      expect(r.verify.bytes).toBe(r.ramp!.readBytes + r.io.readBytes);
    }
  });

  it('ramp_time: a bad byte during the ramp still fails the run', async () => {
    const dev = new MemoryDevice(1 * MIB, 8, 7);
    const clock = new VirtualClock();
    dev.onComplete = () => clock.advance(10);
    dev.corruptAt = 4 * KIB + 7;
    const r = await runWorkload(dev, { rw: 'read', bs: '4k', iodepth: 1, queues: 1, size: '1m', ioSize: '64k', rampTimeSec: 0.1, seed: 8 }, { clock });
    expect(r.ok).toBe(false);
    expect(r.verify.mismatches).toBe(1);
    expect(r.verify.first[0]).toMatchObject({ byteOffset: 4 * KIB + 7 });
    // The bad read was in the ramp (the first 10 reads); the counted part read other blocks.
    expect(r.ramp).toMatchObject({ reads: 10 });
    expect(r.io.reads).toBe(16);
  });

  it('ramp_time with a runtime: the runtime starts when the ramp ends (a lead-in, as in fio)', async () => {
    const dev = new MemoryDevice(1 * MIB, 8, 7);
    const clock = new VirtualClock();
    dev.onComplete = () => clock.advance(2);
    const r = await runWorkload(dev, { rw: 'randread', bs: '4k', iodepth: 1, queues: 1, timeSec: 0.1, rampTimeSec: 0.05, seed: 8 }, { clock });
    expect(r.stoppedBy).toBe('time');
    expect(r.ramp).toMatchObject({ reads: 25, elapsedMs: 50 });
    expect(r.io.reads).toBe(50);
    expect(r.elapsedMs).toBe(100);
  });

  it('refuses a ramp_time that is negative or not a number', () => {
    const dev = { queues: 1, queueDepth: 32, lbaSizeBytes: 512, nsSizeBytes: MIB, maxTransferBytes: MIB };
    expect(() => resolveWorkload({ rw: 'read', rampTimeSec: -1 }, dev)).toThrow(WorkloadOptionError);
    expect(() => resolveWorkload({ rw: 'read', rampTimeSec: Number.NaN }, dev)).toThrow(/ramp_time NaN s is not a number >= 0/);
    expect(resolveWorkload({ rw: 'read' }, dev).rampMs).toBe(0);
  });
});
