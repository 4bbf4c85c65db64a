/**
 * Everything that shapes what the target puts on the wire, with two
 * profiles of defaults: `linux` (what Linux nvmet-tcp advertises and does)
 * and `spdk` (SPDK's nvmf TCP transport defaults). A knob given explicitly
 * overrides its profile value. resolveTargetOptions() validates the whole
 * set once and throws TargetOptionError (with a code) on the first bad value.
 */
import type { HostileSpec } from './hostile.js';
import type { CompletionOrder } from './scheduler.js';
import { DdplabError } from '../base/errors.js';
import { DEFAULT_LBA_BYTES, DEFAULT_NAMESPACE_BYTES } from './defaults.js';

export { DEFAULT_LBA_BYTES, DEFAULT_NAMESPACE_BYTES };

export type TargetProfile = 'linux' | 'spdk';
/** Digests the target accepts; a digest is used on a queue only when the host also asks for it in ICReq. */
export type DigestPolicy = 'none' | 'header' | 'data' | 'both';

export interface TargetOptions {
  /** Address to listen on. */
  readonly host: string;
  /** TCP port; 0 picks a free one (tests). */
  readonly port: number;
  readonly profile: TargetProfile;
  /** Subsystem NQN hosts must name in Connect. */
  readonly subsysNqn: string;
  /** Namespace size in bytes (a multiple of lbaSize). */
  readonly sizeBytes: number;
  readonly lbaSize: 512 | 4096;
  /** Seed of the block pattern and of every random choice (order, interleave). */
  readonly seed: number;
  /** Back the namespace with this file instead of pattern + overlay. */
  readonly file: string | undefined;

  /** Completion order within a batch of ready commands (I/O queues). */
  readonly order: CompletionOrder;
  /** Interleave C2HData PDUs of different reads of a batch (I/O queues). */
  readonly interleave: boolean;
  /** Most completions held in one batch. */
  readonly batchMax: number;
  /** Hold each batch of I/O completions this many microseconds. */
  readonly delayUs: number;
  /** Largest C2HData payload; 0 = a whole transfer in one PDU (Linux nvmet). */
  readonly c2hSizeBytes: number;
  /** Controller PDU data alignment sent in ICResp (0's based dwords, 0..31). */
  readonly cpda: number;
  readonly digest: DigestPolicy;
  /** Send the last C2HData with SUCCESS and no CapsuleResp when the host disabled SQ flow control. */
  readonly c2hSuccess: boolean;
  /** In-capsule data accepted on I/O queues (IOCCSZ); the admin queue takes at least 8 KiB. */
  readonly inCapsuleBytes: number;
  /** MAXH2CDATA in ICResp. */
  readonly maxH2CDataBytes: number;
  /** Largest transfer per command, advertised as MDTS; 0 = MDTS 0 (no limit advertised). */
  readonly maxIoBytes: number;
  /** Most I/O queues per controller. */
  readonly maxIoQueues: number;
  /** Largest queue size (CAP.MQES + 1). */
  readonly maxQueueSize: number;
  /** CSTS.RDY follows CC.EN after this many milliseconds. */
  readonly readyDelayMs: number;
  /** Keep Alive granularity advertised in KAS, and the floor applied to KATO (ms). */
  readonly kasMs: number;
  /** Break one read response on one I/O queue (hostile.ts); undefined: a correct target. */
  readonly hostile: HostileSpec | undefined;
}

export class TargetOptionError extends DdplabError<'TARGET_OPTION'> {
  constructor(readonly option: string, message: string) {
    super('TARGET_OPTION', message);
    this.name = 'TargetOptionError';
  }
}

const KIB = 1024;
const MIB = 1024 * 1024;

/** Transfers above this are refused even when MDTS advertises no limit: the emulator must not allocate without bound. */
export const HARD_MAX_TRANSFER_BYTES = 32 * MIB;

/** Linux nvmet-tcp: CPDA 0, 16 KiB in-capsule, MAXH2CDATA 0x400000, one C2HData per read, MDTS 0, 1024-entry queues. */
const LINUX: Omit<TargetOptions, 'host' | 'port' | 'profile' | 'file' | 'seed' | 'hostile'> = {
  subsysNqn: 'nqn.2026-11.io.ddplab:target',
  sizeBytes: DEFAULT_NAMESPACE_BYTES,
  lbaSize: DEFAULT_LBA_BYTES,
  order: 'fifo',
  interleave: false,
  batchMax: 64,
  delayUs: 0,
  c2hSizeBytes: 0,
  cpda: 0,
  digest: 'both',
  c2hSuccess: false,
  inCapsuleBytes: 16 * KIB,
  maxH2CDataBytes: 0x400000,
  maxIoBytes: 0,
  maxIoQueues: 128,
  maxQueueSize: 1024,
  readyDelayMs: 0,
  kasMs: 5000,
};

/** SPDK nvmf TCP: 4 KiB in-capsule, 128 KiB max I/O and C2HData/H2CData PDU, queue depth 128, C2H SUCCESS on. */
const SPDK: typeof LINUX = {
  ...LINUX,
  c2hSizeBytes: 128 * KIB,
  c2hSuccess: true,
  inCapsuleBytes: 4 * KIB,
  maxH2CDataBytes: 128 * KIB,
  maxIoBytes: 128 * KIB,
  maxIoQueues: 127,
  maxQueueSize: 128,
  kasMs: 10000,
};

export const PROFILE_DEFAULTS: Readonly<Record<TargetProfile, typeof LINUX>> = { linux: LINUX, spdk: SPDK };

export type TargetOptionsInput = Partial<TargetOptions>;

function must(cond: boolean, option: string, message: string): void {
  if (!cond) throw new TargetOptionError(option, message);
}

function isUint(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

/** Fills defaults from the profile and validates every value. */
export function resolveTargetOptions(input: TargetOptionsInput = {}): TargetOptions {
  const profile = input.profile ?? 'linux';
  must(profile === 'linux' || profile === 'spdk', 'profile', `unknown profile '${String(profile)}' (linux or spdk)`);
  const base = PROFILE_DEFAULTS[profile];
  const defined = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as TargetOptionsInput;
  const o: TargetOptions = {
    host: '192.0.2.1',
    port: 4420,
    file: undefined,
    seed: 1,
    hostile: undefined,
    ...base,
    ...defined,
    profile,
  };

  must(isUint(o.port) && o.port <= 65535, 'port', `port ${o.port} is not in 0..65535`);
  must(o.host.length > 0, 'listen', 'listen address is empty');
  must(o.lbaSize === 512 || o.lbaSize === 4096, 'lba-size', `LBA size ${String(o.lbaSize)} is not 512 or 4096`);
  must(
    isUint(o.sizeBytes) && o.sizeBytes >= o.lbaSize && o.sizeBytes % o.lbaSize === 0,
    'size',
    `namespace size ${o.sizeBytes} is not a positive multiple of the LBA size ${o.lbaSize}`,
  );
  must(isUint(o.seed) && o.seed <= 0xffffffff, 'seed', `seed ${o.seed} is not a u32`);
  must(o.subsysNqn.length > 0 && Buffer.byteLength(o.subsysNqn) <= 223, 'nqn', 'subsystem NQN must be 1..223 bytes');
  must(o.subsysNqn.startsWith('nqn.'), 'nqn', `subsystem NQN '${o.subsysNqn}' does not start with 'nqn.'`);
  must(['fifo', 'random', 'reverse'].includes(o.order), 'order', `order '${String(o.order)}' is not fifo, random or reverse`);
  must(isUint(o.batchMax) && o.batchMax >= 1, 'batch', `batch size ${o.batchMax} must be at least 1`);
  must(isUint(o.delayUs) && o.delayUs <= 10_000_000, 'delay-us', `delay ${o.delayUs} us is not in 0..10000000`);
  must(
    isUint(o.c2hSizeBytes) && (o.c2hSizeBytes === 0 || (o.c2hSizeBytes >= 4 && o.c2hSizeBytes % 4 === 0)),
    'c2h-size',
    `C2HData size ${o.c2hSizeBytes} must be 0 (whole transfer) or a multiple of 4`,
  );
  must(isUint(o.cpda) && o.cpda <= 31, 'cpda', `CPDA ${o.cpda} is not in 0..31`);
  must(['none', 'header', 'data', 'both'].includes(o.digest), 'digest', `digest '${String(o.digest)}' is not none, header, data or both`);
  must(
    isUint(o.inCapsuleBytes) && o.inCapsuleBytes % 16 === 0 && o.inCapsuleBytes <= 1 * MIB,
    'incapsule',
    `in-capsule size ${o.inCapsuleBytes} must be a multiple of 16 up to 1 MiB`,
  );
  must(
    isUint(o.maxH2CDataBytes) && o.maxH2CDataBytes >= 4096 && o.maxH2CDataBytes % 4 === 0 && o.maxH2CDataBytes <= 0xffffffff,
    'maxh2cdata',
    `MAXH2CDATA ${o.maxH2CDataBytes} must be a multiple of 4, at least 4096`,
  );
  must(
    isUint(o.maxIoBytes) &&
      (o.maxIoBytes === 0 ||
        (o.maxIoBytes >= 4096 && (o.maxIoBytes & (o.maxIoBytes - 1)) === 0 && o.maxIoBytes <= HARD_MAX_TRANSFER_BYTES)),
    'max-io',
    `max I/O ${o.maxIoBytes} must be 0 (no MDTS) or a power of two from 4096 to ${HARD_MAX_TRANSFER_BYTES}`,
  );
  must(isUint(o.maxIoQueues) && o.maxIoQueues >= 1 && o.maxIoQueues <= 65534, 'queues', `I/O queue count ${o.maxIoQueues} is not in 1..65534`);
  must(isUint(o.maxQueueSize) && o.maxQueueSize >= 2 && o.maxQueueSize <= 65536, 'queue-size', `queue size ${o.maxQueueSize} is not in 2..65536`);
  must(isUint(o.readyDelayMs) && o.readyDelayMs <= 60_000, 'ready-delay-ms', `ready delay ${o.readyDelayMs} ms is not in 0..60000`);
  must(isUint(o.kasMs) && o.kasMs >= 100 && o.kasMs % 100 === 0 && o.kasMs <= 6_553_500, 'kas-ms', `KAS ${o.kasMs} ms must be a multiple of 100`);
  if (o.hostile !== undefined) {
    must(
      isUint(o.hostile.qid) && o.hostile.qid >= 1 && o.hostile.qid <= o.maxIoQueues,
      'hostile',
      `hostile QID ${o.hostile.qid} is not an I/O queue of this target (1..${o.maxIoQueues})`,
    );
    must(isUint(o.hostile.after), 'hostile', `hostile after=${o.hostile.after} is not a count`);
  }
  return o;
}

/** MDTS field of Identify Controller: log2 of the max transfer in units of 4 KiB (CAP.MPSMIN), 0 = no limit. */
export function mdtsOf(o: TargetOptions): number {
  return o.maxIoBytes === 0 ? 0 : Math.log2(o.maxIoBytes / 4096);
}

/** Largest transfer the target actually accepts. */
export function maxTransferBytes(o: TargetOptions): number {
  return o.maxIoBytes === 0 ? HARD_MAX_TRANSFER_BYTES : o.maxIoBytes;
}

/** In-capsule data accepted on a queue: the admin queue always takes 8 KiB (Linux host's admin capsule). */
export function inCapsuleLimit(o: TargetOptions, qid: number): number {
  return qid === 0 ? Math.max(o.inCapsuleBytes, 8 * KIB) : o.inCapsuleBytes;
}

export function digestAllows(o: TargetOptions, kind: 'header' | 'data'): boolean {
  return o.digest === 'both' || o.digest === kind;
}
