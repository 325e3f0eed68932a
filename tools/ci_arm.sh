#!/usr/bin/env bash
# The ARM part of CI (called by tools/run_tests.sh after the host release build):
#   1. cross packages (arm64 multiarch libraries, cross compilers, qemu-user);
#   2. aarch64 preset: build the unit suites (target signfed_emulated_tests) and signfed-edge,
#      run the suites under qemu-aarch64 (-L emulated);
#   3. mixed federation: host coordinator + 3 aarch64 edges under qemu (ctest -R mixed_federation);
#   4. the arm64 .deb: build, check its contents, install it with apt, run the installed
#      binary under qemu (--help, and a short run against the host coordinator), purge it;
#   5. armhf: the kernels and their unit tests under qemu-arm (kernels-only project: Debian's
#      armhf -dev libraries are not installable here, see docs/arm.md).
# Usage: tools/ci_arm.sh [HOST_BUILD_DIR]   (default build/release; configured with the
#        release preset if missing). Prints the time of each step. Measured on 2 cores:
#        137 s with the packages installed (aarch64 build 72 s, emulated suites 31 s);
#        plus ~1 min of apt on a fresh machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
host_build=${1:-build/release}
jobs=$(nproc)
t0=$SECONDS
step() { printf '\n== ci_arm [%4d s] %s\n' $((SECONDS - t0)) "$*"; }
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
apt_get() { $sudo apt-get -o DPkg::Lock::Timeout=600 "$@"; }

step "packages"
pkgs=(g++-aarch64-linux-gnu g++-arm-linux-gnueabihf qemu-user dpkg-dev
      libzmq3-dev:arm64 cppzmq-dev:arm64 libsqlite3-dev:arm64 zlib1g-dev:arm64 libflatbuffers-dev:arm64
      libsqlitecpp-dev:arm64 libboost-dev:arm64 libfmt-dev:arm64 libzip-dev:arm64)
need_update=0
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  $sudo dpkg --add-architecture arm64
  need_update=1
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} > 0)); then
  echo "installing: ${missing[*]}"
  need_update=1
fi
if ((need_update)); then
  # An index that fails to download (e.g. a foreign mirror mid-sync) makes apt-get update
  # exit 100 even when the arm64 indexes are fine: the install below is the real check.
  apt_get update -qq || echo "ci_arm: apt-get update reported errors; continuing" >&2
fi
if ((${#missing[@]} > 0)); then
  apt_get install -y --no-install-recommends "${missing[@]}"
fi

step "aarch64: configure + build (preset aarch64: the emulated suites and signfed-edge)"
cmake --preset aarch64 >/dev/null
cmake --build --preset aarch64 -j"$jobs" --target signfed_emulated_tests signfed-edge

step "aarch64: unit suites under qemu-aarch64"
ctest --preset aarch64 -L emulated -j"$jobs"

step "mixed federation: host coordinator + 3 aarch64 edges under qemu"
edge=$root/build/aarch64/edge/signfed-edge
if [[ -f $host_build/CMakeCache.txt ]]; then
  cmake -S . -B "$host_build" -DSIGNFED_AARCH64_EDGE="$edge" >/dev/null
else
  cmake --preset release -DSIGNFED_AARCH64_EDGE="$edge" >/dev/null
  host_build=build/release
fi
cmake --build "$host_build" -j"$jobs" --target mixed_federation_test signfed-coordinator signfed-edge
ctest --test-dir "$host_build" -R '^mixed_federation$' --output-on-failure
# Unregister it again: a later `ctest -L e2e` in the host build must not run it against an
# aarch64 edge built from older sources (a different wire protocol).
cmake -S . -B "$host_build" -U SIGNFED_AARCH64_EDGE >/dev/null

step "package: signfed-edge .deb (arm64)"
pkg_log=$(tools/package-edge build/aarch64 out/package)
echo "$pkg_log"
deb=$(tail -1 <<<"$pkg_log")
contents=$(dpkg-deb -c "$deb")
for f in ./usr/bin/signfed-edge ./lib/systemd/system/signfed-edge.service ./etc/signfed/edge.conf ./etc/signfed/keys/; do
  grep -q " $f\$" <<<"$contents" || { echo "ci_arm: $f missing from $deb" >&2; exit 1; }
done
[[ $(dpkg-deb -f "$deb" Architecture) == arm64 ]]
dpkg-deb -f "$deb" Depends | grep -q 'libzmq5' || { echo "ci_arm: Depends lacks libzmq5" >&2; exit 1; }
apt_get install -y --no-install-recommends "$root/$deb"
qemu-aarch64 /usr/bin/signfed-edge --help >/dev/null
# A short run of the installed binary against the host coordinator (plaintext on loopback).
tmp=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
coord_flags=() edge_flags=()
# grep without -q reads the whole help: with -q it exits at the first match and,
# under pipefail, the writer's SIGPIPE would fail the test.
"$host_build/coordinator/signfed-coordinator" --help | grep -- --insecure >/dev/null && coord_flags+=(--insecure)
qemu-aarch64 /usr/bin/signfed-edge --help | grep -- --insecure >/dev/null && edge_flags+=(--insecure)
"$host_build/coordinator/signfed-coordinator" --endpoint "tcp://127.0.0.1:$port" --db "$tmp/run.sqlite" --clients 1 \
  --rounds 5 --eval-every 0 --round-timeout 60000 "${coord_flags[@]}" >"$tmp/coord.log" 2>&1 &
coord=$!
timeout 300 qemu-aarch64 /usr/bin/signfed-edge --connect "tcp://127.0.0.1:$port" --client-index 0 --num-clients 10 \
  "${edge_flags[@]}" >"$tmp/edge.log" 2>&1 || { cat "$tmp/coord.log" "$tmp/edge.log"; exit 1; }
wait "$coord"
cat "$tmp/edge.log"
grep -q "after 5 rounds; model digest [0-9a-f]* matches the coordinator" "$tmp/edge.log"
rm -rf "$tmp"
apt_get purge -y signfed-edge:arm64 >/dev/null

step "armhf: kernels + their unit tests under qemu-arm (kernels-only project)"
cmake -S tests/arm/kernels_only -B build/armhf-kernels --toolchain "$root/toolchains/arm-linux-gnueabihf.cmake" >/dev/null
cmake --build build/armhf-kernels -j"$jobs"
ctest --test-dir build/armhf-kernels -L emulated -j"$jobs" --output-on-failure

step "done"
