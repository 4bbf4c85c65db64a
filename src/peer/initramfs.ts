/**
 * The initramfs of a peer VM: a static busybox, the role's kernel modules,
 * an init that mounts the pseudo filesystems and then serves commands on
 * the second serial port (ttyS1), and optionally one extra file (the target's
 * disk image). The whole userland is this one archive; nothing persists.
 *
 * The command protocol (vm.ts speaks the other end): init writes "@@READY";
 * each request is one line, the base64 of a shell script; init runs it with
 * stdout and stderr on ttyS1 and then writes "@@END <exit status>". base64
 * keeps scripts to one line whatever they contain, and the port is put in
 * raw mode without echo so the only bytes coming back are the script's.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { CpioWriter } from './cpio.js';

const INIT = `#!/bin/busybox sh
# PID 1 of a ddplab peer VM (src/peer/initramfs.ts).
/bin/busybox mkdir -p /proc /sys /dev /tmp /bin /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
ip link set lo up
stty -F /dev/ttyS1 raw -echo
exec 3<>/dev/ttyS1
echo @@READY >&3
while IFS= read -r line <&3; do
  echo "$line" | base64 -d > /tmp/.cmd
  sh /tmp/.cmd </dev/null >&3 2>&3
  echo "@@END $?" >&3
done
echo "init: the command port closed" > /dev/console
poweroff -f
`;

export interface InitramfsSpec {
  readonly busybox: string;
  /** .ko files in load order; the init does not load them (vm.ts does, so a failure is reported per module). */
  readonly modules: readonly string[];
  /** An extra file: its path inside the guest, size and content in chunks. */
  readonly extra?: { readonly path: string; readonly size: number; readonly chunks: Iterable<Uint8Array> };
}

/** Guest path of the module list, one name per line in load order. */
export const GUEST_MODULE_LIST = '/etc/peer-modules';
export const GUEST_MODULE_DIR = '/lib/peer';

export function writeInitramfs(path: string, spec: InitramfsSpec): void {
  const w = new CpioWriter(path);
  try {
    for (const d of ['dev', 'proc', 'sys', 'tmp', 'bin', 'sbin', 'usr', 'usr/bin', 'usr/sbin', 'etc', 'lib', 'lib/peer']) w.dir(d);
    w.charDev('dev/console', 5, 1);
    w.file('bin/busybox', readFileSync(spec.busybox), 0o755);
    w.file('init', Buffer.from(INIT), 0o755);
    const names = spec.modules.map((m) => basename(m, '.ko'));
    spec.modules.forEach((m, i) => w.file(`lib/peer/${names[i]!}.ko`, readFileSync(m)));
    w.file(GUEST_MODULE_LIST.slice(1), Buffer.from(`${names.join('\n')}\n`));
    if (spec.extra) w.fileFromChunks(spec.extra.path.replace(/^\//, ''), spec.extra.size, spec.extra.chunks);
    w.finish();
  } catch (e) {
    w.abort();
    throw e;
  }
}
