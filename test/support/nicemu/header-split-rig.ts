/**
 * Test support for header split into device memory: a NicEmu with a
 * DevmemDevice (queue 0 plain, queue 1 split in the given mode and bound to
 * a dmabuf), one flow steered to queue 1, helpers that put controller bytes
 * on the wire at a stream offset, and NVMe/TCP PDU builders.
 */
import { DevmemDevice } from '../../../src/nicemu/devmem/device.js';
import { Dmabuf, type DmabufBinding } from '../../../src/nicemu/devmem/dmabuf.js';
import type { FlowKey } from '../../../src/nicemu/flow-table.js';
import type { HeaderSplitEngine, HeaderSplitMode } from '../../../src/nicemu/devmem/header-split.js';
import { NicEmu } from '../../../src/nicemu/nic.js';
import type { Skb } from '../../../src/nicemu/skb.js';
import { buildTcpFrame } from '../../../src/wire/frame.js';
import { PduType, emitPduBuffer } from '../../../src/wire/nvme-tcp-pdu.js';
import { seqAdd } from '../../../src/wire/seq.js';
import { TCP_ACK, TCP_PSH, TCP_SYN } from '../../../src/wire/tcp.js';
import { capsuleResp } from './controller-pdus.js';
import { SilentPort } from './silent-port.js';

const HOST_MAC = Buffer.from([2, 0, 0, 0, 0, 2]);
const PEER_MAC = Buffer.from([2, 0, 0, 0, 0, 1]);
export const KEY: FlowKey = { remoteIp: 0xc000_0201, remotePort: 4420, localIp: 0xc000_0202, localPort: 40_000 };

export interface HsRigOptions {
  readonly mode: HeaderSplitMode;
  readonly poolBytes?: number;
  /** Attach the engine (a devmem socket holds the flow). Default true. */
  readonly attach?: boolean;
  /** TCP sequence number of stream offset 0. */
  readonly base?: number;
  /** Answer to the engine's resync requests (undefined: no ULP registered). */
  readonly acceptResync?: boolean;
}

export class HsRig {
  readonly nic: NicEmu;
  readonly dev: DevmemDevice;
  readonly binding: DmabufBinding;
  readonly engine: HeaderSplitEngine;
  readonly base: number;
  /** Every skb the host received, in order. */
  readonly got: Skb[] = [];
  readonly resyncRequests: number[] = [];
  /** Device-side reader for checks. */
  readonly view;

  constructor(o: HsRigOptions) {
    this.nic = new NicEmu(new SilentPort(), { mac: HOST_MAC, verifyChecksums: false });
    this.dev = new DevmemDevice({ queues: ['off', o.mode] });
    const id = this.dev.bindRx({ queues: [1], dmabuf: new Dmabuf(o.poolBytes ?? 1 << 20) });
    this.binding = this.dev.binding(id)!;
    this.view = this.binding.dmabuf.deviceView();
    this.dev.steering.addRule(KEY, 1);
    this.engine = this.dev.engineFor(KEY)!;
    this.nic.addFlow({ key: KEY, deliver: (skb) => this.got.push(skb), offload: this.engine });
    if (o.attach ?? true) this.engine.attach();
    if (o.acceptResync !== undefined) {
      const accept = o.acceptResync;
      this.engine.setUlp({
        resyncRequest: (seq) => {
          this.resyncRequests.push(seq);
          return accept;
        },
      });
    }
    this.base = (o.base ?? 1_000_000) >>> 0;
  }

  /** The SYN-ACK: the stream starts at `base`. */
  synAck(): void {
    this.frame(seqAdd(this.base, -1), TCP_SYN | TCP_ACK, Buffer.alloc(0));
  }

  /** Puts `bytes` on the wire at stream offset `off`; returns the skb the host got, or undefined when the NIC dropped it. */
  send(off: number, bytes: Buffer): Skb | undefined {
    const before = this.got.length;
    this.frame(seqAdd(this.base, off), TCP_ACK | TCP_PSH, bytes);
    return this.got.length > before ? this.got[this.got.length - 1] : undefined;
  }

  sendRange(stream: Buffer, from: number, to: number): Skb | undefined {
    return this.send(from, stream.subarray(from, to));
  }

  /** The payload of `skb` as the host and the device together hold it. */
  payloadOf(skb: Skb): Buffer {
    return Buffer.concat(skb.frags.map((f) => (f.kind === 'dmabuf' ? this.view.read(f.offset, f.size) : f.buf)));
  }

  seq(off: number): number {
    return seqAdd(this.base, off);
  }

  private frame(seq: number, flags: number, payload: Buffer): void {
    const frame = buildTcpFrame({
      srcMac: PEER_MAC,
      dstMac: HOST_MAC,
      srcIp: KEY.remoteIp,
      dstIp: KEY.localIp,
      srcPort: KEY.remotePort,
      dstPort: KEY.localPort,
      seq,
      ack: 1,
      flags,
      window: 0xffff,
      payload,
    });
    this.nic.rxFrame(frame, 0);
  }
}

/** Payload bytes of an skb by where they are. */
export function split(skb: Skb): { host: number; device: number } {
  let host = 0;
  let device = 0;
  for (const f of skb.frags) {
    if (f.kind === 'dmabuf') device += f.size;
    else host += f.buf.length;
  }
  return { host, device };
}

export function icResp(o: { hdgst?: boolean; ddgst?: boolean } = {}): Buffer {
  return emitPduBuffer({ type: PduType.ICResp, pfv: 0, cpda: 0, hdgstEnable: o.hdgst ?? false, ddgstEnable: o.ddgst ?? false, maxh2cdata: 0x40000 });
}

export function c2hData(cid: number, datao: number, data: Buffer, o: { hdgst?: boolean; ddgst?: boolean; last?: boolean; success?: boolean } = {}): Buffer {
  return emitPduBuffer(
    { type: PduType.C2HData, cccid: cid, datao, datal: data.length, lastPdu: o.last ?? o.success ?? false, success: o.success ?? false, data: [data] },
    { hdgst: o.hdgst ?? false, ddgst: o.ddgst ?? false },
  );
}

export { capsuleResp, pattern } from './controller-pdus.js';

/** A controller stream from ICResp on: per read, C2HData PDUs of `chunk` bytes and a CapsuleResp; returns the stream, the payload ranges and where each PDU starts. */
export function readStream(
  reads: readonly Buffer[],
  o: { hdgst?: boolean; ddgst?: boolean; chunk?: number } = {},
): { stream: Buffer; payload: [number, number][]; starts: number[] } {
  const parts: Buffer[] = [icResp(o)];
  const payload: [number, number][] = [];
  const starts: number[] = [0];
  let at = parts[0]!.length;
  reads.forEach((data, cid) => {
    const chunk = o.chunk ?? data.length;
    for (let d = 0; d < data.length; d += chunk) {
      const piece = data.subarray(d, Math.min(data.length, d + chunk));
      const pdu = c2hData(cid, d, piece, { ...o, last: d + piece.length === data.length });
      const pdo = pdu.length - piece.length - (o.ddgst === true ? 4 : 0);
      payload.push([at + pdo, at + pdo + piece.length]);
      starts.push(at);
      parts.push(pdu);
      at += pdu.length;
    }
    const resp = capsuleResp(cid, o);
    starts.push(at);
    parts.push(resp);
    at += resp.length;
  });
  return { stream: Buffer.concat(parts), payload, starts };
}
