import { describe, expect, it } from 'vitest';
import { buildNvmeCommand, emitNvmeCommand, parseNvmeCommand, type NvmeCommand } from '../../src/wire/nvme-command.js';
import { NvmeIdCns } from '../../src/wire/nvme-identify.js';
import { NvmeReg } from '../../src/wire/nvme-registers.js';
import { buildSqe, sglInCapsule, sglTransportData, sqeWith } from '../../src/wire/nvme-sqe.js';

const ADMIN: NvmeCommand[] = [
  { kind: 'connect', cid: 1, recfmt: 0, qid: 0, sqsize: 31, cattr: 0, kato: 15000, dptr: sglInCapsule(1024) },
  { kind: 'property-get', cid: 2, offset: NvmeReg.CAP, size: 8 },
  { kind: 'property-set', cid: 3, offset: NvmeReg.CC, size: 4, value: 0x0046_0001n },
  { kind: 'identify', cid: 4, cns: NvmeIdCns.CTRL, nsid: 0, dptr: sglTransportData(4096) },
  { kind: 'keep-alive', cid: 5 },
];

const IO: NvmeCommand[] = [
  { kind: 'connect', cid: 0, recfmt: 0, qid: 1, sqsize: 127, cattr: 0, kato: 0, dptr: sglInCapsule(1024) },
  { kind: 'read', cid: 10, nsid: 1, slba: 8, nlb: 7, dptr: sglTransportData(4096) },
  { kind: 'write', cid: 11, nsid: 1, slba: 16, nlb: 0, dptr: sglInCapsule(512) },
  { kind: 'flush', cid: 12, nsid: 1 },
];

describe('parseNvmeCommand', () => {
  it('decodes every admin-queue command ddplab uses back to what was built', () => {
    for (const cmd of ADMIN) expect(parseNvmeCommand(buildNvmeCommand(cmd), 'admin')).toEqual(cmd);
  });

  it('decodes every I/O-queue command ddplab uses back to what was built', () => {
    for (const cmd of IO) expect(parseNvmeCommand(buildNvmeCommand(cmd), 'io')).toEqual(cmd);
  });

  it('reads opcode 0x02 as Read on an I/O queue and as an unknown (Get Log Page) on the admin queue', () => {
    const read = buildNvmeCommand(IO[1]!);
    expect(parseNvmeCommand(read, 'io').kind).toBe('read');
    const admin = parseNvmeCommand(read, 'admin');
    expect(admin.kind).toBe('unknown');
    expect(admin.cid).toBe(10);
  });

  it('returns unknown opcodes and Fabrics types with their raw SQE so a target can reply INVALID_OPCODE', () => {
    const disconnect = buildSqe(sqeWith({ opcode: 0x7f, cid: 9, nsid: 0x08 }));
    const got = parseNvmeCommand(disconnect, 'io');
    expect(got.kind).toBe('unknown');
    if (got.kind !== 'unknown') throw new Error('unreachable');
    expect(got.sqe.opcode).toBe(0x7f);
    expect(got.sqe.nsid & 0xff).toBe(0x08);
    expect(parseNvmeCommand(buildSqe(sqeWith({ opcode: 0x09, cid: 1 })), 'admin').kind).toBe('unknown');
    expect(parseNvmeCommand(buildSqe(sqeWith({ opcode: 0x05, cid: 1 })), 'io').kind).toBe('unknown');
  });

  it('writes an unknown command back byte for byte', () => {
    const raw = buildSqe(sqeWith({ opcode: 0x0c, cid: 77, cdw10: 0xdeadbeef }));
    const cmd = parseNvmeCommand(raw, 'admin');
    const out = Buffer.alloc(80);
    emitNvmeCommand(cmd, out, 16);
    expect(out.subarray(16, 80).equals(raw)).toBe(true);
  });

  it('passes errors of the command parsers through and reports short buffers as TRUNCATED', () => {
    const bad = buildNvmeCommand(ADMIN[1]!);
    bad[40] = 5;
    expect(() => parseNvmeCommand(bad, 'admin')).toThrow(expect.objectContaining({ code: 'BAD_FIELD' }));
    expect(() => parseNvmeCommand(Buffer.alloc(63), 'io')).toThrow(
      expect.objectContaining({ code: 'TRUNCATED', detail: { field: 'nvme sqe', expected: 64, got: 63 } }),
    );
  });
});
