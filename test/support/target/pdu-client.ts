/**
 * A small NVMe/TCP host for driving the target in tests, built only on the
 * wire codecs: one TCP connection = one queue. It sends PDUs (well-formed
 * through emitPdu, or raw bytes for protocol-error tests), frames what comes
 * back with PduFramer, answers R2Ts with H2CData, gathers C2HData per CID,
 * and resolves each command on its CapsuleResp (or C2HData SUCCESS). Every
 * PDU received is logged in arrival order so tests can assert on ordering.
 */
import { connect, type Socket } from 'node:net';
import { parseCqe, type NvmeCqe } from '../../../src/wire/nvme-cqe.js';
import {
  buildConnect,
  buildConnectData,
  buildPropertyGet,
  buildPropertySet,
  NVMF_CNTLID_DYNAMIC,
} from '../../../src/wire/nvme-fabrics.js';
import { buildIdentify, NvmeIdCns } from '../../../src/wire/nvme-identify.js';
import { buildReadWrite, buildFlush } from '../../../src/wire/nvme-io.js';
import { NvmeReg } from '../../../src/wire/nvme-registers.js';
import { sglInCapsule, sglTransportData } from '../../../src/wire/nvme-sqe.js';
import { emitPdu, PduType, type Pdu, type PduEmitOptions } from '../../../src/wire/nvme-tcp-pdu.js';
import { PduFramer, type FramedPdu } from '../../../src/wire/pdu-framer.js';

export const TEST_SUBNQN = 'nqn.2026-11.io.ddplab:target';
export const TEST_HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-0000000000aa';
export const TEST_HOSTID = Buffer.from('0000000000004000800000000000aa00', 'hex');

export interface Completion {
  readonly cid: number;
  /** Undefined when the command completed by a C2HData SUCCESS flag. */
  readonly cqe: NvmeCqe | undefined;
  readonly status: number;
  /** Read data gathered from C2HData. */
  readonly data: Buffer | undefined;
}

/** One logged arrival: PDU type and, for data/response PDUs, the CID. */
export interface Arrival {
  readonly type: number;
  readonly cid: number;
  readonly datao?: number;
  readonly datal?: number;
  readonly last?: boolean;
  readonly success?: boolean;
}

interface Pending {
  readonly cid: number;
  readonly readBuf: Buffer | undefined;
  readonly writeData: Buffer | undefined;
  received: number;
  resolve(c: Completion): void;
  reject(e: Error): void;
}

export interface IcOptions {
  readonly hdgst?: boolean;
  readonly ddgst?: boolean;
  readonly hpda?: number;
  readonly maxr2t?: number;
}

export class TestQueue {
  readonly arrivals: Arrival[] = [];
  readonly termReqs: Array<{ fes: number; fei: number; echo: Buffer }> = [];
  hdgst = false;
  ddgst = false;
  cpda = 0;
  hpda = 0;
  maxh2cdata = 0;
  qid = -1;
  /** H2CData payload size this client uses (at most maxh2cdata). */
  h2cChunkBytes = 0;
  /** Corrupt the data digest of the next H2CData PDU sent. */
  corruptNextH2CDigest = false;
  private nextCid = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly framer: PduFramer;
  private readonly waiters: Array<(p: FramedPdu) => void> = [];
  private readonly closedPromise: Promise<void>;
  private closedFlag = false;
  private framingError: unknown;

  private constructor(readonly socket: Socket) {
    this.framer = new PduFramer((p) => this.onPdu(p), { verifyDigests: true });
    socket.on('data', (chunk: Buffer) => {
      try {
        this.framer.push(chunk);
      } catch (e) {
        this.framingError = e;
        socket.destroy();
      }
    });
    this.closedPromise = new Promise((resolve) => {
      socket.on('close', () => {
        this.closedFlag = true;
        for (const p of this.pending.values()) p.reject(new Error(`connection closed with CID ${p.cid} outstanding`));
        this.pending.clear();
        resolve();
      });
    });
    socket.on('error', () => undefined);
  }

  static async open(port: number, host = '127.0.0.1'): Promise<TestQueue> {
    const socket = connect({ port, host, noDelay: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new TestQueue(socket);
  }

  get closed(): Promise<void> {
    return this.closedPromise;
  }

  get isClosed(): boolean {
    return this.closedFlag;
  }

  get framerFailure(): unknown {
    return this.framingError;
  }

  emitOptions(): PduEmitOptions {
    return { hdgst: this.hdgst, ddgst: this.ddgst, pda: this.cpda };
  }

  send(pdu: Pdu, opts: PduEmitOptions = this.emitOptions()): void {
    const e = emitPdu(pdu, opts);
    this.socket.write(Buffer.concat([e.head, ...e.data, e.tail]));
  }

  sendRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Next PDU not consumed by the command machinery (ICResp, TermReq, or anything unexpected). */
  nextPdu(): Promise<FramedPdu> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async icReq(o: IcOptions = {}): Promise<FramedPdu> {
    this.hpda = o.hpda ?? 0;
    const wait = this.nextPdu();
    this.send({
      type: PduType.ICReq,
      pfv: 0,
      hpda: this.hpda,
      hdgstEnable: o.hdgst ?? false,
      ddgstEnable: o.ddgst ?? false,
      maxr2t: o.maxr2t ?? 0,
    });
    const resp = await wait;
    if (resp.pdu.type !== PduType.ICResp) throw new Error(`expected ICResp, got type ${resp.pdu.type}`);
    this.hdgst = resp.pdu.hdgstEnable;
    this.ddgst = resp.pdu.ddgstEnable;
    this.cpda = resp.pdu.cpda;
    this.maxh2cdata = resp.pdu.maxh2cdata;
    this.h2cChunkBytes = this.maxh2cdata;
    return resp;
  }

  allocCid(): number {
    const cid = this.nextCid;
    this.nextCid = (cid + 1) & 0xffff;
    return cid;
  }

  /**
   * Sends a CapsuleCmd and resolves on its completion. `inCapsule` data rides
   * in the capsule; `writeData` is sent when R2Ts ask for it; `readLen`
   * sizes the buffer C2HData fills.
   */
  command(sqe: Buffer, o: { inCapsule?: Buffer; writeData?: Buffer; readLen?: number } = {}): Promise<Completion> {
    const cid = sqe.readUInt16LE(2);
    return new Promise<Completion>((resolve, reject) => {
      this.pending.set(cid, {
        cid,
        readBuf: o.readLen !== undefined ? Buffer.alloc(o.readLen) : undefined,
        writeData: o.writeData,
        received: 0,
        resolve,
        reject,
      });
      this.send({ type: PduType.CapsuleCmd, sqe, data: o.inCapsule ? [o.inCapsule] : [] });
    });
  }

  private onPdu(f: FramedPdu): void {
    const pdu = f.pdu;
    if (f.hdgstStatus === 'mismatch' || f.ddgstStatus === 'mismatch') throw new Error(`digest mismatch on type ${pdu.type}`);
    switch (pdu.type) {
      case PduType.C2HData: {
        this.arrivals.push({ type: pdu.type, cid: pdu.cccid, datao: pdu.datao, datal: pdu.datal, last: pdu.lastPdu, success: pdu.success });
        const p = this.pending.get(pdu.cccid);
        if (!p || !p.readBuf) throw new Error(`C2HData for unknown CID ${pdu.cccid}`);
        if (pdu.datao !== p.received) throw new Error(`C2HData CID ${pdu.cccid} datao ${pdu.datao}, expected ${p.received}`);
        let pos = pdu.datao;
        for (const d of pdu.data) {
          d.copy(p.readBuf, pos);
          pos += d.length;
        }
        p.received += pdu.datal;
        if (pdu.success) {
          if (!pdu.lastPdu || p.received !== p.readBuf.length) throw new Error('SUCCESS before the last data');
          this.pending.delete(p.cid);
          p.resolve({ cid: p.cid, cqe: undefined, status: 0, data: p.readBuf });
        }
        return;
      }
      case PduType.CapsuleResp: {
        const cqe = parseCqe(pdu.cqe);
        this.arrivals.push({ type: pdu.type, cid: cqe.cid });
        const p = this.pending.get(cqe.cid);
        if (!p) throw new Error(`CapsuleResp for unknown CID ${cqe.cid}`);
        this.pending.delete(cqe.cid);
        p.resolve({ cid: cqe.cid, cqe, status: cqe.status, data: p.readBuf });
        return;
      }
      case PduType.R2T: {
        this.arrivals.push({ type: pdu.type, cid: pdu.cccid, datao: pdu.r2to, datal: pdu.r2tl });
        const p = this.pending.get(pdu.cccid);
        if (!p || !p.writeData) break; // a test answering R2Ts by hand takes it from nextPdu()
        const chunk = Math.min(this.h2cChunkBytes || pdu.r2tl, this.maxh2cdata);
        for (let off = 0; off < pdu.r2tl; off += chunk) {
          const len = Math.min(chunk, pdu.r2tl - off);
          const datao = pdu.r2to + off;
          const data = p.writeData.subarray(datao, datao + len);
          const e = emitPdu(
            { type: PduType.H2CData, cccid: pdu.cccid, ttag: pdu.ttag, datao, datal: len, lastPdu: off + len === pdu.r2tl, data: [data] },
            this.emitOptions(),
          );
          let tail = e.tail;
          if (this.corruptNextH2CDigest && tail.length === 4) {
            tail = Buffer.from(tail);
            tail[0] = (tail[0] as number) ^ 0xff;
            this.corruptNextH2CDigest = false;
          }
          this.socket.write(Buffer.concat([e.head, ...e.data, tail]));
        }
        return;
      }
      case PduType.C2HTermReq:
        this.termReqs.push({ fes: pdu.fes, fei: pdu.fei, echo: Buffer.concat(pdu.data as Buffer[]) });
        this.arrivals.push({ type: pdu.type, cid: -1 });
        break;
      default:
        this.arrivals.push({ type: pdu.type, cid: -1 });
    }
    const w = this.waiters.shift();
    if (w) w(f);
  }

  close(): void {
    this.socket.destroy();
  }

  // ------------------------------------------------------------- commands

  async connectQueue(o: { qid: number; cntlid: number; sqsize?: number; cattr?: number; kato?: number; subnqn?: string; hostnqn?: string }): Promise<Completion> {
    const cid = this.allocCid();
    const sqe = buildConnect({
      kind: 'connect',
      cid,
      recfmt: 0,
      qid: o.qid,
      sqsize: o.sqsize ?? 31,
      cattr: o.cattr ?? 0,
      kato: o.kato ?? 0,
      dptr: sglInCapsule(1024),
    });
    const data = buildConnectData({
      hostid: TEST_HOSTID,
      cntlid: o.cntlid,
      subnqn: o.subnqn ?? TEST_SUBNQN,
      hostnqn: o.hostnqn ?? TEST_HOSTNQN,
    });
    const c = await this.command(sqe, { inCapsule: data });
    if (c.status === 0) this.qid = o.qid;
    return c;
  }

  propertyGet(offset: number, size: 4 | 8): Promise<Completion> {
    return this.command(buildPropertyGet({ kind: 'property-get', cid: this.allocCid(), offset, size }));
  }

  propertySet(offset: number, size: 4 | 8, value: bigint): Promise<Completion> {
    return this.command(buildPropertySet({ kind: 'property-set', cid: this.allocCid(), offset, size, value }));
  }

  identify(cns: number, nsid: number): Promise<Completion> {
    return this.command(buildIdentify({ kind: 'identify', cid: this.allocCid(), cns, nsid, dptr: sglTransportData(4096) }), {
      readLen: 4096,
    });
  }

  read(slba: number, nlb0: number, lbaSize: number, cid = this.allocCid()): Promise<Completion> {
    const len = (nlb0 + 1) * lbaSize;
    return this.command(buildReadWrite({ kind: 'read', cid, nsid: 1, slba, nlb: nlb0, dptr: sglTransportData(len) }), { readLen: len });
  }

  /** A Write: in-capsule when `inCapsule`, else by R2T. */
  write(slba: number, data: Buffer, lbaSize: number, inCapsule: boolean, cid = this.allocCid()): Promise<Completion> {
    const nlb = data.length / lbaSize - 1;
    const sqe = buildReadWrite({
      kind: 'write',
      cid,
      nsid: 1,
      slba,
      nlb,
      dptr: inCapsule ? sglInCapsule(data.length) : sglTransportData(data.length),
    });
    return this.command(sqe, inCapsule ? { inCapsule: data } : { writeData: data });
  }

  flush(): Promise<Completion> {
    return this.command(buildFlush({ kind: 'flush', cid: this.allocCid(), nsid: 1 }));
  }
}

/** CC for an NVM I/O controller: EN, IOSQES 6, IOCQES 4. */
export const CC_ENABLE = 0x1 | (6 << 16) | (4 << 20);

export interface Association {
  readonly admin: TestQueue;
  readonly cntlid: number;
  readonly io: TestQueue[];
}

/** ICReq → Connect admin → CC.EN → CSTS.RDY → Connect `ioQueues` I/O queues. */
export async function associate(
  port: number,
  o: IcOptions & { ioQueues?: number; cattr?: number; kato?: number; sqsize?: number } = {},
): Promise<Association> {
  const admin = await TestQueue.open(port);
  await admin.icReq(o);
  const c = await admin.connectQueue({ qid: 0, cntlid: NVMF_CNTLID_DYNAMIC, kato: o.kato ?? 0 });
  if (c.status !== 0 || !c.cqe) throw new Error(`admin Connect failed: status 0x${c.status.toString(16)}`);
  const cntlid = c.cqe.dw0 & 0xffff;
  await admin.propertySet(NvmeReg.CC, 4, BigInt(CC_ENABLE));
  for (let i = 0; ; i++) {
    const csts = await admin.propertyGet(NvmeReg.CSTS, 4);
    if (((csts.cqe?.dw0 ?? 0) & 1) === 1) break;
    if (i > 1000) throw new Error('CSTS.RDY never set');
    await new Promise((r) => setTimeout(r, 5));
  }
  const io: TestQueue[] = [];
  for (let q = 1; q <= (o.ioQueues ?? 1); q++) {
    const t = await TestQueue.open(port);
    await t.icReq(o);
    const r = await t.connectQueue({ qid: q, cntlid, cattr: o.cattr ?? 0, sqsize: o.sqsize ?? 127 });
    if (r.status !== 0) throw new Error(`I/O Connect qid ${q} failed: status 0x${r.status.toString(16)}`);
    io.push(t);
  }
  return { admin, cntlid, io };
}

export function closeAssociation(a: Association): void {
  for (const q of a.io) q.close();
  a.admin.close();
}

export { NvmeIdCns };
