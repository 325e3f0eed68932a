#!/usr/bin/env bash
# The signfed demo federation on one machine: a coordinator and 10 edge
# processes on tcp loopback train the default MLP on non-IID Fashion-MNIST
# (one class per client) with S3GD-MV, log every round to SQLite, then print a
# summary table and draw the accuracy plot from the log.
#
# Usage: tools/demo/run_demo.sh [OUT_DIR]      (default: out/demo)
# Env:   ROUNDS (300), CLIENTS (10), METHOD (s3gd), GAMMA (0.1), PARTITION (class1), PORT (5555)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/out/demo}
rounds=${ROUNDS:-300}
clients=${CLIENTS:-10}
method=${METHOD:-s3gd}
gamma=${GAMMA:-0.1}
partition=${PARTITION:-class1}
port=${PORT:-5555}

"$root/tools/install-deps.sh"
if [[ ! -f "$root/build/release/CMakeCache.txt" ]]; then
  cmake --preset release -S "$root" >/dev/null
fi
echo "building signfed (release)..."
cmake --build "$root/build/release" -j"$(nproc)" --target signfed-coordinator signfed-edge >/dev/null
bin="$root/build/release"

mkdir -p "$out"
rm -f "$out"/run.sqlite* "$out"/edge-*.log
endpoint="tcp://127.0.0.1:$port"
echo "demo: $clients edge clients, $partition Fashion-MNIST, $method (gamma=$gamma), $rounds rounds, log $out/run.sqlite"

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; }
trap cleanup EXIT

start=$(date +%s.%N)
# --insecure: plaintext is fine on loopback; see README "Security model" for CURVE keys.
"$bin/coordinator/signfed-coordinator" --insecure --endpoint "tcp://127.0.0.1:$port" --db "$out/run.sqlite" \
  --clients "$clients" --rounds "$rounds" --method "$method" --gamma "$gamma" --eta 1 --lr 0.002 --batch 64 \
  --eval-every 25 --progress-every 25 --tag "demo $method $partition" 2>&1 | tee "$out/coordinator.log" &
coord=$!
for ((i = 0; i < clients; i++)); do
  "$bin/edge/signfed-edge" --insecure --connect "$endpoint" --client-index "$i" --num-clients "$clients" \
    --partition "$partition" >"$out/edge-$i.log" 2>&1 &
  pids+=($!)
done
wait "$coord"
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
trap - EXIT
end=$(date +%s.%N)
if ((failed > 0)); then echo "demo: $failed edge client(s) failed; see $out/edge-*.log" >&2; exit 1; fi
awk -v a="$start" -v b="$end" 'BEGIN { printf "demo: federation finished in %.1f s\n", b - a }'
"${PYTHON:-/usr/bin/python3}" "$root/tools/report/summarize_run.py" "$out/run.sqlite" --plot "$out/accuracy.png"
