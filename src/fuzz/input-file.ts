/**
 * Fuzz inputs as files (what --save-crashes writes and --replay reads) and
 * as text a regression test can inline:
 *
 *   magic "DDPFUZZ1" (8) | name length u8 | target name | part count u32 LE
 *   | per part: length u32 LE, bytes
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { FuzzInput } from './target.js';
import { DdplabError } from '../base/errors.js';

const MAGIC = Buffer.from('DDPFUZZ1', 'latin1');

/** Malformed fuzz input file (never a WireError: this is the fuzzer's own format). */
export class FuzzInputFileError extends DdplabError<'FUZZ_INPUT_FORMAT'> {
  constructor(message: string) {
    super('FUZZ_INPUT_FORMAT', message);
    this.name = 'FuzzInputFileError';
  }
}

export interface SavedInput {
  readonly target: string;
  readonly input: FuzzInput;
}

/** Encoded size of `input` for `target`. */
export function encodedLength(target: string, input: FuzzInput): number {
  let len = MAGIC.length + 1 + Buffer.byteLength(target, 'utf8') + 4;
  for (const p of input) len += 4 + p.length;
  return len;
}

/**
 * Writes the encoding into `out` (as much as fits: the watchdog's shared
 * buffer has a fixed size) and returns the full encoded length.
 */
export function encodeInputInto(target: string, input: FuzzInput, out: Uint8Array): number {
  const name = Buffer.from(target, 'utf8');
  if (name.length > 255) throw new RangeError(`target name longer than 255 bytes: ${target}`);
  const total = encodedLength(target, input);
  const o = Buffer.from(out.buffer, out.byteOffset, out.length);
  const putBytes = (b: Uint8Array, at: number): void => {
    if (at < o.length) o.set(b.subarray(0, Math.min(b.length, o.length - at)), at);
  };
  const word = Buffer.alloc(4);
  const put32 = (v: number, at: number): void => {
    word.writeUInt32LE(v, 0);
    putBytes(word, at);
  };
  putBytes(MAGIC, 0);
  let at = MAGIC.length;
  if (at < o.length) o[at] = name.length;
  at++;
  putBytes(name, at);
  at += name.length;
  put32(input.length, at);
  at += 4;
  for (const p of input) {
    if (at >= o.length) break;
    put32(p.length, at);
    at += 4;
    putBytes(p, at);
    at += p.length;
  }
  return total;
}

export function encodeInput(target: string, input: FuzzInput): Buffer {
  const out = Buffer.alloc(encodedLength(target, input));
  encodeInputInto(target, input, out);
  return out;
}

export function decodeInput(buf: Buffer): SavedInput {
  const fail = (why: string): never => {
    throw new FuzzInputFileError(`not a ddplab fuzz input: ${why}`);
  };
  if (buf.length < MAGIC.length + 5 || !buf.subarray(0, MAGIC.length).equals(MAGIC)) fail('bad magic (expected DDPFUZZ1)');
  let at = MAGIC.length;
  const nameLen = buf[at++]!;
  if (at + nameLen + 4 > buf.length) fail('cut off in the header');
  const target = buf.toString('utf8', at, at + nameLen);
  at += nameLen;
  const n = buf.readUInt32LE(at);
  at += 4;
  const parts: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    if (at + 4 > buf.length) fail(`cut off before part ${i}`);
    const len = buf.readUInt32LE(at);
    at += 4;
    if (at + len > buf.length) fail(`part ${i} runs past the end`);
    parts.push(buf.subarray(at, at + len));
    at += len;
  }
  if (at !== buf.length) fail(`${buf.length - at} bytes after the last part`);
  return { target, input: parts };
}

export function writeInputFile(path: string, target: string, input: FuzzInput): void {
  writeFileSync(path, encodeInput(target, input));
}

export function readInputFile(path: string): SavedInput {
  return decodeInput(readFileSync(path));
}

/** The input as base64 text, wrapped for pasting into a test. */
export function inputToBase64(target: string, input: FuzzInput, width = 100): string[] {
  const text = encodeInput(target, input).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < text.length; i += width) lines.push(text.slice(i, i + width));
  return lines;
}
