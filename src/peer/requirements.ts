/**
 * What the Linux peer harness needs from the machine, and the one line that
 * says what is missing when it cannot run. scripts/bootstrap.mjs installs all
 * of it on a Debian machine; this check is what the CLI and the tests see
 * when that could not happen (no root, no apt, no /dev/net/tun).
 */
import { accessSync, closeSync, constants, existsSync, openSync, readSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { DdplabError, UserError } from '../base/errors.js';

/** Something the harness needs is absent; the message is the one line to show. */
export class PeerMissing extends UserError {
  constructor(message: string) {
    super('peer-missing', `linux peer: ${message}`);
  }
}

/** A VM or its network failed (qemu ended, a guest command failed or timed out): the message says which and why. */
export class PeerError extends DdplabError {
  constructor(message: string) {
    super('PEER', message);
    this.name = 'PeerError';
  }
}

export const QEMU = 'qemu-system-x86_64';

export function which(cmd: string): string | undefined {
  for (const d of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter)) {
    const p = join(d, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The busybox binary for the initramfs: it must be static, the guest has no libc. */
export function staticBusybox(): string | undefined {
  for (const p of ['/bin/busybox', '/usr/bin/busybox']) {
    if (existsSync(p) && !hasInterpreter(p)) return p;
  }
  return undefined;
}

/** Whether an ELF asks for a dynamic loader (a PT_INTERP program header). */
function hasInterpreter(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const h = Buffer.alloc(64);
    readSync(fd, h, 0, 64, 0);
    const phoff = Number(h.readBigUInt64LE(0x20));
    const phentsize = h.readUInt16LE(0x36);
    const phnum = h.readUInt16LE(0x38);
    const ph = Buffer.alloc(phentsize * phnum);
    readSync(fd, ph, 0, ph.length, phoff);
    for (let i = 0; i < phnum; i++) if (ph.readUInt32LE(i * phentsize) === 3) return true;
    return false;
  } finally {
    closeSync(fd);
  }
}

/**
 * Missing pieces other than the kernel package (kernel.ts reports that one
 * when it prepares it), joined into one line, or undefined when all is there.
 */
export function missingPeerRequirements(): string | undefined {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root (namespaces, taps)');
  if (which(QEMU) === undefined) missing.push(`${QEMU} (apt-get install qemu-system-x86)`);
  if (staticBusybox() === undefined) missing.push('a static busybox (apt-get install busybox-static)');
  if (!existsSync('/dev/net/tun')) missing.push('/dev/net/tun (the tun module)');
  for (const tool of ['ip', 'dpkg-deb', 'xz']) if (which(tool) === undefined) missing.push(tool);
  return missing.length === 0 ? undefined : `missing ${missing.join(', ')}; node scripts/bootstrap.mjs installs the packages`;
}
