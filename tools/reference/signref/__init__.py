"""signref: the independent PyTorch reference behind tools/reference/reference.py.

Written from the papers and from PLAN.md, never from signfed's C++ (see
reference.py's docstring and README.md).  Importing any module makes torch
single-threaded.  Modules, one job each:
  common   the method lists and constants
  data     IDX parsing and the standardised training/test sets
  model    the MLP in signfed's flat layout, hand-written backward, evaluation
  plan     reading a plan directory (plan.json, init.npy, batches.npy, trace/)
  methods  the papers' compressors, majority vote, weighted mean, the server
  local    what each client computes in a round (and compare's ReLU-kink search)
  run      `run`: a whole independent run
  compare  `compare`: step-by-step check of signfed's trace
  testing  `make-test-plan` and `selftest`
"""

import torch

torch.set_num_threads(1)    # single-threaded, like signfed (before model.py picks its matmul)
