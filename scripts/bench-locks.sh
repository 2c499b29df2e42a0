#!/usr/bin/env bash
# Side by side, same machine, same run, the same number of clients contending for one lock:
#   etcd       3-member cluster on loopback; bench/etcd-lock (the etcd-client crate's lock API)
#   ZooKeeper  3-member ensemble on loopback; bench/zk-lock (kazoo's Lock recipe)
#   maekawa    3 daemons; maekawa bench --clients (its Rust client of the daemons' Lock service),
#              once in plaintext and once with mutual TLS (--tls)
# each one alone on the machine, one after the other, then the ratios.
# Usage: scripts/bench-locks.sh [SECONDS] [HOLD_MS] [CLIENTS]  (defaults: 10 s, hold 0 ms, 3)
#        scripts/bench-locks.sh --install-only                 (install what it needs, then stop)
# Installs what it needs and is missing: Debian packages with apt-get (the table below), so run
# it as root or install those first; and kazoo with pip, into a venv under $MAEKAWA_BENCH_CACHE
# (default ~/.cache/maekawa-bench), so the first run needs PyPI.
set -euo pipefail
source "$(dirname "$0")/common.sh"
# Debian's zookeeper package keeps zkServer.sh off the PATH, in /usr/share/zookeeper/bin
# (ZOOKEEPER_BIN: another directory that has it).
PATH="$PATH:${ZOOKEEPER_BIN:-/usr/share/zookeeper/bin}"

# Every command this script needs beyond bash, coreutils, sed and cargo, with the Debian package
# that has it. protoc is run by the build of bench/etcd-lock (the etcd-client crate), not here.
# zookeeper brings Java (default-jre). tests/scripts.rs checks that every command the script
# runs is in this table, always there, or built or installed by the script itself.
declare -A PACKAGE_OF=(
  [etcd]=etcd-server
  [etcdctl]=etcd-client
  [protoc]=protobuf-compiler
  [python3]=python3
  [zkServer.sh]=zookeeper
)
KAZOO_VERSION=2.11.0
CACHE="${MAEKAWA_BENCH_CACHE:-${XDG_CACHE_HOME:-${HOME:?set HOME or MAEKAWA_BENCH_CACHE}/.cache}/maekawa-bench}"
VENV="$CACHE/kazoo-venv"
KAZOO_PY="$VENV/bin/python"

# kazoo $KAZOO_VERSION in its own venv (Debian's python3-kazoo is older, and only Debian's own
# python3 sees it).
install_kazoo() {
  local check="import importlib.metadata as m, sys; sys.exit(m.version('kazoo') != '$KAZOO_VERSION')"
  [ -x "$KAZOO_PY" ] && "$KAZOO_PY" -c "$check" >/dev/null 2>&1 && return 0
  # Debian's python3 makes a venv only with python3-venv (ensurepip).
  python3 -c 'import ensurepip' >/dev/null 2>&1 || apt_install python3-venv
  echo "installing kazoo $KAZOO_VERSION (pip, into $VENV)..."
  rm -rf "$VENV"
  if ! { python3 -m venv "$VENV" && "$KAZOO_PY" -m pip install -q "kazoo==$KAZOO_VERSION"; } >/dev/null; then
    echo "error: could not install kazoo $KAZOO_VERSION into $VENV (python3 -m venv, then pip install kazoo==$KAZOO_VERSION)" >&2
    exit 1
  fi
}

install_missing
install_kazoo
if [ "${1:-}" = "--install-only" ]; then
  echo "everything $0 needs is installed"
  exit 0
fi
SECONDS_RUN="${1:-10}"
HOLD="${2:-0}"
CLIENTS="${3:-3}"
case "$CLIENTS" in ''|*[!0-9]*|0) echo "error: CLIENTS must be a positive integer, not '$CLIENTS'" >&2; exit 2 ;; esac

build_if_needed
echo "building the etcd client (bench/etcd-lock)..."
(cd "$ROOT/bench/etcd-lock" && cargo build --release) || { echo "error: cargo build --release in bench/etcd-lock failed" >&2; exit 1; }
# Where that build put it: bench/etcd-lock/target, or CARGO_TARGET_DIR (as in common.sh).
case "${CARGO_TARGET_DIR:-}" in
  "") CLIENT="$ROOT/bench/etcd-lock/target/release/etcd-lock-bench" ;;
  /*) CLIENT="$CARGO_TARGET_DIR/release/etcd-lock-bench" ;;
  *) CLIENT="$ROOT/bench/etcd-lock/$CARGO_TARGET_DIR/release/etcd-lock-bench" ;;
esac

# Every server this script starts is a child whose PID is in pids; stop_servers stops them by
# PID (SIGTERM) and waits for them. On any exit, the trap does that and removes $work.
work="$(mktemp -d)"
pids=()
stop_servers() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  stop_servers
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# $1 loopback ports that are free now.
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
s = [socket.socket() for _ in range(int(sys.argv[1]))]
for x in s: x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))
PY
}

# ---- etcd: sets etcd_json ------------------------------------------------------------------
run_etcd() {
  local ports i cluster="" endpoints="" client_port peer_port
  read -r -a ports <<<"$(free_ports 6)"  # a client and a peer port per member
  [ ${#ports[@]} -eq 6 ] || { echo "error: could not find free ports for etcd" >&2; exit 1; }
  for i in 0 1 2; do
    cluster+="m$i=http://127.0.0.1:${ports[$((2*i+1))]},"
  done
  cluster="${cluster%,}"
  for i in 0 1 2; do
    client_port=${ports[$((2*i))]}; peer_port=${ports[$((2*i+1))]}
    etcd --name "m$i" --data-dir "$work/etcd/m$i" \
      --listen-client-urls "http://127.0.0.1:$client_port" --advertise-client-urls "http://127.0.0.1:$client_port" \
      --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
      --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token maekawa-bench \
      >"$work/etcd-m$i.log" 2>&1 &
    pids+=($!)
    endpoints+="http://127.0.0.1:$client_port,"
  done
  endpoints="${endpoints%,}"
  for _ in $(seq 1 100); do
    ETCDCTL_API=3 etcdctl --endpoints "$endpoints" endpoint health >/dev/null 2>&1 && break
    sleep 0.2
  done
  if ! ETCDCTL_API=3 etcdctl --endpoints "$endpoints" endpoint health >/dev/null 2>&1; then
    echo "error: etcd did not become healthy; its logs:" >&2
    tail -n 5 "$work"/etcd-m*.log >&2
    exit 1
  fi

  echo "== etcd $(etcd --version 2>/dev/null | sed -n 's/^etcd Version: //p'): 3 members, $CLIENTS clients, ${SECONDS_RUN} s, hold ${HOLD} ms"
  etcd_json="$("$CLIENT" "$endpoints" "$CLIENTS" "$SECONDS_RUN" "$HOLD")"
  echo "$etcd_json"
  stop_servers
}

# ---- ZooKeeper: sets zk_json ---------------------------------------------------------------
# Each member: its own dataDir with myid, a client, a quorum and an election port, the admin
# server (HTTP on 8080 by default) off, and `srvr` allowed so that the script can see when the
# ensemble has a leader. Otherwise ZooKeeper's defaults (a fsync per transaction).
# zkServer.sh start-foreground execs java, so $! is the member's JVM.
zk_mode() {  # `srvr` to 127.0.0.1:$1: the Mode line and the version line
  python3 - "$1" <<'PY' 2>/dev/null
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
s.sendall(b"srvr")
data = b""
while chunk := s.recv(4096):
    data += chunk
print(data.decode(errors="replace"))
PY
}

run_zookeeper() {
  local ports i servers="" hosts="" ready version
  read -r -a ports <<<"$(free_ports 9)"  # a client, a quorum and an election port per member
  [ ${#ports[@]} -eq 9 ] || { echo "error: could not find free ports for ZooKeeper" >&2; exit 1; }
  for i in 1 2 3; do
    servers+="server.$i=127.0.0.1:${ports[$((3*i-2))]}:${ports[$((3*i-1))]}"$'\n'
    hosts+="127.0.0.1:${ports[$((3*i-3))]},"
  done
  hosts="${hosts%,}"
  for i in 1 2 3; do
    mkdir -p "$work/zk/m$i"
    echo "$i" >"$work/zk/m$i/myid"
    cat >"$work/zk/m$i.cfg" <<EOF
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$work/zk/m$i
clientPort=${ports[$((3*i-3))]}
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=srvr
$servers
EOF
    zkServer.sh start-foreground "$work/zk/m$i.cfg" >"$work/zk-m$i.log" 2>&1 &
    pids+=($!)
  done
  for _ in $(seq 1 150); do
    ready=0
    for i in 1 2 3; do
      case "$(zk_mode "${ports[$((3*i-3))]}" || true)" in
        *"Mode: leader"* | *"Mode: follower"*) ready=$((ready+1)) ;;
      esac
    done
    [ "$ready" -eq 3 ] && break
    sleep 0.2
  done
  if [ "$ready" -ne 3 ]; then
    echo "error: the ZooKeeper ensemble did not elect a leader in 30 s; its logs:" >&2
    tail -n 5 "$work"/zk-m*.log >&2
    exit 1
  fi
  version="$( (zk_mode "${ports[0]}" || true) | sed -n 's/^Zookeeper version: \([^-,]*\).*/\1/p')"

  echo "== ZooKeeper $version: 3 members, $CLIENTS clients (kazoo $KAZOO_VERSION Lock), ${SECONDS_RUN} s, hold ${HOLD} ms"
  zk_json="$("$KAZOO_PY" "$ROOT/bench/zk-lock/zk_lock_bench.py" "$hosts" "$CLIENTS" "$SECONDS_RUN" "$HOLD")"
  echo "$zk_json"
  stop_servers
}

# ---- maekawa: sets mk_json and mk_tls_json --------------------------------------------------
# 3 daemons (`--workload manual`: their own emulated CS stays quiet) and $CLIENTS clients of
# their `Lock` service (wire/proto/maekawa.proto), client i on daemon i mod 3, taking and releasing
# one lock in a loop: `maekawa bench --clients`, the Rust client (client/src/client.rs) in-process.
# Once in plaintext (loopback) and once with mutual TLS on every link and client (`--tls`, as a
# deployment off loopback runs). Each prints one JSON object; the summary reads
# locks_per_second, acquire_p50_ms and acquire_p99_ms from it (the clients' own figures, as for
# etcd and ZooKeeper).
run_maekawa() {  # $1: "" or --tls
  local how="plaintext"
  [ -n "$1" ] && how="mutual TLS"
  echo "== maekawa: 3 nodes, $CLIENTS clients (Lock service, Rust client, $how), ${SECONDS_RUN} s, hold ${HOLD} ms" >&2
  "$BIN" bench --nodes 3 --clients "$CLIENTS" --seconds "$SECONDS_RUN" --hold-ms "$HOLD" $1 --json
}

run_etcd
run_zookeeper
mk_json="$(run_maekawa "")"
echo "$mk_json" | tr -d '\n' | sed 's/  */ /g'; echo
mk_tls_json="$(run_maekawa --tls)"
echo "$mk_tls_json" | tr -d '\n' | sed 's/  */ /g'; echo

python3 - "$etcd_json" "$zk_json" "$mk_json" "$mk_tls_json" <<'PY'
import json, sys
e, z, m, t = (json.loads(a) for a in sys.argv[1:5])
def rate(r):
    return r["locks_per_second"] if "locks_per_second" in r else r["entries_per_second"]
def line(name, r):
    return f"{name} {rate(r):.1f} locks/s (p50 {r['acquire_p50_ms']:.2f} ms, p99 {r['acquire_p99_ms']:.2f} ms)"
def ratio(a, b):
    return f"{rate(a) / rate(b):.2f}x" if rate(b) else "inf"
print("== " + "; ".join([line("etcd", e), line("ZooKeeper", z), line("maekawa", m),
                         line("maekawa with TLS", t)]))
print(f"== maekawa/etcd = {ratio(m, e)}; maekawa/ZooKeeper = {ratio(m, z)}; "
      f"with TLS: maekawa/etcd = {ratio(t, e)}; maekawa/ZooKeeper = {ratio(t, z)}")
for name, r in (("maekawa", m), ("maekawa with TLS", t)):
    if not r.get("check_passed"):
        print(f"error: {name}: {r.get('check')}", file=sys.stderr)
        sys.exit(1)
PY
