/**
 * Byte counts and plain integers of the target-side flags (`--c2h-size 16k`,
 * `--size 1GiB`, `--lba-size 4096`): binary units, hex allowed. Light on
 * purpose: commands check these before anything is built.
 */
import { UserError } from '../base/errors.js';

const UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
};

/** "16k", "1GiB", "0x400000", "4096" → bytes (binary units). */
export function parseBytes(flag: string, text: string): number {
  const m = /^\s*(0x[0-9a-f]+|\d+)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? UNITS[(m[2] ?? '').toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new UserError('BAD_FLAG', `--${flag}: '${text}' is not a byte count (e.g. 4096, 16k, 1GiB)`);
  const n = Number(m[1]) * unit;
  if (!Number.isSafeInteger(n)) throw new UserError('BAD_FLAG', `--${flag}: '${text}' is too large`);
  return n;
}

export function parseUint(flag: string, text: string): number {
  if (!/^\s*(0x[0-9a-f]+|\d+)\s*$/i.test(text)) throw new UserError('BAD_FLAG', `--${flag}: '${text}' is not a non-negative integer`);
  const n = Number(text.trim());
  if (!Number.isSafeInteger(n)) throw new UserError('BAD_FLAG', `--${flag}: '${text}' is too large`);
  return n;
}
