#!/usr/bin/env bash
# Side by side, same machine, same run, the same number of clients contending for one lock:
#   etcd       3-member cluster on loopback; bench/etcd-lock (the etcd-client crate's lock API)
#   ZooKeeper  3-member ensemble on loopback; bench/zk-lock (kazoo's Lock recipe)
#   Redis      one redis-server on loopback; bench/redis-lock --mode redis (redis-py's Lock)
#   Redlock    3 independent redis-server masters on loopback; bench/redis-lock --mode redlock
#              (pottery's Redlock on all three)
#   maekawa    3 daemons; maekawa bench --clients (its Rust client of the daemons' Lock service),
#              once in plaintext and once with mutual TLS (--tls)
# each one alone on the machine, one after the other, then the ratios.
# Usage: scripts/bench-locks.sh [SECONDS] [HOLD_MS] [CLIENTS]  (defaults: 10 s, hold 0 ms, 3)
#        scripts/bench-locks.sh --install-only                 (install what it needs, then stop)
# Installs what it needs and is missing: Debian packages with apt-get (the table below), so run
# it as root or install those first; and kazoo, redis-py and pottery with pip, into a venv under
# $MAEKAWA_BENCH_CACHE (default ~/.cache/maekawa-bench), so the first run needs PyPI.
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
  [redis-cli]=redis-tools
  [redis-server]=redis-server
  [zkServer.sh]=zookeeper
)
# The Python clients, pinned; pottery 3.0.1 needs redis-py >= 4.2.
KAZOO_VERSION=2.11.0
REDIS_PY_VERSION=5.3.1
POTTERY_VERSION=3.0.1
PIP_PINS=("kazoo==$KAZOO_VERSION" "redis==$REDIS_PY_VERSION" "pottery==$POTTERY_VERSION")
CACHE="${MAEKAWA_BENCH_CACHE:-${XDG_CACHE_HOME:-${HOME:?set HOME or MAEKAWA_BENCH_CACHE}/.cache}/maekawa-bench}"
VENV="$CACHE/bench-venv"
VENV_PY="$VENV/bin/python"

# kazoo, redis-py and pottery, at the versions above, in their own venv (Debian's python3-kazoo
# and python3-redis are older, and only Debian's own python3 sees them).
install_python_clients() {
  local check='import importlib.metadata as m, sys
sys.exit(any(m.version(n) != v for n, v in (a.split("==") for a in sys.argv[1:])))'
  [ -x "$VENV_PY" ] && "$VENV_PY" -c "$check" "${PIP_PINS[@]}" >/dev/null 2>&1 && return 0
  # Debian's python3 makes a venv only with python3-venv (ensurepip).
  python3 -c 'import ensurepip' >/dev/null 2>&1 || apt_install python3-venv
  echo "installing ${PIP_PINS[*]} (pip, into $VENV)..."
  rm -rf "$VENV" "$CACHE/kazoo-venv"  # and the kazoo-only venv this script used to make
  if ! { python3 -m venv "$VENV" && "$VENV_PY" -m pip install -q "${PIP_PINS[@]}"; } >/dev/null; then
    echo "error: could not install ${PIP_PINS[*]} into $VENV (python3 -m venv, then pip install ${PIP_PINS[*]})" >&2
    exit 1
  fi
}

install_missing
install_python_clients
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
  zk_json="$("$VENV_PY" "$ROOT/bench/zk-lock/zk_lock_bench.py" "$hosts" "$CLIENTS" "$SECONDS_RUN" "$HOLD")"
  echo "$zk_json"
  stop_servers
}

# ---- Redis and Redlock: set redis_json and redlock_json -------------------------------------
# Each redis-server is a foreground child ($! is the server) with its own directory, on
# 127.0.0.1 only, with `--save "" --appendonly no`: no RDB snapshot and no append-only file
# (Redis as a cache, the usual setting for a lock in it), so it never writes to disk and a
# restarted server has forgotten the lock; Redlock's description asks for appendfsync always,
# or for a restarted master to wait out the lease, for locks to survive restarts. etcd,
# ZooKeeper and maekawa (its voters' journal) sync to disk before they grant.
# start_redis N: N servers on free ports; sets redis_addrs (HOST:PORT,...).
start_redis() {
  local ports p ready
  read -r -a ports <<<"$(free_ports "$1")"
  [ ${#ports[@]} -eq "$1" ] || { echo "error: could not find free ports for Redis" >&2; exit 1; }
  redis_addrs=""
  for p in "${ports[@]}"; do
    mkdir -p "$work/redis/$p"
    redis-server --bind 127.0.0.1 --port "$p" --dir "$work/redis/$p" --save "" --appendonly no \
      >"$work/redis-$p.log" 2>&1 &
    pids+=($!)
    redis_addrs+="127.0.0.1:$p,"
  done
  redis_addrs="${redis_addrs%,}"
  for _ in $(seq 1 100); do
    ready=0
    for p in "${ports[@]}"; do
      [ "$(redis-cli -h 127.0.0.1 -p "$p" ping 2>/dev/null || true)" = PONG ] && ready=$((ready+1))
    done
    [ "$ready" -eq "$1" ] && break
    sleep 0.1
  done
  if [ "$ready" -ne "$1" ]; then
    echo "error: redis-server did not answer PING in 10 s; its logs:" >&2
    tail -n 5 "$work"/redis-*.log >&2
    exit 1
  fi
}

redis_version() { redis-server --version | sed -n 's/^Redis server v=\([^ ]*\).*/\1/p'; }

run_redis() {
  start_redis 1
  echo "== Redis $(redis_version): 1 server, $CLIENTS clients (redis-py $REDIS_PY_VERSION Lock), ${SECONDS_RUN} s, hold ${HOLD} ms"
  redis_json="$("$VENV_PY" "$ROOT/bench/redis-lock/redis_lock_bench.py" --mode redis "$redis_addrs" "$CLIENTS" "$SECONDS_RUN" "$HOLD")"
  echo "$redis_json"
  stop_servers
}

run_redlock() {
  start_redis 3
  echo "== Redlock on Redis $(redis_version): 3 masters, $CLIENTS clients (pottery $POTTERY_VERSION Redlock), ${SECONDS_RUN} s, hold ${HOLD} ms"
  redlock_json="$("$VENV_PY" "$ROOT/bench/redis-lock/redis_lock_bench.py" --mode redlock "$redis_addrs" "$CLIENTS" "$SECONDS_RUN" "$HOLD")"
  echo "$redlock_json"
  stop_servers
}

# ---- maekawa: sets mk_json and mk_tls_json --------------------------------------------------
# 3 daemons (`--workload manual`: their own emulated CS stays quiet) and $CLIENTS clients of
# their `Lock` service (wire/proto/maekawa.proto), client i on daemon i mod 3, taking and releasing
# one lock in a loop: `maekawa bench --clients`, the Rust client (client/src/client.rs) in-process.
# Once in plaintext (loopback) and once with mutual TLS on every link and client (`--tls`, as a
# deployment off loopback runs). Each prints one JSON object; the summary reads
# locks_per_second, acquire_p50_ms and acquire_p99_ms from it (the clients' own figures, as for
# etcd, ZooKeeper, Redis and Redlock).
run_maekawa() {  # $1: "" or --tls
  local how="plaintext"
  [ -n "$1" ] && how="mutual TLS"
  echo "== maekawa: 3 nodes, $CLIENTS clients (Lock service, Rust client, $how), ${SECONDS_RUN} s, hold ${HOLD} ms" >&2
  "$BIN" bench --nodes 3 --clients "$CLIENTS" --seconds "$SECONDS_RUN" --hold-ms "$HOLD" $1 --json
}

run_etcd
run_zookeeper
run_redis
run_redlock
mk_json="$(run_maekawa "")"
echo "$mk_json" | tr -d '\n' | sed 's/  */ /g'; echo
mk_tls_json="$(run_maekawa --tls)"
echo "$mk_tls_json" | tr -d '\n' | sed 's/  */ /g'; echo

python3 - "$etcd_json" "$zk_json" "$mk_json" "$mk_tls_json" "$redis_json" "$redlock_json" <<'PY'
import json, sys
e, z, m, t, r, rl = (json.loads(a) for a in sys.argv[1:7])
def rate(r):
    return r["locks_per_second"] if "locks_per_second" in r else r["entries_per_second"]
def line(name, r):
    return f"{name} {rate(r):.1f} locks/s (p50 {r['acquire_p50_ms']:.2f} ms, p99 {r['acquire_p99_ms']:.2f} ms)"
def ratio(a, b):
    return f"{rate(a) / rate(b):.2f}x" if rate(b) else "inf"
print("== " + "; ".join([line("etcd", e), line("ZooKeeper", z), line("maekawa", m),
                         line("maekawa with TLS", t)]))
print("== " + "; ".join([line("Redis", r), line("Redlock", rl)]))
print(f"== maekawa/etcd = {ratio(m, e)}; maekawa/ZooKeeper = {ratio(m, z)}; "
      f"with TLS: maekawa/etcd = {ratio(t, e)}; maekawa/ZooKeeper = {ratio(t, z)}")
print(f"== maekawa/Redis = {ratio(m, r)}; maekawa/Redlock = {ratio(m, rl)}; "
      f"with TLS: maekawa/Redis = {ratio(t, r)}; maekawa/Redlock = {ratio(t, rl)}")
for name, r in (("maekawa", m), ("maekawa with TLS", t)):
    if not r.get("check_passed"):
        print(f"error: {name}: {r.get('check')}", file=sys.stderr)
        sys.exit(1)
PY
