#!/usr/bin/env bash
# Installs what is missing, builds, and runs the test suites:
#   release build: unit + e2e;   dev build (ASan + UBSan): unit.
# Usage: tools/run_tests.sh [--quick]   (--quick: release unit + e2e only)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=$(nproc)
tools/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j"$jobs"
ctest --preset release -L 'unit|e2e' -j"$jobs"
if [[ "${1:-}" != "--quick" ]]; then
  cmake --preset dev >/dev/null
  cmake --build --preset dev -j"$jobs"
  ctest --preset dev -L unit -j"$jobs"
fi
