/**
 * The fuzzer's only source of randomness: sfc32 from src/base/seeded-rng.ts,
 * so a run is a pure function of its seed. Nothing in src/fuzz calls
 * Math.random.
 *
 * Streams that must not disturb each other (one per target, the mutator's
 * choices vs. a harness's own knobs) are split off by label with `fork`, so
 * adding a draw in one place never changes the inputs of another target.
 */
import { Sfc32 } from '../base/seeded-rng.js';

export { Sfc32 as Rng } from '../base/seeded-rng.js';

/** The generator a target's run starts from: the same for the same seed and target, whatever else runs. */
export function targetRng(seed: number, target: string): Sfc32 {
  return new Sfc32(seed, `target:${target}`);
}
