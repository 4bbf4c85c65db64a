/**
 * A writer for the "newc" cpio format, the one the Linux kernel unpacks as an
 * initramfs (Documentation/driver-api/early-userspace/buffer-format.rst):
 * per entry a 110-byte ASCII header ("070701" and thirteen 8-digit hex
 * fields), the NUL-terminated name padded to a multiple of 4, then the data
 * padded to a multiple of 4; a "TRAILER!!!" entry ends the archive. The
 * kernel accepts several archives one after the other, which is how a VM's
 * own files (a disk image) are added to a shared base without rewriting it.
 *
 * Written here rather than by the cpio tool: Debian's minimal installs lack
 * it, and the image entry is produced in chunks straight from a generator.
 */
import { closeSync, openSync, writeSync } from 'node:fs';

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

export class CpioWriter {
  private readonly fd: number;
  private written = 0;
  private ino = 1;
  private closed = false;

  constructor(path: string) {
    this.fd = openSync(path, 'w');
  }

  dir(name: string, mode = 0o755): void {
    this.header(name, S_IFDIR | mode, 0, 2);
  }

  file(name: string, data: Uint8Array, mode = 0o644): void {
    this.header(name, S_IFREG | mode, data.length, 1);
    this.put(data);
    this.pad();
  }

  /** A regular file of `size` bytes whose content comes in chunks (e.g. a multi-MiB disk image). */
  fileFromChunks(name: string, size: number, chunks: Iterable<Uint8Array>, mode = 0o644): void {
    this.header(name, S_IFREG | mode, size, 1);
    let n = 0;
    for (const c of chunks) {
      n += c.length;
      if (n > size) throw new Error(`cpio: ${name}: chunks exceed the declared size ${size}`);
      this.put(c);
    }
    if (n !== size) throw new Error(`cpio: ${name}: ${n} bytes written, ${size} declared`);
    this.pad();
  }

  symlink(name: string, target: string): void {
    const data = Buffer.from(target);
    this.header(name, S_IFLNK | 0o777, data.length, 1);
    this.put(data);
    this.pad();
  }

  /** A character device node; /dev/console must exist before init runs or init has no stdio. */
  charDev(name: string, major: number, minor: number, mode = 0o600): void {
    this.header(name, S_IFCHR | mode, 0, 1, major, minor);
  }

  /** Writes the trailer and closes the file. */
  finish(): void {
    if (this.closed) return;
    this.header('TRAILER!!!', 0, 0, 1);
    this.closed = true;
    closeSync(this.fd);
  }

  /** Closes without a trailer (an error path); the file is then not a valid archive. */
  abort(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }

  private header(name: string, mode: number, size: number, nlink: number, rmajor = 0, rminor = 0): void {
    const nameBytes = Buffer.from(`${name}\0`);
    const fields = [this.ino++, mode, 0, 0, nlink, 0, size, 0, 0, rmajor, rminor, nameBytes.length, 0];
    const hdr = `070701${fields.map((f) => f.toString(16).padStart(8, '0')).join('')}`;
    this.put(Buffer.from(hdr, 'ascii'));
    this.put(nameBytes);
    this.pad();
  }

  private put(b: Uint8Array): void {
    let off = 0;
    while (off < b.length) off += writeSync(this.fd, b, off, b.length - off);
    this.written += b.length;
  }

  private pad(): void {
    const r = this.written % 4;
    if (r !== 0) this.put(Buffer.alloc(4 - r));
  }
}
