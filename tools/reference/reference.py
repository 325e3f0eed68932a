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
import gzip
import json
import math
import os
import sys
import time

import numpy as np
import torch

torch.set_num_threads(1)

METHODS = ("signsgd", "signum", "s3gd", "randk", "stochsign", "efsign", "fedsgd", "fedavg")
VOTE_METHODS = ("signsgd", "signum", "s3gd", "randk")      # ternary uplink, majority-vote downlink
MEAN_METHODS = ("stochsign", "efsign", "fedsgd", "fedavg")  # weighted mean downlink
SIGN_UPLINK = ("signsgd", "signum", "s3gd", "randk", "stochsign", "efsign")
DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"
EPS32 = float(np.finfo(np.float32).eps)


def _mm_nt_dense(A, B):
    return A @ B.t()


def _mm_nt_onednn(A, B):
    return torch._C._nn.mkldnn_linear(A.contiguous().to_mkldnn(), B.contiguous().to_mkldnn(), None).to_dense()


def _pick_mm():
    """A @ B^T for 2-D float32.  Debian's python3-torch links the reference BLAS
    (~5 GFLOP/s); its bundled oneDNN (mkldnn_linear) is 10-50x faster here."""
    try:
        a, b = torch.randn(5, 7), torch.randn(3, 7)
        if float((_mm_nt_onednn(a, b) - a @ b.t()).abs().max()) < 1e-4:
            return _mm_nt_onednn
    except Exception:
        pass
    return _mm_nt_dense


_mm_nt32 = _pick_mm()


def mm_nt(A, B):
    """A @ B^T; float32 through oneDNN when available, float64 (compare's exact
    reference) through torch's own BLAS."""
    if A.dtype == torch.float32:
        return _mm_nt32(A, B)
    return A @ B.t()


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------

def read_idx(path):
    """IDX file (optionally gzip): magic 0x0000 | dtype 0x08 (uint8) | ndim, big-endian dims."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError("%s: not an unsigned-byte IDX file" % path)
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    return data.reshape(dims)


def _resolve(path, fallback_name):
    if path and os.path.exists(path):
        return path
    alt = os.path.join(DEFAULT_DATA, os.path.basename(path) if path else fallback_name)
    if os.path.exists(alt):
        return alt
    raise FileNotFoundError("dataset file not found: %s" % path)


class Data:
    """Training and test sets as float32 tensors, standardised as PLAN.md says:
    x = (pixel / 255 - mean) / std (when `standardise` is set)."""

    def __init__(self, plan):
        std = plan.get("standardise")

        def prep(images):
            x = images.reshape(images.shape[0], -1).astype(np.float32) / np.float32(255.0)
            if std:
                x = (x - np.float32(std["mean"])) / np.float32(std["std"])
            return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))

        self.train_x = prep(read_idx(_resolve(plan.get("train_images"), "train-images-idx3-ubyte.gz")))
        self.train_y = torch.from_numpy(read_idx(_resolve(plan.get("train_labels"), "train-labels-idx1-ubyte.gz")).astype(np.int64))
        tx = prep(read_idx(_resolve(plan.get("test_images"), "t10k-images-idx3-ubyte.gz")))
        ty = torch.from_numpy(read_idx(_resolve(plan.get("test_labels"), "t10k-labels-idx1-ubyte.gz")).astype(np.int64))
        lim = int(plan.get("test_limit") or 0)
        if lim > 0:
            tx, ty = tx[:lim], ty[:lim]
        self.test_x, self.test_y = tx, ty


# --------------------------------------------------------------------------
# Model: MLP with signfed's flat layout (per layer W [out x in] row-major, b [out])
# --------------------------------------------------------------------------

class MLP:
    def __init__(self, layers):
        self.layers = [int(v) for v in layers]
        self.slices = []  # (w_off, b_off, out, in)
        off = 0
        for i in range(len(self.layers) - 1):
            fan_in, fan_out = self.layers[i], self.layers[i + 1]
            self.slices.append((off, off + fan_out * fan_in, fan_out, fan_in))
            off += fan_out * fan_in + fan_out
        self.num_params = off

    def unflatten(self, P):
        """Views (W, b) into P, which is [N] (one model) or [M, N] (one per client)."""
        out = []
        for w_off, b_off, o, i in self.slices:
            if P.dim() == 1:
                out.append((P[w_off:b_off].view(o, i), P[b_off:b_off + o]))
            else:
                out.append((P[:, w_off:b_off].view(P.shape[0], o, i), P[:, b_off:b_off + o]))
        return out

    def loss_grad(self, P, X, y, flips=None, kinks=None, kink_rtol=0.0, masks=None, masks_in=None):
        """Mean softmax cross-entropy over each client's batch and its gradient.
        P: [N] shared or [M, N] per client; X: [M, B, in]; y: [M, B].
        Returns (loss [M], G [M, N]); hand-written backward, float32.
        compare only: `kinks` (a list) collects hidden pre-activations (layer, client,
        sample, unit) with |z| <= kink_rtol * (|a||W|^T + |b|), whose ReLU decision is
        float rounding; `masks` (a list) gets every hidden layer's ReLU branch 1{z > 0};
        `masks_in` [per hidden layer] imposes another run's branches at the kinks
        (float64 along float32's rounding decisions); `flips` {layer: bool [M,B,out]}
        then inverts some of them."""
        M, B = X.shape[0], X.shape[1]
        shared = P.dim() == 1
        params = self.unflatten(P)
        acts = [X]
        branches = []
        a = X
        L = len(params)
        for l, (W, b) in enumerate(params):
            if shared:
                z = mm_nt(a.reshape(M * B, -1), W).view(M, B, -1)
            else:
                z = torch.stack([mm_nt(a[m], W[m]) for m in range(M)])
            z = z + b.unsqueeze(-2)
            near = None
            if l < L - 1 and (kinks is not None or masks_in is not None):
                Wd, bd = W.double().abs(), b.double().abs()
                mag = torch.matmul(a.double().abs(), Wd.transpose(-1, -2)) + bd.unsqueeze(-2)
                near = z.double().abs() <= kink_rtol * mag
                if kinks is not None:
                    for mm, bb, jj in torch.nonzero(near).tolist():
                        kinks.append((l, mm, bb, jj))
            if l < L - 1:
                act = z > 0                                             # ReLU branch
                if masks_in is not None:                                # imposed at kinks only
                    act = torch.where(near, masks_in[l], act)
                if flips and l in flips:
                    act = act ^ flips[l]
                a = z * act
                if masks is not None:
                    masks.append(act)
                acts.append(a)
                branches.append(act)
            else:
                logits = z
        logp = torch.log_softmax(logits, dim=-1)
        loss = -logp.gather(-1, y.unsqueeze(-1)).squeeze(-1).mean(-1)
        dz = torch.exp(logp)
        dz.scatter_add_(-1, y.unsqueeze(-1), torch.full((M, B, 1), -1.0, dtype=dz.dtype))
        dz.div_(B)                                   # d(mean CE)/d logits = (softmax - onehot)/B
        G = torch.empty(M, self.num_params, dtype=X.dtype)
        for l in range(L - 1, -1, -1):
            w_off, b_off, o, i = self.slices[l]
            W = params[l][0]
            at = acts[l].transpose(1, 2).contiguous()   # [M, in, B]
            dzt = dz.transpose(1, 2).contiguous()       # [M, out, B]
            for m in range(M):                          # dW_m = dz_m^T a_m
                G[m, w_off:b_off].view(o, i).copy_(mm_nt(dzt[m], at[m]))
            G[:, b_off:b_off + o] = dz.sum(-2)
            if l > 0:
                if shared:
                    da = mm_nt(dz.reshape(M * B, o), W.t()).view(M, B, i)
                else:
                    da = torch.stack([mm_nt(dz[m], W[m].t()) for m in range(M)])
                dz = da * branches[l - 1]               # ReLU'(z) = 1{z > 0}
        return loss, G

    def evaluate(self, P, X, y, chunk=5000):
        correct, loss_sum = 0, 0.0
        params = self.unflatten(P)
        for s in range(0, X.shape[0], chunk):
            a = X[s:s + chunk]
            for l, (W, b) in enumerate(params):
                a = mm_nt(a, W) + b
                if l < len(params) - 1:
                    a = torch.relu(a)
            yy = y[s:s + chunk]
            correct += int((a.argmax(1) == yy).sum())
            loss_sum += float(torch.nn.functional.cross_entropy(a, yy, reduction="sum"))
        return correct / X.shape[0], loss_sum / X.shape[0]


# --------------------------------------------------------------------------
# Plan
# --------------------------------------------------------------------------

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


# --------------------------------------------------------------------------
# The algorithms (pure functions; [M, N] = one row per client)
# --------------------------------------------------------------------------

def sgn(t):
    """sign with sign(0) = 0 (Safaryan footnote 2; S3GD-MV sgn after eq. (4))."""
    return torch.sign(t)


def topk_mask(keys, K):
    """Exactly K largest keys per row (S3GD-MV eq. (3): threshold rho between the
    K-th and (K+1)-th largest); equal keys at the threshold go to the lower index."""
    M, N = keys.shape
    if K >= N:
        return torch.ones(M, N, dtype=torch.bool)
    thr = kth_largest(keys, K).unsqueeze(1)
    ge = keys >= thr
    cnt = ge.sum(1)
    for m in torch.nonzero(cnt != K).flatten().tolist():              # ties at the threshold
        gt = keys[m] > thr[m]
        eq = keys[m] == thr[m]
        need = K - int(gt.sum())
        ge[m] = gt | (eq & (torch.cumsum(eq.to(torch.int32), 0) <= need))
    return ge


def kth_largest(keys, K):
    """The K-th largest key of each row, exactly.  Speed: a strided subsample gives a
    lower bound lb likely below the K-th largest; the exact selection then runs on
    the entries >= lb only (falls back to the whole row when fewer than K pass)."""
    M, N = keys.shape
    if K >= N:
        return keys.min(1).values
    stride = 16
    if N < 64 * stride or K * 4 > N:
        return torch.kthvalue(keys, N - K + 1, dim=1).values
    sub = keys[:, ::stride]
    ns = sub.shape[1]
    want = K * ns / N
    rank = int(min(ns, math.ceil(1.3 * want + 4 * math.sqrt(want) + 8)))   # rank-th largest of sub
    lb = torch.kthvalue(sub, ns - rank + 1, dim=1).values
    out = torch.empty(M, dtype=keys.dtype)
    for m in range(M):
        cand = keys[m][keys[m] >= lb[m]]
        if cand.numel() >= K:
            out[m] = torch.kthvalue(cand, cand.numel() - K + 1).values
        else:
            out[m] = torch.kthvalue(keys[m], N - K + 1).values
    return out


def s3gd_compress(gt, e, eta, K):
    """S3GD-MV Alg. 1: g = g~ + eta*e (eq. 5); send TopKSign(g) = sgn(TopK(g)) (eqs. 3-4);
    e <- g - TopK(g) (eq. 6), TopK(g) being g on the K selected coordinates."""
    g = gt + eta * e if eta != 0 else gt.clone()
    mask = topk_mask(g.abs(), K)
    sent = sgn(g) * mask
    e_new = torch.where(mask, torch.zeros_like(g), g)
    return sent, e_new, g, mask


def randk_compress(g, K, gen):
    """S3GD-MV Alg. 2 / eq. (23): K coordinates uniformly without replacement, their signs."""
    M, N = g.shape
    mask = torch.zeros(M, N, dtype=torch.bool)
    for m in range(M):
        mask[m, torch.randperm(N, generator=gen)[:K]] = True
    return sgn(g) * mask, mask


def stochsign_compress(g, gen):
    """Safaryan Def. 3: +1 w.p. 1/2 + g_i/(2||g||_2), else -1; C(g) = ||g||_2 * that; C(0) = 0."""
    norm = g.double().norm(dim=1).float().unsqueeze(1)
    p = 0.5 + g / (2.0 * torch.where(norm > 0, norm, torch.ones_like(norm)))
    u = torch.rand(g.shape, generator=gen, dtype=torch.float32)
    s = torch.where(u < p, torch.ones_like(g), -torch.ones_like(g))
    return torch.where(norm > 0, norm * s, torch.zeros_like(g)), norm.squeeze(1)


def efsign_compress(gt, e, eta):
    """EF-signSGD (Karimireddy et al. 2019), as PLAN.md: p = g~ + eta*e,
    C(p) = (||p||_1 / N) sign(p) (Safaryan App. E, C'), e <- p - C(p)."""
    p = gt + eta * e if eta != 0 else gt.clone()
    scale = (p.double().abs().sum(1) / p.shape[1]).float().unsqueeze(1)
    c = scale * sgn(p)
    return c, p - c, p, scale.squeeze(1)


def majority_vote(signs, tie_rule, gen):
    """Safaryan Alg. 2 / S3GD-MV eq. (7): v = sgn(sum_m sign_m) over non-abstaining voters;
    a coordinate nobody voted on (outside the union of supports) stays 0; a tie (sum 0
    with voters) is 0 under tie_rule zero, a fair coin under random."""
    s = signs.sum(0)
    voters = (signs != 0).sum(0)
    v = sgn(s)
    ties = (s == 0) & (voters > 0)
    if tie_rule == "random":
        n = int(ties.sum())
        if n:
            v[ties] = (torch.randint(0, 2, (n,), generator=gen) * 2 - 1).to(v.dtype)
    elif tie_rule != "zero":
        raise ValueError("unknown tie rule %r" % tie_rule)
    return v, ties


def weighted_mean(sent, w):
    """sum_m w_m sent_m (weights sum to 1), accumulated in float64."""
    return (w.unsqueeze(1) * sent.double()).sum(0).float()


def batch_xy(data, idx, dtype=torch.float32):
    """idx [M, B] training-set indices -> X [M, B, 784], y [M, B]."""
    X = data.train_x[idx]
    return (X if dtype == torch.float32 else X.to(dtype)), data.train_y[idx]


def local_vectors(plan, data, x, r, dtype=torch.float32, masks=None, masks_in=None, kink_rtol=0.0):
    """What each client compresses in round r (PLAN.md): the mean gradient over its
    S minibatches at x; fedavg: x_start - x_local after S local SGD steps with lr.
    dtype float64: compare's exact reference (same data, same float32 start x).
    masks: a list that gets, per local step, the hidden layers' ReLU branches;
    masks_in: such a list, imposed."""
    idx = plan.batches[:, r]                         # [M, S, B]
    model = plan.model
    x = x.to(dtype)
    if plan.method == "fedavg":
        xl = x.unsqueeze(0).repeat(plan.M, 1)
        for s in range(plan.S):
            X, y = batch_xy(data, idx[:, s], dtype)
            ms = [] if masks is not None else None
            _, G = model.loss_grad(xl, X, y, masks=ms, masks_in=None if masks_in is None else masks_in[s],
                                   kink_rtol=kink_rtol)
            if ms is not None:
                masks.append(ms)
            xl -= plan.lr * G                        # McMahan et al. ClientUpdate
        return x.unsqueeze(0) - xl
    acc = None
    for s in range(plan.S):
        X, y = batch_xy(data, idx[:, s], dtype)
        ms = [] if masks is not None else None
        _, G = model.loss_grad(x, X, y, masks=ms, masks_in=None if masks_in is None else masks_in[s],
                               kink_rtol=kink_rtol)
        if ms is not None:
            masks.append(ms)
        acc = G if acc is None else acc + G
    return acc if plan.S == 1 else acc / plan.S


def client_vector(plan, data, x, r, m, flips=None, kinks=None, kink_rtol=0.0, dtype=torch.float32, masks_in=None):
    """local_vectors for client m alone (compare: ReLU-kink resolution).  flips and
    kinks are keyed by local step s: flips {s: {layer: mask [1,B,out]}}, kinks gets
    (s, layer, sample, unit)."""
    idx = plan.batches[m:m + 1, r]
    model = plan.model
    x = x.to(dtype)
    xl = x.clone()
    acc = None
    for s in range(plan.S):
        X, y = batch_xy(data, idx[:, s], dtype)
        rec = [] if kinks is not None else None
        mi = None if masks_in is None else [t[m:m + 1] for t in masks_in[s]]
        _, G = model.loss_grad(xl if plan.method == "fedavg" else x, X, y,
                               flips=(flips or {}).get(s), kinks=rec, kink_rtol=kink_rtol, masks_in=mi)
        if rec is not None:
            kinks.extend((s, l, b, j) for (l, _, b, j) in rec)
        if plan.method == "fedavg":
            xl -= plan.lr * G[0]
        else:
            acc = G[0] if acc is None else acc + G[0]
    if plan.method == "fedavg":
        return x - xl
    return acc if plan.S == 1 else acc / plan.S


def resolve_kinks(plan, data, x, r, m, target, tol, kink_rtol, max_kinks=8, dtype=torch.float64, masks_in=None):
    """Client m's vector differs from signfed's beyond tolerance: find hidden units
    whose pre-activation is within float rounding of 0 (ReLU kinks) and try every
    combination of inverting their ReLU derivative, first with the kinks' other
    branches taken from `masks_in` (our float32 run), then with float64's own.
    Returns (vector, kinks, flipped) of the first combination within tol, else
    the closest."""
    target = target.to(dtype)
    best, kinks_all = None, []
    for mi in ([masks_in, None] if masks_in is not None else [None]):
        kinks = []
        base = client_vector(plan, data, x, r, m, kinks=kinks, kink_rtol=kink_rtol, dtype=dtype, masks_in=mi)
        kinks_all = kinks
        d0 = float((base - target).abs().max())
        if best is None or d0 < best[0]:
            best = (d0, base, [])
        if not kinks or len(kinks) > max_kinks:
            continue
        B = plan.B
        for code in range(1, 1 << len(kinks)):
            chosen = [k for i, k in enumerate(kinks) if code >> i & 1]
            flips = {}
            for (s, l, b, j) in chosen:
                out = plan.model.layers[l + 1]
                f = flips.setdefault(s, {}).setdefault(l, torch.zeros(1, B, out, dtype=torch.bool))
                f[0, b, j] = True
            v = client_vector(plan, data, x, r, m, flips=flips, dtype=dtype, masks_in=mi, kink_rtol=kink_rtol)
            d = float((v - target).abs().max())
            if d < best[0]:
                best = (d, v, chosen)
            if bool(((v - target).abs() <= tol).all()):
                return v, kinks, chosen
    return best[1], kinks_all, best[2]


class Server:
    """Reference state: model x, server momentum, clients' error memories."""

    def __init__(self, plan, seed_offset=0):
        self.plan = plan
        self.x = plan.init.clone()
        self.vmom = torch.zeros(plan.N) if plan.uses_momentum else None
        self.e = torch.zeros(plan.M, plan.N) if plan.method in ("s3gd", "efsign") else None
        self.gen = torch.Generator()
        self.gen.manual_seed(1000003 * plan.seed + 7919 + seed_offset)   # our own RNG

    def compress(self, G, forced=None):
        """Returns (sent [M,N] decoded, info). `forced` (compare only) injects signfed's
        random draws: randk support mask, stochsign sign pattern."""
        p, m = self.plan, self.plan.method
        info = {}
        if m in ("signsgd", "signum"):
            sent = sgn(G)                                        # Safaryan Alg. 2 line 5
        elif m == "s3gd":
            sent, self.e, g, mask = s3gd_compress(G, self.e, p.eta, p.K)
            info.update(g=g, mask=mask)
        elif m == "randk":
            if forced is not None:
                mask = forced
                sent = sgn(G) * mask
            else:
                sent, mask = randk_compress(G, p.K, self.gen)
            info.update(mask=mask)
        elif m == "stochsign":
            if forced is not None:
                norm = G.double().norm(dim=1).float()
                sent = norm.unsqueeze(1) * forced
            else:
                sent, norm = stochsign_compress(G, self.gen)
            info.update(norm=norm)
        elif m == "efsign":
            sent, self.e, pvec, scale = efsign_compress(G, self.e, p.eta)
            info.update(g=pvec, scale=scale)
        else:                                                    # fedsgd, fedavg: float32 as is
            sent = G
        return sent, info

    def aggregate(self, sent, forced_ties=None):
        p = self.plan
        if p.method in VOTE_METHODS:
            v, ties = majority_vote(sgn(sent), p.tie_rule, self.gen)
            if forced_ties is not None and p.tie_rule == "random":
                v[ties] = forced_ties[ties]
            return v
        return weighted_mean(sent, p.weights)

    def apply(self, res):
        p = self.plan
        if p.uses_momentum:                    # S3GD-MV eqs. (25)-(26)
            self.vmom.mul_(p.mu).add_(res)
            self.x -= p.lr * self.vmom
        elif p.method == "fedavg":
            self.x -= p.server_lr * res        # x <- x - server_lr * weighted mean of deltas
        else:
            self.x -= p.lr * res               # Safaryan Alg. 2 line 8 / SGD step


# --------------------------------------------------------------------------
# run
# --------------------------------------------------------------------------

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


# --------------------------------------------------------------------------
# compare
# --------------------------------------------------------------------------

class Checker:
    def __init__(self, max_fail=20):
        self.failures = []
        self.max_fail = max_fail

    def fail(self, msg):
        self.failures.append(msg)
        if len(self.failures) <= self.max_fail:
            print("  FAIL " + msg)


def _first(mask):
    idx = torch.nonzero(mask)
    return [tuple(int(v) for v in row) for row in idx[:5]]


def cmd_compare(args):
    plan = Plan(args.plan_dir)
    data = Data(plan.p)
    m_ = plan.method
    T = plan.trace_rounds if args.rounds is None else min(args.rounds, plan.trace_rounds)
    if T < 1:
        print("plan has no trace rounds (trace_rounds = 0)")
        return 1
    ck = Checker()
    g_rtol = args.grad_rtol_fedavg if m_ == "fedavg" else args.grad_rtol
    print("compare %s: method=%s M=%d N=%d S=%d B=%d lr=%g K=%d eta=%g mu=%g tie=%s weighting=%s, %d trace rounds"
          % (plan.dir, m_, plan.M, plan.N, plan.S, plan.B, plan.lr, plan.K, plan.eta, plan.mu,
             plan.tie_rule, plan.weighting, T))
    print("tolerances: gradient |d| <= %g*max|g_m| + %g; near-zero/threshold band = the same; "
          "means per coordinate %g*M*sum|w s| ; chain rtol %g" % (g_rtol, args.atol, args.mean_rtol, args.chain_rtol))
    # the plan itself: each client's minibatches come from its own shard; shards are disjoint
    shards = np.load(os.path.join(plan.dir, "shards.npy")).astype(np.int64)
    offs = np.load(os.path.join(plan.dir, "shard_offsets.npy")).astype(np.int64)
    if len(offs) != plan.M + 1 or offs[-1] != len(shards):
        ck.fail("plan: shard_offsets does not describe shards.npy")
    else:
        if len(np.unique(shards)) != len(shards):
            ck.fail("plan: shards overlap (%d repeated indices)" % (len(shards) - len(np.unique(shards))))
        for m in range(plan.M):
            sh = shards[offs[m]:offs[m + 1]]
            if plan.client_samples[m] != len(sh):
                ck.fail("plan: client_samples[%d] = %d but its shard has %d" % (m, plan.client_samples[m], len(sh)))
            outside = ~np.isin(plan.batches[m].numpy(), sh)
            if outside.any():
                ck.fail("plan: client %d's minibatches use %d indices outside its shard" % (m, int(outside.sum())))
    # replica synchronised to signfed's own state (for b, c, d1)
    e_sync = torch.zeros(plan.M, plan.N) if m_ in ("s3gd", "efsign") else None
    vm_sync = torch.zeros(plan.N) if plan.uses_momentum else None
    # own chain (for d2)
    own = Server(plan)
    stats = {"grad_max_rel": 0.0, "own_flip_total": 0}
    flipped = torch.zeros(plan.N, dtype=torch.bool)
    chain_kink, chain_sep_reported = None, False
    # aggregate statistics for randomised compressors
    ss_T, ss_var, ss_zero = 0.0, 0.0, 0
    rk_overlap, rk_overlap_exp, rk_overlap_var = 0.0, 0.0, 0.0
    rk_size, rk_size_var = 0.0, 0.0
    x_prev = plan.init.clone()
    late = sorted(int(v) for v in (plan.p.get("trace_at") or []) if T <= int(v) < plan.R) if args.rounds is None else []
    for r in list(range(T)) + late:
        ok_before = len(ck.failures)
        contiguous = r < T          # rounds 0..T-1: every check; --trace-at rounds: the stateless ones
        d1_ok = True
        if not contiguous:
            prev = os.path.join(plan.dir, "trace", "params_r%d.npy" % (r - 1))
            if os.path.exists(prev):
                x_prev = plan.trace("params_r%d" % (r - 1))
            elif not plan.uses_momentum:
                # x_{r-1} = x_r + step(result_r): exact up to one rounding, far inside the tolerances
                res_r = plan.trace("result_r%d" % r)
                x_prev = plan.trace("params_r%d" % r) + (plan.server_lr if m_ == "fedavg" else plan.lr) * res_r
                d1_ok = False
            else:
                print("round %3d skipped: params_r%d not exported and momentum makes it unrecoverable" % (r, r - 1))
                continue
        masks_sf = []
        G_ref = local_vectors(plan, data, x_prev, r, masks=masks_sf)
        G_sf = torch.stack([plan.trace("grad_r%d_c%d" % (r, m)) for m in range(plan.M)])
        sent_sf = torch.stack([plan.trace("sent_r%d_c%d" % (r, m)) for m in range(plan.M)])
        res_sf = plan.trace("result_r%d" % r)
        x_sf = plan.trace("params_r%d" % r)
        # ---- (a) gradients --------------------------------------------------------
        # against the float64 gradient at the same point on the same data; the bound is
        # the larger of g_rtol*max|g| and f32_factor times the error our own float32
        # computation makes there (saturated softmax cancels catastrophically in float32)
        G64 = local_vectors(plan, data, x_prev, r, torch.float64, masks_in=masks_sf, kink_rtol=args.kink_rtol)
        gmax = G_sf.abs().max(1).values.double()                     # [M]
        err32 = (G_ref.double() - G64).abs().max(1).values
        tol64 = torch.maximum(g_rtol * gmax, args.f32_factor * err32) + args.atol
        tol_g = tol64.float().unsqueeze(1)                           # [M,1]
        diff = (G_sf.double() - G64).abs()
        rel = diff.max(1).values / gmax.clamp_min(1e-30)
        stats["ref32_max_rel"] = max(stats.get("ref32_max_rel", 0.0), float((err32 / gmax.clamp_min(1e-30)).max()))
        bad = diff > tol64.unsqueeze(1)
        n_kink = 0
        for m in range(plan.M):
            if bad[m].any():
                v, kinks, chosen = resolve_kinks(plan, data, x_prev, r, m, G_sf[m], tol64[m], args.kink_rtol,
                                                 masks_in=masks_sf)
                ok_m = bool(((v - G_sf[m].double()).abs() <= tol64[m]).all())
                if ok_m and chosen:
                    n_kink += 1
                    G64[m] = v
                    rel[m] = float((v - G_sf[m].double()).abs().max()) / max(float(gmax[m]), 1e-30)
                    if chain_kink is None:      # signfed took the other branch: the chains separate
                        chain_kink = (r, chosen[0][0], (m,) + tuple(chosen[0][2:]), len(chosen), 0.0)
                    print("  note round %d client %d: gradient matches once the ReLU derivative is inverted at "
                          "%d pre-activation(s) within rounding of 0 (local step, layer, sample, unit): %s"
                          % (r, m, len(chosen), chosen))
                    continue
                i = int(torch.nonzero(bad[m])[0])
                ck.fail("round %d client %d (a) gradient coord %d: float64 reference %.9g signfed %.9g (tol %.3g; "
                        "%d coords out; our float32 error %.3g; %d ReLU kinks found%s)"
                        % (r, m, i, G64[m, i], G_sf[m, i], tol64[m], int(bad[m].sum()), err32[m], len(kinks),
                           "" if len(kinks) <= 8 else ", too many to try"))
        stats["grad_max_rel"] = max(stats["grad_max_rel"], float(rel.max()))
        stats["kinks"] = stats.get("kinks", 0) + n_kink
        # ---- (b) what each client sent, from signfed's own g~ --------------------
        nb = {"sent_band": 0}
        if m_ in VOTE_METHODS:
            nz = sent_sf != 0
            scales = sent_sf.abs()
            smax = scales.max(1).values
            for m in range(plan.M):
                if nz[m].any() and (scales[m][nz[m]] != smax[m]).any():
                    ck.fail("round %d client %d (b) sent: ternary entries with different magnitudes" % (r, m))
            sg_sf = sgn(sent_sf)
        if m_ in ("signsgd", "signum"):
            exp = sgn(G_sf)
            d = exp != sg_sf
            # sign(0) = 0 is a definition, not a rounding question: an exact
            # zero must abstain; only nonzero values near 0 may flip.
            near = (G_sf.abs() <= tol_g) & (G_sf != 0)
            nb["sent_band"] = int((d & near).sum())
            out = d & ~near
            if out.any():
                m, i = _first(out)[0]
                ck.fail("round %d client %d (b) sign coord %d: g~=%.9g signfed sent %g" % (r, m, i, G_sf[m, i], sent_sf[m, i]))
        elif m_ in ("s3gd", "efsign") and not contiguous:
            # error memory e unknown at an isolated round: only what holds whatever e is
            if m_ == "s3gd":
                cnt = (sent_sf != 0).sum(1)
                for m in range(plan.M):
                    if int(cnt[m]) > plan.K:
                        ck.fail("round %d client %d (b) s3gd support size %d > K=%d" % (r, m, int(cnt[m]), plan.K))
            else:
                for m in range(plan.M):
                    nzm = sent_sf[m] != 0
                    if nzm.any() and (sent_sf[m][nzm].abs() != sent_sf[m][nzm].abs().max()).any():
                        ck.fail("round %d client %d (b) efsign entries are not +-scale" % (r, m))
            nb["sent_band"] = "n/a (memory not traced)"
        elif m_ == "s3gd":
            g = G_sf + plan.eta * e_sync                              # eq. (5)
            g_sync_full = g
            mask_ref = topk_mask(g.abs(), plan.K)
            mask_sf = nz
            rho = kth_largest(g.abs(), plan.K).unsqueeze(1)           # threshold of eq. (3)
            tol_s = tol_g * (1 + plan.eta * max(r, 1))                # memory adds rounding
            near_thr = (g.abs() - rho).abs() <= tol_s
            near0 = g.abs() <= tol_s
            dm = mask_ref != mask_sf
            # a selected coordinate whose g is exactly 0 is sent as 0 (abstains)
            dm &= ~(mask_ref & ~mask_sf & (g == 0))
            nb["sent_band"] = int((dm & (near_thr | near0)).sum())
            out = dm & ~(near_thr | near0)
            if out.any():
                m, i = _first(out)[0]
                ck.fail("round %d client %d (b) top-K support coord %d: |g|=%.9g threshold %.9g reference %s signfed %s"
                        % (r, m, i, g[m, i].abs(), rho[m, 0], bool(mask_ref[m, i]), bool(mask_sf[m, i])))
            ws = mask_sf & (sg_sf != sgn(g)) & ~(near0 & (g != 0))   # an exact 0 never votes
            if ws.any():
                m, i = _first(ws)[0]
                ck.fail("round %d client %d (b) s3gd sign coord %d: g=%.9g sent %g" % (r, m, i, g[m, i], sent_sf[m, i]))
            cnt = mask_sf.sum(1)
            for m in range(plan.M):
                if int(cnt[m]) > plan.K or int(cnt[m]) < plan.K - int(((g[m] == 0) & mask_ref[m]).sum()) - int(near_thr[m].sum()):
                    ck.fail("round %d client %d (b) s3gd support size %d, K=%d" % (r, m, int(cnt[m]), plan.K))
            e_sync = torch.where(mask_sf, torch.zeros_like(g), g)     # eq. (6), with signfed's selection
        elif m_ == "randk":
            cnt = nz.sum(1)
            zeros = (G_sf == 0).sum(1)
            for m in range(plan.M):
                if int(cnt[m]) > plan.K or int(cnt[m]) < plan.K - int(zeros[m]):
                    ck.fail("round %d client %d (b) randk support size %d, K=%d, zeros in g %d"
                            % (r, m, int(cnt[m]), plan.K, int(zeros[m])))
            ws = nz & (sg_sf != sgn(G_sf))
            if ws.any():
                m, i = _first(ws)[0]
                ck.fail("round %d client %d (b) randk sign coord %d: g~=%.9g sent %g" % (r, m, i, G_sf[m, i], sent_sf[m, i]))
            # uniform draws: support size ~ hypergeometric(N, K, #nonzero g); and
            # independence across clients: pairwise overlap ~ (K/N)^2 |NZ_a & NZ_b|
            K, N = plan.K, plan.N
            p1 = K / N
            nzg = G_sf != 0
            for a in range(plan.M):
                q = float(nzg[a].sum()) / N
                rk_size += float(cnt[a]) - K * q
                rk_size_var += K * q * (1 - q) * (N - K) / max(N - 1, 1)
                for b in range(a + 1, plan.M):
                    both = float((nzg[a] & nzg[b]).sum())
                    rk_overlap += float((nz[a] & nz[b]).sum())
                    rk_overlap_exp += p1 * p1 * both
                    rk_overlap_var += p1 * p1 * (1 - p1 * p1) * both
        elif m_ == "stochsign":
            norm = G_sf.double().norm(dim=1)
            for m in range(plan.M):
                nzm = sent_sf[m] != 0
                sc = sent_sf[m].abs().max()
                if abs(float(sc) - float(norm[m])) > 1e-5 * float(norm[m]) + 1e-30:
                    ck.fail("round %d client %d (b) stochsign scale %.9g, ||g||_2 %.9g" % (r, m, sc, norm[m]))
                if (sent_sf[m][nzm].abs() != sc).any():
                    ck.fail("round %d client %d (b) stochsign entries are not +-scale" % (r, m))
                zm = ~nzm
                if zm.any():
                    ss_zero += int(zm.sum())
                    if (G_sf[m][zm] != 0).any():
                        i = int(torch.nonzero(zm & (G_sf[m] != 0))[0])
                        ck.fail("round %d client %d (b) stochsign sent 0 at coord %d where g=%.9g" % (r, m, i, G_sf[m, i]))
                if float(norm[m]) > 0:
                    q = (G_sf[m].double() / norm[m])
                    s = sgn(sent_sf[m]).double()
                    ss_T += float((s * q).sum()) - 1.0               # E[sum s_i q_i] = sum q_i^2 = 1
                    ss_var += float((q * q * (1 - q * q)).sum())
        elif m_ == "efsign":
            pv = G_sf + plan.eta * e_sync
            g_sync_full = pv
            scale = (pv.double().abs().sum(1) / plan.N)
            sc_sf = sent_sf.abs().max(1).values.double()
            for m in range(plan.M):
                if abs(float(sc_sf[m]) - float(scale[m])) > 1e-5 * float(scale[m]) + 1e-30:
                    ck.fail("round %d client %d (b) efsign scale %.9g, ||p||_1/N %.9g" % (r, m, sc_sf[m], scale[m]))
            tol_p = tol_g * (1 + plan.eta * max(r, 1))
            d = sgn(sent_sf) != sgn(pv)
            near = (pv.abs() <= tol_p) & (pv != 0)                   # sign(0) = 0 exactly
            nb["sent_band"] = int((d & near).sum())
            out = d & ~near
            if out.any():
                m, i = _first(out)[0]
                ck.fail("round %d client %d (b) efsign sign coord %d: p=%.9g sent %g" % (r, m, i, pv[m, i], sent_sf[m, i]))
            e_sync = pv - sent_sf                                     # e <- p - C(p), signfed's C(p)
        else:   # fedsgd, fedavg: the float32 vector itself
            d = (sent_sf - G_sf).abs()
            if (d > 0).any():
                m, i = _first(d > 0)[0]
                ck.fail("round %d client %d (b) float sent differs from g at coord %d: %.9g vs %.9g" % (r, m, i, sent_sf[m, i], G_sf[m, i]))
        # ---- (c) the downlink from signfed's own sent vectors --------------------
        if m_ in VOTE_METHODS:
            s = sg_sf.sum(0)
            voters = (sg_sf != 0).sum(0)
            exp = sgn(s)
            ties = (s == 0) & (voters > 0)
            d = res_sf != exp
            if plan.tie_rule == "random":
                d &= ~(ties & (res_sf.abs() == 1))
            if d.any():
                i = int(torch.nonzero(d)[0])
                ck.fail("round %d (c) vote coord %d: sum of signs %d over %d voters, signfed result %g (%d coords differ)"
                        % (r, i, int(s[i]), int(voters[i]), res_sf[i], int(d.sum())))
            n_ties, n_moved = int(ties.sum()), int((res_sf != 0).sum())
        else:
            exp = weighted_mean(sent_sf, plan.weights)
            bound = args.mean_rtol * plan.M * (plan.weights.unsqueeze(1) * sent_sf.double().abs()).sum(0) + 1e-30
            d = (exp.double() - res_sf.double()).abs()
            if (d > bound).any():
                i = int(torch.nonzero(d > bound)[0])
                ck.fail("round %d (c) mean coord %d: reference %.9g signfed %.9g (bound %.3g; %d coords out)"
                        % (r, i, exp[i], res_sf[i], bound[i], int((d > bound).sum())))
            n_ties, n_moved = 0, int((res_sf != 0).sum())
        # ---- (d1) the update rule on signfed's state ----------------------------
        if not contiguous:
            status = "ok" if len(ck.failures) == ok_before else "FAIL"
            print("round %3d %-4s grad max rel err %.2e | sent: %s in-band diffs | result: %d moved, %d ties | "
                  "(isolated --trace-at round: %s; no own chain)"
                  % (r, status, float(rel.max()), nb["sent_band"], n_moved, n_ties,
                     "update rule checked" if d1_ok else "x_prev rebuilt from params_r and result_r"))
            if d1_ok:
                d = (x_prev - (plan.server_lr if m_ == "fedavg" else plan.lr) * res_sf - x_sf).abs()
                bound = 4 * EPS32 * (x_prev.abs() + plan.lr * res_sf.abs()) + 1e-30
                if (d > bound).any():
                    i = int(torch.nonzero(d > bound)[0])
                    ck.fail("round %d (d) update coord %d: params %.9g, signfed params %.9g" % (r, i, x_prev[i], x_sf[i]))
            continue
        if plan.uses_momentum:
            vm_sync = vm_sync * plan.mu + res_sf
            step = plan.lr * vm_sync
        elif m_ == "fedavg":
            step = plan.server_lr * res_sf
        else:
            step = plan.lr * res_sf
        x_exp = x_prev - step
        bound = 4 * EPS32 * (x_prev.abs() + step.abs()) + 1e-30
        if plan.uses_momentum:
            bound = bound + 4 * EPS32 * plan.lr * (r + 1) * vm_sync.abs().clamp_min(1.0)
        d = (x_exp - x_sf).abs()
        if (d > bound).any():
            i = int(torch.nonzero(d > bound)[0])
            ck.fail("round %d (d) update coord %d: params_prev %.9g - step %.9g = %.9g, signfed params %.9g (%d coords out)"
                    % (r, i, x_prev[i], step[i], x_exp[i], x_sf[i], int((d > bound).sum())))
        # ---- (d2) the reference's own chain --------------------------------------
        masks_own = []
        drift = float((own.x - x_prev).abs().max())
        G_own = local_vectors(plan, data, own.x, r, masks=masks_own)
        if chain_kink is None:
            # where the own chain's hidden units take the other ReLU branch than the same
            # computation at signfed's model (certified by (a)), tiny parameter differences
            # have been amplified by the kink: from then on the chains legitimately separate
            for s_, (la, lb) in enumerate(zip(masks_own, masks_sf)):
                for a_, b_ in zip(la, lb):
                    dm_ = a_ != b_
                    if dm_.any() and chain_kink is None:
                        chain_kink = (r, s_, _first(dm_)[0], int(dm_.sum()), drift)
        forced = None
        if m_ == "randk":
            forced = sent_sf != 0                  # signfed's draws: its support
        elif m_ == "stochsign":
            forced = sgn(sent_sf)                  # signfed's coin flips
        sent_own, info = own.compress(G_own, forced)
        res_own = own.aggregate(sent_own, forced_ties=res_sf)
        own.apply(res_own)
        own_vs_sf = None
        if m_ in SIGN_UPLINK:
            # classify client-level differences: near 0 / threshold within band = tol + drift
            if m_ in ("s3gd", "efsign"):
                g_own, g_sync = info["g"], g_sync_full
            else:
                g_own, g_sync = G_own, G_sf
            band = tol_g * (1 + plan.eta * r) + (g_own - g_sync).abs()
            sd = sgn(sent_own) != sgn(sent_sf)
            expl = g_own.abs() <= band
            if m_ == "s3gd":
                rho_o = kth_largest(g_own.abs(), plan.K).unsqueeze(1)
                rho_s = kth_largest(g_sync.abs(), plan.K).unsqueeze(1)
                expl |= (g_own.abs() - rho_o).abs() <= band + (rho_o - rho_s).abs()
            unexpl = sd & ~expl
            if unexpl.any():
                m, i = _first(unexpl)[0]
                ck.fail("round %d client %d (d) own chain sent differs at coord %d not near 0/threshold: own g %.9g, sync g %.9g"
                        % (r, m, i, g_own[m, i], g_sync[m, i]))
            own_vs_sf = int(sd.sum())
            stats["own_flip_total"] += own_vs_sf
        dx = (own.x - x_sf).abs()
        if m_ in VOTE_METHODS:
            # each vote difference moves a coordinate by lr (or lr * momentum sum): count, not fail
            xdiff = int((dx > 4 * EPS32 * (x_sf.abs() + plan.lr) + 1e-30).sum())
            vdiff = int((res_own != res_sf).sum())
            chain_msg = "own chain: %d votes differ, %d params differ, %d client signs differ (all near 0/threshold)" % (vdiff, xdiff, own_vs_sf)
        else:
            lim = args.chain_rtol * float(x_sf.abs().max())
            if m_ in ("efsign", "stochsign"):
                # a justified (near-zero) client sign flip moves that coordinate by 2 lr w_m scale_m,
                # for good (efsign: until the error memory pays it back): exempt such coordinates
                flipped |= (sgn(sent_own) != sgn(sent_sf)).any(0)
                dx_chk = torch.where(flipped, torch.zeros_like(dx), dx)
            else:
                dx_chk = dx
            if float(dx_chk.max()) > lim:
                i = int(dx_chk.argmax())
                if chain_kink is None:
                    ck.fail("round %d (d) own chain params coord %d: reference %.9g signfed %.9g (|d| %.3g > %.3g), "
                            "no ReLU kink on the own chain explains it"
                            % (r, i, own.x[i], x_sf[i], dx_chk[i], lim))
                elif not chain_sep_reported:
                    chain_sep_reported = True
                    print("  note round %d: own chain separated beyond %.3g (coord %d: %.9g vs %.9g) after a hidden "
                          "unit took the other ReLU branch on the two chains in round %d (local step.layer %d, "
                          "(client, sample, unit) %s, %d units; parameter drift then %.3g); the own chain is "
                          "informative from here" %
                          (r, lim, i, own.x[i], x_sf[i], chain_kink[0], chain_kink[1], chain_kink[2], chain_kink[3],
                           chain_kink[4]))
            chain_msg = "own chain: max|x_ref - x_signfed| %.3g (%.2g of max|x|)%s" % (
                float(dx_chk.max()), float(dx_chk.max()) / max(float(x_sf.abs().max()), 1e-30),
                "" if own_vs_sf is None else
                ", %d client signs differ (near 0), %d coords exempt so far (max |d| there %.3g)"
                % (own_vs_sf, int(flipped.sum()), float(dx[flipped].max()) if flipped.any() else 0.0))
        status = "ok" if len(ck.failures) == ok_before else "FAIL"
        print("round %3d %-4s grad max rel err %.2e | sent: %d in-band diffs | result: %d moved, %d ties | %s"
              % (r, status, float(rel.max()), nb["sent_band"], n_moved, n_ties, chain_msg), flush=True)
        x_prev = x_sf.clone()
    if m_ == "stochsign" and ss_var > 0:
        z = ss_T / math.sqrt(ss_var)
        print("stochsign: E[sum_i s_i g_i/||g||] = 1 test over %d rounds x %d clients: z = %.2f; %d entries sent as 0 (g_i = 0)"
              % (T, plan.M, z, ss_zero))
        if abs(z) > 5:
            ck.fail("stochsign (b) the sign draws are not consistent with Def. 3 (z = %.2f)" % z)
    if m_ == "randk" and rk_overlap_var > 0:
        z = (rk_overlap - rk_overlap_exp) / math.sqrt(rk_overlap_var)
        zs = rk_size / math.sqrt(rk_size_var) if rk_size_var > 0 else 0.0
        print("randk: pairwise support overlap %.0f, expected %.0f under independent uniform draws: z = %.2f; "
              "support sizes vs K*#nonzero/N: z = %.2f" % (rk_overlap, rk_overlap_exp, z, zs))
        if abs(z) > 6:
            ck.fail("randk (b) clients' supports are not independent uniform draws (overlap z = %.2f)" % z)
        if abs(zs) > 6:
            ck.fail("randk (b) support sizes are not those of K uniform draws (z = %.2f)" % zs)
    print("max relative gradient error (signfed vs float64) %.3e [reference float32 vs float64 %.3e]; "
          "ReLU-kink resolutions %d; own-chain client sign differences %d"
          % (stats["grad_max_rel"], stats.get("ref32_max_rel", 0.0), stats.get("kinks", 0), stats["own_flip_total"]))
    if ck.failures:
        print("COMPARE FAILED: %d failure(s); first: %s" % (len(ck.failures), ck.failures[0]))
        return 1
    print("COMPARE PASSED (%s, %d rounds)" % (m_, T + len(late)))
    return 0


# --------------------------------------------------------------------------
# make-test-plan (testing only: a plan in PLAN.md's format without signfed)
# --------------------------------------------------------------------------

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


# --------------------------------------------------------------------------
# selftest
# --------------------------------------------------------------------------

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
