/**
 * Classic libpcap capture files: reading (streaming, through the
 * `pcap-parser` package, and a synchronous whole-buffer reader for small
 * files) and writing (our own encoder; ddplab writes Ethernet, microsecond
 * timestamps, little-endian, snaplen 262144 — what `tcpdump -w` writes).
 *
 * File header, 24 bytes, in the writer's byte order:
 *   magic u32 @0 (a1b2c3d4 µs, a1b23c4d ns), version_major u16 @4 (2),
 *   version_minor u16 @6 (4), thiszone i32 @8, sigfigs u32 @12,
 *   snaplen u32 @16, linktype u32 @20
 * Record header, 16 bytes, then caplen bytes of frame:
 *   ts_sec u32 @0, ts_usec/ts_nsec u32 @4, caplen u32 @8, len u32 @12
 *
 * ddplab replays Ethernet frames only. Everything else fails with one line
 * that says what the file is and how to fix it:
 *   PCAP_FORMAT    pcapng (convert with editcap -F pcap), unknown magic,
 *                  version not 2.x, a record larger than any snaplen
 *   PCAP_TRUNCATED file shorter than its header, a record cut off
 *   PCAP_LINKTYPE  link type other than Ethernet (1), e.g. Linux cooked (113)
 *
 * pcap-parser knows neither the nanosecond magic nor truncation: the reader
 * checks the file header itself before handing bytes over (rewriting a
 * nanosecond magic to the microsecond one of the same byte order, since the
 * record layout is identical and only the unit of the fraction differs), and
 * counts bytes to notice a record cut off at the end of the file.
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { Transform, type Readable, type TransformCallback, type Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import pcapParser from 'pcap-parser';
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
const Magic = {
  /** pcap with microsecond timestamps. */
  USEC: 0xa1b2c3d4,
  /** pcap with nanosecond timestamps. */
  NSEC: 0xa1b23c4d,
  /** First block type of a pcapng file (Section Header Block); the same bytes in either byte order. */
  PCAPNG: 0x0a0d0d0a,
  /** Alexey Kuznetzov's modified pcap (extra record fields), which ddplab cannot read either. */
  MODIFIED: 0xa1b2cd34,
} as const;

// File header offsets.
const HeaderField = { MAGIC: 0, VERSION_MAJOR: 4, VERSION_MINOR: 6, THISZONE: 8, SIGFIGS: 12, SNAPLEN: 16, LINKTYPE: 20 } as const;

// Record header offsets.
const RecordField = { TS_SEC: 0, TS_FRAC: 4, CAPLEN: 8, LEN: 12 } as const;

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

/** What a pcap file header says. */
export interface PcapFileHeader {
  /** Byte order of every header field in the file. */
  readonly byteOrder: 'LE' | 'BE';
  /** Unit of the record timestamps' fraction: microseconds or nanoseconds. */
  readonly tsResolution: 'us' | 'ns';
  readonly versionMajor: number;
  readonly versionMinor: number;
  /** Largest caplen the capture promised. */
  readonly snaplen: number;
  /** LINKTYPE_* of every frame in the file. */
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

/** A frame to write with its capture time. */
export interface PcapFrame {
  readonly data: Uint8Array;
  /** Capture time in ms since the Unix epoch; fractions keep microseconds. */
  readonly tsMs: number;
}

/** A streaming reader over one pcap file: iterate it once with `for await`. */
export interface PcapReader extends AsyncIterable<PcapRecord> {
  /** The file header (already validated: classic pcap, Ethernet). */
  readonly header: PcapFileHeader;
  /** Stops reading and releases the file or stream; a running iteration ends. */
  close(): void;
}

/** Options for readers. */
export interface PcapReadOptions {
  /** Name used in error messages (default: the path, or "input" for a stream). */
  readonly name?: string;
}

/** Options for writers. */
export interface PcapWriteOptions {
  /** Snaplen in the file header; longer frames are cut to it. Default 262144. */
  readonly snaplen?: number;
}

/** Capture time of a record in ms since the Unix epoch (exact to the microsecond). */
export function pcapRecordTimeMs(rec: Pick<PcapRecord, 'tsSec' | 'tsNsec'>): number {
  return rec.tsSec * 1000 + rec.tsNsec / 1e6;
}

/**
 * Parses and validates a pcap file header: PCAP_FORMAT for pcapng, an
 * unknown magic or a version other than 2.x; PCAP_TRUNCATED for fewer than 24
 * bytes. Does not judge the link type (see requireEthernet).
 */
export function parsePcapFileHeader(buf: Buffer, name = 'input'): PcapFileHeader {
  if (buf.length < 4) throw headerTruncated(buf.length, name);
  const { byteOrder, tsResolution } = classifyMagic(buf, name);
  if (buf.length < PCAP_FILE_HEADER_LEN) throw headerTruncated(buf.length, name);
  const le = byteOrder === 'LE';
  const u16 = (off: number): number => (le ? buf.readUInt16LE(off) : buf.readUInt16BE(off));
  const u32 = (off: number): number => (le ? buf.readUInt32LE(off) : buf.readUInt32BE(off));
  const header: PcapFileHeader = {
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
      `${name}: pcap version ${header.versionMajor}.${header.versionMinor} is not 2.x; ddplab reads classic pcap 2.4 (convert with: editcap -F pcap ${name} ${pcapOutName(name)})`,
      { field: 'version_major', expected: 2, got: header.versionMajor },
    );
  }
  return header;
}

/** Throws PCAP_LINKTYPE unless the file holds Ethernet frames. */
export function requireEthernet(header: PcapFileHeader, name = 'input'): void {
  if (header.linkType === LINKTYPE_ETHERNET) return;
  const what = LINKTYPE_NAMES.get(header.linkType);
  throw new WireError(
    'PCAP_LINKTYPE',
    `${name}: link type ${header.linkType}${what ? ` (${what})` : ''} is not Ethernet (1); ddplab replays Ethernet frames only — capture on the interface itself, e.g. tcpdump -i host0 -w ${name}`,
    { field: 'linktype', expected: LINKTYPE_ETHERNET, got: header.linkType },
  );
}

/** Writes the 24-byte header ddplab's files have: little-endian, µs, version 2.4, Ethernet unless told. */
export function emitPcapFileHeader(
  h: { readonly snaplen: number; readonly linkType?: number },
  out: Buffer,
  off = 0,
): void {
  out.writeUInt32LE(Magic.USEC, off + HeaderField.MAGIC);
  out.writeUInt16LE(2, off + HeaderField.VERSION_MAJOR);
  out.writeUInt16LE(4, off + HeaderField.VERSION_MINOR);
  out.writeInt32LE(0, off + HeaderField.THISZONE);
  out.writeUInt32LE(0, off + HeaderField.SIGFIGS);
  out.writeUInt32LE(h.snaplen, off + HeaderField.SNAPLEN);
  out.writeUInt32LE(h.linkType ?? LINKTYPE_ETHERNET, off + HeaderField.LINKTYPE);
}

/** Writes a little-endian record header with a microsecond timestamp taken from `tsMs`. */
export function emitPcapRecordHeader(
  r: { readonly tsMs: number; readonly caplen: number; readonly len: number },
  out: Buffer,
  off = 0,
): void {
  const { tsSec, tsUsec } = splitTimestampMs(r.tsMs);
  out.writeUInt32LE(tsSec, off + RecordField.TS_SEC);
  out.writeUInt32LE(tsUsec, off + RecordField.TS_FRAC);
  out.writeUInt32LE(r.caplen, off + RecordField.CAPLEN);
  out.writeUInt32LE(r.len, off + RecordField.LEN);
}

/**
 * Reads a whole pcap file held in memory (tests, small captures). Record data
 * are views into `buf`. Errors as described at the top of this file.
 */
export function parsePcapFile(buf: Buffer, opts: PcapReadOptions = {}): { header: PcapFileHeader; records: PcapRecord[] } {
  const name = opts.name ?? 'input';
  const header = parsePcapFileHeader(buf, name);
  requireEthernet(header, name);
  const le = header.byteOrder === 'LE';
  const u32 = (off: number): number => (le ? buf.readUInt32LE(off) : buf.readUInt32BE(off));
  const records: PcapRecord[] = [];
  let off = PCAP_FILE_HEADER_LEN;
  while (off < buf.length) {
    const index = records.length;
    if (buf.length - off < PCAP_RECORD_HEADER_LEN) throw recordHeaderTruncated(index, off, buf.length - off, name);
    const caplen = u32(off + RecordField.CAPLEN);
    checkCaplen(caplen, header, index, off, name);
    const dataOff = off + PCAP_RECORD_HEADER_LEN;
    if (buf.length - dataOff < caplen) throw recordDataTruncated(index, off, caplen, buf.length - dataOff, name);
    const frac = u32(off + RecordField.TS_FRAC);
    records.push({
      tsSec: u32(off + RecordField.TS_SEC),
      tsNsec: header.tsResolution === 'ns' ? frac : frac * 1000,
      caplen,
      len: u32(off + RecordField.LEN),
      data: buf.subarray(dataOff, dataOff + caplen),
    });
    off = dataOff + caplen;
  }
  return { header, records };
}

/** parsePcapFile on a file read whole; error messages name the path. */
export function readPcapFileSync(path: string): { header: PcapFileHeader; records: PcapRecord[] } {
  return parsePcapFile(readFileSync(path), { name: path });
}

/**
 * Opens a pcap file (path) or stream for streaming reading with pcap-parser.
 * Resolves once the file header is read and valid; rejects with PCAP_FORMAT,
 * PCAP_TRUNCATED or PCAP_LINKTYPE if it is not, or with the I/O error (e.g.
 * ENOENT). Iteration yields records in file order and throws PCAP_FORMAT /
 * PCAP_TRUNCATED after the last good record if the file is damaged. Reading
 * pauses while more than a few thousand records wait for the consumer.
 *
 *   const reader = await openPcap('captures/read-64k.pcap');
 *   for await (const rec of reader) handle(rec.data);
 */
export async function openPcap(source: string | Readable, opts: PcapReadOptions = {}): Promise<PcapReader> {
  const name = opts.name ?? (typeof source === 'string' ? source : 'input');
  const input = typeof source === 'string' ? createReadStream(source) : source;
  const reader = new StreamingPcapReader(input, name);
  await reader.ready;
  return reader;
}

/**
 * Streaming pcap writer: classic pcap, little-endian, microsecond timestamps,
 * Ethernet, snaplen 262144. The target is a path (created/truncated, closed by
 * close()), a file descriptor (written from its current position, left open
 * for its owner) or a Writable (ended by close()).
 *
 *   const w = new PcapWriter('out.pcap');
 *   await w.write(frame);            // timestamp: now
 *   await w.write(frame, tsMs);
 *   await w.close();
 *
 * write() copies the frame, so the caller may reuse its buffer at once; its
 * promise settles when the stream accepts more (awaiting it is what keeps a
 * fast producer from buffering without bound).
 */
export class PcapWriter {
  /** Snaplen written in the header; frames longer than this are cut. */
  readonly snaplen: number;
  private readonly stream: Writable;
  private readonly ownsFile: boolean;
  private error: Error | null = null;
  private closed = false;
  private frames = 0;

  constructor(target: string | number | Writable, opts: PcapWriteOptions = {}) {
    this.snaplen = opts.snaplen ?? PCAP_DEFAULT_SNAPLEN;
    if (typeof target === 'string') {
      this.stream = createWriteStream(target);
      this.ownsFile = true;
    } else if (typeof target === 'number') {
      this.stream = createWriteStream('', { fd: target, autoClose: false });
      this.ownsFile = false;
    } else {
      this.stream = target;
      this.ownsFile = false;
    }
    this.stream.on('error', (err: Error) => {
      this.error ??= err;
    });
    const header = Buffer.alloc(PCAP_FILE_HEADER_LEN);
    emitPcapFileHeader({ snaplen: this.snaplen }, header, 0);
    this.stream.write(header);
  }

  /** Frames written so far. */
  get framesWritten(): number {
    return this.frames;
  }

  /** Appends one Ethernet frame captured at `tsMs` (ms since the epoch; default now). */
  async write(frame: Uint8Array, tsMs: number = Date.now()): Promise<void> {
    if (this.error) throw this.error;
    if (this.closed) throw new Error('PcapWriter: write after close');
    const caplen = Math.min(frame.length, this.snaplen);
    const rec = Buffer.allocUnsafe(PCAP_RECORD_HEADER_LEN + caplen);
    emitPcapRecordHeader({ tsMs, caplen, len: frame.length }, rec, 0);
    rec.set(frame.subarray(0, caplen), PCAP_RECORD_HEADER_LEN);
    this.frames++;
    if (!this.stream.write(rec)) await once(this.stream, 'drain');
  }

  /** Flushes everything written and ends the stream (closing a file opened by path). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) {
      if (this.error) throw this.error;
      return;
    }
    this.closed = true;
    const done = finished(this.stream);
    this.stream.end();
    await done;
    if (this.ownsFile && !this.stream.closed) await once(this.stream, 'close');
    if (this.error) throw this.error;
  }
}

/** Encodes frames as a whole pcap file in memory (tests, small captures). */
export function buildPcapFile(frames: Iterable<PcapFrame>, opts: PcapWriteOptions = {}): Buffer {
  const snaplen = opts.snaplen ?? PCAP_DEFAULT_SNAPLEN;
  const parts: Buffer[] = [];
  const header = Buffer.alloc(PCAP_FILE_HEADER_LEN);
  emitPcapFileHeader({ snaplen }, header, 0);
  parts.push(header);
  for (const f of frames) {
    const caplen = Math.min(f.data.length, snaplen);
    const rec = Buffer.alloc(PCAP_RECORD_HEADER_LEN + caplen);
    emitPcapRecordHeader({ tsMs: f.tsMs, caplen, len: f.data.length }, rec, 0);
    rec.set(f.data.subarray(0, caplen), PCAP_RECORD_HEADER_LEN);
    parts.push(rec);
  }
  return Buffer.concat(parts);
}

/** buildPcapFile written to `path` in one go. */
export function writePcapFileSync(path: string, frames: Iterable<PcapFrame>, opts: PcapWriteOptions = {}): void {
  writeFileSync(path, buildPcapFile(frames, opts));
}

/** ms since the epoch → pcap seconds + microseconds. Throws BAD_FIELD outside 0 .. 2^32 s. */
function splitTimestampMs(tsMs: number): { tsSec: number; tsUsec: number } {
  if (!Number.isFinite(tsMs) || tsMs < 0 || tsMs >= 0x1_0000_0000 * 1000) {
    throw new WireError('BAD_FIELD', `pcap timestamp ${tsMs} ms is outside 0 .. 2^32 s`, {
      field: 'tsMs',
      expected: '0 .. 2^32 s',
      got: tsMs,
    });
  }
  let tsSec = Math.floor(tsMs / 1000);
  let tsUsec = Math.round((tsMs - tsSec * 1000) * 1000);
  if (tsUsec >= 1_000_000) {
    tsSec += 1;
    tsUsec -= 1_000_000;
  }
  return { tsSec, tsUsec };
}

function classifyMagic(buf: Buffer, name: string): { byteOrder: 'LE' | 'BE'; tsResolution: 'us' | 'ns' } {
  const be = buf.readUInt32BE(HeaderField.MAGIC);
  const le = buf.readUInt32LE(HeaderField.MAGIC);
  if (be === Magic.USEC) return { byteOrder: 'BE', tsResolution: 'us' };
  if (le === Magic.USEC) return { byteOrder: 'LE', tsResolution: 'us' };
  if (be === Magic.NSEC) return { byteOrder: 'BE', tsResolution: 'ns' };
  if (le === Magic.NSEC) return { byteOrder: 'LE', tsResolution: 'ns' };
  const fix = `convert with: editcap -F pcap ${name === 'input' ? 'in.pcapng' : name} ${name === 'input' ? 'out.pcap' : pcapOutName(name)}`;
  if (be === Magic.PCAPNG) {
    throw new WireError('PCAP_FORMAT', `${name} is a pcapng file; ddplab reads classic pcap only — ${fix}`, {
      field: 'magic',
      expected: 'a1b2c3d4 or a1b23c4d',
      got: 'pcapng',
    });
  }
  const got = `0x${be.toString(16).padStart(8, '0')}`;
  if (be === Magic.MODIFIED || le === Magic.MODIFIED) {
    throw new WireError('PCAP_FORMAT', `${name} is a modified (Kuznetzov) pcap file; ddplab reads classic pcap only — ${fix}`, {
      field: 'magic',
      expected: 'a1b2c3d4 or a1b23c4d',
      got,
    });
  }
  throw new WireError(
    'PCAP_FORMAT',
    `${name} is not a pcap file (magic ${got}); ddplab reads classic pcap — if it is a capture in another format, ${fix}`,
    { field: 'magic', expected: 'a1b2c3d4 or a1b23c4d', got },
  );
}

/** The output name suggested in "convert with": foo.pcapng → foo.pcap, anything else → +.pcap. */
function pcapOutName(name: string): string {
  return name.endsWith('.pcapng') ? name.slice(0, -'ng'.length) : `${name}.pcap`;
}

/** A record claiming more bytes than any capture would hold means a corrupt file, not a long frame. */
function checkCaplen(caplen: number, header: PcapFileHeader, index: number, off: number, name: string): void {
  const limit = Math.max(header.snaplen, PCAP_DEFAULT_SNAPLEN);
  if (caplen > limit) {
    throw new WireError(
      'PCAP_FORMAT',
      `${name}: record ${index} at byte ${off} claims caplen ${caplen}, above the snaplen ${header.snaplen}: the file is corrupt`,
      { field: `record ${index} caplen`, expected: `<= ${limit}`, got: caplen },
    );
  }
}

function headerTruncated(got: number, name: string): WireError {
  return new WireError(
    'PCAP_TRUNCATED',
    `${name}: ${got} bytes, shorter than the ${PCAP_FILE_HEADER_LEN}-byte pcap file header`,
    { field: 'file header', expected: PCAP_FILE_HEADER_LEN, got },
  );
}

function recordHeaderTruncated(index: number, off: number, got: number, name: string): WireError {
  return new WireError(
    'PCAP_TRUNCATED',
    `${name}: record ${index} at byte ${off} is cut off in its header (${got} of ${PCAP_RECORD_HEADER_LEN} bytes)`,
    { field: `record ${index} header`, expected: PCAP_RECORD_HEADER_LEN, got },
  );
}

function recordDataTruncated(index: number, off: number, caplen: number, got: number, name: string): WireError {
  return new WireError(
    'PCAP_TRUNCATED',
    `${name}: record ${index} at byte ${off} is cut off (caplen ${caplen}, ${got} bytes left in the file)`,
    { field: `record ${index} data`, expected: caplen, got },
  );
}

/**
 * Sits between the input and pcap-parser: holds bytes back until the 24-byte
 * file header is complete and valid, then lets everything through (with a
 * nanosecond magic rewritten to the µs one) and counts what it passed.
 */
class PcapHeaderGate extends Transform {
  /** Bytes handed to pcap-parser, file header included. */
  bytesOut = 0;
  header: PcapFileHeader | null = null;
  private pending: Buffer | null = Buffer.alloc(0);

  constructor(private readonly name: string) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.pending === null) {
      this.bytesOut += chunk.length;
      cb(null, chunk);
      return;
    }
    const head = Buffer.concat([this.pending, chunk]);
    try {
      // With 4 bytes the magic is known: a pcapng file fails here even if shorter than 24 bytes.
      if (head.length >= 4) classifyMagic(head, this.name);
      if (head.length < PCAP_FILE_HEADER_LEN) {
        this.pending = head;
        cb();
        return;
      }
      const header = parsePcapFileHeader(head, this.name);
      requireEthernet(header, this.name);
      if (header.tsResolution === 'ns') {
        if (header.byteOrder === 'LE') head.writeUInt32LE(Magic.USEC, HeaderField.MAGIC);
        else head.writeUInt32BE(Magic.USEC, HeaderField.MAGIC);
      }
      this.pending = null;
      this.header = header;
      this.emit('header', header);
      this.bytesOut += head.length;
      cb(null, head);
    } catch (err) {
      cb(err as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    if (this.pending === null) {
      cb();
      return;
    }
    try {
      parsePcapFileHeader(this.pending, this.name);
      cb(headerTruncated(this.pending.length, this.name));
    } catch (err) {
      cb(err as Error);
    }
  }
}

/** Records queued beyond this pause the input until the consumer catches up. */
const QUEUE_HIGH = 4096;
const QUEUE_LOW = 1024;

class StreamingPcapReader implements PcapReader {
  readonly ready: Promise<void>;
  private readonly gate: PcapHeaderGate;
  private queue: PcapRecord[] = [];
  private queueHead = 0;
  private paused = false;
  private ended = false;
  private error: Error | null = null;
  private wake: (() => void) | null = null;
  private resolveReady!: () => void;
  private rejectReady!: (err: Error) => void;
  /** Bytes pcap-parser has consumed: file header plus every complete record. */
  private consumed = 0;
  private recordIndex = 0;
  /** Caplen of a record whose header pcap-parser reported but whose data has not come. */
  private pendingCaplen: number | null = null;

  constructor(
    private readonly input: Readable,
    private readonly name: string,
  ) {
    this.ready = new Promise<void>((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.gate = new PcapHeaderGate(name);
    this.gate.once('header', () => {
      this.consumed = PCAP_FILE_HEADER_LEN;
      this.resolveReady();
    });
    input.on('error', (err: Error) => this.fail(err));
    input.pipe(this.gate);
    const parser = pcapParser.parse(this.gate);
    parser.on('packetHeader', (h) => {
      if (this.error || !this.gate.header) return;
      try {
        checkCaplen(h.capturedLength, this.gate.header, this.recordIndex, this.consumed, this.name);
        this.pendingCaplen = h.capturedLength;
      } catch (err) {
        this.fail(err as Error);
      }
    });
    parser.on('packet', (p) => this.onPacket(p.header.timestampSeconds, p.header.timestampMicroseconds, p.header.originalLength, p.data));
    parser.on('end', () => this.onEnd());
    parser.on('error', (err: Error) => this.fail(err));
  }

  get header(): PcapFileHeader {
    if (!this.gate.header) throw new Error('PcapReader: header read before openPcap resolved');
    return this.gate.header;
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
    if (this.ended && this.input.destroyed) return;
    this.ended = true;
    this.queue = [];
    this.queueHead = 0;
    this.input.unpipe(this.gate);
    this.input.destroy();
    this.gate.destroy();
    this.wakeConsumer();
  }

  private async next(): Promise<IteratorResult<PcapRecord>> {
    for (;;) {
      if (this.queueHead < this.queue.length) {
        const rec = this.queue[this.queueHead++]!;
        if (this.queueHead === this.queue.length) {
          this.queue = [];
          this.queueHead = 0;
        }
        if (this.paused && this.queue.length - this.queueHead <= QUEUE_LOW) {
          this.paused = false;
          this.gate.resume();
        }
        return { value: rec, done: false };
      }
      if (this.error) throw this.error;
      if (this.ended) return { value: undefined, done: true };
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  private onPacket(tsSec: number, frac: number, len: number, data: Buffer): void {
    if (this.error || this.ended || !this.gate.header) return;
    this.pendingCaplen = null;
    this.consumed += PCAP_RECORD_HEADER_LEN + data.length;
    this.recordIndex++;
    this.queue.push({
      tsSec,
      tsNsec: this.gate.header.tsResolution === 'ns' ? frac : frac * 1000,
      caplen: data.length,
      len,
      data,
    });
    if (!this.paused && this.queue.length - this.queueHead >= QUEUE_HIGH) {
      this.paused = true;
      this.gate.pause();
    }
    this.wakeConsumer();
  }

  private onEnd(): void {
    if (this.error || this.ended) return;
    const left = this.gate.bytesOut - this.consumed;
    if (this.pendingCaplen !== null) {
      this.fail(
        recordDataTruncated(this.recordIndex, this.consumed, this.pendingCaplen, left - PCAP_RECORD_HEADER_LEN, this.name),
      );
      return;
    }
    if (left > 0) {
      this.fail(recordHeaderTruncated(this.recordIndex, this.consumed, left, this.name));
      return;
    }
    this.ended = true;
    this.wakeConsumer();
  }

  private fail(err: Error): void {
    if (this.error || this.ended) return;
    this.error = err;
    this.rejectReady(err);
    this.input.unpipe(this.gate);
    this.input.destroy();
    this.gate.destroy();
    this.wakeConsumer();
  }

  private wakeConsumer(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}
