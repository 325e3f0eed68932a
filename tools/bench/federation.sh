# Shared by the measurement scripts (measure_methods.sh, round_cost.sh): runs
# one real federation -- a coordinator and M signfed-edge processes on tcp
# loopback, each under /usr/bin/time -- and leaves what they measured in a
# directory. Sourced, not run.
#
# federate OUT BUILD METHOD M ROUNDS [coordinator flags...]
#   OUT/coord.time   "user_s sys_s maxrss_kB" of the coordinator
#   OUT/edge-I.time  maxrss_kB of edge I
#   OUT/METHOD.sqlite  the run's log (rounds, updates, results tables)
#   Exits the calling script (after printing the coordinator's stderr) if the run fails.
#   COORD_WRAP (environment, optional): a command put before the coordinator,
#   e.g. COORD_WRAP="perf record -o /tmp/coord.perf --" to profile it
#   (docs/perf-coordinator.md); its CPU then counts in coord.time.
# Needs /usr/bin/time (Debian package time).

federation_port=$((20000 + RANDOM % 20000))

federate() {
  local out=$1 build=$2 method=$3 m=$4 r=$5
  shift 5
  local extra=()
  federation_port=$((federation_port + 1))
  rm -f "$out/$method.sqlite"*
  case $method in s3gd | randk) extra=(--gamma 0.1) ;; esac  # a flag a method does not use is refused
  local wrap=()
  [[ -n ${COORD_WRAP:-} ]] && read -r -a wrap <<<"$COORD_WRAP"
  /usr/bin/time -f '%U %S %M' -o "$out/coord.time" "${wrap[@]}" "$build/coordinator/signfed-coordinator" --insecure \
    --endpoint "tcp://127.0.0.1:$federation_port" --db "$out/$method.sqlite" --clients "$m" --rounds "$r" \
    --method "$method" "${extra[@]}" --lr 0.001 --eval-every 0 --quiet "$@" >/dev/null 2>"$out/coord.err" &
  local coord=$! i
  for ((i = 0; i < m; i++)); do
    /usr/bin/time -f '%M' -o "$out/edge-$i.time" "$build/edge/signfed-edge" --insecure \
      --connect "tcp://127.0.0.1:$federation_port" --client-index "$i" --num-clients "$m" --quiet >/dev/null &
  done
  if ! wait "$coord"; then
    echo "federate: the $method run (M=$m, $r rounds) failed:" >&2
    cat "$out/coord.err" >&2
    exit 1
  fi
  wait
}

# cpu_ms_per_round OUT BUILD METHOD M ROUNDS [flags...]: the coordinator's CPU
# per round with start-up excluded -- an R-round run minus a 1-round run, over
# R - 1 (start-up streams the 47 MB of training pixels for the input
# statistics). Writes the milliseconds to OUT/cpu_ms (called in this shell,
# not in $(...), so the port counter moves on); the R-round run's files stay in OUT.
cpu_ms_per_round() {
  local out=$1 build=$2 method=$3 m=$4 r=$5 cu1 cs1 cu cs
  shift 5
  federate "$out" "$build" "$method" "$m" 1 "$@"
  read -r cu1 cs1 _ <"$out/coord.time"
  federate "$out" "$build" "$method" "$m" "$r" "$@"
  read -r cu cs _ <"$out/coord.time"
  awk -v cu="$cu" -v cs="$cs" -v cu1="$cu1" -v cs1="$cs1" -v r="$r" \
    'BEGIN { printf "%.2f\n", (cu + cs - cu1 - cs1) * 1000 / (r - 1) }' >"$out/cpu_ms"
}

# Median round wall (ended_at - started_at, ms) of METHOD's log in OUT.
median_round_ms() {
  sqlite3 "$1/$2.sqlite" "SELECT printf('%.1f', (ended_at - started_at) * 1000) FROM rounds
    ORDER BY ended_at - started_at LIMIT 1 OFFSET (SELECT COUNT(*) / 2 FROM rounds)"
}

# Peak RSS in MB of the coordinator and of the largest edge of the last run in OUT.
coord_rss_mb() { awk '{ printf "%.1f\n", $3 / 1024 }' "$1/coord.time"; }
edge_rss_mb() { cat "$1"/edge-*.time | sort -n | tail -1 | awk '{ printf "%.1f\n", $1 / 1024 }'; }
