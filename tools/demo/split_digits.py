#!/usr/bin/python3
"""Makes example per-board CSV files from sklearn's handwritten digits.

Usage: split_digits.py OUT_DIR [--boards 3]

Reads Debian python3-sklearn's digits.csv.gz (1,797 8x8 images, pixels 0..16,
no header, the label last), scales pixels to [0, 1] and writes
OUT_DIR/board-B.csv (header p0..p63,label) for each board B, non-IID: a board
holds mostly (80 %) the labels with label % boards == B. The standard library
only; the files are what a board would hold of its own.
"""
import argparse
import csv
import gzip
import os
import random
import sys

DIGITS = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--boards", type=int, default=3)
    a = ap.parse_args()
    if not os.path.exists(DIGITS):
        sys.exit(f"split_digits.py: {DIGITS} is missing: apt-get install python3-sklearn")
    with gzip.open(DIGITS, "rt") as f:
        rows = [[float(v) for v in line] for line in csv.reader(f) if line]
    os.makedirs(a.out, exist_ok=True)
    rng = random.Random(7)
    boards = [[] for _ in range(a.boards)]
    for r in rows:
        label = int(r[-1])
        home = label % a.boards
        boards[home if rng.random() < 0.8 else rng.randrange(a.boards)].append(r)
    for b, part in enumerate(boards):
        path = os.path.join(a.out, f"board-{b}.csv")
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow([f"p{i}" for i in range(64)] + ["label"])
            for r in part:
                w.writerow([f"{v / 16:g}" for v in r[:-1]] + [int(r[-1])])
        print(f"{path}: {len(part)} digits")


if __name__ == "__main__":
    main()
