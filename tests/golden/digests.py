#!/usr/bin/env python3
"""Golden model digests: seeded federations whose final model digest is pinned.

A refactoring that claims to change no numerics (moving code, splitting the
coordinator, extracting the replica or the strategies) must leave every digest
here unchanged. A change that is *meant* to move the numbers re-records them
(`record`) and says so in its commit message.

  digests.py check  --signfed-sim BIN [--golden FILE]    exit 1 on any difference
  digests.py record --signfed-sim BIN [--golden FILE]    rewrite FILE

Each case is a short signfed-sim run (M = 4, 12 rounds, a small MLP, no
evaluation); the digest is rounds.model_digest of the last round, which every
client's replica matched (the simulator checks). Cases cover every method, the
momentum variants, the guarded step, random ties, partial participation,
dropout, a client crash with snapshot resync, virtual-time stragglers, and the
real binaries over tcp (--processes). Digests are x86-64 release-build values:
Eigen's GEMM rounds differently on other ISAs, so other builds skip the check.
"""
import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

BASE = ["--clients", "4", "--rounds", "12", "--model", "mlp:784-32-10", "--eval-every", "0",
        "--seed", "7", "--quiet"]

CASES = {
    "signsgd": ["--method", "signsgd"],
    "signsgd-class1-tie-random": ["--method", "signsgd", "--partition", "class1", "--tie", "random"],
    "signum": ["--method", "signum", "--momentum", "0.9"],
    "s3gd": ["--method", "s3gd", "--gamma", "0.1"],
    "s3gd-momentum": ["--method", "s3gd", "--gamma", "0.1", "--momentum", "0.9"],
    "s3gd-auto": ["--method", "s3gd", "--gamma", "auto", "--partition", "dirichlet:0.3"],
    "randk": ["--method", "randk", "--gamma", "0.05"],
    "randk-momentum": ["--method", "randk", "--gamma", "0.05", "--momentum", "0.5"],
    "stochsign": ["--method", "stochsign"],
    "efsign": ["--method", "efsign", "--lr", "0.1"],
    "fedsgd": ["--method", "fedsgd", "--lr", "0.1"],
    "fedavg": ["--method", "fedavg", "--lr", "0.05", "--local-steps", "3", "--partition", "quantity:1"],
    "fedavg-uniform-server-lr": ["--method", "fedavg", "--lr", "0.05", "--local-steps", "2",
                                 "--weighting", "uniform", "--server-lr", "0.5"],
    "guarded-step": ["--method", "signsgd", "--guarded-step", "--lr", "0.003"],  # kept 4 of 12 steps
    "fraction-halving": ["--method", "signsgd", "--fraction", "0.5", "--schedule", "halving",
                         "--halve-every", "4"],
    "dropout": ["--method", "signsgd", "--dropout", "0.3"],
    "crash-resync": ["--method", "signum", "--momentum", "0.5", "--crash", "1@5"],
    "virtual-time-adaptive": ["--method", "s3gd", "--gamma", "0.1", "--virtual-time", "--slow", "0.25:10",
                              "--policy", "adaptive:0.7"],
    "cnn": ["--method", "signsgd", "--model", "cnn", "--rounds", "3", "--no-standardise", "--init", "torch"],
    "processes-signsgd": ["--method", "signsgd", "--processes"],
    "processes-fedavg": ["--method", "fedavg", "--lr", "0.05", "--local-steps", "2", "--processes"],
}


# The training-step kernels are chosen from the CPU at start-up (AVX2+FMA,
# AVX-512, ...: different roundings). The digests were recorded with the SSE2
# Eigen path, which every x86-64 CPU runs: pin it, for recording and checking,
# so the digests do not depend on the machine (core/model/kernels/train_kernels.h).
TRAIN_KERNELS = "sse2"


def run_case(sim, name, args, work):
    db = os.path.join(work, name + ".sqlite")
    cmd = [sim] + BASE + args + ["--db", db]
    if "--processes" in args:
        cmd += ["--log-dir", os.path.join(work, name + "-logs")]
    env = dict(os.environ, SIGNFED_TRAIN_KERNELS=TRAIN_KERNELS)  # inherited by --processes' edges
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{name}: signfed-sim exited {proc.returncode}\n{' '.join(cmd)}\n{proc.stderr[-2000:]}")
    with sqlite3.connect(db) as con:
        row = con.execute("SELECT model_digest FROM rounds ORDER BY run_id DESC, round DESC LIMIT 1").fetchone()
    if row is None or not row[0]:
        raise RuntimeError(f"{name}: no digest in {db}")
    return row[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["check", "record"])
    ap.add_argument("--signfed-sim", required=True, help="signfed-sim binary (x86-64 release build)")
    ap.add_argument("--golden", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "digests.json"))
    ap.add_argument("--only", default="", help="comma-separated case names (default: all)")
    args = ap.parse_args()

    names = [n for n in CASES if not args.only or n in args.only.split(",")]
    unknown = set(args.only.split(",")) - set(CASES) if args.only else set()
    if unknown:
        sys.exit(f"unknown case(s): {', '.join(sorted(unknown))}; known: {', '.join(CASES)}")
    with tempfile.TemporaryDirectory(prefix="signfed-golden-") as work:
        got = {}
        for n in names:
            got[n] = run_case(args.signfed_sim, n, CASES[n], work)
            print(f"{n:28s} {got[n]}", flush=True)

    if args.mode == "record":
        old = {}
        if os.path.exists(args.golden):
            old = json.load(open(args.golden))
        old.update(got)
        with open(args.golden, "w") as f:
            json.dump(old, f, indent=2, sort_keys=True)
            f.write("\n")
        print(f"recorded {len(got)} digests in {args.golden}")
        return 0

    golden = json.load(open(args.golden))
    bad = []
    for n in names:
        want = golden.get(n)
        if want is None:
            bad.append(f"{n}: no recorded digest (run 'record')")
        elif want != got[n]:
            bad.append(f"{n}: digest {got[n]}, recorded {want}")
    if bad:
        print("golden digests differ:\n  " + "\n  ".join(bad), file=sys.stderr)
        return 1
    print(f"all {len(names)} digests equal the recorded ones")
    return 0


if __name__ == "__main__":
    sys.exit(main())
