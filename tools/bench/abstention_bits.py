#!/usr/bin/python3
"""Bits per coordinate of signfed's sign uplink on real gradients.

Reads the traces of one or more run plans (signfed-sim --export-plan DIR
--trace-rounds 3 --trace-at 998,999) and prints, per traced round, over the
clients: the share of exact zeros (abstentions), the bits per coordinate of
the packet signfed sent (payload bytes * 8 / N), 1 bit (a dense sign packet),
and the empirical entropy of the ternary vector, N * H(p+, p0, p-) / N -- the
floor of any code that treats coordinates as independent draws.

Usage: abstention_bits.py PLAN_DIR [PLAN_DIR ...]
"""
import json
import math
import sys
from collections import defaultdict

import numpy as np


def entropy_bits(v):
    n = v.size
    h = 0.0
    for count in (np.count_nonzero(v > 0), np.count_nonzero(v == 0), np.count_nonzero(v < 0)):
        if count:
            p = count / n
            h -= p * math.log2(p)
    return h


def main(dirs):
    print("| run | round | zeros | encodings | bits/coord sent | dense sign | entropy of the ternary vector |")
    print("|---|---:|---:|---|---:|---:|---:|")
    for d in dirs:
        plan = json.load(open(f"{d}/plan.json"))
        packets = json.load(open(f"{d}/trace/packets.json"))
        by_round = defaultdict(list)
        for p in packets:
            by_round[p["round"]].append(p)
        label = f"{plan['method']} {plan['partition']}"
        for r in sorted(by_round):
            zeros, sent, ent, enc = [], [], [], set()
            for p in by_round[r]:
                v = np.load(f"{d}/trace/sent_r{r}_c{p['client']}.npy")
                zeros.append(np.count_nonzero(v == 0) / v.size)
                sent.append(p["payload_bytes"] * 8 / p["dim"])
                ent.append(entropy_bits(v))
                enc.add(p["encoding"])
            print(f"| {label} | {r} | {100 * np.mean(zeros):.2f} % | {', '.join(sorted(enc))} | "
                  f"{np.mean(sent):.4f} | 1 | {np.mean(ent):.4f} |")


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0 if len(sys.argv) > 1 else 2)
    main(sys.argv[1:])
