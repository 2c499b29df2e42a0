#!/usr/bin/env bash
# Start one node in the background: scripts/start-node.sh ID
# Its PID goes to logs/node-ID.pid, its stdout/stderr to logs/node-ID.out.
set -euo pipefail
source "$(dirname "$0")/common.sh"
[ $# -eq 1 ] || { echo "usage: $0 ID" >&2; exit 2; }
id="$1"
build_if_needed
mkdir -p "$LOG_DIR"
if pid="$(running_pid "$id")"; then
  echo "error: node $id is already running (PID $pid, $(pid_file "$id")); stop it first: scripts/stop.sh or kill $pid" >&2
  exit 1
fi
# shellcheck disable=SC2086
nohup "$BIN" node --id "$id" --config "$CONFIG" --log-dir "$LOG_DIR" ${MAEKAWA_NODE_ARGS:-} \
  >>"$LOG_DIR/node-$id.out" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$(pid_file "$id")"
# Wait (bounded) until this process has logged its start, or has died.
started=0
wait_for_start "$id" "$pid" "$LOG_DIR" || started=$?
if [ "$started" -eq 2 ]; then
  rm -f "$(pid_file "$id")"
  exit 1
fi
if [ "$started" -eq 0 ]; then
  echo "node $id started: PID $pid, log $LOG_DIR/node-$id.log"
else
  echo "node $id: PID $pid runs but has not logged its start within 10 s; see $LOG_DIR/node-$id.out"
fi
