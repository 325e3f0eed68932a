#!/usr/bin/python3
"""Parity table: signfed-sim against the independent PyTorch reference.

For every cell (method x partition) it runs, per seed,
    signfed-sim ... --export-plan DIR --db DIR/run.sqlite
    reference.py run DIR --json DIR/ref.json
on the *same plan* (same initial parameters, shards and minibatches) and prints a
markdown table: signfed's final test accuracy (mean +- std over seeds) next to the
reference's, the difference, whether it is within max(2 std, 1.5 points), and
signfed's uplink/downlink bytes per client per round (from the SQLite log).

Step size: chosen per cell on a separate selection seed (default 4) from the grid
{1e-2, 3e-3, 1e-3, 3e-4, 1e-4} for sign methods (signsgd, signum, s3gd, randk,
stochsign) and {0.3, 0.1, 0.03} for float methods (efsign, fedsgd, fedavg), by the
*reference* run's final accuracy on that seed (the independent side picks, so a
bug in signfed cannot tune its own step; ties go to the larger step).  The chosen
step is then used for the reporting seeds (default 1, 2, 3).

Every finished run is stored in --json (default parity.json), keyed by
method|partition|seed|lr, and reused on the next invocation: an interrupted table
resumes, and `--reprint` prints the table again without running anything.

--quick (CI): 200 rounds, signsgd/s3gd/fedsgd/fedavg on iid and class1, one seed,
fixed steps (sign 1e-3, float 0.1); exits 1 if any |signfed - reference| exceeds
--quick-bound points (default 3).
"""
import argparse
import concurrent.futures as cf
import json
import math
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.path.join(HERE, "reference.py")
SIGN_METHODS = ["signsgd", "signum", "s3gd", "randk", "stochsign"]
FLOAT_METHODS = ["efsign", "fedsgd", "fedavg"]
ALL_METHODS = SIGN_METHODS + FLOAT_METHODS
EXTRAS = {"s3gd": ["--gamma", "0.1"], "randk": ["--gamma", "0.1"],
          "signum": ["--momentum", "0.9"], "fedavg": ["--local-steps", "10"]}
_lock = threading.Lock()


def floats(s):
    return [float(v) for v in s.split(",") if v.strip()]


def key(method, partition, seed, lr):
    return "%s|%s|%d|%g" % (method, partition, seed, lr)


def db_bytes(db, clients):
    """(uplink, downlink) bytes per client per round, from signfed's `rounds` table."""
    con = sqlite3.connect(db)
    try:
        n, up, down = con.execute("SELECT COUNT(*), SUM(uplink_bytes), SUM(downlink_bytes) FROM rounds").fetchone()
    finally:
        con.close()
    if not n:
        return None, None
    return up / (n * clients), down / (n * clients)


def run_cell(a, method, partition, seed, lr, log, plan_only=False):
    """One signfed-sim run with --export-plan, then the reference on that plan.
    plan_only (step-size selection, which the reference alone decides): signfed-sim
    --plan-only writes the plan without running the federation."""
    name = "%s_%s_s%d_lr%g" % (method, partition.replace(":", ""), seed, lr)
    d = os.path.join(a.work, name)
    if os.path.exists(d):
        shutil.rmtree(d)
    os.makedirs(d)
    cmd = [a.signfed_sim, "--clients", str(a.clients), "--partition", partition, "--method", method,
           "--lr", "%g" % lr, "--rounds", str(a.rounds), "--batch", str(a.batch), "--seed", str(seed),
           "--eval-every", str(a.eval_every or a.rounds), "--export-plan", d,
           "--db", os.path.join(d, "run.sqlite"), "--quiet", "--policy", "all",
           "--workers", str(a.sim_workers)] + (["--plan-only"] if plan_only else ["--trace-rounds", "0"]) \
        + EXTRAS.get(method, []) + a.sim_arg
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True)
    t_sf = time.time() - t0
    if p.returncode != 0:
        raise RuntimeError("signfed-sim failed (%d): %s\n%s" % (p.returncode, " ".join(cmd), p.stderr[-2000:]))
    sf = {}
    if not plan_only:
        with open(os.path.join(d, "signfed.json")) as f:
            sf = json.load(f)
    t0 = time.time()
    q = subprocess.run(["/usr/bin/python3", REFERENCE, "run", d, "--json", os.path.join(d, "ref.json"), "--quiet"],
                       capture_output=True, text=True)
    t_ref = time.time() - t0
    if q.returncode != 0:
        raise RuntimeError("reference.py run failed (%d) on %s:\n%s" % (q.returncode, d, q.stderr[-2000:]))
    with open(os.path.join(d, "ref.json")) as f:
        ref = json.load(f)
    up, down = (None, None) if plan_only else db_bytes(os.path.join(d, "run.sqlite"), a.clients)
    rec = {"method": method, "partition": partition, "seed": seed, "lr": lr, "rounds": a.rounds,
           "clients": a.clients, "batch": a.batch, "signfed": sf.get("final_accuracy"),
           "reference": ref.get("final_accuracy"), "signfed_evals": sf.get("evals"),
           "reference_evals": ref.get("evals"), "uplink_per_client_round": up,
           "downlink_per_client_round": down, "wall_signfed_s": t_sf, "wall_reference_s": t_ref,
           "command": " ".join(cmd)}
    if not a.keep_plans:
        shutil.rmtree(d, ignore_errors=True)
    log("%-9s %-13s seed %d lr %-6g signfed %.4f reference %.4f  (%.0f s + %.0f s)%s"
        % (method, partition, seed, lr, rec["signfed"] or float("nan"), rec["reference"] or float("nan"), t_sf, t_ref,
           "  [selection: reference only]" if plan_only else ""))
    return rec


class Results:
    def __init__(self, path):
        self.path = path
        self.d = {"config": {}, "runs": {}, "chosen_lr": {}}
        if path and os.path.exists(path):
            with open(path) as f:
                self.d = json.load(f)
            self.d.setdefault("runs", {})
            self.d.setdefault("chosen_lr", {})

    def save(self):
        if not self.path:
            return
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.d, f, indent=1)
        os.replace(tmp, self.path)


def run_all(a, res, tasks, plan_only=False):
    """Runs the (method, partition, seed, lr) tasks not yet in res, a.jobs at a time."""
    todo = [t for t in tasks if key(*t) not in res.d["runs"]]
    todo = list(dict.fromkeys(todo))
    if not todo:
        return []
    errors = []

    def log(msg):
        with _lock:
            print(msg, flush=True)

    def one(t):
        rec = run_cell(a, *t, log=log, plan_only=plan_only)
        with _lock:
            res.d["runs"][key(*t)] = rec
            res.save()

    with cf.ThreadPoolExecutor(max_workers=max(1, a.jobs)) as ex:
        futs = {ex.submit(one, t): t for t in todo}
        for f in cf.as_completed(futs):
            try:
                f.result()
            except Exception as e:  # keep going; report at the end
                errors.append("%s: %s" % (key(*futs[f]), e))
                log("ERROR %s" % errors[-1])
    return errors


def mean_std(v):
    v = [x for x in v if x is not None and not (isinstance(x, float) and math.isnan(x))]
    if not v:
        return float("nan"), float("nan"), 0
    return statistics.mean(v), (statistics.stdev(v) if len(v) > 1 else 0.0), len(v)


def table(a, res, methods, partitions, seeds):
    """Markdown table; returns the list of cells outside the tolerance."""
    lines = ["| method | partition | lr | signfed acc % | reference acc % | diff (pts) | tol (pts) | ok | uplink B/client/round | downlink B/client/round |",
             "|---|---|---:|---:|---:|---:|---:|:-:|---:|---:|"]
    outside = []
    for m in methods:
        for p in partitions:
            lr = res.d["chosen_lr"].get("%s|%s" % (m, p))
            if lr is None:
                continue
            recs = [res.d["runs"].get(key(m, p, s, lr)) for s in seeds]
            recs = [r for r in recs if r]
            if not recs:
                continue
            sm, ss, n = mean_std([100 * r["signfed"] for r in recs if r["signfed"] is not None])
            rm, rs, _ = mean_std([100 * r["reference"] for r in recs if r["reference"] is not None])
            pooled = math.sqrt((ss * ss + rs * rs) / 2)
            tol = max(2 * pooled, a.min_tol)
            diff = sm - rm
            ok = abs(diff) <= tol
            if not ok:
                outside.append("%s %s: signfed %.2f vs reference %.2f (tol %.2f)" % (m, p, sm, rm, tol))
            up = statistics.mean([r["uplink_per_client_round"] for r in recs if r.get("uplink_per_client_round") is not None] or [float("nan")])
            down = statistics.mean([r["downlink_per_client_round"] for r in recs if r.get("downlink_per_client_round") is not None] or [float("nan")])
            lines.append("| %s | %s | %g | %.2f ± %.2f | %.2f ± %.2f | %+.2f | %.2f | %s | %s | %s |"
                         % (m, p, lr, sm, ss, rm, rs, diff, tol, "✓" if ok else "✗",
                            "%.0f" % up if up == up else "-", "%.0f" % down if down == down else "-"))
    cfg = res.d.get("config", {})
    print()
    fixed = cfg.get("fixed_lr") or {}
    how = "lr chosen on seed %s by the reference's final accuracy" % cfg.get("selection_seed")
    if fixed:
        how += " (fixed: %s)" % ", ".join("%s=%g" % kv for kv in sorted(fixed.items()))
    print("Final test accuracy after %s rounds, M = %s, batch %s, seeds %s (n = %d each); %s; "
          "tol = max(2 x pooled seed std, %.1f points)."
          % (cfg.get("rounds"), cfg.get("clients"), cfg.get("batch"), ",".join(str(s) for s in seeds), len(seeds),
             how, a.min_tol))
    print()
    print("\n".join(lines))
    return outside


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--signfed-sim", default="/work/main/build/release/tools/sim/signfed-sim", help="signfed-sim binary")
    ap.add_argument("--methods", default=",".join(ALL_METHODS))
    ap.add_argument("--partitions", default="iid,class1,shards:2,dirichlet:0.3")
    ap.add_argument("--seeds", default="1,2,3", help="reporting seeds")
    ap.add_argument("--selection-seed", type=int, default=4, help="seed on which the lr is chosen")
    ap.add_argument("--lr-sign", default="1e-2,3e-3,1e-3,3e-4,1e-4", help="lr grid for sign methods")
    ap.add_argument("--lr-float", default="0.3,0.1,0.03", help="lr grid for efsign/fedsgd/fedavg")
    ap.add_argument("--fixed-lr", action="append", default=[], metavar="METHOD=LR",
                    help="skip selection for METHOD (repeatable)")
    ap.add_argument("--rounds", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--eval-every", type=int, default=0, help="signfed/reference eval period (0: only at the end)")
    ap.add_argument("--jobs", type=int, default=1, help="cells run in parallel (default 1)")
    ap.add_argument("--sim-workers", type=int, default=1, help="signfed-sim --workers (default 1)")
    ap.add_argument("--sim-arg", action="append", default=[], help="extra argument for signfed-sim (repeatable)")
    ap.add_argument("--work", default="/tmp/signfed-parity", help="where plans are written")
    ap.add_argument("--keep-plans", action="store_true", help="keep each run's plan directory")
    ap.add_argument("--json", default="parity.json", help="raw results (also the resume cache)")
    ap.add_argument("--reprint", action="store_true", help="print the table from --json, run nothing")
    ap.add_argument("--min-tol", type=float, default=1.5, help="minimum tolerance, points (default 1.5)")
    ap.add_argument("--quick", action="store_true", help="CI mode (see above)")
    ap.add_argument("--quick-bound", type=float, default=3.0, help="--quick: max |signfed - reference|, points")
    a = ap.parse_args()

    if a.quick:
        if a.rounds == 1000:
            a.rounds = 200
        if a.methods == ",".join(ALL_METHODS):
            a.methods = "signsgd,s3gd,fedsgd,fedavg"
        if a.partitions == "iid,class1,shards:2,dirichlet:0.3":
            a.partitions = "iid,class1"
        if a.seeds == "1,2,3":
            a.seeds = "1"
        if a.json == "parity.json":
            a.json = os.path.join(a.work, "parity_quick.json")
    methods = [m for m in a.methods.split(",") if m]
    for m in methods:
        if m not in ALL_METHODS:
            ap.error("unknown method %s" % m)
    partitions = [p for p in a.partitions.split(",") if p]
    seeds = [int(s) for s in a.seeds.split(",") if s]
    fixed = {}
    for f in a.fixed_lr:
        m, v = f.split("=")
        fixed[m] = float(v)
    if a.quick:
        for m in methods:
            fixed.setdefault(m, 1e-3 if m in SIGN_METHODS else 0.1)
    os.makedirs(a.work, exist_ok=True)
    res = Results(a.json)
    if a.reprint:
        outside = table(a, res, methods, partitions, seeds)
        return 0 if not outside else 1
    cfg = {"rounds": a.rounds, "clients": a.clients, "batch": a.batch, "seeds": seeds,
           "selection_seed": a.selection_seed, "lr_sign": floats(a.lr_sign), "lr_float": floats(a.lr_float),
           "extras": EXTRAS, "sim_arg": a.sim_arg, "fixed_lr": fixed}
    old = res.d.get("config") or {}
    for k in ("rounds", "clients", "batch"):
        if old.get(k) not in (None, cfg[k]):
            sys.exit("%s holds runs with %s=%s (now %s): use another --json" % (a.json, k, old[k], cfg[k]))
    res.d["config"] = cfg
    res.save()
    if not os.access(a.signfed_sim, os.X_OK):
        sys.exit("signfed-sim not found: %s" % a.signfed_sim)
    errors = []
    # 1) step-size selection on the selection seed
    sel = []
    for m in methods:
        if m in fixed:
            continue
        grid = floats(a.lr_sign) if m in SIGN_METHODS else floats(a.lr_float)
        for p in partitions:
            for lr in grid:
                sel.append((m, p, a.selection_seed, lr))
    if sel:
        print("lr selection: %d runs on seed %d" % (len(sel), a.selection_seed), flush=True)
        errors += run_all(a, res, sel, plan_only=True)
    for m in methods:
        for p in partitions:
            if m in fixed:
                res.d["chosen_lr"]["%s|%s" % (m, p)] = fixed[m]
                continue
            grid = floats(a.lr_sign) if m in SIGN_METHODS else floats(a.lr_float)
            best, best_acc = None, -1.0
            for lr in sorted(grid, reverse=True):        # ties go to the larger step
                r = res.d["runs"].get(key(m, p, a.selection_seed, lr))
                acc = r and r.get("reference")
                if acc is not None and not math.isnan(acc) and acc > best_acc:
                    best, best_acc = lr, acc
            if best is not None:
                res.d["chosen_lr"]["%s|%s" % (m, p)] = best
                print("lr for %s %s: %g (reference accuracy %.4f on seed %d)" % (m, p, best, best_acc, a.selection_seed))
    res.save()
    # 2) the reporting seeds at the chosen step
    runs = []
    for m in methods:
        for p in partitions:
            lr = res.d["chosen_lr"].get("%s|%s" % (m, p))
            if lr is not None:
                runs += [(m, p, s, lr) for s in seeds]
    print("reporting runs: %d" % len(runs), flush=True)
    errors += run_all(a, res, runs)
    outside = table(a, res, methods, partitions, seeds)
    print("\nraw results: %s" % a.json)
    if errors:
        print("\n%d run(s) failed:\n  %s" % (len(errors), "\n  ".join(errors)))
    if a.quick:
        bad = []
        for m in methods:
            for p in partitions:
                for s in seeds:
                    r = res.d["runs"].get(key(m, p, s, res.d["chosen_lr"]["%s|%s" % (m, p)]))
                    if not r or r["signfed"] is None or r["reference"] is None:
                        bad.append("%s %s seed %d: missing" % (m, p, s))
                    elif abs(100 * (r["signfed"] - r["reference"])) > a.quick_bound:
                        bad.append("%s %s seed %d: signfed %.2f%% vs reference %.2f%%"
                                   % (m, p, s, 100 * r["signfed"], 100 * r["reference"]))
        if bad:
            print("QUICK PARITY FAILED (bound %.1f points):\n  %s" % (a.quick_bound, "\n  ".join(bad)))
            return 1
        print("QUICK PARITY PASSED: every |signfed - reference| <= %.1f points" % a.quick_bound)
        return 0
    if outside:
        print("\noutside tolerance:\n  " + "\n  ".join(outside))
    return 1 if (errors or outside) else 0


if __name__ == "__main__":
    sys.exit(main())
