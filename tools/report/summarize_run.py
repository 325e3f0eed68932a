#!/usr/bin/env python3
"""Summarise a signfed round log: a table per run and an accuracy plot. The
log is a SQLite file or a PostgreSQL database given by its postgresql:// URL
(needs python3-psycopg2; docs/postgresql.md).

Usage: summarize_run.py RUN.sqlite|postgresql://... [--run ID] [--plot accuracy.png]

The plot shows test accuracy against rounds and against cumulative uplink
bytes (log scale), one line per run.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import logdb  # noqa: E402


def load_runs(db, run_id):
    q = "SELECT run_id, config, status FROM runs" + (" WHERE run_id=?" if run_id else "") + " ORDER BY run_id"
    return db.execute(q, (run_id,) if run_id else ()).fetchall()


def human(n):
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n:.0f} B"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("db")
    ap.add_argument("--run", type=int, help="only this run id")
    ap.add_argument("--plot", help="write the accuracy plot here (.png or .svg)")
    args = ap.parse_args()
    try:
        db = logdb.LogDb(args.db)
        runs = load_runs(db, args.run)
    except logdb.errors() as e:
        sys.exit(f"summarize_run: cannot read {logdb.shown(args.db)}: {e}")
    if not runs:
        sys.exit(f"summarize_run: no runs in {logdb.shown(args.db)}")

    series = []
    for run_id, config, status in runs:
        cfg = json.loads(config)
        rows = db.execute(
            "SELECT round, test_accuracy, uplink_bytes, downlink_bytes, received FROM rounds "
            "WHERE run_id=? ORDER BY round", (run_id,)).fetchall()
        n_params = db.execute("SELECT length(params)/4 FROM checkpoints WHERE run_id=? LIMIT 1", (run_id,)).fetchone()
        n_params = n_params[0] if n_params else 0
        clients = db.execute("SELECT COUNT(*) FROM clients WHERE run_id=?", (run_id,)).fetchone()[0] or 1
        if not rows:
            print(f"run {run_id}: no rounds logged ({status})")
            continue
        accs = [(r[0] + 1, r[1]) for r in rows if r[1] is not None]
        up = sum(r[2] for r in rows)
        down = sum(r[3] for r in rows)
        updates = sum(r[4] for r in rows)
        float_per_update = 4 * n_params
        label = f"run {run_id}: {cfg['method']}" + (f" γ={cfg['gamma']:g}" if cfg['method'] in ('s3gd', 'randk') else "")
        print(f"\n{label} ({status}), {cfg['model']}, {n_params:,} parameters, {clients} clients")
        print(f"  {'rounds':<34}{len(rows)}")
        if accs:
            print(f"  {'final test accuracy':<34}{accs[-1][1] * 100:.2f}% (best {max(a for _, a in accs) * 100:.2f}%)")
        per_client_round_up = up / max(updates, 1)
        per_client_round_down = down / max(len(rows) * clients, 1)
        print(f"  {'uplink per client per round':<34}{human(per_client_round_up):>10}   float32 would send "
              f"{human(float_per_update):>10}  ({float_per_update / max(per_client_round_up, 1):.1f}x less)")
        print(f"  {'downlink per client per round':<34}{human(per_client_round_down):>10}   float32 would send "
              f"{human(float_per_update):>10}  ({float_per_update / max(per_client_round_down, 1):.1f}x less)")
        print(f"  {'total uplink / downlink':<34}{human(up)} / {human(down)}   "
              f"(float32: {human(float_per_update * updates)} / {human(float_per_update * len(rows) * clients)})")
        cum, cum_up = [], 0
        for r in rows:
            cum_up += r[2]
            if r[1] is not None:
                cum.append((cum_up, r[1]))
        series.append((label, accs, cum))

    if args.plot and series:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
        for label, accs, cum in series:
            a.plot([r for r, _ in accs], [x * 100 for _, x in accs], marker=".", label=label)
            b.plot([u for u, _ in cum], [x * 100 for _, x in cum], marker=".", label=label)
        a.set_xlabel("round")
        b.set_xlabel("cumulative uplink bytes (all clients)")
        b.set_xscale("log")
        for ax in (a, b):
            ax.set_ylabel("test accuracy (%)")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        fig.suptitle(f"signfed: {logdb.shown(args.db)}")
        fig.tight_layout()
        fig.savefig(args.plot, dpi=110)
        print(f"\nplot written to {args.plot}")


if __name__ == "__main__":
    main()
