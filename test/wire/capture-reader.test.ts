/**
 * The one capture decoder on hand-built pcapng and pcap: byte orders,
 * if_tsresol (10^-n and 2^-n), if_tsoffset, several interfaces and sections,
 * Simple Packet Blocks, blocks it skips, what it refuses — and a file cut at
 * every byte offset, through the whole-buffer and the streaming reader alike.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { checkCaptureFile, decodeCapture, openCapture, type CaptureReader } from '../../src/wire/capture-reader.js';
import { buildPcapFile, LINKTYPE_LINUX_SLL } from '../../src/wire/pcap.js';
import { buildPcapngFile, PcapngBlock, type PcapngBuildBlock } from '../../src/wire/pcapng.js';
import type { PcapRecord } from '../../src/wire/pcap-format.js';

const dir = mkdtempSync(join(tmpdir(), 'ddplab-capture-reader-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A 60-byte "frame" whose first bytes say which it is. */
function frame(n: number, len = 60): Buffer {
  const f = Buffer.alloc(len, n & 0xff);
  f.writeUInt32BE(n, 0);
  return f;
}

/** The file cut into chunks of `size` bytes. */
function chunks(file: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < file.length; at += size) out.push(Buffer.from(file.subarray(at, at + size)));
  return out;
}

async function streamAll(file: Buffer, size: number): Promise<{ records: PcapRecord[]; reader: CaptureReader }> {
  const reader = await openCapture(Readable.from(chunks(file, size)));
  const records: PcapRecord[] = [];
  for await (const r of reader) records.push(r);
  return { records, reader };
}

const ids = (rs: readonly PcapRecord[]): number[] => rs.map((r) => r.data.readUInt32BE(0));

const T = 1_700_000_123n; // seconds

describe('pcapng', () => {
  for (const byteOrder of ['LE', 'BE'] as const) {
    it(`reads ${byteOrder} sections: EPB timestamps in µs (default), ns and 2^-20 s units`, async () => {
      const file = buildPcapngFile([
        { kind: 'shb', byteOrder },
        { kind: 'idb', name: 'host0' }, // no if_tsresol: microseconds
        { kind: 'idb', tsresol: 9 },
        { kind: 'idb', tsresol: 0x80 | 20 },
        { kind: 'epb', iface: 0, ts: T * 1_000_000n + 123_456n, data: frame(0) },
        { kind: 'epb', iface: 1, ts: T * 1_000_000_000n + 987_654_321n, data: frame(1, 1514) },
        { kind: 'epb', iface: 2, ts: (T << 20n) + (1n << 19n) + 1n, data: frame(2, 61) },
      ]);
      const d = decodeCapture(file);
      expect(d.header).toEqual({ format: 'pcapng', byteOrder, tsResolution: 'us', versionMajor: 1, versionMinor: 0, snaplen: 262144, linkType: 1 });
      expect(d.truncated).toBeUndefined();
      expect(ids(d.records)).toEqual([0, 1, 2]);
      expect(d.records.map((r) => [r.tsSec, r.tsNsec])).toEqual([
        [Number(T), 123_456_000],
        [Number(T), 987_654_321],
        // half a second plus one 2^-20 s unit (953.67 ns, floored)
        [Number(T), 500_000_953],
      ]);
      expect(d.records.map((r) => [r.caplen, r.len, r.data.length])).toEqual([
        [60, 60, 60],
        [1514, 1514, 1514],
        [61, 61, 61],
      ]);
      expect(d.records[1]!.data.equals(frame(1, 1514))).toBe(true);
      const s = await streamAll(file, 13);
      expect(s.records.map((r) => [r.tsSec, r.tsNsec, r.caplen])).toEqual(d.records.map((r) => [r.tsSec, r.tsNsec, r.caplen]));
    });
  }

  it('applies if_tsoffset and other 10^-n units (ms)', () => {
    const file = buildPcapngFile([
      { kind: 'shb' },
      { kind: 'idb', tsresol: 3, tsOffsetSec: 1_000_000_000n },
      { kind: 'epb', ts: 700_000_123_456n, data: frame(7) },
    ]);
    const [r] = decodeCapture(file).records;
    expect([r!.tsSec, r!.tsNsec]).toEqual([1_700_000_123, 456_000_000]);
    expect(decodeCapture(file).header.tsResolution).toBe('10^-3');
  });

  it('reads Simple Packet Blocks on interface 0: caplen cut to the snaplen, time of the packet before', () => {
    const file = buildPcapngFile([
      { kind: 'shb' },
      { kind: 'idb', snaplen: 100 },
      { kind: 'epb', ts: 5_000_001n, data: frame(0) },
      { kind: 'spb', data: frame(1, 80) },
      { kind: 'spb', data: frame(2, 100), origLen: 1500 },
    ]);
    const { records } = decodeCapture(file);
    expect(ids(records)).toEqual([0, 1, 2]);
    expect(records.map((r) => [r.caplen, r.len, r.tsSec, r.tsNsec])).toEqual([
      [60, 60, 5, 1000],
      [80, 80, 5, 1000],
      [100, 1500, 5, 1000],
    ]);
  });

  it('skips name resolution, statistics, decryption secrets, custom and unknown blocks by their length', () => {
    const junk = (n: number): Buffer => Buffer.alloc(n, 0xee);
    const file = buildPcapngFile([
      { kind: 'shb' },
      { kind: 'raw', type: PcapngBlock.NRB, body: junk(20) },
      { kind: 'idb' },
      { kind: 'epb', ts: 1n, data: frame(0) },
      { kind: 'raw', type: PcapngBlock.ISB, body: junk(28) },
      { kind: 'raw', type: PcapngBlock.DSB, body: junk(9) },
      { kind: 'raw', type: PcapngBlock.CUSTOM, body: junk(4) },
      { kind: 'raw', type: 0x40000bad, body: junk(0) },
      { kind: 'raw', type: 0x12345678, body: junk(1000) },
      { kind: 'epb', ts: 2n, data: frame(1) },
    ]);
    expect(ids(decodeCapture(file).records)).toEqual([0, 1]);
  });

  it('reads several sections of either byte order, interfaces numbered afresh in each', () => {
    const file = buildPcapngFile([
      { kind: 'shb', byteOrder: 'LE' },
      { kind: 'idb' },
      { kind: 'epb', ts: 1_000_000n, data: frame(0) },
      { kind: 'shb', byteOrder: 'BE' },
      { kind: 'idb', tsresol: 9 },
      { kind: 'epb', iface: 0, ts: 2_000_000_000n, data: frame(1) },
      { kind: 'shb', byteOrder: 'LE' },
      { kind: 'idb', linkType: LINKTYPE_LINUX_SLL },
      { kind: 'idb' },
      { kind: 'epb', iface: 1, ts: 3_000_000n, data: frame(2) },
    ]);
    const d = decodeCapture(file);
    expect(ids(d.records)).toEqual([0, 1, 2]);
    expect(d.records.map((r) => r.tsSec)).toEqual([1, 2, 3]);
    expect(d.header.byteOrder).toBe('LE');
  });

  it('refuses a packet on an interface that is not Ethernet, naming the interface (at open, when it is the first)', async () => {
    const file = buildPcapngFile([
      { kind: 'shb' },
      { kind: 'idb' },
      { kind: 'idb', linkType: LINKTYPE_LINUX_SLL, name: 'any' },
      { kind: 'epb', iface: 1, ts: 1n, data: frame(0) },
    ]);
    const want = { code: 'PCAP_LINKTYPE', message: expect.stringContaining('input: interface 1 (any): link type 113 (LINUX_SLL') };
    expect(() => decodeCapture(file)).toThrow(expect.objectContaining(want));
    await expect(openCapture(Readable.from([file]))).rejects.toMatchObject(want);
    // An interface that is not Ethernet but carries nothing is no reason to refuse.
    const idle = buildPcapngFile([{ kind: 'shb' }, { kind: 'idb', linkType: 0 }, { kind: 'idb' }, { kind: 'epb', iface: 1, ts: 1n, data: frame(5) }]);
    expect(ids(decodeCapture(idle).records)).toEqual([5]);
  });

  it('refuses what no writer makes as PCAP_FORMAT: bad lengths, a missing interface, another major version, a bad byte-order magic', () => {
    const good = buildPcapngFile([{ kind: 'shb' }, { kind: 'idb' }, { kind: 'epb', ts: 1n, data: frame(0) }]);
    const epbAt = 28 + 20;
    const cases: [string, (b: Buffer) => void][] = [
      ['length not a multiple of 4', (b) => b.writeUInt32LE(90, epbAt + 4)],
      ['length below the block minimum', (b) => b.writeUInt32LE(16, epbAt + 4)],
      ['trailing length differs', (b) => b.writeUInt32LE(4, b.length - 4)],
      ['packet on interface 3', (b) => b.writeUInt32LE(3, epbAt + 8)],
      ['caplen past the block', (b) => b.writeUInt32LE(61, epbAt + 20)],
      ['major version 2', (b) => b.writeUInt16LE(2, 12)],
      ['byte-order magic', (b) => b.writeUInt32LE(0x11223344, 8)],
      ['huge length', (b) => b.writeUInt32LE(0x7ffffffc, epbAt + 4)],
    ];
    for (const [what, spoil] of cases) {
      const b = Buffer.from(good);
      spoil(b);
      expect(() => decodeCapture(b), what).toThrow(expect.objectContaining({ code: 'PCAP_FORMAT' }));
    }
  });
});

describe('pcap', () => {
  it('carries a fraction of a second or more (a corrupt field) into the seconds', () => {
    const us = buildPcapFile([{ data: frame(0), tsMs: 7000 }]);
    us.writeUInt32LE(2_500_000, 24 + 4);
    expect(decodeCapture(us).records.map((r) => [r.tsSec, r.tsNsec])).toEqual([[9, 500_000_000]]);
    const ns = Buffer.from(us);
    ns.writeUInt32LE(0xa1b23c4d, 0);
    ns.writeUInt32LE(3_000_000_007, 24 + 4);
    expect(decodeCapture(ns).records.map((r) => [r.tsSec, r.tsNsec])).toEqual([[10, 7]]);
  });
});

/** A pcapng file with a bit of everything, and its unit boundaries. */
function mixedPcapng(): { file: Buffer; ends: number[]; recordsBefore: number[] } {
  const blocks: PcapngBuildBlock[] = [
    { kind: 'shb' },
    { kind: 'idb', tsresol: 9, name: 'veth0' },
    { kind: 'epb', ts: 1n, data: frame(0, 61) },
    { kind: 'raw', type: PcapngBlock.NRB, body: Buffer.alloc(12, 1) },
    { kind: 'spb', data: frame(1, 62) },
    { kind: 'shb', byteOrder: 'BE' },
    { kind: 'idb' },
    { kind: 'epb', ts: 2n, data: frame(2, 63) },
    { kind: 'raw', type: PcapngBlock.ISB, body: Buffer.alloc(8, 2) },
  ];
  const ends: number[] = [];
  const recordsBefore: number[] = [];
  let n = 0;
  for (let i = 1; i <= blocks.length; i++) {
    ends.push(buildPcapngFile(blocks.slice(0, i)).length);
    if (['epb', 'spb'].includes(blocks[i - 1]!.kind)) n++;
    recordsBefore.push(n);
  }
  return { file: buildPcapngFile(blocks), ends, recordsBefore };
}

function mixedPcap(): { file: Buffer; ends: number[]; recordsBefore: number[] } {
  const frames = [frame(0, 60), frame(1, 75), frame(2, 64)].map((data, i) => ({ data, tsMs: 1_000 + i }));
  const ends = [24];
  const recordsBefore = [0];
  for (let i = 1; i <= frames.length; i++) {
    ends.push(buildPcapFile(frames.slice(0, i)).length);
    recordsBefore.push(i);
  }
  return { file: buildPcapFile(frames), ends, recordsBefore };
}

describe('a capture cut at every byte offset', () => {
  for (const [format, make, headerEnd] of [
    ['pcapng', mixedPcapng, 28],
    ['pcap', mixedPcap, 24],
  ] as const) {
    it(`${format}: the records before the cut, what was cut, never a throw once the header is whole`, async () => {
      const { file, ends, recordsBefore } = make();
      const whole = decodeCapture(file).records;
      for (let cut = 0; cut <= file.length; cut++) {
        const part = file.subarray(0, cut);
        if (cut < headerEnd) {
          expect(() => decodeCapture(part), `cut ${cut}`).toThrow(expect.objectContaining({ code: 'PCAP_TRUNCATED' }));
          await expect(openCapture(Readable.from(cut === 0 ? [] : [part])), `cut ${cut}`).rejects.toMatchObject({ code: 'PCAP_TRUNCATED' });
          continue;
        }
        // The last whole unit ending at or before the cut.
        let k = 0;
        while (k + 1 < ends.length && ends[k + 1]! <= cut) k++;
        const boundary = ends[k]!;
        const d = decodeCapture(part);
        expect(ids(d.records), `cut ${cut}`).toEqual(ids(whole).slice(0, recordsBefore[k]));
        if (cut === boundary) expect(d.truncated, `cut ${cut}`).toBeUndefined();
        else {
          expect(d.truncated, `cut ${cut}`).toMatchObject({ atByte: boundary, bytes: cut - boundary, records: recordsBefore[k] });
          expect(d.truncated!.message).not.toContain('\n');
        }
        // The streaming reader, fed in small chunks that split every header, agrees.
        const s = await streamAll(part, 5);
        expect(ids(s.records), `stream cut ${cut}`).toEqual(ids(d.records));
        expect(s.reader.truncated, `stream cut ${cut}`).toEqual(d.truncated);
      }
    });
  }
});

describe('checkCaptureFile: the first bytes only', () => {
  const file = (name: string, bytes: Buffer): string => {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    return p;
  };

  it('names the format of pcap and pcapng files, and refuses the rest in one line', () => {
    expect(checkCaptureFile(file('a.pcap', buildPcapFile([{ data: frame(0), tsMs: 1 }])))).toBe('pcap');
    expect(checkCaptureFile(file('a.pcapng', mixedPcapng().file))).toBe('pcapng');
    expect(() => checkCaptureFile(join(dir, 'missing.pcap'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => checkCaptureFile(dir)).toThrow(expect.objectContaining({ code: 'EISDIR' }));
    expect(() => checkCaptureFile(file('empty.pcap', Buffer.alloc(0)))).toThrow(expect.objectContaining({ code: 'PCAP_TRUNCATED', message: expect.stringContaining('is empty') }));
    expect(() => checkCaptureFile(file('text.pcap', Buffer.from('hello, this is not a capture\n')))).toThrow(
      expect.objectContaining({ code: 'PCAP_FORMAT', message: expect.stringMatching(/text\.pcap is not a capture \(magic 0x68656c6c\)/) }),
    );
    const sll = buildPcapFile([]);
    sll.writeUInt32LE(LINKTYPE_LINUX_SLL, 20);
    expect(() => checkCaptureFile(file('sll.pcap', sll))).toThrow(expect.objectContaining({ code: 'PCAP_LINKTYPE' }));
    expect(() => checkCaptureFile(file('short.pcapng', mixedPcapng().file.subarray(0, 20)))).toThrow(expect.objectContaining({ code: 'PCAP_TRUNCATED' }));
  });
});
