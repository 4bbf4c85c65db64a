/**
 * The bytes behind the target's one namespace.
 *
 * The default store allocates nothing up front: a block nobody wrote reads as
 * the deterministic pattern of src/wire/block-pattern.ts (so a host can verify
 * any read without having written first), and written bytes live in a sparse
 * overlay of 4 KiB chunks. A chunk is materialised (pattern + new bytes) on
 * its first write, so partial writes of a chunk keep the pattern around them.
 *
 * The file store maps the namespace onto a regular file, like nvmet's file
 * backend: reads return the file's bytes (a new sparse file reads as zeros),
 * so the pattern does not apply there.
 */
import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { fillPattern } from '../wire/block-pattern.js';
import { DdplabError } from '../base/errors.js';

export interface NamespaceStore {
  readonly sizeBytes: number;
  readonly lbaSize: number;
  /** Number of logical blocks: NSZE in Identify Namespace. */
  readonly nlb: number;
  /** Fills `out` with the bytes at [byteOffset, byteOffset + out.length). */
  read(byteOffset: number, out: Uint8Array): void;
  /** Stores `data` at byteOffset. */
  write(byteOffset: number, data: Uint8Array): void;
  flush(): void;
  close(): void;
  /** Bytes held by the overlay (memory store) — what the sparse store costs. */
  residentBytes(): number;
}

export interface NamespaceGeometry {
  readonly sizeBytes: number;
  readonly lbaSize: 512 | 4096;
}

const CHUNK_BYTES = 4096;

export class NamespaceRangeError extends DdplabError<'NS_RANGE'> {
  constructor(byteOffset: number, len: number, sizeBytes: number) {
    super('NS_RANGE', `namespace access [${byteOffset}, +${len}) beyond ${sizeBytes} bytes`);
    this.name = 'NamespaceRangeError';
  }
}

function checkGeometry(g: NamespaceGeometry): void {
  if (g.lbaSize !== 512 && g.lbaSize !== 4096) throw new RangeError(`LBA size ${String(g.lbaSize)} is not 512 or 4096`);
  if (!Number.isSafeInteger(g.sizeBytes) || g.sizeBytes < g.lbaSize || g.sizeBytes % g.lbaSize !== 0) {
    throw new RangeError(`namespace size ${g.sizeBytes} is not a positive multiple of the LBA size ${g.lbaSize}`);
  }
}

function checkAccess(byteOffset: number, len: number, sizeBytes: number): void {
  if (!Number.isSafeInteger(byteOffset) || byteOffset < 0 || byteOffset + len > sizeBytes) {
    throw new NamespaceRangeError(byteOffset, len, sizeBytes);
  }
}

/** Pattern-backed namespace with a sparse written overlay. */
export class PatternStore implements NamespaceStore {
  readonly sizeBytes: number;
  readonly lbaSize: 512 | 4096;
  readonly nlb: number;
  readonly seed: number;
  private readonly chunks = new Map<number, Buffer>();

  constructor(geometry: NamespaceGeometry, seed: number) {
    checkGeometry(geometry);
    this.sizeBytes = geometry.sizeBytes;
    this.lbaSize = geometry.lbaSize;
    this.nlb = geometry.sizeBytes / geometry.lbaSize;
    this.seed = seed >>> 0;
  }

  read(byteOffset: number, out: Uint8Array): void {
    checkAccess(byteOffset, out.length, this.sizeBytes);
    let pos = 0;
    while (pos < out.length) {
      const abs = byteOffset + pos;
      const idx = Math.floor(abs / CHUNK_BYTES);
      const inChunk = abs - idx * CHUNK_BYTES;
      const n = Math.min(CHUNK_BYTES - inChunk, out.length - pos);
      const chunk = this.chunks.get(idx);
      if (chunk) {
        out.set(chunk.subarray(inChunk, inChunk + n), pos);
        pos += n;
        continue;
      }
      // Coalesce a run of unwritten chunks into one pattern fill.
      let runEnd = pos + n;
      let next = idx + 1;
      while (runEnd < out.length && !this.chunks.has(next)) {
        runEnd = Math.min(out.length, runEnd + CHUNK_BYTES);
        next++;
      }
      fillPattern(this.seed, abs, out.subarray(pos, runEnd));
      pos = runEnd;
    }
  }

  write(byteOffset: number, data: Uint8Array): void {
    checkAccess(byteOffset, data.length, this.sizeBytes);
    let pos = 0;
    while (pos < data.length) {
      const abs = byteOffset + pos;
      const idx = Math.floor(abs / CHUNK_BYTES);
      const inChunk = abs - idx * CHUNK_BYTES;
      const n = Math.min(CHUNK_BYTES - inChunk, data.length - pos);
      let chunk = this.chunks.get(idx);
      if (!chunk) {
        chunk = Buffer.allocUnsafe(CHUNK_BYTES);
        // Only the bytes the write does not cover need the pattern.
        if (n < CHUNK_BYTES) fillPattern(this.seed, idx * CHUNK_BYTES, chunk);
        this.chunks.set(idx, chunk);
      }
      chunk.set(data.subarray(pos, pos + n), inChunk);
      pos += n;
    }
  }

  flush(): void {
    // Nothing volatile: the overlay is the medium.
  }

  close(): void {
    this.chunks.clear();
  }

  residentBytes(): number {
    return this.chunks.size * CHUNK_BYTES;
  }
}

/** Namespace stored in a regular file (created sparse, extended to the size if shorter). */
export class FileStore implements NamespaceStore {
  readonly sizeBytes: number;
  readonly lbaSize: 512 | 4096;
  readonly nlb: number;
  readonly path: string;
  private fd: number;

  constructor(geometry: NamespaceGeometry, path: string) {
    checkGeometry(geometry);
    this.sizeBytes = geometry.sizeBytes;
    this.lbaSize = geometry.lbaSize;
    this.nlb = geometry.sizeBytes / geometry.lbaSize;
    this.path = path;
    this.fd = openSync(path, 'a+');
    // 'a+' would append every write; reopen read/write now that the file exists.
    closeSync(this.fd);
    this.fd = openSync(path, 'r+');
    if (fstatSync(this.fd).size < this.sizeBytes) ftruncateSync(this.fd, this.sizeBytes);
  }

  read(byteOffset: number, out: Uint8Array): void {
    checkAccess(byteOffset, out.length, this.sizeBytes);
    let pos = 0;
    while (pos < out.length) {
      const n = readSync(this.fd, out, pos, out.length - pos, byteOffset + pos);
      if (n === 0) {
        out.fill(0, pos); // the file shrank under us: read the hole as zeros
        return;
      }
      pos += n;
    }
  }

  write(byteOffset: number, data: Uint8Array): void {
    checkAccess(byteOffset, data.length, this.sizeBytes);
    let pos = 0;
    while (pos < data.length) pos += writeSync(this.fd, data, pos, data.length - pos, byteOffset + pos);
  }

  flush(): void {
    fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  residentBytes(): number {
    return 0;
  }
}
