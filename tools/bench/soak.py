#!/usr/bin/python3
"""The long soak: runs tests/security/soak_test for --seconds (default 600) of
attacks against a CURVE federation, keeps its CSVs and summary, and draws
docs/img/soak_rss.png (coordinator VmRSS over time, the attack phases, the
baseline and the bound).

    tools/bench/soak.py                     # 10 minutes, build/release
    tools/bench/soak.py --seconds 60 --out /tmp/soak
    tools/bench/soak.py --plot-only /tmp/soak   # redraw from a kept run

The test's verdict (exit code) is printed and returned; the figure is drawn
whatever it is, since a failing soak is what the figure is for.
"""
import argparse
import csv
import json
import os
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(args):
    binary = os.path.join(args.build, "tests/security/soak_test")
    if not os.path.exists(binary):
        sys.exit(f"{binary} is missing: cmake --build {args.build} -j2 --target soak_test")
    os.makedirs(args.out, exist_ok=True)
    env = dict(os.environ, SIGNFED_SOAK_SECONDS=str(args.seconds), SIGNFED_SOAK_OUT=args.out)
    if args.attacks:
        env["SIGNFED_SOAK_ATTACKS"] = args.attacks
    if args.scale:
        env["SIGNFED_SOAK_SCALE"] = str(args.scale)
    with open(os.path.join(args.out, "soak_test.log"), "w") as log:
        rc = subprocess.call([binary], env=env, stdout=log, stderr=subprocess.STDOUT)
    print(f"soak_test exit code {rc} (log: {args.out}/soak_test.log)")
    return rc


def plot(out, png):
    with open(os.path.join(out, "soak_rss.csv")) as f:
        rows = list(csv.DictReader(f))
    t = [float(r["t_s"]) for r in rows]
    rss = [int(r["rss_kb"]) / 1024.0 for r in rows]
    with open(os.path.join(out, "soak_phases.csv")) as f:
        phases = [(float(r["t_s"]), r["phase"]) for r in csv.DictReader(f)]
    with open(os.path.join(out, "soak_summary.json")) as f:
        s = json.load(f)

    fig, ax = plt.subplots(figsize=(10, 4.8))
    ax.axvspan(s["attack_from_s"], s["attack_to_s"], color="tab:red", alpha=0.07, label="attack window")
    q = (s["attack_to_s"] - s["attack_from_s"]) / 4
    for i, name in ((1, "Q2"), (3, "Q4")):
        a = s["attack_from_s"] + i * q
        ax.axvspan(a, a + q, ymax=0.04, color="tab:gray", alpha=0.5)
        ax.text(a + q / 2, 0.05, f"{name} mean {s['q2_mib' if i == 1 else 'q4_mib']:.1f}", transform=ax.get_xaxis_transform(),
                ha="center", fontsize=8)
    ax.plot(t, rss, color="tab:blue", lw=1.4, label="coordinator VmRSS")
    ax.axhline(s["bound_mib"], color="tab:red", ls="--", lw=1.2,
               label=f"bound: baseline {s['baseline_mib']:.1f} + {s['margin_mib']:g} MiB")
    ax.axhline(s["baseline_mib"], color="tab:green", ls=":", lw=1.0, label="baseline (end of warm-up)")
    top = max(max(rss), s["bound_mib"]) * 1.12
    for i, (x, name) in enumerate(phases):
        ax.axvline(x, color="0.5", lw=0.6)
        right = x > 0.9 * max(t)
        ax.text(x, top * (0.97 - 0.045 * (i % 4)), (name + " ") if right else (" " + name), fontsize=8, va="top",
                ha="right" if right else "left", color="0.25")
    ax.set_ylim(0, top)
    ax.set_xlim(0, max(t))
    ax.set_xlabel("time since the coordinator started (s)")
    ax.set_ylabel("VmRSS (MiB)")
    verdict = "within the bound" if s["peak_mib"] < s["bound_mib"] else "ABOVE the bound"
    ax.set_title(f"Soak: {s['attack_s']:.0f} s of six attacks on a CURVE federation (4 honest edges, signSGD); "
                 f"peak {s['peak_mib']:.1f} MiB, {verdict}", fontsize=10)
    ax.legend(loc="center right", fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    print(f"wrote {png}")
    print(json.dumps(s, indent=1))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=600, help="attack window (s)")
    p.add_argument("--build", default=os.path.join(ROOT, "build/release"))
    p.add_argument("--out", default="/tmp/signfed-soak", help="directory for the CSVs, the summary and the log")
    p.add_argument("--attacks", default="", help="comma list (default: all six)")
    p.add_argument("--scale", type=float, default=0, help="multiplies every attack's rate (default 1)")
    p.add_argument("--png", default=os.path.join(ROOT, "docs/img/soak_rss.png"))
    p.add_argument("--plot-only", metavar="DIR", help="draw from a kept run's directory, run nothing")
    args = p.parse_args()
    if args.plot_only:
        plot(args.plot_only, args.png)
        return 0
    rc = run(args)
    plot(args.out, args.png)
    return rc


if __name__ == "__main__":
    sys.exit(main())
