#!/usr/bin/env bash
# Where the daemons' CPU goes: `maekawa bench --nodes N` under `perf record -g` (frame pointers),
# folded with inferno into a flamegraph SVG and a table of shares by part of the daemon (driver,
# log lines, fsync thread, HTTP/2 connections, runtime). See --help.
set -euo pipefail
export LC_ALL=C
source "$(dirname "$0")/common.sh"

usage() {
  cat <<'EOF'
Usage: scripts/profile.sh [--nodes N] [--seconds S] [--out FILE.svg]

Profiles N maekawa daemons (default 9) under full contention: builds maekawa with frame
pointers and line tables (into target/profile, apart from the release build), starts
`maekawa bench --nodes N`, records every daemon's stacks with `perf record -g` for S seconds
(default 6) from its 4th second on, and writes
  FILE.svg   a flamegraph (inferno; default target/profile/flamegraph-N-nodes.svg);
  a table on stdout: the share of the daemons' CPU by part of the daemon, the run's entries/s
  and its CPU per CS entry.
Installs what it needs and is missing: perf (Debian's linux-perf) and procps with apt-get (as
root), inferno with `cargo install` into $MAEKAWA_BENCH_CACHE (default ~/.cache/maekawa-bench).
perf needs root or kernel.perf_event_paranoid <= 0.
EOF
}

NODES=9
SECS=6
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) NODES="${2:?--nodes needs a number}"; shift 2 ;;
    --seconds) SECS="${2:?--seconds needs a number}"; shift 2 ;;
    --out) OUT="${2:?--out needs a file name}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "error: unknown argument '$1' (see scripts/profile.sh --help)" >&2; exit 2 ;;
  esac
done
case "$NODES" in ''|*[!0-9]*|0|1) echo "error: --nodes must be an integer >= 2, not '$NODES'" >&2; exit 2 ;; esac
case "$SECS" in ''|*[!0-9]*|0) echo "error: --seconds must be a positive integer, not '$SECS'" >&2; exit 2 ;; esac

# Every command this script needs beyond bash, coreutils, sed and cargo, with the Debian package
# that has it (tests/scripts.rs checks this table against what the script runs).
declare -A PACKAGE_OF=(
  [perf]=linux-perf
  [pgrep]=procps
  [python3]=python3
)
CACHE="${MAEKAWA_BENCH_CACHE:-${XDG_CACHE_HOME:-${HOME:?set HOME or MAEKAWA_BENCH_CACHE}/.cache}/maekawa-bench}"
INFERNO_VERSION=0.12.8
COLLAPSE="$CACHE/inferno/bin/inferno-collapse-perf"
FLAMEGRAPH="$CACHE/inferno/bin/inferno-flamegraph"
PROFILE_DIR="$ROOT/target/profile"
PROFILE_BIN="$PROFILE_DIR/release/maekawa"
OUT="${OUT:-$PROFILE_DIR/flamegraph-$NODES-nodes.svg}"

install_missing
if [ ! -x "$FLAMEGRAPH" ] || [ ! -x "$COLLAPSE" ]; then
  echo "installing inferno $INFERNO_VERSION (cargo install, into $CACHE/inferno)..."
  cargo install --quiet --locked --version "$INFERNO_VERSION" --root "$CACHE/inferno" inferno ||
    { echo "error: cargo install inferno failed" >&2; exit 1; }
fi
echo "building maekawa with frame pointers (target/profile)..."
(cd "$ROOT" && CARGO_TARGET_DIR="$PROFILE_DIR" CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
  RUSTFLAGS="-C force-frame-pointers=yes" cargo build --release --quiet) ||
  { echo "error: the profiling build failed" >&2; exit 1; }

work="$(mktemp -d)"
bench_pid=""
cleanup() {
  [ -n "$bench_pid" ] && kill "$bench_pid" 2>/dev/null && wait "$bench_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "running $NODES daemons for $((SECS + 6)) s, recording $SECS s of them..."
"$PROFILE_BIN" bench --nodes "$NODES" --seconds "$((SECS + 6))" --json >"$work/bench.json" &
bench_pid=$!
sleep 4
# The bench's children are the daemons.
daemons="$(pgrep -P "$bench_pid" | tr '\n' ',' | sed 's/,$//')"
[ -n "$daemons" ] || { echo "error: no daemons found under the bench (PID $bench_pid)" >&2; exit 1; }
perf record -F 1999 -g -p "$daemons" -o "$work/perf.data" -- sleep "$SECS" >/dev/null 2>"$work/perf.err" ||
  { echo "error: perf record failed:" >&2; cat "$work/perf.err" >&2; exit 1; }
wait "$bench_pid" || { echo "error: maekawa bench failed" >&2; exit 1; }
bench_pid=""
perf script -i "$work/perf.data" 2>/dev/null | "$COLLAPSE" >"$work/folded"
mkdir -p "$(dirname "$OUT")"
"$FLAMEGRAPH" --minwidth 0.3 \
  --title "maekawa bench --nodes $NODES: the daemons' CPU (perf record -g, $SECS s)" \
  <"$work/folded" >"$OUT"
echo "wrote $OUT"

# Shares by part of the daemon: a stack counts for the first part (in this order) one of its
# frames names.
python3 - "$work/folded" "$work/bench.json" "$SECS" <<'PY'
import json, sys
parts = [
    ("::log_msg", "driver: send/recv log lines"),
    ("node_log", "driver: other log lines, log writes"),
    ("node_event", "driver: other log lines, log writes"),
    ("spawn_blocking", "driver: hand-off to the fsync thread"),
    ("Member::handle", "driver: the protocol core"),
    ("daemon::driver", "driver: the rest"),
    ("daemon::execute", "driver: the rest"),
    ("daemon::workload", "driver: the rest"),
    ("run_link", "link tasks, sending side"),
    ("PeerService", "link tasks, receiving side"),
    ("H2ClientFuture", "HTTP/2 client connections (write messages)"),
    ("serve_connection", "HTTP/2 server connections (read messages, write acks)"),
    ("park", "runtime: epoll, timers, wake-ups"),
    ("blocking::pool", "fsync thread (journal sync_data)"),
]
total, share = 0, {}
for line in open(sys.argv[1]):
    stack, n = line.rsplit(" ", 1)
    n = int(n)
    total += n
    name = next((p for k, p in parts if k in stack), "other")
    share[name] = share.get(name, 0) + n
report = json.load(open(sys.argv[2]))
print(f"{'part of the daemons':<56} share of CPU")
for name, n in sorted(share.items(), key=lambda x: -x[1]):
    print(f"{name:<56} {100 * n / max(total, 1):5.1f}%")
cpu = sum(d["cpu_seconds"] for d in report["daemons"])
print(f"entries/s {report['entries_per_second']:.1f}, messages/entry {report['messages_per_entry']:.2f}, "
      f"CPU per entry {1000 * cpu / max(report['entries'], 1):.2f} ms (all daemons, whole run), "
      f"check passed: {report['check_passed']}")
PY
