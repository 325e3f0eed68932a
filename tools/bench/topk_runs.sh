#!/usr/bin/env bash
# Top-k timing over fresh processes: runs signfed-bench's top-k group in R
# separate processes (ASLR on: each gets its own heap/stack/mmap addresses)
# and prints, per (N, K, variant), the min / median / max over the processes
# of the top-k time and of the speed-up over std::nth_element, and how many
# processes missed the >= 3x target. Inside one process the bench already
# keeps the minimum over repetitions, so a slow process here is slow on every
# repetition: an address-dependent effect, not noise.
#
# Usage: tools/bench/topk_runs.sh [--busy] [--no-aslr] [--runs R] [--full] [--all] [--build DIR]
#   --busy   keep the other core busy (a shell loop pinned to CPU 1, the
#            bench pinned to CPU 0) for the whole measurement
#   --no-aslr  run the bench under setarch -R (the issue's comparison)
#   --runs R processes (default 20)
#   --full   all bench sizes (N = 101,770, 10^6, 10^7) instead of --quick
#   --all    every kernel variant, not only the one best_sign_kernels() picks
# Needs jq (Debian package jq) and taskset (util-linux) for --busy.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$root/build/release
runs=20 busy=0 size=--quick all=0 noaslr=0
while (($#)); do
  case $1 in
    --busy) busy=1 ;;
    --no-aslr) noaslr=1 ;;
    --runs) runs=$2; shift ;;
    --full) size= ;;
    --all) all=1 ;;
    --build) build=$2; shift ;;
    *) echo "usage: $0 [--busy] [--no-aslr] [--runs R] [--full] [--all] [--build DIR]" >&2; exit 2 ;;
  esac
  shift
done
bench=$build/tools/bench/signfed-bench
[[ -x $bench ]] || { echo "topk_runs: no $bench (build target signfed-bench)" >&2; exit 1; }
[[ $(cat /proc/sys/kernel/randomize_va_space) != 0 ]] || echo "topk_runs: warning: ASLR is off system-wide" >&2

out=$(mktemp -d)
busy_pid=
cleanup() {
  [[ -n $busy_pid ]] && kill "$busy_pid" 2>/dev/null
  rm -rf "$out"
}
trap cleanup EXIT
pin=()
if ((busy)); then
  taskset -c 1 bash -c 'while :; do :; done' &
  busy_pid=$!
  pin=(taskset -c 0)
fi
((noaslr)) && pin+=(setarch "$(uname -m)" -R)

for ((r = 0; r < runs; r++)); do
  "${pin[@]}" "$bench" $size -g topk --json "$out/run-$r.json" >/dev/null
  # One line per row: n param variant best seconds speedup
  jq -r '.results[] | "\(.n) \(.param) \(.variant) \(.best) \(.seconds) \(.speedup)"' "$out/run-$r.json" \
    >>"$out/rows.txt"
done

echo "top-k over $runs fresh processes$( ((busy)) && echo ', other core busy')$( ((noaslr)) && echo ', ASLR off'); per process: min over repetitions"
awk -v all="$all" '
  all == 1 || $4 == "true" {
    key = $1 " " $2 " " $3 ($4 == "true" ? "*" : "")
    if (!(key in cnt)) order[++nk] = key
    c = cnt[key] + 0; t[key, c] = $5 * 1e6; s[key, c] = $6; cnt[key] = c + 1
    if ($6 < 3.0) miss[key]++
  }
  function sort(a, n,   i, j, x) { for (i = 1; i < n; i++) { x = a[i]; for (j = i - 1; j >= 0 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x } }
  END {
    printf "%-9s %-6s %-9s %28s %28s %8s\n", "N", "K", "variant", "top-k us (min/med/max)", "x faster (min/med/max)", "<3x runs"
    for (q = 1; q <= nk; q++) {
      k = order[q]; n = cnt[k]; split(k, f, " ")
      for (i = 0; i < n; i++) { a[i] = t[k, i]; b[i] = s[k, i] }
      sort(a, n); sort(b, n)
      printf "%-9s %-6s %-9s %9.1f %8.1f %9.1f %9.2f %8.2f %9.2f %5d/%d\n", f[1], f[2], f[3],
             a[0], a[int(n / 2)], a[n - 1], b[0], b[int(n / 2)], b[n - 1], miss[k] + 0, n
    }
  }' "$out/rows.txt"
