/**
 * The initramfs writer (src/peer/cpio.ts), read back by a newc parser written
 * here from the format's definition: every entry's mode, size, device
 * numbers, name and data, 4-byte alignment, the trailer; and the size check
 * of chunked files. Plus the /proc/net/snmp parser the live tests use.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CpioWriter } from '../../src/peer/cpio.js';
import { parseSnmp } from '../../src/peer/linux-target.js';

interface Entry {
  name: string;
  mode: number;
  rdev: [number, number];
  data: Buffer;
}

function parseNewc(buf: Buffer): Entry[] {
  const out: Entry[] = [];
  let off = 0;
  const align = (n: number): number => (n + 3) & ~3;
  for (;;) {
    expect(buf.toString('ascii', off, off + 6)).toBe('070701');
    const field = (i: number): number => parseInt(buf.toString('ascii', off + 6 + i * 8, off + 14 + i * 8), 16);
    const mode = field(1);
    const size = field(6);
    const rdev: [number, number] = [field(9), field(10)];
    const namesize = field(11);
    const name = buf.toString('ascii', off + 110, off + 110 + namesize - 1);
    expect(buf[off + 110 + namesize - 1]).toBe(0);
    const dataStart = align(off + 110 + namesize);
    if (name === 'TRAILER!!!') return out;
    out.push({ name, mode, rdev, data: buf.subarray(dataStart, dataStart + size) });
    off = align(dataStart + size);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'ddplab-cpio-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('CpioWriter (newc, as the kernel unpacks an initramfs)', () => {
  it('writes directories, files, a symlink, a device node and chunked data that read back exactly', () => {
    const path = join(dir, 'a.cpio');
    const w = new CpioWriter(path);
    w.dir('bin');
    w.file('bin/odd', Buffer.from('abcde'), 0o755);
    w.symlink('bin/sh', 'busybox');
    w.charDev('dev/console', 5, 1);
    const chunk = Buffer.alloc(1000, 7);
    w.fileFromChunks('disk.img', 3001, [chunk, chunk, chunk, Buffer.from([9])]);
    w.finish();
    const entries = parseNewc(readFileSync(path));
    expect(entries.map((e) => [e.name, e.mode.toString(8), e.data.length])).toEqual([
      ['bin', '40755', 0],
      ['bin/odd', '100755', 5],
      ['bin/sh', '120777', 7],
      ['dev/console', '20600', 0],
      ['disk.img', '100644', 3001],
    ]);
    expect(entries[1]!.data.toString()).toBe('abcde');
    expect(entries[2]!.data.toString()).toBe('busybox');
    expect(entries[3]!.rdev).toEqual([5, 1]);
    expect(entries[4]!.data.subarray(0, 3000).every((b) => b === 7)).toBe(true);
    expect(entries[4]!.data[3000]).toBe(9);
  });

  it('refuses chunks that do not add up to the declared size', () => {
    const w = new CpioWriter(join(dir, 'b.cpio'));
    expect(() => w.fileFromChunks('x', 10, [Buffer.alloc(4)])).toThrow(/4 bytes written, 10 declared/);
    w.abort();
    const w2 = new CpioWriter(join(dir, 'c.cpio'));
    expect(() => w2.fileFromChunks('y', 2, [Buffer.alloc(4)])).toThrow(/exceed the declared size 2/);
    w2.abort();
  });
});

describe('parseSnmp', () => {
  it('pairs each header line with its value line per protocol', () => {
    const text = 'Tcp: RtoAlgorithm RetransSegs\nTcp: 1 17\nTcpExt: TCPTimeouts TCPLossProbes\nTcpExt: 3 4\n';
    expect(parseSnmp(text)).toEqual({ 'Tcp.RtoAlgorithm': 1, 'Tcp.RetransSegs': 17, 'TcpExt.TCPTimeouts': 3, 'TcpExt.TCPLossProbes': 4 });
  });
});
