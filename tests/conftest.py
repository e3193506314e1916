# Copyright (c) mmseam contributors. All rights reserved.
import os.path as osp
import sys

# make tests/ helpers (e.g. official_reference.py) importable
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

import mmseam  # noqa: E402,F401  (stub mmcv._ext before mmseg imports)
