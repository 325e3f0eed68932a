#!/usr/bin/python3
"""Independent PyTorch reference for signfed's federated methods.

Written from the papers (Safaryan & Richtarik, "On Stochastic Sign Descent
Methods"; Park & Lee, "Sparse-SignSGD with Majority Vote", S3GD-MV) and from
tools/reference/PLAN.md, never from signfed's C++.  The only thing shared with
signfed is the run plan written by `signfed-sim --export-plan DIR`: initial
parameters, shards, minibatch indices and hyper-parameters.

Sub-commands:
  compare PLAN_DIR   step-by-step check of signfed's trace (exit 0 = all pass)
  run PLAN_DIR       a whole independent run, test accuracy every eval_every
  make-test-plan DIR write a plan in the PLAN.md format (for testing this tool)
  selftest           check the hand-written backward pass against autograd etc.

Run with Debian's interpreter: /usr/bin/python3 tools/reference/reference.py ...
"""
import argparse
import sys

from signref.common import EPS32, METHODS
from signref.compare import cmd_compare
from signref.run import cmd_run
from signref.testing import cmd_make_test_plan, cmd_selftest


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("compare", help="step-by-step check of signfed's trace in PLAN_DIR")
    c.add_argument("plan_dir")
    c.add_argument("--rounds", type=int, default=None, help="check only the first R trace rounds")
    c.add_argument("--grad-rtol", type=float, default=1e-5,
                   help="per-coordinate gradient tolerance relative to the client's max|g| (default 1e-5)")
    c.add_argument("--grad-rtol-fedavg", type=float, default=1e-4,
                   help="the same for fedavg's x_start - x_local after S SGD steps (default 1e-4)")
    c.add_argument("--atol", type=float, default=1e-7, help="absolute floor of the gradient tolerance (default 1e-7)")
    c.add_argument("--mean-rtol", type=float, default=4 * EPS32,
                   help="weighted-mean tolerance per coordinate: rtol * M * sum_m |w_m s_m| (default 4 eps32)")
    c.add_argument("--f32-factor", type=float, default=4.0,
                   help="gradient tolerance is at least this times the reference's own float32 error "
                        "against float64 at that point (default 4)")
    c.add_argument("--kink-rtol", type=float, default=1e-5,
                   help="a hidden pre-activation z with |z| <= rtol * (|a||W|^T + |b|) is a ReLU kink whose "
                        "side is float rounding (default 1e-5)")
    c.add_argument("--chain-rtol", type=float, default=1e-4,
                   help="own-chain float methods: max|x_ref - x_signfed| <= rtol * max|x| (default 1e-4)")
    c.set_defaults(func=cmd_compare)
    r = sub.add_parser("run", help="a whole independent run from init.npy with the plan's minibatches")
    r.add_argument("plan_dir")
    r.add_argument("--json", help="write {evals, final_accuracy, wall_s} here")
    r.add_argument("--rounds", type=int, default=None, help="stop after R rounds (default: the plan's)")
    r.add_argument("--quiet", action="store_true", help="print only the final line")
    r.set_defaults(func=cmd_run)
    t = sub.add_parser("make-test-plan", help="write a PLAN.md-format plan without signfed (testing only)")
    t.add_argument("dir")
    t.add_argument("--method", default="signsgd", choices=METHODS)
    t.add_argument("--clients", type=int, default=10)
    t.add_argument("--partition", default="iid", choices=["iid", "class1"])
    t.add_argument("--rounds", type=int, default=100)
    t.add_argument("--batch", type=int, default=32)
    t.add_argument("--local-steps", type=int, default=1)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--gamma", type=float, default=0.1)
    t.add_argument("--eta", type=float, default=1.0)
    t.add_argument("--momentum", type=float, default=0.0)
    t.add_argument("--tie", default="zero", choices=["zero", "random"])
    t.add_argument("--seed", type=int, default=1)
    t.add_argument("--hidden", default="128", help="hidden layer widths, comma separated")
    t.add_argument("--eval-every", type=int, default=50)
    t.add_argument("--trace-rounds", type=int, default=0,
                   help="also write a trace produced by the reference itself (exercises compare)")
    t.set_defaults(func=cmd_make_test_plan)
    s = sub.add_parser("selftest", help="manual backward vs autograd, top-K tie rule, vote")
    s.set_defaults(func=cmd_selftest)
    args = ap.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
