/**
 * `ddplab stream` end to end on the live topology (root): the target
 * namespace's kernel TCP sends 16 MiB of the ncdevmem pattern, the host's
 * userspace stack receives it by copy, devmem tokens and io_uring zero-copy
 * receive; every byte is checked where it lies.
 */
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { BIN } from '../../support/lab/live-run-rig.js';
import { streamRun, type StreamRunReport } from '../../../src/lab/stream/stream-run.js';
import { reportErrors } from '../../docs/report-schema-validator.js';

const SIZE = 16 << 20;

function expectVerified(r: StreamRunReport): void {
  expect(r.error).toBeUndefined();
  expect(r.ok).toBe(true);
  expect(r.receivedBytes).toBe(SIZE);
  expect(r.verifiedBytes).toBe(SIZE);
  expect(r.mismatches).toBe(0);
  expect(r.sender?.sentBytes).toBe(SIZE);
  // Every segment's L2-L4 headers were in host memory: Ethernet + IPv4 + TCP with timestamps, at least 66 bytes each.
  expect(r.host.headerBytes).toBeGreaterThanOrEqual(66 * Math.ceil(SIZE / 1448));
  // The report as `ddplab stream --json` prints it validates against docs/report.schema.json.
  const json: unknown = JSON.parse(JSON.stringify(r));
  expect(reportErrors('stream', json)).toEqual([]);
  expect(reportErrors('any', json)).toEqual([]);
}

describe('ddplab stream', () => {
  it('none: the host copies every payload byte, all verified', async () => {
    const r = await streamRun({ mode: 'none', size: SIZE, validate: 7, mtu: 1500 });
    expectVerified(r);
    expect(r.host.payloadCopiedBytes).toBe(SIZE);
    expect(r.zeroCopyBytes).toBe(0);
  });

  it('devmem-tcp: every payload byte checked in device memory, the host copies headers only, every token back', async () => {
    const r = await streamRun({ mode: 'devmem-tcp', size: SIZE, validate: 7, mtu: 1500 });
    expectVerified(r);
    expect(r.host.payloadCopiedBytes).toBe(0);
    expect(r.zeroCopyBytes).toBe(SIZE);
    const d = r.devmem!;
    expect(d.deviceReadBytes).toBe(SIZE);
    expect(d.tokensReturned).toBe(d.tokensIssued);
    expect(d.tokensOutstanding).toBe(0);
    expect(r.nic!['rx-devmem-bytes']).toBeGreaterThanOrEqual(SIZE);
  });

  it('zcrx-tcp: every payload byte checked in the area via RECV_ZC completions, no copy fallback, every buffer refilled', async () => {
    const r = await streamRun({ mode: 'zcrx-tcp', size: SIZE, validate: 13, mtu: 1500 });
    expectVerified(r);
    expect(r.host.payloadCopiedBytes).toBe(0);
    expect(r.zeroCopyBytes).toBe(SIZE);
    const z = r.zcrx!;
    expect(z.copyFallbackBytes).toBe(0);
    expect(z.zcBytes).toBe(SIZE);
    expect(z.areaReadBytes).toBe(SIZE);
    expect(z.refillEntries).toBe(z.cqes);
    expect(z.finalZero).toBe(1);
  });

  it('the ddplab stream command itself (the built CLI when dist/ is fresh, as a user runs it): zcrx-tcp, every byte verified, exit 0', async () => {
    const r = await execa(process.execPath, [BIN, 'stream', '--offload', 'zcrx-tcp', '--size', '4m', '--json'], { reject: false, timeout: 120_000 });
    expect(r.exitCode, r.stderr.slice(-400)).toBe(0);
    const report = JSON.parse(r.stdout) as StreamRunReport;
    expect(report.verifiedBytes).toBe(4 << 20);
    expect(report.host.payloadCopiedBytes).toBe(0);
    expect(reportErrors('stream', report)).toEqual([]);
  }, 150_000);
});
