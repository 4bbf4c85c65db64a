/**
 * The fio-like job engine: keeps `iodepth` commands in flight on each of
 * `queues` I/O queues, picks directions, sizes and offsets from a seeded
 * generator, verifies every byte it reads, and reports throughput, latency
 * percentiles and verification results.
 *
 * Verification. The expected content of any byte is known without keeping
 * data: blocks this run never wrote hold the target's pattern(patternSeed,
 * offset); a write fills its buffer with pattern(writeSeed, offset) for a
 * fresh writeSeed and, once it completes, the extent map (written-extents.ts)
 * records that seed for its range. A read is compared piece by piece with
 * whichever pattern each piece should hold, without building an expected
 * copy. A failed write leaves its range unknown (not verified, counted).
 * Against a target ddplab did not start, the content of unwritten blocks is
 * a known image (compared byte for byte) or unknown (only this run's writes
 * are checked; `prefill` first writes the whole range so every read is).
 *
 * Ordering. As fio's verify does, I/Os that overlap are serialized whenever
 * one of them writes: a new I/O is registered as soon as it is generated and
 * waits for every registered, overlapping I/O it conflicts with. Waits only
 * point at earlier I/Os, so there is no deadlock, and while a read is in
 * flight no write to its blocks can be, so the extent map at its completion
 * is exactly what the target held.
 */
import { fillPattern, findPatternMismatch } from '../../wire/block-pattern.js';
import { RealClock, type Clock } from '../net/clock.js';
import { LatencyHistogram, type LatencyNs, type LatencySummary } from './latency-histogram.js';
import type { NvmeController } from '../nvme/controller.js';
import { EXTENT_UNKNOWN, WrittenExtents } from './written-extents.js';
import { Xoshiro128ss } from '../../base/seeded-rng.js';
import { RandomSlotOrder } from './random-map.js';
import { resolveWorkload, type BlockImage, type ResolvedWorkload, type WorkloadDeviceGeometry, type WorkloadOptions } from './options.js';

/** Where a workload's I/O goes: an NvmeController (controllerDevice) or a test double. */
export interface WorkloadDevice extends WorkloadDeviceGeometry {
  /** Reads buf.length bytes at LBA `slba` on queue `queue` (0-based); rejects on any failure. */
  read(queue: number, slba: number, buf: Buffer): Promise<unknown>;
  /** Writes `buf` at LBA `slba` on queue `queue`; rejects on any failure. */
  write(queue: number, slba: number, buf: Buffer): Promise<unknown>;
}

/** The controller's I/O queues as a workload device. */
export function controllerDevice(ctrl: NvmeController): WorkloadDevice {
  return {
    queues: ctrl.ioQueues.length,
    queueDepth: ctrl.info.queueDepth,
    lbaSizeBytes: ctrl.info.lbaSizeBytes,
    nsSizeBytes: ctrl.info.nsSizeBytes,
    maxTransferBytes: ctrl.info.maxTransferBytes,
    read: (queue, slba, buf) => ctrl.read(queue, slba, buf),
    write: (queue, slba, buf) => ctrl.write(queue, slba, buf),
  };
}

export interface WorkloadProgress {
  readonly elapsedMs: number;
  readonly ios: number;
  /** Bytes completed (read + written). */
  readonly bytes: number;
  /** 0..1 of the size or time bound, whichever is nearer. */
  readonly fraction: number;
  readonly mismatches: number;
  readonly errors: number;
}

export interface WorkloadRunOptions {
  readonly clock?: Clock;
  readonly onProgress?: (p: WorkloadProgress) => void;
  /** Least time between progress callbacks (default 200 ms); a last one comes at the end. */
  readonly progressIntervalMs?: number;
  /** Stops issuing when aborted; in-flight I/O completes and the report says 'aborted'. */
  readonly signal?: AbortSignal;
}

/** The first bad byte of a read that did not verify. */
export interface WorkloadMismatch {
  readonly queue: number;
  /** The read: first byte and length. */
  readonly ioOffset: number;
  readonly ioLength: number;
  /** Absolute byte offset of the first differing byte, and its LBA. */
  readonly byteOffset: number;
  readonly lba: number;
  readonly expected: number;
  readonly got: number;
  /** Which content was expected there: the target's pattern, this run's write, or the known image. */
  readonly content: 'pattern' | 'written' | 'image';
}

/** One direction's results, in fio's units (the per-direction blocks of its report). */
export interface WorkloadDirStats {
  /** Completed I/Os. */
  readonly ios: number;
  readonly bytes: number;
  /** How long the direction ran: the job's elapsed time, ms. */
  readonly runtimeMs: number;
  readonly iops: number;
  /** Bytes per second. */
  readonly bwBytes: number;
  /** Completion latency, submission to completion, ns. */
  readonly clatNs: LatencyNs;
}

export interface WorkloadReport {
  /** No mismatch and no error. */
  readonly ok: boolean;
  readonly stoppedBy: 'size' | 'time' | 'error' | 'aborted';
  readonly elapsedMs: number;
  readonly io: {
    readonly reads: number;
    readonly writes: number;
    readonly readBytes: number;
    readonly writeBytes: number;
    readonly iops: number;
    /** (read + write bytes) / 10^6 per second. */
    readonly MBps: number;
    readonly readMBps: number;
    readonly writeMBps: number;
  };
  /** Completion latency of all I/Os (µs). */
  readonly latency: LatencySummary;
  readonly readLatency: LatencySummary;
  readonly writeLatency: LatencySummary;
  /** Reads and writes apart, as fio reports them (ns). */
  readonly read: WorkloadDirStats;
  readonly write: WorkloadDirStats;
  readonly verify: {
    readonly enabled: boolean;
    /** Bytes read and found equal to what was expected. */
    readonly bytes: number;
    /** Bytes read from ranges whose write failed (not checkable). */
    readonly unverifiableBytes: number;
    /** Reads with at least one wrong byte. */
    readonly mismatches: number;
    readonly first: readonly WorkloadMismatch[];
  };
  readonly errors: {
    readonly count: number;
    readonly first: readonly string[];
  };
  /** The prefill pass (job.prefill): writes before the job; not in `io`, `latency` or `elapsedMs`. */
  readonly prefill?: { readonly writes: number; readonly writeBytes: number; readonly elapsedMs: number };
  /**
   * The ramp (job.rampMs, fio's ramp_time): I/O before counting began,
   * verified (in `verify`) but not in `io`, the latencies or `elapsedMs`.
   */
  readonly ramp?: WorkloadRampStats;
  /** The job as resolved (defaults filled). */
  readonly job: ResolvedWorkload;
}

export interface WorkloadRampStats {
  readonly reads: number;
  readonly writes: number;
  readonly readBytes: number;
  readonly writeBytes: number;
  readonly elapsedMs: number;
}

interface PlannedIo {
  readonly write: boolean;
  readonly start: number;
  readonly len: number;
  readonly writeSeed: number;
}

/** A registered I/O other I/Os may have to wait for. */
interface TrackedIo {
  readonly start: number;
  readonly end: number;
  readonly write: boolean;
  readonly done: Promise<void>;
  readonly release: () => void;
}

class WorkloadEngine {
  /** The job's choices: the same seed, the same I/O sequence. */
  private readonly rng: Xoshiro128ss;
  private readonly extents = new WrittenExtents();
  private readonly tracked: TrackedIo[] = [];
  private readonly weightRead: number;
  private readonly weightWrite: number;
  /** This pass of the random map (random jobs). */
  private randomOrder: RandomSlotOrder | undefined;
  private seqCursor: number;
  private issuedBytes = 0;
  /** Bytes of I/Os issued and not finished (at the ramp's end they count towards the amount). */
  private inflightBytes = 0;
  /** When counting starts: the job's start plus its ramp (then startMs moves there). */
  private rampEndMs = 0;
  private ramping = false;
  private rampStats: WorkloadRampStats | undefined;
  private jobStartMs = 0;
  private startMs = 0;
  private lastProgressMs = -Infinity;
  private stoppedBy: WorkloadReport['stoppedBy'] | undefined;

  private reads = 0;
  private writes = 0;
  private readBytes = 0;
  private writeBytes = 0;
  private latAll = new LatencyHistogram();
  private latRead = new LatencyHistogram();
  private latWrite = new LatencyHistogram();
  private verifiedBytes = 0;
  private unverifiableBytes = 0;
  private mismatches = 0;
  private readonly firstMismatches: WorkloadMismatch[] = [];
  private errorCount = 0;
  private readonly firstErrors: string[] = [];
  private prefillStats: { writes: number; writeBytes: number; elapsedMs: number } | undefined;
  /** Expected bytes of a read from the baseline image (verify is synchronous, so one buffer serves every slot). */
  private imageScratch: Buffer | undefined;
  /**
   * The pattern range a slot buffer holds as its last I/O left it (a write's
   * data, or a read that verified whole). A read of another offset into it
   * needs no poison: no byte of the old range's pattern is where the new
   * range's pattern has it (the pattern hashes each word's position), so
   * bytes a read did not deliver still fail verification. Poisoned as
   * before: a buffer of unknown content, the same offset again, a longer
   * read than the held range, and image baselines.
   */
  private readonly heldPattern = new WeakMap<Buffer, { readonly start: number; readonly len: number }>();
  /** POISON_BYTE × the largest block, copied over each read buffer before the read (see poison()). */
  private poisonSource: Buffer | undefined;

  constructor(
    private readonly dev: WorkloadDevice,
    private readonly job: ResolvedWorkload,
    private readonly clock: Clock,
    private readonly run: WorkloadRunOptions,
  ) {
    this.rng = new Xoshiro128ss(job.seed);
    this.seqCursor = job.offsetBytes;
    const total = (list: readonly { weight: number }[]): number => list.reduce((a, b) => a + b.weight, 0);
    this.weightRead = total(job.bsByDir.read);
    this.weightWrite = total(job.bsByDir.write);
  }

  async execute(): Promise<WorkloadReport> {
    if (this.job.prefill) await this.prefill();
    this.startMs = this.clock.nowMs();
    this.jobStartMs = this.startMs;
    this.ramping = this.job.rampMs > 0;
    this.rampEndMs = this.startMs + this.job.rampMs;
    const slots: Promise<void>[] = [];
    for (let q = 0; q < this.job.queues; q++) {
      for (let d = 0; d < this.job.iodepth; d++) slots.push(this.slot(q, sharedBuffer(this.job.maxBlockBytes)));
    }
    await Promise.all(slots);
    // Stopped (an error, an abort) before the ramp ended: what ran was all ramp.
    if (this.ramping) this.endRamp(this.clock.nowMs());
    this.progress(true);
    return this.report();
  }

  /**
   * Writes [offset, offset + range) once, in order, `iodepth` writes per
   * queue in flight, each with a fresh seed recorded in the extent map.
   * Chunks are the largest block size but at least 128 KiB (fewer commands),
   * within the device's largest transfer.
   */
  private async prefill(): Promise<void> {
    const job = this.job;
    const t0 = this.clock.nowMs();
    const end = job.offsetBytes + job.rangeBytes;
    const lba = this.dev.lbaSizeBytes;
    const chunk = Math.min(Math.max(job.maxBlockBytes, Math.ceil((128 * 1024) / lba) * lba), Math.floor(this.dev.maxTransferBytes / lba) * lba, job.rangeBytes);
    const stats = { writes: 0, writeBytes: 0, elapsedMs: 0 };
    this.prefillStats = stats;
    let cursor = job.offsetBytes;
    const slot = async (queue: number, buf: Buffer): Promise<void> => {
      while (cursor < end && this.stoppedBy === undefined) {
        if (this.run.signal?.aborted === true) {
          this.stoppedBy = 'aborted';
          break;
        }
        const start = cursor;
        const len = Math.min(chunk, end - start);
        cursor += len;
        let writeSeed = this.rng.u32();
        if (writeSeed === job.patternSeed) writeSeed = (writeSeed + 1) >>> 0;
        const view = buf.subarray(0, len);
        fillPattern(writeSeed, start, view);
        try {
          await this.dev.write(queue, start / lba, view);
        } catch (e) {
          this.extents.set(start, start + len, EXTENT_UNKNOWN);
          this.onError('write', { write: true, start, len, writeSeed }, e);
          continue;
        }
        stats.writes++;
        stats.writeBytes += len;
        this.extents.set(start, start + len, writeSeed);
      }
    };
    const slots: Promise<void>[] = [];
    for (let q = 0; q < job.queues; q++) {
      for (let d = 0; d < job.iodepth; d++) slots.push(slot(q, sharedBuffer(chunk)));
    }
    await Promise.all(slots);
    stats.elapsedMs = this.clock.nowMs() - t0;
  }

  /** One in-flight position: issue, wait, verify, repeat. */
  private async slot(queue: number, buf: Buffer): Promise<void> {
    while (!this.shouldStop()) {
      const io = this.plan();
      this.issuedBytes += io.len;
      this.inflightBytes += io.len;
      const me = this.track(io);
      const waits = this.conflicts(me);
      if (waits.length > 0) await Promise.all(waits);
      // Out of flight the moment the device answers, in the same step that counts it (ramp or counted part).
      let flying = true;
      const landed = (): void => {
        if (!flying) return;
        flying = false;
        this.inflightBytes -= io.len;
      };
      try {
        if (this.stoppedBy === 'error' || this.stoppedBy === 'aborted') break;
        await (io.write ? this.doWrite(queue, io, buf, landed) : this.doRead(queue, io, buf, landed));
      } finally {
        landed();
        this.untrack(me);
      }
      this.progress(false);
    }
  }

  /**
   * The ramp is over (fio's ramp_time): what ran so far goes into `ramp`, and
   * counting starts now: counts, latencies and the clock from zero, and the
   * amount from the bytes still in flight (they complete in the counted part).
   */
  private endRamp(now: number): void {
    this.ramping = false;
    this.rampStats = { reads: this.reads, writes: this.writes, readBytes: this.readBytes, writeBytes: this.writeBytes, elapsedMs: now - this.startMs };
    this.reads = 0;
    this.writes = 0;
    this.readBytes = 0;
    this.writeBytes = 0;
    this.latAll = new LatencyHistogram();
    this.latRead = new LatencyHistogram();
    this.latWrite = new LatencyHistogram();
    this.issuedBytes = this.inflightBytes;
    this.startMs = now;
  }

  private shouldStop(): boolean {
    if (this.stoppedBy !== undefined) return true;
    if (this.ramping) {
      const now = this.clock.nowMs();
      if (now < this.rampEndMs) {
        // A lead-in: neither the amount nor the runtime counts yet.
        if (this.run.signal?.aborted === true) this.stoppedBy = 'aborted';
        return this.stoppedBy !== undefined;
      }
      this.endRamp(now);
    }
    if (this.run.signal?.aborted === true) this.stoppedBy = 'aborted';
    else if (this.issuedBytes >= this.job.sizeBytes) this.stoppedBy = 'size';
    else if (this.clock.nowMs() - this.startMs >= this.job.timeMs) this.stoppedBy = 'time';
    return this.stoppedBy !== undefined;
  }

  private plan(): PlannedIo {
    const job = this.job;
    const write = job.readPct === 100 ? false : job.readPct === 0 ? true : this.rng.float() * 100 >= job.readPct;
    const sizes = write ? job.bsByDir.write : job.bsByDir.read;
    let len = sizes[0]!.bytes;
    if (sizes.length > 1) {
      let pick = this.rng.float() * (write ? this.weightWrite : this.weightRead);
      for (const b of sizes) {
        len = b.bytes;
        pick -= b.weight;
        if (pick < 0) break;
      }
    }
    let start: number;
    if (job.random) {
      start = job.offsetBytes + job.alignBytes * this.nextRandomSlot(len);
    } else {
      // Sequential: wrap to the start of the range when the next block would not fit.
      if (this.seqCursor + len > job.offsetBytes + job.rangeBytes) this.seqCursor = job.offsetBytes;
      start = this.seqCursor;
      this.seqCursor += len;
    }
    let writeSeed = 0;
    if (write) {
      writeSeed = this.rng.u32();
      // A write must be distinguishable from the unwritten pattern.
      if (writeSeed === job.patternSeed) writeSeed = (writeSeed + 1) >>> 0;
    }
    return { write, start, len, writeSeed };
  }

  /**
   * The next slot of the random map whose block of `len` fits in the region;
   * when a pass has used every slot, a new pass (a new permutation) starts,
   * as fio resets its map.
   */
  private nextRandomSlot(len: number): number {
    const job = this.job;
    const fits = (slot: number): boolean => slot * job.alignBytes + len <= job.rangeBytes;
    for (;;) {
      this.randomOrder ??= new RandomSlotOrder(Math.max(1, Math.floor(job.rangeBytes / job.alignBytes)), this.rng);
      for (let slot = this.randomOrder.take(); slot !== undefined; slot = this.randomOrder.take()) if (fits(slot)) return slot;
      this.randomOrder = undefined;
    }
  }

  private track(io: PlannedIo): TrackedIo {
    let release!: () => void;
    const done = new Promise<void>((r) => (release = r));
    const t: TrackedIo = { start: io.start, end: io.start + io.len, write: io.write, done, release };
    this.tracked.push(t);
    return t;
  }

  /** Earlier registered I/Os that overlap `me` where either writes. */
  private conflicts(me: TrackedIo): Promise<void>[] {
    const out: Promise<void>[] = [];
    for (let i = 0; i < this.tracked.length; i++) {
      const t = this.tracked[i]!;
      if (t === me) break; // only earlier ones: they were pushed before
      if ((t.write || me.write) && t.start < me.end && me.start < t.end) out.push(t.done);
    }
    return out;
  }

  private untrack(t: TrackedIo): void {
    const i = this.tracked.indexOf(t);
    if (i >= 0) this.tracked.splice(i, 1);
    t.release();
  }

  private async doRead(queue: number, io: PlannedIo, buf: Buffer, landed: () => void): Promise<void> {
    const view = buf.subarray(0, io.len);
    // Poison: a read that "succeeds" without delivering data must not verify against stale bytes.
    const held = this.heldPattern.get(buf);
    this.heldPattern.delete(buf);
    if (this.job.verify && (held === undefined || held.start === io.start || held.len < io.len)) this.poison(view);
    const t0 = this.clock.nowMs();
    try {
      await this.dev.read(queue, io.start / this.dev.lbaSizeBytes, view);
    } catch (e) {
      landed();
      this.onError('read', io, e);
      return;
    }
    landed();
    this.readBytes += io.len;
    this.reads++;
    this.recordLatency(this.latRead, t0);
    if (this.job.verify && this.verify(queue, io, view) && this.job.baseline.kind !== 'image') this.heldPattern.set(buf, { start: io.start, len: io.len });
  }

  /**
   * Sets every byte of `view` to POISON_BYTE. The slot buffers live in a
   * SharedArrayBuffer, where Buffer#fill stores byte by byte with relaxed
   * atomics (~40 times a memset: 4.7% of the host's CPU in a read run);
   * copying from an ordinary buffer moves aligned 8-byte words instead.
   */
  private poison(view: Buffer): void {
    if (this.poisonSource === undefined || this.poisonSource.length < view.length) {
      this.poisonSource = Buffer.alloc(Math.max(view.length, this.job.maxBlockBytes), POISON_BYTE);
    }
    view.set(this.poisonSource.subarray(0, view.length));
  }

  /** An I/O that started at `t0` completed: its latency goes into the overall and the per-direction histogram. */
  private recordLatency(perDir: LatencyHistogram, t0: number): void {
    const us = (this.clock.nowMs() - t0) * 1000;
    this.latAll.recordUs(us);
    perDir.recordUs(us);
  }

  private async doWrite(queue: number, io: PlannedIo, buf: Buffer, landed: () => void): Promise<void> {
    const view = buf.subarray(0, io.len);
    fillPattern(io.writeSeed, io.start, view);
    this.heldPattern.set(buf, { start: io.start, len: io.len });
    const t0 = this.clock.nowMs();
    try {
      await this.dev.write(queue, io.start / this.dev.lbaSizeBytes, view);
    } catch (e) {
      landed();
      this.extents.set(io.start, io.start + io.len, EXTENT_UNKNOWN);
      this.onError('write', io, e);
      return;
    }
    landed();
    this.writeBytes += io.len;
    this.writes++;
    this.recordLatency(this.latWrite, t0);
    this.extents.set(io.start, io.start + io.len, io.writeSeed);
  }

  /** Checks a read's bytes against what the range holds; true when every byte was verified and matched. */
  private verify(queue: number, io: PlannedIo, data: Buffer): boolean {
    const baseline = this.job.baseline;
    let all = true;
    for (const piece of this.extents.pieces(io.start, io.start + io.len)) {
      const len = piece.end - piece.start;
      if (piece.seed === EXTENT_UNKNOWN || (piece.seed === undefined && baseline.kind === 'unknown')) {
        this.unverifiableBytes += len;
        all = false;
        continue;
      }
      const seed = piece.seed ?? this.job.patternSeed;
      const at = piece.start - io.start;
      const got = data.subarray(at, at + len);
      const fromImage = piece.seed === undefined && baseline.kind === 'image' ? baseline.image : undefined;
      const bad = fromImage !== undefined ? this.imageMismatch(fromImage, piece.start, got) : findPatternMismatch(seed, piece.start, got);
      if (bad < 0) {
        this.verifiedBytes += len;
        continue;
      }
      this.mismatches++;
      if (this.firstMismatches.length < this.job.reportFirst) {
        const byteOffset = piece.start + bad;
        const one = Buffer.alloc(1);
        if (fromImage !== undefined) fromImage.read(byteOffset, one);
        else fillPattern(seed, byteOffset, one);
        this.firstMismatches.push({
          queue,
          ioOffset: io.start,
          ioLength: io.len,
          byteOffset,
          lba: Math.floor(byteOffset / this.dev.lbaSizeBytes),
          expected: one[0]!,
          got: data[at + bad]!,
          content: piece.seed !== undefined ? 'written' : fromImage !== undefined ? 'image' : 'pattern',
        });
      }
      return false;
    }
    return all;
  }

  /** Index of the first byte of `got` that differs from the image at `byteOffset`, or -1. */
  private imageMismatch(image: BlockImage, byteOffset: number, got: Buffer): number {
    if (this.imageScratch === undefined || this.imageScratch.length < got.length) this.imageScratch = Buffer.allocUnsafe(this.job.maxBlockBytes);
    const expected = this.imageScratch.subarray(0, got.length);
    image.read(byteOffset, expected);
    if (expected.equals(got)) return -1;
    for (let i = 0; i < got.length; i++) if (got[i] !== expected[i]) return i;
    return -1;
  }

  private onError(what: 'read' | 'write', io: PlannedIo, e: unknown): void {
    this.errorCount++;
    if (this.firstErrors.length < this.job.reportFirst) {
      const msg = e instanceof Error ? e.message : String(e);
      this.firstErrors.push(`${what} of ${io.len} bytes at ${io.start}: ${msg}`);
    }
    if (this.job.stopOnError && this.stoppedBy === undefined) this.stoppedBy = 'error';
  }

  private progress(final: boolean): void {
    const cb = this.run.onProgress;
    if (cb === undefined) return;
    const now = this.clock.nowMs();
    if (!final && now - this.lastProgressMs < (this.run.progressIntervalMs ?? 200)) return;
    this.lastProgressMs = now;
    const counted = this.readBytes + this.writeBytes;
    const bySize = Number.isFinite(this.job.sizeBytes) ? counted / this.job.sizeBytes : 0;
    const byTime = Number.isFinite(this.job.timeMs) ? (now - this.startMs) / this.job.timeMs : 0;
    // Progress counts from the job's start, the ramp included; the fraction is of the counted part (0 during the ramp).
    const ramp = this.rampStats;
    cb({
      elapsedMs: now - this.jobStartMs,
      ios: this.reads + this.writes + (ramp !== undefined ? ramp.reads + ramp.writes : 0),
      bytes: counted + (ramp !== undefined ? ramp.readBytes + ramp.writeBytes : 0),
      fraction:
        final && this.stoppedBy !== 'error' && this.stoppedBy !== 'aborted' ? 1 : this.ramping ? 0 : Math.min(1, Math.max(bySize, byTime)),
      mismatches: this.mismatches,
      errors: this.errorCount,
    });
  }

  private report(): WorkloadReport {
    const elapsedMs = this.clock.nowMs() - this.startMs;
    const sec = elapsedMs / 1000;
    const rate = (n: number): number => (sec > 0 ? n / sec : 0);
    return {
      ok: this.mismatches === 0 && this.errorCount === 0,
      stoppedBy: this.stoppedBy ?? 'size',
      elapsedMs,
      io: {
        reads: this.reads,
        writes: this.writes,
        readBytes: this.readBytes,
        writeBytes: this.writeBytes,
        iops: rate(this.reads + this.writes),
        MBps: rate(this.readBytes + this.writeBytes) / 1e6,
        readMBps: rate(this.readBytes) / 1e6,
        writeMBps: rate(this.writeBytes) / 1e6,
      },
      latency: this.latAll.summary(),
      readLatency: this.latRead.summary(),
      writeLatency: this.latWrite.summary(),
      read: dirStats(this.reads, this.readBytes, elapsedMs, this.latRead),
      write: dirStats(this.writes, this.writeBytes, elapsedMs, this.latWrite),
      verify: {
        enabled: this.job.verify,
        bytes: this.verifiedBytes,
        unverifiableBytes: this.unverifiableBytes,
        mismatches: this.mismatches,
        first: this.firstMismatches,
      },
      errors: { count: this.errorCount, first: this.firstErrors },
      ...(this.prefillStats !== undefined ? { prefill: this.prefillStats } : {}),
      ...(this.rampStats !== undefined ? { ramp: this.rampStats } : {}),
      job: this.job,
    };
  }
}

function dirStats(ios: number, bytes: number, elapsedMs: number, lat: LatencyHistogram): WorkloadDirStats {
  const sec = elapsedMs / 1000;
  return { ios, bytes, runtimeMs: elapsedMs, iops: sec > 0 ? ios / sec : 0, bwBytes: sec > 0 ? bytes / sec : 0, clatNs: lat.fioNs() };
}

/**
 * Runs a workload to its size or time bound (or the first error, or an
 * abort) and reports. Throws WorkloadOptionError for a job the device
 * cannot run; I/O failures are counted in the report, never thrown.
 */
export async function runWorkload(dev: WorkloadDevice, opts: WorkloadOptions, run: WorkloadRunOptions = {}): Promise<WorkloadReport> {
  const job = resolveWorkload(opts, dev);
  return new WorkloadEngine(dev, job, run.clock ?? new RealClock(), run).execute();
}

/** What a read buffer holds before the read: bytes the device did not deliver cannot verify as stale data of an earlier read. */
const POISON_BYTE = 0xa5;

/**
 * A read/write slot's buffer in shared memory: a NIC on its own thread
 * (nicemu/thread) places C2HData straight into it, as DMA writes host memory
 * the driver registered. In one thread it is an ordinary buffer.
 */
function sharedBuffer(bytes: number): Buffer {
  return Buffer.from(new SharedArrayBuffer(bytes));
}
