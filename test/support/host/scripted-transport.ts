/**
 * Test-only StreamTransport: the test plays the controller by hand. It sees
 * every write the host makes (parsed back into PDUs) and feeds the host
 * received bytes cut into chunks and frags as it likes.
 */
import type { SkbFrag } from '../../../src/nicemu/skb.js';
import type { RxChunk, StreamTransport } from '../../../src/host/nvme/stream-transport.js';
import { seqAdd } from '../../../src/wire/seq.js';
import { PduFramer, type FramedPdu } from '../../../src/wire/pdu-framer.js';

export interface DeliverOptions {
  /** Cut the bytes into chunks of this size (default: one chunk). */
  readonly chunkBytes?: number;
  readonly crcOk?: boolean;
}

export class TestTransport implements StreamTransport {
  /** Every write, its buffers as passed (not copied). */
  readonly writes: Buffer[][] = [];
  /** What the host sent, framed. */
  readonly sent: FramedPdu[] = [];
  closed = false;
  aborted = false;
  /** What write() returns. */
  writable = true;
  private dataCb: ((chunk: RxChunk) => void) | undefined;
  private closeCb: ((err?: Error) => void) | undefined;
  private drainCb: (() => void) | undefined;
  private seq: number;
  private readonly framer = new PduFramer((p) => this.sent.push(p), { verifyDigests: true });

  constructor(initialSeq = 0) {
    this.seq = initialSeq >>> 0;
  }

  write(bufs: readonly Buffer[]): boolean {
    this.writes.push([...bufs]);
    // Frame a copy: the host's buffers must stay untouched and unshared with the framer's views.
    for (const b of bufs) if (b.length > 0) this.framer.push(Buffer.from(b));
    return this.writable;
  }

  onDrain(cb: () => void): void {
    this.drainCb = cb;
  }

  onData(cb: (chunk: RxChunk) => void): void {
    this.dataCb = cb;
  }

  onClose(cb: (err?: Error) => void): void {
    this.closeCb = cb;
  }

  close(): void {
    this.closed = true;
  }

  abort(): void {
    this.aborted = true;
  }

  /** Sequence number of the next byte delivered. */
  get rcvNxt(): number {
    return this.seq;
  }

  /** Delivers `bytes` as host frags, in chunks. */
  deliver(bytes: Buffer, opts: DeliverOptions = {}): void {
    const step = opts.chunkBytes ?? bytes.length;
    for (let off = 0; off < bytes.length; off += step) {
      const buf = Buffer.from(bytes.subarray(off, Math.min(off + step, bytes.length)));
      this.deliverFrags([{ kind: 'host', buf }], opts.crcOk ?? false);
    }
  }

  /** Delivers one chunk made of `frags`. */
  deliverFrags(frags: readonly SkbFrag[], crcOk = false): void {
    let len = 0;
    for (const f of frags) len += f.kind === 'dmabuf' ? f.size : f.buf.length;
    const chunk: RxChunk = { seq: this.seq, frags, crcOk };
    this.seq = seqAdd(this.seq, len);
    this.dataCb?.(chunk);
  }

  drain(): void {
    this.writable = true;
    this.drainCb?.();
  }

  /** The peer (or the network) closes the connection. */
  peerClose(err?: Error): void {
    this.closeCb?.(err);
  }

  /** Sent PDUs of one type. */
  sentOfType(type: number): FramedPdu[] {
    return this.sent.filter((p) => p.pdu.type === type);
  }
}
