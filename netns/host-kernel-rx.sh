#!/usr/bin/env bash
# Lets the host namespace's kernel receive host0's frames again (on), or
# keeps it out of them (off, what up.sh sets): see host_kernel_rx in lib.sh.
# bench:e2e turns it on while it lends host0 an address for its iperf3
# baseline, and off again after.
#
#   host-kernel-rx.sh <id> on|off
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"

[ $# -eq 2 ] || usage_error "usage: host-kernel-rx.sh <id> on|off"
check_id "$1"
[[ "$2" =~ ^(on|off)$ ]] || usage_error "bad setting '$2': use on or off"
require_root "$1"
host="$(host_ns "$1")"
ns_exists "$host" || die "no topology '$1' (ddplab up --id $1 builds one)"
lock_id "$1"
host_kernel_rx "$host" "$2"
