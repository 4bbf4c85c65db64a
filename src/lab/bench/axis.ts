/**
 * A value axis fitted to the data it shows: round tick steps (1, 2, 2.5 or 5
 * times a power of ten) and a range from the tick at or below the smallest
 * value to the tick at or above the largest, so that placement between 96.7 %
 * and 99.9 % spans the plot instead of its top few pixels, and the tick
 * labels say where the axis starts.
 */

export interface AxisOptions {
  /** About this many intervals between ticks (default 5). */
  readonly intervals?: number;
  /** The axis never extends past these (e.g. 0 and 100 for a percentage). */
  readonly floor?: number;
  readonly ceiling?: number;
}

export interface Axis {
  readonly lo: number;
  readonly hi: number;
  readonly step: number;
  /** lo, lo + step, ... hi. */
  readonly ticks: readonly number[];
  /** Decimals that show every tick exactly. */
  readonly decimals: number;
}

/** The round number (1, 2, 2.5, 5 × 10^k) nearest above `raw`. */
export function niceStep(raw: number): number {
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const mag = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= raw * (1 - 1e-9)) return m * mag;
  return 10 * mag;
}

/** Decimals needed to print multiples of `step` exactly (2.5 → 1, 0.25 → 2, 20 → 0). */
export function stepDecimals(step: number): number {
  for (let d = 0; d <= 12; d++) {
    const scaled = step * 10 ** d;
    if (Math.abs(scaled - Math.round(scaled)) < 1e-6 * Math.max(1, Math.abs(scaled))) return d;
  }
  return 12;
}

/**
 * An axis around `values` (non-finite values are ignored). No values: 0..1.
 * One distinct value v: a range around it (0..1 for 0; otherwise v ± about a
 * tenth of |v|, kept inside floor/ceiling).
 */
export function fitAxis(values: readonly number[], o: AxisOptions = {}): Axis {
  const n = Math.max(1, Math.round(o.intervals ?? 5));
  const floor = o.floor ?? Number.NEGATIVE_INFINITY;
  const ceiling = o.ceiling ?? Number.POSITIVE_INFINITY;
  const finite = values.filter((v) => Number.isFinite(v));
  let min = finite.length > 0 ? Math.min(...finite) : 0;
  let max = finite.length > 0 ? Math.max(...finite) : 1;
  if (min === max) {
    const pad = min === 0 ? 1 : Math.abs(min) / 10;
    // At a bound (100 %, or 0 with a floor of 0) the whole pad goes to the open side.
    if (min + pad > ceiling) {
      min -= 2 * pad;
    } else if (min - pad < floor) {
      max += min === 0 ? pad : 2 * pad;
    } else {
      min -= pad;
      max += pad;
    }
    if (finite.length === 0 || finite.every((v) => v === 0)) {
      min = Math.max(floor, 0);
      max = min + 1;
    }
  }
  const step = niceStep((max - min) / n);
  const eps = step * 1e-9;
  const decimals = stepDecimals(step);
  // Multiples of the step, printed and read back: 0.018, not 0.018000000000000002.
  const round = (v: number): number => Number(v.toFixed(decimals));
  let lo = round(Math.floor((min + eps) / step) * step);
  let hi = round(Math.ceil((max - eps) / step) * step);
  if (lo < floor) lo = floor;
  if (hi > ceiling) hi = ceiling;
  if (hi <= lo) hi = round(lo + step);
  const ticks: number[] = [];
  // Ticks on multiples of the step; a clamped end (e.g. 100 % with a step of 3) is a tick too.
  const first = Math.ceil((lo - eps) / step);
  for (let k = first; k * step <= hi + eps; k++) ticks.push(round(k * step));
  if (ticks.length === 0 || Math.abs(ticks[0]! - lo) > eps) ticks.unshift(lo);
  if (Math.abs(ticks[ticks.length - 1]! - hi) > eps) ticks.push(hi);
  return { lo, hi, step, ticks, decimals };
}

/** A tick label: thousands and millions abbreviated, otherwise with the axis's decimals. */
export function formatTick(v: number, decimals: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e6 && decimals === 0) return `${trim((v / 1e6).toFixed(2))}M`;
  if (a >= 1e4 && decimals === 0) return `${trim((v / 1e3).toFixed(1))}k`;
  return v.toFixed(decimals);
}

function trim(s: string): string {
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}
