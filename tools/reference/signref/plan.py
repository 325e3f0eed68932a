"""Plan: a plan directory in PLAN.md's format (plan.json, init.npy, batches.npy, trace/)."""
import json
import os

import numpy as np
import torch

from .common import METHODS
from .model import MLP


class Plan:
    def __init__(self, d):
        self.dir = d
        with open(os.path.join(d, "plan.json")) as f:
            self.p = json.load(f)
        p = self.p
        self.method = p["method"]
        if self.method not in METHODS:
            raise ValueError("unknown method %r" % self.method)
        model = str(p.get("model", "mlp"))
        if not model.lower().startswith("mlp"):
            raise ValueError("the reference implements the MLP only (plan model: %r)" % model)
        if str(p.get("schedule", "constant")) != "constant":
            raise ValueError("the reference implements schedule=constant only (plan: %r)" % p.get("schedule"))
        self.M = int(p["clients"])
        self.R = int(p["rounds"])
        self.S = int(p.get("local_steps", 1) or 1)
        self.B = int(p["batch"])
        self.lr = float(p["lr"])
        self.server_lr = float(p.get("server_lr", 1.0) or 1.0)
        self.K = int(p.get("k", 0) or 0)
        self.eta = float(p.get("eta", 1.0) if p.get("eta") is not None else 1.0)
        self.mu = float(p.get("momentum", 0.0) or 0.0)
        self.tie_rule = p.get("tie_rule", "zero")
        self.weighting = p.get("weighting", "samples")
        self.client_samples = [int(v) for v in p["client_samples"]]
        self.seed = int(p.get("seed", 1))
        self.eval_every = int(p.get("eval_every", 0) or 0)
        self.trace_rounds = int(p.get("trace_rounds", 0) or 0)
        self.model = MLP(p["layers"])
        self.N = self.model.num_params
        if int(p.get("num_params", self.N)) != self.N:
            raise ValueError("num_params %s does not match layers %s (N=%d)" % (p.get("num_params"), p["layers"], self.N))
        init = np.load(os.path.join(d, "init.npy"))
        if init.dtype != np.float32 or init.shape != (self.N,):
            raise ValueError("init.npy: expected float32 [%d], got %s %s" % (self.N, init.dtype, init.shape))
        self.init = torch.from_numpy(init.copy())
        bt = np.load(os.path.join(d, "batches.npy"), mmap_mode="r")
        if bt.ndim != 4 or bt.shape[0] != self.M or bt.shape[2] != self.S or bt.shape[3] != self.B:
            raise ValueError("batches.npy shape %s does not match M=%d S=%d B=%d" % (bt.shape, self.M, self.S, self.B))
        self.batches = torch.from_numpy(np.asarray(bt, dtype=np.int64))
        if self.batches.shape[1] < self.R:
            raise ValueError("batches.npy has %d rounds < %d" % (self.batches.shape[1], self.R))
        w = np.array(self.client_samples, dtype=np.float64)
        if self.weighting == "uniform":
            w = np.full(self.M, 1.0 / self.M)
        elif self.weighting == "samples":
            w = w / w.sum()                       # McMahan et al.: n_m / n
        else:
            raise ValueError("unknown weighting %r" % self.weighting)
        self.weights = torch.from_numpy(w)        # float64
        if self.method in ("s3gd", "randk") and not (1 <= self.K <= self.N):
            raise ValueError("k=%d out of range" % self.K)
        self.uses_momentum = self.method == "signum" or (self.method in ("s3gd", "randk") and self.mu > 0)

    def trace(self, name):
        return torch.from_numpy(np.load(os.path.join(self.dir, "trace", name + ".npy")).astype(np.float32))
