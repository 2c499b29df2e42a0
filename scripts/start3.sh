#!/usr/bin/env bash
# Start every node of quorums.json (three in the committed file) in the background, as a new run:
# the files a previous run left in the log directory move to previous/<UTC time>/ first.
set -euo pipefail
source "$(dirname "$0")/common.sh"
build_if_needed
ids="$(node_ids)"
for id in $ids; do
  if pid="$(running_pid "$id")"; then
    echo "error: node $id is already running (PID $pid); run scripts/stop.sh first" >&2
    exit 1
  fi
done

# Any node still running in this log directory, with a PID file or not (started by hand, or an
# id no longer in the cluster file), holds its node-<id>.lock (src/daemon/proclock.rs). Moving a
# run's journals while one of its nodes lives would make its votes vanish: refuse instead.
# With flock(1), the locks stay taken by this script until the old run has moved: a node that
# starts in between finds its lock held and refuses, instead of writing into moved files.
shopt -s nullglob
taken=()
for lock in "$LOG_DIR"/node-*.lock; do
  held=""
  if command -v flock >/dev/null 2>&1; then
    exec {fd}<"$lock"
    if flock --nonblock "$fd"; then
      taken+=("$fd")
    else
      exec {fd}<&-
      held=1
    fi
  else
    # No flock(1): trust the PID the holder wrote into the file.
    holder="$(cat "$lock" 2>/dev/null || true)"
    [ -n "$holder" ] && kill -0 "$holder" 2>/dev/null && held=1
  fi
  if [ -n "$held" ]; then
    id="${lock##*/node-}"; id="${id%.lock}"
    echo "error: node $id is still running in $LOG_DIR (PID $(cat "$lock" 2>/dev/null || echo unknown), holds $lock); stop it first (kill that PID), then run $0 again" >&2
    exit 1
  fi
done

# A new run. No process of the previous one is alive (checked above), so the state that
# protects a node's restart inside a run (its journal and incarnation) protects nothing any
# more: it moves with that run's logs, and the new run starts as a new cluster (incarnation 1,
# no journaled vote). The whole old run stays together, so `maekawa check --log-dir` on the
# moved directory still checks it. Lock files stay (proclock.rs: never move or delete one);
# PID files are removed by stop.sh, and a stale one is overwritten.
old=("$LOG_DIR"/node-*.log "$LOG_DIR"/node-*.log.* "$LOG_DIR"/node-*.out "$LOG_DIR"/node-*.journal \
  "$LOG_DIR"/node-*.incarnation "$LOG_DIR"/node-*.incarnation.tmp)
shopt -u nullglob
[ -e "$LOG_DIR/critical_section.log" ] && old=("$LOG_DIR/critical_section.log" "${old[@]}")
if [ ${#old[@]} -gt 0 ]; then
  dest="$(new_previous_dir "$LOG_DIR")"
  mv -- "${old[@]}" "$dest/"
  echo "previous run moved to $dest/ (${#old[@]} files; check it with: $BIN check --log-dir $dest --config $CONFIG)"
fi
for fd in "${taken[@]}"; do
  exec {fd}<&-
done

# The secure path is the default one: certificates for mutual TLS are made once, beside the
# cluster file, where every node and every maekawa command finds them (README, "Security").
# MAEKAWA_PLAINTEXT=1 skips this (plaintext is then allowed only on loopback addresses).
certs_dir="$(dirname "$CONFIG")/certs"
# Running it again keeps what exists and adds only what is missing (a node new to the file).
if [ "${MAEKAWA_PLAINTEXT:-0}" != 1 ]; then
  made="$("$BIN" certs init --config "$CONFIG")"
  if grep -q '^wrote' <<<"$made"; then
    echo "made certificates for mutual TLS in $certs_dir/ (maekawa certs init)"
  fi
fi

for id in $ids; do
  SKIP_BUILD=1 "$(dirname "$0")/start-node.sh" "$id"
done
cat <<MSG

All nodes are up. Logs are in $LOG_DIR:
  $BIN watch --config $CONFIG      # watch it live: open the address it prints in a browser
  tail -f $LOG_DIR/critical_section.log        # who is in the critical section
  jq -c 'select(.event=="enter_cs")' $LOG_DIR/node-0.log   # node 0's entries and votes
  scripts/kill-node.sh 1 && scripts/start-node.sh 1     # crash and restart a node
  $BIN ctl status --all --config $CONFIG          # every node's state
  $BIN check --log-dir $LOG_DIR --config $CONFIG   # verify the run
  $BIN watch --log-dir $LOG_DIR --config $CONFIG --addr 127.0.0.1:8081   # replay the run in a browser
  scripts/stop.sh                                  # stop them all
MSG
