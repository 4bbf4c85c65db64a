import { describe, expect, it } from 'vitest';
import { buildKeepAlive, parseKeepAlive } from '../../src/wire/nvme-admin.js';

describe('Keep Alive', () => {
  it('round-trips as admin opcode 0x18 with only the CID', () => {
    const buf = buildKeepAlive({ kind: 'keep-alive', cid: 0x1234 });
    expect(parseKeepAlive(buf)).toEqual({ kind: 'keep-alive', cid: 0x1234 });
    expect(buf[0]).toBe(0x18);
    expect(buf.readUInt16LE(2)).toBe(0x1234);
    expect(buf.readUInt32LE(4)).toBe(0);
    expect(buf.subarray(40).every((b) => b === 0)).toBe(true);
  });

  it('refuses another opcode and short buffers', () => {
    const buf = buildKeepAlive({ kind: 'keep-alive', cid: 1 });
    buf[0] = 0x06;
    expect(() => parseKeepAlive(buf)).toThrow(
      expect.objectContaining({ code: 'BAD_FIELD', detail: { field: 'opcode', expected: 0x18, got: 0x06 } }),
    );
    expect(() => parseKeepAlive(Buffer.alloc(10))).toThrow(
      expect.objectContaining({ code: 'TRUNCATED', detail: { field: 'nvme sqe', expected: 64, got: 10 } }),
    );
  });
});
