#!/usr/bin/env bash
# Removes the topology of one run, or of every run (--all), e.g. after a
# run was killed with SIGKILL and could not clean up.
#
#   down.sh <id>           remove ddplab-<id>-tgt and ddplab-<id>-host; no-op if absent
#   down.sh --all          remove every ddplab-<id>-tgt|host namespace whose run
#                          is gone (no owner recorded, or the owner process died);
#                          a topology built by hand (ddplab up) is kept
#   down.sh --all --force  remove them all, live runs included
#
# Only namespaces named ddplab-<id>-tgt / ddplab-<id>-host are touched (what
# up.sh makes); the veth pair dies with them. Processes still running inside
# them (a target or host a killed run left behind) are ended first, or the
# namespace would live on, nameless, with its interfaces.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"

[ $# -ge 1 ] && [ $# -le 2 ] || usage_error "usage: down.sh <id> | down.sh --all [--force]"

end_processes() {
  local ns="$1" pids
  pids="$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')"
  [ -n "${pids// /}" ] || return 0
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null || true
  for _ in $(seq 1 20); do
    pids="$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')"
    [ -n "${pids// /}" ] || return 0
    sleep 0.1
  done
  # shellcheck disable=SC2086
  kill -KILL $pids 2>/dev/null || true
}

# Removes the namespaces of <id>; the caller holds its lock.
remove_id() {
  local id="$1" ns
  for ns in "$(tgt_ns "$id")" "$(host_ns "$id")"; do
    if ns_exists "$ns"; then
      end_processes "$ns"
      ip netns del "$ns"
      echo "removed $ns"
    fi
  done
  rm -f "$(owner_file "$id")"
}

down_id() {
  lock_id "$1"
  remove_id "$1"
}

if [ "$1" = --all ]; then
  force=0
  if [ $# -eq 2 ]; then
    [ "$2" = --force ] || usage_error "usage: down.sh --all [--force]"
    force=1
  fi
  require_root --all
  for id in $(list_ids); do
    # Decide under the id's lock: an up.sh still building this id holds it,
    # and records its owner before it lets go (an unlocked look would take a
    # topology being built for a crashed run's).
    lock_id "$id"
    if [ "$force" -eq 0 ] && owner_manual "$id"; then
      echo "kept ddplab-$id (built by ddplab up; ddplab down --id $id or --all --force removes it)"
      continue
    fi
    if [ "$force" -eq 0 ] && owner_alive "$id"; then
      echo "kept ddplab-$id (its run, pid $(cut -d' ' -f1 <"$(owner_file "$id")"), is alive; --force removes it)"
      continue
    fi
    remove_id "$id"
  done
else
  [ $# -eq 1 ] || usage_error "usage: down.sh <id>"
  check_id "$1"
  require_root "$1"
  down_id "$1"
fi
