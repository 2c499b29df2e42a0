# shellcheck shell=bash
# Shared settings for the scripts: where the binary, the cluster file and the logs are.
# Override with MAEKAWA_CONFIG, MAEKAWA_LOG_DIR, MAEKAWA_NODE_ARGS (extra flags for every node),
# MAEKAWA_BIN (run this binary instead of building one: the tests pass the one they built).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Where `cargo build --release` in $ROOT puts its output: target/, or CARGO_TARGET_DIR (relative
# to $ROOT when it is relative).
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
BIN="${MAEKAWA_BIN:-$TARGET_DIR/release/maekawa}"
CONFIG="${MAEKAWA_CONFIG:-$ROOT/quorums.json}"
LOG_DIR="${MAEKAWA_LOG_DIR:-$ROOT/logs}"

# Builds the release binary if it is missing or stale (SKIP_BUILD=1: the caller already did;
# MAEKAWA_BIN: the caller brings its own).
build_if_needed() {
  if [ -n "${MAEKAWA_BIN:-}" ]; then
    [ -x "$BIN" ] || { echo "error: MAEKAWA_BIN=$BIN is not an executable file" >&2; exit 1; }
    return 0
  fi
  [ -n "${SKIP_BUILD:-}" ] && [ -x "$BIN" ] && return 0
  # Not --quiet: the first build takes minutes, and cargo's progress says what it is doing.
  [ -x "$BIN" ] || echo "building maekawa (cargo build --release; the first build takes a few minutes)..."
  (cd "$ROOT" && cargo build --release) || { echo "error: cargo build --release failed" >&2; exit 1; }
}

pid_file() { echo "$LOG_DIR/node-$1.pid"; }

# Prints the PID of node $1 if its PID file names a live process.
running_pid() {
  local f pid
  f="$(pid_file "$1")"
  [ -f "$f" ] || return 1
  pid="$(cat "$f" 2>/dev/null)"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

node_ids() { "$BIN" quorums --config "$CONFIG" --ids; }

# Installs a Debian package list with apt-get, or stops with the command to run as root.
apt_install() {
  echo "installing $* (apt-get)..."
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"; } >/dev/null; then
    echo "error: could not install $*; as root: apt-get install $*" >&2
    exit 1
  fi
}

# Installs what the calling script's PACKAGE_OF table (command -> Debian package) names and
# the machine lacks, and checks that each command is there afterwards.
install_missing() {
  local cmd missing=() packages=()
  for cmd in "${!PACKAGE_OF[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 && continue
    missing+=("$cmd")
    packages+=("${PACKAGE_OF[$cmd]}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "for ${missing[*]}:"
  apt_install "${packages[@]}"
  for cmd in "${missing[@]}"; do
    if ! command -v "$cmd" >/dev/null 2>&1; then
      echo "error: $cmd is still missing after installing ${PACKAGE_OF[$cmd]}" >&2
      exit 1
    fi
  done
}

# Makes a new directory DIR/previous/<UTC time>[-n] for one old run's files, and prints it.
new_previous_dir() {
  local root="$1/previous" dest base n=1
  mkdir -p "$root"
  dest="$root/$(date -u +%Y%m%dT%H%M%SZ)"
  base="$dest"
  until mkdir "$dest" 2>/dev/null; do
    n=$((n + 1))
    dest="$base-$n"
    [ "$n" -lt 100 ] || { echo "error: cannot make a directory under $root" >&2; return 1; }
  done
  echo "$dest"
}

# Waits (10 s at most) until process PID of node ID has logged its start in DIR/node-ID.log (a
# restarted node's log already has its predecessors' start lines: look for this PID). Returns 0
# when it has, 1 when it runs but has not, 2 when it died (its last words go to stderr).
wait_for_start() {
  local id="$1" pid="$2" dir="$3"
  for _ in $(seq 1 100); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "error: node $id exited at once; its last words ($dir/node-$id.out):" >&2
      tail -n 3 "$dir/node-$id.out" >&2
      return 2
    fi
    if grep -qE "\"event\":\"start\".*\"pid\":${pid}[,}]" "$dir/node-$id.log" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}
