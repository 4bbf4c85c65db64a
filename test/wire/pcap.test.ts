import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xorshift32 } from '../../src/base/seeded-rng.js';
import {
  buildPcapFile,
  LINKTYPE_LINUX_SLL,
  openPcap,
  parsePcapFile,
  PCAP_DEFAULT_SNAPLEN,
  pcapRecordTimeMs,
  PcapWriter,
  readPcapFileSync,
  writePcapFileSync,
  type PcapFrame,
  type PcapRecord,
} from '../../src/wire/pcap.js';

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ddplab-pcap-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** xorshift32: frames and lengths are random but the same on every run (seed printed on failure via the test name). */
const prng = xorshift32;

const SEED = 0x5eed_0001;
const T0_US = 1_700_000_000_000_000; // microseconds since the epoch

/** N frames of 60..1514 bytes (one jumbo), timestamps at odd microsecond steps. */
function makeFrames(n: number, seed = SEED): { frames: PcapFrame[]; tsUs: number[] } {
  const rnd = prng(seed);
  const frames: PcapFrame[] = [];
  const tsUs: number[] = [];
  for (let i = 0; i < n; i++) {
    const len = i === 3 ? 9014 : 60 + (rnd() % 1455);
    const data = Buffer.alloc(len);
    for (let j = 0; j < len; j++) data[j] = rnd() & 0xff;
    data.writeUInt32BE(i, 0); // frame index in the "destination MAC" so reordering would show
    const us = T0_US + i * 1501 + (rnd() % 1000);
    tsUs.push(us);
    frames.push({ data, tsMs: us / 1000 });
  }
  return { frames, tsUs };
}

function expectSameRecords(records: readonly PcapRecord[], frames: readonly PcapFrame[], tsUs: readonly number[]): void {
  expect(records.length).toBe(frames.length);
  records.forEach((r, i) => {
    expect(Buffer.from(r.data).equals(Buffer.from(frames[i]!.data))).toBe(true);
    expect(r.caplen).toBe(frames[i]!.data.length);
    expect(r.len).toBe(frames[i]!.data.length);
    expect(r.tsSec).toBe(Math.floor(tsUs[i]! / 1e6));
    expect(r.tsNsec).toBe((tsUs[i]! % 1e6) * 1000);
  });
}

async function readAll(source: string | Readable): Promise<PcapRecord[]> {
  const out: PcapRecord[] = [];
  for await (const r of await openPcap(source)) out.push(r);
  return out;
}

/** Resolves with the error the promise rejects with; fails the test if it resolves. */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/** Rewrites a little-endian µs file (as ddplab writes it) into big-endian byte order. */
function toBigEndian(le: Buffer): Buffer {
  const be = Buffer.from(le);
  be.writeUInt32BE(0xa1b2c3d4, 0);
  be.writeUInt16BE(le.readUInt16LE(4), 4);
  be.writeUInt16BE(le.readUInt16LE(6), 6);
  for (const off of [8, 12, 16, 20]) be.writeUInt32BE(le.readUInt32LE(off), off);
  let off = 24;
  while (off < le.length) {
    const caplen = le.readUInt32LE(off + 8);
    for (let k = 0; k < 16; k += 4) be.writeUInt32BE(le.readUInt32LE(off + k), off + k);
    off += 16 + caplen;
  }
  return be;
}

/** A 24-byte little-endian header with the given link type and no records. */
function headerWithLinkType(linkType: number): Buffer {
  const h = buildPcapFile([]);
  h.writeUInt32LE(linkType, 20);
  return h;
}

function tshark(args: string[]): string {
  return execFileSync('tshark', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
}

describe('pcap writer and readers', () => {
  it(`writes frames that both readers return identically, with timestamps (seed ${SEED})`, async () => {
    const { frames, tsUs } = makeFrames(50);
    const path = join(dir, 'roundtrip.pcap');
    const w = new PcapWriter(path);
    for (const f of frames) await w.write(f.data, f.tsMs);
    await w.close();
    expect(w.framesWritten).toBe(50);

    const sync = readPcapFileSync(path);
    expect(sync.header).toEqual({
      format: 'pcap',
      byteOrder: 'LE',
      tsResolution: 'us',
      versionMajor: 2,
      versionMinor: 4,
      snaplen: PCAP_DEFAULT_SNAPLEN,
      linkType: 1,
    });
    expectSameRecords(sync.records, frames, tsUs);
    expectSameRecords(await readAll(path), frames, tsUs);
    expect(pcapRecordTimeMs(sync.records[0]!)).toBeCloseTo(tsUs[0]! / 1000, 3);
    // The streaming writer and the in-memory builder produce the same bytes.
    expect(readFileSync(path).equals(buildPcapFile(frames))).toBe(true);
  });

  it('writes files tshark and tcpdump read: same frame lengths and timestamps', () => {
    const { frames, tsUs } = makeFrames(20, 0x1234_5678);
    const path = join(dir, 'tools.pcap');
    writePcapFileSync(path, frames);
    const lens = tshark(['-r', path, '-T', 'fields', '-e', 'frame.len']).trim().split('\n').map(Number);
    expect(lens).toEqual(frames.map((f) => f.data.length));
    const times = tshark(['-r', path, '-T', 'fields', '-e', 'frame.time_epoch']).trim().split('\n');
    expect(times).toEqual(tsUs.map((us) => `${Math.floor(us / 1e6)}.${String(us % 1e6).padStart(6, '0')}000`));
    const dump = execFileSync('tcpdump', ['-r', path, '-nn', '-q'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(dump.trim().split('\n')).toHaveLength(20);
  });

  it('cuts frames longer than the snaplen and keeps their wire length', async () => {
    const big = Buffer.alloc(300, 0xab);
    const path = join(dir, 'snap.pcap');
    const w = new PcapWriter(path, { snaplen: 128 });
    await w.write(big, 1000);
    await w.close();
    const { header, records } = readPcapFileSync(path);
    expect(header.snaplen).toBe(128);
    expect(records[0]!.caplen).toBe(128);
    expect(records[0]!.len).toBe(300);
    expect(records[0]!.data.equals(big.subarray(0, 128))).toBe(true);
    const fields = tshark(['-r', path, '-T', 'fields', '-e', 'frame.len', '-e', 'frame.cap_len']).trim();
    expect(fields).toBe('300\t128');
  });

  it('writes to a file descriptor and leaves it open for its owner', async () => {
    const { frames, tsUs } = makeFrames(5);
    const path = join(dir, 'fd.pcap');
    const fd = openSync(path, 'w');
    const w = new PcapWriter(fd);
    for (const f of frames) await w.write(f.data, f.tsMs);
    await w.close();
    closeSync(fd); // throws EBADF if the writer had closed it
    expectSameRecords(readPcapFileSync(path).records, frames, tsUs);
  });

  it('waits for a slow stream instead of losing or reordering frames', async () => {
    const { frames } = makeFrames(200);
    const chunks: Buffer[] = [];
    let drains = 0;
    const slow = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk);
        setImmediate(cb);
      },
    });
    slow.on('drain', () => drains++);
    const w = new PcapWriter(slow);
    for (const f of frames) await w.write(f.data, f.tsMs);
    await w.close();
    expect(drains).toBeGreaterThan(0);
    expect(Buffer.concat(chunks).equals(buildPcapFile(frames))).toBe(true);
  });

  it('copies each frame, so the caller may reuse its buffer at once', async () => {
    const chunks: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk);
        setImmediate(cb);
      },
    });
    const w = new PcapWriter(sink);
    const frame = Buffer.alloc(64, 1);
    const pending = w.write(frame, 0);
    frame.fill(2);
    await pending;
    await w.close();
    const { records } = parsePcapFile(Buffer.concat(chunks));
    expect(records[0]!.data.every((b) => b === 1)).toBe(true);
  });

  it('streams a file larger than its internal queue in order (pause and resume)', async () => {
    const n = 10_000;
    const frames: PcapFrame[] = Array.from({ length: n }, (_, i) => {
      const data = Buffer.alloc(60);
      data.writeUInt32BE(i, 0);
      return { data, tsMs: 1_700_000_000_000 + i };
    });
    const path = join(dir, 'many.pcap');
    writePcapFileSync(path, frames);
    let i = 0;
    for await (const r of await openPcap(path)) {
      expect(r.data.readUInt32BE(0)).toBe(i);
      i++;
      // A slow consumer now and then lets the queue fill past its high-water mark.
      if (i % 2500 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(i).toBe(n);
  });

  it('stops reading when the consumer breaks out of the loop', async () => {
    const path = join(dir, 'break.pcap');
    writePcapFileSync(path, makeFrames(30).frames);
    const reader = await openPcap(path);
    let seen = 0;
    for await (const r of reader) {
      expect(r.caplen).toBeGreaterThan(0);
      if (++seen === 3) break;
    }
    expect(seen).toBe(3);
    const again: PcapRecord[] = [];
    for await (const r of reader) again.push(r);
    expect(again).toHaveLength(0);
  });

  it('reads a stream as well as a path', async () => {
    const { frames, tsUs } = makeFrames(7);
    const records = await readAll(Readable.from([buildPcapFile(frames)]));
    expectSameRecords(records, frames, tsUs);
  });
});

describe('pcap byte orders and timestamp resolutions', () => {
  it('reads big-endian files with both readers', async () => {
    const { frames, tsUs } = makeFrames(6);
    const be = toBigEndian(buildPcapFile(frames));
    expect(be.readUInt32BE(0)).toBe(0xa1b2c3d4);
    const path = join(dir, 'be.pcap');
    writeFileSync(path, be);
    const sync = readPcapFileSync(path);
    expect(sync.header.byteOrder).toBe('BE');
    expectSameRecords(sync.records, frames, tsUs);
    expectSameRecords(await readAll(path), frames, tsUs);
    // tshark agrees that it is the same capture.
    expect(tshark(['-r', path, '-T', 'fields', '-e', 'frame.len']).trim().split('\n').map(Number)).toEqual(
      frames.map((f) => f.data.length),
    );
  });

  it('reads nanosecond files written by editcap, in nanoseconds', async () => {
    const { frames, tsUs } = makeFrames(6);
    const us = join(dir, 'us.pcap');
    const ns = join(dir, 'ns.pcap');
    writePcapFileSync(us, frames);
    execFileSync('editcap', ['-F', 'nsecpcap', us, ns], { stdio: 'ignore' });
    const sync = readPcapFileSync(ns);
    expect(sync.header.tsResolution).toBe('ns');
    expectSameRecords(sync.records, frames, tsUs);
    expectSameRecords(await readAll(ns), frames, tsUs);
  });

  it('keeps sub-microsecond digits of a nanosecond file', async () => {
    const file = buildPcapFile([{ data: Buffer.alloc(60), tsMs: 5000 }]);
    file.writeUInt32LE(0xa1b23c4d, 0);
    file.writeUInt32LE(123_456_789, 24 + 4);
    const path = join(dir, 'ns-digits.pcap');
    writeFileSync(path, file);
    expect(readPcapFileSync(path).records[0]!.tsNsec).toBe(123_456_789);
    const [rec] = await readAll(path);
    expect(rec!.tsSec).toBe(5);
    expect(rec!.tsNsec).toBe(123_456_789);
    expect(tshark(['-r', path, '-T', 'fields', '-e', 'frame.time_epoch']).trim()).toBe('5.123456789');
  });
});

describe('pcap errors', () => {
  it('reads pcapng made by editcap and by tshark: the same records as the pcap, with both readers', async () => {
    const { frames, tsUs } = makeFrames(12);
    const src = join(dir, 'src.pcap');
    writePcapFileSync(src, frames);
    const byEditcap = join(dir, 'capture.pcapng');
    const byTshark = join(dir, 'tshark.pcapng');
    execFileSync('editcap', ['-F', 'pcapng', src, byEditcap], { stdio: 'ignore' });
    execFileSync('tshark', ['-r', src, '-F', 'pcapng', '-w', byTshark], { stdio: 'ignore' });
    for (const ng of [byEditcap, byTshark]) {
      expect(readFileSync(ng).readUInt32BE(0)).toBe(0x0a0d0d0a);
      const sync = readPcapFileSync(ng);
      expect(sync.header).toMatchObject({ format: 'pcapng', linkType: 1, tsResolution: 'us' });
      expect(sync.truncated).toBeUndefined();
      expectSameRecords(sync.records, frames, tsUs);
      expectSameRecords(await readAll(ng), frames, tsUs);
    }
  });

  it('refuses a file of a pcapng magic too short for its Section Header Block, as PCAP_TRUNCATED', async () => {
    const tiny = Buffer.from([0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0]);
    expect(() => parsePcapFile(tiny)).toThrow(expect.objectContaining({ code: 'PCAP_TRUNCATED', message: expect.stringContaining('pcapng Section Header Block') }));
    expect(await rejection(openPcap(Readable.from([tiny])))).toMatchObject({ code: 'PCAP_TRUNCATED' });
  });

  it('rejects an unknown magic with PCAP_FORMAT naming it', async () => {
    const junk = Buffer.alloc(64, 0x42);
    expect(() => parsePcapFile(junk)).toThrow(
      expect.objectContaining({ code: 'PCAP_FORMAT', message: expect.stringContaining('magic 0x42424242') }),
    );
    expect(await rejection(openPcap(Readable.from([junk])))).toMatchObject({ code: 'PCAP_FORMAT' });
  });

  it('rejects Linux cooked and raw-IP captures with PCAP_LINKTYPE naming the link type', async () => {
    const sll = headerWithLinkType(LINKTYPE_LINUX_SLL);
    expect(() => parsePcapFile(sll)).toThrow(
      expect.objectContaining({
        code: 'PCAP_LINKTYPE',
        message: expect.stringMatching(/link type 113 \(LINUX_SLL.*is not Ethernet \(1\)/),
        detail: { field: 'linktype', expected: 1, got: 113 },
      }),
    );
    const sllPath = join(dir, 'sll.pcap');
    writeFileSync(sllPath, sll);
    const err = await rejection(openPcap(sllPath));
    expect(err).toMatchObject({ code: 'PCAP_LINKTYPE', detail: { got: 113 } });
    expect((err as Error).message).toContain('LINUX_SLL');
    expect(() => parsePcapFile(headerWithLinkType(101))).toThrow(
      expect.objectContaining({ code: 'PCAP_LINKTYPE', message: expect.stringContaining('link type 101 (RAW') }),
    );
  });

  it('rejects a file shorter than its header with PCAP_TRUNCATED', async () => {
    const short = buildPcapFile([]).subarray(0, 10);
    expect(() => parsePcapFile(short)).toThrow(
      expect.objectContaining({ code: 'PCAP_TRUNCATED', detail: { field: 'file header', expected: 24, got: 10 } }),
    );
    expect(await rejection(openPcap(Readable.from([short])))).toMatchObject({ code: 'PCAP_TRUNCATED' });
    const empty = join(dir, 'empty.pcap');
    writeFileSync(empty, Buffer.alloc(0));
    const e = await rejection(openPcap(empty));
    expect(e).toMatchObject({ code: 'PCAP_TRUNCATED', detail: { got: 0 } });
    expect((e as Error).message).toBe(`${empty} is empty: not a pcap or pcapng capture`);
  });

  it('reads a file cut inside a record up to the cut, and says what was cut (both readers)', async () => {
    const { frames, tsUs } = makeFrames(4, 77);
    const whole = buildPcapFile(frames);
    const cut = whole.subarray(0, whole.length - 10); // last record loses 10 bytes of data
    const lastCaplen = frames[3]!.data.length;
    const lastOff = whole.length - 16 - lastCaplen;
    const want = { atByte: lastOff, bytes: 16 + lastCaplen - 10, records: 3, what: 'pcap record' };
    const sync = parsePcapFile(cut);
    expectSameRecords(sync.records, frames.slice(0, 3), tsUs.slice(0, 3));
    expect(sync.truncated).toMatchObject(want);
    expect(sync.truncated!.message).toBe(`input is cut short: it ends ${16 + lastCaplen - 10} of ${16 + lastCaplen} bytes into a pcap record at byte ${lastOff}; the 3 whole records before it were read`);
    const path = join(dir, 'cut.pcap');
    writeFileSync(path, cut);
    const reader = await openPcap(path);
    const got: PcapRecord[] = [];
    for await (const r of reader) got.push(r);
    expectSameRecords(got, frames.slice(0, 3), tsUs.slice(0, 3));
    expect(reader.truncated).toMatchObject(want);
  });

  it('reads a file cut inside a record header up to the cut', async () => {
    const { frames } = makeFrames(2);
    const whole = buildPcapFile(frames);
    const cut = whole.subarray(0, 24 + 16 + frames[0]!.data.length + 7);
    const want = { atByte: 24 + 16 + frames[0]!.data.length, bytes: 7, records: 1, what: 'pcap record header' };
    const sync = parsePcapFile(cut);
    expect(sync.records).toHaveLength(1);
    expect(sync.truncated).toMatchObject(want);
    const reader = await openPcap(Readable.from([cut.subarray(0, 50), cut.subarray(50)]));
    const records: PcapRecord[] = [];
    for await (const r of reader) records.push(r);
    expect(records).toHaveLength(1);
    expect(reader.truncated).toMatchObject(want);
  });

  it('rejects a record whose caplen no capture could have, as PCAP_FORMAT', async () => {
    const file = buildPcapFile([{ data: Buffer.alloc(60), tsMs: 0 }]);
    file.writeUInt32LE(0x4000_0000, 24 + 8);
    expect(() => parsePcapFile(file)).toThrow(
      expect.objectContaining({ code: 'PCAP_FORMAT', detail: expect.objectContaining({ field: 'record 0 caplen' }) }),
    );
    const err = await (async () => {
      try {
        for await (const r of await openPcap(Readable.from([file]))) expect(r).toBeUndefined();
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toMatchObject({ code: 'PCAP_FORMAT' });
  });

  it('passes I/O errors through', async () => {
    expect(await rejection(openPcap(join(dir, 'does-not-exist.pcap')))).toMatchObject({ code: 'ENOENT' });
  });

  it('refuses timestamps a pcap record cannot hold', async () => {
    const w = new PcapWriter(join(dir, 'ts.pcap'));
    await expect(w.write(Buffer.alloc(60), -1)).rejects.toMatchObject({ code: 'BAD_FIELD' });
    await w.close();
  });
});
