"""Testing the tool itself: `make-test-plan` (a plan in PLAN.md's format without
signfed) and `selftest` (backward vs autograd, top-K tie rule, vote)."""
import json
import math
import os

import numpy as np
import torch

from .common import DEFAULT_DATA
from .data import Data, read_idx
from .local import local_vectors
from .methods import Server, kth_largest, majority_vote, topk_mask
from .model import MLP
from .plan import Plan


def cmd_make_test_plan(args):
    d = args.dir
    os.makedirs(os.path.join(d, "trace"), exist_ok=True)
    rng = np.random.default_rng(args.seed)
    layers = [784] + [int(v) for v in args.hidden.split(",") if v] + [10]
    model = MLP(layers)
    parts = []
    for i in range(len(layers) - 1):
        bound = math.sqrt(6.0 / layers[i])
        parts.append(rng.uniform(-bound, bound, size=layers[i] * layers[i + 1]).astype(np.float32) * 0.5)
        parts.append(np.zeros(layers[i + 1], dtype=np.float32))
    init = np.concatenate(parts).astype(np.float32)
    assert init.shape[0] == model.num_params
    labels = read_idx(os.path.join(DEFAULT_DATA, "train-labels-idx1-ubyte.gz"))
    M = args.clients
    if args.partition == "iid":
        perm = rng.permutation(len(labels))
        shards = np.array_split(perm, M)
    elif args.partition == "class1":
        shards = [np.nonzero(labels == (m % 10))[0] for m in range(M)]
    else:
        raise SystemExit("make-test-plan: partition iid or class1")
    offs = np.zeros(M + 1, dtype=np.uint64)
    for m in range(M):
        offs[m + 1] = offs[m] + len(shards[m])
    S = args.local_steps
    batches = np.zeros((M, args.rounds, S, args.batch), dtype=np.uint32)
    for m in range(M):
        order, pos = rng.permutation(shards[m]), 0
        for r in range(args.rounds):
            for s in range(S):
                if pos + args.batch > len(order):
                    order, pos = rng.permutation(shards[m]), 0
                batches[m, r, s] = order[pos:pos + args.batch]
                pos += args.batch
    np.save(os.path.join(d, "init.npy"), init)
    np.save(os.path.join(d, "shards.npy"), np.concatenate(shards).astype(np.uint32))
    np.save(os.path.join(d, "shard_offsets.npy"), offs)
    np.save(os.path.join(d, "batches.npy"), batches)
    N = model.num_params
    k = max(1, int(round(args.gamma * N)))
    plan = {"method": args.method, "clients": M, "rounds": args.rounds, "local_steps": S, "batch": args.batch,
            "lr": args.lr, "server_lr": 1.0, "schedule": "constant", "gamma": k / N, "k": k, "eta": args.eta,
            "momentum": args.momentum, "tie_rule": args.tie, "weighting": "samples",
            "client_samples": [len(s) for s in shards], "seed": args.seed, "data_seed": args.seed,
            "partition": args.partition, "model": "mlp", "layers": layers, "num_params": N,
            "standardise": {"mean": 0.2860, "std": 0.3530},
            "train_images": os.path.join(DEFAULT_DATA, "train-images-idx3-ubyte.gz"),
            "train_labels": os.path.join(DEFAULT_DATA, "train-labels-idx1-ubyte.gz"),
            "test_images": os.path.join(DEFAULT_DATA, "t10k-images-idx3-ubyte.gz"),
            "test_labels": os.path.join(DEFAULT_DATA, "t10k-labels-idx1-ubyte.gz"),
            "eval_every": args.eval_every, "test_limit": 0, "trace_rounds": args.trace_rounds}
    with open(os.path.join(d, "plan.json"), "w") as f:
        json.dump(plan, f, indent=1)
    if args.trace_rounds > 0:
        # a self-made trace (the reference replaying itself, with a different RNG):
        # only for exercising `compare`, it says nothing about signfed
        P = Plan(d)
        data = Data(P.p)
        srv = Server(P, seed_offset=99)
        for r in range(min(args.trace_rounds, P.R)):
            G = local_vectors(P, data, srv.x, r)
            sent, _ = srv.compress(G)
            res = srv.aggregate(sent)
            srv.apply(res)
            for m in range(M):
                np.save(os.path.join(d, "trace", "grad_r%d_c%d.npy" % (r, m)), G[m].numpy())
                np.save(os.path.join(d, "trace", "sent_r%d_c%d.npy" % (r, m)), sent[m].numpy())
            np.save(os.path.join(d, "trace", "result_r%d.npy" % r), res.numpy())
            np.save(os.path.join(d, "trace", "params_r%d.npy" % r), srv.x.numpy())
    print("wrote test plan %s (%s, N=%d, K=%d, %d rounds, %d trace rounds)" % (d, args.method, N, k, args.rounds, args.trace_rounds))
    return 0


def cmd_selftest(args):
    torch.manual_seed(0)
    model = MLP([20, 7, 5, 3])
    M, B = 3, 4
    P = (torch.randn(M, model.num_params) * 0.5).float()
    X = torch.randn(M, B, 20)
    y = torch.randint(0, 3, (M, B))
    loss, G = model.loss_grad(P, X, y)
    ok = True
    for m in range(M):
        p = P[m].clone().double().requires_grad_(True)
        a = X[m].double()
        for l, (W, b) in enumerate(model.unflatten(p)):
            a = a @ W.t() + b
            if l < 2:
                a = torch.relu(a)
        lo = torch.nn.functional.cross_entropy(a, y[m])
        lo.backward()
        err = float((p.grad.float() - G[m]).abs().max())
        ok &= err < 1e-5 and abs(float(lo) - float(loss[m])) < 1e-5
        print("client %d: |autograd - manual| = %.2e" % (m, err))
    _, G1 = model.loss_grad(P[1], X, y)          # shared-parameter path
    _, G2 = model.loss_grad(P[1].unsqueeze(0).repeat(M, 1), X, y)
    ok &= float((G1 - G2).abs().max()) < 1e-6
    keys = torch.tensor([[3., 1., 3., 3., 0., 2.]])
    mk = topk_mask(keys, 2)
    ok &= mk.tolist() == [[True, False, True, False, False, False]]
    for K in (1, 7, 1000, 9000, 50000):
        a = torch.rand(3, 60000)
        a[1, :5000] = 0.5                                   # heavy ties
        ok &= bool((kth_largest(a, K) == torch.kthvalue(a, 60000 - K + 1, dim=1).values).all())
        ok &= bool((topk_mask(a, K).sum(1) == K).all())
    v, ties = majority_vote(torch.tensor([[1., -1., 0., 0.], [1., 1., 0., -1.]]), "zero", None)
    ok &= v.tolist() == [1., 0., 0., -1.] and ties.tolist() == [False, True, False, False]
    print("topk tie rule, vote with abstention: %s" % ("ok" if ok else "FAIL"))
    print("SELFTEST %s" % ("PASSED" if ok else "FAILED"))
    return 0 if ok else 1
