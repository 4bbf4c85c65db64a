/**
 * `ddplab stream` (src/cli/cmd-stream.ts): bad flags fail in one line
 * before anything is built (no namespace, no child), and the human report
 * says what was verified and copied.
 */
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { formatStreamReport } from '../../src/cli/cmd-stream.js';
import type { StreamRunReport } from '../../src/lab/stream/stream-run.js';
import { newRecvZcStats } from '../../src/host/zcrx/recv-zc.js';

const BIN = fileURLToPath(new URL('../../bin/ddplab.js', import.meta.url));

async function refusal(args: string[]): Promise<{ code: number; stderr: string }> {
  const r = await execa(process.execPath, [BIN, 'stream', ...args], { reject: false, env: { DDPLAB_FROM_SOURCE: '1' } });
  return { code: r.exitCode ?? -1, stderr: String(r.stderr).trim() };
}

describe('ddplab stream', () => {
  it('refuses bad flags in one line, exit 1', async () => {
    const cases: [string[], RegExp][] = [
      [['--offload', 'ddp'], /^ddplab: --offload: 'ddp' is not one of none, devmem-tcp, zcrx-tcp$/],
      [['--offload', 'zcrx-nvme'], /^ddplab: --offload: 'zcrx-nvme' .*ddplab run --offload zcrx-nvme\)$/],
      [['--validate', '1'], /^ddplab: --validate: '1' is not a period in 2\.\.256/],
      [['--size', 'lots'], /^ddplab: --size: 'lots' is not a size/],
      [['--mtu', '100'], /^ddplab: --mtu: '100' is not an MTU/],
      [['--mem', '5000'], /^ddplab: --mem: 5000 is not a positive multiple of 4 KiB$/],
    ];
    for (const [args, re] of cases) {
      const r = await refusal(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr.split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(re);
    }
  });

  it('formats a zcrx report: verified bytes, headers vs payload copied, CQEs and refills, the result', () => {
    const zc = { ...newRecvZcStats(), cqes: 10, zcCqes: 9, copyFallbackCqes: 1, copyFallbackBytes: 100, copyFallbackFragBytes: 100, refillEntries: 10 };
    const r: StreamRunReport = {
      schemaVersion: 1,
      ok: false,
      error: '1 bytes differ from the pattern (first at stream byte 5)',
      mode: 'zcrx-tcp',
      validate: 7,
      expectBytes: 1000,
      receivedBytes: 1000,
      verifiedBytes: 999,
      mismatches: 1,
      firstMismatch: 5,
      host: { segments: 3, headerBytes: 198, payloadCopiedBytes: 100 },
      zeroCopyBytes: 900,
      elapsedMs: 1000,
      MBps: 0.001,
      zcrx: { ...zc, areaBytes: 1 << 20, rqEntries: 64, areaReadBytes: 1000, rearms: 0 },
      cpu: { userMs: 10, systemMs: 5 },
      mtu: 1500,
      id: 'x',
      sender: { sentBytes: 1000, elapsedMs: 1000 },
    };
    const text = formatStreamReport(r);
    expect(text).toContain('verified        999 B, 1 mismatches (first at byte 5)');
    expect(text).toContain('headers 198 B (L2-L4 of 3 segments, in the skb head), payload 100 B');
    expect(text).toContain('CQEs            10 (9 zero-copy, 1 copy fallback)');
    expect(text).toContain('refill entries  10');
    expect(text).toMatch(/result +FAIL: 1 bytes differ/);
  });
});
