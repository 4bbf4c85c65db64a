/**
 * The devmem socket API (docs/design.md, "devmem socket API"; docs/protocol-facts.md, "devmem
 * TCP"), after Linux 6.12's MSG_SOCK_DEVMEM / SO_DEVMEM_LINEAR /
 * SO_DEVMEM_DMABUF / SO_DEVMEM_DONTNEED, on one of ddplab's TCP sockets
 * whose flow the NIC steers to a queue bound to a dmabuf.
 *
 * recvmsg(sock, {devmem: true}) reads from the in-order receive queue and
 * returns:
 *  - for devmem data (dmabuf frags, and the header-buffer bytes the NIC split
 *    off next to them): the linear bytes, copied, and descriptors in stream
 *    order, `{kind: 'linear', size}` and `{kind: 'dmabuf', dmabufId, offset,
 *    size, token}` — one token per frag, per socket, the lowest free
 *    number from 1 as mainline allocates them (token-table.ts), so a
 *    number given back is reissued at once;
 *  - for ordinary data (an skb that kept its payload in host memory): the
 *    bytes, copied, and no descriptor.
 * One call never mixes the two (the kernel stops where skbs change from
 * readable to unreadable). Devmem data without the flag fails with EFAULT
 * and stays queued. The descriptors are also written as the kernel writes
 * them, 24-byte dmabuf_cmsg records in a control buffer of `controlBytes`
 * (msg_controllen; cmsg.ts): each takes CMSG_SPACE(24) = 40 bytes and is
 * written only whole. When not even one fits the call fails with ETOOSMALL,
 * nothing consumed and no token made (put_cmsg_notrunc, mainline since
 * v6.15); when some fit it returns those and leaves the rest queued.
 *
 * dontneed(ranges) gives tokens back: at most 128 ranges per call (more is
 * EINVAL, the kernel's MAX_DONTNEED_TOKENS), and it looks at no more than
 * 1024 token numbers per call (MAX_DONTNEED_FRAGS); unknown or already freed
 * tokens are skipped; it returns how many frags it freed. A return can be
 * stale — the number was freed and reissued since the caller got it — and
 * then frees someone else's frag, as in Linux; ddplab counts it
 * (`staleTokenReturns`) when the caller says which issue it meant. `returnViaRing`
 * is the io_uring zcrx path for the same frags: entries {off, len} on the
 * binding's refill ring, consumed by the NIC when it next needs pages.
 * close() gives back every token the socket still holds.
 *
 * Making one registers the TCP socket as its flow's holder with the device
 * (DevmemDevice.holdFlow) if the host stack did not already.
 */
import type { DevmemDevice } from '../../nicemu/devmem/device.js';
import type { DmabufBinding } from '../../nicemu/devmem/dmabuf.js';
import type { FlowKey } from '../../nicemu/flow-table.js';
import type { HeaderSplitEngine } from '../../nicemu/devmem/header-split.js';
import { refillOff } from '../../nicemu/devmem/refill-ring.js';
import type { SkbFrag } from '../../nicemu/skb.js';
import { copySkbFrags, newSkbCopyCounts, type SkbCopyCounts } from '../net/skb-copy.js';
import { newRxChunk, type RxChunk } from '../net/tcp-rx-queue.js';
import type { TcpSocket } from '../net/tcp-socket.js';
import { DdplabError } from '../../base/errors.js';
import { CmsgWriter, DMABUF_CMSG_BYTES, SCM_DEVMEM_DMABUF, SCM_DEVMEM_LINEAR, cmsgSpace } from './cmsg.js';
import { TokenTable } from './token-table.js';

/** SO_DEVMEM_DONTNEED: most token ranges per call. */
export const DEVMEM_DONTNEED_MAX_RANGES = 128;
/** SO_DEVMEM_DONTNEED: most token numbers looked at per call. */
export const DEVMEM_DONTNEED_MAX_FRAGS = 1024;
const DEFAULT_MAX_DESCRIPTORS = 64;
const EMPTY = Buffer.alloc(0);

export type DevmemErrorCode =
  /** Devmem data, and the call did not ask for it (no MSG_SOCK_DEVMEM). */
  | 'EFAULT'
  /** The control buffer cannot hold one descriptor. */
  | 'ETOOSMALL'
  /** More than 128 token ranges, or a range that is not two u32s. */
  | 'EINVAL'
  /** The socket was closed. */
  | 'EBADF';

export class DevmemError extends DdplabError<DevmemErrorCode> {
  override name = 'DevmemError';
}

export interface LinearDescriptor {
  readonly kind: 'linear';
  /** Bytes of `RecvmsgResult.bytes` this descriptor stands for (in order). */
  readonly size: number;
}

export interface DmabufDescriptor {
  readonly kind: 'dmabuf';
  readonly dmabufId: number;
  /** Byte offset in the dmabuf (dmabuf_cmsg.frag_offset). */
  readonly offset: number;
  readonly size: number;
  readonly token: number;
  /** ddplab, not in the cmsg: which issue of `token` this is (counts up per socket). */
  readonly gen: number;
}

export type DevmemDescriptor = LinearDescriptor | DmabufDescriptor;

export interface RecvmsgOptions {
  /** MSG_SOCK_DEVMEM. */
  readonly devmem?: boolean;
  /** The iovec: most stream bytes to consume (default: all readable). */
  readonly maxBytes?: number;
  /** The control buffer, in descriptors: controlBytes = maxDescriptors x CMSG_SPACE(24) (default 64). */
  readonly maxDescriptors?: number;
  /** msg_controllen in bytes (wins over maxDescriptors). */
  readonly controlBytes?: number;
}

export interface RecvmsgResult {
  /** Linear bytes of devmem data, or the ordinary data: what the call copied. */
  readonly bytes: Buffer;
  /** In stream order; empty for ordinary data. */
  readonly descriptors: readonly DevmemDescriptor[];
  /** The control buffer as the kernel fills it: one 40-byte SCM_DEVMEM_LINEAR / SCM_DEVMEM_DMABUF message per descriptor (cmsg.ts). */
  readonly control: Buffer;
  /** Stream bytes consumed: bytes.length plus the dmabuf descriptors' sizes. */
  readonly len: number;
  /** ddplab: TCP sequence number of the first byte consumed (the DDP-style resync speaks in these). */
  readonly seq: number;
  /** ddplab: the NIC verified the data digests these bytes belong to (ddpCrcOk of every skb). */
  readonly crcOk: boolean;
}

export interface DmabufTokenRange {
  readonly tokenStart: number;
  readonly tokenCount: number;
}

/** Counters of devmem sockets (pass one object to several sockets to sum them). */
export interface DevmemSocketStats {
  recvmsgCalls: number;
  /** Calls that returned devmem data, and ordinary data. */
  recvmsgDevmem: number;
  recvmsgPlain: number;
  /** Bytes recvmsg copied: linear bytes of devmem data, and ordinary data. */
  linearBytes: number;
  plainBytes: number;
  /** Bytes and frags handed out as dmabuf descriptors. */
  dmabufBytes: number;
  dmabufFrags: number;
  tokensIssued: number;
  /** Tokens given back by dontneed, by the refill ring, and released by close(). */
  tokensFreedDontneed: number;
  tokensFreedRing: number;
  tokensFreedClose: number;
  /** Tokens handed out and not given back (now). */
  tokensOutstanding: number;
  dontneedCalls: number;
  dontneedRanges: number;
  /** Token numbers dontneed looked at that were not outstanding (ignored). */
  dontneedUnknown: number;
  /** Frags freed by a return whose caller no longer held that issue of the token (a stale or double return): the kernel cannot see these. */
  staleTokenReturns: number;
  /** Refill-ring entries written, and writes refused because the ring was full. */
  ringEntries: number;
  ringFull: number;
  efault: number;
  etoosmall: number;
  einval: number;
}

export function newDevmemSocketStats(): DevmemSocketStats {
  return {
    recvmsgCalls: 0,
    recvmsgDevmem: 0,
    recvmsgPlain: 0,
    linearBytes: 0,
    plainBytes: 0,
    dmabufBytes: 0,
    dmabufFrags: 0,
    tokensIssued: 0,
    tokensFreedDontneed: 0,
    tokensFreedRing: 0,
    tokensFreedClose: 0,
    tokensOutstanding: 0,
    dontneedCalls: 0,
    dontneedRanges: 0,
    dontneedUnknown: 0,
    staleTokenReturns: 0,
    ringEntries: 0,
    ringFull: 0,
    efault: 0,
    etoosmall: 0,
    einval: 0,
  };
}

/** What a token stands for. */
interface TokenEntry {
  readonly binding: DmabufBinding;
  readonly gen: number;
  readonly dmabufId: number;
  readonly offset: number;
  readonly size: number;
}

export class DevmemSocket {
  readonly stats: DevmemSocketStats;
  private readonly tokens = new TokenTable<TokenEntry>();
  private gen = 0;
  private readonly engine: HeaderSplitEngine | undefined;
  private readonly binding: DmabufBinding | undefined;
  private readonly scratch: RxChunk = newRxChunk();
  /** What recvmsg copied (linear and ordinary bytes): the host CPU's part of devmem receive. */
  readonly copyCounts: SkbCopyCounts = newSkbCopyCounts();
  private closed = false;

  /** Takes over the devmem side of `socket`, whose NIC flow is `key`, on `dev`. */
  constructor(
    readonly socket: TcpSocket,
    private readonly dev: DevmemDevice,
    private readonly key: FlowKey,
    stats?: DevmemSocketStats,
  ) {
    this.stats = stats ?? newDevmemSocketStats();
    this.engine = dev.engine(key);
    this.binding = this.engine !== undefined ? dev.binding(this.engine.bindingId) : undefined;
    dev.holdFlow(key, socket);
  }

  /** The dmabuf binding this socket's flow lands in (undefined: an ordinary socket). */
  get dmabufId(): number | undefined {
    return this.binding?.id;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get tokensOutstanding(): number {
    return this.tokens.size;
  }

  /** recvmsg (see the file comment). Returns len 0 when nothing is readable. */
  recvmsg(opts: RecvmsgOptions = {}): RecvmsgResult {
    if (this.closed) throw new DevmemError('EBADF', 'recvmsg on a closed devmem socket');
    const st = this.stats;
    st.recvmsgCalls++;
    const chunk = this.socket.peekFrags(opts.maxBytes ?? this.socket.readableLength, this.scratch, 0, true);
    if (chunk.len === 0) return { bytes: EMPTY, descriptors: [], control: EMPTY, len: 0, seq: this.socket.readSeq, crcOk: true };
    const frags = chunk.frags;
    const seq = chunk.seq;
    const crcOk = chunk.ddpCrcOk;
    if (!this.isDevmem(frags[0]!)) {
      let n = 0;
      let k = 0;
      while (k < frags.length && !this.isDevmem(frags[k]!)) n += fragBytes(frags[k++]!);
      const bytes = Buffer.allocUnsafe(n);
      let at = 0;
      for (let i = 0; i < k; i++) at = this.copyFrag(frags[i]!, bytes, at);
      this.socket.consume(n);
      st.recvmsgPlain++;
      st.plainBytes += n;
      return { bytes, descriptors: [], control: EMPTY, len: n, seq, crcOk };
    }
    if (opts.devmem !== true) {
      st.efault++;
      throw new DevmemError('EFAULT', 'devmem data queued: receive it with MSG_SOCK_DEVMEM (recvmsg {devmem: true})');
    }
    const controlBytes = opts.controlBytes ?? (opts.maxDescriptors ?? DEFAULT_MAX_DESCRIPTORS) * cmsgSpace(DMABUF_CMSG_BYTES);
    const writer = new CmsgWriter(controlBytes);
    // Each message takes CMSG_SPACE(24) and needs CMSG_LEN(24) left: both 40 bytes on 64-bit Linux.
    const cap = Math.floor(controlBytes / cmsgSpace(DMABUF_CMSG_BYTES));
    // First pass: how far the control buffer reaches; nothing is consumed and no token made yet.
    let nDesc = 0;
    let linearBytes = 0;
    let k = 0;
    let prevLinear = false;
    for (; k < frags.length; k++) {
      const f = frags[k]!;
      if (!this.isDevmem(f)) break;
      const linear = f.kind !== 'dmabuf';
      if (!(linear && prevLinear)) {
        if (nDesc >= cap) break;
        nDesc++;
      }
      if (linear) linearBytes += fragBytes(f);
      prevLinear = linear;
    }
    if (nDesc === 0) {
      st.etoosmall++;
      throw new DevmemError('ETOOSMALL', `the control buffer (${controlBytes} bytes) cannot hold one ${cmsgSpace(DMABUF_CMSG_BYTES)}-byte devmem cmsg`);
    }
    const bytes = linearBytes > 0 ? Buffer.allocUnsafe(linearBytes) : EMPTY;
    const descriptors: DevmemDescriptor[] = [];
    let at = 0;
    let len = 0;
    let linearRun = 0;
    for (let i = 0; i < k; i++) {
      const f = frags[i]!;
      if (f.kind === 'dmabuf') {
        if (linearRun > 0) {
          descriptors.push({ kind: 'linear', size: linearRun });
          writer.put(SCM_DEVMEM_LINEAR, { fragOffset: 0, fragSize: linearRun, fragToken: 0, dmabufId: 0, flags: 0 });
          linearRun = 0;
        }
        const d = this.issueToken(f.dmabufId, f.offset, f.size);
        descriptors.push(d);
        writer.put(SCM_DEVMEM_DMABUF, { fragOffset: d.offset, fragSize: d.size, fragToken: d.token, dmabufId: d.dmabufId, flags: 0 });
        st.dmabufBytes += f.size;
        st.dmabufFrags++;
        len += f.size;
      } else {
        const n = this.copyFrag(f, bytes, at) - at;
        at += n;
        linearRun += n;
        len += n;
      }
    }
    if (linearRun > 0) {
      descriptors.push({ kind: 'linear', size: linearRun });
      writer.put(SCM_DEVMEM_LINEAR, { fragOffset: 0, fragSize: linearRun, fragToken: 0, dmabufId: 0, flags: 0 });
    }
    this.socket.consume(len);
    // The frags left the queue: the chunks they hold now count through user references.
    this.binding?.pool.noteReleased();
    st.recvmsgDevmem++;
    st.linearBytes += linearBytes;
    return { bytes, descriptors, control: writer.bytes(), len, seq, crcOk };
  }

  /**
   * SO_DEVMEM_DONTNEED (see the file comment). Returns the number of frags
   * freed. `held` (ddplab only): the generation of each token the caller
   * believes it is returning (DmabufDescriptor.gen); a freed token whose
   * current issue differs — or that the caller does not know — counts as a
   * stale return.
   */
  dontneed(ranges: readonly DmabufTokenRange[], held?: (token: number) => number | undefined): number {
    if (this.closed) throw new DevmemError('EBADF', 'dontneed on a closed devmem socket');
    const st = this.stats;
    if (ranges.length > DEVMEM_DONTNEED_MAX_RANGES) {
      st.einval++;
      throw new DevmemError('EINVAL', `dontneed: ${ranges.length} token ranges, at most ${DEVMEM_DONTNEED_MAX_RANGES} per call`);
    }
    for (const r of ranges) {
      if (!isU32(r.tokenStart) || !isU32(r.tokenCount)) {
        st.einval++;
        throw new DevmemError('EINVAL', `dontneed: token range {${r.tokenStart}, ${r.tokenCount}} is not two u32s`);
      }
    }
    st.dontneedCalls++;
    st.dontneedRanges += ranges.length;
    let looked = 0;
    let freed = 0;
    for (const r of ranges) {
      for (let j = 0; j < r.tokenCount; j++) {
        if (++looked > DEVMEM_DONTNEED_MAX_FRAGS) return freed;
        const token = (r.tokenStart + j) >>> 0;
        const t = this.releaseToken(token);
        if (t === undefined) {
          st.dontneedUnknown++;
          continue;
        }
        if (held !== undefined && held(token) !== t.gen) st.staleTokenReturns++;
        st.tokensFreedDontneed++;
        freed++;
      }
    }
    return freed;
  }

  /**
   * The zcrx return path for frags this socket handed out: one refill-ring
   * entry per descriptor (whose token must be outstanding; others are
   * skipped). The frag's user reference stays until the NIC consumes the
   * entry. Returns how many entries were written; stops when the ring is full.
   */
  returnViaRing(descs: readonly DmabufDescriptor[]): number {
    if (this.closed) throw new DevmemError('EBADF', 'ring return on a closed devmem socket');
    const st = this.stats;
    let n = 0;
    for (const d of descs) {
      const t = this.tokens.get(d.token);
      if (t === undefined || t.gen !== d.gen) continue;
      const b = t.binding;
      if (!b.live) {
        // Unbound since: the frag goes back to the retired pool directly.
        this.releaseToken(d.token);
        st.tokensFreedRing++;
        n++;
        continue;
      }
      if (!b.refillRing.produce({ off: refillOff(b.id, t.offset), len: t.size })) {
        st.ringFull++;
        break;
      }
      this.tokens.free(d.token);
      st.tokensOutstanding--;
      st.tokensFreedRing++;
      st.ringEntries++;
      n++;
    }
    return n;
  }

  /** close(): every token goes back; the flow is no longer split into device memory. Closes the TCP socket (orderly). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const token of this.tokens.keys()) {
      if (this.releaseToken(token) !== undefined) this.stats.tokensFreedClose++;
    }
    this.engine?.detach();
    this.dev.releaseFlow(this.key);
    this.socket.close();
  }

  /** Copies a host-memory frag into `dst` at `at` through the host's one copy routine; returns the new offset. */
  private copyFrag(f: SkbFrag, dst: Buffer, at: number): number {
    const before = this.copyCounts.copiedBytes + this.copyCounts.bytesSkipped;
    copySkbFrags([f], dst, at, this.copyCounts);
    return at + this.copyCounts.copiedBytes + this.copyCounts.bytesSkipped - before;
  }

  private isDevmem(f: SkbFrag): boolean {
    return f.kind === 'dmabuf' || (f.kind === 'host' && this.dev.isLinear(f.buf));
  }

  private issueToken(dmabufId: number, offset: number, size: number): DmabufDescriptor {
    const binding = this.dev.binding(dmabufId) ?? this.binding;
    if (binding === undefined || binding.id !== dmabufId) throw new Error(`a frag of dmabuf ${dmabufId}, which this socket's device never bound`);
    const gen = ++this.gen;
    const token = this.tokens.alloc({ binding, gen, dmabufId, offset, size });
    binding.pool.getUserRef(offset);
    this.stats.tokensIssued++;
    this.stats.tokensOutstanding++;
    return { kind: 'dmabuf', dmabufId, offset, size, token, gen };
  }

  /** Forgets `token` and gives its user reference back (to its pool, bound or not); undefined when it was not outstanding. */
  private releaseToken(token: number): TokenEntry | undefined {
    const t = this.tokens.free(token);
    if (t === undefined) return undefined;
    this.stats.tokensOutstanding--;
    t.binding.pool.putUserRef(t.offset);
    return t;
  }
}

function fragBytes(f: SkbFrag): number {
  return f.kind === 'dmabuf' ? f.size : f.buf.length;
}

function isU32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffff_ffff;
}
