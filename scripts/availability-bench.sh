#!/usr/bin/env bash
# Availability of 9 daemons (the 3x3 grid) on 127.0.0.1 when nodes die, from the logs:
#   1. failure-free entries/s over S seconds;
#   2. K kills (kill -9) of a random node, one at a time: for every live node whose own quorum
#      (its row plus its column) has the killed node, the time from the kill to its next entry
#      to the CS (median, max over all those (node, kill) samples), and the time to the first
#      entry by anyone; the killed node is restarted (same flags) and has entered again before
#      the next kill;
#   3. entries/s with node 4 dead for good, then with nodes 4 and 6 dead (S seconds from when
#      every survivor has entered after the kill);
#   4. `maekawa check` on the run's logs.
# Then a table, one line per figure. See --help.
set -euo pipefail
export LC_ALL=C # EPOCHREALTIME with a '.', and jq/grep in the C locale
source "$(dirname "$0")/common.sh"

usage() {
  cat <<'EOF'
Usage: scripts/availability-bench.sh [--seconds S] [--kills K] [--seed N] [--keep DIR]

Runs 9 maekawa daemons (a 3x3 grid) on 127.0.0.1 and measures, from their logs:
  1. failure-free entries/s over S seconds;
  2. K kills (kill -9) of a random node, one at a time: for each live node whose own quorum
     has the killed node, the time from the kill to that node's next CS entry (median, max
     over all (node, kill) samples), and the time to the first entry by anyone; after each
     kill the node is restarted with the same flags and must enter again before the next;
  3. entries/s over S seconds with node 4 dead for good, then with nodes 4 and 6 dead,
     from when every survivor has entered after the kill;
  4. `maekawa check` on the whole run's logs.
and prints a table (one line per figure, with the command line and the machine).

Options:
  --seconds S   length of each throughput window, seconds (default 10)
  --kills K     kills in part 2 (default 20; 0 skips it)
  --seed N      seed of bash's RANDOM, which picks the nodes to kill (default: the time)
  --keep DIR    keep the run's logs and cluster file in DIR (must not exist); default: a
                temporary directory, removed at the end
  -h, --help    this text

Environment:
  MAEKAWA_BIN        the maekawa binary to run (default: build it with cargo build --release)
  MAEKAWA_NODE_ARGS  flags for every node (default "--think-ms 0..5 --hold-ms 0..2"; the
                     suspicion and lease flags are left at their defaults: --suspect-after
                     1000, --lease-ms 3000, --reclaim-ms lease + 1000)
  MAEKAWA_BENCH_PORT first of 9 consecutive ports (default: a free run of 9 in 20000-29999,
                     below the kernel's ephemeral range)

Installs jq with apt-get if it is missing. Takes about 70 s with the defaults on 2 cores.
Every wait for an entry gives up after 30 s (counted in the table). Exits 0 when every
awaited entry came and `maekawa check` passed, 1 otherwise.
EOF
}

# Every command this script needs beyond bash, coreutils, grep and cargo, with the Debian
# package that has it (tests/scripts.rs checks this table against what the script runs).
declare -A PACKAGE_OF=(
  [jq]=jq
)

die() {
  echo "error: $*" >&2
  exit 1
}

is_count() {
  case "$1" in
    '' | *[!0-9]*) return 1 ;;
    *) return 0 ;;
  esac
}

COMMAND_LINE="$0${*:+ $*}"
SECS=10
KILLS=20
SEED=""
KEEP=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --seconds) SECS="${2:-}"; shift 2 || die "--seconds needs a value" ;;
    --kills) KILLS="${2:-}"; shift 2 || die "--kills needs a value" ;;
    --seed) SEED="${2:-}"; shift 2 || die "--seed needs a value" ;;
    --keep) KEEP="${2:-}"; shift 2 || die "--keep needs a value" ;;
    *) echo "error: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
if ! is_count "$SECS" || [ "$SECS" -eq 0 ]; then
  echo "error: --seconds must be a positive integer, not '$SECS'" >&2
  exit 2
fi
is_count "$KILLS" || { echo "error: --kills must be a non-negative integer, not '$KILLS'" >&2; exit 2; }
[ -z "$SEED" ] || is_count "$SEED" || { echo "error: --seed must be a non-negative integer, not '$SEED'" >&2; exit 2; }
if [ -n "$KEEP" ] && [ -e "$KEEP" ]; then
  echo "error: --keep $KEEP already exists" >&2
  exit 2
fi

N=9
DEAD_FOR_GOOD=(4 6) # part 3: killed in this order, never restarted
NODE_ARGS="${MAEKAWA_NODE_ARGS:---think-ms 0..5 --hold-ms 0..2}"
WAIT_US=30000000 # how long any one wait for an entry may take (30 s)
US=1000000

install_missing
build_if_needed

# The run's own directory: the cluster file and logs/. Every daemon this script starts is a
# child whose PID is in pids[id]; on any exit the trap kills those still running (by PID),
# waits for them, and removes the directory unless --keep.
if [ -n "$KEEP" ]; then
  mkdir -p "$KEEP"
  WORK="$(cd "$KEEP" && pwd)"
else
  WORK="$(mktemp -d)"
fi
CFG="$WORK/quorums.json"
LOGS="$WORK/logs"
CS="$LOGS/critical_section.log"
declare -a pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
  [ -n "$KEEP" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- ports and cluster file ----------------------------------------------------------------
# A port is taken when a connection to it succeeds.
port_free() { ! (: <>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
run_free() {
  local p
  for p in $(seq "$1" $(($1 + N - 1))); do port_free "$p" || return 1; done
}
if [ -n "${MAEKAWA_BENCH_PORT:-}" ]; then
  BASE="$MAEKAWA_BENCH_PORT"
  is_count "$BASE" || die "MAEKAWA_BENCH_PORT must be a port number, not '$BASE'"
  run_free "$BASE" || die "a port in $BASE..$((BASE + N - 1)) is in use (MAEKAWA_BENCH_PORT)"
else
  BASE=""
  for _ in $(seq 1 50); do
    b=$((20000 + SRANDOM % (10000 - N)))
    if run_free "$b"; then BASE="$b"; break; fi
  done
  [ -n "$BASE" ] || die "found no 9 free consecutive ports in 20000-29999"
fi
mkdir -p "$LOGS"
{
  printf '{"nodes": ['
  for i in $(seq 0 $((N - 1))); do
    [ "$i" -eq 0 ] || printf ', '
    printf '{"id": %d, "addr": "127.0.0.1:%d"}' "$i" $((BASE + i))
  done
  printf ']}\n'
} >"$CFG"

# Each node's own quorum, from `maekawa quorums` ("  Q(4) = {1, 3, 4, 5, 7}  size 5"), as
# " 1 3 4 5 7 ".
declare -a QUORUM=()
while read -r line; do
  case "$line" in
    Q\(*)
      q="${line#Q(}"
      id="${q%%)*}"
      q="${q#*\{}"
      q="${q%%\}*}"
      QUORUM[id]=" ${q//,/} "
      ;;
  esac
done < <("$BIN" quorums --config "$CFG")
[ ${#QUORUM[@]} -eq "$N" ] || die "could not read the $N quorums from: $BIN quorums --config $CFG"

# ---- time and the CS log --------------------------------------------------------------------
# Microseconds since the epoch, the clock the daemons stamp their log lines with.
now_us() { NOW="${EPOCHREALTIME/./}"; }
# "S.mmm" for a number of microseconds.
fmt_s() { printf '%d.%03d' $(($1 / US)) $((($1 % US) / 1000)); }
# Entries per second, one decimal: $1 entries in $2 microseconds.
fmt_rate() {
  local x10=$(($1 * 10 * US / $2))
  printf '%d.%d' $((x10 / 10)) $((x10 % 10))
}
cs_size() { wc -c <"$CS"; }
# "node time_us" of every `enter` line after byte $1 of the CS log with time >= $2, in file
# order (a line still being written is skipped: the next read sees it whole).
enters_since() {
  tail -c +$(($1 + 1)) "$CS" | jq -R -r --argjson t0 "$2" '
    fromjson? | select(.event == "enter")
    | (((.time[0:19] + "Z") | fromdateiso8601) * 1000000
       + ((.time[20:-1] + "000000")[0:6] | tonumber)) as $t
    | select($t >= $t0) | "\(.node) \($t)"'
}
# Sleeps until the time $1 (microseconds), if it is in the future.
sleep_until() {
  now_us
  local d=$(($1 - NOW))
  [ "$d" -gt 0 ] || return 0
  sleep "$((d / US)).$(printf '%06d' $((d % US)))"
}

# ---- daemons ---------------------------------------------------------------------------------
start_node() {
  local id="$1" p
  # shellcheck disable=SC2086
  "$BIN" node --id "$id" --config "$CFG" --log-dir "$LOGS" $NODE_ARGS \
    >>"$LOGS/node-$id.out" 2>&1 </dev/null &
  p=$!
  pids[id]=$p
  for _ in $(seq 1 100); do
    if ! kill -0 "$p" 2>/dev/null; then
      echo "error: node $id exited at once; its last words ($LOGS/node-$id.out):" >&2
      tail -n 3 "$LOGS/node-$id.out" >&2
      exit 1
    fi
    grep -qE "\"event\":\"start\".*\"pid\":${p}[,}]" "$LOGS/node-$id.log" 2>/dev/null && return 0
    sleep 0.1
  done
  die "node $id (PID $p) has not logged its start within 10 s; see $LOGS/node-$id.out"
}
kill_node() { # kill -9, reaped; sets KILLED_AT (microseconds, just before the signal)
  local id="$1" p="${pids[$1]}"
  now_us
  KILLED_AT=$NOW
  kill -KILL "$p"
  wait "$p" 2>/dev/null || true
  unset 'pids[id]'
}
stop_all() { # SIGTERM to every daemon still running, up to 10 s, then SIGKILL
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 1 100); do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" -eq 1 ] || break
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}

# Polls the CS log from byte $1 for entries at or after time $2 (microseconds) until each
# node in $3 (space-separated; "" for none) has one, and anyone has one, or $WAIT_US passed.
# Sets FIRST[node] (its first such entry, microseconds), ANY_AT and ANY_NODE (the first
# entry by anyone), empty when none came.
declare -A FIRST=()
wait_for_entries() {
  local off="$1" t0="$2" want="$3" n t done_all
  FIRST=()
  ANY_AT=""
  ANY_NODE=""
  while true; do
    while read -r n t; do
      [ -n "$n" ] || continue
      [ -n "${FIRST[$n]:-}" ] || FIRST[$n]=$t
      if [ -z "$ANY_AT" ] || [ "$t" -lt "$ANY_AT" ]; then
        ANY_AT=$t
        ANY_NODE=$n
      fi
    done < <(enters_since "$off" "$t0")
    done_all=1
    [ -n "$ANY_AT" ] || done_all=0
    for n in $want; do [ -n "${FIRST[$n]:-}" ] || done_all=0; done
    [ "$done_all" -eq 0 ] || return 0
    now_us
    [ $((NOW - t0)) -lt "$WAIT_US" ] || return 0
    sleep 0.2
  done
}

# Median and max of microsecond samples ("-" when there are none).
median_us() {
  printf '%s\n' "$@" | jq -s -r 'sort | length as $n
    | if $n == 0 then "-" elif $n % 2 == 1 then .[($n - 1) / 2]
      else ((.[$n / 2 - 1] + .[$n / 2]) / 2 | floor) end'
}
max_us() { printf '%s\n' "$@" | jq -s -r 'if length == 0 then "-" else max end'; }
fmt_stat() { if [ "$1" = "-" ]; then echo "-"; else echo "$(fmt_s "$1") s"; fi; }

# Entries per second over $SECS seconds from the time $2, counting the CS log from byte $1.
# Sets RATE and RATE_COUNT.
rate_from() {
  local off="$1" t0="$2" t1=$(($2 + SECS * US)) n t count=0
  sleep_until $((t1 + 200000)) # and 0.2 s for the last lines
  while read -r n t; do
    [ "$t" -lt "$t1" ] && count=$((count + 1))
  done < <(enters_since "$off" "$t0")
  RATE_COUNT=$count
  RATE="$(fmt_rate "$count" $((t1 - t0)))"
}

# ---- the run ---------------------------------------------------------------------------------
if [ -n "$SEED" ]; then RANDOM=$SEED; else SEED=$RANDOM; RANDOM=$SEED; fi
read -r load1 load5 load15 _ </proc/loadavg
MACHINE="nproc $(nproc), Linux $(uname -r), load average $load1 $load5 $load15 at the start"
echo "== availability-bench: $N daemons on 127.0.0.1:$BASE-$((BASE + N - 1)), logs in $LOGS"
echo "   node flags: $NODE_ARGS (suspicion and lease flags at their defaults); seed $SEED"
echo "   $MACHINE"

for i in $(seq 0 $((N - 1))); do start_node "$i"; done
all="$(seq -s ' ' 0 $((N - 1)))"
now_us
wait_for_entries 0 "$NOW" "$all"
for i in $all; do
  [ -n "${FIRST[$i]:-}" ] || die "node $i has not entered within $((WAIT_US / US)) s of the start"
done

# 1. Failure-free.
echo "== 1. failure-free, $SECS s"
off=$(cs_size)
now_us
rate_from "$off" "$NOW"
FREE_RATE=$RATE
FREE_COUNT=$RATE_COUNT
echo "   $FREE_RATE entries/s ($FREE_COUNT entries)"

# 2. Kills and restarts.
echo "== 2. $KILLS kills (kill -9), each followed by a restart"
node_samples=()
first_samples=()
restart_samples=()
missed=0
for k in $(seq 1 "$KILLS"); do
  v=$((RANDOM % N))
  affected=""
  for i in $all; do
    [ "$i" -ne "$v" ] && [[ ${QUORUM[i]} == *" $v "* ]] && affected+="$i "
  done
  off=$(cs_size)
  kill_node "$v"
  wait_for_entries "$off" "$KILLED_AT" "$affected"
  line="   kill $k/$KILLS: node $v;"
  if [ -n "$ANY_AT" ]; then
    first_samples+=($((ANY_AT - KILLED_AT)))
    line+=" first entry $(fmt_s $((ANY_AT - KILLED_AT))) s (node $ANY_NODE);"
  else
    line+=" no entry within $((WAIT_US / US)) s;"
  fi
  line+=" nodes with $v in their quorum:"
  for i in $affected; do
    if [ -n "${FIRST[$i]:-}" ]; then
      node_samples+=($((FIRST[$i] - KILLED_AT)))
      line+=" $i $(fmt_s $((FIRST[$i] - KILLED_AT)))"
    else
      missed=$((missed + 1))
      line+=" $i none"
    fi
  done
  off=$(cs_size)
  now_us
  restarted_at=$NOW
  start_node "$v"
  wait_for_entries "$off" "$restarted_at" "$v"
  if [ -n "${FIRST[$v]:-}" ]; then
    restart_samples+=($((FIRST[$v] - restarted_at)))
    line+="; restarted, entered after $(fmt_s $((FIRST[$v] - restarted_at))) s"
  else
    missed=$((missed + 1))
    line+="; restarted, NO entry within $((WAIT_US / US)) s"
  fi
  echo "$line"
done

# 3. Nodes dead for good. The window starts once every survivor has entered after the kill
# (all of them have routed around the dead), and lasts $SECS s.
dead=()
declare -a DEAD_RATE=() DEAD_NOTE=()
for v in "${DEAD_FOR_GOOD[@]}"; do
  dead+=("$v")
  echo "== 3. node(s) ${dead[*]} dead for good: $SECS s from when every survivor has entered after the kill"
  survivors=""
  for i in $all; do [[ " ${dead[*]} " == *" $i "* ]] || survivors+="$i "; done
  off=$(cs_size)
  kill_node "$v"
  wait_for_entries "$off" "$KILLED_AT" "$survivors"
  if [ -z "$ANY_AT" ]; then
    echo "   no entry within $((WAIT_US / US)) s of the kill"
    missed=$((missed + 1))
    DEAD_RATE+=("none")
    DEAD_NOTE+=("no entry within $((WAIT_US / US)) s of the kill")
    continue
  fi
  all_at=$ANY_AT
  late=0
  for i in $survivors; do
    if [ -z "${FIRST[$i]:-}" ]; then
      late=$((late + 1))
    elif [ "${FIRST[$i]}" -gt "$all_at" ]; then
      all_at=${FIRST[$i]}
    fi
  done
  note="first entry $(fmt_s $((ANY_AT - KILLED_AT))) s, every survivor $(fmt_s $((all_at - KILLED_AT))) s after the kill"
  if [ "$late" -gt 0 ]; then
    missed=$((missed + late))
    note="first entry $(fmt_s $((ANY_AT - KILLED_AT))) s after the kill, $late survivor(s) none within $((WAIT_US / US)) s"
  fi
  rate_from "$off" "$all_at"
  DEAD_RATE+=("$RATE")
  DEAD_NOTE+=("$RATE_COUNT entries; $note")
  echo "   $note; $RATE entries/s ($RATE_COUNT entries)"
done

# 4. Stop the rest, check the run.
stop_all
echo "== 4. $BIN check --log-dir $LOGS --config $CFG"
set +e
check_out="$("$BIN" check --log-dir "$LOGS" --config "$CFG" 2>&1)"
check_rc=$?
set -e
while IFS= read -r l; do echo "   $l"; done <<<"$check_out"
count_events() { cat "$LOGS"/node-*.log | grep -c "$1" || true; }
suspects=$(count_events '"event":"suspect"')
switches=$(count_events '"event":"quorum_switch"')
reclaims=$(count_events '"event":"revote".*"what":"reclaimed"')
expired=$(count_events '"event":"lease_expired"')

med_node=$(median_us "${node_samples[@]}")
max_node=$(max_us "${node_samples[@]}")
med_first=$(median_us "${first_samples[@]}")
max_first=$(max_us "${first_samples[@]}")
med_restart=$(median_us "${restart_samples[@]}")
max_restart=$(max_us "${restart_samples[@]}")

echo
echo "== results: $COMMAND_LINE"
echo "machine: $MACHINE"
echo "cluster: $N daemons, 3x3 grid, 127.0.0.1; node flags $NODE_ARGS; --suspect-after, --lease-ms, --reclaim-ms at their defaults; seed $SEED"
row() { printf '%-68s %s\n' "$1" "$2"; }
row "failure-free entries/s ($SECS s)" "$FREE_RATE ($FREE_COUNT entries)"
row "kill -> next entry of nodes whose quorum has the dead one, median" "$(fmt_stat "$med_node") (${#node_samples[@]} samples of $KILLS kills)"
row "kill -> next entry of nodes whose quorum has the dead one, max" "$(fmt_stat "$max_node")"
row "kill -> first entry by anyone, median" "$(fmt_stat "$med_first") (${#first_samples[@]} kills)"
row "kill -> first entry by anyone, max" "$(fmt_stat "$max_first")"
row "restarted node -> its first entry, median" "$(fmt_stat "$med_restart") (max $(fmt_stat "$max_restart"))"
for j in "${!dead[@]}"; do
  label="1 node dead"
  [ "$j" -eq 0 ] || label="$((j + 1)) nodes dead"
  row "entries/s, $label for good (${dead[*]:0:j+1}), $SECS s" "${DEAD_RATE[j]} (${DEAD_NOTE[j]})"
done
row "waits with no entry within $((WAIT_US / US)) s" "$missed"
row "events: suspect / quorum_switch / revote reclaimed / lease_expired" "$suspects / $switches / $reclaims / $expired"
row "maekawa check (exit $check_rc)" "$(echo "$check_out" | head -n 1)"
if [ -n "$KEEP" ]; then echo "logs kept in $LOGS"; fi
[ "$check_rc" -eq 0 ] && [ "$missed" -eq 0 ]
