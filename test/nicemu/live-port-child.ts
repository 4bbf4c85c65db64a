/**
 * Runs inside ddplab-<id>-host (spawned by remote-live-port.ts through
 * netns/exec.sh): opens a live Port on host0 and bridges it over the Node
 * IPC channel, because the test process itself lives in the root namespace
 * and a packet socket belongs to the namespace that opens it.
 *
 * It never calls process.exit after a clean close: exiting by itself is the
 * proof that close() released the libpcap handle.
 */
import { openLivePort, type LivePortOptions } from '../../src/nicemu/port-live.js';
import type { ChildMessage, ParentMessage } from './remote-live-port.js';

function post(msg: ChildMessage): void {
  process.send!(msg);
}

const opts = JSON.parse(process.argv[2] ?? '{}') as LivePortOptions;
let port;
try {
  port = openLivePort(opts);
} catch (e) {
  const err = e as Error & { code?: string };
  post({ type: 'error', code: err.code ?? 'UNKNOWN', message: err.message });
  process.disconnect();
  process.exitCode = 1;
}

if (port !== undefined) {
  const live = port;
  live.onFrames((batch) => {
    post({ type: 'frames', frames: batch.map((f) => ({ data: f.data, tsUs: f.tsUs })), batchLen: batch.length });
  });
  process.on('message', (raw: unknown) => {
    const msg = raw as ParentMessage;
    switch (msg.type) {
      case 'send':
        live.send(Buffer.from(msg.frame.buffer, msg.frame.byteOffset, msg.frame.byteLength));
        post({ type: 'sent', stats: live.stats });
        break;
      case 'stats':
        post({ type: 'stats', stats: live.stats });
        break;
      case 'close':
        void live.close().then(() => {
          post({ type: 'closed', released: live.released, stats: live.stats });
          process.disconnect();
        });
        break;
    }
  });
  post({ type: 'ready' });
}
