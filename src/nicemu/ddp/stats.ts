/**
 * Counters of the NVMe/TCP DDP offload, named as the proposed Linux `ulp-ddp`
 * netlink family names them (docs/protocol-facts.md, "The DDP offload series"), plus
 * ddplab's own, in the same style. A run report's `nic` object carries them
 * as they are.
 *
 * The ulp-ddp meanings: sk-add/-fail/sk-del per socket; setup/-fail/teardown
 * per I/O; drop = packets that failed offload validation (a PDU header that
 * does not validate, a PDU for a CID whose mapping cannot take it); resync =
 * resync operations processed, here the ones the ULP confirmed; packets and
 * bytes = segments with placed payload and the bytes placed.
 */
export interface UlpDdpStats {
  'rx-nvme-tcp-sk-add': number;
  'rx-nvme-tcp-sk-add-fail': number;
  'rx-nvme-tcp-sk-del': number;
  'rx-nvme-tcp-setup': number;
  'rx-nvme-tcp-setup-fail': number;
  'rx-nvme-tcp-teardown': number;
  'rx-nvme-tcp-drop': number;
  'rx-nvme-tcp-resync': number;
  'rx-nvme-tcp-packets': number;
  'rx-nvme-tcp-bytes': number;
  /** C2HData PDUs whose DDGST the NIC computed and found right. */
  'rx-nvme-tcp-crc-ok': number;
  /** C2HData PDUs whose DDGST the NIC computed and found wrong (the host recomputes and fails the I/O). */
  'rx-nvme-tcp-crc-fail': number;
  /** Times a socket lost PDU sync (a segment needed a header the NIC had not seen, or a header did not validate). */
  'rx-nvme-tcp-lost-sync': number;
  /** resyncRequest calls made to the ULP (a plausible header found while searching). */
  'rx-nvme-tcp-resync-req': number;
  /** resync responses for a header the NIC no longer asks about (a late answer to an abandoned or replaced request: ignored). */
  'rx-nvme-tcp-resync-fail': number;
  /** resync requests replaced by a newer one or abandoned (sync lost) without an answer. */
  'rx-nvme-tcp-resync-unanswered': number;
  /** Payload bytes that went by while a socket was not in confirmed sync (headers included). */
  'rx-nvme-tcp-unsynced-bytes': number;
  /** C2HData payload bytes seen in sync whose CID had no usable mapping (not set up, below threshold, limits). */
  'rx-nvme-tcp-no-sgl-bytes': number;
  /** C2HData payload bytes not placed because the NIC had seen those stream or buffer bytes before. */
  'rx-nvme-tcp-dup-bytes': number;
  /**
   * Payload bytes kept from the engine because the segment fails what TCP
   * checks (outside the window, PAWS, an ACK of data never sent, RST/SYN/no
   * ACK), by the NIC's own checks (--nic-tcp-checks, nicemu/ddp/tcp-checks.ts)
   * or the model-only oracle (--nic-tcp-oracle): the engine never parses
   * them, so such a forged segment cannot steer placement
   * (nicemu/ddp/accept-gate.ts). 0 with both off, as the series' NIC.
   */
  'rx-nvme-tcp-tcp-refused-bytes': number;
  /**
   * CPU time (µs) the emulated engine spent on segments: work (parsing, the
   * placement copy, CRC32C) a DDP NIC does in hardware, which a software
   * model does in the host process. Subtract it to compare host CPU.
   */
  'rx-nvme-tcp-engine-us': number;
  /**
   * Model-only guard, no NIC counts this: NIC writes into a read's buffer
   * after the ULP completed the command to the application
   * (NvmeTcpDdpDevice.auditCompleted). 0 with a correct ULP.
   */
  'ddp-writes-after-completion': number;
}

export function newUlpDdpStats(): UlpDdpStats {
  return {
    'rx-nvme-tcp-sk-add': 0,
    'rx-nvme-tcp-sk-add-fail': 0,
    'rx-nvme-tcp-sk-del': 0,
    'rx-nvme-tcp-setup': 0,
    'rx-nvme-tcp-setup-fail': 0,
    'rx-nvme-tcp-teardown': 0,
    'rx-nvme-tcp-drop': 0,
    'rx-nvme-tcp-resync': 0,
    'rx-nvme-tcp-packets': 0,
    'rx-nvme-tcp-bytes': 0,
    'rx-nvme-tcp-crc-ok': 0,
    'rx-nvme-tcp-crc-fail': 0,
    'rx-nvme-tcp-lost-sync': 0,
    'rx-nvme-tcp-resync-req': 0,
    'rx-nvme-tcp-resync-fail': 0,
    'rx-nvme-tcp-resync-unanswered': 0,
    'rx-nvme-tcp-unsynced-bytes': 0,
    'rx-nvme-tcp-no-sgl-bytes': 0,
    'rx-nvme-tcp-dup-bytes': 0,
    'rx-nvme-tcp-tcp-refused-bytes': 0,
    'rx-nvme-tcp-engine-us': 0,
    'ddp-writes-after-completion': 0,
  };
}
