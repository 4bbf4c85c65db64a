/**
 * The impairment flags shared by `ddplab run` and `ddplab host` (see
 * src/nicemu/port/impair.ts for what each impairment does), declared once,
 * turned into an ImpairConfig once (src/lab/host-argv.ts turns it back into
 * flags for the host process the orchestrator spawns).
 *
 * Direction: the question the flags answer is "what if packets toward the
 * receiver are lost", so a plain flag (--drop) impairs frames toward the
 * host — what the NIC receives, where DDP lives; the --tx-* form impairs the
 * host's own transmissions (commands, ACKs). --reorder-depth and
 * --reorder-us say how reordered frames are held, in both directions.
 * The seed is the run's --seed.
 */
import type { Command } from 'commander';
import {
  checkImpairSpec,
  ImpairError,
  impairSpecActive,
  type GilbertElliott,
  type ImpairConfig,
  type ImpairSpec,
  type ImpairStats,
} from '../nicemu/port/impair.js';
import { UserError } from '../base/errors.js';

export interface ImpairFlags {
  drop?: string;
  burst?: string;
  reorder?: string;
  dup?: string;
  corrupt?: string;
  txDrop?: string;
  txBurst?: string;
  txReorder?: string;
  txDup?: string;
  txCorrupt?: string;
  reorderDepth?: string;
  reorderUs?: string;
}

export function addImpairFlags(cmd: Command): Command {
  cmd
    .option('--drop <p>', 'drop frames toward the host with probability p (e.g. 1e-4, 0.1%)')
    .option('--burst <pgb,pbg[,lossbad[,lossgood]]>', 'bursty loss toward the host (Gilbert-Elliott: p(good→bad), p(bad→good), loss in bad [1], in good [0])')
    .option('--reorder <p>', 'hold frames toward the host back with probability p (see --reorder-depth, --reorder-us)')
    .option('--dup <p>', 'duplicate frames toward the host with probability p')
    .option('--corrupt <p>', 'flip one bit in the IPv4 payload of frames toward the host (TCP checksum drops them)')
    .option('--tx-drop <p>', 'as --drop, for frames the host sends')
    .option('--tx-burst <pgb,pbg[,lossbad[,lossgood]]>', 'as --burst, for frames the host sends')
    .option('--tx-reorder <p>', 'as --reorder, for frames the host sends')
    .option('--tx-dup <p>', 'as --dup, for frames the host sends')
    .option('--tx-corrupt <p>', 'as --corrupt, for frames the host sends')
    .option('--reorder-depth <k>', 'a reordered frame leaves after k later frames (default 3; at most 1 ms unless --reorder-us)')
    .option('--reorder-us <t>', 'a reordered frame leaves after t µs (with --reorder-depth: whichever comes first)');
  return cmd;
}

/** "1e-4", "0.0001", "0.01%" → a probability; UserError otherwise. */
export function parseProbability(flag: string, text: string): number {
  const pct = text.endsWith('%');
  const v = Number(pct ? text.slice(0, -1) : text);
  const p = pct ? v / 100 : v;
  if (text.trim() === '' || !Number.isFinite(p) || p < 0 || p > 1) {
    throw new UserError('BAD_FLAG', `--${flag}: '${text}' is not a probability (0..1, or a percentage like 0.1%)`);
  }
  return p;
}

/** "PGB,PBG[,LOSS_BAD[,LOSS_GOOD]]" → the Gilbert-Elliott parameters. */
export function parseBurst(flag: string, text: string): GilbertElliott {
  const parts = text.split(',');
  if (parts.length < 2 || parts.length > 4) {
    throw new UserError('BAD_FLAG', `--${flag}: '${text}' is not PGB,PBG[,LOSS_BAD[,LOSS_GOOD]] (e.g. 0.001,0.3)`);
  }
  const [pgb, pbg, lossBad, lossGood] = parts.map((p) => parseProbability(flag, p));
  return {
    pGoodToBad: pgb!,
    pBadToGood: pbg!,
    ...(lossBad !== undefined ? { lossBad } : {}),
    ...(lossGood !== undefined ? { lossGood } : {}),
  };
}

function direction(
  f: { drop?: string | undefined; burst?: string | undefined; reorder?: string | undefined; dup?: string | undefined; corrupt?: string | undefined },
  prefix: '' | 'tx-',
  hold: Pick<ImpairSpec, 'reorderDepth' | 'reorderUs'>,
): ImpairSpec | undefined {
  const spec: ImpairSpec = {
    ...(f.drop !== undefined ? { drop: parseProbability(`${prefix}drop`, f.drop) } : {}),
    ...(f.burst !== undefined ? { burst: parseBurst(`${prefix}burst`, f.burst) } : {}),
    ...(f.reorder !== undefined ? { reorder: parseProbability(`${prefix}reorder`, f.reorder), ...hold } : {}),
    ...(f.dup !== undefined ? { dup: parseProbability(`${prefix}dup`, f.dup) } : {}),
    ...(f.corrupt !== undefined ? { corrupt: parseProbability(`${prefix}corrupt`, f.corrupt) } : {}),
  };
  return impairSpecActive(spec) ? spec : undefined;
}

/** The flags as an ImpairConfig seeded with `seed`, or undefined when no flag impairs anything. */
export function impairFromFlags(f: ImpairFlags, seed: number): ImpairConfig | undefined {
  const hold: { reorderDepth?: number; reorderUs?: number } = {};
  if (f.reorderDepth !== undefined) {
    const k = Number(f.reorderDepth);
    if (!Number.isInteger(k) || k < 1) throw new UserError('BAD_FLAG', `--reorder-depth: '${f.reorderDepth}' is not a whole number of frames >= 1`);
    hold.reorderDepth = k;
  }
  if (f.reorderUs !== undefined) {
    const t = Number(f.reorderUs);
    if (!(Number.isFinite(t) && t > 0)) throw new UserError('BAD_FLAG', `--reorder-us: '${f.reorderUs}' is not a positive number of µs`);
    hold.reorderUs = t;
  }
  const rx = direction(f, '', hold);
  const tx = direction(
    { drop: f.txDrop, burst: f.txBurst, reorder: f.txReorder, dup: f.txDup, corrupt: f.txCorrupt },
    'tx-',
    hold,
  );
  if (rx === undefined && tx === undefined) return undefined;
  try {
    if (rx !== undefined) checkImpairSpec(rx, 'rx');
    if (tx !== undefined) checkImpairSpec(tx, 'tx');
  } catch (e) {
    if (e instanceof ImpairError) throw new UserError('BAD_FLAG', e.message);
    throw e;
  }
  return { seed, ...(rx !== undefined ? { rx } : {}), ...(tx !== undefined ? { tx } : {}) };
}

/** One line: what a direction was asked to do ("drop 0.01 reorder 0.001/3 frames"). */
export function describeImpairSpec(s: ImpairSpec | undefined): string {
  if (s === undefined) return 'none';
  const parts: string[] = [];
  if (s.drop !== undefined) parts.push(`drop ${s.drop}`);
  if (s.burst !== undefined) {
    const b = s.burst;
    parts.push(`burst ${b.pGoodToBad},${b.pBadToGood},${b.lossBad ?? 1},${b.lossGood ?? 0}`);
  }
  if (s.reorder !== undefined) {
    const hold = [s.reorderDepth !== undefined ? `${s.reorderDepth} frames` : '', s.reorderUs !== undefined ? `${s.reorderUs} µs` : '']
      .filter((x) => x !== '')
      .join(' or ');
    parts.push(`reorder ${s.reorder}${hold !== '' ? ` (${hold})` : ''}`);
  }
  if (s.dup !== undefined) parts.push(`dup ${s.dup}`);
  if (s.corrupt !== undefined) parts.push(`corrupt ${s.corrupt}`);
  return parts.length > 0 ? parts.join(' ') : 'none';
}

/** One line: what a direction did. */
export function describeImpairStats(s: Readonly<ImpairStats>): string {
  return (
    `${s.frames} frames: ${s.dropped} dropped, ${s.burstDropped} burst-dropped (${s.burstEpisodes} bursts), ${s.corrupted} corrupted, ` +
    `${s.duplicated} duplicated, ${s.reordered} reordered (${s.releasedByTime} by time, ${s.flushedAtClose} at close)`
  );
}
