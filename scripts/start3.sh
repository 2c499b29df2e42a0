#!/usr/bin/env bash
# Start every node of quorums.json (three in the committed file) in the background.
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
for id in $ids; do
  SKIP_BUILD=1 "$(dirname "$0")/start-node.sh" "$id"
done
cat <<MSG

All nodes are up. Logs are in $LOG_DIR:
  tail -f $LOG_DIR/critical_section.log        # who is in the critical section
  jq -c 'select(.event=="enter_cs")' $LOG_DIR/node-0.log   # node 0's entries and votes
  scripts/kill-node.sh 1 && scripts/start-node.sh 1     # crash and restart a node
  $BIN ctl status --all --config $CONFIG          # every node's state
  $BIN check --log-dir $LOG_DIR --config $CONFIG   # verify the run
  scripts/stop.sh                                  # stop them all
MSG
