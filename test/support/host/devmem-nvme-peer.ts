/**
 * Test support: a minimal NVMe/TCP I/O-queue controller on one of our TCP
 * sockets (the peer of a DevmemLink). It answers ICReq with the digests
 * asked for and every Read with the block pattern, cut into C2HData PDUs of
 * at most `c2hBytes`, then a CapsuleResp. A read listed in `badDdgst` gets
 * one wrong data digest on the wire.
 */
import type { TcpSocket } from '../../../src/host/net/tcp-socket.js';
import { fillPattern } from '../../../src/wire/block-pattern.js';
import { buildCqe, cqeWith } from '../../../src/wire/nvme-cqe.js';
import { parseNvmeCommand } from '../../../src/wire/nvme-command.js';
import { PduFramer } from '../../../src/wire/pdu-framer.js';
import { PduType, emitPdu, type Pdu, type PduEmitOptions } from '../../../src/wire/nvme-tcp-pdu.js';

export const PEER_LBA = 512;
export const PEER_PATTERN_SEED = 77;

export class MiniController {
  private readonly framer: PduFramer;
  private opts: PduEmitOptions = {};
  readsServed = 0;

  constructor(
    private readonly sock: TcpSocket,
    private readonly c2hBytes: number,
    private readonly badDdgst: ReadonlySet<number> = new Set(),
  ) {
    this.framer = new PduFramer((p) => this.onPdu(p));
    sock.handlers.onReadable = () => {
      while (sock.readableLength > 0) {
        const b = Buffer.alloc(sock.readableLength);
        sock.read(b, 0, b.length);
        this.framer.push(b);
      }
    };
  }

  private send(pdu: Pdu, corruptDdgst = false): void {
    const e = emitPdu(pdu, pdu.type === PduType.ICResp ? {} : this.opts);
    const tail = corruptDdgst && e.tail.length > 0 ? Buffer.from(e.tail.map((x) => x ^ 0xff)) : e.tail;
    this.sock.write([e.head, ...e.data, ...(tail.length > 0 ? [tail] : [])]);
  }

  private onPdu(p: { pdu: Pdu }): void {
    const pdu = p.pdu;
    if (pdu.type === PduType.ICReq) {
      this.opts = { hdgst: pdu.hdgstEnable, ddgst: pdu.ddgstEnable, pda: 0 };
      this.send({ type: PduType.ICResp, pfv: 0, cpda: 0, hdgstEnable: pdu.hdgstEnable, ddgstEnable: pdu.ddgstEnable, maxh2cdata: 0x40000 });
      return;
    }
    if (pdu.type !== PduType.CapsuleCmd) throw new Error(`mini controller: unexpected ${pdu.type}`);
    const cmd = parseNvmeCommand(pdu.sqe, 'io');
    if (cmd.kind !== 'read') throw new Error(`mini controller: only reads, got ${cmd.kind}`);
    const n = this.readsServed++;
    const len = (cmd.nlb + 1) * PEER_LBA;
    const data = Buffer.alloc(len);
    fillPattern(PEER_PATTERN_SEED, cmd.slba * PEER_LBA, data);
    for (let d = 0; d < len; d += this.c2hBytes) {
      const piece = data.subarray(d, Math.min(len, d + this.c2hBytes));
      this.send(
        { type: PduType.C2HData, cccid: cmd.cid, datao: d, datal: piece.length, lastPdu: d + piece.length === len, success: false, data: [piece] },
        this.badDdgst.has(n) && d === 0,
      );
    }
    this.send({ type: PduType.CapsuleResp, cqe: buildCqe(cqeWith({ cid: cmd.cid, sqId: 1 })) });
  }
}
