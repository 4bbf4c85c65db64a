/**
 * `ddplab pattern` (src/cli/cmd-pattern.ts): its bytes are the target's
 * block pattern for any range (chunk boundaries, unaligned offsets), on
 * stdout or in a file, and bad ranges fail in one line.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { patternChunks, patternRangeFromFlags, writePattern } from '../../src/cli/cmd-pattern.js';
import { fillPattern } from '../../src/wire/block-pattern.js';

const BIN = fileURLToPath(new URL('../../bin/ddplab.js', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'ddplab-pattern-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function expected(seed: number, offset: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  fillPattern(seed, offset, b);
  return b;
}

describe('ddplab pattern', () => {
  it('streams the same bytes as fillPattern over a range spanning several 1 MiB chunks from an unaligned offset', async () => {
    const range = { seed: 0xdeadbeef, offset: 3 * 2 ** 32 + 4093, length: 2.5 * 2 ** 20 + 3 };
    const chunks: Buffer[] = [];
    await writePattern(
      range,
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          chunks.push(chunk);
          cb();
        },
      }),
    );
    expect(Buffer.concat(chunks).equals(expected(range.seed, range.offset, range.length))).toBe(true);
    expect([...patternChunks(range)].map((c) => c.length)).toEqual([2 ** 20, 2 ** 20, 2 ** 19 + 3]);
  });

  it('produces nothing for a zero length', () => {
    expect([...patternChunks({ seed: 1, offset: 0, length: 0 })]).toEqual([]);
  });

  it('reads sizes and checks LBA alignment only when asked', () => {
    expect(patternRangeFromFlags({ seed: '7', offset: '1m', length: '128k' })).toEqual({ seed: 7, offset: 1 << 20, length: 128 << 10 });
    expect(patternRangeFromFlags({ seed: '7', offset: '100', length: '3' })).toEqual({ seed: 7, offset: 100, length: 3 });
    expect(patternRangeFromFlags({ seed: '7', offset: '4096', length: '8k', lbaSize: '4096' }).length).toBe(8192);
    expect(() => patternRangeFromFlags({ seed: '7', offset: '512', length: '4k', lbaSize: '4096' })).toThrow(
      '--offset 512 is not a multiple of the 4096-byte LBA (a host reads whole blocks)',
    );
    expect(() => patternRangeFromFlags({ seed: '7', offset: '0', length: '4k', lbaSize: '1024' })).toThrow('--lba-size: 1024 is not 512 or 4096');
    expect(() => patternRangeFromFlags({ seed: '4294967296', offset: '0', length: '1' })).toThrow(/not a u32/);
    expect(() => patternRangeFromFlags({ seed: '1', offset: 'x', length: '1' })).toThrow(/--offset: 'x' is not a byte count/);
  });

  it('writes the range to stdout, and the same bytes to --out FILE', async () => {
    const r = await execa(process.execPath, [BIN, 'pattern', '--seed', '7', '--offset', '1000', '--length', '70000'], { encoding: 'buffer' });
    expect(Buffer.from(r.stdout).equals(expected(7, 1000, 70000))).toBe(true);
    const out = join(tmp, 'p.bin');
    await execa(process.execPath, [BIN, 'pattern', '--seed', '7', '--offset', '1000', '--length', '70000', '--out', out]);
    expect(readFileSync(out).equals(expected(7, 1000, 70000))).toBe(true);
  });

  it('fails in one line on a bad range', async () => {
    const r = await execa(process.execPath, [BIN, 'pattern', '--seed', '7', '--offset', '100', '--length', '4k', '--lba-size', '512'], { reject: false });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('ddplab: --offset 100 is not a multiple of the 512-byte LBA (a host reads whole blocks)');
  });
});
