import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoverageTracker } from '../../src/fuzz/coverage.js';
import { loadTargets } from '../../src/fuzz/target-registry.js';
import { findingSignature, fuzzTarget } from '../../src/fuzz/fuzzer.js';
import { havoc } from '../../src/fuzz/byte-mutator.js';
import { minimizeInput } from '../../src/fuzz/minimize.js';
import { check, FuzzViolation, tolerate, type FuzzTarget } from '../../src/fuzz/target.js';
import { WireError } from '../../src/wire/errors.js';
import { buildTcpFrame, parseFrame } from '../../src/wire/frame.js';
import { TCP_ACK } from '../../src/wire/tcp.js';

/** A toy target with two planted bugs: an untyped error after a magic pair of bytes, an invariant on long inputs. */
function toy(executed: string[] = []): FuzzTarget {
  return {
    name: 'toy',
    description: 'planted bugs',
    shape: 'bytes',
    weight: 1,
    coverageBatch: 1,
    seeds: () => [[Buffer.from('hello world')]],
    mutate: (parent, rng, donor) => [havoc(parent[0]!, rng, { maxLen: 200, donor: donor[0], dictionary: [Buffer.from([0x42, 0x43])] })],
    execute(input) {
      const b = input[0]!;
      executed.push(b.toString('hex'));
      tolerate(() => {
        if (b.length < 3) throw new WireError('TRUNCATED', 'short');
      }, WireError);
      const i = b.indexOf(Buffer.from([0x42, 0x43]));
      if (i >= 0) (undefined as unknown as { x: number }[])[i]!.x = 1;
      check(b.length <= 150, () => `input of ${b.length} bytes`);
    },
  };
}

let coverage: CoverageTracker;
beforeAll(() => {
  coverage = CoverageTracker.start();
});
afterAll(() => coverage.stop());

describe('fuzzTarget', () => {
  it('finds both planted bugs, once each, with the iteration that first hit them', async () => {
    const r = await fuzzTarget({ target: toy(), seed: 1, budget: { inputs: 3000 }, guidance: 'coverage' });
    expect(r.inputs).toBe(3000);
    expect(r.seedInputs).toBe(1);
    const kinds = r.findings.map((f) => f.kind).sort();
    expect(kinds).toEqual(['exception', 'invariant']);
    const exc = r.findings.find((f) => f.kind === 'exception')!;
    expect(exc.signature).toMatch(/^exception TypeError: /);
    expect(exc.count).toBeGreaterThan(1);
    expect(exc.iteration).toBeGreaterThanOrEqual(0);
    expect(exc.input[0]!.includes(Buffer.from([0x42, 0x43]))).toBe(true);
  });

  it('is reproducible: the same seed runs the same inputs, another seed others', async () => {
    const a: string[] = [];
    const b: string[] = [];
    const c: string[] = [];
    await fuzzTarget({ target: toy(a), seed: 5, budget: { inputs: 300 }, guidance: 'coverage' });
    await fuzzTarget({ target: toy(b), seed: 5, budget: { inputs: 300 }, guidance: 'coverage' });
    await fuzzTarget({ target: toy(c), seed: 6, budget: { inputs: 300 }, guidance: 'coverage' });
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('is reproducible under coverage guidance too, whatever ran before in the process', async () => {
    const [pdu] = await loadTargets(['pdu']);
    const [frame] = await loadTargets(['frame']);
    const logged = (log: string[]): FuzzTarget => ({
      ...pdu!,
      execute(input) {
        log.push(createHash('sha1').update(Buffer.concat([...input])).digest('hex'));
        return pdu!.execute(input);
      },
    });
    const a: string[] = [];
    const b: string[] = [];
    const ra = await fuzzTarget({ target: logged(a), seed: 3, budget: { inputs: 1500 }, guidance: 'coverage', coverage });
    // Another target in between teaches the tracker about shared code (crc32c, the PDU codec's helpers).
    await fuzzTarget({ target: frame!, seed: 3, budget: { inputs: 300 }, guidance: 'coverage', coverage });
    const rb = await fuzzTarget({ target: logged(b), seed: 3, budget: { inputs: 1500 }, guidance: 'coverage', coverage });
    expect(ra.corpusSize).toBeGreaterThan(pdu!.seeds().length);
    expect(b.length).toBe(a.length);
    expect(b.findIndex((h, i) => h !== a[i])).toBe(-1);
    expect(rb.corpusSize).toBe(ra.corpusSize);
    expect(rb.features).toBe(ra.features);
  }, 60_000);

  it('coverage guidance reaches more of ddplab than blind mutation of the seeds with the same number of inputs', async () => {
    for (const name of ['tcp', 'framer']) {
      const [t] = await loadTargets([name]);
      const blind = await fuzzTarget({ target: t!, seed: 1, budget: { inputs: 1500 }, guidance: 'blind', coverage });
      const guided = await fuzzTarget({ target: t!, seed: 1, budget: { inputs: 1500 }, guidance: 'coverage', coverage });
      console.log(`${name}, 1500 inputs: blind ${blind.features} features (corpus ${blind.corpusSize}), guided ${guided.features} (corpus ${guided.corpusSize})`);
      expect(blind.corpusSize).toBe(t!.seeds().length);
      expect(guided.features!).toBeGreaterThan(blind.features!);
    }
  }, 60_000);

  it('masks numbers in signatures, so the same bug with other values is one finding', () => {
    const at = (kind: 'invariant' | 'differential', byte: number): FuzzViolation => new FuzzViolation(kind, `byte ${byte} written twice`);
    const s1 = findingSignature('invariant', at('invariant', 17));
    expect(s1).toBe(findingSignature('invariant', at('invariant', 4242)));
    expect(s1).toMatch(/^invariant FuzzViolation: byte N written twice @ fuzzer\.test\.ts:\d+$/);
    expect(s1).not.toBe(findingSignature('differential', at('differential', 17)));
    const sha = (h: string): FuzzViolation => new FuzzViolation('differential', `$[0].sha256: "${h}" vs "${h.split('').reverse().join('')}"`);
    expect(findingSignature('differential', sha('838c71d68ab65c29bf5b3f0be67c11b8'))).toBe(findingSignature('differential', sha('1d875b844790ea9db6277fa024fed6b3')));
  });

  it('minimizes a crashing input to the bytes that matter', async () => {
    const t = toy();
    const input = [Buffer.from('xxxxxxxxxxxxxxxxxxxxBCxxxxxxxxxxxxxxxxxxxxxxxx')];
    const sig = findingSignature('exception', await (async () => {
      try {
        t.execute(input);
      } catch (e) {
        return e;
      }
      return undefined;
    })());
    const m = await minimizeInput(t, input, sig);
    expect(m.input[0]!.toString()).toBe('BC');
  });

  it('minimizes a frame sequence: the frames that matter, their payloads cut short, the parameter block kept', async () => {
    const frame = (seq: number, payload: Buffer): Buffer =>
      buildTcpFrame({ srcMac: Buffer.alloc(6, 1), dstMac: Buffer.alloc(6, 2), srcIp: 1, dstIp: 2, srcPort: 3, dstPort: 4, seq, ack: 0, flags: TCP_ACK, window: 100, payload });
    const frames = Array.from({ length: 12 }, (_, i) => {
      const p = Buffer.alloc(1000, i);
      if (i === 7) p[10] = 0x99;
      return frame(i * 1000, p);
    });
    const t: FuzzTarget = {
      name: 'toy-frames',
      description: 'a frame whose payload holds 0x99 breaks it',
      shape: 'frames',
      weight: 1,
      coverageBatch: 1,
      seeds: () => [],
      mutate: (p) => p,
      execute(input) {
        check(input[0]!.toString() === 'params', 'the parameter block is kept');
        for (const f of input.slice(1)) check(!parseFrame(f).payload.includes(0x99), 'a payload holds 0x99');
      },
    };
    const input = [Buffer.from('params'), ...frames];
    const sig = findingSignature('invariant', await (async () => {
      try {
        t.execute(input);
      } catch (e) {
        return e;
      }
      return undefined;
    })());
    const m = await minimizeInput(t, input, sig);
    expect(m.input.length).toBe(2);
    const payload = parseFrame(m.input[1]!).payload;
    expect(payload.length).toBeLessThanOrEqual(16);
    expect(payload[10]).toBe(0x99);
  });
});
