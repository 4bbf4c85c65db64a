/**
 * Capture files: writing classic pcap (our own encoder; ddplab writes
 * Ethernet, microsecond timestamps, little-endian, snaplen 262144 — what
 * `tcpdump -w` writes) and, as thin names over the one reader of
 * capture-reader.ts, reading pcap and pcapng (the format is told by the
 * file's first bytes; layouts in pcap-format.ts and pcapng.ts).
 *
 * A file cut inside a record or block (a capture tool killed while writing)
 * reads up to the cut; `truncated` says what was lost. Everything the reader
 * refuses is one line (capture-reader.ts lists them).
 */
import { once } from 'node:events';
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { WireError } from './errors.js';
import { decodeCapture, openCapture, type CaptureReader, type DecodedCapture } from './capture-reader.js';
import {
  HeaderField,
  LINKTYPE_ETHERNET,
  Magic,
  PCAP_DEFAULT_SNAPLEN,
  PCAP_FILE_HEADER_LEN,
  PCAP_RECORD_HEADER_LEN,
  RecordField,
  type PcapFrame,
  type PcapReadOptions,
  type PcapRecord,
} from './pcap-format.js';

export {
  LINKTYPE_ETHERNET,
  LINKTYPE_LINUX_SLL,
  parsePcapFileHeader,
  PCAP_DEFAULT_SNAPLEN,
  PCAP_FILE_HEADER_LEN,
  PCAP_RECORD_HEADER_LEN,
  requireEthernet,
  type CaptureTruncation,
  type PcapFileHeader,
  type PcapFrame,
  type PcapReadOptions,
  type PcapRecord,
} from './pcap-format.js';
export { checkCaptureFile, decodeCapture, openCapture, type CaptureReader, type DecodedCapture } from './capture-reader.js';
export { buildPcapngFile, buildPcapngFromFrames, type PcapngBuildBlock } from './pcapng.js';

/** A streaming reader over one capture (pcap or pcapng). */
export type PcapReader = CaptureReader;

/** Options for writers. */
export interface PcapWriteOptions {
  /** Snaplen in the file header; longer frames are cut to it. Default 262144. */
  readonly snaplen?: number;
}

/** Capture time of a record in ms since the Unix epoch (exact to the microsecond). */
export function pcapRecordTimeMs(rec: Pick<PcapRecord, 'tsSec' | 'tsNsec'>): number {
  return rec.tsSec * 1000 + rec.tsNsec / 1e6;
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
 * Reads a whole capture (pcap or pcapng) held in memory: tests, small
 * captures, the fuzzer. Record data are views into `buf`. A file cut inside
 * a record or block gives the records before the cut and `truncated`.
 */
export function parsePcapFile(buf: Buffer, opts: PcapReadOptions = {}): DecodedCapture {
  return decodeCapture(buf, opts);
}

/** parsePcapFile on a file read whole; error messages name the path. */
export function readPcapFileSync(path: string): DecodedCapture {
  return decodeCapture(readFileSync(path), { name: path });
}

/**
 * Opens a capture (path or stream) for streaming reading: openCapture
 * (capture-reader.ts).
 *
 *   const reader = await openPcap('captures/read-64k.pcap');
 *   for await (const rec of reader) handle(rec.data);
 *   if (reader.truncated) warn(reader.truncated.message);
 */
export function openPcap(source: string | Readable, opts: PcapReadOptions = {}): Promise<PcapReader> {
  return openCapture(source, opts);
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
