/**
 * What `--hostile CASE[@QID][:after=N]` names (hostile.ts says what each
 * case puts on the wire): the cases and the spec's parser, in a module of
 * their own so that `ddplab run --help` and the flag's check load neither
 * the target nor the crc32c addon.
 */
import { DdplabError } from '../base/errors.js';

export const HOSTILE_CASES = [
  'plen-lt-hlen',
  'bad-hlen',
  'pdo-in-header',
  'data-past-length',
  'c2h-after-completion',
  'bad-hdgst',
  'bad-ddgst',
] as const;
export type HostileCase = (typeof HOSTILE_CASES)[number];

/** Which read response to break, and how: `--hostile CASE[@QID][:after=N]`. */
export interface HostileSpec {
  readonly kind: HostileCase;
  /** The I/O queue (QID ≥ 1) whose read response is broken. */
  readonly qid: number;
  /** Read responses on that queue that go out intact first. */
  readonly after: number;
}

export class HostileSpecError extends DdplabError<'HOSTILE_SPEC'> {
  constructor(message: string) {
    super('HOSTILE_SPEC', message);
    this.name = 'HostileSpecError';
  }
}

/** "bad-hdgst@2:after=10" → {kind, qid, after}; QID defaults to 1, after to 0. */
export function parseHostileSpec(text: string): HostileSpec {
  const m = /^([a-z0-9-]+)(?:@(\d+))?(?::after=(\d+))?$/.exec(text.trim());
  const kind = m ? HOSTILE_CASES.find((c) => c === m[1]) : undefined;
  if (!m || kind === undefined) {
    throw new HostileSpecError(`'${text}' is not CASE[@QID][:after=N] with CASE one of ${HOSTILE_CASES.join(', ')}`);
  }
  const qid = m[2] === undefined ? 1 : Number(m[2]);
  const after = m[3] === undefined ? 0 : Number(m[3]);
  if (!Number.isSafeInteger(qid) || qid < 1 || qid > 65534) throw new HostileSpecError(`QID ${m[2]} is not an I/O queue (1..65534)`);
  if (!Number.isSafeInteger(after)) throw new HostileSpecError(`after=${m[3]} is too large`);
  return { kind, qid, after };
}

export function formatHostileSpec(s: HostileSpec): string {
  return `${s.kind}@${s.qid}:after=${s.after}`;
}
