import { describe, expect, it } from 'vitest';
import { PatternChecker, parsePatternPeriod, patternByte, patternBytes } from '../../../src/host/stream/pattern.js';

describe('ncdevmem validation pattern', () => {
  it('is 1..N-1 then a newline, as `yes` prints a line of those bytes', () => {
    expect([...patternBytes(0, 15, 7)]).toEqual([1, 2, 3, 4, 5, 6, 10, 1, 2, 3, 4, 5, 6, 10, 1]);
    expect([...patternBytes(5, 4, 7)]).toEqual([6, 10, 1, 2]);
    expect(patternByte(255, 256)).toBe(10);
    expect(patternByte(254, 256)).toBe(255);
  });

  it('checks bytes in stream order across calls and finds the first mismatch', () => {
    const c = new PatternChecker(7);
    const data = patternBytes(0, 1000, 7);
    expect(c.check(data.subarray(0, 333))).toBe(0);
    data[500] ^= 1;
    data[600] ^= 1;
    expect(c.check(data.subarray(333))).toBe(2);
    expect(c.firstMismatch).toBe(500);
    expect(c.checked).toBe(1000);
  });

  it('refuses a period outside 2..256 in one line', () => {
    expect(parsePatternPeriod('7')).toBe(7);
    for (const bad of ['1', '257', 'x', '7.5', '']) expect(() => parsePatternPeriod(bad)).toThrow(/--validate/);
  });
});
