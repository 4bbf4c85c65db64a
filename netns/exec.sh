#!/usr/bin/env bash
# Runs a command inside one namespace of a run.
#
#   exec.sh <id> tgt|host [--] <command> [args...]
#
# The command replaces this script (exec), so its exit status, signals and
# inherited file descriptors (a node IPC channel, for one) are its own.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"

[ $# -ge 3 ] || usage_error "usage: exec.sh <id> tgt|host [--] <command> [args...]"
id="$1"
side="$2"
shift 2
check_id "$id"
case "$side" in
  tgt) ns="$(tgt_ns "$id")" ;;
  host) ns="$(host_ns "$id")" ;;
  *) usage_error "bad side '$side': use tgt or host" ;;
esac
[ "${1:-}" = -- ] && shift
[ $# -ge 1 ] || usage_error "no command given"
require_root "$id"
ns_exists "$ns" || die "namespace $ns does not exist (run: ddplab up --id $id)"
exec ip netns exec "$ns" "$@"
