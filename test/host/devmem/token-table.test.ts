import { describe, expect, it } from 'vitest';
import { TOKEN_MAX, TokenTable } from '../../../src/host/devmem/token-table.js';

describe('devmem token numbers (xarray ALLOC1, 31 bits)', () => {
  it('starts at 1 and always hands out the lowest free number', () => {
    const t = new TokenTable<string>();
    expect([t.alloc('a'), t.alloc('b'), t.alloc('c'), t.alloc('d')]).toEqual([1, 2, 3, 4]);
    expect(t.free(3)).toBe('c');
    expect(t.free(1)).toBe('a');
    expect(t.free(1)).toBeUndefined();
    expect(t.free(99)).toBeUndefined();
    expect(t.alloc('e')).toBe(1);
    expect(t.alloc('f')).toBe(3);
    expect(t.alloc('g')).toBe(5);
    expect(t.size).toBe(5);
    expect(t.get(3)).toBe('f');
  });

  it('matches a brute-force lowest-free model over a random sequence of allocs and frees', () => {
    const t = new TokenTable<number>();
    const live = new Set<number>();
    let x = 12345;
    const rnd = (): number => ((x = (x * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    for (let i = 0; i < 5000; i++) {
      if (live.size > 0 && rnd() < 0.45) {
        const arr = [...live];
        const k = arr[Math.floor(rnd() * arr.length)]!;
        live.delete(k);
        expect(t.free(k)).toBe(k);
      } else {
        let want = 1;
        while (live.has(want)) want++;
        expect(t.alloc(want)).toBe(want);
        live.add(want);
      }
    }
    expect(TOKEN_MAX).toBe(2 ** 31 - 1);
  });
});
