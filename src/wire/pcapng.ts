/**
 * pcapng: the block layout, the parts of blocks a reader needs (interface
 * options, timestamps), and a builder for hand-made files (tests, fuzz seeds).
 * The reader itself is capture-reader.ts (one decoder for pcap and pcapng).
 *
 * A file is a sequence of blocks, each
 *   block type u32 @0, block total length u32 @4, body, block total length u32 @len-4
 * with the total length a multiple of 4 and at least 12, every field in the
 * byte order of the section the block belongs to. A section starts with a
 * Section Header Block (type 0a0d0d0a, the same in both orders):
 *   byte-order magic u32 @8 (1a2b3c4d as written), major u16 @12 (1),
 *   minor u16 @14, section length i64 @16, options @24
 * and its interfaces are numbered from 0 in the order of their Interface
 * Description Blocks (type 1):
 *   link type u16 @8, reserved u16 @10, snaplen u32 @12, options @16
 * Packets come in Enhanced Packet Blocks (type 6):
 *   interface u32 @8, timestamp high u32 @12, low u32 @16, caplen u32 @20,
 *   original length u32 @24, data @28 padded to 4, options
 * in Simple Packet Blocks (type 3, interface 0, no timestamp):
 *   original length u32 @8, data @12 padded to 4 — caplen is the smaller of
 *   the original length, the interface's snaplen and what the block holds
 * or, in old files, obsolete Packet Blocks (type 2): interface u16 @8, drops
 * u16 @10, then as an EPB from @12. Every other block (name resolution,
 * interface statistics, decryption secrets, custom...) is skipped by its length.
 *
 * Options: code u16, length u16, value padded to 4; code 0 ends the list.
 * The IDB options a reader needs: if_name (2, UTF-8), if_tsresol (9, one
 * byte: top bit clear → units of 10^-n s, set → 2^-n s; default 10^-6) and
 * if_tsoffset (14, i64 seconds added to every timestamp).
 */
import type { PcapFrame } from './pcap-format.js';
import { LINKTYPE_ETHERNET, PCAP_DEFAULT_SNAPLEN } from './pcap-format.js';

export const PcapngBlock = {
  SHB: 0x0a0d0d0a,
  IDB: 0x00000001,
  OPB: 0x00000002,
  SPB: 0x00000003,
  NRB: 0x00000004,
  ISB: 0x00000005,
  EPB: 0x00000006,
  DSB: 0x0000000a,
  CUSTOM: 0x00000bad,
} as const;

/** The byte-order magic of a Section Header Block, as written. */
export const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;
/** Bytes every block has besides its body: type, length, trailing length. */
export const PCAPNG_BLOCK_OVERHEAD = 12;
/** Smallest SHB (no options), IDB, EPB, SPB, OPB. */
export const PCAPNG_MIN_LEN = { SHB: 28, IDB: 20, EPB: 32, SPB: 16, OPB: 32 } as const;
/**
 * Longest block the reader believes: a length above it is a corrupt file,
 * not a block to wait for (a packet block holds at most one 256 KiB frame).
 */
export const PCAPNG_MAX_BLOCK_LEN = 16 * 1024 * 1024;

const Opt = { END: 0, IF_NAME: 2, IF_TSRESOL: 9, IF_TSOFFSET: 14 } as const;

/** Block names for messages. */
export function pcapngBlockName(type: number): string {
  switch (type) {
    case PcapngBlock.SHB:
      return 'Section Header Block';
    case PcapngBlock.IDB:
      return 'Interface Description Block';
    case PcapngBlock.EPB:
      return 'Enhanced Packet Block';
    case PcapngBlock.SPB:
      return 'Simple Packet Block';
    case PcapngBlock.OPB:
      return 'Packet Block';
    default:
      return `block of type 0x${type.toString(16).padStart(8, '0')}`;
  }
}

/** One interface of a section, as its IDB describes it. */
export interface PcapngInterface {
  readonly linkType: number;
  /** 0: no limit. */
  readonly snaplen: number;
  /** The if_tsresol byte (default 6: microseconds). */
  readonly tsresol: number;
  /** Seconds added to every timestamp (if_tsoffset). */
  readonly tsOffsetSec: bigint;
  readonly name: string | undefined;
}

/** The if_tsresol byte as a unit name: 'us', 'ns', '10^-N' or '2^-N'. */
export function tsresolName(tsresol: number): string {
  if (tsresol === 6) return 'us';
  if (tsresol === 9) return 'ns';
  return (tsresol & 0x80) !== 0 ? `2^-${tsresol & 0x7f}` : `10^-${tsresol}`;
}

/**
 * Reads an IDB's options (from `off` to `end`, in the section's byte order).
 * Returns undefined fields for absent options; an option running past the
 * block is an error string (the caller makes it a PCAP_FORMAT).
 */
export function readIdbOptions(
  buf: Buffer,
  off: number,
  end: number,
  le: boolean,
): { tsresol?: number; tsOffsetSec?: bigint; name?: string } | string {
  const out: { tsresol?: number; tsOffsetSec?: bigint; name?: string } = {};
  while (off + 4 <= end) {
    const code = le ? buf.readUInt16LE(off) : buf.readUInt16BE(off);
    const len = le ? buf.readUInt16LE(off + 2) : buf.readUInt16BE(off + 2);
    if (code === Opt.END) break;
    const value = off + 4;
    if (value + len > end) return `option ${code} (${len} bytes) runs past the end of the block`;
    if (code === Opt.IF_TSRESOL && len >= 1) out.tsresol = buf[value]!;
    else if (code === Opt.IF_TSOFFSET && len >= 8) out.tsOffsetSec = le ? buf.readBigInt64LE(value) : buf.readBigInt64BE(value);
    else if (code === Opt.IF_NAME) out.name = buf.toString('utf8', value, value + len).replace(/\0+$/, '');
    off = value + ((len + 3) & ~3);
  }
  return out;
}

const NS_PER_S = 1_000_000_000n;

/** A 64-bit pcapng timestamp in the interface's units → seconds and nanoseconds since the epoch. */
export function pcapngTimestamp(high: number, low: number, iface: PcapngInterface): { tsSec: number; tsNsec: number } {
  // Microseconds and nanoseconds, by far the most common, stay in doubles while exact (< 2^53).
  if (iface.tsOffsetSec === 0n && high < 0x200000) {
    const units = high * 0x1_0000_0000 + low;
    if (iface.tsresol === 6) {
      const sec = Math.floor(units / 1e6);
      return { tsSec: sec, tsNsec: (units - sec * 1e6) * 1000 };
    }
    if (iface.tsresol === 9) {
      const sec = Math.floor(units / 1e9);
      return { tsSec: sec, tsNsec: units - sec * 1e9 };
    }
  }
  const units = (BigInt(high) << 32n) | BigInt(low);
  const r = iface.tsresol;
  let sec: bigint;
  let nsec: bigint;
  if ((r & 0x80) !== 0) {
    const shift = BigInt(r & 0x7f);
    sec = units >> shift;
    nsec = ((units & ((1n << shift) - 1n)) * NS_PER_S) >> shift;
  } else {
    const perSec = 10n ** BigInt(r);
    sec = units / perSec;
    nsec = ((units % perSec) * NS_PER_S) / perSec;
  }
  return { tsSec: Number(sec + iface.tsOffsetSec), tsNsec: Number(nsec) };
}

// ---- Building files (tests, fuzz seeds) ----

/** A block to build. Byte order: that of the latest 'shb' (default little-endian). */
export type PcapngBuildBlock =
  | { readonly kind: 'shb'; readonly byteOrder?: 'LE' | 'BE'; readonly versionMajor?: number }
  | {
      readonly kind: 'idb';
      readonly linkType?: number;
      readonly snaplen?: number;
      /** if_tsresol byte; absent: no option (microseconds). */
      readonly tsresol?: number;
      readonly tsOffsetSec?: bigint;
      readonly name?: string;
    }
  /** ts in the interface's units. */
  | { readonly kind: 'epb'; readonly iface?: number; readonly ts: bigint; readonly data: Uint8Array; readonly origLen?: number }
  | { readonly kind: 'spb'; readonly data: Uint8Array; readonly origLen?: number }
  /** Any other block, body as given (padded to 4). */
  | { readonly kind: 'raw'; readonly type: number; readonly body: Uint8Array };

class BlockWriter {
  le = true;
  readonly parts: Buffer[] = [];
  block(type: number, body: Buffer): void {
    const padded = (body.length + 3) & ~3;
    const len = PCAPNG_BLOCK_OVERHEAD + padded;
    const b = Buffer.alloc(len);
    this.u32(b, 0, type);
    this.u32(b, 4, len);
    body.copy(b, 8);
    this.u32(b, len - 4, len);
    this.parts.push(b);
  }
  u32(b: Buffer, off: number, v: number): void {
    if (this.le) b.writeUInt32LE(v >>> 0, off);
    else b.writeUInt32BE(v >>> 0, off);
  }
  u16(b: Buffer, off: number, v: number): void {
    if (this.le) b.writeUInt16LE(v, off);
    else b.writeUInt16BE(v, off);
  }
  option(code: number, value: Buffer): Buffer {
    const o = Buffer.alloc(4 + ((value.length + 3) & ~3));
    this.u16(o, 0, code);
    this.u16(o, 2, value.length);
    value.copy(o, 4);
    return o;
  }
}

/** Encodes blocks as a pcapng file. */
export function buildPcapngFile(blocks: Iterable<PcapngBuildBlock>): Buffer {
  const w = new BlockWriter();
  for (const blk of blocks) {
    switch (blk.kind) {
      case 'shb': {
        w.le = blk.byteOrder !== 'BE';
        const body = Buffer.alloc(16);
        w.u32(body, 0, PCAPNG_BYTE_ORDER_MAGIC);
        w.u16(body, 4, blk.versionMajor ?? 1);
        w.u16(body, 6, 0);
        body.writeBigInt64LE(-1n, 8); // section length unknown: -1 reads the same in both orders
        w.block(PcapngBlock.SHB, body);
        break;
      }
      case 'idb': {
        const fixed = Buffer.alloc(8);
        w.u16(fixed, 0, blk.linkType ?? LINKTYPE_ETHERNET);
        w.u32(fixed, 4, blk.snaplen ?? PCAP_DEFAULT_SNAPLEN);
        const opts: Buffer[] = [];
        if (blk.name !== undefined) opts.push(w.option(Opt.IF_NAME, Buffer.from(blk.name, 'utf8')));
        if (blk.tsresol !== undefined) opts.push(w.option(Opt.IF_TSRESOL, Buffer.from([blk.tsresol])));
        if (blk.tsOffsetSec !== undefined) {
          const v = Buffer.alloc(8);
          if (w.le) v.writeBigInt64LE(blk.tsOffsetSec);
          else v.writeBigInt64BE(blk.tsOffsetSec);
          opts.push(w.option(Opt.IF_TSOFFSET, v));
        }
        if (opts.length > 0) opts.push(Buffer.alloc(4)); // opt_endofopt
        w.block(PcapngBlock.IDB, Buffer.concat([fixed, ...opts]));
        break;
      }
      case 'epb': {
        const body = Buffer.alloc(20 + ((blk.data.length + 3) & ~3));
        w.u32(body, 0, blk.iface ?? 0);
        w.u32(body, 4, Number(blk.ts >> 32n));
        w.u32(body, 8, Number(blk.ts & 0xffff_ffffn));
        w.u32(body, 12, blk.data.length);
        w.u32(body, 16, blk.origLen ?? blk.data.length);
        body.set(blk.data, 20);
        w.block(PcapngBlock.EPB, body);
        break;
      }
      case 'spb': {
        const body = Buffer.alloc(4 + ((blk.data.length + 3) & ~3));
        w.u32(body, 0, blk.origLen ?? blk.data.length);
        body.set(blk.data, 4);
        w.block(PcapngBlock.SPB, body);
        break;
      }
      case 'raw':
        w.block(blk.type, Buffer.from(blk.body));
        break;
    }
  }
  return Buffer.concat(w.parts);
}

/** Ethernet frames as a one-section, one-interface pcapng file (microsecond timestamps unless `tsresol` says). */
export function buildPcapngFromFrames(frames: Iterable<PcapFrame>, opts: { byteOrder?: 'LE' | 'BE'; tsresol?: number } = {}): Buffer {
  const r = opts.tsresol ?? 6;
  const blocks: PcapngBuildBlock[] = [
    { kind: 'shb', byteOrder: opts.byteOrder ?? 'LE' },
    { kind: 'idb', ...(opts.tsresol !== undefined ? { tsresol: r } : {}) },
  ];
  for (const f of frames) {
    // Whole milliseconds and the fraction apart: tsMs * 1e6 as a double would lose nanoseconds.
    const ms = Math.floor(f.tsMs);
    const ns = BigInt(ms) * 1_000_000n + BigInt(Math.round((f.tsMs - ms) * 1e6));
    const ts = (r & 0x80) !== 0 ? (ns << BigInt(r & 0x7f)) / NS_PER_S : r <= 9 ? ns / 10n ** BigInt(9 - r) : ns * 10n ** BigInt(r - 9);
    blocks.push({ kind: 'epb', ts, data: f.data });
  }
  return buildPcapngFile(blocks);
}
