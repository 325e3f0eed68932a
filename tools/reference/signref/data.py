"""Data: IDX files (gzip + numpy) and the standardised training and test sets."""
import gzip
import os

import numpy as np
import torch

from .common import DEFAULT_DATA


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
