/**
 * The fuzzer's bounded CI run ("Fuzzing" in docs/hostile-input.md): every target, seed 1,
 * coverage-guided, a fixed number of mutated inputs (never a time budget:
 * the run is the same inputs on every machine). Prints how many inputs each
 * target executed and asserts none crashed. A failure names the finding and
 * its reproducer: `npm run fuzz -- --target T --seed 1 --inputs N+1`
 * replays the same sequence up to it (add --save-crashes DIR for the file).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoverageTracker } from '../../src/fuzz/coverage.js';
import { fuzzTarget, type FuzzTargetReport } from '../../src/fuzz/fuzzer.js';
import { loadTargets, TARGET_NAMES } from '../../src/fuzz/target-registry.js';

const SEED = 1;
/** Mutated inputs per target, sized so the file takes under a minute on a 2-core machine busy with other work (~30 s idle). */
const INPUTS: Readonly<Record<string, number>> = {
  ethernet: 2500,
  arp: 2000,
  ipv4: 2500,
  tcp: 2500,
  frame: 2500,
  pdu: 3000,
  nvme: 2500,
  framer: 2000,
  pcap: 1000,
  nic: 800,
  stack: 500,
  replay: 100,
};

let coverage: CoverageTracker;
const reports: FuzzTargetReport[] = [];

beforeAll(() => {
  // Before any target module loads, so ddplab's code gets block coverage.
  coverage = CoverageTracker.start();
});

afterAll(() => {
  coverage.stop();
  const executed = reports.reduce((s, r) => s + r.seedInputs + r.inputs, 0);
  const crashes = reports.reduce((s, r) => s + r.findings.length, 0);
  console.log(`fuzz total: ${executed} inputs executed over ${reports.length} targets, ${crashes} crashes`);
});

describe(`fuzzing, seed ${SEED}, a fixed number of inputs per target`, () => {
  it('has an input count for every target', () => {
    expect(Object.keys(INPUTS).sort()).toEqual([...TARGET_NAMES].sort());
  });

  for (const name of TARGET_NAMES) {
    const n = INPUTS[name] ?? 0;
    it(`${name}: ${n} mutated inputs, 0 crashes`, async () => {
      const [target] = await loadTargets([name]);
      const r = await fuzzTarget({ target: target!, seed: SEED, budget: { inputs: n }, guidance: 'coverage', coverage });
      reports.push(r);
      console.log(
        `fuzz ${name}: ${r.seedInputs + r.inputs} inputs executed (${r.inputs} mutated + ${r.seedInputs} seeds), ` +
          `${r.features} coverage features, corpus ${r.corpusSize}, ${r.findings.length} crashes`,
      );
      expect(r.inputs).toBe(n);
      expect(r.seedInputs).toBeGreaterThan(0);
      expect(r.features).toBeGreaterThan(0);
      expect(r.findings.map((f) => `${f.signature} — first at iteration ${f.iteration}: ${f.message.split('\n')[0]}`)).toEqual([]);
    }, 180_000);
  }
});
