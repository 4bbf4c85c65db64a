/**
 * A node:net socket as a StreamTransport: the kernel's TCP under the host
 * ULP, for tests against the target over loopback and as the baseline the
 * userspace stack is compared with.
 *
 * Every 'data' Buffer becomes one chunk with a single `host` frag, as if the
 * kernel had handed over one linear skb; crcOk is always false (no NIC
 * verified anything). Sequence numbers are the stream offset mod 2^32 plus an
 * optional initial value, so tests can make the numbers wrap.
 */
import net from 'node:net';
import { seqAdd } from '../../wire/seq.js';
import type { RxChunk, StreamTransport, StreamTransportFactory } from './stream-transport.js';
import { DdplabError } from '../../base/errors.js';

export interface KernelTransportOptions {
  readonly host: string;
  readonly port: number;
  /** Sequence number reported for the first received byte (default 0). */
  readonly initialSeq?: number;
  /** Give up connecting after this long (default 10 s). */
  readonly connectTimeoutMs?: number;
}

export class KernelTransportError extends DdplabError<'KERNEL_TRANSPORT'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('KERNEL_TRANSPORT', message, options);
    this.name = 'KernelTransportError';
  }
}

/** A connected kernel TCP socket behind the StreamTransport interface. */
export class KernelTransport implements StreamTransport {
  private rcvSeq: number;
  private dataCb: ((chunk: RxChunk) => void) | undefined;
  private closeCb: ((err?: Error) => void) | undefined;
  private drainCb: (() => void) | undefined;
  private error: Error | undefined;
  private closed = false;

  constructor(
    readonly socket: net.Socket,
    initialSeq = 0,
  ) {
    this.rcvSeq = initialSeq >>> 0;
    socket.setNoDelay(true);
    socket.on('data', (buf: Buffer) => {
      const chunk: RxChunk = { seq: this.rcvSeq, frags: [{ kind: 'host', buf }], crcOk: false };
      this.rcvSeq = seqAdd(this.rcvSeq, buf.length);
      this.dataCb?.(chunk);
    });
    socket.on('drain', () => this.drainCb?.());
    socket.on('error', (err: Error) => {
      this.error ??= err;
    });
    socket.on('close', () => {
      this.closed = true;
      this.closeCb?.(this.error);
    });
  }

  /** Bytes received so far mod 2^32 plus the initial sequence number. */
  get rcvNxt(): number {
    return this.rcvSeq;
  }

  write(bufs: readonly Buffer[]): boolean {
    if (this.closed || this.socket.destroyed) return false;
    if (bufs.length === 1) return this.socket.write(bufs[0]!);
    // cork/uncork turns the PDU's head, data views and digest into one writev.
    this.socket.cork();
    let ok = true;
    for (let i = 0; i < bufs.length; i++) if (bufs[i]!.length > 0) ok = this.socket.write(bufs[i]!);
    this.socket.uncork();
    return ok;
  }

  onDrain(cb: () => void): void {
    this.drainCb = cb;
  }

  onData(cb: (chunk: RxChunk) => void): void {
    this.dataCb = cb;
  }

  onClose(cb: (err?: Error) => void): void {
    this.closeCb = cb;
    if (this.closed) queueMicrotask(() => cb(this.error));
  }

  close(): void {
    if (!this.socket.destroyed) this.socket.end();
  }

  abort(): void {
    if (this.socket.destroyed) return;
    // resetAndDestroy sends RST, as an abortive close should; older Nodes only destroy.
    const s = this.socket as net.Socket & { resetAndDestroy?: () => net.Socket };
    if (typeof s.resetAndDestroy === 'function' && this.socket.readyState === 'open') s.resetAndDestroy();
    else this.socket.destroy();
  }
}

/** Connects to host:port and resolves with the transport once the socket is established. */
export function connectKernelTransport(opts: KernelTransportOptions): Promise<KernelTransport> {
  const timeoutMs = opts.connectTimeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: opts.host, port: opts.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new KernelTransportError(`connect to ${opts.host}:${opts.port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const onError = (err: Error): void => {
      clearTimeout(timer);
      reject(new KernelTransportError(`connect to ${opts.host}:${opts.port} failed: ${err.message}`, { cause: err }));
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(new KernelTransport(socket, opts.initialSeq ?? 0));
    });
  });
}

/** A factory opening one kernel TCP connection per NVMe queue to the same address. */
export function kernelTransportFactory(opts: KernelTransportOptions): StreamTransportFactory {
  return () => connectKernelTransport(opts);
}
