/**
 * The `ddplab host` flags that rebuild, in the host process `ddplab run`
 * spawns, the options the orchestrator was given: impairment, devmem and
 * timeouts. Each is the inverse of the CLI's parser for the same flags
 * (src/cli/impair-flags.ts, devmem-flags.ts, workload-flags.ts), and the
 * CLI tests check the round trip.
 */
import type { ImpairConfig, ImpairSpec } from '../nicemu/port/impair.js';
import type { DevmemRunOptions } from './devmem-host.js';
import type { HostTimeouts } from './host-run.js';

function specArgs(s: ImpairSpec | undefined, prefix: '' | 'tx-'): string[] {
  if (s === undefined) return [];
  const out: string[] = [];
  if (s.drop !== undefined) out.push(`--${prefix}drop`, String(s.drop));
  if (s.burst !== undefined) {
    const b = s.burst;
    const v = [b.pGoodToBad, b.pBadToGood];
    if (b.lossBad !== undefined || b.lossGood !== undefined) v.push(b.lossBad ?? 1);
    if (b.lossGood !== undefined) v.push(b.lossGood);
    out.push(`--${prefix}burst`, v.map(String).join(','));
  }
  if (s.reorder !== undefined) out.push(`--${prefix}reorder`, String(s.reorder));
  if (s.dup !== undefined) out.push(`--${prefix}dup`, String(s.dup));
  if (s.corrupt !== undefined) out.push(`--${prefix}corrupt`, String(s.corrupt));
  return out;
}

/**
 * The flags that make `ddplab host` build the same config (its --seed is
 * passed separately). String(number) round-trips exactly, so the host's
 * decisions are the ones the config describes.
 */
export function impairArgs(cfg: ImpairConfig | undefined): string[] {
  if (cfg === undefined) return [];
  const hold = cfg.rx?.reorder !== undefined ? cfg.rx : cfg.tx;
  const out = [...specArgs(cfg.rx, ''), ...specArgs(cfg.tx, 'tx-')];
  if (hold?.reorderDepth !== undefined) out.push('--reorder-depth', String(hold.reorderDepth));
  if (hold?.reorderUs !== undefined) out.push('--reorder-us', String(hold.reorderUs));
  return out;
}

/** The flags that reproduce `o` on a `ddplab host` command line (the mode travels in --offload). */
export function devmemArgs(o: DevmemRunOptions | undefined): string[] {
  if (o === undefined) return [];
  return ['--devmem-pool', String(o.poolBytes), '--devmem-return', o.returnPath, '--devmem-hold', String(o.holdUntilEmpty)];
}

/** --connect-timeout and --io-timeout, in seconds as `ddplab host` takes them. */
export function timeoutArgs(t: HostTimeouts | undefined): string[] {
  return t === undefined ? [] : ['--connect-timeout', String(t.connectTimeoutMs / 1000), '--io-timeout', String(t.ioTimeoutMs / 1000)];
}
