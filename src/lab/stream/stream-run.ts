/**
 * `ddplab stream`: one plain TCP stream from the target namespace's kernel
 * TCP (sender.ts, a child like the NVMe/TCP target) to the host namespace's
 * userspace stack (receiver-run.ts, a second child), on a fresh topology
 * that goes on every exit path. The receiver's JSON report is the result;
 * the sender's says what it wrote.
 */
import { DDPLAB_BIN } from '../../base/paths.js';
import type { StreamOffloadMode } from '../../host/offload-mode.js';
import { RunChild } from '../child.js';
import { HOST_IF, HOST_IP, TARGET_IP, netnsCommand, withTopology } from '../topology.js';
import type { StreamReceiverRunReport } from './receiver-run.js';
import { UserError } from '../../base/errors.js';
import { REPORT_SCHEMA_VERSION } from '../../base/report-version.js';


/** The sender's port (any port works: the namespace is the run's own). */
export const STREAM_PORT = 5201;

export interface StreamRunOptions {
  readonly mode: StreamOffloadMode;
  readonly size: number;
  readonly validate: number;
  readonly mtu: number;
  /** dmabuf / zcrx area bytes (default: the receiver's, 64 MiB). */
  readonly memBytes?: number;
  readonly log?: (line: string) => void;
}

export interface StreamRunReport extends StreamReceiverRunReport {
  /** REPORT_SCHEMA_VERSION, as every JSON report carries. */
  readonly schemaVersion: number;
  readonly id: string;
  readonly sender: { readonly sentBytes: number; readonly elapsedMs: number } | undefined;
}

async function waitLine(child: RunChild, prefix: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.stdoutLines.some((l) => l.startsWith(prefix))) return;
    if (!child.running) {
      const exit = await child.exited;
      throw new UserError('STREAM_FAILED', `stream sender did not start (${RunChild.describeExit(exit)}): ${child.lastError()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new UserError('STREAM_FAILED', `stream sender did not report listening within ${timeoutMs} ms`);
}

function jsonLine<T>(child: RunChild): T | undefined {
  const line = child.stdoutLines.find((l) => l.startsWith('{'));
  if (line === undefined) return undefined;
  try {
    return JSON.parse(line) as T;
  } catch {
    return undefined;
  }
}

export function streamRun(o: StreamRunOptions): Promise<StreamRunReport> {
  return withTopology({ mtu: o.mtu }, async (topo) => {
    const sc = netnsCommand(topo.id, 'tgt', [
      process.execPath,
      DDPLAB_BIN,
      'stream',
      '--send-on',
      `${TARGET_IP}:${STREAM_PORT}`,
      '--size',
      String(o.size),
      '--validate',
      String(o.validate),
    ]);
    const sender = new RunChild('stream sender', sc.file, sc.args);
    let receiver: RunChild | undefined;
    try {
      await waitLine(sender, 'listening on', 15_000);
      o.log?.(`kernel TCP sender listening on ${TARGET_IP}:${STREAM_PORT} in ${topo.tgtNs}`);
      const rc = netnsCommand(topo.id, 'host', [
        process.execPath,
        DDPLAB_BIN,
        'stream',
        '--receive-from',
        `${TARGET_IP}:${STREAM_PORT}`,
        '--iface',
        HOST_IF,
        '--host-ip',
        HOST_IP,
        '--offload',
        o.mode,
        '--size',
        String(o.size),
        '--validate',
        String(o.validate),
        ...(o.memBytes !== undefined ? ['--mem', String(o.memBytes)] : []),
      ]);
      receiver = new RunChild('stream receiver', rc.file, rc.args);
      const exit = await receiver.exited;
      const report = jsonLine<StreamReceiverRunReport>(receiver);
      if (report === undefined) {
        const detail = receiver.lastError();
        throw new UserError('STREAM_FAILED', `stream receiver ended without a report (${RunChild.describeExit(exit)})${detail !== '' ? `: ${detail}` : ''}`);
      }
      // The sender ends once its connection closed; a receiver that failed may leave it waiting.
      const sent = await Promise.race([sender.exited.then(() => jsonLine<{ sentBytes: number; elapsedMs: number }>(sender)), new Promise<undefined>((r) => setTimeout(() => r(undefined), 5000))]);
      return { schemaVersion: REPORT_SCHEMA_VERSION, ...report, id: topo.id, sender: sent };
    } finally {
      if (receiver?.running === true) await receiver.stop();
      if (sender.running) await sender.stop();
    }
  });
}
