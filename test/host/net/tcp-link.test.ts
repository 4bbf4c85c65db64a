/**
 * Two of our sockets over an impaired simulated link (test/support/host/tcp-link-rig.ts):
 * every byte must arrive exactly once, in order, in both directions, and both
 * ends must then close cleanly. A failure names its seed and scenario.
 */
import { describe, expect, it } from 'vitest';
import { run, scenario } from '../../support/host/tcp-link-rig.js';
import type { Scenario } from '../../support/host/tcp-link-rig.js';

describe('TCP over an impaired simulated link', () => {
  it('delivers every byte exactly, both directions, and closes cleanly, for many seeds', () => {
    const summary: string[] = [];
    for (let seed = 1; seed <= 16; seed++) {
      const sc = scenario(seed);
      const { a, b, linkAB, linkBA, clock } = run(sc);
      const tag = `seed ${seed} (${JSON.stringify(sc)})`;
      expect(a.mismatchAt, `${tag}: A read a wrong byte`).toBe(-1);
      expect(b.mismatchAt, `${tag}: B read a wrong byte`).toBe(-1);
      expect(a.received, `${tag}: bytes A received`).toBe(sc.total);
      expect(b.received, `${tag}: bytes B received`).toBe(sc.total);
      expect(a.ended && b.ended, `${tag}: both saw the other's FIN`).toBe(true);
      expect(a.closedWith, `${tag}: A closed cleanly`).toBeUndefined();
      expect(b.closedWith, `${tag}: B closed cleanly`).toBeUndefined();
      expect(a.sock.state).toBe('CLOSED');
      expect(b.sock.state).toBe('CLOSED');
      // Every corrupted frame was caught (by the checksum or by the parser).
      expect(a.sock.stats.csumErrors + b.sock.stats.csumErrors + linkAB.unparsable + linkBA.unparsable, tag).toBe(linkAB.corrupted + linkBA.corrupted);
      const sa = a.sock.stats;
      const sb = b.sock.stats;
      summary.push(
        `seed ${seed}: ${(clock.nowMs() / 1000).toFixed(2)} s virtual, drops ${linkAB.dropped}/${linkBA.dropped}, ` +
          `retrans ${sa.retransSegs}/${sb.retransSegs} (fast ${sa.fastRetrans}/${sb.fastRetrans}, rto ${sa.rtoTimeouts}/${sb.rtoTimeouts}), ` +
          `ofo ${sa.ofoQueue}/${sb.ofoQueue}, dup ${sa.dupSegs}/${sb.dupSegs}, zero-wnd ${sb.zeroWindowOurs}, probes ${sa.winProbesSent}`,
      );
    }
    console.log(summary.join('\n'));
  });

  it('still delivers exactly under 4x the impairment (up to 20% loss, 12 ms jitter)', () => {
    for (let seed = 1; seed <= 8; seed++) {
      const sc = scenario(seed);
      sc.link.lossRate *= 4;
      sc.link.dupRate *= 4;
      sc.link.corruptRate *= 4;
      sc.link.jitterMs *= 4;
      const { a, b } = run(sc);
      const tag = `harsh seed ${seed} (${JSON.stringify(sc)})`;
      expect(a.mismatchAt, tag).toBe(-1);
      expect(b.mismatchAt, tag).toBe(-1);
      expect(a.received, tag).toBe(sc.total);
      expect(b.received, tag).toBe(sc.total);
      expect(a.closedWith, tag).toBeUndefined();
      expect(b.closedWith, tag).toBeUndefined();
    }
  });

  it('delivers over a clean link without a single retransmission', () => {
    const sc: Scenario = { seed: 99, total: 1_000_000, mtu: 1500, rcvBufBytes: 1 << 20, slowReaderB: false, link: { lossRate: 0, dupRate: 0, corruptRate: 0, delayMs: 0.1, jitterMs: 0 } };
    const { a, b } = run(sc);
    expect(a.received).toBe(sc.total);
    expect(b.received).toBe(sc.total);
    expect(a.mismatchAt).toBe(-1);
    expect(b.mismatchAt).toBe(-1);
    expect(a.sock.stats.retransSegs + b.sock.stats.retransSegs).toBe(0);
    expect(a.sock.stats.dupAcksIn + b.sock.stats.dupAcksIn).toBe(0);
  });
});
