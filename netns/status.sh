#!/usr/bin/env bash
# Lists the ddplab topologies that exist, one per id.
#
#   status.sh [<id>] [--json]
#
# Text: one line per id. --json: an array of
#   {"id", "complete", "owner", "ownerAlive", "manual", "tgt": {"ns","exists","pids","link"}, "host": {...}}
# where link is null or {"name","mac","mtu","up"}, owner is the pid of the
# run that made it, or null, and manual says `ddplab up` built it by hand
# (the TS side reads this).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"

json=0
only=""
for arg in "$@"; do
  case "$arg" in
    --json) json=1 ;;
    -*) usage_error "usage: status.sh [<id>] [--json]" ;;
    *) check_id "$arg"; only="$arg" ;;
  esac
done
require_root "$@"

# "<mac> <mtu> <up|down>" of an interface in a namespace, or nothing.
link_info() {
  local ns="$1" dev="$2" line
  line="$(ip -n "$ns" -o link show dev "$dev" 2>/dev/null)" || return 0
  local mtu mac state=down
  mtu="$(sed -n 's/.* mtu \([0-9]*\) .*/\1/p' <<<"$line")"
  mac="$(sed -n 's/.*link\/ether \([0-9a-f:]*\) .*/\1/p' <<<"$line")"
  # Administrative state: the UP flag inside <...>.
  if [[ "$line" =~ \<([A-Z_,-]*)\> ]] && [[ ",${BASH_REMATCH[1]}," == *,UP,* ]]; then state=up; fi
  echo "$mac $mtu $state"
}

side_json() {
  local ns="$1" dev="$2" exists=false pids=0 link=null info
  if ns_exists "$ns"; then
    exists=true
    pids="$(ip netns pids "$ns" 2>/dev/null | grep -c . || true)"
    info="$(link_info "$ns" "$dev")"
    if [ -n "$info" ]; then
      read -r mac mtu state <<<"$info"
      local up=false
      [ "$state" = up ] && up=true
      link="{\"name\":\"$dev\",\"mac\":\"$mac\",\"mtu\":$mtu,\"up\":$up}"
    fi
  fi
  echo "{\"ns\":\"$ns\",\"exists\":$exists,\"pids\":$pids,\"link\":$link}"
}

side_text() {
  local ns="$1" dev="$2" info
  if ! ns_exists "$ns"; then
    echo "$ns missing"
    return
  fi
  info="$(link_info "$ns" "$dev")"
  local pids
  pids="$(ip netns pids "$ns" 2>/dev/null | grep -c . || true)"
  if [ -z "$info" ]; then
    echo "$ns (no $dev, $pids processes)"
  else
    read -r mac mtu state <<<"$info"
    echo "$ns $dev $state mtu $mtu mac $mac ($pids processes)"
  fi
}

ids="$(list_ids)"
if [ -n "$only" ]; then
  ids="$(grep -x "$only" <<<"$ids" || true)"
fi

if [ "$json" -eq 1 ]; then
  sep=""
  printf '['
  for id in $ids; do
    tgt="$(tgt_ns "$id")"
    host="$(host_ns "$id")"
    t="$(side_json "$tgt" "$DDPLAB_TGT_IF")"
    h="$(side_json "$host" "$DDPLAB_HOST_IF")"
    complete=false
    if [[ "$t" == *'"link":{'* ]] && [[ "$h" == *'"link":{'* ]]; then complete=true; fi
    owner=null
    alive=false
    manual=false
    if owner_manual "$id"; then
      manual=true
    elif [ -f "$(owner_file "$id")" ]; then
      owner="$(cut -d' ' -f1 <"$(owner_file "$id")")"
      if owner_alive "$id"; then alive=true; fi
    fi
    printf '%s{"id":"%s","complete":%s,"owner":%s,"ownerAlive":%s,"manual":%s,"tgt":%s,"host":%s}' "$sep" "$id" "$complete" "$owner" "$alive" "$manual" "$t" "$h"
    sep=","
  done
  printf ']\n'
else
  [ -n "$ids" ] || { echo "no ddplab topology"; exit 0; }
  for id in $ids; do
    run=""
    if owner_manual "$id"; then
      run=" [built by ddplab up]"
    elif [ -f "$(owner_file "$id")" ]; then
      pid="$(cut -d' ' -f1 <"$(owner_file "$id")")"
      if owner_alive "$id"; then run=" [run $pid alive]"; else run=" [run $pid gone]"; fi
    fi
    echo "$id: $(side_text "$(tgt_ns "$id")" "$DDPLAB_TGT_IF"); $(side_text "$(host_ns "$id")" "$DDPLAB_HOST_IF")$run"
  done
fi
