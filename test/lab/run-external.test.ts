/**
 * The pure parts of external-target mode (src/lab/run-external.ts): the
 * --verify and --host-ip flags, the next hop, the workload each
 * verification mode makes, and a file as the expected image.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/base/errors.js';
import { externalNextHop, openFileImage, parseHostAddress, parseVerifySource, workloadForVerify, describeVerifySource } from '../../src/lab/run-external.js';

const tmp = mkdtempSync(join(tmpdir(), 'ddplab-ext-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('--verify', () => {
  it('parses each source and prints it back', () => {
    for (const text of ['pattern:7', 'pattern:4294967295', 'file:/tmp/x.img', 'file:rel/a:b.img', 'readback', 'none']) {
      expect(describeVerifySource(parseVerifySource(text))).toBe(text);
    }
    expect(parseVerifySource('pattern:0x10')).toEqual({ kind: 'pattern', seed: 16 });
  });

  it('refuses anything else in one line naming the choices', () => {
    for (const text of ['pattern', 'pattern:', 'pattern:-1', 'pattern:4294967296', 'file:', 'sha:abc', '']) {
      expect(() => parseVerifySource(text), text).toThrow(UserError);
    }
    expect(() => parseVerifySource('bogus')).toThrow(/not one of pattern:SEED .* readback .* or none/);
  });
});

describe('--host-ip A/LEN', () => {
  it('needs the prefix length', () => {
    expect(parseHostAddress('192.0.2.2/24')).toEqual({ ip: '192.0.2.2', prefixLen: 24 });
    expect(() => parseHostAddress('192.0.2.2')).toThrow('--host-ip 192.0.2.2 has no prefix length: give A.B.C.D/LEN, e.g. 192.0.2.2/24');
    expect(() => parseHostAddress('192.0.2.2/33')).toThrow(/prefix length 33/);
    expect(() => parseHostAddress('192.0.2.300/24')).toThrow(/not an IPv4 address/);
  });
});

describe('next hop', () => {
  const host = { ip: '192.0.2.2', prefixLen: 24 };
  it('is the target on the subnet, the gateway off it', () => {
    expect(externalNextHop(host, '192.0.2.1', undefined)).toBe('192.0.2.1');
    expect(externalNextHop(host, '192.0.2.1', '192.0.2.254')).toBe('192.0.2.1');
    expect(externalNextHop(host, '198.51.100.7', '192.0.2.254')).toBe('192.0.2.254');
    expect(externalNextHop({ ip: '192.0.2.2', prefixLen: 0 }, '198.51.100.7', undefined)).toBe('198.51.100.7');
  });

  it('fails in one line without a route, or with a gateway off the subnet', () => {
    expect(() => externalNextHop(host, '198.51.100.7', undefined)).toThrow('target 198.51.100.7 is not in 192.0.2.0/24 and no --gateway was given');
    expect(() => externalNextHop(host, '198.51.100.7', '198.51.100.1')).toThrow('--gateway 198.51.100.1 is not in 192.0.2.0/24, the subnet of --host-ip');
  });
});

describe('the workload of each verification', () => {
  const w = { rw: 'randrw' as const, size: '16m', seed: 3 };
  it('pattern:SEED checks unwritten blocks against that seed, whatever the workload seed', () => {
    expect(workloadForVerify(w, { kind: 'pattern', seed: 7 })).toMatchObject({ verify: true, patternSeed: 7, seed: 3, baseline: { kind: 'pattern' } });
  });
  it('readback writes the job range first and trusts nothing else', () => {
    expect(workloadForVerify(w, { kind: 'readback' })).toMatchObject({ verify: true, prefill: true, range: '16m', baseline: { kind: 'unknown' } });
    expect(() => workloadForVerify({ rw: 'read' }, { kind: 'readback' })).toThrow('--verify readback needs --size');
  });
  it('none turns verification off', () => {
    expect(workloadForVerify(w, { kind: 'none' }).verify).toBe(false);
  });
});

describe('file:PATH as the image', () => {
  it('reads the bytes at any offset and reports its size', () => {
    const path = join(tmp, 'a.img');
    const bytes = Buffer.from(Array.from({ length: 10_000 }, (_, i) => (i * 7) & 0xff));
    writeFileSync(path, bytes);
    const img = openFileImage(path);
    try {
      expect(img.sizeBytes).toBe(10_000);
      const out = Buffer.alloc(1000);
      img.read(4321, out);
      expect(out.equals(bytes.subarray(4321, 5321))).toBe(true);
      // Past the end reads as zeros (the size check keeps a workload from getting there).
      const tail = Buffer.alloc(100, 0xee);
      img.read(9950, tail);
      expect(tail.subarray(0, 50).equals(bytes.subarray(9950))).toBe(true);
      expect(tail.subarray(50).every((b) => b === 0)).toBe(true);
    } finally {
      img.close();
    }
    expect(workloadForVerify({ rw: 'read' }, { kind: 'file', path }, img).baseline).toEqual({ kind: 'image', image: img });
  });

  it('a missing file is one line', () => {
    expect(() => openFileImage(join(tmp, 'nope.img'))).toThrow(`--verify file:${join(tmp, 'nope.img')}: cannot open it (ENOENT)`);
  });
});
