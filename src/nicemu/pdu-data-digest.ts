/**
 * A C2HData PDU's data digest checked on the fly, as a receive offload does:
 * CRC32C run over the data in stream order while the PDU goes by, the four
 * DDGST bytes gathered after it (they may span segments), then compared.
 * Any gap, retransmitted copy or out-of-order piece breaks the run: the host
 * checks that PDU itself. Shared by the DDP engine and the header-split engine.
 */
import { crc32c } from '../wire/crc32c.js';
import { NVME_TCP_DIGEST_LEN } from '../wire/nvme-tcp-pdu.js';

/** Where a PDU's data digest check stands. */
export type CrcState = 'off' | 'tracking' | 'broken' | 'ok' | 'bad';

/** A PDU's data digest run; positions are stream positions. */
export interface DataDigestRun {
  readonly dataStart: number;
  readonly dataEnd: number;
  /** One past the PDU's last byte (its DDGST's last byte). */
  readonly end: number;
  crcState: CrcState;
  crc: number;
  /** Data covered by `crc` so far ends here. */
  crcPos: number;
  /** The DDGST bytes gathered so far. */
  readonly ddgst: Buffer;
  ddgstFill: number;
}

/** A fresh run over [dataStart, dataEnd), tracking when the PDU has a digest to check. */
export function newDataDigestRun(dataStart: number, dataEnd: number, end: number, track: boolean, hasDdgst: boolean): DataDigestRun {
  return {
    dataStart,
    dataEnd,
    end,
    crcState: track ? 'tracking' : 'off',
    crc: 0,
    crcPos: dataStart,
    ddgst: hasDdgst ? Buffer.alloc(NVME_TCP_DIGEST_LEN) : NO_BYTES,
    ddgstFill: 0,
  };
}

const NO_BYTES = Buffer.alloc(0);

/**
 * Data bytes [da, db) of the run's PDU, at payload[da - base]: the CRC goes
 * on when they continue it (and `inOrder`, the engine's own condition, holds),
 * else the run is broken.
 */
export function runDataCrc(run: DataDigestRun, payload: Buffer, base: number, da: number, db: number, inOrder: boolean): void {
  if (run.crcState !== 'tracking') return;
  if (inOrder && run.crcPos === da) {
    run.crc = crc32c(payload.subarray(da - base, db - base), run.crc);
    run.crcPos = db;
  } else run.crcState = 'broken';
}

/**
 * DDGST bytes [ga, gb) of the run's PDU, at payload[ga - base]: gathered
 * when every data byte was run and they follow the ones gathered before.
 * The verdict once the fourth byte is in (true: the digest matches), else
 * undefined.
 */
export function gatherDdgst(run: DataDigestRun, payload: Buffer, base: number, ga: number, gb: number, inOrder: boolean): boolean | undefined {
  if (run.crcState !== 'tracking') return undefined;
  if (!inOrder || run.crcPos !== run.dataEnd || ga !== run.dataEnd + run.ddgstFill) {
    run.crcState = 'broken';
    return undefined;
  }
  payload.copy(run.ddgst, run.ddgstFill, ga - base, gb - base);
  run.ddgstFill += gb - ga;
  if (run.ddgstFill !== NVME_TCP_DIGEST_LEN) return undefined;
  const ok = run.ddgst.readUInt32LE(0) === run.crc;
  run.crcState = ok ? 'ok' : 'bad';
  return ok;
}
