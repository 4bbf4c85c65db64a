/**
 * A target's corpus: the inputs mutation starts from. It begins with the
 * seeds; under coverage guidance every input that reached code no earlier
 * input reached joins it. Parents are picked with a bias toward recent
 * additions (they sit at the frontier of what the fuzzer has reached) and
 * toward inputs that found more, the way AFL favours fresh queue entries.
 */
import type { Rng } from './rng.js';
import type { FuzzInput } from './target.js';

export interface CorpusEntry {
  readonly input: FuzzInput;
  /** Coverage features this input was the first to reach (0 for seeds run before coverage started). */
  readonly newFeatures: number;
  /** Index of the iteration that made it (-1 for seeds). */
  readonly iteration: number;
}

export class Corpus {
  private readonly entries: CorpusEntry[] = [];
  /** Entries beyond this are dropped, oldest non-seed first, so memory stays bounded in long runs. */
  constructor(private readonly maxEntries = 4096) {}

  get size(): number {
    return this.entries.length;
  }

  add(entry: CorpusEntry): void {
    if (this.entries.length >= this.maxEntries) {
      const victim = this.entries.findIndex((e) => e.iteration >= 0);
      if (victim >= 0) this.entries.splice(victim, 1);
      else return;
    }
    this.entries.push(entry);
  }

  /** A parent for the next mutation. */
  pick(rng: Rng): CorpusEntry {
    const n = this.entries.length;
    if (n === 0) throw new RangeError('Corpus.pick on an empty corpus');
    const r = rng.below(10);
    if (r < 3) return this.entries[n - 1 - rng.below(Math.min(n, 16))]!;
    if (r < 5) {
      // Tournament of two: the one that found more.
      const a = this.entries[rng.below(n)]!;
      const b = this.entries[rng.below(n)]!;
      return a.newFeatures >= b.newFeatures ? a : b;
    }
    return this.entries[rng.below(n)]!;
  }

  all(): readonly CorpusEntry[] {
    return this.entries;
  }
}
