#!/usr/bin/env bash
# Times one training step (forward + backward + flat gradient, batch 32, one
# thread) of signfed's models and of the same models in PyTorch, in the same
# run, and prints signfed/PyTorch per model (target: <= 0.7, issue 13).
# PyTorch runs on the single-threaded OpenBLAS (Debian libopenblas0-serial,
# required: tools/install-deps.sh --bench), put first on LD_LIBRARY_PATH for the
# python process only; the script checks that torch mapped that library
# (/proc/self/maps after a matrix product) and stops if not. signfed runs on
# the training kernels its dispatcher picks (printed as kernels=...; set
# SIGNFED_TRAIN_KERNELS=sse2|avx2|... to time another variant).
#
# Usage: [ROUNDS=3] compare_torch.sh [path/to/signfed-bench-train] [--batch N] [--reps R]
#                         [--rep-seconds S] [--model mlp|cnn]...
# The binary defaults to $SIGNFED_BENCH_TRAIN, else the first one found under
# build*/ of the repository. Python defaults to $PYTHON, else the first of
# /usr/bin/python3, python3 that can import torch.
# Exit status: 0 on success, 3 if PyTorch is missing, 2 if the binary is,
# 4 if libopenblas0-serial is missing, 5 if PyTorch did not load it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)

bench=${SIGNFED_BENCH_TRAIN:-}
if [[ $# -gt 0 && $1 != --* ]]; then
  bench=$1
  shift
fi
if [[ -z $bench ]]; then
  bench=$(ls -t "$root"/build*/tools/bench/train/signfed-bench-train "$root"/build/*/tools/bench/train/signfed-bench-train \
            2>/dev/null | head -n1 || true)
fi
if [[ -z $bench || ! -x $bench ]]; then
  echo "compare_torch.sh: signfed-bench-train not found; build it (cmake --build <dir> --target signfed-bench-train)" \
       "and pass its path" >&2
  exit 2
fi

py=${PYTHON:-}
if [[ -z $py ]]; then
  for cand in /usr/bin/python3 python3; do
    if command -v "$cand" >/dev/null && "$cand" -c 'import torch' 2>/dev/null; then
      py=$cand
      break
    fi
  done
fi
if [[ -z $py ]]; then
  echo "compare_torch.sh: no python with the 'torch' module; install the Debian package python3-torch:" >&2
  echo "  apt-get install --no-install-recommends python3-torch" >&2
  exit 3
fi

multiarch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
openblas_dir=/usr/lib/$multiarch/openblas-serial
if [[ ! -e $openblas_dir/libblas.so.3 ]]; then
  echo "compare_torch.sh: $openblas_dir/libblas.so.3 missing; install the single-threaded OpenBLAS:" >&2
  echo "  apt-get install --no-install-recommends libopenblas0-serial   (or tools/install-deps.sh --bench)" >&2
  exit 4
fi

# One thread everywhere (Eigen is built without OpenMP; these pin torch's pools).
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

# ROUNDS pairs of processes (signfed, then PyTorch), so that load from other
# processes on the machine falls on both sides alike; the ratio reported is
# the median over rounds of (signfed median step / PyTorch median step).
rounds=${ROUNDS:-3}
all=""
for ((r = 1; r <= rounds; ++r)); do
  sf=$("$bench" "$@")
  th=$(LD_LIBRARY_PATH="$openblas_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$py" "$here/torch_step.py" "$@")
  blas=$(printf '%s\n' "$th" | sed -n 's/^torch-blas //p')
  if [[ $blas != *"$openblas_dir/"* ]]; then
    echo "compare_torch.sh: PyTorch did not load $openblas_dir (mapped: ${blas:-nothing})" >&2
    exit 5
  fi
  printf '%s\n%s\n' "$sf" "$th" | sed "s/^/round=$r /"
  all+=$(printf '%s\n%s\n' "$sf" "$th" | sed "s/^/$r /")$'\n'
done
echo
printf '%s' "$all" | awk -v rounds="$rounds" '
  $2 != "signfed" && $2 != "torch" { next }
  { for (i = 4; i <= NF; ++i) if ($i ~ /^us_per_step=/) { split($i, kv, "="); t[$2, $3, $1] = kv[2] }
    if (!($3 in seen)) { seen[$3] = 1; order[++n] = $3 } }
  function median(a, k,   i, j, x) {
    for (i = 2; i <= k; ++i) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; --j) a[j + 1] = a[j]; a[j + 1] = x }
    return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2 }
  END {
    printf "%-16s %16s %16s %8s %14s  %s\n", "model", "signfed us/step", "pytorch us/step", "ratio", "ratio min-max",
           "target <= 0.70"
    for (k = 1; k <= n; ++k) {
      m = order[k]; c = 0
      for (r = 1; r <= rounds; ++r) {
        s = t["signfed", m, r]; p = t["torch", m, r]
        if (s == "" || p == "") continue
        ++c; sv[c] = s; pv[c] = p; rv[c] = s / p
      }
      if (c == 0) { printf "%-16s (missing a side)\n", m; continue }
      ms = median(sv, c); mp = median(pv, c); mr = median(rv, c)
      printf "%-16s %16.1f %16.1f %8.2f %6.2f-%-7.2f  %s\n", m, ms, mp, mr, rv[1], rv[c], (mr <= 0.7 ? "met" : "MISSED")
    }
  }'
