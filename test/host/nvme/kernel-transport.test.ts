/**
 * The kernel adapter (src/host/nvme/kernel-transport.ts) on a loopback socket
 * pair: chunks carry contiguous sequence numbers from the initial value
 * (wrapping at 2^32), multi-buffer writes arrive in order, close and abort
 * reach onClose.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connectKernelTransport, KernelTransportError } from '../../../src/host/nvme/kernel-transport.js';
import type { RxChunk } from '../../../src/host/nvme/stream-transport.js';
import { seqAdd } from '../../../src/wire/seq.js';

const servers: net.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

async function listen(onConn: (s: net.Socket) => void): Promise<number> {
  const server = net.createServer((s) => {
    // The abort test resets connections: the server side sees ECONNRESET.
    s.on('error', () => undefined);
    onConn(s);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
}

describe('KernelTransport', () => {
  it('numbers received bytes from the initial sequence number across the 2^32 wrap', async () => {
    const payload = Buffer.alloc(300_000);
    for (let i = 0; i < payload.length; i++) payload[i] = i % 251;
    const port = await listen((s) => s.end(payload));
    const start = 0xffff_0000;
    const t = await connectKernelTransport({ host: '127.0.0.1', port, initialSeq: start });
    const chunks: RxChunk[] = [];
    t.onData((c) => chunks.push(c));
    const closed = new Promise<Error | undefined>((r) => t.onClose(r));
    expect(await closed).toBeUndefined();
    let seq = start;
    const got: Buffer[] = [];
    for (const c of chunks) {
      expect(c.seq).toBe(seq);
      expect(c.crcOk).toBe(false);
      expect(c.frags).toHaveLength(1);
      const f = c.frags[0]!;
      if (f.kind !== 'host') throw new Error('expected a host frag');
      got.push(f.buf);
      seq = seqAdd(seq, f.buf.length);
    }
    expect(Buffer.concat(got).equals(payload)).toBe(true);
    expect(t.rcvNxt).toBe(seqAdd(start, payload.length));
    expect(t.rcvNxt).toBeLessThan(start); // wrapped
  });

  it('sends the buffers of one write in order', async () => {
    let received = Buffer.alloc(0);
    const done = new Promise<void>((resolve) => {
      void listen((s) => {
        s.on('data', (d: Buffer) => (received = Buffer.concat([received, d])));
        s.on('end', () => resolve());
      }).then(async (port) => {
        const t = await connectKernelTransport({ host: '127.0.0.1', port });
        t.write([Buffer.from('head'), Buffer.alloc(0), Buffer.from('-data-'), Buffer.from('tail')]);
        t.write([Buffer.from('!')]);
        t.close();
      });
    });
    await done;
    expect(received.toString()).toBe('head-data-tail!');
  });

  it('reports an abort to onClose and refuses to connect to a closed port', async () => {
    const port = await listen(() => undefined);
    const t = await connectKernelTransport({ host: '127.0.0.1', port });
    const closed = new Promise<Error | undefined>((r) => t.onClose(r));
    t.abort();
    await closed;
    expect(t.write([Buffer.from('x')])).toBe(false);
    const free = await listen(() => undefined);
    await new Promise((r) => servers.pop()!.close(r));
    await expect(connectKernelTransport({ host: '127.0.0.1', port: free })).rejects.toBeInstanceOf(KernelTransportError);
  });
});
