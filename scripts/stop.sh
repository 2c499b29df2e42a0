#!/usr/bin/env bash
# Stop every node that has a PID file in the log directory: SIGTERM to all, wait, report.
set -uo pipefail
source "$(dirname "$0")/common.sh"
shopt -s nullglob
files=("$LOG_DIR"/node-*.pid)
if [ ${#files[@]} -eq 0 ]; then
  echo "no node is running (no PID files in $LOG_DIR)"
  exit 0
fi
declare -A pids=()
for f in "${files[@]}"; do
  id="${f##*/node-}"; id="${id%.pid}"
  pid="$(cat "$f" 2>/dev/null)"
  if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
    echo "node $id: not running (stale PID file removed)"
    rm -f "$f"
    continue
  fi
  # All at once: each node's last messages reach peers that are still up.
  kill -TERM "$pid" && pids[$id]=$pid
done
status=0
for id in "${!pids[@]}"; do
  pid=${pids[$id]}
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "node $id: PID $pid did not stop within 10 s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null
    status=1
  else
    echo "node $id: stopped (PID $pid)"
  fi
  rm -f "$(pid_file "$id")"
done
exit $status
