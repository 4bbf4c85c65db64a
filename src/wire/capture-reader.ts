/**
 * The one capture reader: classic pcap (both byte orders, µs and ns magics)
 * and pcapng (several sections of either byte order, interfaces with their
 * own link type, snaplen and timestamp unit; Enhanced, Simple and obsolete
 * Packet Blocks; every other block skipped by its length). The format is
 * told by the first four bytes.
 *
 * CaptureDecoder decodes one unit at a time — the pcap file header, a pcap
 * record, a pcapng block — out of whatever bytes it is shown, and says how
 * many bytes a unit needs when it is shown fewer. The whole-buffer reader
 * (decodeCapture) and the streaming one (openCapture) both drive it, so
 * there is a single decoder.
 *
 * What is refused, one line each (WireError):
 *   PCAP_FORMAT    not a capture (unknown magic), pcap version not 2.x, pcapng
 *                  version not 1.x, a block length or caplen no writer makes,
 *                  a packet naming an interface its section does not have
 *   PCAP_TRUNCATED a file shorter than its own header (pcap file header,
 *                  pcapng first Section Header Block), an empty file
 *   PCAP_LINKTYPE  a pcap file that is not Ethernet; a packet on a pcapng
 *                  interface that is not Ethernet (naming the interface)
 * A file that ends inside a record or block after its header — a capture
 * tool killed while writing — is not an error: everything before the cut
 * is read and `truncated` says what was lost.
 */
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { WireError } from './errors.js';
import {
  headerTruncated,
  Magic,
  parsePcapFileHeader,
  PCAP_DEFAULT_SNAPLEN,
  PCAP_FILE_HEADER_LEN,
  PCAP_RECORD_HEADER_LEN,
  RecordField,
  requireEthernet,
  sniffMagic,
  type CaptureTruncation,
  type PcapFileHeader,
  type PcapReadOptions,
  type PcapRecord,
} from './pcap-format.js';
import {
  PCAPNG_BYTE_ORDER_MAGIC,
  PCAPNG_MAX_BLOCK_LEN,
  PCAPNG_MIN_LEN,
  PcapngBlock,
  pcapngBlockName,
  pcapngTimestamp,
  readIdbOptions,
  tsresolName,
  type PcapngInterface,
} from './pcapng.js';

/** Bytes asked of a file per read when the reader opens it by path. */
const READ_CHUNK_BYTES = 1 << 20;

export type { CaptureTruncation, PcapFileHeader, PcapRecord } from './pcap-format.js';

/**
 * Decodes a capture one unit at a time. step(buf, off) looks at buf from
 * off: it returns the bytes of the unit it decoded there (> 0; `record` is
 * set when the unit was a packet), or minus the bytes the unit needs when
 * buf holds fewer. Throws WireError (see the top of the file).
 */
export class CaptureDecoder {
  /** Known once the pcap file header or the first pcapng SHB is decoded. */
  header: PcapFileHeader | undefined;
  /** The record the latest step() decoded, else undefined. */
  record: PcapRecord | undefined;
  /** Records decoded so far. */
  records = 0;
  /** File offset of the next unit. */
  offset = 0;
  private format: 'pcap' | 'pcapng' | undefined;
  private le = true;
  private nsec = false;
  private snaplen = 0;
  /** pcapng: the current section's interfaces, and the sections seen. */
  private ifaces: PcapngInterface[] = [];
  private sections = 0;
  /** Timestamp of the latest packet (a Simple Packet Block has none of its own). */
  private lastTs = { tsSec: 0, tsNsec: 0 };
  /** The unit at `offset` when a step asked for more: what it is and what it needs. */
  private pending = { what: '', need: 0 };

  constructor(readonly name = 'input') {}

  step(buf: Buffer, off: number): number {
    this.record = undefined;
    const avail = buf.length - off;
    if (this.format === undefined) {
      if (avail < 4) return this.more('file magic', 4);
      this.format = sniffMagic(buf.subarray(off, off + 4), this.name);
    }
    const used = this.format === 'pcap' ? this.stepPcap(buf, off, avail) : this.stepPcapng(buf, off, avail);
    if (used > 0) {
      this.offset += used;
      if (this.record !== undefined) this.records++;
    }
    return used;
  }

  /**
   * The input ended with `left` bytes after the last whole unit. Throws
   * PCAP_TRUNCATED if the header itself is incomplete; returns what a cut
   * in a record or block lost, or undefined if the file ended cleanly.
   */
  finish(left: number): CaptureTruncation | undefined {
    if (this.header === undefined) {
      if (this.format === undefined) throw headerTruncated(left, this.name, '4-byte magic of a pcap or pcapng file');
      if (this.format === 'pcapng') throw headerTruncated(left, this.name, 'pcapng Section Header Block it starts with');
      throw headerTruncated(left, this.name);
    }
    if (left === 0) return undefined;
    const { what, need } = this.pending;
    return {
      atByte: this.offset,
      bytes: left,
      records: this.records,
      what,
      message: `${this.name} is cut short: it ends ${left} of ${need} bytes into a ${what} at byte ${this.offset}; the ${this.records} whole records before it were read`,
    };
  }

  private more(what: string, need: number): number {
    this.pending = { what, need };
    return -need;
  }

  private u16(buf: Buffer, off: number): number {
    return this.le ? buf.readUInt16LE(off) : buf.readUInt16BE(off);
  }

  private u32(buf: Buffer, off: number): number {
    return this.le ? buf.readUInt32LE(off) : buf.readUInt32BE(off);
  }

  private stepPcap(buf: Buffer, off: number, avail: number): number {
    if (this.header === undefined) {
      if (avail < PCAP_FILE_HEADER_LEN) return this.more('pcap file header', PCAP_FILE_HEADER_LEN);
      const h = parsePcapFileHeader(buf.subarray(off, off + PCAP_FILE_HEADER_LEN), this.name);
      requireEthernet(h, this.name);
      this.header = h;
      this.le = h.byteOrder === 'LE';
      this.nsec = h.tsResolution === 'ns';
      this.snaplen = h.snaplen;
      return PCAP_FILE_HEADER_LEN;
    }
    if (avail < PCAP_RECORD_HEADER_LEN) return this.more('pcap record header', PCAP_RECORD_HEADER_LEN);
    const caplen = this.u32(buf, off + RecordField.CAPLEN);
    // A record claiming more bytes than any capture would hold means a corrupt file, not a long frame.
    const limit = Math.max(this.snaplen, PCAP_DEFAULT_SNAPLEN);
    if (caplen > limit) {
      const index = this.records;
      throw new WireError(
        'PCAP_FORMAT',
        `${this.name}: record ${index} at byte ${this.offset} claims caplen ${caplen}, above the snaplen ${this.snaplen}: the file is corrupt`,
        { field: `record ${index} caplen`, expected: `<= ${limit}`, got: caplen },
      );
    }
    const total = PCAP_RECORD_HEADER_LEN + caplen;
    if (avail < total) return this.more('pcap record', total);
    // A fraction of a second or more (no writer makes one) carries into the seconds: tsNsec stays below 1e9.
    const perSec = this.nsec ? 1e9 : 1e6;
    const raw = this.u32(buf, off + RecordField.TS_FRAC);
    const frac = raw % perSec;
    const dataOff = off + PCAP_RECORD_HEADER_LEN;
    this.record = {
      tsSec: this.u32(buf, off + RecordField.TS_SEC) + (raw - frac) / perSec,
      tsNsec: this.nsec ? frac : frac * 1000,
      caplen,
      len: this.u32(buf, off + RecordField.LEN),
      data: buf.subarray(dataOff, dataOff + caplen),
    };
    return total;
  }

  private corrupt(what: string, field: string, expected: string | number, got: string | number): WireError {
    return new WireError('PCAP_FORMAT', `${this.name}: ${what} at byte ${this.offset}: the file is corrupt`, { field, expected, got });
  }

  private stepPcapng(buf: Buffer, off: number, avail: number): number {
    const first = this.header === undefined;
    if (avail < 8) return this.more(first ? 'pcapng Section Header Block' : 'pcapng block header', 8);
    // The SHB's type reads the same in both byte orders; its byte-order magic sets the order of the section.
    const isShb = buf.readUInt32BE(off) === PcapngBlock.SHB;
    if (isShb) {
      if (avail < 12) return this.more('pcapng Section Header Block', 12);
      if (buf.readUInt32LE(off + 8) === PCAPNG_BYTE_ORDER_MAGIC) this.le = true;
      else if (buf.readUInt32BE(off + 8) === PCAPNG_BYTE_ORDER_MAGIC) this.le = false;
      else {
        const got = `0x${buf.readUInt32BE(off + 8).toString(16).padStart(8, '0')}`;
        throw this.corrupt(`Section Header Block with byte-order magic ${got}`, 'byte-order magic', '1a2b3c4d', got);
      }
    }
    const type = isShb ? PcapngBlock.SHB : this.u32(buf, off);
    const len = this.u32(buf, off + 4);
    const blockName = pcapngBlockName(type);
    const min = minBlockLen(type);
    if (len < min || len % 4 !== 0 || len > PCAPNG_MAX_BLOCK_LEN) {
      throw this.corrupt(`${blockName} of length ${len}`, 'block total length', `a multiple of 4 in ${min} .. ${PCAPNG_MAX_BLOCK_LEN}`, len);
    }
    if (avail < len) return this.more(`pcapng ${blockName}`, len);
    const trailer = this.u32(buf, off + len - 4);
    if (trailer !== len) throw this.corrupt(`${blockName} of length ${len} ending with length ${trailer}`, 'trailing block total length', len, trailer);
    switch (type) {
      case PcapngBlock.SHB:
        this.sectionHeader(buf, off);
        break;
      case PcapngBlock.IDB:
        this.interfaceDescription(buf, off, len);
        break;
      case PcapngBlock.EPB:
      case PcapngBlock.OPB:
        this.packet(buf, off, len, type);
        break;
      case PcapngBlock.SPB:
        this.simplePacket(buf, off, len);
        break;
      default:
        break; // NRB, ISB, DSB, custom and anything newer: nothing ddplab needs.
    }
    return len;
  }

  private sectionHeader(buf: Buffer, off: number): void {
    const major = this.u16(buf, off + 12);
    const minor = this.u16(buf, off + 14);
    if (major !== 1) {
      throw new WireError('PCAP_FORMAT', `${this.name}: pcapng section at byte ${this.offset} has version ${major}.${minor}; ddplab reads pcapng 1.x`, {
        field: 'pcapng major version',
        expected: 1,
        got: major,
      });
    }
    this.ifaces = [];
    this.sections++;
    this.header ??= {
      format: 'pcapng',
      byteOrder: this.le ? 'LE' : 'BE',
      tsResolution: 'us',
      versionMajor: major,
      versionMinor: minor,
      snaplen: 0,
      linkType: -1,
    };
  }

  private interfaceDescription(buf: Buffer, off: number, len: number): void {
    const opts = readIdbOptions(buf, off + 16, off + len - 4, this.le);
    if (typeof opts === 'string') throw this.corrupt(`Interface Description Block: ${opts}`, 'IDB option', 'inside the block', 'past its end');
    const iface: PcapngInterface = {
      linkType: this.u16(buf, off + 8),
      snaplen: this.u32(buf, off + 12),
      tsresol: opts.tsresol ?? 6,
      tsOffsetSec: opts.tsOffsetSec ?? 0n,
      name: opts.name,
    };
    const r = iface.tsresol & 0x7f;
    // 10^-19 s or 2^-64 s and finer do not fit the 64-bit timestamp's meaning; no writer makes them.
    if ((iface.tsresol & 0x80) === 0 ? r > 18 : r > 63) {
      throw this.corrupt(`Interface Description Block with if_tsresol ${iface.tsresol}`, 'if_tsresol', '10^-0..18 or 2^-0..63', iface.tsresol);
    }
    this.ifaces.push(iface);
    if (this.sections === 1 && this.ifaces.length === 1 && this.header !== undefined) {
      this.header = { ...this.header, linkType: iface.linkType, snaplen: iface.snaplen, tsResolution: tsresolName(iface.tsresol) };
    }
  }

  /** The interface a packet block names, which must exist and carry Ethernet. */
  private ifaceOf(id: number, blockName: string): PcapngInterface {
    const iface = this.ifaces[id];
    if (iface === undefined) {
      throw new WireError(
        'PCAP_FORMAT',
        `${this.name}: ${blockName} at byte ${this.offset} is on interface ${id}, but its section has ${this.ifaces.length} interface(s): the file is corrupt`,
        { field: 'interface id', expected: `< ${this.ifaces.length}`, got: id },
      );
    }
    requireEthernet(iface, this.name, `interface ${id}${iface.name !== undefined ? ` (${iface.name})` : ''}${this.sections > 1 ? ` of section ${this.sections}` : ''}: `);
    return iface;
  }

  private packet(buf: Buffer, off: number, len: number, type: number): void {
    const epb = type === PcapngBlock.EPB;
    const id = epb ? this.u32(buf, off + 8) : this.u16(buf, off + 8);
    const iface = this.ifaceOf(id, pcapngBlockName(type));
    const caplen = this.u32(buf, off + 20);
    if (caplen > len - PCAPNG_MIN_LEN.EPB) {
      throw this.corrupt(`${pcapngBlockName(type)} of length ${len} with caplen ${caplen}`, 'caplen', `<= ${len - PCAPNG_MIN_LEN.EPB}`, caplen);
    }
    const ts = pcapngTimestamp(this.u32(buf, off + 12), this.u32(buf, off + 16), iface);
    this.lastTs = ts;
    this.record = { tsSec: ts.tsSec, tsNsec: ts.tsNsec, caplen, len: this.u32(buf, off + 24), data: buf.subarray(off + 28, off + 28 + caplen) };
  }

  private simplePacket(buf: Buffer, off: number, len: number): void {
    const iface = this.ifaceOf(0, 'Simple Packet Block');
    const origLen = this.u32(buf, off + 8);
    let caplen = Math.min(origLen, len - PCAPNG_MIN_LEN.SPB);
    if (iface.snaplen > 0) caplen = Math.min(caplen, iface.snaplen);
    this.record = { tsSec: this.lastTs.tsSec, tsNsec: this.lastTs.tsNsec, caplen, len: origLen, data: buf.subarray(off + 12, off + 12 + caplen) };
  }
}

function minBlockLen(type: number): number {
  switch (type) {
    case PcapngBlock.SHB:
      return PCAPNG_MIN_LEN.SHB;
    case PcapngBlock.IDB:
      return PCAPNG_MIN_LEN.IDB;
    case PcapngBlock.EPB:
      return PCAPNG_MIN_LEN.EPB;
    case PcapngBlock.OPB:
      return PCAPNG_MIN_LEN.OPB;
    case PcapngBlock.SPB:
      return PCAPNG_MIN_LEN.SPB;
    default:
      return 12;
  }
}

/** A whole capture decoded. */
export interface DecodedCapture {
  readonly header: PcapFileHeader;
  readonly records: PcapRecord[];
  /** Set when the file ends inside a record or block. */
  readonly truncated: CaptureTruncation | undefined;
}

/** Decodes a whole capture held in memory. Record data are views into `buf`. */
export function decodeCapture(buf: Buffer, opts: PcapReadOptions = {}): DecodedCapture {
  const d = new CaptureDecoder(opts.name ?? 'input');
  const records: PcapRecord[] = [];
  let off = 0;
  for (;;) {
    const used = d.step(buf, off);
    if (used < 0) break;
    off += used;
    if (d.record !== undefined) records.push(d.record);
  }
  const truncated = d.finish(buf.length - off);
  return { header: d.header!, records, truncated };
}

/** A streaming reader over one capture: iterate it once with `for await`. */
export interface CaptureReader extends AsyncIterable<PcapRecord> {
  /** The header (pcap file header, or pcapng's first section and interface). */
  readonly header: PcapFileHeader;
  /** After iteration ends: set when the file was cut inside a record or block. */
  readonly truncated: CaptureTruncation | undefined;
  /** Stops reading and releases the file or stream; a running iteration ends. */
  close(): void;
}

/**
 * Opens a capture (path or stream). Resolves once the header and the first
 * record are read (so a pcapng packet on a non-Ethernet interface, or a bad
 * first block, is refused here, before the caller builds anything); rejects
 * with a WireError (top of the file) or the I/O error (e.g. ENOENT).
 * Iteration yields records in file order; a corrupt record after good ones
 * throws after them. Input is read as the consumer asks for records.
 */
export async function openCapture(source: string | Readable, opts: PcapReadOptions = {}): Promise<CaptureReader> {
  const name = opts.name ?? (typeof source === 'string' ? source : 'input');
  const input = typeof source === 'string' ? createReadStream(source, { highWaterMark: READ_CHUNK_BYTES }) : source;
  const reader = new StreamingCaptureReader(input, name);
  await reader.prime();
  return reader;
}

class StreamingCaptureReader implements CaptureReader {
  truncated: CaptureTruncation | undefined;
  private readonly decoder: CaptureDecoder;
  private readonly chunks: AsyncIterator<unknown>;
  private queue: PcapRecord[] = [];
  private head = 0;
  /** Bytes of a unit that began in an earlier chunk. */
  private carry: Buffer | null = null;
  private error: unknown;
  private ended = false;
  private closed = false;

  constructor(
    private readonly input: Readable,
    name: string,
  ) {
    this.decoder = new CaptureDecoder(name);
    this.chunks = input[Symbol.asyncIterator]();
  }

  get header(): PcapFileHeader {
    if (this.decoder.header === undefined) throw new Error('CaptureReader: header read before openCapture resolved');
    return this.decoder.header;
  }

  async prime(): Promise<void> {
    while (!this.ended && this.error === undefined && (this.decoder.header === undefined || this.head === this.queue.length)) await this.pull();
    if (this.head === this.queue.length && this.error !== undefined) {
      this.close();
      throw this.error;
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<PcapRecord> {
    return {
      next: () => this.next(),
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.head = 0;
    this.carry = null;
    this.input.destroy();
  }

  private async next(): Promise<IteratorResult<PcapRecord>> {
    for (;;) {
      if (this.head < this.queue.length) {
        const rec = this.queue[this.head++]!;
        if (this.head === this.queue.length) {
          this.queue = [];
          this.head = 0;
        }
        return { value: rec, done: false };
      }
      if (this.closed) return { value: undefined, done: true };
      if (this.error !== undefined) {
        const e = this.error;
        this.close();
        throw e;
      }
      if (this.ended) return { value: undefined, done: true };
      await this.pull();
    }
  }

  private async pull(): Promise<void> {
    let r: IteratorResult<unknown>;
    try {
      r = await this.chunks.next();
    } catch (e) {
      if (!this.closed) this.error = e;
      return;
    }
    if (this.closed) return;
    if (r.done === true) {
      this.ended = true;
      try {
        this.truncated = this.decoder.finish(this.carry?.length ?? 0);
      } catch (e) {
        this.error = e;
      }
      this.carry = null;
      return;
    }
    const v = r.value;
    const chunk = Buffer.isBuffer(v) ? v : v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : Buffer.from(String(v));
    try {
      this.feed(chunk);
    } catch (e) {
      this.error = e;
      this.input.destroy();
    }
  }

  /** Decodes what `chunk` completes: first the unit carried over, then every whole unit in it; keeps the rest. */
  private feed(chunk: Buffer): void {
    const d = this.decoder;
    let off = 0;
    let carry = this.carry;
    while (carry !== null) {
      const used = d.step(carry, 0);
      if (used > 0) {
        if (d.record !== undefined) this.queue.push(d.record);
        carry = used < carry.length ? carry.subarray(used) : null;
        continue;
      }
      const need = -used;
      const take = Math.min(need - carry.length, chunk.length - off);
      carry = Buffer.concat([carry, chunk.subarray(off, off + take)]);
      off += take;
      if (carry.length < need) {
        this.carry = carry;
        return;
      }
    }
    this.carry = null;
    for (;;) {
      const used = d.step(chunk, off);
      if (used < 0) break;
      off += used;
      if (d.record !== undefined) this.queue.push(d.record);
    }
    if (off < chunk.length) this.carry = chunk.subarray(off);
  }
}

/**
 * Checks that `path` is a capture ddplab can open, reading its first bytes
 * only: throws the I/O error (ENOENT, EACCES, EISDIR...) or a WireError —
 * PCAP_TRUNCATED for an empty file or one shorter than its header,
 * PCAP_FORMAT for anything but pcap or pcapng, PCAP_LINKTYPE for a pcap
 * file that is not Ethernet. Returns the format.
 */
export function checkCaptureFile(path: string): 'pcap' | 'pcapng' {
  const fd = openSync(path, 'r');
  const head = Buffer.alloc(PCAP_FILE_HEADER_LEN);
  let got: number;
  try {
    got = readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  const d = new CaptureDecoder(path);
  const buf = head.subarray(0, got);
  const used = d.step(buf, 0);
  if (used < 0 && d.header === undefined && got < head.length) d.finish(got); // throws: the file is shorter than its header
  return buf.readUInt32BE(0) === Magic.PCAPNG ? 'pcapng' : 'pcap';
}
