"""The algorithms as the papers define them (pure functions; [M, N] = one row per
client): sign, TopK/TopKSign with error memory, RandK, stochastic sign, EF-sign,
the majority vote, the weighted mean; and the Server holding the reference state."""
import math

import torch

from .common import VOTE_METHODS


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
