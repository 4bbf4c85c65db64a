/**
 * Counters of the NIC's header split into device memory, summed over the
 * flows of a device (ethtool -S style names with an `rx-hds-` / `rx-devmem-`
 * prefix; the page pool keeps its own, page-pool.ts).
 */
export interface DevmemNicStats {
  /** Segments whose payload went (partly) to device memory. */
  'rx-devmem-packets': number;
  /** Payload bytes the NIC wrote into dmabuf pages, and the frags it made. */
  'rx-devmem-bytes': number;
  'rx-devmem-frags': number;
  /** Frames dropped because the page pool had no room for their payload. */
  'rx-devmem-drops': number;
  /** Bytes of those frames' payload. */
  'rx-devmem-drop-bytes': number;
  /** Payload bytes a split put in host header buffers (NVMe/TCP PDU headers and digests in `nvme` mode). */
  'rx-hds-header-bytes': number;
  /** Segments left whole in host memory: payload the engine could not classify, or that had no device part. */
  'rx-hds-host-packets': number;
  /** Payload bytes of those segments. */
  'rx-hds-host-bytes': number;
  /** C2HData payload bytes that reached host memory because the engine was not in sync with the PDU stream. */
  'rx-hds-unsynced-bytes': number;
  /** `nvme` mode: PDU stream tracking (the resync protocol of the DDP series). */
  'rx-hds-lost-sync': number;
  'rx-hds-resync-req': number;
  'rx-hds-resync': number;
  'rx-hds-resync-fail': number;
  /** `nvme` mode: C2HData digests the NIC checked. */
  'rx-hds-crc-ok': number;
  'rx-hds-crc-fail': number;
}

export function newDevmemNicStats(): DevmemNicStats {
  return {
    'rx-devmem-packets': 0,
    'rx-devmem-bytes': 0,
    'rx-devmem-frags': 0,
    'rx-devmem-drops': 0,
    'rx-devmem-drop-bytes': 0,
    'rx-hds-header-bytes': 0,
    'rx-hds-host-packets': 0,
    'rx-hds-host-bytes': 0,
    'rx-hds-unsynced-bytes': 0,
    'rx-hds-lost-sync': 0,
    'rx-hds-resync-req': 0,
    'rx-hds-resync': 0,
    'rx-hds-resync-fail': 0,
    'rx-hds-crc-ok': 0,
    'rx-hds-crc-fail': 0,
  };
}
