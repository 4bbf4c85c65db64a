/**
 * The NIC's rx queues as devmem TCP needs them: each queue with its header
 * split setting (ethtool `tcp-data-split`), and 5-tuple rules that steer a
 * flow to a queue (ethtool -N ... flow-type tcp4 src-ip .. dst-port ..
 * action Q). Unmatched flows go to queue 0, the default queue.
 *
 * Header split, per queue:
 *  - 'off':  headers and payload in one host buffer (no devmem possible);
 *  - 'tcp':  Ethernet/IP/TCP headers to host memory, all TCP payload to the
 *            queue's buffers — the split Linux requires of a devmem queue;
 *  - 'nvme': ddplab's PDU-aware split: NVMe/TCP PDU headers (everything that
 *            is not C2HData payload) to host memory as well, C2HData payload
 *            to the queue's buffers (header-split.ts).
 *
 * Rules are matched once per flow, when the host opens the connection and
 * asks which engine its segments go through; the per-frame lookup is the
 * flow table's.
 */
import type { FlowKey } from './flow-table.js';

export type HeaderSplitSetting = 'off' | 'tcp' | 'nvme';

export interface RxQueueConfig {
  readonly id: number;
  readonly headerSplit: HeaderSplitSetting;
}

/** A TCP 5-tuple as the NIC matches received segments: remote end → our end. */
export type SteeringMatch = FlowKey;

function matchKey(m: SteeringMatch): string {
  return `${m.remoteIp}:${m.remotePort}>${m.localIp}:${m.localPort}`;
}

export class RxQueueSteering {
  private readonly queues: HeaderSplitSetting[];
  private readonly rules = new Map<string, { readonly id: number; readonly queue: number }>();
  private readonly ruleKeys = new Map<number, string>();
  private nextRuleId = 1;

  /** One entry per queue, queue 0 first. */
  constructor(headerSplit: readonly HeaderSplitSetting[]) {
    if (headerSplit.length === 0) throw new RangeError('a NIC has at least one rx queue');
    this.queues = [...headerSplit];
  }

  get queueCount(): number {
    return this.queues.length;
  }

  hasQueue(id: number): boolean {
    return Number.isInteger(id) && id >= 0 && id < this.queues.length;
  }

  headerSplit(id: number): HeaderSplitSetting {
    const hs = this.queues[id];
    if (hs === undefined) throw new RangeError(`no rx queue ${id}`);
    return hs;
  }

  setHeaderSplit(id: number, hs: HeaderSplitSetting): void {
    if (!this.hasQueue(id)) throw new RangeError(`no rx queue ${id}`);
    this.queues[id] = hs;
  }

  configs(): RxQueueConfig[] {
    return this.queues.map((headerSplit, id) => ({ id, headerSplit }));
  }

  /** Steers segments matching `m` to `queue`; returns the rule id (a later rule for the same tuple replaces it). */
  addRule(m: SteeringMatch, queue: number): number {
    if (!this.hasQueue(queue)) throw new RangeError(`no rx queue ${queue}`);
    const k = matchKey(m);
    const old = this.rules.get(k);
    if (old !== undefined) this.ruleKeys.delete(old.id);
    const id = this.nextRuleId++;
    this.rules.set(k, { id, queue });
    this.ruleKeys.set(id, k);
    return id;
  }

  removeRule(id: number): boolean {
    const k = this.ruleKeys.get(id);
    if (k === undefined) return false;
    this.ruleKeys.delete(id);
    this.rules.delete(k);
    return true;
  }

  /** The queue segments of `m` land on. */
  queueFor(m: SteeringMatch): number {
    return this.rules.get(matchKey(m))?.queue ?? 0;
  }
}
