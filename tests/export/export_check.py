#!/usr/bin/python3
"""Checks a model signfed-export wrote against reference logits.

  export_check.py onnx  MODEL.onnx X.f32 REF.f32 N F K   OpenCV dnn (python3-opencv) runs the graph
  export_check.py npz   MODEL.npz  X.f32 REF.f32 N F K   a small numpy forward pass over the npz
  export_check.py both  MODEL.onnx MODEL.npz X.f32 N F K  OpenCV on the graph against numpy on the npz

X.f32 holds N raw input rows of F float32 (little-endian, C order), REF.f32
the N x K logits to match. Prints "max abs diff D" and exits 0; exits 3 with
the Debian package to install when numpy or OpenCV is missing (never passes
without checking). The numpy forward pass is also the reference reader of the
npz layout (docs/export.md).
"""
import json
import sys


def need(module, package):
    try:
        return __import__(module)
    except ImportError:
        print(f"export_check.py: cannot import {module}: install Debian's {package} "
              f"(tools/install-deps.sh --test) for /usr/bin/python3")
        sys.exit(3)


np = need("numpy", "python3-numpy")


def run_onnx(path, x):
    cv2 = need("cv2", "python3-opencv")
    net = cv2.dnn.readNetFromONNX(path)
    net.setInput(x)
    return net.forward()


def conv(x, w, b, stride, pad):
    """x [N, H, W, C] channels-last, w [F, kh, kw, C] (signfed's layout)."""
    x = np.pad(x, ((0, 0), (pad[0], pad[0]), (pad[1], pad[1]), (0, 0)))
    f, kh, kw, _ = w.shape
    ho = (x.shape[1] - kh) // stride[0] + 1
    wo = (x.shape[2] - kw) // stride[1] + 1
    out = np.zeros((x.shape[0], ho, wo, f), dtype=np.float64)
    for ky in range(kh):
        for kx in range(kw):
            patch = x[:, ky:ky + stride[0] * ho:stride[0], kx:kx + stride[1] * wo:stride[1], :]
            out += np.einsum("nhwc,fc->nhwf", patch, w[:, ky, kx, :])
    return out + b


def pool(x, size, stride, reduce):
    """x [N, H, W, C]; size/stride per spatial axis."""
    ho = (x.shape[1] - size[0]) // stride[0] + 1
    wo = (x.shape[2] - size[1]) // stride[1] + 1
    windows = [x[:, ky:ky + stride[0] * ho:stride[0], kx:kx + stride[1] * wo:stride[1], :]
               for ky in range(size[0]) for kx in range(size[1])]
    return reduce(np.stack(windows), axis=0)


def run_npz(path, x):
    z = np.load(path)  # no pickles: every entry is a plain array
    arch = json.loads(z["architecture"].item())
    shape = arch["input"]
    h = (x.astype(np.float64) - z["input_mean"]) / z["input_std"]
    h = h.reshape([-1] + ([1] + shape if len(shape) == 2 else shape))  # 1-d data as [N, 1, L, C]
    for layer in arch["layers"]:
        kind = layer["kind"]
        if kind == "dense":
            w, b = z[layer["name"] + ".weight"], z[layer["name"] + ".bias"]
            h = h.reshape(h.shape[0], -1) @ w.T.astype(np.float64) + b
        elif kind in ("conv1d", "conv2d"):
            w = z[layer["name"] + ".weight"].astype(np.float64)
            if kind == "conv1d":
                w = w[:, None, :, :]  # [F, k, C] -> [F, 1, k, C]
            one = kind == "conv1d"
            s, p = layer["stride"], layer["padding"]
            h = conv(h, w, z[layer["name"] + ".bias"], (1, s) if one else (s, s), (0, p) if one else (p, p))
        elif kind.endswith("pool1d") or kind.endswith("pool2d"):
            one = kind.endswith("1d")
            k, s = layer["size"], layer["stride"]
            h = pool(h, (1, k) if one else (k, k), (1, s) if one else (s, s),
                     np.max if kind.startswith("max") else np.mean)
        elif kind == "global_avg_pool":
            h = h.mean(axis=(1, 2))
        elif kind == "flatten":
            h = h.reshape(h.shape[0], -1)
        elif kind == "relu":
            h = np.maximum(h, 0)
        elif kind == "tanh":
            h = np.tanh(h)
        elif kind == "sigmoid":
            h = 1 / (1 + np.exp(-h))
        elif kind == "dropout":
            pass
        else:
            raise SystemExit(f"export_check.py: unknown layer kind {kind}")
    return h.reshape(h.shape[0], -1)


def main():
    if len(sys.argv) != 8 or sys.argv[1] not in ("onnx", "npz", "both"):
        raise SystemExit(__doc__)
    mode = sys.argv[1]
    n, f, k = (int(v) for v in sys.argv[5:8])
    if mode == "both":
        onnx, npz, xs = sys.argv[2:5]
        x = np.fromfile(xs, dtype="<f4").reshape(n, f)
        ref = run_npz(npz, x)
        got = run_onnx(onnx, x)
    else:
        model, xs, refs = sys.argv[2:5]
        x = np.fromfile(xs, dtype="<f4").reshape(n, f)
        ref = np.fromfile(refs, dtype="<f4").reshape(n, k)
        got = run_onnx(model, x) if mode == "onnx" else run_npz(model, x)
    if got.shape != ref.shape:
        print(f"logits shape {got.shape}, expected {ref.shape}")
        return 1
    print(f"max abs diff {float(np.max(np.abs(got - ref))):.3g} over {n} x {k} logits of magnitude up to "
          f"{float(np.max(np.abs(ref))):.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
