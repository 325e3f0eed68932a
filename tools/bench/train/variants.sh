#!/usr/bin/env bash
# Times the training step on every training-kernel variant this CPU runs
# (SIGNFED_TRAIN_KERNELS=<variant>, one process each), interleaved over rounds
# so that a noisy neighbour hits every variant alike, and prints the median
# step time per variant and its ratio to the scalar reference.
#
# Usage: variants.sh <signfed-bench-train> [variant...] [-- bench args...]
#   variants default: x86: scalar sse2 avx2 avx512; aarch64: scalar neon.
#   RUNNER=qemu-aarch64 (with QEMU_LD_PREFIX) runs a cross-built binary.
#   ROUNDS (default 3): processes per variant.
set -euo pipefail
bench=$1
shift
variants=()
while [[ $# -gt 0 && $1 != -- ]]; do variants+=("$1"); shift; done
[[ ${1:-} == -- ]] && shift
if ((${#variants[@]} == 0)); then
  case $(file -b "$bench" 2>/dev/null || true) in
    *aarch64*) variants=(scalar neon) ;;
    *) variants=(scalar sse2 avx2 avx512) ;;
  esac
fi
rounds=${ROUNDS:-3}
out=""
for ((r = 0; r < rounds; ++r)); do
  for v in "${variants[@]}"; do
    out+=$(SIGNFED_TRAIN_KERNELS=$v ${RUNNER:-} "$bench" "$@" | sed "s/^/$v /")$'\n'
  done
done
printf '%s' "$out" | awk -v order="${variants[*]}" '
  { for (i = 4; i <= NF; ++i) if ($i ~ /^us_per_step=/) { split($i, kv, "="); t[$1, $3, ++n[$1, $3]] = kv[2] }
    if (!($3 in seen)) { seen[$3] = 1; models[++nm] = $3 } }
  function median(v, m,   k, a, i, j, x) {
    k = n[v, m]; for (i = 1; i <= k; ++i) a[i] = t[v, m, i]
    for (i = 2; i <= k; ++i) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; --j) a[j + 1] = a[j]; a[j + 1] = x }
    return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2 }
  END {
    nv = split(order, vs, " ")
    printf "%-16s", "model"; for (i = 1; i <= nv; ++i) printf " %14s", vs[i] " us"; for (i = 2; i <= nv; ++i) printf " %12s", vs[i] "/" vs[1]; print ""
    for (k = 1; k <= nm; ++k) {
      m = models[k]; printf "%-16s", m
      for (i = 1; i <= nv; ++i) { med[i] = median(vs[i], m); printf " %14.1f", med[i] }
      for (i = 2; i <= nv; ++i) printf " %12.2f", med[i] / med[1]
      print ""
    }
  }'
