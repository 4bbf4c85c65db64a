/**
 * `ddplab pattern --seed N --offset O --length L`: the bytes a ddplab
 * target started with `--seed N` holds at [O, O + L) of its namespace where
 * nobody wrote — the same function its backing store answers reads with
 * (src/wire/block-pattern.ts) — on stdout or into a file, so that what any
 * host read from it (a Linux kernel host through /dev/nvmeXnY, SPDK's
 * perf, ddplab itself) can be checked with `cmp`. The pattern does not
 * depend on the LBA size; --lba-size only makes sure the range is whole
 * blocks, as a host reads it.
 */
import { createWriteStream } from 'node:fs';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { fillPattern } from '../wire/block-pattern.js';
import { parseBytes, parseUint } from './cmd-target.js';
import { UserError } from '../base/errors.js';

/** Bytes produced per chunk: big enough to stream fast, small enough to keep memory flat for any length. */
const CHUNK_BYTES = 1 << 20;

/** The block pattern covers byte offsets below 2^53 (block-pattern.ts). */
const PATTERN_END = Number.MAX_SAFE_INTEGER;

export interface PatternRange {
  readonly seed: number;
  readonly offset: number;
  readonly length: number;
}

/** The pattern bytes of `r`, in chunks of at most 1 MiB. */
export function* patternChunks(r: PatternRange): Generator<Buffer> {
  let pos = 0;
  while (pos < r.length) {
    const chunk = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, r.length - pos));
    fillPattern(r.seed, r.offset + pos, chunk);
    yield chunk;
    pos += chunk.length;
  }
}

/** Writes the pattern bytes of `r` to `out`, with backpressure. */
export async function writePattern(r: PatternRange, out: Writable): Promise<void> {
  await pipeline(Readable.from(patternChunks(r), { objectMode: false }), out);
}

interface PatternFlags {
  seed: string;
  offset: string;
  length: string;
  lbaSize?: string;
  out?: string;
}

/** Validates the flags into a range (UserError on the first bad value). */
export function patternRangeFromFlags(f: PatternFlags): PatternRange {
  const seed = parseUint('seed', f.seed);
  if (seed > 0xffff_ffff) throw new UserError('BAD_FLAG', `--seed: ${seed} is not a u32 (0..4294967295)`);
  const offset = parseBytes('offset', f.offset);
  const length = parseBytes('length', f.length);
  if (offset + length > PATTERN_END) throw new UserError('BAD_FLAG', `--offset ${offset} + --length ${length} goes past 2^53 bytes`);
  if (f.lbaSize !== undefined) {
    const lba = parseBytes('lba-size', f.lbaSize);
    if (lba !== 512 && lba !== 4096) throw new UserError('BAD_FLAG', `--lba-size: ${lba} is not 512 or 4096`);
    for (const [name, v] of [['offset', offset], ['length', length]] as const) {
      if (v % lba !== 0) throw new UserError('BAD_FLAG', `--${name} ${v} is not a multiple of the ${lba}-byte LBA (a host reads whole blocks)`);
    }
  }
  return { seed, offset, length };
}

export function registerPatternCommand(program: Command): void {
  program
    .command('pattern')
    .description(
      'write the expected content of a byte range of a ddplab target\'s namespace (unwritten blocks of a target started with --seed N) to stdout or a file, to check what any host read (e.g. with cmp)',
    )
    .requiredOption('--seed <n>', 'the target\'s --seed (u32)')
    .requiredOption('--offset <bytes>', 'first byte of the range in the namespace (4096, 1m, 0x100000)')
    .requiredOption('--length <bytes>', 'bytes to write (128k, 1GiB)')
    .option('--lba-size <bytes>', 'check that the range is whole blocks of 512 or 4096 bytes (the content does not depend on it)')
    .option('--out <file>', 'write to this file instead of stdout')
    .action(async (flags: PatternFlags) => {
      const range = patternRangeFromFlags(flags);
      if (flags.out === undefined && process.stdout.isTTY === true) {
        throw new UserError('BAD_FLAG', 'stdout is a terminal: give --out FILE or pipe the bytes (e.g. | cmp - read.bin)');
      }
      try {
        await writePattern(range, flags.out !== undefined ? createWriteStream(flags.out) : process.stdout);
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        // A reader that stops early (cmp at the first difference, head) is not our failure.
        if (err.code === 'EPIPE') return;
        if (typeof err.code === 'string') throw new UserError('PATTERN_OUTPUT', `cannot write ${flags.out ?? 'stdout'}: ${err.code} (${err.message})`);
        throw e;
      }
    });
}
