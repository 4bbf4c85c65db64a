import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openPcapFilePort } from '../../../src/nicemu/port/pcap-file.js';
import type { RxFrame } from '../../../src/nicemu/port/port.js';
import { buildPcapFile, buildPcapngFromFrames } from '../../../src/wire/pcap.js';

const dir = mkdtempSync(join(tmpdir(), 'ddplab-port-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A 60-byte frame whose byte 0 is `dst` and bytes 14..17 carry `n`. */
function frame(n: number, dst = 1): Buffer {
  const f = Buffer.alloc(60);
  f[0] = dst;
  f.writeUInt16BE(0x88b6, 12);
  f.writeUInt32BE(n, 14);
  return f;
}

function writeCapture(name: string, count: number): string {
  const path = join(dir, name);
  // 1.5 ms apart, starting at a whole second plus 250 µs.
  const frames = Array.from({ length: count }, (_, n) => ({ data: frame(n, n % 2), tsMs: 1_700_000_000_000.25 + n * 1.5 }));
  writeFileSync(path, buildPcapFile(frames));
  return path;
}

describe('pcap file Port', () => {
  it('replays every frame in order, in batches, with the file timestamps in µs', async () => {
    const path = writeCapture('all.pcap', 1000);
    const port = await openPcapFilePort({ path, batchFrames: 64 });
    const got: RxFrame[] = [];
    const sizes: number[] = [];
    port.onFrames((b) => {
      sizes.push(b.length);
      got.push(...b);
    });
    await port.done;
    expect(got.map((f) => f.data.readUInt32BE(14))).toEqual(Array.from({ length: 1000 }, (_, n) => n));
    expect(got[0]!.tsUs).toBe(1_700_000_000_000_250);
    expect(got[999]!.tsUs).toBe(1_700_000_000_000_250 + 999 * 1500);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(64);
    expect(port.stats).toMatchObject({ rxFrames: 1000, rxBytes: 60_000, rxQueueDrops: 0 });
    await port.close();
  });

  it('waits for the consumer instead of dropping when the file is larger than the rx ring', async () => {
    const path = writeCapture('big.pcap', 5000);
    const port = await openPcapFilePort({ path, rxRingFrames: 16, batchFrames: 8 });
    let n = 0;
    port.onFrames((b) => (n += b.length));
    await port.done;
    expect(n).toBe(5000);
    expect(port.stats.rxQueueDrops).toBe(0);
    await port.close();
  });

  it('delivers only the frames `accept` lets through and counts the others', async () => {
    const path = writeCapture('half.pcap', 10);
    const port = await openPcapFilePort({ path, accept: (f) => f[0] === 1 });
    const got: number[] = [];
    port.onFrames((b) => got.push(...b.map((f) => f.data.readUInt32BE(14))));
    await port.done;
    expect(got).toEqual([1, 3, 5, 7, 9]);
    expect(port.skipped).toBe(5);
    await port.close();
  });

  it('counts what the consumer sends and shows it to onTransmit; refuses to send after close', async () => {
    const path = writeCapture('tx.pcap', 1);
    const sent: Buffer[] = [];
    const port = await openPcapFilePort({ path, onTransmit: (f) => sent.push(f) });
    port.onFrames(() => port.send(frame(42)));
    await port.done;
    expect(sent.map((f) => f.readUInt32BE(14))).toEqual([42]);
    expect(port.stats).toMatchObject({ txFrames: 1, txBytes: 60 });
    await port.close();
    expect(() => port.send(frame(1))).toThrow(expect.objectContaining({ code: 'PORT_CLOSED' }));
  });

  it('close() before the end stops the replay; done resolves', async () => {
    const path = writeCapture('early.pcap', 5000);
    const port = await openPcapFilePort({ path, rxRingFrames: 8, batchFrames: 8 });
    let n = 0;
    port.onFrames((b) => {
      n += b.length;
      if (n >= 16) void port.close();
    });
    await port.done;
    expect(n).toBeLessThan(5000);
  });

  it('replays a pcapng file as it replays the same frames in pcap (frames, order, µs timestamps)', async () => {
    const frames = Array.from({ length: 300 }, (_, n) => ({ data: frame(n), tsMs: 1_700_000_000_000 + n * 1.5 + 0.25 }));
    const path = join(dir, 'all.pcapng');
    writeFileSync(path, buildPcapngFromFrames(frames, { byteOrder: 'BE', tsresol: 9 }));
    const port = await openPcapFilePort({ path, batchFrames: 64 });
    const got: RxFrame[] = [];
    port.onFrames((b) => got.push(...b));
    await port.done;
    expect(got.map((f) => f.data.readUInt32BE(14))).toEqual(frames.map((_, n) => n));
    expect(got.map((f) => f.tsUs)).toEqual(frames.map((f) => Math.round(f.tsMs * 1000)));
    expect(port.truncated).toBeUndefined();
    await port.close();
  });

  it('fails at open on a file that is not a capture, and delivers a file cut short up to the cut', async () => {
    const bad = join(dir, 'bad.pcap');
    writeFileSync(bad, Buffer.from('not a capture at all, sorry'));
    await expect(openPcapFilePort({ path: bad })).rejects.toMatchObject({ code: 'PCAP_FORMAT' });

    const cut = join(dir, 'cut.pcap');
    const whole = buildPcapFile([{ data: frame(1), tsMs: 1000 }, { data: frame(2), tsMs: 2000 }]);
    writeFileSync(cut, whole.subarray(0, whole.length - 10));
    const port = await openPcapFilePort({ path: cut });
    const got: Buffer[] = [];
    port.onFrames((batch) => {
      for (const f of batch) got.push(Buffer.from(f.data));
    });
    await port.done;
    expect(got).toHaveLength(1);
    expect(got[0]!.equals(frame(1))).toBe(true);
    expect(port.truncated).toMatchObject({ records: 1, what: 'pcap record', bytes: 16 + frame(2).length - 10 });
    await port.close();
  });
});
