#!/usr/bin/env bash
# Side by side, same machine, same run: etcd's lock (3-member cluster on loopback, 3 contending
# clients doing lock/unlock in a loop) and maekawa (3 nodes, full contention).
# Usage: scripts/bench-locks.sh [SECONDS] [HOLD_MS]     (defaults: 10 s, hold 0 ms)
#        scripts/bench-locks.sh --install-only          (install what it needs, then stop)
# Installs what it needs and is missing with apt-get (the table below), so run it as root or
# install those packages first.
set -euo pipefail
source "$(dirname "$0")/common.sh"

# Every command this script needs beyond bash, coreutils, sed and cargo, with the Debian package
# that has it. protoc is run by the build of bench/etcd-lock (the etcd-client crate), not here.
# tests/scripts.rs checks that every command the script runs is in this table or always there.
declare -A PACKAGE_OF=(
  [etcd]=etcd-server
  [etcdctl]=etcd-client
  [protoc]=protobuf-compiler
  [python3]=python3
)

install_missing() {
  local cmd missing=() packages=()
  for cmd in "${!PACKAGE_OF[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 && continue
    missing+=("$cmd")
    packages+=("${PACKAGE_OF[$cmd]}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing ${packages[*]} (apt-get) for ${missing[*]}..."
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}"; } >/dev/null; then
    echo "error: could not install ${packages[*]}; as root: apt-get install ${packages[*]}" >&2
    exit 1
  fi
  for cmd in "${missing[@]}"; do
    if ! command -v "$cmd" >/dev/null 2>&1; then
      echo "error: $cmd is still missing after installing ${PACKAGE_OF[$cmd]}" >&2
      exit 1
    fi
  done
}

install_missing
if [ "${1:-}" = "--install-only" ]; then
  echo "everything $0 needs is installed"
  exit 0
fi
SECONDS_RUN="${1:-10}"
HOLD="${2:-0}"

build_if_needed
echo "building the etcd client (bench/etcd-lock)..."
(cd "$ROOT/bench/etcd-lock" && cargo build --release) || { echo "error: cargo build --release in bench/etcd-lock failed" >&2; exit 1; }
# Where that build put it: bench/etcd-lock/target, or CARGO_TARGET_DIR (as in common.sh).
case "${CARGO_TARGET_DIR:-}" in
  "") CLIENT="$ROOT/bench/etcd-lock/target/release/etcd-lock-bench" ;;
  /*) CLIENT="$CARGO_TARGET_DIR/release/etcd-lock-bench" ;;
  *) CLIENT="$ROOT/bench/etcd-lock/$CARGO_TARGET_DIR/release/etcd-lock-bench" ;;
esac

work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Six loopback ports that are free now (a client and a peer port per member).
free_ports() {
  python3 - <<'PY'
import socket
s=[socket.socket() for _ in range(6)]
for x in s: x.bind(("127.0.0.1",0))
print(" ".join(str(x.getsockname()[1]) for x in s))
PY
}
read -r -a ports <<<"$(free_ports 2>/dev/null || true)"
[ ${#ports[@]} -eq 6 ] || ports=(23791 23801 23792 23802 23793 23803)
cluster=""
for i in 0 1 2; do
  cluster+="m$i=http://127.0.0.1:${ports[$((2*i+1))]},"
done
cluster="${cluster%,}"
endpoints=""
for i in 0 1 2; do
  client_port=${ports[$((2*i))]}; peer_port=${ports[$((2*i+1))]}
  etcd --name "m$i" --data-dir "$work/m$i" \
    --listen-client-urls "http://127.0.0.1:$client_port" --advertise-client-urls "http://127.0.0.1:$client_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token maekawa-bench \
    >"$work/m$i.log" 2>&1 &
  pids+=($!)
  endpoints+="http://127.0.0.1:$client_port,"
done
endpoints="${endpoints%,}"
for _ in $(seq 1 100); do
  ETCDCTL_API=3 etcdctl --endpoints "$endpoints" endpoint health >/dev/null 2>&1 && break
  sleep 0.2
done
ETCDCTL_API=3 etcdctl --endpoints "$endpoints" endpoint health >/dev/null 2>&1 || { echo "error: etcd did not become healthy; see $work/m*.log" >&2; exit 1; }

echo "== etcd $(etcd --version 2>/dev/null | sed -n 's/^etcd Version: //p'): 3 members, 3 clients, ${SECONDS_RUN} s, hold ${HOLD} ms"
etcd_json="$("$CLIENT" "$endpoints" 3 "$SECONDS_RUN" "$HOLD")"
echo "$etcd_json"
cleanup; pids=(); trap - EXIT

echo "== maekawa: 3 nodes, ${SECONDS_RUN} s, hold ${HOLD} ms"
mk_json="$("$BIN" bench --nodes 3 --seconds "$SECONDS_RUN" --hold-ms "$HOLD" --json)"
echo "$mk_json" | tr -d '\n' | sed 's/  */ /g'; echo
python3 - "$etcd_json" "$mk_json" <<'PY'
import json, sys
e, m = json.loads(sys.argv[1]), json.loads(sys.argv[2])
ratio = m["entries_per_second"] / e["locks_per_second"] if e["locks_per_second"] else float("inf")
print(f"== etcd {e['locks_per_second']:.1f} locks/s (p50 {e['acquire_p50_ms']:.2f} ms, p99 {e['acquire_p99_ms']:.2f} ms); "
      f"maekawa {m['entries_per_second']:.1f} entries/s (p50 {m['acquire_p50_ms']:.2f} ms, p99 {m['acquire_p99_ms']:.2f} ms); "
      f"maekawa/etcd = {ratio:.2f}x")
PY
