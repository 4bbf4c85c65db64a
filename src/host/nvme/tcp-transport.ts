/**
 * ddplab's userspace TCP socket behind the StreamTransport interface the
 * NVMe/TCP host ULP runs on. Received bytes reach the ULP as the skb frag
 * views the NIC built (host / placed / dmabuf), never copied here, each
 * chunk with the TCP sequence number of its first byte and a crcOk that
 * holds for every byte (chunks end where the skbs' ddpCrcOk changes).
 *
 * The socket wiring (handlers, FIN, close, drain) is shared with the devmem
 * transport (host/devmem/transport.ts), which receives differently.
 */
import type { RxChunk, StreamTransport } from './stream-transport.js';
import { newRxChunk } from '../net/tcp-rx-queue.js';
import type { TcpSocket } from '../net/tcp-socket.js';

export class TcpTransport implements StreamTransport {
  protected dataCb: ((chunk: RxChunk) => void) | undefined;
  private closeCb: ((err?: Error) => void) | undefined;
  private drainCb: (() => void) | undefined;
  private closed = false;

  constructor(readonly socket: TcpSocket) {
    socket.handlers.onReadable = () => this.pump();
    socket.handlers.onDrain = () => this.drainCb?.();
    // The peer's FIN: NVMe/TCP has no half-close; the queue is over once the
    // bytes before the FIN are consumed (node's allowHalfOpen=false does the same).
    socket.handlers.onEnd = () => {
      this.pump();
      this.close();
      this.finish(undefined);
    };
    socket.handlers.onClose = (err) => this.finish(err);
  }

  write(bufs: readonly Buffer[]): boolean {
    if (this.closed) return false;
    return this.socket.write(bufs);
  }

  onDrain(cb: () => void): void {
    this.drainCb = cb;
  }

  onData(cb: (chunk: RxChunk) => void): void {
    this.dataCb = cb;
    this.pump();
  }

  onClose(cb: (err?: Error) => void): void {
    this.closeCb = cb;
  }

  close(): void {
    this.socket.close();
  }

  abort(): void {
    this.socket.abort();
  }

  /** Hands the ULP every readable byte. */
  protected pump(): void {
    const cb = this.dataCb;
    if (cb === undefined) return;
    for (;;) {
      const n = this.socket.readableLength;
      if (n === 0) return;
      const c = this.socket.readFrags(n, newRxChunk(), true);
      if (c.len === 0) return;
      cb({ seq: c.seq, frags: c.frags, crcOk: c.ddpCrcOk });
    }
  }

  protected finish(err: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.closeCb?.(err);
  }
}
