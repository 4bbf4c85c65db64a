/**
 * The NIC receive-path fuzz target's oracle: every seed (frames from the
 * emitters and the committed captures, for DDP and both header-split
 * modes) passes, and a NIC that writes outside what it reports is caught.
 */
import { describe, expect, it } from 'vitest';
import { nicRxTarget } from '../../../src/fuzz/targets/nic-rx.js';
import { FuzzViolation } from '../../../src/fuzz/target.js';
import { DdpEngine } from '../../../src/nicemu/ddp/engine.js';

describe('nic fuzz target', () => {
  const seeds = nicRxTarget.seeds();

  it('passes its seeds: DDP, header split nvme and tcp, generated and captured', () => {
    expect(seeds.length).toBeGreaterThanOrEqual(12);
    const modes = new Set(seeds.map((s) => s[0]![1]! % 3));
    expect([...modes].sort()).toEqual([0, 1, 2]);
    for (const s of seeds) nicRxTarget.execute(s);
  });

  it('catches a DDP engine that writes a byte past the end of an SGL entry without reporting it (a planted bug)', () => {
    const proto = DdpEngine.prototype as unknown as Record<string, (this: unknown, ...a: unknown[]) => void>;
    const place = proto['place']!;
    proto['place'] = function (this: unknown, ...a: unknown[]) {
      place.apply(this, a);
      const [io] = a as [{ sgl: { entries: Buffer[] } }];
      const last = io.sgl.entries[io.sgl.entries.length - 1]!;
      Buffer.from(last.buffer, last.byteOffset, last.length + 1)[last.length] ^= 0x01;
    };
    try {
      const caught: string[] = [];
      for (const s of seeds.filter((x) => x[0]![1]! % 3 === 0)) {
        try {
          nicRxTarget.execute(s);
        } catch (e) {
          expect(e).toBeInstanceOf(FuzzViolation);
          caught.push((e as Error).message);
        }
      }
      expect(caught.length).toBeGreaterThan(0);
      expect(caught[0]).toMatch(/written without a placed frag/);
    } finally {
      proto['place'] = place;
    }
  });
});
