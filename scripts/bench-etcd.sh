#!/usr/bin/env bash
# Side by side, same machine, same run: etcd's lock (3-member cluster on loopback, 3 contending
# clients doing lock/unlock in a loop) and maekawa (3 nodes, full contention).
# Usage: scripts/bench-etcd.sh [SECONDS] [HOLD_MS]     (defaults: 10 s, hold 0 ms)
# Installs etcd-server and protobuf-compiler (for the etcd client crate) with apt-get if missing.
set -euo pipefail
source "$(dirname "$0")/common.sh"
SECONDS_RUN="${1:-10}"
HOLD="${2:-0}"

need_apt=()
command -v etcd >/dev/null 2>&1 || need_apt+=(etcd-server)
command -v protoc >/dev/null 2>&1 || need_apt+=(protobuf-compiler)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing ${need_apt[*]} (apt-get)..."
  (apt-get update -qq && apt-get install -y -qq "${need_apt[@]}") >/dev/null
fi
build_if_needed
(cd "$ROOT/bench/etcd-lock" && cargo build --release --quiet)
CLIENT="$ROOT/bench/etcd-lock/target/release/etcd-lock-bench"

work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Three members on loopback, ports chosen free now.
ports=($(python3 - <<'PY' 2>/dev/null || true
import socket
s=[socket.socket() for _ in range(6)]
for x in s: x.bind(("127.0.0.1",0))
print(" ".join(str(x.getsockname()[1]) for x in s))
PY
))
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

echo "== etcd $(etcd --version 2>/dev/null | head -1 | awk '{print $3}'): 3 members, 3 clients, ${SECONDS_RUN} s, hold ${HOLD} ms"
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
