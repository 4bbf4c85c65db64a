/**
 * What an NVMe/TCP host must answer to each hostile case (NVMe/TCP transport
 * binding; docs/protocol-facts.md "NVMe/TCP wire format"): the H2CTermReq's Fatal Error
 * Status and, for an invalid header field, FEI = the byte offset of that
 * field; or, for a data digest error, which is not fatal to the connection,
 * the read failing with a data transfer error. Shared by the target, host
 * and live tests of the hostile mode.
 */
import type { HostileCase } from '../../../src/target/hostile.js';
import { TermReqFes } from '../../../src/wire/nvme-tcp-pdu.js';

export type HostAnswer = { readonly termReq: { readonly fes: number; readonly fei: number } } | { readonly dataTransferError: true };

export const HOST_ANSWER: Readonly<Record<HostileCase, HostAnswer>> = {
  'plen-lt-hlen': { termReq: { fes: TermReqFes.InvalidHeaderField, fei: 4 } },
  'bad-hlen': { termReq: { fes: TermReqFes.InvalidHeaderField, fei: 2 } },
  'pdo-in-header': { termReq: { fes: TermReqFes.InvalidHeaderField, fei: 3 } },
  'data-past-length': { termReq: { fes: TermReqFes.DataOutOfRange, fei: 0 } },
  'c2h-after-completion': { termReq: { fes: TermReqFes.InvalidHeaderField, fei: 8 } },
  'bad-hdgst': { termReq: { fes: TermReqFes.HeaderDigestError, fei: 0 } },
  'bad-ddgst': { dataTransferError: true },
};
