/**
 * The target's face: a node:net server (the kernel's TCP) accepting one
 * connection per NVMe/TCP queue, all sharing one subsystem and namespace.
 *
 *   const t = await startTarget({ host: '127.0.0.1', port: 0 });
 *   // ... hosts connect to t.address:t.port ...
 *   await t.close();
 */
import { createServer, type Server, type Socket } from 'node:net';
import { Subsystem, type Logger } from './controller.js';
import { QueueConnection } from './connection.js';
import { FileStore, PatternStore, type NamespaceStore } from './namespace-store.js';
import { resolveTargetOptions, type TargetOptions, type TargetOptionsInput } from './options.js';
import { newQueueStats, newTargetStats, type TargetStats } from './stats.js';

export interface Target {
  /** Address actually bound. */
  readonly address: string;
  /** Port actually bound (the kernel's pick when asked for 0). */
  readonly port: number;
  readonly options: TargetOptions;
  /** Live counters; queue entries stay after their connection closes. */
  readonly stats: TargetStats;
  /** The namespace backing store (tests read it to check writes landed). */
  readonly store: NamespaceStore;
  /** Stops accepting, ends every association and connection, releases the store. */
  close(): Promise<void>;
}

export interface TargetHooks {
  /** One line per notable event (connect, protocol error, keep-alive expiry). Default: silent. */
  readonly log?: Logger | undefined;
}

/** Starts a target; resolves once it listens. Rejects with the listen error (EADDRINUSE, EADDRNOTAVAIL, ...). */
export async function startTarget(input: TargetOptions | TargetOptionsInput = {}, hooks: TargetHooks = {}): Promise<Target> {
  const options = resolveTargetOptions(input);
  const log: Logger = hooks.log ?? (() => undefined);
  const geometry = { sizeBytes: options.sizeBytes, lbaSize: options.lbaSize };
  const store: NamespaceStore = options.file !== undefined ? new FileStore(geometry, options.file) : new PatternStore(geometry, options.seed);
  const stats = newTargetStats();
  const subsys = new Subsystem(options, store, stats, log);
  const connections = new Set<QueueConnection>();
  let connIndex = 0;

  const server: Server = createServer({ noDelay: true }, (socket: Socket) => {
    const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    const qstats = newQueueStats(connIndex++, remote);
    stats.queues.push(qstats);
    stats.connectionsAccepted++;
    stats.connectionsOpen++;
    const conn = new QueueConnection(socket, subsys, qstats, (c) => {
      connections.delete(c);
      stats.connectionsOpen--;
    });
    connections.add(conn);
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    server.once('error', onError);
    server.listen(options.port, options.host, () => {
      server.off('error', onError);
      resolve();
    });
  }).catch((e: unknown) => {
    store.close();
    throw e;
  });

  // After listening, an accept-time error (EMFILE...) must not take the target down.
  server.on('error', (e: Error) => log(`server error: ${e.message}`));
  const bound = server.address();
  if (bound === null || typeof bound === 'string') throw new Error('server has no TCP address');
  let closing: Promise<void> | undefined;

  return {
    address: bound.address,
    port: bound.port,
    options,
    stats,
    store,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        subsys.shutdown();
        for (const c of [...connections]) c.shutdown();
      }).then(() => store.close());
      return closing;
    },
  };
}
