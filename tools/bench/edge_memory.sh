#!/usr/bin/env bash
# Peak RSS of one signfed-edge holding a 6,000- and a 30,000-sample
# Fashion-MNIST shard (issue 13 item 5), on a real federation: the
# coordinator and one edge as processes on tcp loopback, default MLP, 20
# rounds. Peak RSS is /usr/bin/time's %M (getrusage ru_maxrss, KiB).
# With a second build directory (e.g. a build of the tree before the change)
# both are measured in the same run and the table shows before, after, their
# ratio and the target.
# Needs /usr/bin/time (Debian package time) and dataset-fashion-mnist.
# Usage: tools/bench/edge_memory.sh [BUILD_DIR] [BASELINE_BUILD_DIR] [ROUNDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/release}
baseline=${2:-}
rounds=${3:-20}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
port=$((20000 + RANDOM % 20000))

# One federation of one edge holding client 0's iid shard of 60,000 / $2
# samples; prints the edge's peak RSS in KiB. $1: build directory.
edge_rss() {
  local dir=$1 parts=$2
  port=$((port + 1))
  rm -f "$out/run.sqlite"*
  "$dir/coordinator/signfed-coordinator" --insecure --endpoint "tcp://127.0.0.1:$port" --db "$out/run.sqlite" \
    --clients 1 --rounds "$rounds" --method signsgd --lr 0.001 --eval-every 0 --quiet >/dev/null 2>"$out/coord.err" &
  local coord=$!
  /usr/bin/time -f '%M' -o "$out/edge.time" "$dir/edge/signfed-edge" --insecure --connect "tcp://127.0.0.1:$port" \
    --client-index 0 --num-clients "$parts" --quiet >/dev/null 2>"$out/edge.err"
  if ! wait "$coord"; then
    echo "edge_memory: the run with $dir failed:" >&2
    cat "$out/coord.err" "$out/edge.err" >&2
    exit 1
  fi
  cat "$out/edge.time"
}

printf '%-16s %12s %12s %8s %10s\n' shard "before MB" "after MB" ratio "target MB"
for spec in "6000 10 12" "30000 2 35"; do
  read -r samples parts target <<<"$spec"
  after=$(edge_rss "$build" "$parts")
  before=""
  [ -n "$baseline" ] && before=$(edge_rss "$baseline" "$parts")
  awk -v s="$samples" -v b="$before" -v a="$after" -v t="$target" 'BEGIN {
    if (b == "") printf "%-16s %12s %12.1f %8s %10d %s\n", s " samples", "-", a / 1024, "-", t, (a / 1024 <= t ? "met" : "MISSED");
    else printf "%-16s %12.1f %12.1f %8.2f %10d %s\n", s " samples", b / 1024, a / 1024, a / b, t, (a / 1024 <= t ? "met" : "MISSED") }'
done
