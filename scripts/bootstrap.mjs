#!/usr/bin/env node
// Installs what ddplab needs on a fresh Debian machine that has only Node and
// npm, and says what it installs. Quick (a few stat calls) when nothing is
// missing. Runs before `npm test` and `npm run demo` (npm "pre" scripts).
//
// Uses only node: built-ins: it must run before node_modules exists.
import { existsSync } from 'node:fs';
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

// Compiled JavaScript for the ddplab command (dist/), rebuilt when any source
// changed since. A failed build only costs start-up time: bin/ddplab.js runs
// the sources whenever dist/ is not fresh.
if (run(process.execPath, [join(root, 'scripts/build.mjs')], { cwd: root }) !== 0) {
  process.stderr.write('bootstrap: compiling to dist/ failed; ddplab will run from the TypeScript sources (slower start)\n');
}
