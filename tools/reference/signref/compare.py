"""`compare`: step-by-step check of signfed's trace (README.md, checks (a)-(d))."""
import math
import os

import numpy as np
import torch

from .common import EPS32, SIGN_UPLINK, VOTE_METHODS
from .data import Data
from .local import local_vectors, resolve_kinks
from .methods import Server, kth_largest, sgn, topk_mask, weighted_mean
from .plan import Plan


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
