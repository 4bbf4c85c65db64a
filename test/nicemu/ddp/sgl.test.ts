import { describe, expect, it } from 'vitest';
import { SglMap, sglFromBuffer, sglLength } from '../../../src/nicemu/ddp/sgl.js';

describe('SGL from a destination buffer', () => {
  it('cuts at page boundaries of the memory: 128 KiB at a sub-page offset is 33 entries', () => {
    const mem = Buffer.alloc(256 * 1024);
    const sgl = sglFromBuffer(mem.subarray(100, 100 + 128 * 1024));
    expect(sgl.length).toBe(33);
    expect(sgl[0]!.length).toBe(4096 - 100);
    expect(sgl[32]!.length).toBe(100);
    expect(sglLength(sgl)).toBe(128 * 1024);
    // Entries are views of the buffer, in order.
    expect(sgl[1]!.byteOffset).toBe(mem.byteOffset + 4096);
  });

  it('gives 256 entries for a page-aligned MiB and 257 for an unaligned one: both above the 128 mlx5 took', () => {
    const mem = Buffer.alloc(2 * 1024 * 1024);
    expect(sglFromBuffer(mem.subarray(0, 1 << 20)).length).toBe(256);
    expect(sglFromBuffer(mem.subarray(8, 8 + (1 << 20))).length).toBe(257);
  });

  it('maps data offsets to entries', () => {
    const mem = Buffer.alloc(5 * 4096);
    const m = new SglMap(sglFromBuffer(mem.subarray(1000, 1000 + 3 * 4096)));
    expect(m.lengthBytes).toBe(3 * 4096);
    expect(m.entryAt(0)).toBe(0);
    expect(m.entryAt(3095)).toBe(0);
    expect(m.entryAt(3096)).toBe(1);
    expect(m.entryStart(1)).toBe(3096);
    expect(m.entryAt(3 * 4096 - 1)).toBe(3);
  });
});
