# Shared by the netns/ scripts (sourced, not run): names, id checks, locking.
#
# The topology of one run <id>:
#   netns ddplab-<id>-tgt   tgt0  192.0.2.1/24   (the target's kernel TCP)
#   netns ddplab-<id>-host  host0 no address     (ddplab's userspace stack owns 192.0.2.2)
# The veth names repeat across ids: each namespace has its own name space
# for interfaces, so only the namespace names carry the id.

DDPLAB_TGT_IF=tgt0
DDPLAB_HOST_IF=host0
DDPLAB_TGT_CIDR=192.0.2.1/24
DDPLAB_TGT_NET=192.0.2.0/24
# ids are short so that every derived name stays under IFNAMSIZ (15) and
# obviously ours; the same rule is in src/lab/topology.ts.
DDPLAB_ID_RE='^[a-z0-9]{1,8}$'
DDPLAB_NS_RE='^ddplab-([a-z0-9]{1,8})-(tgt|host)$'

die() {
  echo "ddplab-netns: $*" >&2
  exit 1
}

usage_error() {
  echo "ddplab-netns: $*" >&2
  exit 2
}

require_root() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN): sudo $0 $*"
}

check_id() {
  [[ "$1" =~ $DDPLAB_ID_RE ]] || usage_error "bad id '$1': use 1 to 8 characters from [a-z0-9]"
}

tgt_ns() { echo "ddplab-$1-tgt"; }
host_ns() { echo "ddplab-$1-host"; }

# host0's frames are for ddplab's userspace stack, yet the host namespace's
# kernel would also take every one of them up its IPv4 receive path, only to
# drop it there for want of a local address (ip_rcv, then a route lookup on
# the slow path, per frame), on the CPU that runs host0's backlog: CPU a run
# then lacks. With `off` a tc ingress filter ends each frame right after the
# packet taps (libpcap, dumpcap) have had their copy; `on` removes it, for a
# kernel that is lent an address (bench:e2e's iperf3 baseline). The filter is
# classic BPF of one instruction, "ret #2" (TC_ACT_SHOT), run in
# direct-action mode: it needs cls_bpf, but no tc action module.
host_kernel_rx() { # <host ns> on|off
  if [ "$2" = on ]; then
    ip netns exec "$1" tc qdisc del dev "$DDPLAB_HOST_IF" clsact 2>/dev/null || true
  else
    ip netns exec "$1" tc qdisc replace dev "$DDPLAB_HOST_IF" clsact &&
      ip netns exec "$1" tc filter replace dev "$DDPLAB_HOST_IF" ingress pref 1 handle 1 bpf da bytecode '1,6 0 0 2'
  fi
}

ns_exists() {
  [ -e "/run/netns/$1" ]
}

# Ids that have at least one namespace, one per line, sorted.
list_ids() {
  ip netns list 2>/dev/null | while read -r name _; do
    if [[ "$name" =~ $DDPLAB_NS_RE ]]; then echo "${BASH_REMATCH[1]}"; fi
  done | sort -u
}

# Serialises up/down of one id (two concurrent `up` of the same id would
# otherwise race on "exists? create").
lock_id() {
  local dir=/run/lock
  mkdir -p "$dir"
  exec 9>"$dir/ddplab-netns-$1.lock"
  flock 9
}

# A run that builds its topology records itself as the owner (up.sh --owner
# PID): "<pid> <starttime>", the start time telling a live owner from a new
# process that reuses the pid. `down --all` keeps topologies whose owner is
# alive, so it removes what crashed runs left without breaking parallel runs.
# A topology built by hand (`ddplab up`, up.sh --owner manual) records
# "manual": it is somebody's on purpose, kept by `down --all` until
# `down <id>` or `--all --force`.
DDPLAB_RUN_DIR=/run/ddplab

owner_file() { echo "$DDPLAB_RUN_DIR/$1.owner"; }

# Start time of a process in clock ticks since boot (field 22 of
# /proc/PID/stat, counted after the parenthesised command name).
proc_starttime() {
  local stat rest
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  rest="${stat##*) }"
  # shellcheck disable=SC2086
  set -- $rest
  echo "${20}"
}

write_owner() {
  local id="$1" pid="$2" start
  if [ "$pid" = manual ]; then
    mkdir -p "$DDPLAB_RUN_DIR"
    echo "manual" >"$(owner_file "$id")"
    return
  fi
  start="$(proc_starttime "$pid")" || die "owner pid $pid is not running"
  mkdir -p "$DDPLAB_RUN_DIR"
  echo "$pid $start" >"$(owner_file "$id")"
}

# Succeeds if the topology <id> was built by hand.
owner_manual() {
  local file pid
  file="$(owner_file "$1")"
  [ -f "$file" ] || return 1
  read -r pid <"$file" || return 1
  [ "$pid" = manual ]
}

# Succeeds if the recorded owner of <id> is still running (a hand-built
# topology's owner is the user: always).
owner_alive() {
  local file pid start now
  file="$(owner_file "$1")"
  [ -f "$file" ] || return 1
  read -r pid start <"$file" || return 1
  [ "$pid" != manual ] || return 0
  now="$(proc_starttime "$pid")" || return 1
  [ "$now" = "$start" ]
}
