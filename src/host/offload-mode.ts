/**
 * The offload mode of the host's NVMe/TCP I/O queues — what `--offload`
 * chooses for `ddplab run`, `host`, `bench` and `replay`, and what the
 * fuzzer's receive-path target compares — declared once: the type, the
 * parser, and the table of what each mode turns on. Code asks the table (or
 * a predicate over it) what to build; it never compares mode strings.
 *
 * It lives in src/host because the host decides: it registers the DDP ULP
 * with the NIC (sk_add with the nvme-tcp / nvme-tcp-ddgst-rx caps), binds
 * a dmabuf and receives through the token API, or registers an io_uring
 * zcrx area and receives completions. Replay, lab, the CLI and the fuzzer
 * sit above it.
 *
 * Not every command builds every mode: `ddplab run`, `host` and `bench`
 * (NVMe/TCP) take RUN_OFFLOAD_MODES (zcrx-nvme among them, zcrx-tcp not),
 * `ddplab stream` (a plain TCP stream) takes STREAM_OFFLOAD_MODES; a
 * parser refuses a mode its command does not build and says where it is.
 */
import { UserError } from '../base/errors.js';

export type OffloadMode = 'none' | 'ddp' | 'ddp-crc' | 'devmem-tcp' | 'devmem-nvme' | 'zcrx-tcp' | 'zcrx-nvme';

/** Every mode, in the order help texts and reports list them. */
export const OFFLOAD_MODES: readonly OffloadMode[] = ['none', 'ddp', 'ddp-crc', 'devmem-tcp', 'devmem-nvme', 'zcrx-tcp', 'zcrx-nvme'];

/** The modes an NVMe/TCP run builds (`ddplab run`, `host`, `bench`; the default of parseOffloadMode). */
export type RunOffloadMode = 'none' | 'ddp' | 'ddp-crc' | 'devmem-tcp' | 'devmem-nvme' | 'zcrx-nvme';
export const RUN_OFFLOAD_MODES: readonly RunOffloadMode[] = ['none', 'ddp', 'ddp-crc', 'devmem-tcp', 'devmem-nvme', 'zcrx-nvme'];

/** The modes a plain TCP stream is received with (`ddplab stream`). */
export type StreamOffloadMode = 'none' | 'devmem-tcp' | 'zcrx-tcp';
export const STREAM_OFFLOAD_MODES: readonly StreamOffloadMode[] = ['none', 'devmem-tcp', 'zcrx-tcp'];

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
  /** The rx queue's memory provider: a dmabuf (devmem), an io_uring zcrx area, or none (ordinary pages). */
  readonly provider: 'dmabuf' | 'io_uring' | undefined;
}

export const OFFLOAD_FEATURES: Readonly<Record<OffloadMode, OffloadFeatures>> = {
  none: { ddpEngine: false, crcOffload: false, headerSplit: undefined, tokenApi: false, provider: undefined },
  ddp: { ddpEngine: true, crcOffload: false, headerSplit: undefined, tokenApi: false, provider: undefined },
  'ddp-crc': { ddpEngine: true, crcOffload: true, headerSplit: undefined, tokenApi: false, provider: undefined },
  'devmem-tcp': { ddpEngine: false, crcOffload: false, headerSplit: 'tcp', tokenApi: true, provider: 'dmabuf' },
  'devmem-nvme': { ddpEngine: false, crcOffload: true, headerSplit: 'nvme', tokenApi: true, provider: 'dmabuf' },
  'zcrx-tcp': { ddpEngine: false, crcOffload: false, headerSplit: 'tcp', tokenApi: false, provider: 'io_uring' },
  // The NIC's nvme split checks digests, but a zcrx completion cannot say so (no ulp_crc in a CQE): the host CRCs.
  'zcrx-nvme': { ddpEngine: false, crcOffload: false, headerSplit: 'nvme', tokenApi: false, provider: 'io_uring' },
};

/** Modes a command may name but not build, and what to say instead. */
const NOT_BUILT: Partial<Record<OffloadMode, string>> = {
  'zcrx-nvme': 'io_uring zero-copy receive of NVMe/TCP runs under ddplab run --offload zcrx-nvme',
  'zcrx-tcp': 'io_uring zero-copy receive is built for plain TCP streams: ddplab stream --offload zcrx-tcp',
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

/** Receive into an io_uring zcrx area: zcrx-tcp or zcrx-nvme. */
export function usesZcrx(mode: OffloadMode): mode is 'zcrx-tcp' | 'zcrx-nvme' {
  return OFFLOAD_FEATURES[mode].provider === 'io_uring';
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
 * A mode from a flag value (by default one an NVMe/TCP run builds); a value
 * outside `allowed` is one line naming the flag and the values it takes —
 * and, for a mode this command does not build, why.
 */
export function parseOffloadMode<M extends OffloadMode = RunOffloadMode>(text: string, allowed: readonly M[] = RUN_OFFLOAD_MODES as readonly M[], flag = '--offload'): M {
  const m = allowed.find((x) => x === text);
  if (m === undefined) {
    const why = NOT_BUILT[text as OffloadMode];
    throw new UserError('BAD_FLAG', `${flag}: '${text}' is not one of ${allowed.join(', ')}${why !== undefined ? ` (${why})` : ''}`);
  }
  return m;
}
