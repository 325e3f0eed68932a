#!/bin/sh
# Re-runs every measurement of docs/simulation.md into $OUT (default out/sim)
# and builds the reports. Took 7.5 min on a busy 2-core machine (release build).
# Usage: tools/sim/measure.sh [BUILD_DIR] [OUT]   (parts: PARTS="a b c d e f")
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build-sim}
out=${2:-$root/out/sim}
sim=$build/tools/sim/signfed-sim
report="/usr/bin/python3 $root/tools/report/signfed-report"
parts=${PARTS:-"a b c d e f"}
mkdir -p "$out"
cd "$out"
for p in $parts; do
  case $p in
  a) # Fashion-MNIST, M=10, one class per client: S3GD-MV (gamma 0.1) vs signSGD-MV, 1000 rounds, 3 seeds;
    # signSGD-MV at lr 0.001, batch 32; and that run on unstandardised inputs.
    rm -f a_class1.sqlite*
    $sim --clients 10 --partition class1 --gamma 0.1 --eta 1 --lr 0.002 --batch 64 --rounds 1000 --eval-every 20 \
      --policy all --sweep-axis method=signsgd,s3gd --sweep-axis seed=1,2,3 --db a_class1.sqlite > a_class1.log 2>&1
    # signSGD-MV at the conformance test's setting (lr 0.001, batch 32), same log.
    $sim --clients 10 --partition class1 --method signsgd --lr 0.001 --batch 32 --rounds 1000 --eval-every 20 \
      --policy all --sweep-axis seed=1,2,3 --db a_class1.sqlite >> a_class1.log 2>&1
    # The same, seed 1, on raw [0,1] inputs (the old preprocessing), own log.
    rm -f a_raw.sqlite*
    $sim --clients 10 --partition class1 --method signsgd --lr 0.001 --batch 32 --rounds 1000 --eval-every 20 \
      --policy all --no-standardise --db a_raw.sqlite > a_raw.log 2>&1
    $report a_class1.sqlite --out a_report --target 0.65 ;;
  b) # M=100 IID: S3GD-MV gamma=auto vs signSGD-MV vs float FedSGD.
    rm -f b_m100.sqlite*
    $sim --clients 100 --method s3gd --gamma auto --lr 0.002 --rounds 200 --eval-every 10 --policy all --db b_m100.sqlite > b_m100.log 2>&1
    $sim --clients 100 --method signsgd --lr 0.002 --rounds 200 --eval-every 10 --policy all --db b_m100.sqlite >> b_m100.log 2>&1
    $sim --clients 100 --method fedsgd --lr 0.1 --rounds 200 --eval-every 10 --policy all --db b_m100.sqlite >> b_m100.log 2>&1
    $report b_m100.sqlite --out b_report --target 0.75 ;;
  c) # M=1000 clients, 20 rounds, in-process: wall time and peak RSS.
    rm -f c_m1000.sqlite*
    /usr/bin/time -v $sim --clients 1000 --rounds 20 --eval-every 10 --policy all --db c_m1000.sqlite > c_m1000.log 2>&1 ;;
  d) # 10% of clients 10x slower, virtual time, IID signSGD-MV: adaptive deadline vs wait-for-all.
    rm -f d_slow.sqlite*
    $sim --clients 20 --slow 0.1:10 --ms-per-sample 1 --virtual-time --batch 64 --lr 0.001 --rounds 600 --eval-every 10 \
      --sweep-axis policy=all,adaptive:0.9 --db d_slow.sqlite > d_slow.log 2>&1
    $report d_slow.sqlite --out d_report --target 0.8 ;;
  e) # Rosenbrock, M = 1..9, 500 repetitions each.
    rm -f e_rosen.sqlite*
    $sim rosenbrock --nodes 1-9 --reps 500 --iters 2000 --gamma 0.02 --db e_rosen.sqlite > e_rosen.log 2>&1
    $sim rosenbrock --nodes 1-9 --reps 500 --iters 2000 --gamma 0.02 --tie random --db e_rosen.sqlite >> e_rosen.log 2>&1
    $report e_rosen.sqlite --out e_report ;;
  f) # SPB probe: one class per client vs IID, M=10, signSGD-MV.
    rm -f f_spb.sqlite*
    $sim --clients 10 --lr 0.002 --batch 64 --rounds 200 --eval-every 20 --policy all --spb-probe 20 \
      --sweep-axis partition=class1,iid --verbose --db f_spb.sqlite > f_spb.log 2>&1
    $report f_spb.sqlite --out f_report ;;
  esac
done
