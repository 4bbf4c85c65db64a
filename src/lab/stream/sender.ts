/**
 * The sending end of `ddplab stream`: the target namespace's kernel TCP.
 * It listens on one address, takes one connection, writes `size` bytes of
 * the ncdevmem pattern (host/stream/pattern.ts) with the socket's own
 * back-pressure, closes (FIN), and reports on stdout:
 *   listening on IP:PORT
 *   {"sentBytes":N,"elapsedMs":T}
 */
import { createServer, type Socket } from 'node:net';
import { patternBytes } from '../../host/stream/pattern.js';
import { UserError } from '../../base/errors.js';

/** Bytes per write: a whole number of pattern periods would not matter; 1 MiB keeps memory flat. */
const CHUNK = 1 << 20;

export interface StreamSenderOptions {
  readonly ip: string;
  readonly port: number;
  readonly size: number;
  readonly validate: number;
  /** Give up when no receiver connected in this long (default 60 s). */
  readonly acceptTimeoutMs?: number;
}

export interface StreamSenderResult {
  readonly sentBytes: number;
  readonly elapsedMs: number;
}

function writeAll(sock: Socket, size: number, n: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let pos = 0;
    sock.on('error', reject);
    const pump = (): void => {
      while (pos < size) {
        const chunk = patternBytes(pos, Math.min(CHUNK, size - pos), n);
        pos += chunk.length;
        if (!sock.write(chunk)) {
          sock.once('drain', pump);
          return;
        }
      }
      sock.end(() => resolve(pos));
    };
    pump();
  });
}

/** Serves one receiver; resolves once the stream was written and the connection closed. */
export function runStreamSender(o: StreamSenderOptions, log: (line: string) => void): Promise<StreamSenderResult> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    const timer = setTimeout(() => {
      server.close();
      reject(new UserError('STREAM_FAILED', `no receiver connected to ${o.ip}:${o.port} within ${(o.acceptTimeoutMs ?? 60_000) / 1000} s`));
    }, o.acceptTimeoutMs ?? 60_000);
    server.once('connection', (sock) => {
      clearTimeout(timer);
      server.close();
      const t0 = performance.now();
      writeAll(sock, o.size, o.validate).then(
        (sent) => sock.once('close', () => resolve({ sentBytes: sent, elapsedMs: performance.now() - t0 })),
        (e: unknown) => reject(e instanceof Error ? e : new Error(String(e))),
      );
    });
    server.once('error', (e) => {
      clearTimeout(timer);
      reject(new UserError('STREAM_FAILED', `cannot listen on ${o.ip}:${o.port}: ${e.message}`));
    });
    server.listen(o.port, o.ip, () => log(`listening on ${o.ip}:${o.port}`));
  });
}
