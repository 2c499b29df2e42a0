#!/usr/bin/env bash
# N nodes as N "hosts" on this machine: each node runs in a network namespace of its own, with
# its own address (10.a.b.<id+1>, port 7000) on a bridge in a "switch" namespace, as
# tests/common/netns.rs builds them. The addresses are not loopback, so the nodes talk mutual
# TLS (certificates made with `maekawa certs init`). Needs root and iproute2 (installed with
# apt-get when `ip` is missing).
#
#   scripts/netns-cluster.sh start N              build the network, start N nodes
#   scripts/netns-cluster.sh status               each node: namespace, address, PID, entries
#   scripts/netns-cluster.sh partition 2 / 0,1    cut the network in two sides
#   scripts/netns-cluster.sh heal                 one network again
#   scripts/netns-cluster.sh stop                 SIGTERM every node (by PID), delete the network
#
# The run directory is MAEKAWA_LOG_DIR (default logs/netns/): quorums.json, certs/, the logs,
# node-<id>.pid and netns.env (the run's namespace prefix, subnet and size). Each run names its
# namespaces `mkn<id>-sw` and `mkn<id>-n<node>` with an id of its own, so several runs (in
# different run directories) and tests/common/netns.rs never meet. Nothing is made in the
# host's namespace: deleting the run's namespaces deletes every link it made.
set -euo pipefail
source "$(dirname "$0")/common.sh"

RUN_DIR="${MAEKAWA_LOG_DIR:-$ROOT/logs/netns}"
case "$RUN_DIR" in /*) ;; *) RUN_DIR="$PWD/$RUN_DIR" ;; esac
# common.sh's helpers (pid_file, running_pid) read these.
LOG_DIR="$RUN_DIR"
CONFIG="$RUN_DIR/quorums.json"
STATE="$RUN_DIR/netns.env"
PORT=7000
MAIN_BRIDGE=br0
CUT_BRIDGE=br1

declare -A PACKAGE_OF=(
  [ip]=iproute2
)

usage() {
  cat <<'USAGE'
usage: scripts/netns-cluster.sh start N | status | partition A,B,.. / C,D,.. | heal | stop
  start N      build N namespaces on a bridge, write quorums.json and certificates into the
               run directory (MAEKAWA_LOG_DIR, default logs/netns/), start node i in namespace i
  status       each node's namespace, address, PID and CS entries, and the partition if any
  partition A / B
               cut the network between two sides: comma-separated node ids, every node on
               exactly one side (`partition 2` alone: node 2 against the rest)
  heal         put every node back on one network
  stop         SIGTERM every node by PID (SIGKILL after 10 s), then delete the namespaces
Extra flags for every node: MAEKAWA_NODE_ARGS (e.g. "--think-ms 10..50 --hold-ms 1..5").
Needs root and iproute2.
USAGE
}

need_root_and_ip() {
  if [ "$(id -u)" != 0 ]; then
    echo "error: scripts/netns-cluster.sh needs root (network namespaces); run it with sudo" >&2
    exit 1
  fi
  if ! command -v ip >/dev/null 2>&1; then
    install_missing
  fi
  if ! command -v ip >/dev/null 2>&1; then
    echo "error: the ip command (iproute2) is missing; as root: apt-get install iproute2" >&2
    exit 1
  fi
}

# Reads the run's state (PREFIX, SUBNET, NODES) or stops with what to do.
load_state() {
  if [ ! -f "$STATE" ]; then
    echo "error: no netns cluster in $RUN_DIR (no netns.env); start one: $0 start N" >&2
    exit 1
  fi
  PREFIX="$(sed -n 's/^PREFIX=//p' "$STATE")"
  SUBNET="$(sed -n 's/^SUBNET=//p' "$STATE")"
  NODES="$(sed -n 's/^NODES=//p' "$STATE")"
}

switch_ns() { echo "$PREFIX-sw"; }
node_ns() { echo "$PREFIX-n$1"; }
node_addr() { echo "$SUBNET.$(($1 + 1))"; }

# Every namespace the run made, one a line, in the order made (netns.made).
made_namespaces() { cat "$RUN_DIR/netns.made" 2>/dev/null || true; }

add_namespace() {
  ip netns add "$1"
  echo "$1" >>"$RUN_DIR/netns.made"
}

delete_namespaces() {
  local ns status=0
  # Deleting a namespace deletes its links (and their veth peers in the other namespaces).
  while read -r ns; do
    [ -n "$ns" ] || continue
    if [ -e "/run/netns/$ns" ]; then
      ip netns del "$ns" || status=1
    fi
  done < <(made_namespaces)
  [ $status -eq 0 ] && rm -f "$RUN_DIR/netns.made"
  return $status
}

# Sends SIGTERM to every node with a live PID file, all at once, and waits for each (SIGKILL
# after 10 s). Returns 1 if some node had to be killed.
stop_nodes() {
  local f id pid status=0
  declare -A pids=()
  shopt -s nullglob
  for f in "$RUN_DIR"/node-*.pid; do
    id="${f##*/node-}"; id="${id%.pid}"
    pid="$(cat "$f" 2>/dev/null || true)"
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" && pids[$id]=$pid
    else
      rm -f "$f"
    fi
  done
  shopt -u nullglob
  for id in "${!pids[@]}"; do
    pid=${pids[$id]}
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "node $id: PID $pid did not stop within 10 s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      status=1
    else
      echo "node $id: stopped (PID $pid)"
    fi
    rm -f "$(pid_file "$id")"
  done
  return $status
}

# Moves what a previous (stopped) run left in the run directory to previous/<UTC time>/.
move_previous_run() {
  local old=() dest f
  shopt -s nullglob
  for f in "$RUN_DIR"/* ; do
    case "${f##*/}" in previous | *.lock) ;; *) old+=("$f") ;; esac
  done
  shopt -u nullglob
  [ ${#old[@]} -gt 0 ] || return 0
  dest="$(new_previous_dir "$RUN_DIR")"
  mv -- "${old[@]}" "$dest/"
  echo "previous run moved to $dest/"
}

failed_start() {
  local code=$?
  echo "error: start failed; stopping what started and deleting the namespaces made" >&2
  stop_nodes >/dev/null || true
  delete_namespaces || true
  rm -f "$STATE"
  exit "$code"
}

cmd_start() {
  [ $# -eq 1 ] || { usage >&2; exit 2; }
  local n="$1" id ns sw pid
  case "$n" in '' | *[!0-9]*) echo "error: N must be a number of nodes, 1 to 250, not '$n'" >&2; exit 2 ;; esac
  if [ "$n" -lt 1 ] || [ "$n" -gt 250 ]; then
    echo "error: N must be 1 to 250 (one /24), not $n" >&2
    exit 2
  fi
  need_root_and_ip
  build_if_needed
  mkdir -p "$RUN_DIR"
  if [ -f "$STATE" ]; then
    echo "error: a netns cluster of this run directory exists ($STATE); stop it first: $0 stop" >&2
    exit 1
  fi
  move_previous_run

  # A short id of this run: namespace names and the subnet differ from every other run's.
  local run_id
  run_id="$(printf '%x%04x' "$$" "$RANDOM")"
  PREFIX="mkn$run_id"
  SUBNET="10.$(($$ % 200 + 50)).$((RANDOM % 256))"
  NODES="$n"
  printf 'PREFIX=%s\nSUBNET=%s\nNODES=%s\n' "$PREFIX" "$SUBNET" "$NODES" >"$STATE"

  # A start that fails halfway leaves nothing behind: stop what started, delete what was made.
  trap failed_start EXIT

  sw="$(switch_ns)"
  add_namespace "$sw"
  local bridge
  for bridge in "$MAIN_BRIDGE" "$CUT_BRIDGE"; do
    ip -n "$sw" link add "$bridge" type bridge
    ip -n "$sw" link set "$bridge" up
  done
  for id in $(seq 0 $((n - 1))); do
    ns="$(node_ns "$id")"
    add_namespace "$ns"
    # Interface names are per namespace and none is made in the host's: fixed names are safe.
    ip -n "$sw" link add "n$id" type veth peer name eth0 netns "$ns"
    ip -n "$sw" link set "n$id" master "$MAIN_BRIDGE" up
    ip -n "$ns" addr add "$(node_addr "$id")/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
  done

  {
    printf '{"nodes": ['
    for id in $(seq 0 $((n - 1))); do
      [ "$id" -gt 0 ] && printf ',\n           '
      printf '{"id": %d, "addr": "%s:%d"}' "$id" "$(node_addr "$id")" "$PORT"
    done
    printf ']}\n'
  } >"$CONFIG"
  # Not loopback: mutual TLS, certificates beside the cluster file (README, "Security").
  "$BIN" certs init --config "$CONFIG" >/dev/null

  for id in $(seq 0 $((n - 1))); do
    ns="$(node_ns "$id")"
    # `ip netns exec` execs the daemon in place: $! is the daemon's PID.
    # shellcheck disable=SC2086
    nohup ip netns exec "$ns" "$BIN" node --id "$id" --config "$CONFIG" --log-dir "$RUN_DIR" \
      ${MAEKAWA_NODE_ARGS:-} >>"$RUN_DIR/node-$id.out" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$(pid_file "$id")"
  done
  # Wait (bounded) until each has logged its start, or stop everything if one died.
  for id in $(seq 0 $((n - 1))); do
    pid="$(cat "$(pid_file "$id")")"
    local started=0
    wait_for_start "$id" "$pid" "$RUN_DIR" || started=$?
    [ "$started" -ne 2 ] || exit 1
    [ "$started" -eq 0 ] || { echo "error: node $id (PID $pid) did not log its start within 10 s" >&2; exit 1; }
    echo "node $id started in namespace $(node_ns "$id") at $(node_addr "$id"):$PORT (PID $pid)"
  done
  trap - EXIT
  cat <<MSG

$n nodes up, namespaces $PREFIX-*, run directory $RUN_DIR:
  tail -f $RUN_DIR/critical_section.log
  $0 status
  $0 partition 0 / $(seq -s, 1 $((n - 1)) 2>/dev/null || true)
  $0 heal
  $0 stop
  $BIN check --log-dir $RUN_DIR --config $CONFIG
MSG
}

cmd_status() {
  need_root_and_ip
  load_state
  local id ns pid state entries bridge health
  echo "run $PREFIX, $NODES nodes on $SUBNET.0/24, run directory $RUN_DIR"
  printf '%-5s %-18s %-18s %-8s %-9s %-12s %-8s %s\n' node namespace address pid process health entries side
  for id in $(seq 0 $((NODES - 1))); do
    ns="$(node_ns "$id")"
    pid="$(cat "$(pid_file "$id")" 2>/dev/null || echo -)"
    health=-
    if [ "$pid" != - ] && kill -0 "$pid" 2>/dev/null; then
      state=running
      # Asked from inside the node's namespace (the host has no route to it): grpc.health.v1.
      health="$(ip netns exec "$ns" "$BIN" ctl health --node "$id" --config "$CONFIG" 2>/dev/null || true)"
      health="${health##*: }"; health="${health%% (*}"
      [ -n "$health" ] || health="no answer"
    else
      state=down
    fi
    entries="$(grep -c "\"event\":\"enter\",\"node\":$id," "$RUN_DIR/critical_section.log" 2>/dev/null || true)"
    bridge="$(ip -n "$(switch_ns)" -o link show "n$id" 2>/dev/null | sed -n 's/.* master \([^ ]*\) .*/\1/p')"
    case "$bridge" in "$MAIN_BRIDGE") bridge="main" ;; "$CUT_BRIDGE") bridge="cut" ;; *) bridge="?" ;; esac
    printf '%-5s %-18s %-18s %-8s %-9s %-12s %-8s %s\n' "$id" "$ns" "$(node_addr "$id"):$PORT" "$pid" "$state" "$health" "${entries:-0}" "$bridge"
  done
}

# Prints the ids of a comma-separated list, one a line, or stops on a bad one.
parse_ids() {
  local id
  for id in ${1//,/ }; do
    case "$id" in '' | *[!0-9]*) echo "error: '$id' is not a node id" >&2; exit 2 ;; esac
    if [ "$id" -ge "$NODES" ]; then
      echo "error: no node $id (this run has nodes 0 to $((NODES - 1)))" >&2
      exit 2
    fi
    echo "$id"
  done
}

set_side() { ip -n "$(switch_ns)" link set "n$1" master "$2"; }

cmd_partition() {
  need_root_and_ip
  load_state
  local left_arg="" right_arg="" seen_slash=""
  local word
  for word in "$@"; do
    if [ "$word" = / ]; then seen_slash=1; continue; fi
    if [[ "$word" == */* ]]; then
      left_arg="$left_arg,${word%%/*}"; right_arg="$right_arg,${word#*/}"; seen_slash=1; continue
    fi
    if [ -n "$seen_slash" ]; then right_arg="$right_arg,$word"; else left_arg="$left_arg,$word"; fi
  done
  local left right id
  left="$(parse_ids "$left_arg")"
  right="$(parse_ids "$right_arg")"
  [ -n "$left" ] || { usage >&2; exit 2; }
  declare -A side=()
  for id in $left; do side[$id]=left; done
  for id in $right; do
    if [ "${side[$id]:-}" = left ]; then
      echo "error: node $id is on both sides" >&2
      exit 2
    fi
    side[$id]=right
  done
  if [ -z "$seen_slash" ] || [ -z "$right" ]; then
    for id in $(seq 0 $((NODES - 1))); do [ -n "${side[$id]:-}" ] || side[$id]=right; done
  fi
  for id in $(seq 0 $((NODES - 1))); do
    if [ -z "${side[$id]:-}" ]; then
      echo "error: node $id is on neither side; name every node (or give one side only: the rest is the other)" >&2
      exit 2
    fi
  done
  # The left side's switch ports move to a second bridge: packets between the sides are
  # dropped silently, as in a real partition (no link goes down, no connection is reset).
  for id in $(seq 0 $((NODES - 1))); do
    if [ "${side[$id]}" = left ]; then set_side "$id" "$CUT_BRIDGE"; else set_side "$id" "$MAIN_BRIDGE"; fi
  done
  local a=() b=()
  for id in $(seq 0 $((NODES - 1))); do
    if [ "${side[$id]}" = left ]; then a+=("$id"); else b+=("$id"); fi
  done
  echo "partitioned: ${a[*]} / ${b[*]}"
}

cmd_heal() {
  need_root_and_ip
  load_state
  local id
  for id in $(seq 0 $((NODES - 1))); do set_side "$id" "$MAIN_BRIDGE"; done
  echo "healed: every node on one network"
}

cmd_stop() {
  need_root_and_ip
  if [ ! -f "$STATE" ] && [ ! -f "$RUN_DIR/netns.made" ]; then
    echo "no netns cluster in $RUN_DIR"
    exit 0
  fi
  local status=0
  stop_nodes || status=1
  if delete_namespaces; then
    echo "deleted the namespaces"
    rm -f "$STATE"
  else
    echo "error: could not delete every namespace (see above); run $0 stop again" >&2
    status=1
  fi
  return $status
}

[ $# -ge 1 ] || { usage >&2; exit 2; }
sub="$1"
shift
case "$sub" in
  start) cmd_start "$@" ;;
  status) cmd_status ;;
  partition) cmd_partition "$@" ;;
  heal) cmd_heal ;;
  stop) cmd_stop ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
