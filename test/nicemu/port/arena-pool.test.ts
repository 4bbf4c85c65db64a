/**
 * The NIC thread's receive arenas as a page pool: lent and given back,
 * reused without growing, bounded, and strict about what comes back.
 */
import { describe, expect, it } from 'vitest';
import { ArenaPool } from '../../../src/nicemu/port/arena-pool.js';
import { PortError } from '../../../src/nicemu/port/port.js';

describe('ArenaPool', () => {
  it('lends the current arena, goes on in another, and reuses what comes back without growing', () => {
    const pool = new ArenaPool(4096, 8);
    const first = pool.current;
    first[0] = 0xab;
    const a = pool.lend()!;
    expect(a.id).toBe(0);
    expect(new Uint8Array(a.memory)[0]).toBe(0xab);
    expect(pool.current.buffer).not.toBe(a.memory);
    expect([pool.size, pool.lent]).toEqual([2, 1]);
    pool.giveBack(a.id, a.memory);
    expect(pool.lent).toBe(0);
    // Lend and give back a thousand times: two arenas take turns, nothing new is made.
    for (let i = 0; i < 1000; i++) {
      const l = pool.lend()!;
      pool.giveBack(l.id, l.memory);
    }
    expect(pool.size).toBe(2);
  });

  it('never holds more than its maximum: with every other arena out, lend() says no and the current one stays', () => {
    const pool = new ArenaPool(1024, 3);
    const out = [pool.lend()!, pool.lend()!];
    expect(out.map((l) => l.id)).toEqual([0, 1]);
    const current = pool.current;
    expect(pool.lend()).toBeUndefined();
    expect(pool.current).toBe(current);
    expect(pool.size).toBe(3);
    pool.giveBack(out[0]!.id, out[0]!.memory);
    expect(pool.lend()?.id).toBe(2);
  });

  it('refuses, with a typed error, an id that is not out, one given back twice, and memory of the wrong size', () => {
    const pool = new ArenaPool(1024, 4);
    const l = pool.lend()!;
    const refused = (f: () => void): string => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(PortError);
        expect((e as PortError).code).toBe('PORT_ARENA');
        return (e as Error).message;
      }
      throw new Error('not refused');
    };
    expect(refused(() => pool.giveBack(1, new ArrayBuffer(1024)))).toBe('arena 1 was not lent');
    expect(refused(() => pool.giveBack(7, new ArrayBuffer(1024)))).toBe('arena 7 was not lent');
    expect(refused(() => pool.giveBack(-1, new ArrayBuffer(1024)))).toBe('arena -1 was not lent');
    expect(refused(() => pool.giveBack(l.id, new ArrayBuffer(512)))).toBe('arena 0 came back as 512 bytes, not its 1024');
    pool.giveBack(l.id, l.memory);
    expect(refused(() => pool.giveBack(l.id, l.memory))).toBe('arena 0 was not lent');
    expect(pool.lent).toBe(0);
    expect(() => new ArenaPool(1024, 0)).toThrow(RangeError);
  });
});
