#!/usr/bin/env bash
# signfed-sim --mpi scaling (issue 14 item 4): rounds per second of one
# federation of M clients (default 10,000; signsgd, default MLP, --eval-every 0,
# so a round is training, the tally reduce and the log) on 1, 2 and 4 MPI ranks,
# with the peak RSS of every rank, against the in-process simulator
# (--workers 2) timed in the same run as the baseline. Rounds per second are
# taken from the log of each run (rounds.started_at of the first round to
# rounds.ended_at of the last: the round loop without start-up) for every
# mode alike. The last round's model digest of every run must equal the
# in-process one (the script fails otherwise).
# More ranks than cores oversubscribe (mpirun --oversubscribe): on a 2-core
# machine 4 ranks share 2 cores, and the table says so.
# Usage: tools/bench/sim_mpi.sh [BUILD_DIR] [ROUNDS] [M] [RANKS...]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/release}
rounds=${2:-5}
m=${3:-10000}
shift $(($# < 3 ? $# : 3))
ranks_list=("$@")
((${#ranks_list[@]} > 0)) || ranks_list=(1 2 4)
sim="$build/tools/sim/signfed-sim"
cores=$(nproc)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mpirun_flags=(--oversubscribe)
if [[ $(id -u) -eq 0 ]]; then mpirun_flags+=(--allow-run-as-root); fi
common=(--clients "$m" --rounds "$rounds" --method signsgd --eval-every 0 --quiet)

# rounds/s over the round loop, and the last digest, from a log.
loop_rps() { sqlite3 "$1" "SELECT COUNT(*) / (MAX(ended_at) - MIN(started_at)) FROM rounds"; }
last_digest() { sqlite3 "$1" "SELECT model_digest FROM rounds ORDER BY round DESC LIMIT 1"; }

echo "signfed-sim --mpi: M = $m clients, $rounds rounds, signsgd, MLP, $cores cores"
"$sim" "${common[@]}" --workers 2 --db "$out/inproc.sqlite" >"$out/inproc.log" 2>&1 ||
  { echo "sim_mpi: the in-process run failed:" >&2; tail -5 "$out/inproc.log" >&2; exit 1; }
base_rps=$(loop_rps "$out/inproc.sqlite")
base_digest=$(last_digest "$out/inproc.sqlite")
base_rss=$(sqlite3 "$out/inproc.sqlite" "SELECT peak_rss_kb / 1024 FROM sim_runs")
printf '%-34s %10s %10s %10s  %s\n' "mode" "rounds/s" "vs inproc" "vs 1 rank" "peak RSS per rank (MB)"
printf '%-34s %10.3f %10.2f %10s  %s\n' "in-process (--workers 2)" "$base_rps" 1.0 "" "$base_rss"
one_rps=""
phases=()
for n in "${ranks_list[@]}"; do
  db="$out/mpi$n.sqlite"
  mpirun -np "$n" "${mpirun_flags[@]}" "$sim" --mpi "${common[@]}" --db "$db" >"$out/mpi$n.log" 2>&1 ||
    { echo "sim_mpi: the $n-rank run failed:" >&2; tail -5 "$out/mpi$n.log" >&2; exit 1; }
  d=$(last_digest "$db")
  if [[ "$d" != "$base_digest" ]]; then
    echo "sim_mpi: $n ranks ended on digest $d, the in-process run on $base_digest" >&2
    exit 1
  fi
  rps=$(loop_rps "$db")
  rss=$(sed -n 's/.*peak RSS per rank (MB): //p' "$out/mpi$n.log")
  label="--mpi, $n rank(s)"
  if ((n > cores)); then label+=", oversubscribed"; fi
  if [[ "$n" == 1 ]]; then one_rps=$rps; fi
  vs_one=""
  if [[ -n "$one_rps" ]]; then vs_one=$(printf '%.2f' "$(echo "$rps / $one_rps" | bc -l)"); fi
  printf '%-34s %10.3f %10.2f %10s  %s\n' "$label" "$rps" "$(echo "$rps / $base_rps" | bc -l)" "$vs_one" "$rss"
  phases+=("$n ranks: $(sed -n 's/.*(rank 0: \(.*\)); peak.*/\1/p' "$out/mpi$n.log")")
done
printf 'rank 0, round loop by phase:\n'
printf '  %s\n' "${phases[@]}"
echo "every run ended on model digest $base_digest"
