#!/usr/bin/python3
"""The coordinator's CPU per round by phase, from two `perf record` profiles:
an R-round run and a 1-round run of the same federation (start-up cancels in
the difference, as in round_cost.sh). Samples are bucketed by thread and
symbol; every bucket is printed in ms per round.

Record them with federation.sh's COORD_WRAP (docs/perf-coordinator.md):
  COORD_WRAP="perf record -F 4999 -o /tmp/r40.perf --" federate OUT BUILD s3gd 50 40
  COORD_WRAP="perf record -F 4999 -o /tmp/r1.perf --" federate OUT BUILD s3gd 50 1
Usage: tools/bench/coordinator_phases.py R40.perf R1.perf [ROUNDS=40] [HZ=4999]
Needs perf (Debian package linux-perf)."""
import collections
import re
import subprocess
import sys

# (bucket, test on (thread, dso, symbol)), first match wins.
PHASES = [
    ("ZeroMQ I/O thread (TCP send/receive in the kernel, wake-ups)", lambda c, d, s: c.startswith("ZMQbg")),
    ("bit counting in libgcc (__popcountdi2)", lambda c, d, s: "popcount" in s),
    ("decode / validate packets", lambda c, d, s: re.search(r"decode_|validate|BitReader|walk_sparse", s)),
    ("vote / mean / agreement", lambda c, d, s: re.search(r"vote|agreement|mean_aggregate|Mean::aggregate|MeanTally|mean_add|Tally|methods::mean\b", s)),
    ("encode the result", lambda c, d, s: re.search(r"encode|build_packet", s)),
    ("apply the step, model digest", lambda c, d, s: re.search(r"apply_|digest|Replica", s)),
    ("SQLite commit", lambda c, d, s: "sqlite" in d.lower() or "sqlite" in s.lower()),
    ("FlatBuffers build/verify", lambda c, d, s: re.search(r"flatbuffers|Verif", s)),
    ("kernel, main thread (poll, send, page faults)", lambda c, d, s: d.startswith("[kernel")),
    ("libzmq, main thread", lambda c, d, s: "libzmq" in d),
    ("memcpy/memset", lambda c, d, s: re.search(r"memmove|memcpy|memset", s)),
    ("malloc/free", lambda c, d, s: re.search(r"malloc|free|_int_|operator new", s)),
    ("other", lambda c, d, s: True),
]


def samples(path):
    out = subprocess.run(["perf", "report", "-i", path, "--no-children", "-n", "--sort", "comm,dso,sym", "-g", "none",
                          "--stdio"], capture_output=True, text=True, check=True).stdout
    counts = collections.Counter()
    for line in out.splitlines():
        m = re.match(r"\s+[\d.]+%\s+(\d+)\s+(\S+)\s+(\S+)\s+\[.\]\s+(.*)$", line)
        if m:
            n, comm, dso, sym = int(m.group(1)), m.group(2), m.group(3), m.group(4).strip()
            counts[next(name for name, match in PHASES if match(comm, dso, sym))] += n
    return counts


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 40
    hz = float(sys.argv[4]) if len(sys.argv) > 4 else 4999.0
    full, one = samples(sys.argv[1]), samples(sys.argv[2])
    rows = [((full[name] - one[name]) * 1000.0 / hz / (rounds - 1), name) for name, _ in PHASES]
    print(f"{sum(ms for ms, _ in rows):6.2f} ms/round in all (perf samples at {hz:g} Hz)")
    for ms, name in sorted(rows, reverse=True):
        print(f"{ms:6.2f} ms  {name}")


if __name__ == "__main__":
    main()
