/**
 * A devmem socket as the StreamTransport the NVMe/TCP host queue runs on.
 * Instead of handing the queue the TCP socket's frags, it receives the way
 * a devmem application does — recvmsg(sock, {devmem: true}) — and rebuilds
 * the byte stream from what that returns: linear (and ordinary) bytes as
 * host frags of the copied buffer, dmabuf descriptors as `dmabuf` frags that
 * carry their token (DevmemFrag). The queue's devmem hooks (nvme-devmem.ts)
 * keep the frags of each read until the read was consumed.
 *
 *  - `nvme` (the NIC split at PDU boundaries): the stream goes to the queue
 *    as it came.
 *  - `tcp` (plain devmem TCP: PDU headers are in the dmabuf too): the stream
 *    first goes through the framer over the device view
 *    (host/devmem/pdu-split.ts), which reads the headers out of device memory.
 *
 * Tokens: the transport holds each token while the queue parses the chunk
 * (the queue takes its own hold on frags with read data) and lets go after;
 * a frag nobody kept (headers only) is given back at the end of the pump.
 *
 * The transport takes over the TCP socket's handlers (HostStack.connect made
 * a plain TcpTransport for it); the stack's close handler stays chained.
 */
import type { DmabufDeviceView } from '../../nicemu/devmem/dmabuf.js';
import type { DmabufFrag, SkbFrag } from '../../nicemu/skb.js';
import { DevmemPduSplit } from './pdu-split.js';
import type { DevmemSocket, DmabufDescriptor } from './socket.js';
import type { DevmemTokenReturn } from './token-return.js';
import { TcpTransport } from '../nvme/tcp-transport.js';

/** A dmabuf frag as the devmem transport hands it over: with the token recvmsg gave for it. */
export interface DevmemFrag extends DmabufFrag {
  readonly token: number;
  /** The descriptor the token came with (what goes back to dontneed or the refill ring). */
  readonly desc: DmabufDescriptor;
}

/** True for a dmabuf frag that came from a devmem transport (it carries its token). */
export function isDevmemFrag(f: DmabufFrag): f is DevmemFrag {
  return 'token' in f && 'desc' in f;
}

export type DevmemTransportMode = 'nvme' | 'tcp';

export interface DevmemTransportOptions {
  readonly mode: DevmemTransportMode;
  readonly returns: DevmemTokenReturn;
  /** `tcp` mode: the device view the framer reads PDU headers through. */
  readonly deviceView?: DmabufDeviceView;
  /** Control buffer per recvmsg, in descriptors (default 256). */
  readonly maxDescriptors?: number;
}

export class DevmemTransport extends TcpTransport {
  readonly split: DevmemPduSplit | undefined;
  private pumping = false;
  private readonly returns: DevmemTokenReturn;
  private readonly maxDescriptors: number;

  constructor(
    readonly devmem: DevmemSocket,
    opts: DevmemTransportOptions,
  ) {
    const stackClose = devmem.socket.handlers.onClose;
    super(devmem.socket);
    this.returns = opts.returns;
    this.maxDescriptors = opts.maxDescriptors ?? 256;
    if (opts.mode === 'tcp') {
      if (opts.deviceView === undefined) throw new Error('a devmem-tcp transport needs the device view to frame PDUs');
      this.split = new DevmemPduSplit(opts.deviceView);
    }
    devmem.socket.handlers.onClose = (err) => {
      stackClose?.(err);
      this.finish(err);
    };
  }

  override close(): void {
    this.devmem.close();
  }

  override abort(): void {
    this.devmem.socket.abort();
    this.devmem.close();
  }

  /** Receives as a devmem application does (recvmsg with devmem on) and rebuilds the stream for the ULP. */
  protected override pump(): void {
    const cb = this.dataCb;
    if (cb === undefined || this.pumping) return;
    this.pumping = true;
    try {
      while (!this.devmem.isClosed && this.devmem.socket.readableLength > 0) {
        const r = this.devmem.recvmsg({ devmem: true, maxDescriptors: this.maxDescriptors });
        if (r.len === 0) break;
        const pieces: SkbFrag[] = [];
        let at = 0;
        if (r.descriptors.length === 0) pieces.push({ kind: 'host', buf: r.bytes });
        for (const d of r.descriptors) {
          if (d.kind === 'linear') {
            pieces.push({ kind: 'host', buf: r.bytes.subarray(at, at + d.size) });
            at += d.size;
          } else {
            this.returns.hold(d);
            const f: DevmemFrag = { kind: 'dmabuf', dmabufId: d.dmabufId, offset: d.offset, size: d.size, token: d.token, desc: d };
            pieces.push(f);
          }
        }
        let frags = pieces;
        if (this.split !== undefined) {
          frags = [];
          this.split.split(pieces, frags);
        }
        try {
          cb({ seq: r.seq, frags, crcOk: r.crcOk });
        } finally {
          for (const d of r.descriptors) if (d.kind === 'dmabuf') this.returns.release(d.token);
        }
      }
    } finally {
      this.pumping = false;
    }
    this.returns.flush();
  }
}
