#!/usr/bin/env bash
# Peak RSS of one signfed-edge holding a 6,000- and a 30,000-sample
# Fashion-MNIST shard (issue 13 item 5), on a real federation: the
# coordinator and one edge as processes on tcp loopback, default MLP, 20
# rounds. Peak RSS is /usr/bin/time's %M (getrusage ru_maxrss, KiB).
# With a second build directory (e.g. a build of the tree before the change)
# both are measured in the same run and the table shows before, after, their
# ratio and the target.
# With EDGE_MEMORY_SMAPS=1, it then runs the 6,000-sample edge once more for
# 400 rounds, samples /proc/PID/smaps every 0.1 s, and prints the resident KiB
# of each mapping (libraries, the binary, [heap], anonymous, stacks) at the
# sample with the highest total: where the peak is.
# Needs /usr/bin/time (Debian package time) and dataset-fashion-mnist.
# Usage: [RUNS=N] [EDGE_MEMORY_SMAPS=1] tools/bench/edge_memory.sh [BUILD_DIR] [BASELINE_BUILD_DIR] [ROUNDS]
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
  timeout 300 /usr/bin/time -f '%M' -o "$out/edge.time" "$dir/edge/signfed-edge" --insecure --connect "tcp://127.0.0.1:$port" \
    --client-index 0 --num-clients "$parts" --quiet >/dev/null 2>"$out/edge.err"
  if ! wait "$coord"; then
    echo "edge_memory: the run with $dir failed:" >&2
    cat "$out/coord.err" "$out/edge.err" >&2
    exit 1
  fi
  cat "$out/edge.time"
}

# RUNS (environment, default 1): runs per shard and build, interleaved; the
# table shows the largest (the target must hold in every run) and each run's KiB.
runs=${RUNS:-1}
printf '%-16s %12s %12s %8s %10s\n' shard "before MB" "after MB" ratio "target MB"
for spec in "6000 10 12" "30000 2 35"; do
  read -r samples parts target <<<"$spec"
  afters=() befores=()
  for ((r = 0; r < runs; ++r)); do
    afters+=("$(edge_rss "$build" "$parts")")
    [ -n "$baseline" ] && befores+=("$(edge_rss "$baseline" "$parts")")
  done
  after=$(printf '%s\n' "${afters[@]}" | sort -n | tail -1)
  before=""
  [ -n "$baseline" ] && before=$(printf '%s\n' "${befores[@]}" | sort -n | tail -1)
  awk -v s="$samples" -v b="$before" -v a="$after" -v t="$target" 'BEGIN {
    if (b == "") printf "%-16s %12s %12.1f %8s %10d %s\n", s " samples", "-", a / 1024, "-", t, (a / 1024 <= t ? "met" : "MISSED");
    else printf "%-16s %12.1f %12.1f %8.2f %10d %s\n", s " samples", b / 1024, a / 1024, a / b, t, (a / 1024 <= t ? "met" : "MISSED") }'
  ((runs > 1)) && echo "  KiB, after: ${afters[*]}${baseline:+; before: ${befores[*]}}"
done

[ "${EDGE_MEMORY_SMAPS:-0}" = 1 ] || exit 0
# Resident KiB per mapping at the sample of the highest total RSS, 6,000 samples.
port=$((port + 1))
rm -f "$out/run.sqlite"*
"$build/coordinator/signfed-coordinator" --insecure --endpoint "tcp://127.0.0.1:$port" --db "$out/run.sqlite" \
  --clients 1 --rounds 400 --method signsgd --lr 0.001 --eval-every 0 --quiet >/dev/null 2>"$out/coord.err" &
coord=$!
"$build/edge/signfed-edge" --insecure --connect "tcp://127.0.0.1:$port" --client-index 0 --num-clients 10 \
  --quiet >/dev/null 2>"$out/edge.err" &
edge=$!  # the edge itself (no wrapper: its smaps are read)
best=0
for ((i = 0; i < 3000; ++i)); do  # at most ~5 minutes
  kill -0 "$edge" 2>/dev/null || break
  awk '/^[0-9a-f]+-[0-9a-f]+ /{name = $6 == "" ? "[anonymous]" : $6} /^Rss:/{rss[name] += $2; total += $2}
       END{for (n in rss) if (rss[n] > 0) printf "%8d %s\n", rss[n], n; printf "%8d TOTAL\n", total}' \
    "/proc/$edge/smaps" >"$out/smaps.now" 2>/dev/null || break
  now=$(awk '$2 == "TOTAL"{print $1}' "$out/smaps.now")
  if [ -n "$now" ] && [ "$now" -gt "$best" ]; then best=$now; cp "$out/smaps.now" "$out/smaps.best"; fi
  sleep 0.1
done
kill "$edge" 2>/dev/null || true
wait "$edge" || true
wait "$coord" || true
echo
echo "resident KiB per mapping at the highest sample (6,000 samples; the anonymous line holds the pixels, thread stacks):"
sort -rn "$out/smaps.best"
