/**
 * `ddplab demo`: both runs verify, and the side-by-side table shows the
 * headline — with ddp-crc the host copies and CRCs next to nothing of the
 * read data and the NIC placed it all; without, the host copies and CRCs
 * every byte.
 */
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const isRoot = process.getuid?.() === 0;
const DDPLAB = fileURLToPath(new URL('../../bin/ddplab.js', import.meta.url));

describe.runIf(isRoot)('ddplab demo', () => {
  it('prints offload none and ddp-crc side by side, both verified', async () => {
    const r = await execa(process.execPath, [DDPLAB, 'demo', '--size', '16m', '--json'], { reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    const { demo } = JSON.parse(r.stdout) as { demo: { ok: boolean; run: { offload: string }; verify: { bytes: number; mismatches: number }; host: { copiedBytes: number; crcBytes: number }; ddp?: { placementPct: number } }[] };
    expect(demo.map((d) => d.run.offload)).toEqual(['none', 'ddp-crc']);
    for (const d of demo) {
      expect(d.ok).toBe(true);
      expect(d.verify).toEqual({ bytes: 16 * 2 ** 20, mismatches: 0 });
    }
    const [none, ddp] = demo as [(typeof demo)[0], (typeof demo)[0]];
    expect(none.host.copiedBytes).toBeGreaterThanOrEqual(16 * 2 ** 20);
    expect(none.host.crcBytes).toBeGreaterThanOrEqual(16 * 2 ** 20);
    expect(ddp.host.copiedBytes).toBeLessThan(2 ** 20);
    expect(ddp.host.crcBytes).toBeLessThan(2 ** 20);
    expect(ddp.ddp?.placementPct).toBeGreaterThanOrEqual(99);
  });

  it('the human table names both modes and the figures', async () => {
    const r = await execa(process.execPath, [DDPLAB, 'demo', '--size', '8m'], { reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/offload none\s+offload ddp-crc/);
    expect(r.stdout).toMatch(/^host copied\s+8\.\d MiB\s+\d+\.\d KiB$/m);
    expect(r.stdout).toMatch(/^result\s+PASS\s+PASS$/m);
  });

  it('refuses a block size larger than the size in one line, before building anything', async () => {
    const r = await execa(process.execPath, [DDPLAB, 'demo', '--size', '64k', '--bs', '1m'], { reject: false });
    expect(r.exitCode).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual(['ddplab: --bs 1m is larger than --size 64k: nothing would be read']);
  });
});
