/**
 * Hang detection for the fuzz CLI. An input that sends a parser into an
 * endless loop never returns to the fuzz loop, so nothing in that thread
 * can report it. A worker thread watches a heartbeat the loop writes into
 * shared memory before every execution, together with the input itself;
 * when the heartbeat stops for `stallMs`, the worker prints the target,
 * seed and iteration, writes the input to a file, and kills the process
 * (exit by SIGKILL: the loop cannot be interrupted any other way).
 */
import { Worker } from 'node:worker_threads';
import { encodeInputInto } from './input-file.js';
import type { FuzzInput } from './target.js';

// Shared header (Int32 slots).
const H_BEAT = 0;
const H_ITERATION = 1;
const H_SEED_LO = 2;
const H_SEED_HI = 3;
const H_INPUT_LEN = 4;
const H_ACTIVE = 5;
const HEADER_INTS = 8;
/** Inputs larger than this are recorded cut (the report says so). */
const MAX_RECORDED = 8 << 20;

/** The worker: plain JavaScript, so it runs under any loader (tsx, vitest). */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
const path = require('node:path');
const h = new Int32Array(workerData.sab, 0, ${HEADER_INTS});
const bytes = new Uint8Array(workerData.sab, ${HEADER_INTS * 4});
let last = -1, since = Date.now();
setInterval(() => {
  const beat = Atomics.load(h, ${H_BEAT});
  if (Atomics.load(h, ${H_ACTIVE}) === 0 || beat !== last) { last = beat; since = Date.now(); return; }
  if (Date.now() - since < workerData.stallMs) return;
  const iteration = Atomics.load(h, ${H_ITERATION});
  const seed = (h[${H_SEED_HI}] >>> 0) * 4294967296 + (h[${H_SEED_LO}] >>> 0);
  const len = Atomics.load(h, ${H_INPUT_LEN});
  const file = path.join(workerData.dir, 'hang-seed' + seed + '-iter' + iteration + '.fuzz');
  let saved = '';
  try { fs.mkdirSync(workerData.dir, { recursive: true }); fs.writeFileSync(file, bytes.subarray(0, Math.min(len, bytes.length))); saved = file; } catch (e) { saved = 'not saved: ' + e.message; }
  fs.writeSync(2, '\\nddplab fuzz: HANG: no progress for ' + Math.round((Date.now() - since) / 1000) + ' s at seed ' + seed + ' iteration ' + iteration +
    (len > bytes.length ? ' (input cut to ' + bytes.length + ' bytes)' : '') + '\\n  input: ' + saved + '\\n  replay: npm run fuzz -- --replay ' + saved + '\\n');
  process.kill(process.pid, 'SIGKILL');
}, 250);
`;

export interface WatchdogOptions {
  /** No heartbeat for this long is a hang. */
  readonly stallMs: number;
  /** Where the hanging input is written. */
  readonly dir: string;
}

export class Watchdog {
  private readonly header: Int32Array;
  private readonly bytes: Uint8Array;
  private readonly worker: Worker;

  constructor(o: WatchdogOptions) {
    const sab = new SharedArrayBuffer(HEADER_INTS * 4 + MAX_RECORDED);
    this.header = new Int32Array(sab, 0, HEADER_INTS);
    this.bytes = new Uint8Array(sab, HEADER_INTS * 4);
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { sab, stallMs: o.stallMs, dir: o.dir } });
    this.worker.unref();
  }

  /** Records the input about to run; call before every execution. */
  beat(target: string, seed: number, iteration: number, input: FuzzInput): void {
    const len = encodeInputInto(target, input, this.bytes);
    const h = this.header;
    h[H_ITERATION] = iteration;
    h[H_SEED_LO] = seed >>> 0;
    h[H_SEED_HI] = Math.floor(seed / 0x1_0000_0000) >>> 0;
    Atomics.store(h, H_INPUT_LEN, len);
    Atomics.store(h, H_ACTIVE, 1);
    Atomics.add(h, H_BEAT, 1);
  }

  /** Stops watching (between targets, during reports). */
  pause(): void {
    Atomics.store(this.header, H_ACTIVE, 0);
  }

  stop(): Promise<number> {
    this.pause();
    return this.worker.terminate();
  }
}
