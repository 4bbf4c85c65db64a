import { describe, expect, it } from 'vitest';
import { C2hBufferPool } from '../../src/target/c2h-buffers.js';

describe('C2hBufferPool', () => {
  it('hands a given-back buffer out again for the same size only', () => {
    const pool = new C2hBufferPool(1 << 20);
    const a = pool.take(131072);
    expect(a.length).toBe(131072);
    pool.give(a);
    expect(pool.heldBytes).toBe(131072);
    const other = pool.take(65536);
    expect(other).not.toBe(a);
    expect(pool.take(131072)).toBe(a);
    expect(pool.reused).toBe(1);
    expect(pool.heldBytes).toBe(0);
  });

  it('keeps at most maxBytes of free buffers', () => {
    const pool = new C2hBufferPool(200_000);
    const a = pool.take(131072);
    const b = pool.take(131072);
    pool.give(a);
    pool.give(b);
    expect(pool.heldBytes).toBe(131072);
    expect(pool.take(131072)).toBe(a);
    expect(pool.take(131072)).not.toBe(b);
  });
});
