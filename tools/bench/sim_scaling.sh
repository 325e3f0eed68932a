#!/usr/bin/env bash
# signfed-sim scaling (issue 13 item 3): rounds/s, CPU per round and peak RSS
# of in-process federations of M = 10, 100, 1000, 10000 clients (signsgd,
# default MLP, --eval-every 0, so a round is training and protocol only; wall
# and CPU include start-up: loading Fashion-MNIST, cutting shards, creating
# clients), with the shared replica (default) and, for M <= 1000, without it
# (--no-share: every client its own model, gradient and encoder; the baseline,
# timed in the same run). Then the memory of an idle client: two runs at
# --fraction 0.01 (M = 1000 and M = 10000), RSS difference over 9000 clients.
# CPU is user + sys of the whole process (/usr/bin/time): steadier than wall on
# a machine shared with other jobs. In the --fraction 0.01 runs only clients
# that were selected at least once end with the coordinator's digest (the
# others never confirm their seeded replica; as before sharing).
# Usage: tools/bench/sim_scaling.sh [BUILD_DIR] [ROUNDS] [MAX_M]
#   ROUNDS_10K (default 5): rounds of the M = 10000 all-clients run (CPU-bound:
#   about 10x an M = 1000 round).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/release}
rounds=${2:-20}
max_m=${3:-10000}
sim="$build/tools/sim/signfed-sim"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# run NAME M R ARGS...: one federation of R rounds; prints
# "wall_s cpu_s peak_rss_kb digests_equal clients_checked".
run() {
  local name=$1 m=$2 r=$3
  shift 3
  local rc=0
  /usr/bin/time -f '%U %S' -o "$out/$name.time" "$sim" --clients "$m" --rounds "$r" --method signsgd --eval-every 0 \
    --quiet --db "$out/$name.sqlite" "$@" >"$out/$name.log" 2>&1 || rc=$?
  # Exit 4: not every digest matched. Expected with --fraction < 1: a client
  # never selected stays "seeded" (unconfirmed) and does not follow results.
  if ((rc != 0 && rc != 4)); then
    echo "sim_scaling: $name failed:" >&2
    tail -5 "$out/$name.log" >&2
    exit 1
  fi
  /usr/bin/python3 -c '
import sqlite3, sys
r = sqlite3.connect(sys.argv[1]).execute(
    "SELECT wall_s, peak_rss_kb, digests_equal, clients_checked FROM sim_runs ORDER BY run_id DESC LIMIT 1").fetchone()
user, sys_ = map(float, open(sys.argv[2]).read().split()[-2:])
print(r[0], user + sys_, *r[1:])' "$out/$name.sqlite" "$out/$name.time"
}

printf '%-6s %-8s %-6s %-8s %8s %8s %9s %9s %12s %12s\n' M mode rounds fraction "wall s" "CPU s" "rounds/s" \
  "CPU s/rnd" "peak RSS MB" digests
row() {  # M mode rounds fraction name args...
  local m=$1 mode=$2 r=$3 frac=$4 name=$5
  shift 5
  local wall cpu rss eq checked
  read -r wall cpu rss eq checked < <(run "$name" "$m" "$r" --fraction "$frac" "$@")
  printf '%-6s %-8s %-6s %-8s %8.2f %8.2f %9.2f %9.3f %12.1f %12s\n' "$m" "$mode" "$r" "$frac" "$wall" "$cpu" \
    "$(echo "$r / $wall" | bc -l)" "$(echo "$cpu / $r" | bc -l)" "$(echo "$rss / 1024" | bc -l)" "$eq/$checked"
  echo "$rss" >"$out/$name.rss"
}
for m in 10 100 1000 10000; do
  ((m <= max_m)) || continue
  r=$rounds
  ((m < 10000)) || r=${ROUNDS_10K:-5}
  row "$m" shared "$r" 1 "s$m"
  if ((m <= 1000)); then row "$m" no-share "$r" 1 "n$m" --no-share; fi
done
if ((max_m >= 10000)); then
  row 1000 shared "$rounds" 0.01 f1000
  row 10000 shared "$rounds" 0.01 f10000
  a=$(cat "$out/f1000.rss") b=$(cat "$out/f10000.rss")
  printf 'idle client (fraction 0.01): (%d - %d) kB / 9000 clients = %.1f kB per client (target <= 64 KB)\n' \
    "$b" "$a" "$(echo "($b - $a) / 9000" | bc -l)"
fi
