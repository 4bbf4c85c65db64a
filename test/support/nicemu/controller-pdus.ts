/**
 * Controller-side PDUs and payload the NIC rigs put on the wire, the same for
 * the DDP engine and the header-split engine.
 */
import { xorshift32Bytes } from '../../../src/base/seeded-rng.js';
import { buildCqe, cqeWith } from '../../../src/wire/nvme-cqe.js';
import { PduType, emitPduBuffer } from '../../../src/wire/nvme-tcp-pdu.js';

/** A successful CapsuleResp for `cid` on I/O queue 1. */
export function capsuleResp(cid: number, o: { hdgst?: boolean } = {}): Buffer {
  return emitPduBuffer({ type: PduType.CapsuleResp, cqe: buildCqe(cqeWith({ cid, sqId: 1 })) }, { hdgst: o.hdgst ?? false });
}

/** Deterministic bytes. */
export function pattern(len: number, seed = 1): Buffer {
  return xorshift32Bytes(len, (seed * 2654435761) >>> 0 || 1);
}
