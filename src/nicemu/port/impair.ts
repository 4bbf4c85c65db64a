/**
 * The impairment stage: a Port decorator that loses, reorders, duplicates and
 * corrupts frames, seeded, so that a run under loss can be repeated exactly
 * (docs/design.md, "The picture": "optional Impairment stage"). The kernel in this
 * lab has no netem; this is ddplab's own, and it sits where a lossy wire
 * would: between the interface and the software NIC.
 *
 * Each direction has its own spec and its own decisions:
 *   rx  frames from the wire toward the host (what the NIC receives)
 *   tx  frames the host sends toward the wire
 *
 * Per frame, in this order (as netem applies loss before corruption before
 * duplication before reordering):
 *   1. bursty loss — a Gilbert-Elliott chain: each frame first moves the
 *      chain (good→bad with pGoodToBad, bad→good with pBadToGood), then is
 *      lost with lossBad or lossGood of the state it is in. Mean burst length
 *      in the bad state is 1/pBadToGood frames.
 *   2. drop — independent loss with probability `drop`.
 *   3. corrupt — one bit flipped inside the IPv4 payload (TCP header or data).
 *      One flipped bit always changes the ones'-complement sum (it moves one
 *      16-bit word by ±2^k, never by a multiple of 0xffff), so the receiver's
 *      TCP checksum check always catches it: the software NIC counts
 *      rx_csum_errors, the target's kernel TcpInCsumErrors. Frames that are
 *      not IPv4 with payload (ARP) pass unchanged, counted corruptSkipped.
 *   4. duplicate — the frame goes out twice, back to back.
 *   5. reorder — the frame is held back and leaves after `reorderDepth`
 *      later frames of the same direction have arrived, or after
 *      `reorderUs`, whichever comes first (either may be given alone).
 *      With a depth only, a frame is still released after
 *      REORDER_DEPTH_MAX_HOLD_US: at the tail of a burst no later frames
 *      come, and reordering must not turn into loss plus an RTO.
 *
 * Every kind of decision has its own PRNG stream, derived from the one seed,
 * the direction and the kind, and advanced exactly once per frame seen
 * whatever the other kinds decided: the drops of a run are the same frames
 * whether reordering is on or off, and the same seed on the same frame
 * sequence makes the same decisions (test/nicemu/port/impair.test.ts).
 *
 * Cost per frame: one PRNG step (a few integer operations) per enabled kind
 * and a compare against a precomputed threshold; a frame that passes
 * unharmed is handed on as the same RxFrame object, and a received batch in
 * which nothing happened is handed on as the same array. Held frames are
 * released on later frames (depth) or by one timer per direction (time),
 * never lost: close() flushes them (counted flushedAtClose).
 */
import { ETHERTYPE_IPV4, parseEthernet } from '../../wire/ethernet.js';
import { parseIpv4 } from '../../wire/ipv4.js';
import { WireError } from '../../wire/errors.js';
import type { Port, PortStats, RxConsumer, RxFrame } from './port.js';
import { DdplabError } from '../../base/errors.js';
import { mix32, SplitMix32 } from '../../base/seeded-rng.js';

/** Bursty loss after Gilbert and Elliott (netem's `loss gemodel p r 1-h 1-k`). */
export interface GilbertElliott {
  /** Probability per frame of moving from the good to the bad state (netem p). */
  readonly pGoodToBad: number;
  /** Probability per frame of moving from the bad to the good state (netem r); mean burst 1/r frames. */
  readonly pBadToGood: number;
  /** Loss probability in the bad state (netem 1-h); default 1. */
  readonly lossBad?: number;
  /** Loss probability in the good state (netem 1-k); default 0. */
  readonly lossGood?: number;
}

/** What one direction does to its frames; every probability is per frame, 0..1, default 0. */
export interface ImpairSpec {
  readonly drop?: number;
  readonly burst?: GilbertElliott;
  readonly reorder?: number;
  /** A reordered frame leaves after this many later frames (default DEFAULT_REORDER_DEPTH when reorderUs is not given). */
  readonly reorderDepth?: number;
  /** A reordered frame leaves after this many µs. */
  readonly reorderUs?: number;
  readonly dup?: number;
  readonly corrupt?: number;
}

export interface ImpairConfig {
  /** The one seed every decision stream derives from. */
  readonly seed: number;
  /** Frames toward the host (from the wire into the NIC). */
  readonly rx?: ImpairSpec;
  /** Frames the host sends. */
  readonly tx?: ImpairSpec;
}

export type ImpairDirection = 'rx' | 'tx';

/** What one direction did (monotonic counters, except `held`). */
export interface ImpairStats {
  /** Frames that entered the stage. */
  frames: number;
  /** Frames handed on, duplicates included. */
  passed: number;
  /** Frames lost to independent drop. */
  dropped: number;
  /** Frames lost to the Gilbert-Elliott chain. */
  burstDropped: number;
  /** Good→bad transitions of the chain (bursts begun). */
  burstEpisodes: number;
  /** Frames with one bit flipped in the IPv4 payload. */
  corrupted: number;
  /** Frames chosen for corruption that carry no IPv4 payload (passed unchanged). */
  corruptSkipped: number;
  /** Frames sent twice (the extra copies). */
  duplicated: number;
  /** Frames held back. */
  reordered: number;
  /** Held frames released by time rather than by later frames. */
  releasedByTime: number;
  /** Held frames handed on at close(). */
  flushedAtClose: number;
  /** Frames held right now. */
  held: number;
}

export function newImpairStats(): ImpairStats {
  return {
    frames: 0,
    passed: 0,
    dropped: 0,
    burstDropped: 0,
    burstEpisodes: 0,
    corrupted: 0,
    corruptSkipped: 0,
    duplicated: 0,
    reordered: 0,
    releasedByTime: 0,
    flushedAtClose: 0,
    held: 0,
  };
}

/** Frames lost inside the stage (dropped, burst-dropped) plus frames corrupted (the receiver drops those). */
export function impairLossEvents(s: Readonly<ImpairStats>): number {
  return s.dropped + s.burstDropped + s.corrupted;
}

export const DEFAULT_REORDER_DEPTH = 3;
/** Longest a frame held for a depth waits for its later frames (see the file comment). */
export const REORDER_DEPTH_MAX_HOLD_US = 1000;

export type ImpairErrorCode = 'IMPAIR_BAD_SPEC';

export class ImpairError extends DdplabError<ImpairErrorCode> {
  constructor(code: ImpairErrorCode, message: string) {
    super(code, message);
    this.name = 'ImpairError';
  }
}

/** True when the spec would touch at least one frame. */
export function impairSpecActive(s: ImpairSpec | undefined): boolean {
  if (s === undefined) return false;
  const ge = s.burst;
  const burstLoses = ge !== undefined && ((ge.pGoodToBad > 0 && (ge.lossBad ?? 1) > 0) || (ge.lossGood ?? 0) > 0);
  return burstLoses || (s.drop ?? 0) > 0 || (s.reorder ?? 0) > 0 || (s.dup ?? 0) > 0 || (s.corrupt ?? 0) > 0;
}

/** Throws ImpairError('IMPAIR_BAD_SPEC') naming the first field out of range. */
export function checkImpairSpec(s: ImpairSpec, where: string): void {
  const prob = (v: number | undefined, name: string): void => {
    if (v !== undefined && !(v >= 0 && v <= 1)) throw new ImpairError('IMPAIR_BAD_SPEC', `${where} ${name} ${v} is not a probability in 0..1`);
  };
  prob(s.drop, 'drop');
  prob(s.reorder, 'reorder');
  prob(s.dup, 'dup');
  prob(s.corrupt, 'corrupt');
  if (s.burst !== undefined) {
    prob(s.burst.pGoodToBad, 'burst p(good→bad)');
    prob(s.burst.pBadToGood, 'burst p(bad→good)');
    prob(s.burst.lossBad, 'burst loss in bad state');
    prob(s.burst.lossGood, 'burst loss in good state');
  }
  if (s.reorderDepth !== undefined && !(Number.isInteger(s.reorderDepth) && s.reorderDepth >= 1)) {
    throw new ImpairError('IMPAIR_BAD_SPEC', `${where} reorder depth ${s.reorderDepth} is not a whole number of frames >= 1`);
  }
  if (s.reorderUs !== undefined && !(Number.isFinite(s.reorderUs) && s.reorderUs > 0)) {
    throw new ImpairError('IMPAIR_BAD_SPEC', `${where} reorder time ${s.reorderUs} µs is not a positive number`);
  }
}

// ------------------------------------------------------------------ PRNG

/**
 * One decision stream: SplitMix32, seeded from (seed, direction, kind) so
 * the streams are unrelated.
 */
function decisionStream(seed: number, direction: number, kind: number): SplitMix32 {
  return new SplitMix32(mix32(mix32((seed >>> 0) ^ Math.imul(direction + 1, 0x9e3779b1)) ^ Math.imul(kind + 1, 0x85ebca77)));
}

const enum Kind {
  GeMove = 0,
  GeLoss = 1,
  Drop = 2,
  Corrupt = 3,
  Dup = 4,
  Reorder = 5,
}

/** p in 0..1 → a u32 threshold: `nextU32() < threshold` happens with probability p. */
function threshold(p: number | undefined): number {
  return (p ?? 0) * 0x1_0000_0000;
}

interface HeldFrame {
  readonly frame: Buffer;
  readonly tsUs: number;
  readonly copies: number;
  /** Leaves once the stage has seen this many frames. */
  readonly releaseAtSeen: number;
  /** Leaves at this time (µs, the stage's clock). */
  readonly dueUs: number;
}

/** Where a stage hands frames it releases or copies (set once; never a per-frame closure). */
export type ImpairSink = (frame: Buffer, tsUs: number) => void;

/**
 * One direction's decisions, independent of any Port: push frames in,
 * frames come out through the sink (or, for an unharmed frame, push()
 * returns true and the caller hands on the original itself, so the common
 * case allocates nothing). Pure given its inputs: time only enters as the
 * `nowUs` arguments.
 */
export class ImpairStage {
  readonly stats: ImpairStats = newImpairStats();
  private readonly geMove: SplitMix32;
  private readonly geLoss: SplitMix32;
  private readonly dropRng: SplitMix32;
  private readonly corruptRng: SplitMix32;
  private readonly dupRng: SplitMix32;
  private readonly reorderRng: SplitMix32;
  private readonly tDrop: number;
  private readonly tCorrupt: number;
  private readonly tDup: number;
  private readonly tReorder: number;
  private readonly burst: boolean;
  private readonly tGoodToBad: number;
  private readonly tBadToGood: number;
  private readonly tLossBad: number;
  private readonly tLossGood: number;
  private readonly depth: number;
  private readonly holdUs: number;
  private geBad = false;
  private readonly heldQ: HeldFrame[] = [];
  private heldHead = 0;

  constructor(
    spec: ImpairSpec,
    seed: number,
    direction: ImpairDirection,
    private readonly sink: ImpairSink,
    /** Copy a frame before changing it (tx: the sender's buffer is not ours). */
    private readonly copyBeforeWrite: boolean,
  ) {
    checkImpairSpec(spec, direction);
    const d = direction === 'rx' ? 0 : 1;
    this.geMove = decisionStream(seed, d, Kind.GeMove);
    this.geLoss = decisionStream(seed, d, Kind.GeLoss);
    this.dropRng = decisionStream(seed, d, Kind.Drop);
    this.corruptRng = decisionStream(seed, d, Kind.Corrupt);
    this.dupRng = decisionStream(seed, d, Kind.Dup);
    this.reorderRng = decisionStream(seed, d, Kind.Reorder);
    this.tDrop = threshold(spec.drop);
    this.tCorrupt = threshold(spec.corrupt);
    this.tDup = threshold(spec.dup);
    this.tReorder = threshold(spec.reorder);
    this.burst = spec.burst !== undefined;
    this.tGoodToBad = threshold(spec.burst?.pGoodToBad);
    this.tBadToGood = threshold(spec.burst?.pBadToGood);
    this.tLossBad = threshold(spec.burst?.lossBad ?? 1);
    this.tLossGood = threshold(spec.burst?.lossGood ?? 0);
    if (spec.reorderUs !== undefined) {
      this.depth = spec.reorderDepth ?? Number.POSITIVE_INFINITY;
      this.holdUs = spec.reorderUs;
    } else {
      this.depth = spec.reorderDepth ?? DEFAULT_REORDER_DEPTH;
      this.holdUs = REORDER_DEPTH_MAX_HOLD_US;
    }
  }

  /**
   * One frame in. Releases held frames whose turn has come (they precede
   * this frame), then decides this one. Returns true when the caller should
   * hand on `frame` itself, unchanged and now; false when the stage dropped
   * it, held it, or handed it (changed or twice) to the sink.
   */
  push(frame: Buffer, tsUs: number, nowUs: number): boolean {
    const s = this.stats;
    if (this.heldHead < this.heldQ.length) this.releaseDue(nowUs);
    s.frames++;
    // Every stream moves once per frame, whatever the others decide.
    let lost = false;
    if (this.burst) {
      const move = this.geMove.nextU32();
      const loss = this.geLoss.nextU32();
      if (this.geBad) {
        if (move < this.tBadToGood) this.geBad = false;
      } else if (move < this.tGoodToBad) {
        this.geBad = true;
        s.burstEpisodes++;
      }
      if (loss < (this.geBad ? this.tLossBad : this.tLossGood)) {
        s.burstDropped++;
        lost = true;
      }
    }
    const drop = this.tDrop > 0 && this.dropRng.nextU32() < this.tDrop;
    const corrupt = this.tCorrupt > 0 && this.corruptRng.nextU32() < this.tCorrupt;
    const bitDraw = corrupt ? this.corruptRng.nextU32() : 0;
    const dup = this.tDup > 0 && this.dupRng.nextU32() < this.tDup;
    const reorder = this.tReorder > 0 && this.reorderRng.nextU32() < this.tReorder;
    if (lost) return false;
    if (drop) {
      s.dropped++;
      return false;
    }
    if (!corrupt && !dup && !reorder) {
      s.passed++;
      return true;
    }
    let out = frame;
    if (corrupt) out = this.corrupt(frame, bitDraw);
    const copies = dup ? 2 : 1;
    if (dup) s.duplicated++;
    if (reorder) {
      s.reordered++;
      s.held++;
      this.heldQ.push({
        // A held tx frame outlives send(): keep our own copy.
        frame: this.copyBeforeWrite && out === frame ? Buffer.from(frame) : out,
        tsUs,
        copies,
        releaseAtSeen: s.frames + this.depth,
        dueUs: nowUs + this.holdUs,
      });
      return false;
    }
    this.emit(out, tsUs, copies);
    return false;
  }

  /**
   * Hands on held frames whose later frames have arrived or whose time has
   * come; returns how many. Call after a run of push() calls (end of a
   * received batch, after a send) and when the timer fires.
   */
  releaseDue(nowUs: number): number {
    let n = 0;
    const q = this.heldQ;
    while (this.heldHead < q.length) {
      const h = q[this.heldHead]!;
      const byCount = this.stats.frames >= h.releaseAtSeen;
      if (!byCount && nowUs < h.dueUs) break;
      if (!byCount) this.stats.releasedByTime++;
      this.shiftHeld();
      this.emit(h.frame, nowUs > h.tsUs ? nowUs : h.tsUs, h.copies);
      n++;
    }
    return n;
  }

  /** When the oldest held frame is due by time (µs, the stage's clock), or undefined when none is held. */
  nextDueUs(): number | undefined {
    return this.heldHead < this.heldQ.length ? this.heldQ[this.heldHead]!.dueUs : undefined;
  }

  /** Hands on every held frame now (close); returns how many. */
  flush(nowUs: number): number {
    let n = 0;
    while (this.heldHead < this.heldQ.length) {
      const h = this.heldQ[this.heldHead]!;
      this.shiftHeld();
      this.stats.flushedAtClose++;
      this.emit(h.frame, nowUs > h.tsUs ? nowUs : h.tsUs, h.copies);
      n++;
    }
    return n;
  }

  private shiftHeld(): void {
    this.heldHead++;
    this.stats.held--;
    // Compact once the consumed prefix dominates, so the queue never grows without bound.
    if (this.heldHead >= 64 && this.heldHead * 2 >= this.heldQ.length) {
      this.heldQ.splice(0, this.heldHead);
      this.heldHead = 0;
    }
  }

  private emit(frame: Buffer, tsUs: number, copies: number): void {
    this.stats.passed += copies;
    this.sink(frame, tsUs);
    // The duplicate is its own buffer: a consumer owns what it receives.
    if (copies === 2) this.sink(Buffer.from(frame), tsUs);
  }

  private corrupt(frame: Buffer, bitDraw: number): Buffer {
    let payloadOff: number;
    let payloadLen: number;
    try {
      const eth = parseEthernet(frame);
      if (eth.ethertype !== ETHERTYPE_IPV4) {
        this.stats.corruptSkipped++;
        return frame;
      }
      const ip = parseIpv4(eth.payload);
      payloadOff = eth.headerLen + ip.headerLen;
      payloadLen = ip.payload.length;
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      this.stats.corruptSkipped++;
      return frame;
    }
    if (payloadLen === 0) {
      this.stats.corruptSkipped++;
      return frame;
    }
    const out = this.copyBeforeWrite ? Buffer.from(frame) : frame;
    // bitDraw / 2^32 scaled to the payload's bits: uniform enough for any frame below 512 MiB.
    const bit = Math.floor((bitDraw / 0x1_0000_0000) * payloadLen * 8);
    out[payloadOff + (bit >>> 3)]! ^= 1 << (bit & 7);
    this.stats.corrupted++;
    return out;
  }
}

const NO_FRAMES: readonly RxFrame[] = [];

/** The stage's clock: µs since the Unix epoch from the monotonic clock (comparable with capture timestamps). */
function wallUs(): number {
  return (performance.timeOrigin + performance.now()) * 1000;
}

export interface ImpairPortOptions {
  /** µs clock (default: the monotonic clock offset to the epoch). */
  readonly nowUs?: () => number;
}

/**
 * The Port decorator. The timer for held frames is one per direction, armed
 * at the oldest held frame's due time; timers run at millisecond resolution,
 * so a reorderUs below 1000 is honoured by later frames and otherwise
 * rounded up to the next timer tick.
 */
export class ImpairPort implements Port {
  private readonly rxStage: ImpairStage | undefined;
  private readonly txStage: ImpairStage | undefined;
  private readonly nowUs: () => number;
  private consumer: RxConsumer | null = null;
  /** The batch being built while a received batch is impaired (null: nothing changed so far). */
  private rxOut: RxFrame[] | null = null;
  /** The received batch being impaired, and the index of the frame being decided. */
  private rxIn: readonly RxFrame[] = NO_FRAMES;
  private rxIndex = 0;
  private rxTimer: NodeJS.Timeout | null = null;
  private txTimer: NodeJS.Timeout | null = null;
  private closing: Promise<void> | null = null;
  private readonly onRxTimer = (): void => this.rxTimerFired();
  private readonly onTxTimer = (): void => this.txTimerFired();

  constructor(
    private readonly inner: Port,
    readonly config: ImpairConfig,
    opts: ImpairPortOptions = {},
  ) {
    this.nowUs = opts.nowUs ?? wallUs;
    this.rxStage = impairSpecActive(config.rx)
      ? new ImpairStage(config.rx!, config.seed, 'rx', (f, ts) => this.rxSink(f, ts), false)
      : undefined;
    this.txStage = impairSpecActive(config.tx)
      ? new ImpairStage(config.tx!, config.seed, 'tx', (f) => this.inner.send(f), true)
      : undefined;
  }

  get stats(): PortStats {
    return this.inner.stats;
  }

  /** What each direction did so far (copies). */
  impairStats(): { rx: ImpairStats; tx: ImpairStats } {
    return {
      rx: { ...(this.rxStage?.stats ?? newImpairStats()) },
      tx: { ...(this.txStage?.stats ?? newImpairStats()) },
    };
  }

  send(frame: Buffer): void {
    const st = this.txStage;
    if (st === undefined || this.closing !== null) {
      this.inner.send(frame);
      return;
    }
    const now = this.nowUs();
    if (st.push(frame, now, now)) this.inner.send(frame);
    st.releaseDue(now);
    this.armTx();
  }

  onFrames(consumer: RxConsumer): void {
    this.consumer = consumer;
    const st = this.rxStage;
    if (st === undefined) {
      this.inner.onFrames(consumer);
      return;
    }
    this.inner.onFrames((batch) => this.rxBatch(st, batch));
  }

  /** Flushes held frames in both directions, then closes the inner port. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.clearTimers();
      const now = this.nowUs();
      this.txStage?.flush(now);
      if (this.rxStage !== undefined && this.rxStage.stats.held > 0) {
        this.rxOut = [];
        this.rxStage.flush(now);
        this.deliverRxOut();
      }
      await this.inner.close();
    })();
    return this.closing;
  }

  private rxBatch(st: ImpairStage, batch: readonly RxFrame[]): void {
    const now = this.nowUs();
    this.rxOut = null;
    this.rxIn = batch;
    for (let i = 0; i < batch.length; i++) {
      this.rxIndex = i;
      const f = batch[i]!;
      if (st.push(f.data, f.tsUs, now)) {
        if (this.rxOut !== null) this.rxOut.push(f);
      } else if (this.rxOut === null) {
        // Dropped or held: from here on the batch is rebuilt.
        this.rxOut = batch.slice(0, i);
      }
    }
    this.rxIndex = batch.length;
    st.releaseDue(now);
    this.rxIn = NO_FRAMES;
    this.rxIndex = 0;
    if (this.rxOut === null) {
      this.consumer?.(batch);
    } else {
      this.deliverRxOut();
    }
    this.armRx();
  }

  /**
   * Frames the rx stage hands on (changed, duplicated, released): appended
   * to the batch being built, which starts as the unharmed frames before
   * the current one.
   */
  private rxSink(frame: Buffer, tsUs: number): void {
    (this.rxOut ??= this.rxIn.slice(0, this.rxIndex)).push({ data: frame, tsUs });
  }

  private deliverRxOut(): void {
    const out = this.rxOut;
    this.rxOut = null;
    if (out !== null && out.length > 0) this.consumer?.(out);
  }

  private armRx(): void {
    if (this.rxTimer !== null || this.closing !== null) return;
    const due = this.rxStage?.nextDueUs();
    if (due === undefined) return;
    this.rxTimer = setTimeout(this.onRxTimer, Math.max(1, Math.ceil((due - this.nowUs()) / 1000)));
  }

  private armTx(): void {
    if (this.txTimer !== null || this.closing !== null) return;
    const due = this.txStage?.nextDueUs();
    if (due === undefined) return;
    this.txTimer = setTimeout(this.onTxTimer, Math.max(1, Math.ceil((due - this.nowUs()) / 1000)));
  }

  private rxTimerFired(): void {
    this.rxTimer = null;
    if (this.closing !== null || this.rxStage === undefined) return;
    this.rxOut = [];
    this.rxStage.releaseDue(this.nowUs());
    this.deliverRxOut();
    this.armRx();
  }

  private txTimerFired(): void {
    this.txTimer = null;
    if (this.closing !== null || this.txStage === undefined) return;
    this.txStage.releaseDue(this.nowUs());
    this.armTx();
  }

  private clearTimers(): void {
    if (this.rxTimer !== null) clearTimeout(this.rxTimer);
    if (this.txTimer !== null) clearTimeout(this.txTimer);
    this.rxTimer = null;
    this.txTimer = null;
  }
}

/** Wraps `inner` with the impairment `config` (directions with nothing to do pass straight through). */
export function withImpairment(inner: Port, config: ImpairConfig, opts: ImpairPortOptions = {}): ImpairPort {
  return new ImpairPort(inner, config, opts);
}
