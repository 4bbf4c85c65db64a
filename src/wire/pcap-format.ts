/**
 * What every capture reader here shares: the record a reader yields, the
 * summary header it exposes, the classic pcap file header (layout, magics,
 * parse), the link-type check and the one-line errors.
 *
 * Classic pcap file header, 24 bytes, in the writer's byte order:
 *   magic u32 @0 (a1b2c3d4 µs, a1b23c4d ns), version_major u16 @4 (2),
 *   version_minor u16 @6 (4), thiszone i32 @8, sigfigs u32 @12,
 *   snaplen u32 @16, linktype u32 @20
 * Record header, 16 bytes, then caplen bytes of frame:
 *   ts_sec u32 @0, ts_usec/ts_nsec u32 @4, caplen u32 @8, len u32 @12
 *
 * pcapng is described in pcapng.ts. ddplab replays Ethernet frames only.
 */
import { WireError } from './errors.js';

/** Size of the pcap file header. */
export const PCAP_FILE_HEADER_LEN = 24;
/** Size of a pcap record header. */
export const PCAP_RECORD_HEADER_LEN = 16;
/** Snaplen the writer uses (tcpdump's default): frames longer than this are cut. */
export const PCAP_DEFAULT_SNAPLEN = 262144;
/** LINKTYPE_ETHERNET: the only link type ddplab reads. */
export const LINKTYPE_ETHERNET = 1;
/** LINKTYPE_LINUX_SLL: Linux cooked capture, what `tcpdump -i any` writes. */
export const LINKTYPE_LINUX_SLL = 113;

/** Magic numbers: a file's first four bytes, read as a u32 in the file's own byte order. */
export const Magic = {
  /** pcap with microsecond timestamps. */
  USEC: 0xa1b2c3d4,
  /** pcap with nanosecond timestamps. */
  NSEC: 0xa1b23c4d,
  /** First block type of a pcapng file (Section Header Block); the same bytes in either byte order. */
  PCAPNG: 0x0a0d0d0a,
  /** Alexey Kuznetzov's modified pcap (extra record fields), which ddplab cannot read. */
  MODIFIED: 0xa1b2cd34,
} as const;

// File header offsets.
export const HeaderField = { MAGIC: 0, VERSION_MAJOR: 4, VERSION_MINOR: 6, THISZONE: 8, SIGFIGS: 12, SNAPLEN: 16, LINKTYPE: 20 } as const;

// Record header offsets.
export const RecordField = { TS_SEC: 0, TS_FRAC: 4, CAPLEN: 8, LEN: 12 } as const;

/** Names for the link types people feed ddplab by mistake, for the PCAP_LINKTYPE message. */
const LINKTYPE_NAMES: ReadonlyMap<number, string> = new Map([
  [0, 'NULL, BSD loopback'],
  [101, 'RAW, bare IP packets without an Ethernet header'],
  [105, 'IEEE802_11, Wi-Fi'],
  [LINKTYPE_LINUX_SLL, 'LINUX_SLL, Linux cooked capture as from "tcpdump -i any"'],
  [127, 'IEEE802_11_RADIOTAP, Wi-Fi with radiotap'],
  [228, 'IPV4, bare IPv4 packets'],
  [229, 'IPV6, bare IPv6 packets'],
  [276, 'LINUX_SLL2, Linux cooked capture v2 as from "tcpdump -i any"'],
]);

/**
 * What a capture's header says. For pcap, the file header; for pcapng, the
 * first Section Header Block and the first Interface Description Block (a
 * pcapng file may hold several sections and interfaces: each record is read
 * by its own).
 */
export interface PcapFileHeader {
  readonly format: 'pcap' | 'pcapng';
  /** Byte order of the header fields (pcapng: of the first section). */
  readonly byteOrder: 'LE' | 'BE';
  /**
   * Unit of the record timestamps: 'us' or 'ns' (the pcap magic, or a pcapng
   * if_tsresol of 10^-6 / 10^-9), else '10^-N' or '2^-N' (pcapng).
   */
  readonly tsResolution: string;
  readonly versionMajor: number;
  readonly versionMinor: number;
  /** Largest caplen the capture promised (pcapng: the first interface's, 0 = no limit or no interface yet). */
  readonly snaplen: number;
  /** LINKTYPE_* of the frames (pcapng: of the first interface; -1 before one is known). */
  readonly linkType: number;
}

/** One captured frame. */
export interface PcapRecord {
  /** Seconds since the Unix epoch. */
  readonly tsSec: number;
  /** Fraction of the second in nanoseconds, whatever the file's resolution (µs files give multiples of 1000). */
  readonly tsNsec: number;
  /** Bytes captured: data.length. */
  readonly caplen: number;
  /** Length of the frame on the wire (≥ caplen when the capture cut it at snaplen). */
  readonly len: number;
  /** The captured bytes: a view into the reader's buffer, valid until the caller drops it. */
  readonly data: Buffer;
}

/**
 * A capture cut short (a capture tool killed while writing): the file ends
 * inside a record or block. Everything before it was read; this says what
 * was lost.
 */
export interface CaptureTruncation {
  /** Byte offset of the incomplete record or block. */
  readonly atByte: number;
  /** Bytes of it the file holds (from atByte to the end of the file). */
  readonly bytes: number;
  /** Whole records read before it. */
  readonly records: number;
  /** What was cut: 'pcap record header', 'pcap record', 'pcapng block header', 'pcapng Enhanced Packet Block', ... */
  readonly what: string;
  /** One line saying all this, for a warning. */
  readonly message: string;
}

/** Options for readers. */
export interface PcapReadOptions {
  /** Name used in error messages (default: the path, or "input" for a stream). */
  readonly name?: string;
}

/**
 * Parses and validates a classic pcap file header: PCAP_FORMAT for pcapng,
 * an unknown magic or a version other than 2.x; PCAP_TRUNCATED for fewer
 * than 24 bytes. Does not judge the link type (see requireEthernet).
 */
export function parsePcapFileHeader(buf: Buffer, name = 'input'): PcapFileHeader {
  if (buf.length < 4) throw headerTruncated(buf.length, name);
  const { byteOrder, tsResolution } = classifyPcapMagic(buf, name);
  if (buf.length < PCAP_FILE_HEADER_LEN) throw headerTruncated(buf.length, name);
  const le = byteOrder === 'LE';
  const u16 = (off: number): number => (le ? buf.readUInt16LE(off) : buf.readUInt16BE(off));
  const u32 = (off: number): number => (le ? buf.readUInt32LE(off) : buf.readUInt32BE(off));
  const header: PcapFileHeader = {
    format: 'pcap',
    byteOrder,
    tsResolution,
    versionMajor: u16(HeaderField.VERSION_MAJOR),
    versionMinor: u16(HeaderField.VERSION_MINOR),
    snaplen: u32(HeaderField.SNAPLEN),
    linkType: u32(HeaderField.LINKTYPE),
  };
  if (header.versionMajor !== 2) {
    throw new WireError(
      'PCAP_FORMAT',
      `${name}: pcap version ${header.versionMajor}.${header.versionMinor} is not 2.x; ddplab reads classic pcap 2.4 and pcapng (convert with: editcap -F pcap ${name} ${pcapOutName(name)})`,
      { field: 'version_major', expected: 2, got: header.versionMajor },
    );
  }
  return header;
}

/** What a file's first four bytes make it: pcap (with its byte order and unit) or pcapng; PCAP_FORMAT otherwise. */
export function sniffMagic(buf: Buffer, name: string): 'pcap' | 'pcapng' {
  if (buf.readUInt32BE(0) === Magic.PCAPNG) return 'pcapng';
  classifyPcapMagic(buf, name);
  return 'pcap';
}

/** Throws PCAP_LINKTYPE unless the file's (or the interface's) frames are Ethernet. */
export function requireEthernet(header: Pick<PcapFileHeader, 'linkType'>, name = 'input', where = ''): void {
  if (header.linkType === LINKTYPE_ETHERNET) return;
  const what = LINKTYPE_NAMES.get(header.linkType);
  throw new WireError(
    'PCAP_LINKTYPE',
    `${name}: ${where}link type ${header.linkType}${what ? ` (${what})` : ''} is not Ethernet (1); ddplab replays Ethernet frames only — capture on the interface itself, e.g. tcpdump -i host0 -w ${name}`,
    { field: 'linktype', expected: LINKTYPE_ETHERNET, got: header.linkType },
  );
}

function classifyPcapMagic(buf: Buffer, name: string): { byteOrder: 'LE' | 'BE'; tsResolution: 'us' | 'ns' } {
  const be = buf.readUInt32BE(HeaderField.MAGIC);
  const le = buf.readUInt32LE(HeaderField.MAGIC);
  if (be === Magic.USEC) return { byteOrder: 'BE', tsResolution: 'us' };
  if (le === Magic.USEC) return { byteOrder: 'LE', tsResolution: 'us' };
  if (be === Magic.NSEC) return { byteOrder: 'BE', tsResolution: 'ns' };
  if (le === Magic.NSEC) return { byteOrder: 'LE', tsResolution: 'ns' };
  const got = `0x${be.toString(16).padStart(8, '0')}`;
  const detail = { field: 'magic', expected: 'a1b2c3d4, a1b23c4d or 0a0d0d0a', got };
  if (be === Magic.MODIFIED || le === Magic.MODIFIED) {
    throw new WireError(
      'PCAP_FORMAT',
      `${name} is a modified (Kuznetzov) pcap file; ddplab reads classic pcap and pcapng — convert with: editcap -F pcapng ${name} ${name}.pcapng`,
      detail,
    );
  }
  throw new WireError('PCAP_FORMAT', `${name} is not a capture (magic ${got}); ddplab reads pcap and pcapng files`, detail);
}

/** The output name suggested in "convert with": foo.pcapng → foo.pcap, anything else → +.pcap. */
function pcapOutName(name: string): string {
  return name.endsWith('.pcapng') ? name.slice(0, -'ng'.length) : `${name}.pcap`;
}

/** A file too short for the header that says what it is. */
export function headerTruncated(got: number, name: string, what = `${PCAP_FILE_HEADER_LEN}-byte pcap file header`): WireError {
  if (got === 0) {
    return new WireError('PCAP_TRUNCATED', `${name} is empty: not a pcap or pcapng capture`, { field: 'file header', expected: what, got: 0 });
  }
  return new WireError('PCAP_TRUNCATED', `${name}: ${got} bytes, shorter than the ${what}`, {
    field: 'file header',
    expected: what.startsWith(`${PCAP_FILE_HEADER_LEN}-`) ? PCAP_FILE_HEADER_LEN : what,
    got,
  });
}

/** A frame to write with its capture time. */
export interface PcapFrame {
  readonly data: Uint8Array;
  /** Capture time in ms since the Unix epoch; fractions keep microseconds. */
  readonly tsMs: number;
}
