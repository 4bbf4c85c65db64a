/**
 * The limits a DDP NIC advertises to the ULP (the series' ulp_ddp_limits
 * for NVMe/TCP), and ddplab's defaults: a module of its own, with no
 * imports, so that the CLI's flags can name them without loading the NIC
 * (offload.ts re-exports both).
 */
export interface NvmeTcpDdpLimits {
  /** Most SGL entries (pages) per I/O; the last public mlx5 driver took 128. */
  readonly maxDdpSglLen: number;
  /** Reads shorter than this are not offered (mlx5: 32 KiB). */
  readonly ioThresholdBytes: number;
  /** False: the ULP must keep CIDs below the queue size (no CID generation bits). */
  readonly fullCcidRange: boolean;
  /** ddplab: offloaded sockets per device. */
  readonly maxSockets: number;
  /** ddplab: setups in flight per socket. */
  readonly maxSetupsPerSocket: number;
}

export const DEFAULT_DDP_LIMITS: NvmeTcpDdpLimits = {
  maxDdpSglLen: 128,
  ioThresholdBytes: 32 * 1024,
  fullCcidRange: false,
  maxSockets: 64,
  maxSetupsPerSocket: 1024,
};
