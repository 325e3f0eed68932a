#!/usr/bin/env python3
"""The signfed-bench-train step in PyTorch (CPU, one thread), as the baseline.

One step = forward, mean cross-entropy, backward, gradients flattened into one
vector -- what signfed's Model::loss_and_grad does. Prints one line per model:
  torch <spec> batch=<B> us_per_step=<median> min_us=<min> steps=<total>
Optional benchmark-only dependency: Debian package python3-torch.
"""
import argparse
import sys
import time

try:
    import torch
    import torch.nn.functional as F
    from torch import nn
except ImportError:
    sys.stderr.write(
        "torch_step.py: the 'torch' module is missing for %s.\n"
        "Install the Debian package: apt-get install --no-install-recommends python3-torch\n"
        "(and run with /usr/bin/python3, or set PYTHON=...)\n" % sys.executable)
    sys.exit(3)


def blas_libraries():
    """The BLAS/LAPACK shared objects this process has mapped (after importing
    torch): which library PyTorch actually calls, not which one was asked for."""
    libs = set()
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1]
                name = path.rsplit("/", 1)[-1]
                if path.startswith("/") and ("blas" in name or "lapack" in name or "mkl" in name):
                    libs.add(path)
    except OSError:
        pass
    return sorted(libs)


def mlp():
    return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))


def cnn():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


MODELS = {
    "mlp": ("mlp:784-128-10", mlp, (784,)),
    "cnn": ("cnn:lenet5", cnn, (1, 28, 28)),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--rep-seconds", type=float, default=0.3)
    ap.add_argument("--model", action="append", choices=sorted(MODELS))
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.manual_seed(1)
    torch.mm(torch.rand(64, 64), torch.rand(64, 64))  # loads the BLAS if torch defers it
    print("torch-blas %s" % " ".join(blas_libraries() or ["(none mapped)"]), flush=True)
    for name in args.model or ["mlp", "cnn"]:
        spec, build, shape = MODELS[name]
        model = build()
        params = list(model.parameters())
        x = torch.rand(args.batch, *shape)
        y = torch.randint(0, 10, (args.batch,))

        def step():
            for p in params:
                p.grad = None
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            return torch.cat([p.grad.reshape(-1) for p in params])

        steps = 1
        while True:  # warm up and calibrate steps per repetition
            t0 = time.perf_counter()
            for _ in range(steps):
                step()
            dt = time.perf_counter() - t0
            if dt >= args.rep_seconds / 4:
                steps = max(1, int(steps * args.rep_seconds / dt))
                break
            steps *= 2
        us = []
        for _ in range(args.reps):
            t0 = time.perf_counter()
            for _ in range(steps):
                step()
            us.append((time.perf_counter() - t0) * 1e6 / steps)
        us.sort()
        n = sum(p.numel() for p in params)
        print("torch %s batch=%d us_per_step=%.1f min_us=%.1f steps=%d params=%d"
              % (spec, args.batch, us[len(us) // 2], us[0], steps * args.reps, n), flush=True)


if __name__ == "__main__":
    main()
