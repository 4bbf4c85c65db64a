/**
 * Seeds from the committed reference captures (captures/*.pcap, *.pcapng): real frames
 * from live ddplab runs and a kernel TCP exchange, and the NVMe/TCP byte
 * streams they carry (each direction of each connection reassembled from
 * first copies, as the receiving TCP keeps them).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WireError } from '../wire/errors.js';
import { parseFrame } from '../wire/frame.js';
import { readPcapFileSync } from '../wire/pcap.js';
import { seqDiff } from '../wire/seq.js';
import { TCP_SYN } from '../wire/tcp.js';

/** captures/ at the repository root. */
export const CAPTURES_DIR = fileURLToPath(new URL('../../captures/', import.meta.url));

export interface CaptureFile {
  readonly name: string;
  readonly frames: readonly Buffer[];
}

/** One direction of one TCP connection in a capture. */
export interface CaptureStream {
  readonly file: string;
  readonly srcIp: number;
  readonly srcPort: number;
  readonly dstIp: number;
  readonly dstPort: number;
  /** Sequence number of the stream's first byte (the SYN's + 1). */
  readonly startSeq: number;
  /** The bytes, first copies, up to the first hole. */
  readonly bytes: Buffer;
  /** The frames of this direction in capture order (data, ACKs, FIN...). */
  readonly frames: readonly Buffer[];
}

let filesCache: CaptureFile[] | undefined;

/** Every reference capture's frames (empty when the directory is missing, as in a partial checkout). */
export function captureFiles(): readonly CaptureFile[] {
  if (filesCache !== undefined) return filesCache;
  const out: CaptureFile[] = [];
  if (existsSync(CAPTURES_DIR)) {
    for (const name of readdirSync(CAPTURES_DIR).sort()) {
      if (!name.endsWith('.pcap') && !name.endsWith('.pcapng')) continue;
      const { records } = readPcapFileSync(join(CAPTURES_DIR, name));
      out.push({ name, frames: records.map((r) => r.data) });
    }
  }
  filesCache = out;
  return out;
}

/** A sample of capture frames: each file's first `head` frames, then every `stride`-th. */
export function captureFrameSample(head = 24, stride = 97): Buffer[] {
  const out: Buffer[] = [];
  for (const f of captureFiles()) {
    for (let i = 0; i < f.frames.length; i++) if (i < head || i % stride === 0) out.push(f.frames[i]!);
  }
  return out;
}

interface Building {
  readonly key: string;
  readonly srcIp: number;
  readonly srcPort: number;
  readonly dstIp: number;
  readonly dstPort: number;
  startSeq: number | undefined;
  readonly chunks: Map<number, Buffer>;
  readonly frames: Buffer[];
}

let streamsCache: CaptureStream[] | undefined;

/** Each direction of each TCP connection in the captures, reassembled (first copy of each byte wins). */
export function captureStreams(maxBytes = 1 << 20): readonly CaptureStream[] {
  if (streamsCache !== undefined) return streamsCache;
  const out: CaptureStream[] = [];
  for (const file of captureFiles()) {
    const dirs = new Map<string, Building>();
    for (const data of file.frames) {
      let f;
      try {
        f = parseFrame(data);
      } catch (e) {
        if (e instanceof WireError) continue;
        throw e;
      }
      if (f.ip === undefined || f.tcp === undefined) continue;
      const key = `${f.ip.src}:${f.tcp.srcPort}>${f.ip.dst}:${f.tcp.dstPort}`;
      let d = dirs.get(key);
      if (d === undefined) {
        d = { key, srcIp: f.ip.src, srcPort: f.tcp.srcPort, dstIp: f.ip.dst, dstPort: f.tcp.dstPort, startSeq: undefined, chunks: new Map(), frames: [] };
        dirs.set(key, d);
      }
      d.frames.push(data);
      if ((f.tcp.flags & TCP_SYN) !== 0) d.startSeq = (f.tcp.seq + 1) >>> 0;
      else if (d.startSeq !== undefined && f.payload.length > 0) {
        const off = seqDiff(f.tcp.seq, d.startSeq);
        if (off >= 0 && off < maxBytes && !d.chunks.has(off)) d.chunks.set(off, f.payload);
      }
    }
    for (const d of dirs.values()) {
      if (d.startSeq === undefined) continue;
      const bytes = assemble(d.chunks, maxBytes);
      if (bytes.length === 0) continue;
      out.push({ file: file.name, srcIp: d.srcIp, srcPort: d.srcPort, dstIp: d.dstIp, dstPort: d.dstPort, startSeq: d.startSeq, bytes, frames: d.frames });
    }
  }
  streamsCache = out;
  return out;
}

/** Chunks by stream offset → the contiguous prefix, each byte from the first chunk that had it. */
function assemble(chunks: Map<number, Buffer>, maxBytes: number): Buffer {
  const offs = [...chunks.keys()].sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let end = 0;
  for (const off of offs) {
    if (off > end) break;
    const c = chunks.get(off)!;
    if (off + c.length <= end) continue;
    parts.push(c.subarray(end - off));
    end = off + c.length;
    if (end >= maxBytes) break;
  }
  return Buffer.concat(parts).subarray(0, maxBytes);
}
