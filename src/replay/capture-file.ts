/**
 * Opening the capture a replay reads: pcap or pcapng (src/wire/capture-reader.ts),
 * with everything that can be wrong with the file said in one line as a
 * UserError — before anything is built — and a capture cut short (the tool
 * that wrote it was killed) read up to the cut, with what was lost.
 */
import { createReadStream } from 'node:fs';
import { UserError } from '../base/errors.js';
import { WireError } from '../wire/errors.js';
import { checkCaptureFile, openCapture, type CaptureReader, type CaptureTruncation } from '../wire/capture-reader.js';

/** File read size: with the stream's default 64 KiB chunks, replay waits on the file most of the time. */
const READ_CHUNK_BYTES = 1 << 20;

/** What a replay report says about a capture cut short. */
export interface ReplayTruncation {
  /** Byte offset of the incomplete record or block, and the bytes of it the file holds. */
  readonly atByte: number;
  readonly bytes: number;
  /** Whole records read (and replayed) before it. */
  readonly records: number;
  /** What was cut, e.g. 'pcap record', 'pcapng Enhanced Packet Block'. */
  readonly what: string;
}

/**
 * Checks the file from its first bytes alone: missing, unreadable, a
 * directory, empty, not pcap or pcapng, a pcap that is not Ethernet — each a
 * one-line UserError. Returns the format.
 */
export function checkReplayFile(path: string): 'pcap' | 'pcapng' {
  try {
    return checkCaptureFile(path);
  } catch (e) {
    throw asUserError(e, path);
  }
}

/** Opens the capture for a replay (the header and first record read): failures as checkReplayFile's. */
export async function openReplayCapture(path: string): Promise<CaptureReader> {
  try {
    return await openCapture(createReadStream(path, { highWaterMark: READ_CHUNK_BYTES }), { name: path });
  } catch (e) {
    throw asUserError(e, path);
  }
}

/** The report's view of a cut. */
export function replayTruncation(t: CaptureTruncation | undefined): ReplayTruncation | null {
  return t === undefined ? null : { atByte: t.atByte, bytes: t.bytes, records: t.records, what: t.what };
}

/** Turns what reading the file threw into one line for the user; anything else unchanged. */
export function asUserError(e: unknown, path: string): unknown {
  if (e instanceof WireError && (e.code === 'PCAP_FORMAT' || e.code === 'PCAP_LINKTYPE' || e.code === 'PCAP_TRUNCATED')) {
    return new UserError(e.code, e.message);
  }
  const code = e instanceof Error ? (e as NodeJS.ErrnoException).code : undefined;
  if (code === 'ENOENT') return new UserError('NO_FILE', `${path}: no such file`);
  if (code === 'EISDIR') return new UserError('NO_FILE', `${path} is a directory, not a capture`);
  if (code === 'EACCES' || code === 'EPERM') return new UserError('NO_FILE', `${path}: permission denied`);
  return e;
}

/** The one line `ddplab replay` prints on stderr for a capture cut short. */
export function truncationWarning(file: string, t: ReplayTruncation): string {
  return `warning: ${file} is cut short: it ends ${t.bytes} bytes into a ${t.what} at byte ${t.atByte}; replayed the ${t.records} whole records before it`;
}
