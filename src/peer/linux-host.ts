/**
 * A Linux nvme-tcp host in a VM: the stock kernel's nvme-tcp module,
 * connected by writing an option string to /dev/nvme-fabrics (what
 * `nvme connect` does; nvme-cli is not in the initramfs), then block I/O on
 * /dev/nvmeXn1 with busybox dd and O_DIRECT, so each dd is one command of
 * its size on the wire (up to the controller's MDTS) and nothing is served
 * from the guest's page cache.
 *
 * Reads come back as SHA-256 per read, computed in the guest; the caller
 * compares them with what the target is known to hold. Writes take their
 * bytes from the guest's /dev/urandom; the guest reports their SHA-256 and
 * the caller reads the range back.
 */
import { join } from 'node:path';
import { writeInitramfs } from './initramfs.js';
import type { VmPlacement } from './linux-target.js';
import { PeerVm } from './vm.js';
import { PeerError } from './requirements.js';

export interface LinuxHostOptions {
  readonly name: string;
  readonly ip: string;
  readonly prefixLen: number;
  readonly memMiB?: number;
  /** vCPUs: nvme-tcp opens at most one I/O queue per online CPU (default 2). */
  readonly cpus?: number;
  readonly lab: VmPlacement;
}

export interface ConnectOptions {
  /** ADDR:PORT */
  readonly target: string;
  readonly nqn: string;
  readonly hdrDigest?: boolean;
  readonly dataDigest?: boolean;
  readonly ioQueues?: number;
  readonly queueSize?: number;
  readonly keepAliveTmo?: number;
}

export interface IoRange {
  readonly offset: number;
  readonly length: number;
}

export interface ReadHash extends IoRange {
  readonly sha256: string;
}

export class LinuxHostVm {
  readonly vm: PeerVm;
  readonly cpus: number;
  private ctrl: string | undefined;

  private constructor(vm: PeerVm, cpus: number) {
    this.vm = vm;
    this.cpus = cpus;
  }

  static async start(o: LinuxHostOptions): Promise<LinuxHostVm> {
    const initrd = join(o.lab.dir, `${o.name}.initrd`);
    writeInitramfs(initrd, { busybox: o.lab.busybox, modules: o.lab.kernel.modules.host });
    const cpus = o.cpus ?? 2;
    const vm = await PeerVm.boot({ name: o.name, netns: o.lab.netns, tap: o.lab.tap, mac: o.lab.mac, memMiB: o.memMiB ?? 384, cpus, kernel: o.lab.kernel.bootImage, initrd, dir: o.lab.dir });
    try {
      await vm.run(
        `set -e
for m in $(cat /etc/peer-modules); do insmod /lib/peer/$m.ko; done
ip link set eth0 up
ip addr add ${o.ip}/${o.prefixLen} dev eth0
`,
        120_000,
      );
    } catch (e) {
      await vm.stop();
      throw e;
    }
    return new LinuxHostVm(vm, cpus);
  }

  /** Connects to a target; returns the namespace's block device (e.g. /dev/nvme0n1). */
  async connect(o: ConnectOptions): Promise<string> {
    if (this.ctrl !== undefined) throw new PeerError('linux host: already connected; disconnect first');
    const [traddr, trsvcid] = o.target.split(':');
    const opts = [
      'transport=tcp',
      `traddr=${traddr!}`,
      `trsvcid=${trsvcid ?? '4420'}`,
      `nqn=${o.nqn}`,
      `nr_io_queues=${o.ioQueues ?? this.cpus}`,
      `queue_size=${o.queueSize ?? 128}`,
      `keep_alive_tmo=${o.keepAliveTmo ?? 5}`,
      ...(o.hdrDigest === true ? ['hdr_digest'] : []),
      ...(o.dataDigest === true ? ['data_digest'] : []),
    ].join(',');
    // The fabrics device answers the write on the same open file: read it back for the instance.
    const out = await this.vm.run(
      `exec 4<>/dev/nvme-fabrics
echo "${opts}" >&4
read -r r <&4
echo "$r"
inst=$(echo "$r" | sed -n 's/.*instance=\\([0-9]*\\).*/\\1/p')
i=0
while [ ! -b /dev/nvme\${inst}n1 ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
[ -b /dev/nvme\${inst}n1 ] || { echo "no /dev/nvme\${inst}n1 after 10 s"; exit 1; }
echo "dev=/dev/nvme\${inst}n1"
`,
      60_000,
    );
    const m = /dev=(\/dev\/nvme\d+n1)/.exec(out);
    const inst = /instance=(\d+)/.exec(out);
    if (!m || !inst) throw new PeerError(`linux host: connect to ${o.target} gave no device: ${out.trim()}`);
    this.ctrl = `nvme${inst[1]!}`;
    return m[1]!;
  }

  get controller(): string | undefined {
    return this.ctrl;
  }

  /** How many I/O queues the connection runs: the blk-mq hardware contexts of the path device (nvmeXcYn1 under native multipath, else nvmeXn1). */
  async ioQueueCount(dev: string): Promise<number> {
    const base = dev.replace('/dev/', '');
    const path = base.replace(/n1$/, 'c*n1');
    const out = await this.vm.run(`for d in /sys/block/${path} /sys/block/${base}; do [ -d $d/mq ] && { ls -d $d/mq/* | wc -l; exit 0; }; done; echo 0`);
    return Number(out.trim());
  }

  async disconnect(): Promise<void> {
    if (this.ctrl === undefined) return;
    const c = this.ctrl;
    this.ctrl = undefined;
    await this.vm.run(`echo 1 > /sys/class/nvme/${c}/delete_controller`, 60_000);
  }

  /**
   * Reads each range with one O_DIRECT dd (so ranges up to MDTS are one
   * command each); `parallel` ranges run at once (one dd each), which spreads
   * them over the vCPUs and so over the I/O queues.
   */
  async readHashes(dev: string, ranges: readonly IoRange[], parallel = 1, timeoutMs = 120_000): Promise<ReadHash[]> {
    const lines = ranges.map((r, i) => `${i} ${r.offset} ${r.length}`).join('\n');
    const out = await this.vm.run(
      `cat > /tmp/reads <<'EOF'
${lines}
EOF
rm -f /tmp/hashes.*
worker() {
  while read -r i off len; do
    [ $(( i % ${parallel} )) -eq $1 ] || continue
    h=$(dd if=${dev} bs=$len count=1 skip=$off iflag=skip_bytes,direct 2>/tmp/dd.err.$1 | sha256sum) || { cat /tmp/dd.err.$1; exit 1; }
    echo "$i \${h%% *}" >> /tmp/hashes.$1
  done < /tmp/reads
}
for w in $(seq 0 $(( ${parallel} - 1 ))); do worker $w & done
wait
cat /tmp/hashes.*
`,
      timeoutMs,
    );
    const byIndex = new Map<number, string>();
    for (const l of out.split('\n')) {
      const m = /^(\d+) ([0-9a-f]{64})$/.exec(l.trim());
      if (m) byIndex.set(Number(m[1]), m[2]!);
    }
    return ranges.map((r, i) => {
      const h = byIndex.get(i);
      if (h === undefined) throw new PeerError(`linux host: read ${i} (${r.length} bytes at ${r.offset}) gave no hash: ${out.trim().split('\n').slice(-3).join(' | ')}`);
      return { ...r, sha256: h };
    });
  }

  /** Writes random bytes to each range (one O_DIRECT dd each); returns the SHA-256 of what was written. */
  async writeRandom(dev: string, ranges: readonly IoRange[], timeoutMs = 120_000): Promise<ReadHash[]> {
    const script = ranges
      .map(
        (r, i) => `dd if=/dev/urandom of=/tmp/w bs=${r.length} count=1 2>/dev/null
dd if=/tmp/w of=${dev} bs=${r.length} count=1 seek=${r.offset} oflag=seek_bytes,direct conv=notrunc 2>/tmp/dd.err || { cat /tmp/dd.err; exit 1; }
h=$(sha256sum /tmp/w); echo "${i} \${h%% *}"`,
      )
      .join('\n');
    const out = await this.vm.run(`set -e\n${script}\nrm -f /tmp/w`, timeoutMs);
    const hashes = new Map<number, string>();
    for (const l of out.split('\n')) {
      const m = /^(\d+) ([0-9a-f]{64})$/.exec(l.trim());
      if (m) hashes.set(Number(m[1]), m[2]!);
    }
    return ranges.map((r, i) => ({ ...r, sha256: hashes.get(i) ?? '' }));
  }

  /** Sequential O_DIRECT read of [0, bytes) in `bs` pieces by `jobs` parallel dd's; guest wall time in seconds (10 ms resolution). */
  async readThroughput(dev: string, bytes: number, bs: number, jobs: number, timeoutMs = 600_000): Promise<{ seconds: number; bytes: number }> {
    const per = Math.floor(bytes / jobs / bs);
    const out = await this.vm.run(
      `t0=$(cut -d' ' -f1 /proc/uptime)
for j in $(seq 0 $(( ${jobs} - 1 ))); do dd if=${dev} of=/dev/null bs=${bs} count=${per} skip=$(( j * ${per} )) iflag=direct 2>/dev/null & done
wait
t1=$(cut -d' ' -f1 /proc/uptime)
echo "t0=$t0 t1=$t1"`,
      timeoutMs,
    );
    const m = /t0=([\d.]+) t1=([\d.]+)/.exec(out);
    if (!m) throw new PeerError(`linux host: no timing: ${out}`);
    return { seconds: Number(m[2]) - Number(m[1]), bytes: per * bs * jobs };
  }

  async stop(): Promise<void> {
    await this.vm.stop();
  }
}
