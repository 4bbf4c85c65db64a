/** Host → NIC ops survive their number encoding, every kind, in order (nicemu/thread/host-ops.ts). */
import { describe, expect, it } from 'vitest';
import { decodeHostOps, encodeHostOp } from '../../../src/nicemu/thread/host-ops.js';
import type { HostOp } from '../../../src/nicemu/thread/protocol.js';

describe('host ops encoding', () => {
  it('decodes what was encoded, with register memories and given-back arenas passed beside the numbers', () => {
    const mem = new SharedArrayBuffer(8192);
    const arenaA = new ArrayBuffer(64);
    const arenaB = new ArrayBuffer(64);
    const ops: HostOp[] = [
      { op: 'addFlow', flow: 3, key: { remoteIp: 0xc0000201, remotePort: 4420, localIp: 0xc0000202, localPort: 40001 } },
      { op: 'send', off: 0, len: 66 },
      { op: 'register', region: 1, memory: mem },
      { op: 'skAdd', flow: 3, nextPduSeq: 0xfffffff0, config: { pfv: 0, cpda: 0, hdgst: true, ddgst: false, queueSize: 128 } },
      { op: 'skAdd', flow: 3, nextPduSeq: 5, heldEndSeq: 900, config: { pfv: 0, cpda: 1, hdgst: false, ddgst: true, queueSize: 32 } },
      { op: 'setup', flow: 3, cid: 17, sgl: [1, 0, 4096, 1, 4096, 4096] },
      { op: 'send', off: 66, len: 72 },
      { op: 'teardown', flow: 3, cid: 17 },
      { op: 'audit', flow: 3, cid: 17 },
      { op: 'resync', flow: 3, seq: 123456789 },
      { op: 'setCaps', caps: { 'nvme-tcp': false } },
      { op: 'setCaps', caps: { 'nvme-tcp-ddgst-rx': true, 'nvme-tcp': true } },
      { op: 'skDel', flow: 3 },
      { op: 'arenaFree', arena: 4, memory: arenaA },
      { op: 'removeFlow', flow: 3 },
      { op: 'arenaFree', arena: 0, memory: arenaB },
      { op: 'close' },
    ];
    const nums: number[] = [];
    const memories: SharedArrayBuffer[] = [];
    const arenas: ArrayBuffer[] = [];
    for (const op of ops) encodeHostOp(op, nums, memories, arenas);
    expect(arenas).toEqual([arenaA, arenaB]);
    const back = decodeHostOps(new Float64Array(nums), memories, arenas);
    expect(back).toEqual(ops);
    expect((back[2] as { memory: SharedArrayBuffer }).memory).toBe(mem);
    expect(back.filter((o) => o.op === 'arenaFree').map((o) => (o as { memory: ArrayBuffer }).memory)).toEqual([arenaA, arenaB]);
    expect((back.find((o) => o.op === 'arenaFree') as { memory: ArrayBuffer }).memory).toBe(arenaA);
  });

  it('refuses a stream it cannot read', () => {
    expect(() => decodeHostOps(new Float64Array([99]), [])).toThrow(/unknown host op 99/);
  });
});
