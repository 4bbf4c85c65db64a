#!/usr/bin/env node
// Installs what ddplab needs on a fresh Debian machine that has only Node and
// npm, and says what it installs. Quick (a few stat calls) when nothing is
// missing. Runs before `npm test` and `npm run demo` (npm "pre" scripts).
//
// Uses only node: built-ins: it must run before node_modules exists.
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

// Debian package → a file whose presence proves it is installed.
const debs = [
  ['libpcap-dev', ['/usr/include/pcap.h', '/usr/include/pcap/pcap.h']],
  ['iproute2', ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip']],
  ['ethtool', ['/usr/sbin/ethtool', '/sbin/ethtool']],
  ['tshark', ['/usr/bin/tshark']],
  ['tcpdump', ['/usr/bin/tcpdump', '/usr/sbin/tcpdump']],
  ['iperf3', ['/usr/bin/iperf3']],
];

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

function fail(msg) {
  process.stderr.write(`bootstrap: ${msg}\n`);
  process.exit(1);
}

const missing = debs.filter(([, files]) => !files.some((f) => existsSync(f))).map(([p]) => p);
if (missing.length > 0) {
  if (process.getuid && process.getuid() !== 0) {
    fail(`missing Debian packages: ${missing.join(' ')}; run as root or: sudo apt-get install -y ${missing.join(' ')}`);
  }
  process.stdout.write(`bootstrap: installing Debian packages: ${missing.join(' ')}\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // tshark's postinst asks whether non-root users may capture; answer no.
  spawnSync('sh', ['-c', 'echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections'], { env, stdio: 'ignore' });
  if (run('apt-get', ['update', '-q'], { env }) !== 0) fail('apt-get update failed');
  if (run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], { env }) !== 0) {
    fail(`apt-get install ${missing.join(' ')} failed`);
  }
}

// The Linux peer harness (src/peer): QEMU, a static busybox for the guests'
// initramfs and a stock Debian kernel package, downloaded (never installed)
// into the git-ignored cache .cache/peer/debs. When they cannot be had the
// harness's tests skip with the one line src/peer/requirements.ts prints, so
// this part reports and carries on instead of failing.
peerBootstrap();

function peerBootstrap() {
  const say = (msg) => process.stdout.write(`bootstrap: linux peer: ${msg}\n`);
  const arch = spawnSync('dpkg', ['--print-architecture'], { encoding: 'utf8' });
  if (arch.status !== 0 || arch.stdout.trim() !== 'amd64') {
    say(`not an amd64 Debian machine (${(arch.stdout ?? '').trim() || 'no dpkg'}): the peer VMs need qemu-system-x86 and an amd64 kernel package; their tests will skip`);
    return;
  }
  const staticBusybox = ['/bin/busybox', '/usr/bin/busybox'].some((p) => existsSync(p) && !hasInterp(p));
  const peerDebs = [
    ['qemu-system-x86', existsSync('/usr/bin/qemu-system-x86_64')],
    ['busybox-static', staticBusybox],
    ['xz-utils', existsSync('/usr/bin/xz')],
  ]
    .filter(([, ok]) => !ok)
    .map(([p]) => p);
  const debDir = join(root, '.cache', 'peer', 'debs');
  const haveKernel = existsSync(debDir) && readdirSync(debDir).some((f) => /^linux-image-[0-9].*-amd64(-unsigned)?_.*_amd64\.deb$/.test(f));
  if (peerDebs.length === 0 && haveKernel) return;
  if (process.getuid && process.getuid() !== 0) {
    say(`missing ${[...peerDebs, ...(haveKernel ? [] : ['the kernel package'])].join(', ')} and not root to fetch them: the peer tests will skip`);
    return;
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let updated = false;
  const update = () => {
    if (!updated) updated = run('apt-get', ['update', '-q'], { env }) === 0;
    return updated;
  };
  if (peerDebs.length > 0) {
    say(`installing ${peerDebs.join(' ')}`);
    update();
    if (run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...peerDebs], { env }) !== 0) {
      say(`apt-get install ${peerDebs.join(' ')} failed: the peer tests will skip`);
      return;
    }
  }
  if (!haveKernel) {
    // linux-image-amd64 is the metapackage; its one dependency names the kernel of the release.
    const kernelPkg = () => {
      const r = spawnSync('apt-cache', ['depends', 'linux-image-amd64'], { encoding: 'utf8' });
      const m = /Depends: (linux-image-[0-9][^\s]*-amd64(?:-unsigned)?)/.exec(r.stdout ?? '');
      return m ? m[1] : undefined;
    };
    let pkg = kernelPkg();
    if (pkg === undefined && update()) pkg = kernelPkg();
    if (pkg === undefined) {
      say('apt knows no linux-image-amd64: the peer tests will skip');
      return;
    }
    say(`downloading ${pkg} into .cache/peer/debs (unpacked by the harness, never installed)`);
    mkdirSync(debDir, { recursive: true });
    // apt's sandbox user cannot write into the project: download as root, quietly.
    const dl = () => run('apt-get', ['download', '-q', '-o', 'APT::Sandbox::User=root', pkg], { env, cwd: debDir });
    if (dl() !== 0 && !(update() && dl() === 0)) say(`apt-get download ${pkg} failed: the peer tests will skip`);
  }
}

/** Whether an ELF asks for a dynamic loader (PT_INTERP): the guests need a static busybox. */
function hasInterp(path) {
  const b = readFileSync(path);
  const phoff = Number(b.readBigUInt64LE(0x20));
  const phentsize = b.readUInt16LE(0x36);
  const phnum = b.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) if (b.readUInt32LE(phoff + i * phentsize) === 3) return true;
  return false;
}

// node_modules: `npm ci` when absent, or when a native addon was never built
// (npm 11 skips install scripts of packages not in package.json allowScripts,
// and pcap cannot build before libpcap-dev is installed).
const natives = [
  'node_modules/pcap/build/Release/pcap_binding.node',
  'node_modules/sse4_crc32/build/Release/crc32c.node',
  'node_modules/raw-socket/build/Release/raw.node',
];
const nodeModules = join(root, 'node_modules');
const unbuilt = natives.filter((f) => !existsSync(join(root, f)));
if (!existsSync(nodeModules) || unbuilt.length > 0) {
  process.stdout.write(
    existsSync(nodeModules)
      ? `bootstrap: native addons not built (${unbuilt.map((f) => f.split('/')[1]).join(', ')}): running npm ci\n`
      : 'bootstrap: node_modules absent: running npm ci\n',
  );
  if (run('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root }) !== 0) fail('npm ci failed');
  const still = natives.filter((f) => !existsSync(join(root, f)));
  if (still.length > 0) fail(`native addons still missing after npm ci: ${still.join(', ')}`);
}

// ddplab's own addons, built with the node-gyp that ships with npm against
// Node's installed headers when missing or older than their source:
// native/pcap-port, the NIC thread's libpcap port (without it a run keeps
// the NIC in the host's thread, slower), and native/copy, copies into shared
// memory at memcpy speed (without it they run in JavaScript, slower). A
// failed build is said and not fatal.
buildAddon('pcap-port', 'ddplab_pcap_port', 'pcap_port.c', "the NIC thread's libpcap addon", 'runs keep the NIC in the host thread');
buildAddon('copy', 'ddplab_copy', 'copy.c', 'copies into shared memory', 'those copies run in JavaScript');

function buildAddon(name, target, source, what, without) {
  const dir = join(root, 'native', name);
  const out = join(dir, 'build', 'Release', `${target}.node`);
  const srcs = [source, 'binding.gyp'].map((f) => join(dir, f));
  if (existsSync(out) && srcs.every((f) => statSync(f).mtimeMs <= statSync(out).mtimeMs)) return;
  const npmCli = realpathSync(spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).stdout.trim() || '/usr/bin/npm');
  const candidates = [
    join(dirname(npmCli), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  const gyp = candidates.find((f) => existsSync(f));
  if (gyp === undefined) {
    process.stderr.write(`bootstrap: node-gyp (part of npm) not found: native/${name} not built; ${without}\n`);
    return;
  }
  process.stdout.write(`bootstrap: building native/${name} (${what})\n`);
  // Node's own headers (a distribution's node ships them under <prefix>/include/node): no download.
  const nodedir = join(dirname(process.execPath), '..');
  const args = [gyp, 'rebuild', '--loglevel=warn', ...(existsSync(join(nodedir, 'include', 'node', 'node_api.h')) ? [`--nodedir=${nodedir}`] : [])];
  if (run(process.execPath, args, { cwd: dir }) !== 0 || !existsSync(out)) {
    process.stderr.write(`bootstrap: building native/${name} failed: ${without}\n`);
  }
}

// Compiled JavaScript for the ddplab command (dist/), rebuilt when any source
// changed since. A failed build only costs start-up time: bin/ddplab.js runs
// the sources whenever dist/ is not fresh.
if (run(process.execPath, [join(root, 'scripts/build.mjs')], { cwd: root }) !== 0) {
  process.stderr.write('bootstrap: compiling to dist/ failed; ddplab will run from the TypeScript sources (slower start)\n');
}
