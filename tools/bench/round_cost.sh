#!/usr/bin/env bash
# Re-measures issue 13's table: per (M, method), the coordinator's CPU per
# round (start-up excluded: a ROUNDS-round run minus a 1-round run, over
# ROUNDS - 1), the median round wall (the rounds table: ended_at - started_at),
# and the peak RSS of the coordinator and of the largest edge -- M signfed-edge
# processes on tcp loopback, default MLP, --eval-every 0 (federation.sh) --
# printed beside the issue's numbers (measured before the vote log) and the
# targets at M = 50. Needs /usr/bin/time and sqlite3.
# Usage: tools/bench/round_cost.sh [BUILD_DIR] [M:METHOD ...]   (default: the issue's five rows)
#        ROUNDS=40 by default.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/release}
shift $(($# > 0 ? 1 : 0))
rounds=${ROUNDS:-40}
rows=("$@")
((${#rows[@]})) || rows=(2:signsgd 10:signsgd 50:signsgd 50:s3gd 50:fedsgd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
source "$root/tools/bench/federation.sh"

# The issue's table: "cpu_ms wall_ms coord_MB edge_MB", and the CPU target (ms, "-": none).
issue() {
  case $1 in
    2:signsgd) echo "3.5 4.8 12.6 100 -" ;;
    10:signsgd) echo "4.8 15.5 12.9 28 -" ;;
    50:signsgd) echo "10.8 66.6 17.0 14 3" ;;
    50:s3gd) echo "29.8 90.3 15.9 14 5" ;;
    50:fedsgd) echo "32.2 61.4 63.5 15 8" ;;
    *) echo "- - - - -" ;;
  esac
}

echo "round_cost: $rounds rounds, M processes on tcp loopback, default MLP, --eval-every 0; today (issue 13's number)"
printf '%4s %-8s %22s %20s %18s %16s\n' M method "coord CPU ms/round" "median round ms" "coord peak MB" "edge peak MB"
for row in "${rows[@]}"; do
  m=${row%%:*} method=${row#*:}
  read -r i_cpu i_wall i_crss i_erss target < <(issue "$row")
  cpu_ms_per_round "$out" "$build" "$method" "$m" "$rounds"
  cpu=$(cat "$out/cpu_ms")
  verdict=""
  [[ $target != - ]] && verdict=$(awk -v c="$cpu" -v t="$target" 'BEGIN { print (c <= t ? "target <= " t " met" : "target <= " t " MISSED") }')
  printf '%4s %-8s %10.2f (%6s) %12s (%5s) %10s (%5s) %9s (%4s)  %s\n' "$m" "$method" "$cpu" "$i_cpu" \
    "$(median_round_ms "$out" "$method")" "$i_wall" "$(coord_rss_mb "$out")" "$i_crss" "$(edge_rss_mb "$out")" "$i_erss" \
    "$verdict"
done
