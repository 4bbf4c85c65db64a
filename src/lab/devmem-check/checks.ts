/**
 * `ddplab devmem-check`: the checks of the kernel's devmem selftest
 * (tools/testing/selftests/drivers/net/hw: ncdevmem and devmem.py — bind-rx
 * refusals, a receive whose every descriptor names the binding and whose
 * payload matches a validation pattern, tokens given back) run against
 * ddplab's model, in-process over an in-memory link (link.ts), plus the
 * rules ddplab models beyond the selftest (token numbers, stale returns,
 * unbind with frags held, loss and duplicates).
 *
 * The consumer side reads what a C program reads: the control buffer's
 * bytes (host/devmem/cmsg.ts), never ddplab's descriptor objects, and the
 * payload through the dmabuf's device view.
 */
import { DevmemDevice } from '../../nicemu/devmem/device.js';
import { DevmemBindError, Dmabuf, type DmabufBinding } from '../../nicemu/devmem/dmabuf.js';
import { NetlinkHandle } from '../../nicemu/devmem/netlink.js';
import { DevmemError, DevmemSocket, type DmabufTokenRange } from '../../host/devmem/socket.js';
import { DMABUF_CMSG_BYTES, SCM_DEVMEM_DMABUF, SCM_DEVMEM_LINEAR, cmsgSpace, cmsgs, decodeDmabufCmsg } from '../../host/devmem/cmsg.js';
import { DevmemCheckLink, type LinkFlow } from './link.js';

export interface CheckLine {
  readonly ok: boolean;
  readonly name: string;
  /** What was seen (one line). */
  readonly seen: string;
}

export interface DevmemCheckOptions {
  /** Bytes the receive checks move (default 1 MiB). */
  readonly bytes?: number;
  readonly seed?: number;
}

/** ncdevmem's validation: the sender cycles bytes 0..VALIDATION-1, the receiver checks them in order. */
const VALIDATION = 7;
/** Room for 16 messages: CMSG_SPACE(sizeof(struct dmabuf_cmsg)) x 16, as a consumer sizes its control buffer. */
const CONTROL_BYTES = cmsgSpace(DMABUF_CMSG_BYTES) * 16;

function validationPattern(from: number, len: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) b[i] = (from + i) % VALIDATION;
  return b;
}

function errnoOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof DevmemBindError || e instanceof DevmemError) return e.code;
    return `unexpected error: ${e instanceof Error ? e.message : String(e)}`;
  }
  return 'no error';
}

/** Token numbers coalesced into {start, count} ranges, in order. */
function rangesOf(tokens: readonly number[]): DmabufTokenRange[] {
  const sorted = [...tokens].sort((a, b) => a - b);
  const out: DmabufTokenRange[] = [];
  for (const t of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && last.tokenStart + last.tokenCount === t) out[out.length - 1] = { tokenStart: last.tokenStart, tokenCount: last.tokenCount + 1 };
    else out.push({ tokenStart: t, tokenCount: 1 });
  }
  return out;
}

/** What a consumer saw over a whole receive. */
interface ReceiveTally {
  bytes: number;
  descriptors: number;
  /** Descriptors naming another dmabuf than the consumer's binding. */
  foreignIds: number;
  /** Bytes that arrived in host memory (SCM_DEVMEM_LINEAR, or no cmsg at all) where device memory was expected. */
  linearBytes: number;
  /** First byte (stream offset) that did not match the validation pattern, or -1. */
  firstMismatch: number;
  /** Tokens given back, and what DONTNEED said it freed. */
  returned: number;
  freed: number;
  firstTokens: number[];
  recvmsgCalls: number;
}

/**
 * Receives `total` bytes on `sock` as ncdevmem does: recvmsg(MSG_SOCK_DEVMEM)
 * into a 640-byte control buffer, each cmsg checked and its payload read
 * through the device view, the call's tokens given back at once.
 */
function receiveAll(link: DevmemCheckLink, flow: LinkFlow, sock: DevmemSocket, binding: DmabufBinding, total: number, onCall?: (tokens: number[]) => void): ReceiveTally {
  const view = binding.dmabuf.deviceView();
  const t: ReceiveTally = { bytes: 0, descriptors: 0, foreignIds: 0, linearBytes: 0, firstMismatch: -1, returned: 0, freed: 0, firstTokens: [], recvmsgCalls: 0 };
  const check = (data: Buffer): void => {
    if (t.firstMismatch < 0 && !data.equals(validationPattern(t.bytes, data.length))) {
      for (let i = 0; i < data.length; i++) {
        if (data[i] !== (t.bytes + i) % VALIDATION) {
          t.firstMismatch = t.bytes + i;
          break;
        }
      }
    }
    t.bytes += data.length;
  };
  while (t.bytes < total) {
    link.runUntil(() => flow.host.readableLength > 0, 120_000);
    if (flow.host.readableLength === 0) throw new Error(`the stream stalled after ${t.bytes} of ${total} bytes`);
    const r = sock.recvmsg({ devmem: true, controlBytes: CONTROL_BYTES });
    t.recvmsgCalls++;
    const tokens: number[] = [];
    let linearAt = 0;
    if (r.control.length === 0 && r.bytes.length > 0) {
      // Ordinary data: no cmsg at all.
      t.linearBytes += r.bytes.length;
      check(r.bytes);
    }
    for (const c of cmsgs(r.control)) {
      const d = decodeDmabufCmsg(c.data);
      if (d === undefined) throw new Error(`a cmsg of ${c.data.length} data bytes, not a dmabuf_cmsg`);
      t.descriptors++;
      if (c.type === SCM_DEVMEM_LINEAR) {
        t.linearBytes += d.fragSize;
        check(r.bytes.subarray(linearAt, linearAt + d.fragSize));
        linearAt += d.fragSize;
      } else if (c.type === SCM_DEVMEM_DMABUF) {
        if (d.dmabufId !== binding.id) {
          // Not the consumer's memory: it cannot read it, only count it.
          t.foreignIds++;
          t.bytes += d.fragSize;
        } else check(view.read(d.fragOffset, d.fragSize));
        tokens.push(d.fragToken);
      } else throw new Error(`a cmsg of type ${c.type}`);
    }
    if (t.firstTokens.length < 2 && tokens.length > 0) t.firstTokens.push(tokens[0]!);
    onCall?.(tokens);
    if (tokens.length > 0) {
      t.freed += sock.dontneed(rangesOf(tokens));
      t.returned += tokens.length;
    }
  }
  return t;
}

function sendPattern(flow: LinkFlow, total: number): void {
  flow.peer.write([validationPattern(0, total)]);
}

type Check = () => CheckLine | CheckLine[];

function bindChecks(): CheckLine[] {
  const dev = new DevmemDevice({ queues: ['off', 'tcp'] });
  const nl = new NetlinkHandle(dev);
  const dmabuf = (): Dmabuf => new Dmabuf(1 << 20);
  const out: CheckLine[] = [];
  const refused = (name: string, want: string, fn: () => unknown): void => {
    const got = errnoOf(fn);
    out.push({ ok: got === want, name, seen: got });
  };
  refused('bind-rx to a queue with header split off is refused (EINVAL)', 'EINVAL', () => nl.bindRx({ queues: [0], dmabuf: dmabuf() }));
  refused('bind-rx with no queues is refused (EINVAL)', 'EINVAL', () => nl.bindRx({ queues: [], dmabuf: dmabuf() }));
  dev.setHdsThresh(1024);
  refused('bind-rx with hds-thresh above 0 is refused (EINVAL)', 'EINVAL', () => nl.bindRx({ queues: [1], dmabuf: dmabuf() }));
  dev.setHdsThresh(0);
  refused('bind-rx to a queue out of range is refused (ERANGE)', 'ERANGE', () => nl.bindRx({ queues: [dev.steering.queueCount], dmabuf: dmabuf() }));
  let id = -1;
  const bound = errnoOf(() => (id = nl.bindRx({ queues: [1], dmabuf: dmabuf() })));
  out.push({ ok: bound === 'no error' && id > 0, name: 'bind-rx to a header-split queue succeeds', seen: bound === 'no error' ? `binding id ${id}` : bound });
  refused('bind-rx to a queue already bound is refused (EEXIST)', 'EEXIST', () => nl.bindRx({ queues: [1], dmabuf: dmabuf() }));
  nl.close();
  out.push({ ok: dev.bindings().length === 0, name: 'closing the netlink handle unbinds', seen: `${dev.bindings().length} bindings left` });
  return out;
}

function receiveChecks(o: Required<DevmemCheckOptions>): CheckLine[] {
  const out: CheckLine[] = [];
  const dev = new DevmemDevice({ queues: ['off', 'tcp'] });
  const nl = new NetlinkHandle(dev);
  const binding = dev.binding(nl.bindRx({ queues: [1], dmabuf: new Dmabuf(8 << 20) }))!;
  const link = new DevmemCheckLink(dev);
  const flow = link.open({ port: 40_000, queue: 1, seed: o.seed });
  const sock = new DevmemSocket(flow.host, dev, flow.key);
  sendPattern(flow, o.bytes);
  link.runUntil(() => flow.host.readableLength > 0, 10_000);

  const queued = flow.host.readableLength;
  const efault = errnoOf(() => sock.recvmsg({ devmem: false }));
  out.push({
    ok: efault === 'EFAULT' && flow.host.readableLength === queued,
    name: 'recvmsg without MSG_SOCK_DEVMEM on dmabuf data fails (EFAULT), data stays queued',
    seen: `${efault}, ${flow.host.readableLength} of ${queued} bytes still queued`,
  });
  const small = errnoOf(() => sock.recvmsg({ devmem: true, controlBytes: cmsgSpace(DMABUF_CMSG_BYTES) - 1 }));
  out.push({
    ok: small === 'ETOOSMALL' && flow.host.readableLength === queued && sock.stats.tokensIssued === 0,
    name: `recvmsg with a ${cmsgSpace(DMABUF_CMSG_BYTES) - 1}-byte control buffer fails (ETOOSMALL), nothing consumed`,
    seen: `${small}, ${flow.host.readableLength} of ${queued} bytes still queued, ${sock.stats.tokensIssued} tokens issued`,
  });

  const t = receiveAll(link, flow, sock, binding, o.bytes);
  out.push({
    ok: t.descriptors > 0 && t.foreignIds === 0 && t.linearBytes === 0,
    name: "every descriptor carries the binding's dmabuf id; no linear data where device memory was expected",
    seen: `${t.descriptors} descriptors in ${t.recvmsgCalls} calls, ${t.foreignIds} with another id, ${t.linearBytes} linear bytes`,
  });
  out.push({
    ok: t.bytes === o.bytes && t.firstMismatch < 0,
    name: `payload matches the validation pattern (bytes cycle 0..${VALIDATION - 1})`,
    seen: t.firstMismatch < 0 ? `${t.bytes} bytes match` : `first mismatch at byte ${t.firstMismatch}`,
  });
  out.push({
    ok: t.freed === t.returned && sock.tokensOutstanding === 0 && binding.pool.stats['user-refs'] === 0,
    name: 'SO_DEVMEM_DONTNEED returns the count freed',
    seen: `${t.freed} freed of ${t.returned} returned, ${sock.tokensOutstanding} outstanding, ${binding.pool.stats['user-refs']} user references`,
  });
  out.push({
    ok: t.firstTokens[0] === 1 && t.firstTokens[1] === 1,
    name: 'tokens start at 1 and the lowest free number is reissued at once',
    seen: `first token of the first two calls: ${t.firstTokens.join(', ')}`,
  });
  const many = Array.from({ length: 129 }, (_, i) => ({ tokenStart: i + 1, tokenCount: 1 }));
  const einval = errnoOf(() => sock.dontneed(many));
  const capped = errnoOf(() => sock.dontneed(many.slice(0, 128)));
  out.push({ ok: einval === 'EINVAL' && capped === 'no error', name: 'SO_DEVMEM_DONTNEED with 129 ranges fails (EINVAL), 128 are taken', seen: `129: ${einval}, 128: ${capped}` });

  // The stale-return hazard: a token given back twice, after its number went to a newer frag.
  flow.peer.write([validationPattern(0, 1000)]);
  link.runUntil(() => flow.host.readableLength >= 1000, 10_000);
  const first = sock.recvmsg({ devmem: true, controlBytes: cmsgSpace(DMABUF_CMSG_BYTES) });
  const d1 = first.descriptors.find((d) => d.kind === 'dmabuf');
  const rest = flow.host.readableLength;
  if (rest > 0) sock.recvmsg({ devmem: true });
  let stale = 'no frag received';
  if (d1 !== undefined && d1.kind === 'dmabuf') {
    const mine = new Map([[d1.token, d1.gen]]);
    sock.dontneed([{ tokenStart: d1.token, tokenCount: 1 }], (k) => mine.get(k));
    flow.peer.write([validationPattern(0, 1000)]);
    link.runUntil(() => flow.host.readableLength >= 1000, 10_000);
    const again = sock.recvmsg({ devmem: true, controlBytes: cmsgSpace(DMABUF_CMSG_BYTES) });
    const d2 = again.descriptors.find((d) => d.kind === 'dmabuf');
    const before = sock.stats.staleTokenReturns;
    const freed = sock.dontneed([{ tokenStart: d1.token, tokenCount: 1 }], (k) => mine.get(k));
    stale = `token ${d1.token} reissued as ${d2?.kind === 'dmabuf' ? d2.token : '-'}; second return freed ${freed}, stale returns counted ${sock.stats.staleTokenReturns - before}`;
    out.push({
      ok: d2?.kind === 'dmabuf' && d2.token === d1.token && freed === 1 && sock.stats.staleTokenReturns - before === 1,
      name: 'a token returned twice frees the newer frag (the kernel says 1); the model counts a stale return',
      seen: stale,
    });
  } else out.push({ ok: false, name: 'a token returned twice frees the newer frag; the model counts a stale return', seen: stale });
  sock.close();
  nl.close();
  return out;
}

function fragLimitCheck(o: Required<DevmemCheckOptions>): CheckLine {
  const dev = new DevmemDevice({ queues: ['off', 'tcp'] });
  const nl = new NetlinkHandle(dev);
  const binding = dev.binding(nl.bindRx({ queues: [1], dmabuf: new Dmabuf(8 << 20) }))!;
  const link = new DevmemCheckLink(dev);
  const flow = link.open({ port: 40_005, queue: 1, seed: o.seed + 5 });
  const sock = new DevmemSocket(flow.host, dev, flow.key);
  // Keep every token of ~1400 frags, then give them all back in one range.
  const total = 2 << 20;
  let got = 0;
  sendPattern(flow, total);
  while (got < total) {
    link.runUntil(() => flow.host.readableLength > 0, 120_000);
    if (flow.host.readableLength === 0) throw new Error(`the stream stalled after ${got} of ${total} bytes`);
    got += sock.recvmsg({ devmem: true, controlBytes: CONTROL_BYTES }).len;
  }
  const held = sock.tokensOutstanding;
  const first = sock.dontneed([{ tokenStart: 1, tokenCount: held }]);
  // The same range again: its first 1024 numbers are looked at (now free, skipped) and the call stops there.
  const again = sock.dontneed([{ tokenStart: 1, tokenCount: held }]);
  const rest = sock.dontneed([{ tokenStart: 1025, tokenCount: held - 1024 }]);
  sock.close();
  nl.close();
  return {
    ok: held > 1024 && first === 1024 && again === 0 && rest === held - 1024 && binding.released,
    name: 'SO_DEVMEM_DONTNEED looks at no more than 1024 tokens per call',
    seen: `${held} tokens held; one range of ${held}: freed ${first}; the same range again: ${again}; from 1025: ${rest}`,
  };
}

function steeringCheck(o: Required<DevmemCheckOptions>): CheckLine {
  // Queue 1 bound to the consumer's dmabuf, queue 2 to another; one flow steered nowhere (queue 0), one to queue 2.
  const dev = new DevmemDevice({ queues: ['off', 'tcp', 'tcp'] });
  const nl = new NetlinkHandle(dev);
  const mine = dev.binding(nl.bindRx({ queues: [1], dmabuf: new Dmabuf(1 << 20) }))!;
  nl.bindRx({ queues: [2], dmabuf: new Dmabuf(1 << 20) });
  const link = new DevmemCheckLink(dev);
  const unsteered = link.open({ port: 40_001, seed: o.seed + 1 });
  const elsewhere = link.open({ port: 40_002, queue: 2, seed: o.seed + 2 });
  const bytes = 20_000;
  sendPattern(unsteered, bytes);
  sendPattern(elsewhere, bytes);
  const a = receiveAll(link, unsteered, new DevmemSocket(unsteered.host, dev, unsteered.key), mine, bytes);
  const b = receiveAll(link, elsewhere, new DevmemSocket(elsewhere.host, dev, elsewhere.key), mine, bytes);
  nl.close();
  return {
    ok: a.linearBytes === bytes && a.descriptors === 0 && b.foreignIds > 0 && b.foreignIds === b.descriptors,
    name: 'wrong steering shows as ncdevmem sees it: linear data where device memory was expected, or another dmabuf id',
    seen: `unsteered flow: ${a.linearBytes} bytes in host memory; flow on another bound queue: ${b.foreignIds} of ${b.descriptors} descriptors with a foreign id`,
  };
}

function unbindCheck(o: Required<DevmemCheckOptions>): CheckLine {
  const dev = new DevmemDevice({ queues: ['off', 'tcp'] });
  const nl = new NetlinkHandle(dev);
  const binding = dev.binding(nl.bindRx({ queues: [1], dmabuf: new Dmabuf(1 << 20) }))!;
  const link = new DevmemCheckLink(dev);
  const flow = link.open({ port: 40_003, queue: 1, seed: o.seed + 3 });
  const sock = new DevmemSocket(flow.host, dev, flow.key);
  const total = 64 * 1024;
  sendPattern(flow, total);
  link.runUntil(() => flow.host.readableLength >= total, 10_000);
  // Take one call's frags (tokens held), leave the rest queued in the socket; then the handle closes.
  const held = sock.recvmsg({ devmem: true, controlBytes: cmsgSpace(DMABUF_CMSG_BYTES) * 4 });
  nl.close();
  const view = binding.dmabuf.deviceView();
  let ok = dev.binding(binding.id) === undefined && !binding.live && !binding.released;
  let at = 0;
  for (const c of cmsgs(held.control)) {
    const d = decodeDmabufCmsg(c.data)!;
    if (!view.read(d.fragOffset, d.fragSize).equals(validationPattern(at, d.fragSize))) ok = false;
    at += d.fragSize;
  }
  const heldTokens = held.descriptors.flatMap((d) => (d.kind === 'dmabuf' ? [d.token] : []));
  const rest = receiveAll(link, flow, sock, binding, total - held.len);
  const freedHeld = sock.dontneed(rangesOf(heldTokens));
  const releasedBeforeClose = binding.released;
  sock.close();
  ok = ok && rest.foreignIds === 0 && rest.bytes === total - held.len && freedHeld === heldTokens.length && releasedBeforeClose && binding.pool.stats['user-refs'] === 0;
  return {
    ok,
    name: 'after the netlink handle closes, held and queued frags stay valid, go back to the retired pool, and it is released with the last',
    seen: `${held.len} bytes held as ${heldTokens.length} tokens and ${rest.bytes} queued bytes read after unbind; DONTNEED freed ${freedHeld}; released: ${binding.released}`,
  };
}

function lossCheck(o: Required<DevmemCheckOptions>): CheckLine {
  const dev = new DevmemDevice({ queues: ['off', 'tcp'] });
  const nl = new NetlinkHandle(dev);
  // A pool a quarter of the transfer: pages must be recycled while TCP drops duplicates and repairs losses.
  const binding = dev.binding(nl.bindRx({ queues: [1], dmabuf: new Dmabuf(1 << 20) }))!;
  const link = new DevmemCheckLink(dev);
  const flow = link.open({ port: 40_004, queue: 1, loss: 0.02, dup: 0.02, seed: o.seed + 4, rcvBufBytes: 256 * 1024 });
  const sock = new DevmemSocket(flow.host, dev, flow.key);
  const total = 4 << 20;
  sendPattern(flow, total);
  const t = receiveAll(link, flow, sock, binding, total);
  sock.close();
  nl.close();
  const pool = binding.pool.stats;
  return {
    ok: t.bytes === total && t.firstMismatch < 0 && t.foreignIds === 0 && binding.released && pool.recycled > 0,
    name: 'under 2% loss and 2% duplicates toward the NIC the pattern matches and every page comes back',
    seen:
      `${t.bytes} bytes, ${t.firstMismatch < 0 ? 'all match' : `mismatch at ${t.firstMismatch}`}; ${flow.toHost.dropped} frames lost, ${flow.toHost.duplicated} duplicated, ` +
      `${dev.stats['rx-devmem-drops']} dropped for want of a page; ${pool.recycled} pages recycled; released: ${binding.released}`,
  };
}

/** Runs every check; each failure is a line, never a throw. */
export function runDevmemChecks(opts: DevmemCheckOptions = {}): CheckLine[] {
  const o: Required<DevmemCheckOptions> = { bytes: opts.bytes ?? 1 << 20, seed: opts.seed ?? 1 };
  const checks: [string, Check][] = [
    ['bind-rx', bindChecks],
    ['receive', () => receiveChecks(o)],
    ['frag limit', () => fragLimitCheck(o)],
    ['steering', () => steeringCheck(o)],
    ['unbind', () => unbindCheck(o)],
    ['loss', () => lossCheck(o)],
  ];
  const out: CheckLine[] = [];
  for (const [name, run] of checks) {
    try {
      const r = run();
      out.push(...(Array.isArray(r) ? r : [r]));
    } catch (e) {
      out.push({ ok: false, name: `${name} checks`, seen: `threw: ${e instanceof Error ? e.message : String(e)}` });
    }
  }
  return out;
}
