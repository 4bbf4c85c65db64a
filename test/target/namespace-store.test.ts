import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fillPattern, findPatternMismatch } from '../../src/wire/block-pattern.js';
import { FileStore, NamespaceRangeError, PatternStore } from '../../src/target/namespace-store.js';

describe('pattern store', () => {
  it('reads the pattern where nothing was written and allocates nothing', () => {
    const ns = new PatternStore({ sizeBytes: 1 << 30, lbaSize: 512 }, 77);
    expect(ns.nlb).toBe(2 * 1024 * 1024);
    const buf = Buffer.alloc(1 << 20);
    ns.read(5 * 512, buf);
    expect(findPatternMismatch(77, 5 * 512, buf)).toBe(-1);
    expect(ns.residentBytes()).toBe(0);
  });

  it('composes written bytes over the pattern, including partial chunks', () => {
    const ns = new PatternStore({ sizeBytes: 1 << 20, lbaSize: 512 }, 1);
    const data = Buffer.alloc(1000, 0xab);
    ns.write(4096 - 300, data); // straddles two 4 KiB chunks
    const out = Buffer.alloc(3 * 4096);
    ns.read(0, out);
    const expected = Buffer.alloc(out.length);
    fillPattern(1, 0, expected);
    data.copy(expected, 4096 - 300);
    expect(out.equals(expected)).toBe(true);
    expect(ns.residentBytes()).toBe(2 * 4096);
  });

  it('rejects accesses past the end', () => {
    const ns = new PatternStore({ sizeBytes: 8192, lbaSize: 4096 }, 1);
    expect(() => ns.read(4096, Buffer.alloc(4097))).toThrow(NamespaceRangeError);
    expect(() => ns.write(-1, Buffer.alloc(1))).toThrow(NamespaceRangeError);
  });

  it('rejects a size that is not a multiple of the LBA size', () => {
    expect(() => new PatternStore({ sizeBytes: 1000, lbaSize: 512 }, 1)).toThrow(RangeError);
  });
});

describe('file store', () => {
  it('keeps written bytes in a sparse file of the namespace size', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ddplab-ns-'));
    try {
      const path = join(dir, 'ns.img');
      const ns = new FileStore({ sizeBytes: 1 << 20, lbaSize: 512 }, path);
      expect(statSync(path).size).toBe(1 << 20);
      ns.write(512, Buffer.alloc(512, 7));
      ns.flush();
      ns.close();
      const again = new FileStore({ sizeBytes: 1 << 20, lbaSize: 512 }, path);
      const out = Buffer.alloc(1024);
      again.read(0, out);
      expect(out.subarray(0, 512).equals(Buffer.alloc(512))).toBe(true);
      expect(out.subarray(512).equals(Buffer.alloc(512, 7))).toBe(true);
      again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
