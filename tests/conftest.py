# Copyright (c) mmseam contributors. All rights reserved.
import os
import os.path as osp
import sys

# Tiny tensors: one thread per process is faster than two fighting over a
# 2-core machine (and subprocesses started by tests inherit the setting).
os.environ.setdefault('OMP_NUM_THREADS', '1')
os.environ.setdefault('MKL_NUM_THREADS', '1')

# make tests/ helpers (e.g. official_reference.py) importable
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

import torch  # noqa: E402

import mmseam  # noqa: E402,F401  (stub mmcv._ext before mmseg imports)

torch.set_num_threads(1)
