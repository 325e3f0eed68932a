#!/usr/bin/env bash
# The aggregation tree at scale on one machine (issue 14 item 3, scaled
# down): CLIENTS lightweight clients (signfed-load: random valid sign
# packets, so the machine measures the aggregation path, not training),
# flat against two tiers of relays (N upper, M lower; each lower relay has
# its own signfed-load), on tcp loopback, plaintext, signsgd on the default
# MLP. Per process: CPU seconds per round (user+sys / rounds) and peak RSS
# (/usr/bin/time %M); per round at the coordinator: wall ms and uplink bytes;
# per upper relay: its TallyUpdate bytes against its children's update bytes.
# Both runs in the same invocation, so the ratios compare like with like.
# Needs /usr/bin/time (Debian package time) and sqlite3.
# Usage: tools/bench/relay_scale.sh [BUILD_DIR] [CLIENTS] [ROUNDS] [N,M]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/release}
clients=${2:-2000}
rounds=${3:-20}
layout=${4:-2,4}
upper=${layout%,*}
lower=${layout#*,}
out=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$out"' EXIT
port=$((20000 + RANDOM % 20000))
coord_bin=$build/coordinator/signfed-coordinator
relay_bin=$build/relay/signfed-relay
load_bin=$build/tools/load/signfed-load
timed() { local name=$1; shift; /usr/bin/time -f '%U %S %M' -o "$out/$name.time" "$@" >"$out/$name.log" 2>&1; }
cpu_per_round() { awk -v r="$rounds" '{printf "%.3f", ($1 + $2) / r}' "$out/$1.time"; }
rss_mb() { awk '{printf "%.0f", $3 / 1024}' "$out/$1.time"; }

start_coordinator() {  # $1: run name
  port=$((port + 1))
  ep="tcp://127.0.0.1:$port"
  timed "$1-coordinator" "$coord_bin" --insecure --endpoint "tcp://127.0.0.1:$port" --db "$out/$1.sqlite" \
    --clients "$clients" --max-clients $((clients + 16)) --rounds "$rounds" --method signsgd --eval-every 0 \
    --join-timeout 60000 --quiet &
  coord_pid=$!
}

# Flat: every client on the coordinator.
start_coordinator flat
timed flat-load "$load_bin" --insecure --connect "$ep" --clients "$clients" --give-up-after 60 &
wait "$coord_pid" || { cat "$out/flat-coordinator.log" >&2; exit 1; }
wait

# Two tiers: lower relay j (CLIENTS/M clients, its own signfed-load) under upper relay j mod N.
start_coordinator tree
declare -A upper_count
for ((j = 0; j < lower; j++)); do
  n=$((clients / lower + (j < clients % lower ? 1 : 0)))
  upper_count[$((j % upper))]=$(( ${upper_count[$((j % upper))]:-0} + n ))
done
for ((i = 0; i < upper; i++)); do
  up_port[$i]=$((port + 100 + i))
  timed "relay-$i" "$relay_bin" --insecure --parent "$ep" --bind "tcp://127.0.0.1:${up_port[$i]}" --name "relay-$i" \
    --clients "${upper_count[$i]}" --max-clients $((clients + 16)) --quiet &
done
for ((j = 0; j < lower; j++)); do
  n=$((clients / lower + (j < clients % lower ? 1 : 0)))
  p=$((port + 200 + j))
  timed "relay-low-$j" "$relay_bin" --insecure --parent "tcp://127.0.0.1:${up_port[$((j % upper))]}" \
    --bind "tcp://127.0.0.1:$p" --name "relay-$((j % upper)).$j" --clients "$n" --max-clients $((n + 16)) --quiet &
  timed "load-$j" "$load_bin" --insecure --connect "tcp://127.0.0.1:$p" --clients "$n" --name-prefix "l$j-" \
    --give-up-after 60 &
done
wait "$coord_pid" || { tail -n 4 "$out"/*.log >&2; exit 1; }
wait

q() { sqlite3 "$out/$1.sqlite" "$2"; }
echo "relay_scale: $clients clients, $rounds rounds, signsgd on mlp; tree = $upper upper + $lower lower relays"
printf '%-22s %14s %12s %14s %16s\n' process "CPU s/round" "peak RSS MB" "wall ms/round" "uplink kB/round"
for run in flat tree; do
  wall=$(q $run "SELECT printf('%.1f', AVG(ended_at - started_at) * 1000) FROM rounds")
  up=$(q $run "SELECT printf('%.1f', AVG(uplink_bytes) / 1000.0) FROM rounds")
  printf '%-22s %14s %12s %14s %16s\n' "$run coordinator" "$(cpu_per_round $run-coordinator)" \
    "$(rss_mb $run-coordinator)" "$wall" "$up"
done
for ((i = 0; i < upper; i++)); do
  printf '%-22s %14s %12s\n' "upper relay-$i" "$(cpu_per_round relay-$i)" "$(rss_mb relay-$i)"
done
for ((j = 0; j < lower; j++)); do
  printf '%-22s %14s %12s\n' "lower relay $j" "$(cpu_per_round relay-low-$j)" "$(rss_mb relay-low-$j)"
done
echo
echo "coordinator CPU per round, tree / flat: $(awk -v a="$(cpu_per_round tree-coordinator)" \
  -v b="$(cpu_per_round flat-coordinator)" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')"
echo "uplink per upper relay per round (TallyUpdate bytes vs its children's Update bytes):"
q tree "SELECT c.name, CAST(AVG(u.bytes) AS INT), CAST(AVG(CAST(substr(u.detail, instr(u.detail, 'bytes ') + 6) AS INTEGER)) AS INT)
        FROM updates u JOIN clients c USING(run_id, client_id) WHERE c.platform='relay' AND u.status='counted'
        GROUP BY c.name" | awk -F'|' '{printf "  %-10s %10d B up   %10d B from children   ratio %.4f\n", $1, $2, $3, ($3 > 0 ? $2 / $3 : 0)}'
echo "digests: flat $(q flat "SELECT model_digest FROM rounds ORDER BY round DESC LIMIT 1")" \
  "tree $(q tree "SELECT model_digest FROM rounds ORDER BY round DESC LIMIT 1") (random packets: equal only by chance)"
