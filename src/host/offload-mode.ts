/**
 * The offload mode of the host's NVMe/TCP I/O queues — what `--offload`
 * chooses for `ddplab run`, `host`, `bench` and `replay`, and what the
 * fuzzer's receive-path target compares — declared once: the type, the
 * parser, and the table of what each mode turns on. Code asks the table (or
 * a predicate over it) what to build; it never compares mode strings.
 *
 * It lives in src/host because the host decides: it registers the DDP ULP
 * with the NIC (sk_add with the nvme-tcp / nvme-tcp-ddgst-rx caps), or binds
 * a dmabuf and receives through the token API. Replay, lab, the CLI and the
 * fuzzer sit above it.
 */
import { UserError } from '../base/errors.js';

export type OffloadMode = 'none' | 'ddp' | 'ddp-crc' | 'devmem-tcp' | 'devmem-nvme';

/** Every mode, in the order help texts and reports list them. */
export const OFFLOAD_MODES: readonly OffloadMode[] = ['none', 'ddp', 'ddp-crc', 'devmem-tcp', 'devmem-nvme'];

/** The modes of the DDP series alone (replay runs no devmem receive). */
export type DdpOffloadMode = 'none' | 'ddp' | 'ddp-crc';
export const DDP_OFFLOAD_MODES: readonly DdpOffloadMode[] = ['none', 'ddp', 'ddp-crc'];

export interface OffloadFeatures {
  /** The NIC's NVMe/TCP DDP engine places C2HData payload in the command's buffer (ulp_ddp cap nvme-tcp). */
  readonly ddpEngine: boolean;
  /** The NIC verifies data digests and marks skbs ulp_crc (cap nvme-tcp-ddgst-rx; header split at PDU boundaries does it too). */
  readonly crcOffload: boolean;
  /** Header split into a dmabuf: after the TCP header ('tcp') or at NVMe/TCP PDU boundaries ('nvme'); undefined: none. */
  readonly headerSplit: 'tcp' | 'nvme' | undefined;
  /** The host receives through the devmem token API (descriptors, dontneed or the refill ring). */
  readonly tokenApi: boolean;
}

export const OFFLOAD_FEATURES: Readonly<Record<OffloadMode, OffloadFeatures>> = {
  none: { ddpEngine: false, crcOffload: false, headerSplit: undefined, tokenApi: false },
  ddp: { ddpEngine: true, crcOffload: false, headerSplit: undefined, tokenApi: false },
  'ddp-crc': { ddpEngine: true, crcOffload: true, headerSplit: undefined, tokenApi: false },
  'devmem-tcp': { ddpEngine: false, crcOffload: false, headerSplit: 'tcp', tokenApi: true },
  'devmem-nvme': { ddpEngine: false, crcOffload: true, headerSplit: 'nvme', tokenApi: true },
};

/** The mode turns anything on (every mode but none). */
export function usesAnyOffload(mode: OffloadMode): boolean {
  const f = OFFLOAD_FEATURES[mode];
  return f.ddpEngine || f.crcOffload || f.headerSplit !== undefined || f.tokenApi;
}

/** The NIC's DDP engine places data: ddp or ddp-crc. */
export function usesDdpEngine(mode: OffloadMode): mode is 'ddp' | 'ddp-crc' {
  return OFFLOAD_FEATURES[mode].ddpEngine;
}

/** The NIC checks data digests. */
export function usesCrcOffload(mode: OffloadMode): boolean {
  return OFFLOAD_FEATURES[mode].crcOffload;
}

/** Receive into device memory through the token API: devmem-tcp or devmem-nvme. */
export function usesDevmem(mode: OffloadMode): mode is 'devmem-tcp' | 'devmem-nvme' {
  return OFFLOAD_FEATURES[mode].tokenApi;
}

/** Where the NIC splits headers from payload, or undefined when it does not. */
export function headerSplitOf(mode: OffloadMode): 'tcp' | 'nvme' | undefined {
  return OFFLOAD_FEATURES[mode].headerSplit;
}

/** The DDP-series view of a mode: devmem modes run no DDP engine, so 'none'. */
export function ddpModeOf(mode: OffloadMode): DdpOffloadMode {
  return usesDdpEngine(mode) ? mode : 'none';
}

/**
 * A mode from a flag value; a value outside `allowed` is one line naming
 * the flag and the values it takes.
 */
export function parseOffloadMode<M extends OffloadMode = OffloadMode>(text: string, allowed: readonly M[] = OFFLOAD_MODES as readonly M[], flag = '--offload'): M {
  const m = allowed.find((x) => x === text);
  if (m === undefined) throw new UserError('BAD_FLAG', `${flag}: '${text}' is not one of ${allowed.join(', ')}`);
  return m;
}
