/**
 * Runs inside ddplab-<id>-host (spawned by remote-live-port.ts through
 * netns/exec.sh): opens a live Port on host0 and bridges it over the Node
 * IPC channel, because the test process itself lives in the root namespace
 * and a packet socket belongs to the namespace that opens it.
 *
 * It never calls process.exit after a clean close: exiting by itself is the
 * proof that close() released the libpcap handle.
 */
import { withCapture } from '../../../src/nicemu/port/capture.js';
import { openLivePort, type LivePortOptions } from '../../../src/nicemu/port/live.js';
import { openBatchPcapPort } from '../../../src/nicemu/port/pcap-batch.js';
import type { Port } from '../../../src/nicemu/port/port.js';
import type { ChildMessage, ParentMessage } from './remote-live-port.js';

function post(msg: ChildMessage): void {
  process.send!(msg);
}

/** LivePortOptions plus, optionally, a pcap file the capture tap writes and the backend (the pcap package's, or ddplab's batch addon). */
const opts = JSON.parse(process.argv[2] ?? '{}') as LivePortOptions & { capturePath?: string; backend?: 'pcap' | 'batch' };
let live: (Port & { readonly released: boolean }) | undefined;
let port: Port | undefined;
try {
  live = opts.backend === 'batch' ? openBatchPcapPort(opts) : openLivePort(opts);
  port = opts.capturePath === undefined ? live : withCapture(live, opts.capturePath);
} catch (e) {
  const err = e as Error & { code?: string };
  post({ type: 'error', code: err.code ?? 'UNKNOWN', message: err.message });
  process.disconnect();
  process.exitCode = 1;
}

if (port !== undefined && live !== undefined) {
  const lp = live;
  const p = port;
  p.onFrames((batch) => {
    post({ type: 'frames', frames: batch.map((f) => ({ data: f.data, tsUs: f.tsUs })), batchLen: batch.length });
  });
  process.on('message', (raw: unknown) => {
    const msg = raw as ParentMessage;
    switch (msg.type) {
      case 'send':
        p.send(Buffer.from(msg.frame.buffer, msg.frame.byteOffset, msg.frame.byteLength));
        post({ type: 'sent', stats: p.stats });
        break;
      case 'stats':
        post({ type: 'stats', stats: p.stats });
        break;
      case 'close':
        void p.close().then(() => {
          post({ type: 'closed', released: lp.released, stats: p.stats });
          process.disconnect();
        });
        break;
    }
  });
  post({ type: 'ready' });
}
