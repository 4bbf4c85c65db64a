/**
 * Test support for the DDP engine: a NicEmu with the DDP device and one
 * offloaded flow, a ULP that records what the NIC asks, helpers that put
 * controller bytes on the wire at a stream offset, and PDU builders.
 */
import { NvmeTcpDdpDevice, type NvmeTcpDdpDeviceOptions, type NvmeTcpSkConfig } from '../../../src/nicemu/ddp/offload.js';
import type { FlowKey } from '../../../src/nicemu/flow-table.js';
import { NicEmu } from '../../../src/nicemu/nic.js';
import { sglFromBuffer } from '../../../src/nicemu/ddp/sgl.js';
import type { Skb } from '../../../src/nicemu/skb.js';
import { buildTcpFrame } from '../../../src/wire/frame.js';
import { PduType, emitPduBuffer } from '../../../src/wire/nvme-tcp-pdu.js';
import { seqAdd } from '../../../src/wire/seq.js';
import { TCP_ACK, TCP_PSH } from '../../../src/wire/tcp.js';
import { SilentPort } from './silent-port.js';

const HOST_MAC = Buffer.from([2, 0, 0, 0, 0, 2]);
const PEER_MAC = Buffer.from([2, 0, 0, 0, 0, 1]);
export const KEY: FlowKey = { remoteIp: 0xc000_0201, remotePort: 4420, localIp: 0xc000_0202, localPort: 40_000 };

export interface RigOptions {
  readonly hdgst?: boolean;
  readonly ddgst?: boolean;
  readonly queueSize?: number;
  /** TCP sequence number of stream offset 0 (the next PDU at sk_add). */
  readonly base?: number;
  /** Device options (default profile here: 'ideal', the model the one-rule-at-a-time tests were cut for). */
  readonly device?: NvmeTcpDdpDeviceOptions;
  /** What the ULP answers to resyncRequest. */
  readonly acceptResync?: boolean;
  /** Stream bytes the socket's TCP already held at sk_add (DdpSocket.heldEndSeq = base + heldBytes). */
  readonly heldBytes?: number;
}

export class DdpRig {
  readonly nic: NicEmu;
  readonly device: NvmeTcpDdpDevice;
  readonly base: number;
  readonly config: NvmeTcpSkConfig;
  /** Every skb the host received, in order. */
  readonly got: Skb[] = [];
  /** Sequence numbers the NIC asked about (resyncRequest). */
  readonly resyncRequests: number[] = [];
  readonly teardownsDone: number[] = [];
  readonly deferred: (() => void)[] = [];
  /** What the ULP answers to resyncRequest (changeable between segments). */
  acceptResync: boolean;

  constructor(o: RigOptions = {}) {
    this.nic = new NicEmu(new SilentPort(), { mac: HOST_MAC, verifyChecksums: false });
    this.nic.addFlow({ key: KEY, deliver: (skb) => this.got.push(skb) });
    this.device = new NvmeTcpDdpDevice(this.nic, { profile: 'ideal', defer: (fn) => this.deferred.push(fn), ...o.device });
    this.base = (o.base ?? 1_000_000) >>> 0;
    this.config = { pfv: 0, cpda: 0, hdgst: o.hdgst ?? false, ddgst: o.ddgst ?? false, queueSize: o.queueSize ?? 16 };
    this.acceptResync = o.acceptResync ?? true;
    const held = o.heldBytes === undefined ? {} : { heldEndSeq: seqAdd(this.base, o.heldBytes) };
    const why = this.device.skAdd({ key: KEY, nextPduSeq: this.base, ...held }, this.config, {
      resyncRequest: (_k, seq) => {
        this.resyncRequests.push(seq);
        return this.acceptResync;
      },
      teardownDone: (_k, cid) => this.teardownsDone.push(cid),
    });
    if (why !== undefined) throw new Error(`skAdd refused: ${why}`);
  }

  /** Puts `bytes` on the wire at stream offset `off`; returns the skb the host got. */
  send(off: number, bytes: Buffer): Skb {
    const frame = buildTcpFrame({
      srcMac: PEER_MAC,
      dstMac: HOST_MAC,
      srcIp: KEY.remoteIp,
      dstIp: KEY.localIp,
      srcPort: KEY.remotePort,
      dstPort: KEY.localPort,
      seq: seqAdd(this.base, off),
      ack: 1,
      flags: TCP_ACK | TCP_PSH,
      window: 0xffff,
      payload: bytes,
    });
    this.nic.rxFrame(frame, 0);
    return this.got[this.got.length - 1]!;
  }

  /** Sends `stream[from, to)`. */
  sendRange(stream: Buffer, from: number, to: number): Skb {
    return this.send(from, stream.subarray(from, to));
  }

  /** Maps `cid` to `buf` cut at pages; returns the refusal or undefined. */
  /** Setup with an SGL as given (entries need not continue one another). */
  setupSgl(cid: number, sgl: readonly Buffer[]): string | undefined {
    return this.device.setup(KEY, cid, sgl);
  }

  setup(cid: number, buf: Buffer): string | undefined {
    return this.device.setup(KEY, cid, sglFromBuffer(buf));
  }

  get stats() {
    return this.device.getStats();
  }

  seq(off: number): number {
    return seqAdd(this.base, off);
  }
}

export function c2hData(
  cid: number,
  datao: number,
  data: Buffer,
  o: { hdgst?: boolean; ddgst?: boolean; pda?: number; last?: boolean; success?: boolean } = {},
): Buffer {
  return emitPduBuffer(
    { type: PduType.C2HData, cccid: cid, datao, datal: data.length, lastPdu: o.last ?? false, success: o.success ?? false, data: [data] },
    { hdgst: o.hdgst ?? false, ddgst: o.ddgst ?? false, pda: o.pda ?? 0 },
  );
}

export { capsuleResp, pattern } from './controller-pdus.js';

/** A destination inside a larger buffer (guards around it), starting `pageOff` bytes into a page. */
export function destination(len: number, pageOff = 0): { mem: Buffer; buf: Buffer } {
  const mem = Buffer.alloc(pageOff + len + 8192, 0xa5);
  return { mem, buf: mem.subarray(pageOff, pageOff + len) };
}

/** Payload bytes of an skb by frag kind. */
export function fragBytes(skb: Skb): { host: number; placed: number } {
  let host = 0;
  let placed = 0;
  for (const f of skb.frags) {
    if (f.kind === 'host') host += f.buf.length;
    else if (f.kind === 'placed') placed += f.buf.length;
  }
  return { host, placed };
}
