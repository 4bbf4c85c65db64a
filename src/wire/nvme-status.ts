/**
 * NVMe completion status values (NVMe Base spec "Status Field"; NVMe-oF spec
 * for the Fabrics command-specific codes).
 *
 * ddplab carries a status as one number: Status Code Type in bits 10:8 and
 * Status Code in bits 7:0 — the CQE status field without its phase bit, CRD,
 * More and DNR. It is the form Linux's NVME_SC_* and SPDK compare against, so
 * `0x182` reads as "SCT 1, SC 0x82" everywhere. The CQE codec (nvme-cqe.ts)
 * carries CRD/More/DNR beside it.
 */

/** An NVMe status: `(SCT << 8) | SC`, 0..0x7ff. */
export type NvmeStatus = number;

/** Status Code Types. */
export const NvmeSct = {
  GENERIC: 0x0,
  COMMAND_SPECIFIC: 0x1,
  MEDIA: 0x2,
  PATH: 0x3,
  VENDOR: 0x7,
} as const;

/**
 * The statuses ddplab's target and host produce or must recognise, as
 * `(SCT << 8) | SC`. Command-specific codes (SCT 1) mean different things for
 * different commands: 0x180..0x184 are the Fabrics Connect codes here, the
 * same numbers as NVM command set codes (e.g. 0x182 is also "Attempted Write
 * to Read Only Range"); statusToString() takes the opcode to tell them apart.
 */
export const NvmeSc = {
  // SCT 0: generic command status
  SUCCESS: 0x000,
  INVALID_OPCODE: 0x001,
  INVALID_FIELD: 0x002,
  CMDID_CONFLICT: 0x003,
  DATA_XFER_ERROR: 0x004,
  POWER_LOSS: 0x005,
  INTERNAL: 0x006,
  ABORT_REQ: 0x007,
  ABORT_QUEUE: 0x008,
  INVALID_NS: 0x00b,
  CMD_SEQ_ERROR: 0x00c,
  SGL_INVALID_LAST: 0x00d,
  SGL_INVALID_COUNT: 0x00e,
  SGL_INVALID_DATA: 0x00f,
  SGL_INVALID_METADATA: 0x010,
  SGL_INVALID_TYPE: 0x011,
  SGL_INVALID_OFFSET: 0x016,
  SGL_INVALID_SUBTYPE: 0x017,
  HOST_ID_INCONSIST: 0x018,
  KA_TIMEOUT_EXPIRED: 0x019,
  KA_TIMEOUT_INVALID: 0x01a,
  TRANSIENT_TR_ERR: 0x022,
  // SCT 0, 0x80..0xbf: NVM command set generic status
  LBA_RANGE: 0x080,
  CAP_EXCEEDED: 0x081,
  NS_NOT_READY: 0x082,
  RESERVATION_CONFLICT: 0x083,
  // SCT 1: command specific
  CQ_INVALID: 0x100,
  QID_INVALID: 0x101,
  QUEUE_SIZE: 0x102,
  // SCT 1, Fabrics Connect
  CONNECT_FORMAT: 0x180,
  CONNECT_CTRL_BUSY: 0x181,
  CONNECT_INVALID_PARAM: 0x182,
  CONNECT_RESTART_DISC: 0x183,
  CONNECT_INVALID_HOST: 0x184,
  DISCOVERY_RESTART: 0x190,
  AUTH_REQUIRED: 0x191,
  // SCT 2: media and data integrity
  WRITE_FAULT: 0x280,
  READ_ERROR: 0x281,
  GUARD_CHECK: 0x282,
  APPTAG_CHECK: 0x283,
  REFTAG_CHECK: 0x284,
  COMPARE_FAILED: 0x285,
  ACCESS_DENIED: 0x286,
  UNWRITTEN_BLOCK: 0x287,
  // SCT 3: path related
  INTERNAL_PATH_ERROR: 0x300,
  HOST_PATH_ERROR: 0x370,
  HOST_ABORTED_CMD: 0x371,
} as const;

/** Names of the SCT 1 codes 0x180..0x183 when the command is not a Fabrics command (NVM command set). */
const NVM_CMD_SPECIFIC_NAMES: ReadonlyMap<number, string> = new Map([
  [0x180, 'CONFLICTING_ATTRIBUTES'],
  [0x181, 'INVALID_PI'],
  [0x182, 'READ_ONLY'],
  [0x183, 'SIZE_EXCEEDED'],
]);

const NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(NvmeSc).map(([name, value]) => [value, name] as const),
);

const FABRICS_OPCODE = 0x7f;

/** Packs a Status Code Type and Status Code into an NvmeStatus. */
export function nvmeStatus(sct: number, sc: number): NvmeStatus {
  return ((sct & 0x7) << 8) | (sc & 0xff);
}

/** Status Code Type (0..7) of a status. */
export function statusSct(status: NvmeStatus): number {
  return (status >> 8) & 0x7;
}

/** Status Code (0..255) of a status. */
export function statusSc(status: NvmeStatus): number {
  return status & 0xff;
}

/**
 * One-line description: `CONNECT_INVALID_PARAM (SCT 0x1 SC 0x82)`, or
 * `unknown (SCT 0x2 SC 0x99)`. `opcode`, when given and not the Fabrics
 * opcode 0x7f, selects the NVM command set meaning of SCT 1 codes 0x180..0x183;
 * without it the Fabrics Connect meaning is used, since Connect is the only
 * command ddplab completes with those codes.
 */
export function statusToString(status: NvmeStatus, opcode?: number): string {
  const s = status & 0x7ff;
  const where = `SCT 0x${statusSct(s).toString(16)} SC 0x${statusSc(s).toString(16).padStart(2, '0')}`;
  // 0x180..0x1bf are I/O command set specific: Fabrics codes for opcode 0x7f, NVM codes otherwise.
  const ioSpecific = s >= 0x180 && s <= 0x1bf && opcode !== undefined && opcode !== FABRICS_OPCODE;
  const name = (ioSpecific ? NVM_CMD_SPECIFIC_NAMES.get(s) : NAMES.get(s)) ?? 'unknown';
  return `${name} (${where})`;
}
