#!/usr/bin/env bash
# "Train your own model" (README) end to end on one machine: a CSV file per
# board (sklearn's digits, split non-IID), a model file, a coordinator without
# a central test set, three edge processes each with its own file and a 20 %
# hold-out for federated evaluation, then the trained model exported as ONNX
# and a report with the federated accuracy plot.
#
# Usage: tools/demo/own_data.sh [OUT_DIR]      (default: out/own)
# Env:   ROUNDS (400), PORT (5556)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/out/own}
rounds=${ROUNDS:-400}
port=${PORT:-5556}

"$root/tools/install-deps.sh" --test   # python3-sklearn ships the digits
if [[ ! -f "$root/build/release/CMakeCache.txt" ]]; then cmake --preset release -S "$root" >/dev/null; fi
echo "building signfed (release)..."
cmake --build "$root/build/release" -j"$(nproc)" --target signfed-coordinator signfed-edge signfed-export >/dev/null
bin="$root/build/release"
mkdir -p "$out"
rm -f "$out"/run.sqlite* "$out"/board-*.log

# 1. Each board's own data: here, sklearn's digits split into three CSV files.
/usr/bin/python3 "$root/tools/demo/split_digits.py" "$out"

# 2. The coordinator: the model file, no central test set (--no-test), the
#    boards' hold-out reports every 100 rounds. Pixels are already in [0, 1].
"$bin/coordinator/signfed-coordinator" --insecure --endpoint "tcp://127.0.0.1:$port" --db "$out/run.sqlite" \
  --clients 3 --model "$root/docs/models/digits_cnn.json" --rounds "$rounds" --method signsgd --lr 0.003 \
  --batch 32 --eval-every 100 --no-test --no-standardise 2>&1 | tee "$out/coordinator.log" &
coord=$!

# 3. The boards: each its own file, no --model (Welcome carries the architecture).
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
for b in 0 1 2; do
  "$bin/edge/signfed-edge" --insecure --connect "tcp://127.0.0.1:$port" --name "board-$b" \
    --data "$out/board-$b.csv" --holdout 0.2 >"$out/board-$b.log" 2>&1 &
  pids+=($!)
done
wait "$coord"
for p in "${pids[@]}"; do wait "$p"; done
trap - EXIT

# 4. The trained model for other tools, and the plots.
"$bin/tools/export/signfed-export" "$out/run.sqlite" -o "$out/digits.onnx"
/usr/bin/python3 "$root/tools/report/signfed-report" "$out/run.sqlite" --out "$out/report" >/dev/null
sqlite3 -header -column "$out/run.sqlite" \
  "SELECT round, printf('%.3f', fed_accuracy) AS fed_accuracy, fed_samples FROM rounds WHERE fed_samples > 0"
echo "own-data demo: $out/digits.onnx, report $out/report/index.html"
