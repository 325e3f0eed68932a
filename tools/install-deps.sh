#!/usr/bin/env bash
# Installs what signfed needs on Debian 12 (bookworm): build tools, the
# libraries, the Fashion-MNIST package and matplotlib for the plots.
# libonnx-dev, libprotobuf-dev and libzip-dev build signfed-export (ONNX and npz).
# libpq-dev builds the PostgreSQL round log (--db postgresql://...); python3-psycopg2
# lets signfed-report read one.
# libopenmpi-dev and openmpi-bin build and run signfed-sim --mpi (SIGNFED_WITH_MPI).
# Usage: tools/install-deps.sh [--test] [--bench]
#   --test:  clang and its runtime for the libFuzzer targets; python3-torch for
#            the conformance suite's independent reference (tools/reference);
#            python3-numpy, python3-opencv and python3-sklearn for the data and export
#            tests (numpy-written .npy/.npz, sklearn's digits and breast_cancer CSVs, OpenCV's ONNX runtime);
#            postgresql for the postgres suite's own server (initdb, pg_ctl)
#   --bench: python3-torch for the PyTorch comparisons, and libopenblas0-serial (the
#            single-threaded OpenBLAS that tools/bench/train/compare_torch.sh points PyTorch at);
#            linux-perf for the coordinator's profile by phase (tools/bench/coordinator_phases.py,
#            docs/perf-coordinator.md)
set -euo pipefail
pkgs=(cmake g++ make pkg-config ca-certificates
      libeigen3-dev libzmq3-dev cppzmq-dev flatbuffers-compiler libflatbuffers-dev doctest-dev libsqlite3-dev
      libsqlitecpp-dev libboost-dev zlib1g-dev libcli11-dev nlohmann-json3-dev libfmt-dev sqlite3
      libonnx-dev libprotobuf-dev libzip-dev libpq-dev python3-psycopg2 libopenmpi-dev openmpi-bin
      dataset-fashion-mnist python3 python3-matplotlib time)
for arg in "$@"; do
  case "$arg" in
    --test) pkgs+=(clang libclang-rt-14-dev python3-torch python3-numpy python3-opencv python3-sklearn postgresql) ;;
    --bench) pkgs+=(python3-torch libopenblas0-serial linux-perf) ;;
    *) echo "install-deps.sh: unknown option $arg (use --test, --bench)" >&2; exit 2 ;;
  esac
done
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then exit 0; fi
echo "installing: ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
$sudo apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}"
