/**
 * Typed errors for everything in src/wire. A parser never throws anything else
 * and never throws a string: callers switch on `code`, users see `message`.
 */
import { DdplabError } from '../base/errors.js';

export type WireErrorCode =
  | 'TRUNCATED' // buffer shorter than the header or a length field says
  | 'BAD_FIELD' // a field holds a value the protocol forbids
  | 'BAD_CHECKSUM'
  | 'UNSUPPORTED' // valid on the wire, not handled by ddplab
  | 'PDU_TYPE_UNKNOWN'
  | 'PDU_HLEN_MISMATCH'
  | 'PDU_PLEN_LT_HLEN'
  | 'PDU_PDO_IN_HEADER'
  | 'PDU_LEN_INCONSISTENT'
  | 'PDU_TOO_LARGE'
  | 'PCAP_FORMAT'
  | 'PCAP_TRUNCATED'
  | 'PCAP_LINKTYPE';

export interface WireErrorDetail {
  readonly field?: string;
  readonly expected?: number | string;
  readonly got?: number | string;
}

export class WireError extends DdplabError<WireErrorCode> {
  readonly detail: WireErrorDetail;

  constructor(code: WireErrorCode, message: string, detail: WireErrorDetail = {}) {
    super(code, message);
    this.name = 'WireError';
    this.detail = detail;
  }
}

/** Throws TRUNCATED unless `buf` holds at least `need` bytes. */
export function needBytes(buf: Uint8Array, need: number, what: string): void {
  needLength(buf.length, need, what);
}

/** Throws TRUNCATED unless `have` (the bytes left from where a header starts) is at least `need`. */
export function needLength(have: number, need: number, what: string): void {
  if (have < need) {
    throw new WireError('TRUNCATED', `${what}: need ${need} bytes, have ${have}`, {
      field: what,
      expected: need,
      got: have,
    });
  }
}
