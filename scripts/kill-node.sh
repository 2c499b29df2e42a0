#!/usr/bin/env bash
# Crash one node: kill -9 by its PID file. scripts/kill-node.sh ID
set -euo pipefail
source "$(dirname "$0")/common.sh"
[ $# -eq 1 ] || { echo "usage: $0 ID" >&2; exit 2; }
if ! pid="$(running_pid "$1")"; then
  echo "error: node $1 is not running (no live PID in $(pid_file "$1"))" >&2
  exit 1
fi
kill -KILL "$pid"
while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
rm -f "$(pid_file "$1")"
echo "node $1 killed (PID $pid, SIGKILL)"
