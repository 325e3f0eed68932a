#!/usr/bin/env bash
# Measures, per method, bytes per client per round (uplink and downlink) from
# the SQLite log, the coordinator's CPU time per round (an R-round run minus a
# 1-round run, over R - 1: start-up excluded) and peak RSS, and an
# edge client's peak RSS, on a real federation of M clients over loopback
# (federation.sh). Needs /usr/bin/time (Debian package time).
# Usage: tools/bench/measure_methods.sh [BUILD_DIR] [M] [ROUNDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/release}
m=${2:-10}
rounds=${3:-30}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
source "$root/tools/bench/federation.sh"
printf '%-10s %14s %14s %16s %14s %12s\n' method "up B/cl/round" "down B/cl/rnd" "coord CPU ms/rnd" "coord RSS MB" "edge RSS MB"
for method in signsgd s3gd randk signum stochsign efsign fedsgd fedavg; do
  cpu_ms_per_round "$out" "$build" "$method" "$m" "$rounds"
  db="$out/$method.sqlite"
  up=$(sqlite3 "$db" "SELECT SUM(bytes)/COUNT(*) FROM updates WHERE status='counted'")
  down=$(sqlite3 "$db" "SELECT SUM(downlink_bytes)/($m*COUNT(*)) FROM rounds")
  printf '%-10s %14d %14d %16.2f %14.1f %12.1f\n' "$method" "$up" "$down" "$(cat "$out/cpu_ms")" "$(coord_rss_mb "$out")" \
    "$(edge_rss_mb "$out")"
done
