#!/usr/bin/env bash
# Regenerates captures/kernel-tcp.pcap: a short TCP exchange between two Linux
# network namespaces joined by a veth pair, captured with tcpdump on one end.
# The codec tests check ddplab's checksums, option parsing and re-emission
# against these kernel-made frames.
#
# Contents: ARP request + reply, a 3-way handshake whose SYN/SYN-ACK carry
# MSS, SACK-permitted, timestamps and window scale (Linux defaults), 6000
# bytes from a (192.0.2.1) to b (192.0.2.2) port 5201, 3000 bytes back, FINs.
#
# Transmit checksum offload is switched off on both veth ends: with it on, the
# kernel leaves CHECKSUM_PARTIAL skbs (pseudo-header sum only) and the capture
# would hold checksums no receiver could verify. IPv6 is off so no ND/MLD
# frames join in.
#
# Usage (root): netns/make-kernel-capture.sh [output.pcap]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$(dirname "$here")/captures/kernel-tcp.pcap}
ns_a=ddplab-cap-a
ns_b=ddplab-cap-b
if_a=ddpcap-a0
if_b=ddpcap-b0
port=5201

die() { echo "make-kernel-capture: $*" >&2; exit 1; }
[[ $EUID -eq 0 ]] || die "must run as root"
command -v tcpdump >/dev/null || die "tcpdump not installed"
command -v ethtool >/dev/null || die "ethtool not installed"
command -v node >/dev/null || die "node not installed"
for ns in "$ns_a" "$ns_b"; do
  # Never adopt (and later delete) a namespace this script did not create.
  if ip netns list | awk '{print $1}' | grep -qx "$ns"; then
    die "namespace $ns already exists; remove it with 'ip netns del $ns' if it is a leftover"
  fi
done

created=()
tcpdump_pid=
server_pid=
work=$(mktemp -d /tmp/ddplab-cap.XXXXXX)

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null || true
  [[ -n $tcpdump_pid ]] && kill "$tcpdump_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  for ns in "${created[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

in_a() { ip netns exec "$ns_a" "$@"; }
in_b() { ip netns exec "$ns_b" "$@"; }

ip netns add "$ns_a"; created+=("$ns_a")
ip netns add "$ns_b"; created+=("$ns_b")
for ns in "$ns_a" "$ns_b"; do
  # Before the veth exists, so its ends never get an IPv6 link-local address.
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip netns exec "$ns" ip link set dev lo up
done
ip link add "$if_a" netns "$ns_a" type veth peer name "$if_b" netns "$ns_b"
in_a ip link set dev "$if_a" address 02:dd:1a:b0:00:01
in_b ip link set dev "$if_b" address 02:dd:1a:b0:00:02
in_a ethtool -K "$if_a" tx off >/dev/null
in_b ethtool -K "$if_b" tx off >/dev/null
in_a ip addr add 192.0.2.1/24 dev "$if_a"
in_b ip addr add 192.0.2.2/24 dev "$if_b"
in_a ip link set dev "$if_a" up
in_b ip link set dev "$if_b" up

# Background jobs are started with a plain `ip netns exec` (which execs) so
# that $! is the process itself, not a subshell. -Z root: tcpdump would
# otherwise drop to its own user and fail to write $work.
ip netns exec "$ns_a" tcpdump -i "$if_a" --immediate-mode -U -Z root -s 0 -w "$work/cap.pcap" 2>"$work/tcpdump.err" &
tcpdump_pid=$!
for _ in $(seq 100); do
  grep -q 'listening on' "$work/tcpdump.err" 2>/dev/null && break
  kill -0 "$tcpdump_pid" 2>/dev/null || die "tcpdump exited: $(cat "$work/tcpdump.err")"
  sleep 0.05
done
grep -q 'listening on' "$work/tcpdump.err" || die "tcpdump did not start"

# Server in b: read the client's bytes to its FIN, answer 3000 bytes, close.
ip netns exec "$ns_b" node -e "
const net = require('node:net');
setTimeout(() => process.exit(2), 10000).unref();
const srv = net.createServer({ allowHalfOpen: true }, (s) => {
  let n = 0;
  s.on('data', (d) => { n += d.length; });
  s.on('end', () => {
    const b = Buffer.alloc(3000);
    for (let i = 0; i < b.length; i++) b[i] = i & 0xff;
    s.end(b);
    srv.close();
    if (n !== 6000) { console.error('server got ' + n); process.exitCode = 1; }
  });
});
srv.listen($port, '192.0.2.2', () => console.log('ready'));
" >"$work/server.out" &
server_pid=$!
for _ in $(seq 100); do
  grep -q ready "$work/server.out" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || die "server exited"
  sleep 0.05
done
grep -q ready "$work/server.out" || die "server did not start"

in_a node -e "
const net = require('node:net');
setTimeout(() => process.exit(2), 10000).unref();
let n = 0;
const s = net.connect($port, '192.0.2.2', () => {
  const b = Buffer.alloc(6000);
  for (let i = 0; i < b.length; i++) b[i] = (i * 7) & 0xff;
  s.end(b);
});
s.on('data', (d) => { n += d.length; });
s.on('close', () => { if (n !== 3000) { console.error('client got ' + n); process.exit(1); } });
"
wait "$server_pid"
server_pid=

# Let the last ACK reach the capture, then stop tcpdump cleanly. SIGTERM, not
# SIGINT: a non-interactive shell starts background jobs with SIGINT ignored.
sleep 0.3
kill -TERM "$tcpdump_pid"
wait "$tcpdump_pid" || true
tcpdump_pid=

mkdir -p "$(dirname "$out")"
cp "$work/cap.pcap" "$out"
echo "wrote $out ($(stat -c %s "$out") bytes)"
