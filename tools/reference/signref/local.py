"""What each client computes in a round (PLAN.md), float32 or float64, and
compare's per-client recomputation with ReLU-kink resolution."""
import torch


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
    fedavg = plan.method == "fedavg"
    xl = x.unsqueeze(0).repeat(plan.M, 1) if fedavg else x   # fedavg: every client's local copy
    acc = None
    for s in range(plan.S):
        X, y = batch_xy(data, idx[:, s], dtype)
        ms = [] if masks is not None else None
        _, G = model.loss_grad(xl, X, y, masks=ms, masks_in=None if masks_in is None else masks_in[s],
                               kink_rtol=kink_rtol)
        if ms is not None:
            masks.append(ms)
        if fedavg:
            xl -= plan.lr * G                        # McMahan et al. ClientUpdate
        else:
            acc = G if acc is None else acc + G
    if fedavg:
        return x.unsqueeze(0) - xl
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
