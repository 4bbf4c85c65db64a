/**
 * The NVMe/TCP framer a plain devmem TCP receiver must run over device
 * memory. With `tcp` header split the NIC puts every payload byte in the
 * dmabuf, PDU headers included, so a storage host that wants its data to
 * stay on the device still has to learn where each PDU's data starts and
 * ends: it reads each PDU's 8-byte common header, then the rest of the
 * header, padding and digests, out of device memory (what a GPU-side
 * parser, or a cudaMemcpy of the headers, would cost), and leaves the
 * C2HData payload where it is.
 *
 * The framer walks the stream in order (header → data → digest), keeps
 * C2HData payload as dmabuf frags (narrowed, same token), and turns every
 * other byte into host memory: bytes that were in host memory pass through,
 * bytes that were in the dmabuf are read through the device view and
 * counted. The NVMe/TCP queue downstream then sees exactly what the
 * PDU-aware (`nvme`) split hands it. A common header that does not validate
 * stops the framing: from there on every byte is read out, and the queue's
 * own parser reports the protocol error.
 */
import type { DmabufDeviceView } from '../../nicemu/devmem/dmabuf.js';
import type { DmabufFrag, SkbFrag } from '../../nicemu/skb.js';
import { NVME_TCP_COMMON_HEADER_LEN, PduType, peekCommonHeader, validateCommonHeader } from '../../wire/nvme-tcp-pdu.js';

type SplitState = 'common' | 'head' | 'data' | 'tail' | 'lost';

export interface DevmemPduSplitStats {
  /** PDU bytes read out of device memory because they are not C2HData payload. */
  deviceHeaderBytes: number;
  /** PDUs framed. */
  pdus: number;
  /** C2HData payload bytes left in device memory. */
  deviceDataBytes: number;
}

export class DevmemPduSplit {
  readonly stats: DevmemPduSplitStats = { deviceHeaderBytes: 0, pdus: 0, deviceDataBytes: 0 };
  private state: SplitState = 'common';
  private readonly ch = Buffer.alloc(NVME_TCP_COMMON_HEADER_LEN);
  private chFill = 0;
  /** Bytes left in the current state. */
  private left = NVME_TCP_COMMON_HEADER_LEN;
  private dataLen = 0;
  private tailLen = 0;

  constructor(private readonly view: DmabufDeviceView) {}

  /** Appends to `out` the frags for `pieces` (in stream order). */
  split(pieces: readonly SkbFrag[], out: SkbFrag[]): void {
    for (let i = 0; i < pieces.length; i++) {
      const f = pieces[i]!;
      const size = f.kind === 'dmabuf' ? f.size : f.buf.length;
      let at = 0;
      while (at < size) {
        const n = this.state === 'lost' ? size - at : Math.min(this.left, size - at);
        if (this.state === 'data') {
          out.push(f.kind === 'dmabuf' ? narrow(f, at, n) : { kind: f.kind, buf: f.buf.subarray(at, at + n) });
          if (f.kind === 'dmabuf') this.stats.deviceDataBytes += n;
        } else {
          const bytes = f.kind === 'dmabuf' ? this.readOut(f, at, n) : f.buf.subarray(at, at + n);
          if (this.state === 'common') bytes.copy(this.ch, this.chFill);
          out.push(f.kind === 'placed' ? { kind: 'placed', buf: bytes } : { kind: 'host', buf: bytes });
        }
        at += n;
        this.advance(n);
      }
    }
  }

  private readOut(f: DmabufFrag, at: number, n: number): Buffer {
    this.stats.deviceHeaderBytes += n;
    return this.view.read(f.offset + at, n);
  }

  private advance(n: number): void {
    if (this.state === 'lost') return;
    if (this.state === 'common') this.chFill += n;
    this.left -= n;
    if (this.left > 0) return;
    switch (this.state) {
      case 'common':
        this.onCommonHeader();
        return;
      case 'head':
        this.enter(this.dataLen > 0 ? 'data' : this.tailLen > 0 ? 'tail' : 'common');
        return;
      case 'data':
        this.enter(this.tailLen > 0 ? 'tail' : 'common');
        return;
      case 'tail':
        this.enter('common');
        return;
    }
  }

  private onCommonHeader(): void {
    let head: number;
    try {
      const layout = validateCommonHeader(peekCommonHeader(this.ch));
      this.stats.pdus++;
      if (layout.type === PduType.C2HData && layout.dataLength > 0) {
        head = layout.dataOffset - NVME_TCP_COMMON_HEADER_LEN;
        this.dataLen = layout.dataLength;
        this.tailLen = layout.ddgstLen;
      } else {
        head = layout.plen - NVME_TCP_COMMON_HEADER_LEN;
        this.dataLen = 0;
        this.tailLen = 0;
      }
    } catch {
      this.state = 'lost';
      return;
    }
    if (head > 0) {
      this.state = 'head';
      this.left = head;
    } else {
      this.enter(this.dataLen > 0 ? 'data' : this.tailLen > 0 ? 'tail' : 'common');
    }
  }

  private enter(s: 'common' | 'data' | 'tail'): void {
    this.state = s;
    if (s === 'common') {
      this.chFill = 0;
      this.left = NVME_TCP_COMMON_HEADER_LEN;
    } else this.left = s === 'data' ? this.dataLen : this.tailLen;
  }
}

/** Bytes [at, at + n) of a dmabuf frag; any extra property (a token) comes along. */
function narrow<F extends DmabufFrag>(f: F, at: number, n: number): F {
  return { ...f, offset: f.offset + at, size: n };
}
