#!/usr/bin/env bash
# Measures, per method, bytes per client per round (uplink and downlink) from
# the SQLite log, the coordinator's CPU time per round and peak RSS, and an
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
for method in signsgd s3gd randk signum stochsign efsign fedsgd fedavg; do
  port=$((port + 1))
  db="$out/$method.sqlite"
  extra=()
  case $method in s3gd | randk) extra=(--gamma 0.1) ;; esac  # a flag a method does not use is refused
  /usr/bin/time -f '%U %S %M' -o "$out/coord.time" "$build/coordinator/signfed-coordinator" --insecure \
    --endpoint "tcp://127.0.0.1:$port" --db "$db" --clients "$m" --rounds "$rounds" --method "$method" \
    "${extra[@]}" --lr 0.001 --eval-every 0 --quiet >/dev/null 2>"$out/coord.err" &
  coord=$!
  for ((i = 0; i < m; i++)); do
    /usr/bin/time -f '%M' -o "$out/edge-$i.time" "$build/edge/client/signfed-edge" --insecure --connect "tcp://127.0.0.1:$port" \
      --client-index "$i" --num-clients "$m" --quiet >/dev/null &
  done
  if ! wait "$coord"; then
    echo "measure_methods: the $method run failed:" >&2
    cat "$out/coord.err" >&2
    exit 1
  fi
  wait
  read -r cu cs crss <"$out/coord.time"
  erss=$(cat "$out"/edge-*.time | sort -n | tail -1)
  up=$(sqlite3 "$db" "SELECT SUM(bytes)/COUNT(*) FROM updates WHERE status='counted'")
  down=$(sqlite3 "$db" "SELECT SUM(downlink_bytes)/($m*COUNT(*)) FROM rounds")
  # CPU includes start-up (model init, data-free); divide by rounds for a per-round figure.
  awk -v m="$method" -v up="$up" -v down="$down" -v cu="$cu" -v cs="$cs" -v r="$rounds" \
    -v crss="$crss" -v erss="$erss" \
    'BEGIN { printf "%-10s %14d %14d %16.2f %14.1f %12.1f\n", m, up, down, (cu + cs) * 1000 / r, crss / 1024, erss / 1024 }'
done
