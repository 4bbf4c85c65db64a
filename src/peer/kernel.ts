/**
 * The guest kernel of the Linux peer VMs: a stock Debian linux-image .deb,
 * fetched by scripts/bootstrap.mjs with `apt-get download` into the
 * git-ignored cache (.cache/peer/debs), unpacked here once and never
 * installed. What is kept (.cache/peer/kernel-<deb version>/):
 *
 *   vmlinux      the uncompressed kernel, taken out of the bzImage: QEMU boots
 *                an ELF with a PVH entry note directly, which under software
 *                emulation skips the real-mode setup and the in-guest
 *                decompression (seconds under TCG)
 *   bzImage      the packaged kernel, the fallback when vmlinux has no PVH note
 *   modules/     the .ko files the peers load and every module they depend on
 *   kernel.json  release, module load order per root set
 *
 * The .deb has no modules.dep (depmod runs at install time), so dependencies
 * come from each module's own .modinfo "depends=" field.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PeerMissing } from './requirements.js';

/** Project root (src/peer → ../..). */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Git-ignored cache of what the peers need (see .gitignore). */
export const PEER_CACHE = join(PROJECT_ROOT, '.cache', 'peer');
export const DEB_DIR = join(PEER_CACHE, 'debs');

/** Modules each peer role loads; their dependencies are added. crc32c_generic: the NVMe/TCP digests allocate "crc32c" from the crypto API, which would otherwise ask a modprobe the initramfs cannot serve. */
export const MODULE_ROOTS = {
  target: ['virtio_pci', 'virtio_net', 'crc32c_generic', 'configfs', 'brd', 'nvmet', 'nvmet_tcp'],
  host: ['virtio_pci', 'virtio_net', 'crc32c_generic', 'nvme_core', 'nvme_fabrics', 'nvme_tcp'],
} as const;
export type PeerRole = keyof typeof MODULE_ROOTS;

export interface PeerKernel {
  readonly dir: string;
  readonly release: string;
  readonly debVersion: string;
  /** The file to pass to -kernel: vmlinux when it has a PVH note, else the bzImage. */
  readonly bootImage: string;
  readonly pvh: boolean;
  /** Absolute .ko paths in load order, per role. */
  readonly modules: Readonly<Record<PeerRole, readonly string[]>>;
}

interface KernelJson {
  release: string;
  debVersion: string;
  pvh: boolean;
  order: Record<PeerRole, string[]>;
}

const normalize = (m: string): string => m.replace(/-/g, '_');

/** The newest linux-image-*-amd64 .deb in the cache, or undefined. */
export function findKernelDeb(): string | undefined {
  if (!existsSync(DEB_DIR)) return undefined;
  const debs = readdirSync(DEB_DIR)
    .filter((f) => /^linux-image-[0-9].*-amd64(-unsigned)?_.*_amd64\.deb$/.test(f))
    .sort();
  const last = debs.at(-1);
  return last === undefined ? undefined : join(DEB_DIR, last);
}

/** The unpacked kernel, preparing it from the cached .deb on first use (a few seconds). */
export function preparePeerKernel(): PeerKernel {
  const deb = findKernelDeb();
  if (deb === undefined) throw new PeerMissing(`no linux-image .deb in ${DEB_DIR} (node scripts/bootstrap.mjs downloads it)`);
  const debVersion = basename(deb).split('_')[1] ?? 'unknown';
  const dir = join(PEER_CACHE, `kernel-${debVersion}`);
  if (!existsSync(join(dir, 'kernel.json'))) unpack(deb, debVersion, dir);
  const meta = JSON.parse(readFileSync(join(dir, 'kernel.json'), 'utf8')) as KernelJson;
  const mods = (role: PeerRole): string[] => meta.order[role].map((m) => join(dir, 'modules', `${m}.ko`));
  return {
    dir,
    release: meta.release,
    debVersion: meta.debVersion,
    pvh: meta.pvh,
    bootImage: join(dir, meta.pvh ? 'vmlinux' : 'bzImage'),
    modules: { target: mods('target'), host: mods('host') },
  };
}

function unpack(deb: string, debVersion: string, dir: string): void {
  mkdirSync(PEER_CACHE, { recursive: true });
  // Unpack and select into a private directory, then rename: two processes
  // preparing at once both succeed and the loser's copy is dropped.
  const work = mkdtempSync(join(PEER_CACHE, '.unpack-'));
  try {
    const tree = join(work, 'tree');
    const r = spawnSync('dpkg-deb', ['-x', deb, tree], { stdio: ['ignore', 'ignore', 'pipe'] });
    if (r.error || r.status !== 0) throw new PeerMissing(`cannot unpack ${deb}: ${r.error?.message ?? r.stderr.toString().trim()}`);
    const boot = join(tree, 'boot');
    const vmlinuz = readdirSync(boot).find((f) => f.startsWith('vmlinuz-'));
    if (vmlinuz === undefined) throw new PeerMissing(`${deb} holds no boot/vmlinuz-*`);
    const release = vmlinuz.slice('vmlinuz-'.length);
    const out = join(work, 'out');
    mkdirSync(join(out, 'modules'), { recursive: true });
    copyFileSync(join(boot, vmlinuz), join(out, 'bzImage'));
    const vmlinux = extractVmlinux(readFileSync(join(boot, vmlinuz)));
    const pvh = hasPvhNote(vmlinux);
    if (pvh) writeFileSync(join(out, 'vmlinux'), vmlinux);

    const index = indexModules(join(tree, 'lib', 'modules', release, 'kernel'));
    const order = {} as Record<PeerRole, string[]>;
    for (const role of Object.keys(MODULE_ROOTS) as PeerRole[]) {
      order[role] = loadOrder(MODULE_ROOTS[role], index);
      for (const m of order[role]) copyFileSync(index.get(m)!.path, join(out, 'modules', `${m}.ko`));
    }
    const meta: KernelJson = { release, debVersion, pvh, order };
    writeFileSync(join(out, 'kernel.json'), `${JSON.stringify(meta, null, 2)}\n`);
    try {
      renameSync(out, dir);
    } catch (e) {
      if (!existsSync(join(dir, 'kernel.json'))) throw e;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

interface ModInfo {
  readonly path: string;
  readonly depends: readonly string[];
}

function indexModules(root: string): Map<string, ModInfo> {
  const index = new Map<string, ModInfo>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ko')) index.set(normalize(e.name.slice(0, -3)), { path: p, depends: modinfoDepends(readFileSync(p)) });
    }
  };
  walk(root);
  return index;
}

/** The "depends=" string of a module's .modinfo section (NUL-separated key=value strings). */
function modinfoDepends(ko: Buffer): string[] {
  const key = Buffer.from('\0depends=');
  const at = ko.indexOf(key);
  if (at < 0) return [];
  const start = at + key.length;
  const end = ko.indexOf(0, start);
  const v = ko.subarray(start, end).toString('ascii');
  return v === '' ? [] : v.split(',').map(normalize);
}

/** Roots and their dependencies, every module after the ones it needs. */
function loadOrder(roots: readonly string[], index: ReadonlyMap<string, ModInfo>): string[] {
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (m: string, chain: readonly string[]): void => {
    if (seen.has(m)) return;
    const info = index.get(m);
    if (info === undefined) throw new PeerMissing(`module ${m} (needed by ${chain.join(' → ') || 'the peer'}) is not in the kernel package`);
    seen.add(m);
    for (const d of info.depends) visit(d, [...chain, m]);
    order.push(m);
  };
  for (const r of roots) visit(r, []);
  return order;
}

/**
 * The ELF inside a bzImage (Documentation/arch/x86/boot.rst): the protected-
 * mode part starts after (setup_sects + 1) sectors, and the header's
 * payload_offset/payload_length (protocol 2.08+) locate the compressed
 * kernel in it. Debian compresses with xz; gzip and zstd are handled too.
 */
export function extractVmlinux(bz: Buffer): Buffer {
  if (bz.readUInt32LE(0x202) !== 0x53726448) throw new PeerMissing('the packaged kernel is not a bzImage (no HdrS magic)');
  const version = bz.readUInt16LE(0x206);
  if (version < 0x208) throw new PeerMissing(`bzImage boot protocol ${version.toString(16)} has no payload fields`);
  const setupSects = bz[0x1f1] === 0 ? 4 : bz[0x1f1]!;
  const base = (setupSects + 1) * 512;
  const off = base + bz.readUInt32LE(0x248);
  const len = bz.readUInt32LE(0x24c);
  const payload = bz.subarray(off, off + len);
  let tool: [string, string[]];
  if (payload.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) tool = ['xz', ['-dc', '--single-stream']];
  else if (payload[0] === 0x1f && payload[1] === 0x8b) tool = ['gzip', ['-dc']];
  else if (payload.readUInt32LE(0) === 0xfd2fb528) tool = ['zstd', ['-dc']];
  else throw new PeerMissing('the bzImage payload is compressed with a format the harness does not unpack (xz, gzip, zstd)');
  const r = spawnSync(tool[0], tool[1], { input: payload, maxBuffer: 1 << 30 });
  if (r.error || r.stdout.length === 0) throw new PeerMissing(`cannot decompress the kernel with ${tool[0]}: ${r.error?.message ?? r.stderr.toString().trim()}`);
  if (!r.stdout.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) throw new PeerMissing('the bzImage payload is not an ELF');
  return r.stdout;
}

/** Whether an ELF64 carries the Xen PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY, type 18), which QEMU's -kernel needs to boot it. */
export function hasPvhNote(elf: Buffer): boolean {
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (elf.readUInt32LE(ph) !== 4) continue; // PT_NOTE
    const off = Number(elf.readBigUInt64LE(ph + 8));
    const size = Number(elf.readBigUInt64LE(ph + 32));
    let p = off;
    while (p + 12 <= off + size) {
      const namesz = elf.readUInt32LE(p);
      const descsz = elf.readUInt32LE(p + 4);
      const type = elf.readUInt32LE(p + 8);
      const name = elf.subarray(p + 12, p + 12 + namesz).toString('ascii').replace(/\0+$/, '');
      if (name === 'Xen' && type === 18) return true;
      p += 12 + align4(namesz) + align4(descsz);
    }
  }
  return false;
}

const align4 = (n: number): number => (n + 3) & ~3;
