#!/usr/bin/env bash
# Runs a test binary with SIGNFED_TRAIN_KERNELS=<variant>; exits 77 (CTest:
# skipped) if this CPU cannot run the variant (Linux /proc/cpuinfo flags).
# Usage: with_train_kernels.sh <variant> <binary> [args...]
set -euo pipefail
variant=$1
shift
flags=$(grep -m1 '^flags' /proc/cpuinfo || true)
need=()
case $variant in
  avx2) need=(avx2 fma) ;;
  avx512) need=(avx2 fma avx512f) ;;
esac
for f in "${need[@]}"; do
  if [[ " $flags " != *" $f "* ]]; then
    echo "skipped: this CPU lacks $f"
    exit 77
  fi
done
SIGNFED_TRAIN_KERNELS=$variant exec "$@"
