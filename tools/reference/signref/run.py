"""`run`: a whole independent run from init.npy with the plan's minibatches."""
import json
import sys
import time

import torch

from .data import Data
from .local import local_vectors
from .methods import Server
from .plan import Plan


def cmd_run(args):
    t0 = time.time()
    plan = Plan(args.plan_dir)
    data = Data(plan.p)
    R = plan.R if args.rounds is None else min(args.rounds, plan.R)
    srv = Server(plan)
    evals = []
    for r in range(R):
        G = local_vectors(plan, data, srv.x, r)
        sent, _ = srv.compress(G)
        srv.apply(srv.aggregate(sent))
        done = r + 1
        # evaluated after rounds r with (r+1) % eval_every == 0 and after the last;
        # labelled with the 0-based round index r, as in signfed.json
        if (plan.eval_every > 0 and done % plan.eval_every == 0) or done == R:
            acc, loss = plan.model.evaluate(srv.x, data.test_x, data.test_y)
            evals.append([r, acc, loss])
            if not args.quiet:
                print("round %5d  test accuracy %.4f  loss %.4f" % (r, acc, loss), flush=True)
        if not torch.isfinite(srv.x).all():
            print("round %d: model is not finite" % r, file=sys.stderr)
            acc, loss = plan.model.evaluate(srv.x, data.test_x, data.test_y)
            evals.append([r, acc, loss])
            break
    wall = time.time() - t0
    out = {"method": plan.method, "rounds": R, "lr": plan.lr, "evals": evals,
           "final_accuracy": evals[-1][1] if evals else None, "wall_s": wall}
    print("final accuracy %.4f  (%s, %d rounds, %.1f s)" % (out["final_accuracy"], plan.method, R, wall))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0
