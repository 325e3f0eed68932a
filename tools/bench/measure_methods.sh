#!/usr/bin/env bash
# Measures, per method, bytes per client per round (uplink and downlink) from
# the SQLite log, the coordinator's CPU time per round (an R-round run minus a
# 1-round run, over R - 1: start-up excluded) and peak RSS, and an
# edge client's peak RSS, on a real federation of M clients over loopback.
# Needs /usr/bin/time (Debian package time).
# Usage: tools/bench/measure_methods.sh [BUILD_DIR] [M] [ROUNDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/release}
m=${2:-10}
rounds=${3:-30}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
port=$((20000 + RANDOM % 20000))
printf '%-10s %14s %14s %16s %14s %12s\n' method "up B/cl/round" "down B/cl/rnd" "coord CPU ms/rnd" "coord RSS MB" "edge RSS MB"
# One federation: $1 method, $2 rounds; leaves the coordinator's "user sys maxrss"
# in $out/coord.time, the edges' peak RSS in $out/edge-*.time and the log in $out/$1.sqlite.
federate() {
  local method=$1 r=$2 extra=()
  port=$((port + 1))
  rm -f "$out/$method.sqlite"*
  case $method in s3gd | randk) extra=(--gamma 0.1) ;; esac  # a flag a method does not use is refused
  /usr/bin/time -f '%U %S %M' -o "$out/coord.time" "$build/coordinator/signfed-coordinator" --insecure \
    --endpoint "tcp://127.0.0.1:$port" --db "$out/$method.sqlite" --clients "$m" --rounds "$r" --method "$method" \
    "${extra[@]}" --lr 0.001 --eval-every 0 --quiet >/dev/null 2>"$out/coord.err" &
  local coord=$!
  for ((i = 0; i < m; i++)); do
    /usr/bin/time -f '%M' -o "$out/edge-$i.time" "$build/edge/signfed-edge" --insecure --connect "tcp://127.0.0.1:$port" \
      --client-index "$i" --num-clients "$m" --quiet >/dev/null &
  done
  if ! wait "$coord"; then
    echo "measure_methods: the $method run failed:" >&2
    cat "$out/coord.err" >&2
    exit 1
  fi
  wait
}

for method in signsgd s3gd randk signum stochsign efsign fedsgd fedavg; do
  # Start-up (the input statistics stream the 47 MB of training pixels once)
  # is measured by a 1-round run and taken out of the per-round CPU.
  federate "$method" 1
  read -r cu1 cs1 _ <"$out/coord.time"
  federate "$method" "$rounds"
  db="$out/$method.sqlite"
  read -r cu cs crss <"$out/coord.time"
  erss=$(cat "$out"/edge-*.time | sort -n | tail -1)
  up=$(sqlite3 "$db" "SELECT SUM(bytes)/COUNT(*) FROM updates WHERE status='counted'")
  down=$(sqlite3 "$db" "SELECT SUM(downlink_bytes)/($m*COUNT(*)) FROM rounds")
  awk -v m="$method" -v up="$up" -v down="$down" -v cu="$cu" -v cs="$cs" -v cu1="$cu1" -v cs1="$cs1" -v r="$rounds" \
    -v crss="$crss" -v erss="$erss" \
    'BEGIN { printf "%-10s %14d %14d %16.2f %14.1f %12.1f\n", m, up, down, (cu + cs - cu1 - cs1) * 1000 / (r - 1), crss / 1024, erss / 1024 }'
done
