/**
 * The control messages devmem recvmsg writes, as bytes — what a consumer of
 * MSG_SOCK_DEVMEM parses on 64-bit Linux (include/uapi/linux/uio.h,
 * net/core/scm.c; layout read at v6.18, written here in our own terms):
 *
 *  - every message is a cmsghdr (cmsg_len: u64, cmsg_level: i32,
 *    cmsg_type: i32 — 16 bytes) followed by the data, the next header
 *    starting at the next multiple of 8;
 *  - devmem's data is a 24-byte dmabuf_cmsg: frag_offset u64, frag_size u32,
 *    frag_token u32, dmabuf_id u32, flags u32 (host byte order: little
 *    endian here);
 *  - SCM_DEVMEM_LINEAR carries in frag_size the bytes copied into the
 *    caller's buffer (the rest zero), SCM_DEVMEM_DMABUF a frag left in the
 *    dmabuf;
 *  - room is counted in bytes: a message is written only when the space left
 *    holds CMSG_LEN(24) = 40 bytes, never truncated (the kernel's
 *    put_cmsg_notrunc), and uses CMSG_SPACE(24) = 40 of it.
 *
 * `CmsgWriter` is the kernel's side, `cmsgs()` / `decodeDmabufCmsg()` the
 * consumer's CMSG_FIRSTHDR / CMSG_NXTHDR walk.
 */

export const SOL_SOCKET = 1;
export const SO_DEVMEM_LINEAR = 78;
export const SCM_DEVMEM_LINEAR = SO_DEVMEM_LINEAR;
export const SO_DEVMEM_DMABUF = 79;
export const SCM_DEVMEM_DMABUF = SO_DEVMEM_DMABUF;
export const SO_DEVMEM_DONTNEED = 80;
export const MSG_SOCK_DEVMEM = 0x2000000;
export const MSG_CTRUNC = 0x8;
/** The kernel-internal errno recvmsg returns when not one descriptor fits. */
export const ETOOSMALL = 525;

/** sizeof(struct cmsghdr) on 64-bit Linux. */
export const CMSG_HDR_BYTES = 16;
/** sizeof(struct dmabuf_cmsg). */
export const DMABUF_CMSG_BYTES = 24;

export function cmsgAlign(n: number): number {
  return (n + 7) & ~7;
}

/** CMSG_LEN(n): header plus `n` data bytes. */
export function cmsgLen(n: number): number {
  return CMSG_HDR_BYTES + n;
}

/** CMSG_SPACE(n): what one message with `n` data bytes takes in the buffer. */
export function cmsgSpace(n: number): number {
  return CMSG_HDR_BYTES + cmsgAlign(n);
}

/** One devmem descriptor as its cmsg says it. */
export interface DmabufCmsg {
  readonly fragOffset: number;
  readonly fragSize: number;
  readonly fragToken: number;
  readonly dmabufId: number;
  readonly flags: number;
}

/** Writes devmem cmsgs into a control buffer of `controllen` bytes the way recvmsg fills msg_control. */
export class CmsgWriter {
  readonly buf: Buffer;
  private at = 0;

  constructor(readonly controllen: number) {
    if (!Number.isInteger(controllen) || controllen < 0) throw new RangeError(`msg_controllen ${controllen} is not a non-negative integer`);
    this.buf = Buffer.alloc(controllen);
  }

  /** Bytes left (msg_controllen after the messages written so far). */
  get left(): number {
    return this.controllen - this.at;
  }

  /** True when one more dmabuf_cmsg fits whole. */
  get fits(): boolean {
    return this.left >= cmsgLen(DMABUF_CMSG_BYTES);
  }

  /** Appends one message; false (nothing written) when it would not fit whole. */
  put(type: number, c: DmabufCmsg): boolean {
    if (!this.fits) return false;
    const b = this.buf;
    const o = this.at;
    b.writeBigUInt64LE(BigInt(cmsgLen(DMABUF_CMSG_BYTES)), o);
    b.writeInt32LE(SOL_SOCKET, o + 8);
    b.writeInt32LE(type, o + 12);
    const d = o + CMSG_HDR_BYTES;
    b.writeBigUInt64LE(BigInt(c.fragOffset), d);
    b.writeUInt32LE(c.fragSize >>> 0, d + 8);
    b.writeUInt32LE(c.fragToken >>> 0, d + 12);
    b.writeUInt32LE(c.dmabufId >>> 0, d + 16);
    b.writeUInt32LE(c.flags >>> 0, d + 20);
    this.at += Math.min(cmsgSpace(DMABUF_CMSG_BYTES), this.left);
    return true;
  }

  /** The bytes written (what the caller's msg_controllen says after the call). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.at);
  }
}

/** One control message as a consumer walks it. */
export interface Cmsg {
  readonly level: number;
  readonly type: number;
  readonly data: Buffer;
}

/** CMSG_FIRSTHDR / CMSG_NXTHDR over `control`: stops at a header that does not fit or claims less than a header. */
export function* cmsgs(control: Buffer): Generator<Cmsg> {
  let at = 0;
  while (at + CMSG_HDR_BYTES <= control.length) {
    const len = Number(control.readBigUInt64LE(at));
    if (len < CMSG_HDR_BYTES || at + len > control.length) return;
    yield { level: control.readInt32LE(at + 8), type: control.readInt32LE(at + 12), data: control.subarray(at + CMSG_HDR_BYTES, at + len) };
    at += cmsgAlign(len);
  }
}

/** The dmabuf_cmsg in a message's data; undefined when the data is not 24 bytes. */
export function decodeDmabufCmsg(data: Buffer): DmabufCmsg | undefined {
  if (data.length !== DMABUF_CMSG_BYTES) return undefined;
  return {
    fragOffset: Number(data.readBigUInt64LE(0)),
    fragSize: data.readUInt32LE(8),
    fragToken: data.readUInt32LE(12),
    dmabufId: data.readUInt32LE(16),
    flags: data.readUInt32LE(20),
  };
}
