/**
 * The host's DDP settings a run, a host process or a replay is given: the
 * ULP's data-digest fallback (ulp-mode.ts) and the device limits that
 * override the NIC's defaults (max_ddp_sgl_len, io_threshold,
 * full_ccid_range: docs/protocol-facts.md, "The DDP offload series"). The
 * limits decide how the host splits reads and whether its I/O queues put
 * generation bits in their CIDs, as Linux's host does.
 */
import { DEFAULT_DDP_LIMITS, type NvmeTcpDdpLimits } from '../../nicemu/ddp/limits.js';
import { DEFAULT_ULP_MODE, type UlpMode } from './ulp-mode.js';
import type { NicProfile } from '../../nicemu/ddp/nic-profile.js';

/** The limits the host can set; the rest stay the device's defaults. */
export type DdpLimitOverrides = Partial<Pick<NvmeTcpDdpLimits, 'maxDdpSglLen' | 'ioThresholdBytes' | 'fullCcidRange'>>;

export interface DdpHostSettings {
  readonly ulp: UlpMode;
  readonly limits: DdpLimitOverrides;
  /**
   * What the NIC may know of TCP beyond the frame: `oracle` asks the host's
   * TCP (not hardware), `checks` the NIC's own PAWS/ACK/window checks
   * (nicemu/ddp/tcp-checks.ts). Both off by default, as the series' NIC.
   */
  readonly nicTcp?: { readonly oracle: boolean; readonly checks: boolean };
  /** Which NIC the software NIC stands for (nicemu/ddp/nic-profile.ts; default 'hardware'). */
  readonly nic?: NicProfile;
}

export const DEFAULT_DDP_HOST_SETTINGS: DdpHostSettings = { ulp: DEFAULT_ULP_MODE, limits: {} };

/** Most SGL entries a setting may ask for (a 16-bit count, far above any NIC's). */
export const MAX_DDP_SGL_LEN = 0xffff;

/** The limits in force: the device's defaults with `o` over them. */
export function ddpLimitsWith(o: DdpLimitOverrides): NvmeTcpDdpLimits {
  return { ...DEFAULT_DDP_LIMITS, ...o };
}

/**
 * The `ddplab host` flags that rebuild `s` in the host process `ddplab run`
 * spawns (the inverse of the CLI's parser, src/cli/ddp-host-flags.ts).
 */
export function ddpHostArgs(s: DdpHostSettings | undefined): string[] {
  if (s === undefined) return [];
  const out = ['--ulp', s.ulp];
  if (s.limits.maxDdpSglLen !== undefined) out.push('--ddp-max-sgl', String(s.limits.maxDdpSglLen));
  if (s.limits.ioThresholdBytes !== undefined) out.push('--ddp-threshold', String(s.limits.ioThresholdBytes));
  if (s.limits.fullCcidRange === true) out.push('--ddp-full-cid-range');
  if (s.nic !== undefined) out.push('--nic', s.nic);
  if (s.nicTcp?.oracle === true) out.push('--nic-tcp-oracle');
  if (s.nicTcp?.checks === true) out.push('--nic-tcp-checks');
  return out;
}
