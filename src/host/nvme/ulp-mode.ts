/**
 * How the host ULP checks a C2HData PDU's data digest when the NIC did not
 * verify all of it (docs/ddp.md, "ULP behaviour and limits"):
 *
 *  - 'linux': as the DDP series' nvme-tcp host does. With the data-digest
 *    offload on, the host does not hash C2HData while copying; at a PDU's
 *    digest, when not every skb of the PDU carried ulp_crc, it recomputes
 *    CRC32C over the request's whole buffer from its start, for the
 *    request's whole data length, and compares that with THIS PDU's digest.
 *    For a read answered in one C2HData PDU that is the PDU's CRC; for a
 *    read split into several PDUs it is not, and the read fails with a data
 *    transfer error although its data is right.
 *  - 'reference': ddplab's per-PDU check: the CRC of [DATAO, DATAO+DATAL),
 *    what the NVMe/TCP transport binding defines the digest over.
 *
 * Without the data-digest offload (or with no DDP at all) both modes hash
 * each PDU as it is copied, as Linux does.
 */
export type UlpMode = 'linux' | 'reference';

/** Every mode; the first is the default. */
export const ULP_MODES: readonly UlpMode[] = ['linux', 'reference'];

export const DEFAULT_ULP_MODE: UlpMode = 'linux';

export function isUlpMode(text: string): text is UlpMode {
  return (ULP_MODES as readonly string[]).includes(text);
}
