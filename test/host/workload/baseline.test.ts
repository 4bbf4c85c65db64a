/**
 * What a workload expects of blocks it did not write (src/host/workload/workload.ts,
 * baseline and prefill): a known image compared byte for byte, unknown
 * content left unverified, and "write, then read back" over a target whose
 * content nobody knows.
 */
import { describe, expect, it } from 'vitest';
import { runWorkload, type WorkloadDevice } from '../../../src/host/workload/workload.js';
import { resolveWorkload, WorkloadOptionError, type BlockImage } from '../../../src/host/workload/options.js';
import { prng } from '../../support/wire/pdu-samples.js';

const KIB = 1024;
const MIB = 1024 * KIB;

/** A namespace in memory, completing each command on a later tick. */
class ImageDevice implements WorkloadDevice {
  readonly queues = 2;
  readonly queueDepth = 32;
  readonly lbaSizeBytes = 512;
  readonly maxTransferBytes = 256 * KIB;
  readonly nsSizeBytes: number;
  writes = 0;

  constructor(readonly data: Buffer) {
    this.nsSizeBytes = data.length;
  }

  async read(_queue: number, slba: number, buf: Buffer): Promise<unknown> {
    await new Promise((r) => setImmediate(r));
    this.data.copy(buf, 0, slba * 512, slba * 512 + buf.length);
    return undefined;
  }

  async write(_queue: number, slba: number, buf: Buffer): Promise<unknown> {
    await new Promise((r) => setImmediate(r));
    buf.copy(this.data, slba * 512);
    this.writes++;
    return undefined;
  }
}

function randomBytes(len: number, seed: number): Buffer {
  const rand = prng(seed);
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

function imageOf(bytes: Buffer, name = 'file:test.img'): BlockImage {
  return { name, sizeBytes: bytes.length, read: (off, out) => void bytes.copy(out, 0, off, off + out.length) };
}

describe('workload baseline: a known image', () => {
  it('verifies reads of unwritten blocks against the image and written ones against the writes', async () => {
    const image = randomBytes(4 * MIB, 1);
    const dev = new ImageDevice(Buffer.from(image));
    const r = await runWorkload(dev, { rw: 'randrw', bsrange: '4k-64k', iodepth: 8, size: '8m', seed: 3, baseline: { kind: 'image', image: imageOf(image) } });
    expect(r.ok).toBe(true);
    expect(r.io.reads).toBeGreaterThan(50);
    expect(r.io.writes).toBeGreaterThan(50);
    expect(r.verify.mismatches).toBe(0);
    expect(r.verify.unverifiableBytes).toBe(0);
    expect(r.verify.bytes).toBe(r.io.readBytes);
  });

  it('reports the first byte that differs from the image, marked as image content', async () => {
    const image = randomBytes(1 * MIB, 2);
    const served = Buffer.from(image);
    served[300_000] = served[300_000]! ^ 0xff;
    const r = await runWorkload(new ImageDevice(served), { rw: 'read', bs: '64k', iodepth: 4, seed: 1, baseline: { kind: 'image', image: imageOf(image) } });
    expect(r.ok).toBe(false);
    expect(r.verify.mismatches).toBe(1);
    const m = r.verify.first[0]!;
    expect(m).toMatchObject({ byteOffset: 300_000, content: 'image', expected: image[300_000], got: served[300_000], ioOffset: 262_144 });
  });

  it('refuses an image shorter than the namespace', () => {
    const dev = new ImageDevice(Buffer.alloc(2 * MIB));
    const short: BlockImage = { name: 'file:short.img', sizeBytes: MIB, read: () => undefined };
    expect(() => resolveWorkload({ rw: 'read', baseline: { kind: 'image', image: short } }, dev)).toThrow(WorkloadOptionError);
    expect(() => resolveWorkload({ rw: 'read', baseline: { kind: 'image', image: short } }, dev)).toThrow(
      'file:short.img is 1048576 bytes, shorter than the namespace (2097152 bytes)',
    );
  });
});

describe('workload baseline: unknown content', () => {
  it('counts reads of blocks this run never wrote as unverifiable, not as mismatches', async () => {
    const dev = new ImageDevice(randomBytes(2 * MIB, 4));
    const r = await runWorkload(dev, { rw: 'read', bs: '128k', iodepth: 4, seed: 1, baseline: { kind: 'unknown' } });
    expect(r.ok).toBe(true);
    expect(r.verify.bytes).toBe(0);
    expect(r.verify.unverifiableBytes).toBe(2 * MIB);
  });

  it('with prefill, writes the range once first, then every read checks bytes this run wrote', async () => {
    const dev = new ImageDevice(randomBytes(8 * MIB, 5));
    const r = await runWorkload(dev, {
      rw: 'randrw',
      bsrange: '4k-128k',
      iodepth: 8,
      size: '4m',
      range: '2m',
      offset: '1m',
      seed: 9,
      baseline: { kind: 'unknown' },
      prefill: true,
    });
    expect(r.ok).toBe(true);
    // 2 MiB in 128 KiB chunks (the largest block size, at least 128 KiB).
    expect(r.prefill).toEqual({ writes: 16, writeBytes: 2 * MIB, elapsedMs: expect.any(Number) as number });
    expect(r.io.writes + r.prefill!.writes).toBe(dev.writes);
    expect(r.io.reads).toBeGreaterThan(10);
    expect(r.verify.unverifiableBytes).toBe(0);
    expect(r.verify.bytes).toBe(r.io.readBytes);
    expect(r.verify.mismatches).toBe(0);
  });

  it('with prefill, a device that loses a written block is caught', async () => {
    const dev = new ImageDevice(Buffer.alloc(1 * MIB));
    const write = dev.write.bind(dev);
    let n = 0;
    // The third prefill write is acknowledged but never lands.
    dev.write = async (q, slba, buf) => (++n === 3 ? undefined : write(q, slba, buf));
    const r = await runWorkload(dev, { rw: 'read', bs: '128k', iodepth: 1, size: '1m', seed: 2, baseline: { kind: 'unknown' }, prefill: true });
    expect(r.ok).toBe(false);
    expect(r.verify.mismatches).toBe(1);
    expect(r.verify.first[0]).toMatchObject({ ioOffset: 256 * KIB, content: 'written' });
  });
});
