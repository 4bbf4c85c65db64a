import { describe, expect, it } from 'vitest';
import { seqAdd, seqDiff, seqGe, seqGt, seqInWindow, seqLe, seqLt, seqMax, seqMin } from '../../src/wire/seq.js';

describe('TCP sequence arithmetic', () => {
  it('wraps additions modulo 2^32', () => {
    expect(seqAdd(0xffff_fff0, 0x20)).toBe(0x10);
    expect(seqAdd(5, -10)).toBe(0xffff_fffb);
  });

  it('orders numbers across the wrap', () => {
    expect(seqLt(0xffff_fff0, 0x10)).toBe(true);
    expect(seqGt(0x10, 0xffff_fff0)).toBe(true);
    expect(seqLe(7, 7)).toBe(true);
    expect(seqGe(7, 8)).toBe(false);
    expect(seqDiff(0x10, 0xffff_fff0)).toBe(0x20);
    expect(seqMax(0xffff_fff0, 0x10)).toBe(0x10);
    expect(seqMin(0xffff_fff0, 0x10)).toBe(0xffff_fff0);
  });

  it('tests window membership across the wrap', () => {
    expect(seqInWindow(0x5, 0xffff_fffe, 10)).toBe(true);
    expect(seqInWindow(0x8, 0xffff_fffe, 10)).toBe(false);
    expect(seqInWindow(0xffff_fffd, 0xffff_fffe, 10)).toBe(false);
  });
});
