#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan + libFuzzer) in
# build/fuzz and runs each for SIGNFED_FUZZ_SECONDS (default 25) seconds from
# a generated seed corpus of valid messages. Needs: clang, libclang-rt-14-dev.
# Usage: tests/fuzz/run.sh [seconds]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-${SIGNFED_FUZZ_SECONDS:-25}}
build=${SIGNFED_FUZZ_BUILD:-$root/build/fuzz}
flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DSIGNFED_FUZZ=ON -DSIGNFED_FUZZ_SECONDS="$secs" -DSIGNFED_BUILD_TOOLS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target fuzz_seeds fuzz_envelope fuzz_packet fuzz_coordinator
# One fuzzer per core: each target still gets its full time.
ctest --test-dir "$build" -L fuzz --output-on-failure -j"$(nproc)"
