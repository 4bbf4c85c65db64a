#!/usr/bin/env bash
# Builds the topology of one run (see lib.sh for the picture).
#
#   up.sh <id> [--mtu N] [--offloads on|off] [--tx-csum on|off] [--target-cc NAME] [--owner PID]
#
# --mtu       MTU of both veth ends (default 1500; 68..65535, jumbo allowed).
# --offloads  off (default): TSO, GSO and GRO off on both ends, so host0
#             sees wire-sized frames as a real NIC would. on: left as veth
#             sets them (host0 may then see 64 KiB super-frames).
# --tx-csum   off (default): tgt0 computes full TCP/IP checksums in software.
#             veth otherwise hands host0 CHECKSUM_PARTIAL skbs whose checksum
#             field holds only the pseudo-header sum, and ddplab's host stack
#             verifies checksums as it would on a wire. (TSO needs tx
#             checksumming, so --tx-csum off also turns TSO off on tgt0.)
# --target-cc the TCP congestion control of the target namespace's kernel
#             towards the host (default cubic, stock Linux's default). Set
#             on tgt0's subnet route (congctl), since a namespace other than
#             the root one may only default to the machine's allowed ones;
#             so the run does not follow whatever the machine defaults to
#             (this lab VM's kernel defaults to bbr, which paces).
# --owner     the process that runs with this topology: while it lives,
#             `down.sh --all` leaves the topology alone (see lib.sh).
#
# Running it again for an existing id is harmless: a complete topology is
# kept (MTU and offload settings are applied again); a half-built one (a run
# killed in the middle of `up`) is removed and built afresh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"

[ $# -ge 1 ] || usage_error "usage: up.sh <id> [--mtu N] [--offloads on|off] [--tx-csum on|off] [--target-cc NAME] [--owner PID]"
id="$1"
shift
check_id "$id"
mtu=1500
offloads=off
txcsum=off
targetcc=cubic
owner=""
while [ $# -gt 0 ]; do
  case "$1" in
    --mtu) [ $# -ge 2 ] || usage_error "--mtu needs a value"; mtu="$2"; shift 2 ;;
    --offloads) [ $# -ge 2 ] || usage_error "--offloads needs on|off"; offloads="$2"; shift 2 ;;
    --tx-csum) [ $# -ge 2 ] || usage_error "--tx-csum needs on|off"; txcsum="$2"; shift 2 ;;
    --target-cc) [ $# -ge 2 ] || usage_error "--target-cc needs a name"; targetcc="$2"; shift 2 ;;
    --owner) [ $# -ge 2 ] || usage_error "--owner needs a pid"; owner="$2"; shift 2 ;;
    *) usage_error "unknown option '$1'" ;;
  esac
done
[[ "$mtu" =~ ^[0-9]+$ ]] && [ "$mtu" -ge 68 ] && [ "$mtu" -le 65535 ] || usage_error "bad --mtu '$mtu': use 68..65535"
[[ "$offloads" =~ ^(on|off)$ ]] || usage_error "bad --offloads '$offloads': use on or off"
[[ "$txcsum" =~ ^(on|off)$ ]] || usage_error "bad --tx-csum '$txcsum': use on or off"
[[ "$targetcc" =~ ^[a-z0-9_]{1,15}$ ]] || usage_error "bad --target-cc '$targetcc': a congestion control name such as cubic, reno or bbr"
[ -z "$owner" ] || [ "$owner" = manual ] || [[ "$owner" =~ ^[0-9]+$ ]] || usage_error "bad --owner '$owner': use a pid or manual"
require_root "$id"
command -v ethtool >/dev/null || die "ethtool not found: apt-get install ethtool"
# Registered congestion controls are the kernel's, the same in every namespace: checked before anything is built.
available="$(sysctl -n net.ipv4.tcp_available_congestion_control)"
[[ " $available " == *" $targetcc "* ]] || usage_error "congestion control '$targetcc' is not available in this kernel (available: $available)"

tgt="$(tgt_ns "$id")"
host="$(host_ns "$id")"
lock_id "$id"

complete() {
  ns_exists "$tgt" && ns_exists "$host" &&
    ip -n "$tgt" link show dev "$DDPLAB_TGT_IF" >/dev/null 2>&1 &&
    ip -n "$host" link show dev "$DDPLAB_HOST_IF" >/dev/null 2>&1
}

if ! complete; then
  # Whatever a killed `up` left behind for this id goes first.
  for ns in "$tgt" "$host"; do
    if ns_exists "$ns"; then ip netns del "$ns"; fi
  done

  for ns in "$tgt" "$host"; do
    ip netns add "$ns"
    # IPv6 off before any interface exists, so none ever gets a link-local
    # address or sends router/neighbour solicitations.
    if ip netns exec "$ns" test -d /proc/sys/net/ipv6; then
      ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    fi
    ip -n "$ns" link set lo up
  done

  # Both ends are created directly inside their namespaces: the names never
  # exist in the root namespace, so parallel ids cannot collide and a crash
  # cannot strand a veth there.
  ip -n "$tgt" link add "$DDPLAB_TGT_IF" type veth peer name "$DDPLAB_HOST_IF" netns "$host"
  ip -n "$tgt" addr add "$DDPLAB_TGT_CIDR" dev "$DDPLAB_TGT_IF"
  # host0 carries no kernel address, so the host namespace's kernel neither
  # answers ARP nor resets TCP for 192.0.2.2; NOARP makes sure it never
  # sends ARP of its own. Promiscuous so that libpcap sees frames for any
  # MAC the userspace stack chooses.
  ip -n "$host" link set "$DDPLAB_HOST_IF" arp off promisc on
fi

ip -n "$tgt" link set "$DDPLAB_TGT_IF" mtu "$mtu"
ip -n "$host" link set "$DDPLAB_HOST_IF" mtu "$mtu"

segmentation=off
if [ "$offloads" = on ]; then segmentation=on; fi
ip netns exec "$tgt" ethtool -K "$DDPLAB_TGT_IF" tx "$txcsum" gso "$segmentation" gro "$segmentation" >/dev/null
# TSO depends on tx checksumming: with --tx-csum off it is already off.
if [ "$txcsum" = on ] || [ "$segmentation" = off ]; then
  ip netns exec "$tgt" ethtool -K "$DDPLAB_TGT_IF" tso "$segmentation" >/dev/null
fi
ip netns exec "$host" ethtool -K "$DDPLAB_HOST_IF" tso "$segmentation" gso "$segmentation" gro "$segmentation" >/dev/null

# One receive CPU for host0, as a NIC queue has one interrupt CPU: veth
# hands each frame to the backlog of the CPU that sent it, and the target's
# TCP transmits both from its process and from softirq on whichever CPU
# took the host's ACK, so without this the frames of one flow reach the
# packet socket out of order whenever the two backlogs race (RPS steers
# every frame to CPU 0's backlog, which keeps the sender's order).
if ip netns exec "$host" test -e "/sys/class/net/$DDPLAB_HOST_IF/queues/rx-0/rps_cpus"; then
  ip netns exec "$host" sh -c "echo 1 > /sys/class/net/$DDPLAB_HOST_IF/queues/rx-0/rps_cpus"
fi

# Before host0 comes up: the host namespace's kernel keeps out of host0's
# traffic (see lib.sh). Without cls_bpf the run still works, only slower.
host_kernel_rx "$host" off ||
  echo "ddplab-netns: warning: no tc ingress drop on $DDPLAB_HOST_IF (cls_bpf missing?): the host namespace's kernel will also process its frames" >&2

ip -n "$tgt" link set "$DDPLAB_TGT_IF" up
ip -n "$host" link set "$DDPLAB_HOST_IF" up

# The target kernel's congestion control towards the host, on the subnet's
# route (what a route's congctl names, TCP uses for connections on it).
ip -n "$tgt" route replace "$DDPLAB_TGT_NET" dev "$DDPLAB_TGT_IF" proto kernel scope link src "${DDPLAB_TGT_CIDR%/*}" congctl "$targetcc"

if [ -n "$owner" ]; then write_owner "$id" "$owner"; fi
