import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { withCapture } from '../../../src/nicemu/port/capture.js';
import { openPcapFilePort } from '../../../src/nicemu/port/pcap-file.js';
import { PortCounters, type Port, type PortStats, type RxConsumer, type RxFrame } from '../../../src/nicemu/port/port.js';
import { buildPcapFile, pcapRecordTimeMs, readPcapFileSync } from '../../../src/wire/pcap.js';

const dir = mkdtempSync(join(tmpdir(), 'ddplab-port-capture-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An in-memory Port: the test plays the wire. */
class WirePort implements Port {
  readonly sent: Buffer[] = [];
  closed = false;
  private consumer: RxConsumer | null = null;
  private readonly counters = new PortCounters();
  get stats(): PortStats {
    return this.counters.snapshot();
  }
  send(frame: Buffer): void {
    this.sent.push(frame);
    this.counters.txFrames++;
  }
  onFrames(consumer: RxConsumer): void {
    this.consumer = consumer;
  }
  deliver(batch: RxFrame[]): void {
    this.consumer!(batch);
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

function frame(tag: number): Buffer {
  const f = Buffer.alloc(64, tag);
  f.writeUInt16BE(0x88b6, 12);
  return f;
}

describe('capture tap', () => {
  it('writes every frame in both directions with its timestamp and passes everything through', async () => {
    const path = join(dir, 'both.pcap');
    const wire = new WirePort();
    const port = withCapture(wire, path);
    const got: RxFrame[] = [];
    port.onFrames((b) => got.push(...b));

    const t0 = Date.now();
    port.send(frame(1));
    wire.deliver([
      { data: frame(2), tsUs: 1_700_000_000_000_001 },
      { data: frame(3), tsUs: 1_700_000_000_000_002 },
    ]);
    port.send(frame(4));
    await port.close();
    const t1 = Date.now();

    expect(wire.sent.map((f) => f[0])).toEqual([1, 4]);
    expect(got.map((f) => f.data[0])).toEqual([2, 3]);
    expect(wire.closed).toBe(true);
    expect(port.stats.txFrames).toBe(2);
    expect(port.framesCaptured).toBe(4);

    const { records } = readPcapFileSync(path);
    expect(records.map((r) => r.data[0])).toEqual([1, 2, 3, 4]);
    expect(records.every((r, k) => r.data.equals([frame(1), frame(2), frame(3), frame(4)][k]!))).toBe(true);
    expect(records[1]!.tsSec).toBe(1_700_000_000);
    expect(records[1]!.tsNsec).toBe(1_000);
    expect(records[2]!.tsNsec).toBe(2_000);
    // Sent frames carry the wall-clock time of send().
    for (const k of [0, 3]) {
      expect(pcapRecordTimeMs(records[k]!)).toBeGreaterThanOrEqual(t0 - 5);
      expect(pcapRecordTimeMs(records[k]!)).toBeLessThanOrEqual(t1 + 5);
    }
  });

  it('a replay through the tap reproduces the replayed file, frame for frame and timestamp for timestamp', async () => {
    const original = join(dir, 'original.pcap');
    const frames = Array.from({ length: 300 }, (_, n) => ({ data: Buffer.alloc(60 + (n % 40), n & 0xff), tsMs: 1_600_000_000_000 + n * 0.125 }));
    writeFileSync(original, buildPcapFile(frames));
    const copy = join(dir, 'copy.pcap');
    const replay = await openPcapFilePort({ path: original, batchFrames: 32 });
    const port = withCapture(replay, copy);
    port.onFrames(() => {});
    await replay.done;
    await port.close();
    const a = readPcapFileSync(original).records;
    const b = readPcapFileSync(copy).records;
    expect(b.length).toBe(a.length);
    for (let k = 0; k < a.length; k++) {
      expect(b[k]!.data.equals(a[k]!.data)).toBe(true);
      expect([b[k]!.tsSec, b[k]!.tsNsec]).toEqual([a[k]!.tsSec, a[k]!.tsNsec]);
    }
  });

  it('reports a capture that cannot be written when it is closed', async () => {
    const port = withCapture(new WirePort(), join(dir, 'no-such-dir', 'x.pcap'));
    port.send(frame(1));
    await expect(port.close()).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
