#!/bin/bash
# compare_all.sh SIGNFED_SIM [OUT_DIR] [ROUNDS] [TRACE_ROUNDS]
# For every method x {iid, class1}: signfed-sim --export-plan, then reference.py compare.
# Exit status: number of failing (method, partition) pairs.
set -u
SIM=${1:?usage: compare_all.sh SIGNFED_SIM [OUT_DIR] [ROUNDS] [TRACE_ROUNDS]}
OUT=${2:-/tmp/signfed-compare}
ROUNDS=${3:-5}
TRACE=${4:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
METHODS=${METHODS:-"signsgd signum s3gd randk stochsign efsign fedsgd fedavg"}
PARTITIONS=${PARTITIONS:-"iid class1"}
fails=0
for m in $METHODS; do
  case $m in
    signsgd|signum|s3gd|randk|stochsign) lr=1e-3 ;;
    *) lr=0.1 ;;
  esac
  case $m in
    s3gd|randk) extra="--gamma 0.1" ;;
    signum) extra="--momentum 0.9" ;;
    fedavg) extra="--local-steps 10" ;;
    *) extra="" ;;
  esac
  for p in $PARTITIONS; do
    d="$OUT/${m}_${p//:/}"
    rm -rf "$d"; mkdir -p "$d"
    if ! "$SIM" --clients 10 --partition "$p" --method "$m" --lr $lr --rounds "$ROUNDS" --batch 32 --seed 1 \
        --eval-every "$ROUNDS" --export-plan "$d" --trace-rounds "$TRACE" --db "$d/run.sqlite" --quiet --policy all \
        $extra ${SIM_ARGS:-} > "$d/sim.log" 2>&1; then
      echo "$m $p: signfed-sim failed (see $d/sim.log)"; fails=$((fails + 1)); continue
    fi
    if /usr/bin/python3 "$HERE/reference.py" compare "$d" > "$d/compare.log" 2>&1; then
      echo "$m $p: PASS  $(grep 'max relative gradient error' "$d/compare.log")"
    else
      echo "$m $p: FAIL  $(grep -m1 'FAIL ' "$d/compare.log" | sed 's/^ *//')"
      fails=$((fails + 1))
    fi
  done
done
exit $fails
