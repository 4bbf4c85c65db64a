import { describe, expect, it } from 'vitest';
import { mutateFrameSeq } from '../../src/fuzz/frame-seq-mutator.js';
import { controllerStream, pduDictionary, SEED_HOST, SEED_TARGET } from '../../src/fuzz/emitter-seeds.js';
import { Rng } from '../../src/fuzz/rng.js';
import { segmentStream } from '../../src/fuzz/segmenter.js';
import { WireError } from '../../src/wire/errors.js';
import { parseFrame } from '../../src/wire/frame.js';
import { seqDiff } from '../../src/wire/seq.js';

const ENDS = { srcMac: SEED_TARGET.mac, dstMac: SEED_HOST.mac, srcIp: SEED_TARGET.ip, dstIp: SEED_HOST.ip, srcPort: 4420, dstPort: 40000 };

describe('frame sequence mutation', () => {
  const stream = controllerStream({ hdgst: true, ddgst: false, reads: 3 });
  const frames = segmentStream(stream, ENDS, { startSeq: 1000, ack: 5, maxSeg: 700 }, new Rng(1));
  const params = Buffer.from([1, 2, 3, 4]);

  it('segmentStream carries the stream: every byte at its sequence number', () => {
    const got = Buffer.alloc(stream.length);
    for (const f of frames) {
      const fr = parseFrame(f);
      fr.payload.copy(got, seqDiff(fr.tcp!.seq, 1000));
    }
    expect(got.equals(stream)).toBe(true);
  });

  it('never modifies its parent, keeps at most maxFrames, and produces parsable frames most of the time', () => {
    const rng = new Rng(4);
    const parent = [params, ...frames];
    const copy = parent.map((b) => Buffer.from(b));
    let parsable = 0;
    let total = 0;
    let reordered = 0;
    for (let i = 0; i < 400; i++) {
      const child = mutateFrameSeq(parent, rng, parent, { maxFrames: 40, maxParams: 8, dictionary: pduDictionary() });
      expect(child.length - 1).toBeLessThanOrEqual(40);
      expect(child[0]!.length).toBeLessThanOrEqual(8);
      for (const f of child.slice(1)) {
        total++;
        try {
          parseFrame(f);
          parsable++;
        } catch (e) {
          if (!(e instanceof WireError)) throw e;
        }
      }
      const seqs = child.slice(1).map((f) => f.readUInt32BE(14 + 20 + 4));
      if (seqs.some((s, k) => k > 0 && seqDiff(s, seqs[k - 1]!) < 0)) reordered++;
    }
    expect(parent.every((b, k) => b.equals(copy[k]!))).toBe(true);
    expect(parsable / total).toBeGreaterThan(0.8);
    expect(reordered).toBeGreaterThan(20);
  });
});
