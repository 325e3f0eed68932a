"""Model: MLP with signfed's flat layout (per layer W [out x in] row-major, b [out]),
its hand-written backward pass and evaluation; matrix products via oneDNN."""
import torch


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
