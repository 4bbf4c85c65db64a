/**
 * The host's DDP flags shared by `ddplab run`, `host` and `replay`: the ULP
 * mode of the data-digest fallback and the limits Linux's host applies
 * (src/host/nvme/ddp-settings.ts), declared once, checked once before
 * anything starts, each bad value one line.
 */
import type { Command } from 'commander';
import { MAX_DDP_SGL_LEN, type DdpHostSettings, type DdpLimitOverrides } from '../host/nvme/ddp-settings.js';
import { DEFAULT_ULP_MODE, ULP_MODES, isUlpMode } from '../host/nvme/ulp-mode.js';
import { parseSizeBytes, WorkloadOptionError } from '../host/workload/options.js';
import { UserError } from '../base/errors.js';
import { DEFAULT_NIC_PROFILE, NIC_PROFILE_NAMES, isNicProfile } from '../nicemu/ddp/nic-profile.js';

export interface DdpHostFlags {
  ulp: string;
  ddpMaxSgl?: string;
  ddpThreshold?: string;
  ddpFullCidRange?: boolean;
  nicTcpOracle?: boolean;
  nicTcpChecks?: boolean;
  nic?: string;
}

/** Largest io_threshold a setting may ask for: reads are at most this size anyway. */
const MAX_THRESHOLD_BYTES = 1 << 30;

export function addDdpHostFlags(cmd: Command): Command {
  return cmd
    .option('--ulp <mode>', `DDP: the host's data-digest fallback: ${ULP_MODES.join(' (the series), ')} (ddplab's per-PDU check)`, DEFAULT_ULP_MODE)
    .option('--ddp-max-sgl <n>', "DDP: the NIC's max_ddp_sgl_len (4 KiB pages per read; larger reads are split into several commands; default 128)")
    .option('--ddp-threshold <size>', "DDP: the NIC's io_threshold (smaller reads are not offloaded; default 32k)")
    .option('--ddp-full-cid-range', 'DDP: the NIC takes any CID, so the host puts a generation counter in CID bits 15:12 (default: CIDs below the queue size)')
    .option('--nic <profile>', `DDP: the NIC the software NIC stands for: ${NIC_PROFILE_NAMES.join(', ')} (default ${DEFAULT_NIC_PROFILE}; docs/ddp.md, "NIC profiles")`)
    .option('--nic-tcp-oracle', "DDP: the NIC asks the host's TCP whether it takes a segment before parsing it (a model-only oracle, not hardware)")
    .option('--nic-tcp-checks', 'DDP: the NIC keeps from its engine segments failing PAWS, ACK or window checks it makes from both directions on its port');
}

export function ddpHostFromFlags(f: DdpHostFlags): DdpHostSettings {
  if (!isUlpMode(f.ulp)) throw new UserError('BAD_FLAG', `--ulp: '${f.ulp}' is not one of ${ULP_MODES.join(', ')}`);
  const limits: { -readonly [K in keyof DdpLimitOverrides]: DdpLimitOverrides[K] } = {};
  if (f.ddpMaxSgl !== undefined) {
    const n = Number(f.ddpMaxSgl);
    if (!/^\d+$/.test(f.ddpMaxSgl.trim()) || !Number.isInteger(n) || n < 1 || n > MAX_DDP_SGL_LEN) {
      throw new UserError('BAD_FLAG', `--ddp-max-sgl: '${f.ddpMaxSgl}' is not an integer in 1..${MAX_DDP_SGL_LEN}`);
    }
    limits.maxDdpSglLen = n;
  }
  if (f.ddpThreshold !== undefined) limits.ioThresholdBytes = thresholdBytes(f.ddpThreshold);
  if (f.ddpFullCidRange === true) limits.fullCcidRange = true;
  const nicTcp = f.nicTcpOracle === true || f.nicTcpChecks === true ? { nicTcp: { oracle: f.nicTcpOracle === true, checks: f.nicTcpChecks === true } } : {};
  if (f.nic !== undefined && !isNicProfile(f.nic)) throw new UserError('BAD_FLAG', `--nic: '${f.nic}' is not one of ${NIC_PROFILE_NAMES.join(', ')}`);
  const nic = f.nic !== undefined && isNicProfile(f.nic) ? { nic: f.nic } : {};
  return { ulp: f.ulp, limits, ...nicTcp, ...nic };
}

/** --ddp-threshold: a size up to 1g, one line naming the flag otherwise. */
function thresholdBytes(text: string): number {
  let bytes = Number.NaN;
  try {
    bytes = parseSizeBytes(text, 'ddp-threshold');
  } catch (e) {
    if (!(e instanceof WorkloadOptionError)) throw e;
  }
  if (!Number.isSafeInteger(bytes) || bytes > MAX_THRESHOLD_BYTES) {
    throw new UserError('BAD_FLAG', `--ddp-threshold: '${text}' is not a size up to 1g like 4k, 32k, 128k`);
  }
  return bytes;
}
